//! The Train screen's state: a queue of runs (architecture x dataset pairs from the Architectures and
//! Datasets selections), editable until each starts, the settings every run gets when it starts, and
//! the live progress of the current run as its worker reports it. Runs go one after another.

use crossterm::event::KeyEvent;

use super::plural;

use crate::data::Input;
use crate::meter::backend::Backend;
use crate::results::record::RunStatus;
use crate::run::worker::{Job, RunMessage, RunUpdate};
use crate::train::{Metric, TrainConfig};

/// Where a queued run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum JobState {
    Queued,
    Running,
    /// Ended and stored.
    Done {
        status: RunStatus,
        /// `None` when it ended before its first test.
        performance: Option<f64>,
        run_id: String,
    },
    /// Could not start or could not be stored.
    Failed(String),
}

impl JobState {
    pub fn label(&self) -> String {
        match self {
            JobState::Queued => "queued".into(),
            JobState::Running => "running".into(),
            JobState::Done { status, .. } => status.label().into(),
            JobState::Failed(_) => "could not run".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueueEntry {
    pub id: u64,
    pub arch: String,
    pub dataset: String,
    pub state: JobState,
    /// The settings it got when it started.
    pub config: Option<TrainConfig>,
    /// An experiment-grid cell: its fraction, seed, start, group and id override the settings.
    pub grid_cell: Option<crate::grid::Cell>,
    /// Initial weights: `None` from scratch, else a weights source (imported name or `run:ID`).
    pub start: Option<String>,
    /// With a start: train only the classifier head.
    pub freeze: bool,
}

impl QueueEntry {
    /// The start as the queue shows it: `scratch`, or the source, `[f]` marking a frozen backbone.
    pub fn start_label(&self) -> String {
        super::columns::start_label(self.start.as_deref(), self.freeze)
    }

    /// [`Self::start_label`], an earlier run named by its arch and P when `records` holds it.
    pub fn start_label_in(&self, records: &[crate::results::record::RunRecord]) -> String {
        super::columns::start_label_in(self.start.as_deref(), self.freeze, records)
    }
}

/// The settings a run gets when it starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Setting {
    #[default]
    Epochs,
    BatchSize,
    Lr,
    Fraction,
    Seed,
    Metric,
    Backend,
    Threads,
}

impl Setting {
    pub const ALL: [Setting; 8] = [
        Setting::Epochs,
        Setting::BatchSize,
        Setting::Lr,
        Setting::Fraction,
        Setting::Seed,
        Setting::Metric,
        Setting::Backend,
        Setting::Threads,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Setting::Epochs => "epochs",
            Setting::BatchSize => "batch size",
            Setting::Lr => "lr",
            Setting::Fraction => "fraction",
            Setting::Seed => "seed",
            Setting::Metric => "metric",
            Setting::Backend => "backend",
            Setting::Threads => "threads",
        }
    }
}

pub const BATCH_SIZES: [usize; 6] = [8, 16, 32, 64, 128, 256];
pub const LEARNING_RATES: [f64; 7] = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2];
pub const FRACTIONS: [f64; 6] = [0.05, 0.1, 0.25, 0.5, 0.75, 1.0];
pub const MAX_EPOCHS: usize = 200;

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub fraction: f64,
    pub seed: u64,
    pub metric: Metric,
    /// From the home's settings file (read at start); not edited on this screen.
    pub meter: crate::meter::MeterSettings,
    pub backend: Backend,
    /// `None`: every core.
    pub threads: Option<usize>,
    /// Why cuda cannot be chosen here (checked once: this build, the driver, the devices).
    pub cuda_unavailable: Option<String>,
    /// A message for the screen's log after a change (e.g. why cuda cannot be chosen).
    pub notice: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            epochs: TrainConfig::DEFAULT_EPOCHS,
            batch_size: TrainConfig::DEFAULT_BATCH_SIZE,
            lr: TrainConfig::DEFAULT_LR,
            fraction: 1.0,
            seed: 0,
            metric: Metric::Accuracy,
            meter: crate::meter::MeterSettings::default(),
            backend: Backend::Cpu,
            threads: None,
            cuda_unavailable: crate::meter::backend::available_here(Backend::Cuda).err().map(|u| u.reason()),
            notice: None,
        }
    }
}

/// The next (or previous) value of a list, staying at the ends; a value not in the list goes to
/// the nearest one in that direction.
fn step_in<T: Copy + PartialOrd>(values: &[T], current: T, up: bool) -> T {
    if up {
        values.iter().copied().find(|&v| v > current).unwrap_or(current)
    } else {
        values.iter().rev().copied().find(|&v| v < current).unwrap_or(current)
    }
}

impl Settings {
    pub fn value(&self, setting: Setting) -> String {
        match setting {
            Setting::Epochs => self.epochs.to_string(),
            Setting::BatchSize => self.batch_size.to_string(),
            Setting::Lr => format!("{:e}", self.lr),
            Setting::Fraction => format!("{}", self.fraction),
            Setting::Seed => self.seed.to_string(),
            Setting::Metric => match self.metric {
                Metric::Accuracy => "accuracy".into(),
                Metric::BalancedAccuracy => "balanced".into(),
                Metric::MacroAuc => "AUC".into(),
            },
            Setting::Backend => match (self.backend, &self.cuda_unavailable) {
                (Backend::Cuda, _) => "cuda".into(),
                (Backend::Cpu, Some(_)) => "cpu (only)".into(),
                (Backend::Cpu, None) => "cpu".into(),
            },
            Setting::Threads => match self.threads {
                Some(n) => n.to_string(),
                // Not the count: it differs between machines (the record stores the real one).
                None => "all cores".into(),
            },
        }
    }

    pub fn change(&mut self, setting: Setting, up: bool) {
        match setting {
            Setting::Epochs => {
                self.epochs = if up { (self.epochs + 1).min(MAX_EPOCHS) } else { self.epochs.saturating_sub(1).max(1) }
            }
            Setting::BatchSize => self.batch_size = step_in(&BATCH_SIZES, self.batch_size, up),
            Setting::Lr => self.lr = step_in(&LEARNING_RATES, self.lr, up),
            Setting::Fraction => self.fraction = step_in(&FRACTIONS, self.fraction, up),
            Setting::Seed => self.seed = if up { self.seed.saturating_add(1) } else { self.seed.saturating_sub(1) },
            Setting::Metric => {
                let all = Metric::ALL;
                let i = all.iter().position(|m| *m == self.metric).unwrap_or(0);
                self.metric = all[if up { (i + 1) % all.len() } else { (i + all.len() - 1) % all.len() }];
            }
            Setting::Backend => match (&self.cuda_unavailable, self.backend) {
                (Some(why), _) => self.notice = Some(format!("cuda is unavailable: {why}; runs train on the CPU")),
                (None, Backend::Cpu) => self.backend = Backend::Cuda,
                (None, Backend::Cuda) => self.backend = Backend::Cpu,
            },
            Setting::Threads => {
                let cores = rayon::current_num_threads();
                self.threads = match (self.threads, up) {
                    (None, true) => None,
                    (None, false) => Some(cores.saturating_sub(1).max(1)),
                    (Some(n), true) if n + 1 >= cores => None,
                    (Some(n), true) => Some(n + 1),
                    (Some(n), false) => Some(n.saturating_sub(1).max(1)),
                };
            }
        }
    }

    pub fn config(&self, arch: &str, dataset: &str) -> TrainConfig {
        TrainConfig {
            arch: arch.to_string(),
            dataset: dataset.to_string(),
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            fraction: self.fraction,
            seed: self.seed,
            metric: self.metric,
            backend: self.backend,
            threads: self.threads,
            meter: self.meter.clone(),
            ..TrainConfig::new(arch, dataset)
        }
    }
}

/// The configuration a queued run gets if it starts now with these settings (also what its
/// estimate prices).
pub fn planned_config(settings: &Settings, entry: &QueueEntry) -> TrainConfig {
    let mut config = settings.config(&entry.arch, &entry.dataset);
    if let Some(cell) = &entry.grid_cell {
        // The shared settings as they are now; the cell's own fraction, seed, start and group.
        config = TrainConfig {
            epochs: config.epochs,
            batch_size: config.batch_size,
            lr: config.lr,
            metric: config.metric,
            meter: config.meter.clone(),
            backend: config.backend,
            threads: config.threads,
            ..cell.config.clone()
        };
    }
    // The start chosen on this screen (`w`, `f`); a grid cell's entry starts as its cell says.
    config.pretrained = entry.start.clone();
    config.freeze_backbone = entry.freeze && entry.start.is_some();
    config
}

/// The current run as its worker reported it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Live {
    pub job: u64,
    pub arch: String,
    pub dataset: String,
    pub metric: String,
    pub run_id: Option<String>,
    pub input: Option<Input>,
    pub classes: usize,
    pub params: u64,
    pub train_samples: usize,
    pub epochs: usize,
    pub steps_per_epoch: usize,
    /// 1-based; 0 before the first step.
    pub epoch: usize,
    pub step: usize,
    pub samples_per_sec: f64,
    /// Training seconds so far, pauses left out.
    pub elapsed_s: f64,
    /// Mean loss of each progress report, oldest first.
    pub losses: Vec<f64>,
    /// Test metric after each finished epoch.
    pub epoch_metrics: Vec<f64>,
    pub paused: bool,
    /// Set once the run has ended: its status.
    pub ended: Option<RunStatus>,
    /// The latest live meters (power, energy, CO2, FLOP/s, memory, prediction).
    pub meters: Option<crate::meter::LiveMeters>,
    /// Power in watts about once a second, oldest first (the sparkline of recent minutes).
    pub power_history: Vec<f64>,
    /// Meter time of the last point in `power_history`.
    pub power_history_at: Option<f64>,
}

impl Live {
    /// Steps done over all epochs, and the total.
    pub fn steps_done(&self) -> (usize, usize) {
        let total = self.epochs * self.steps_per_epoch;
        let done = if self.epoch == 0 { 0 } else { (self.epoch - 1) * self.steps_per_epoch + self.step };
        (done.min(total), total)
    }

    /// Seconds left at the pace so far (evaluation included in the pace only as it happened).
    pub fn eta_s(&self) -> Option<f64> {
        let (done, total) = self.steps_done();
        (done > 0 && self.elapsed_s > 0.0).then(|| self.elapsed_s / done as f64 * (total - done) as f64)
    }
}

/// Work the Train screen asks of the event loop, which owns the worker's handle.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainRequest {
    Start(Job),
    Pause,
    Resume,
    Stop,
}

/// Log lines kept.
const LOG_LINES: usize = 200;
/// Loss reports kept for the sparkline.
const LOSS_POINTS: usize = 400;
/// Power points kept (one a second: the last five minutes).
const POWER_POINTS: usize = 300;

#[derive(Default)]
pub struct TrainScreen {
    pub queue: Vec<QueueEntry>,
    /// The selected queue entry and the first one shown.
    pub cursor: super::list::ListCursor,
    pub settings: Settings,
    pub setting: Setting,
    /// The queue is being worked through: when a run ends the next queued one starts.
    pub running: bool,
    /// The job whose worker is alive.
    pub current: Option<u64>,
    /// Pause asked for (the worker confirms with `Paused`).
    pub pause_requested: bool,
    pub stopping: bool,
    pub live: Option<Live>,
    pub log: Vec<String>,
    next_id: u64,
    /// Where imported weights and earlier runs' checkpoints are looked up for `w` (the app's home).
    pub weights_home: Option<crate::home::Home>,
}

impl TrainScreen {
    /// Adds every architecture x dataset pair not already waiting in the queue; returns how many.
    pub fn add_pairs<'a>(
        &mut self,
        archs: impl IntoIterator<Item = &'a str>,
        datasets: impl IntoIterator<Item = &'a str> + Clone,
    ) -> usize {
        let mut added = 0;
        for arch in archs {
            for dataset in datasets.clone() {
                let waiting =
                    self.queue.iter().any(|e| e.state == JobState::Queued && e.arch == arch && e.dataset == dataset);
                if !waiting {
                    self.next_id += 1;
                    self.queue.push(QueueEntry {
                        id: self.next_id,
                        arch: arch.to_string(),
                        dataset: dataset.to_string(),
                        state: JobState::Queued,
                        config: None,
                        grid_cell: None,
                        start: None,
                        freeze: false,
                    });
                    added += 1;
                }
            }
        }
        added
    }

    /// Adds grid cells not already waiting or running in the queue; returns how many.
    pub fn add_cells(&mut self, cells: &[crate::grid::Cell]) -> usize {
        let mut added = 0;
        for cell in cells {
            let present = self.queue.iter().any(|e| {
                matches!(e.state, JobState::Queued | JobState::Running)
                    && e.grid_cell.as_ref().is_some_and(|c| c.id == cell.id && c.group == cell.group)
            });
            if !present {
                self.next_id += 1;
                self.queue.push(QueueEntry {
                    id: self.next_id,
                    arch: cell.config.arch.clone(),
                    dataset: cell.config.dataset.clone(),
                    state: JobState::Queued,
                    config: None,
                    start: cell.config.pretrained.clone(),
                    freeze: cell.config.freeze_backbone,
                    grid_cell: Some(cell.clone()),
                });
                added += 1;
            }
        }
        added
    }

    pub fn queued(&self) -> usize {
        self.queue.iter().filter(|e| e.state == JobState::Queued).count()
    }

    /// Adds a line to the log pane.
    pub fn note(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
        if self.log.len() > LOG_LINES {
            self.log.remove(0);
        }
    }

    fn entry(&mut self, id: u64) -> Option<&mut QueueEntry> {
        self.queue.iter_mut().find(|e| e.id == id)
    }

    /// Starts the first queued run, if any; otherwise the queue is done.
    fn start_next(&mut self) -> Option<TrainRequest> {
        let settings = self.settings.clone();
        let Some(entry) = self.queue.iter_mut().find(|e| e.state == JobState::Queued) else {
            if self.running {
                self.running = false;
                self.note("queue done");
            }
            return None;
        };
        let config = planned_config(&settings, entry);
        entry.state = JobState::Running;
        entry.config = Some(config.clone());
        let job = Job { id: entry.id, config };
        self.running = true;
        self.current = Some(job.id);
        self.pause_requested = false;
        self.stopping = false;
        self.live = Some(Live {
            job: job.id,
            arch: job.config.arch.clone(),
            dataset: job.config.dataset.clone(),
            metric: job.config.metric.name().to_string(),
            epochs: job.config.epochs,
            ..Live::default()
        });
        self.note(format!("loading {} for {}…", job.config.dataset, job.config.arch));
        Some(TrainRequest::Start(job))
    }

    /// Keys of this screen (see `keys::TRAIN`; the app handles `a`, `E` and `X`).
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<super::request::Request> {
        self.key(key).map(super::request::Request::Train)
    }

    fn key(&mut self, key: KeyEvent) -> Option<TrainRequest> {
        use super::keys::{Key, TRAIN, TrainAction as A, lookup};
        let movable = |s: &TrainScreen, i: usize| s.queue.get(i).is_some_and(|e| e.state == JobState::Queued);
        let action = lookup(TRAIN, Key::of(key))?;
        let at = self.cursor.selected();
        match action {
            A::Move(m) => {
                self.cursor.apply(m, self.queue.len());
            }
            A::MoveEntryDown => {
                if movable(self, at) && movable(self, at + 1) {
                    self.queue.swap(at, at + 1);
                    self.cursor.select(at + 1, self.queue.len());
                } else if !self.queue.is_empty() {
                    self.note("only waiting runs change places (none below this one)");
                }
            }
            A::MoveEntryUp => {
                if at > 0 && movable(self, at) && movable(self, at - 1) {
                    self.queue.swap(at, at - 1);
                    self.cursor.select(at - 1, self.queue.len());
                } else if !self.queue.is_empty() {
                    self.note("only waiting runs change places (none above this one)");
                }
            }
            A::Remove => {
                if movable(self, at) {
                    let entry = self.queue.remove(at);
                    self.cursor.clamp(self.queue.len());
                    self.note(format!("removed {} on {} from the queue", entry.arch, entry.dataset));
                } else if self.queue.get(at).is_some() {
                    self.note("only a queued run can be removed (a running one is stopped with X)");
                }
            }
            A::Weights => {
                if movable(self, at) {
                    self.cycle_start();
                }
            }
            A::Freeze => {
                if movable(self, at) {
                    let entry = &mut self.queue[at];
                    if entry.start.is_some() {
                        entry.freeze = !entry.freeze;
                        let line = format!(
                            "{} on {}: {}",
                            entry.arch,
                            entry.dataset,
                            if entry.freeze { "only the classifier head trains" } else { "every layer trains" }
                        );
                        self.note(line);
                    } else {
                        self.note("freezing needs pretrained weights: w picks a start first");
                    }
                }
            }
            A::ClearEnded => {
                let current = self.queue.get(at).map(|e| e.id);
                let before = self.queue.len();
                self.queue.retain(|e| matches!(e.state, JobState::Queued | JobState::Running));
                let cleared = before - self.queue.len();
                self.note(format!("cleared {cleared} ended run{} from the queue (they stay stored)", plural(cleared)));
                let kept = current.and_then(|id| self.queue.iter().position(|e| e.id == id));
                self.cursor.select(kept.unwrap_or(0), self.queue.len());
            }
            A::NextSetting => {
                let i = Setting::ALL.iter().position(|s| *s == self.setting).unwrap_or(0);
                self.setting = Setting::ALL[(i + 1) % Setting::ALL.len()];
            }
            A::PrevSetting => {
                let i = Setting::ALL.iter().position(|s| *s == self.setting).unwrap_or(0);
                self.setting = Setting::ALL[(i + Setting::ALL.len() - 1) % Setting::ALL.len()];
            }
            A::Increase | A::Decrease => {
                self.settings.change(self.setting, matches!(action, A::Increase));
                if let Some(notice) = self.settings.notice.take() {
                    self.note(notice);
                }
            }
            A::Start => {
                if self.current.is_some() {
                    self.note("a run is training: the queue goes on by itself when it ends");
                    return None;
                }
                if self.queued() == 0 {
                    self.note("nothing queued: select architectures (2) and datasets (3), then a here");
                    return None;
                }
                return self.start_next();
            }
            A::Pause => {
                if self.current.is_some() && !self.stopping {
                    self.pause_requested = !self.pause_requested;
                    return Some(if self.pause_requested { TrainRequest::Pause } else { TrainRequest::Resume });
                }
                self.note("no run to pause");
            }
            A::Queue | A::Grid | A::Stop => {}
        }
        None
    }

    /// Whether a run is training and can be stopped.
    pub fn can_stop(&self) -> bool {
        self.current.is_some() && !self.stopping
    }

    /// Stops the current run (the user confirmed): it is stored as interrupted; the queue waits.
    pub fn stop(&mut self) -> Option<TrainRequest> {
        if !self.can_stop() {
            return None;
        }
        self.stopping = true;
        self.running = false;
        self.note("stopping after this step; it is stored as interrupted; the rest of the queue waits (s starts it)");
        Some(TrainRequest::Stop)
    }

    /// "pepr_lenet5 on synthetic, epoch 2/3": the run in progress, for questions about it.
    pub fn current_label(&self) -> String {
        match &self.live {
            Some(live) if self.current == Some(live.job) && live.epoch > 0 => {
                format!("{} on {}, epoch {}/{}", live.arch, live.dataset, live.epoch, live.epochs)
            }
            Some(live) if self.current == Some(live.job) => format!("{} on {}", live.arch, live.dataset),
            _ => "the run".into(),
        }
    }

    /// The next start of the queued run under the cursor: scratch, then each imported weights of its
    /// architecture, then each earlier run's checkpoint of it, then scratch again.
    fn cycle_start(&mut self) {
        let arch = self.queue[self.cursor.selected()].arch.clone();
        let mut choices: Vec<Option<String>> = vec![None];
        if let Some(home) = &self.weights_home {
            choices.extend(crate::weights::start::choices(home, &arch).into_iter().map(Some));
        }
        let entry = &mut self.queue[self.cursor.selected()];
        let at = choices.iter().position(|c| *c == entry.start).unwrap_or(0);
        entry.start = choices[(at + 1) % choices.len()].clone();
        if entry.start.is_none() {
            entry.freeze = false;
        }
        let line = if choices.len() == 1 {
            format!("no imported weights or earlier {arch} runs to start from (pepr weights import)")
        } else {
            format!("{} on {} starts from {}", entry.arch, entry.dataset, entry.start_label())
        };
        self.note(line);
    }

    /// A worker's report. Returns the next run to start when one ended and the queue goes on, and
    /// whether a run was stored (the leaderboard should reload).
    pub fn on_message(&mut self, message: RunMessage) -> (Option<TrainRequest>, bool) {
        let id = message.job;
        let live = self.live.as_mut().filter(|l| l.job == id);
        match message.update {
            RunUpdate::Started {
                run_id,
                input,
                classes,
                params,
                epochs,
                steps_per_epoch,
                train_samples,
                test_samples,
            } => {
                if let Some(live) = live {
                    live.run_id = Some(run_id.clone());
                    live.input = Some(input);
                    live.classes = classes;
                    live.params = params;
                    live.train_samples = train_samples;
                    live.epochs = epochs;
                    live.steps_per_epoch = steps_per_epoch;
                    let line = format!(
                        "{run_id}: {} on {}, {train_samples} train / {test_samples} test images at {}x{}x{}, \
                         {classes} classes, {} parameters",
                        live.arch,
                        live.dataset,
                        input.channels,
                        input.height,
                        input.width,
                        crate::format::human_count(params)
                    );
                    self.note(line);
                }
            }
            RunUpdate::Progress { epoch, step, steps, loss, samples_per_sec, elapsed_s } => {
                if let Some(live) = live {
                    live.epoch = epoch;
                    live.step = step;
                    live.steps_per_epoch = steps;
                    live.samples_per_sec = samples_per_sec;
                    live.elapsed_s = elapsed_s;
                    live.losses.push(loss);
                    if live.losses.len() > LOSS_POINTS {
                        live.losses.remove(0);
                    }
                }
            }
            RunUpdate::EpochFinished { epoch, train_loss, test_metric } => {
                if let Some(live) = live {
                    live.epoch_metrics.push(test_metric);
                    let line = format!(
                        "epoch {epoch}/{}: train loss {train_loss:.4}, {} {test_metric:.4}",
                        live.epochs, live.metric
                    );
                    self.note(line);
                }
            }
            RunUpdate::Meters(meters) => {
                if let Some(live) = live {
                    if let Some(w) = meters.power_w
                        && live.power_history_at.is_none_or(|t| meters.elapsed_s - t >= 1.0)
                    {
                        live.power_history.push(w);
                        live.power_history_at = Some(meters.elapsed_s);
                        if live.power_history.len() > POWER_POINTS {
                            live.power_history.remove(0);
                        }
                    }
                    live.meters = Some(*meters);
                }
            }
            RunUpdate::Paused(paused) => {
                if let Some(live) = live {
                    live.paused = paused;
                    self.note(if paused { "paused (p resumes)" } else { "resumed" });
                }
            }
            RunUpdate::Finished { record, message, checkpoint } => {
                if let Some(live) = live {
                    live.ended = Some(record.status);
                    live.paused = false;
                }
                let p = record.measured_p().map_or_else(|| "— (no test yet)".into(), |p| format!("{p:.4}"));
                let mut line = format!(
                    "{} {}: {} {p} after {} epoch{}",
                    record.id,
                    record.status.label(),
                    record.metric,
                    record.epoch_perf.len(),
                    plural(record.epoch_perf.len()),
                );
                if let Some(message) = message {
                    line.push_str(&format!(" ({message})"));
                }
                if let (Some(e), Some(source)) = (record.energy_kwh, &record.power_source) {
                    line.push_str(&format!("; {} {}", crate::format::kwh(e), source.label()));
                }
                if checkpoint.is_some() {
                    line.push_str("; weights saved");
                }
                self.note(line);
                if let Some(entry) = self.entry(id) {
                    entry.state = JobState::Done {
                        status: record.status,
                        performance: record.measured_p(),
                        run_id: record.id.clone(),
                    };
                }
                return (self.ended(id), true);
            }
            RunUpdate::Failed(error) => {
                if let Some(live) = live {
                    live.ended = Some(RunStatus::Failed);
                }
                self.note(format!("could not run: {error}"));
                if let Some(entry) = self.entry(id) {
                    entry.state = JobState::Failed(error);
                }
                return (self.ended(id), false);
            }
        }
        (None, false)
    }

    fn ended(&mut self, id: u64) -> Option<TrainRequest> {
        if self.current != Some(id) {
            return None;
        }
        self.current = None;
        self.pause_requested = false;
        self.stopping = false;
        if self.running { self.start_next() } else { None }
    }
}
