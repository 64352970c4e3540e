//! A training run on its own thread, for the TUI: the run reports by message, and the caller pauses,
//! resumes or stops it through a [`RunHandle`]. Pausing blocks the worker between steps (never the
//! caller); stopping ends the run after the current step and stores it as interrupted with what was
//! measured so far. The run is stored exactly as `pepr train` stores it ([`crate::run`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::{check_start, load_dataset, preflight, store_metered, train_metered};
use crate::data::Input;
use crate::home::Home;
use crate::results::record::RunRecord;
use crate::train::record::new_run_id;
use crate::train::{Event, TrainConfig};

/// One queued run: an id chosen by the caller (messages carry it) and what to train.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: u64,
    pub config: TrainConfig,
}

/// What a worker reports, tagged with its job's id.
#[derive(Clone, Debug, PartialEq)]
pub struct RunMessage {
    pub job: u64,
    pub update: RunUpdate,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RunUpdate {
    /// The dataset is loaded and the network built; training begins.
    Started {
        run_id: String,
        input: Input,
        classes: usize,
        params: u64,
        epochs: usize,
        steps_per_epoch: usize,
        train_samples: usize,
        test_samples: usize,
    },
    /// At most about ten a second, plus the first and last step of every epoch.
    Progress {
        epoch: usize,
        step: usize,
        steps: usize,
        /// Mean loss over the steps since the previous `Progress`.
        loss: f64,
        samples_per_sec: f64,
        /// Seconds spent training so far, pauses left out.
        elapsed_s: f64,
    },
    EpochFinished {
        epoch: usize,
        train_loss: f64,
        test_metric: f64,
    },
    /// Live meters: power, energy, CO2, FLOP/s, memory, predicted totals (with the progress).
    Meters(Box<crate::meter::LiveMeters>),
    /// The worker has stopped between steps (`true`) or carries on (`false`).
    Paused(bool),
    /// The run ended (completed, interrupted or failed) and is stored.
    Finished {
        record: Box<RunRecord>,
        /// Why it was interrupted or failed; else, for a run from pretrained weights, how they were
        /// loaded (stem adapted, head re-initialised, backbone frozen).
        message: Option<String>,
        checkpoint: Option<PathBuf>,
    },
    /// The run could not start (unknown dataset, bad settings) or could not be stored.
    Failed(String),
}

/// Commands shared between a handle and its worker.
#[derive(Debug, Default)]
pub struct Control {
    stop: AtomicBool,
    paused: AtomicBool,
}

impl Control {
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Steers a running worker. Dropping it leaves the run going.
pub struct RunHandle {
    pub job: u64,
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl RunHandle {
    pub fn pause(&self) {
        self.control.pause();
    }

    pub fn resume(&self) {
        self.control.resume();
    }

    /// Ends the run after the current step (a paused run wakes up to end); it is stored as interrupted.
    pub fn stop(&self) {
        self.control.stop();
    }

    pub fn is_paused(&self) -> bool {
        self.control.is_paused()
    }

    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the worker to end (it has sent its last message by then).
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts `job` on its own thread; its messages go to `sender`.
pub fn spawn_run(job: Job, home: Home, data_dir: PathBuf, sender: Sender<RunMessage>) -> RunHandle {
    spawn_run_with(job, home, data_dir, sender, |m| m)
}

/// [`spawn_run`] for a channel of the caller's own messages: `wrap` turns each report into one.
pub fn spawn_run_with<M: Send + 'static>(
    job: Job,
    home: Home,
    data_dir: PathBuf,
    sender: Sender<M>,
    wrap: fn(RunMessage) -> M,
) -> RunHandle {
    let control = Arc::new(Control::default());
    let id = job.id;
    let worker_control = control.clone();
    let failed = sender.clone();
    let thread = std::thread::Builder::new().name(format!("pepr-train-{id}")).spawn(move || {
        run_job(&job, &home, &data_dir, &worker_control, &mut |message| {
            // The UI may have quit meanwhile; the run still ends and is stored.
            let _ = sender.send(wrap(message));
        })
    });
    let thread = match thread {
        Ok(thread) => Some(thread),
        Err(e) => {
            let _ = failed.send(wrap(RunMessage {
                job: id,
                update: RunUpdate::Failed(format!("cannot start a training thread: {e}")),
            }));
            None
        }
    };
    RunHandle { job: id, control, thread }
}

/// The smallest gap between two `Progress` messages within an epoch.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// How often a paused worker looks for resume or stop.
const PAUSE_POLL: Duration = Duration::from_millis(20);

/// Runs `job` to its end on this thread (the worker's body; tests call it directly): loads the
/// dataset, trains, stores the run, and reports through `send`. Always ends with `Finished` or `Failed`.
pub fn run_job(
    job: &Job,
    home: &Home,
    data_dir: &std::path::Path,
    control: &Control,
    send: &mut (dyn FnMut(RunMessage) + Send),
) {
    let mut report = |update: RunUpdate| send(RunMessage { job: job.id, update });
    let config = &job.config;
    let destination = super::Destination::Store;
    // The start's weights before the dataset, write access and free space before training.
    let ready = check_start(home, config)
        .and_then(|()| load_dataset(config, data_dir))
        .and_then(|dataset| preflight(home, config, &dataset, &destination).map(|()| dataset));
    let dataset = match ready {
        Ok(dataset) => dataset,
        Err(e) => return report(RunUpdate::Failed(format!("{e:#}"))),
    };
    let created_at = Utc::now();
    let id = new_run_id(config, created_at);
    let start = Instant::now();
    let mut paused_for = Duration::ZERO;
    let mut last_sent: Option<Instant> = None;
    let (mut loss_sum, mut loss_steps) = (0.0f64, 0usize);

    // The Train screen offers cuda only where this build and machine have it; the error says why not.
    let device = match config.backend.device() {
        Ok(device) => device,
        Err(e) => return report(RunUpdate::Failed(format!("{e:#}"))),
    };
    let metered = train_metered(config, &dataset, &device, &control.stop, home, &mut |event, meters| {
        let epoch_end = matches!(event, Event::EpochFinished { .. });
        match event {
            Event::Started { input, classes, params, epochs, steps_per_epoch, train_samples, test_samples, .. } => {
                report(RunUpdate::Started {
                    run_id: id.clone(),
                    input,
                    classes,
                    params,
                    epochs,
                    steps_per_epoch,
                    train_samples,
                    test_samples,
                })
            }
            Event::Progress { epoch, step, steps, loss, samples_per_sec } => {
                loss_sum += loss;
                loss_steps += 1;
                let now = Instant::now();
                let due = step == 1 || step == steps || last_sent.is_none_or(|t| now - t >= PROGRESS_EVERY);
                if due {
                    last_sent = Some(now);
                    report(RunUpdate::Progress {
                        epoch,
                        step,
                        steps,
                        loss: loss_sum / loss_steps as f64,
                        samples_per_sec,
                        elapsed_s: (now - start).saturating_sub(paused_for).as_secs_f64(),
                    });
                    report(RunUpdate::Meters(Box::new(meters.live())));
                    (loss_sum, loss_steps) = (0.0, 0);
                }
            }
            Event::EpochFinished { epoch, train_loss, test_metric } => {
                report(RunUpdate::EpochFinished { epoch, train_loss, test_metric })
            }
        }
        if epoch_end {
            report(RunUpdate::Meters(Box::new(meters.live())));
        }
        // Between steps: hold here while paused, until resumed or stopped.
        if control.is_paused() && !control.is_stopped() {
            let since = Instant::now();
            meters.set_paused(true);
            report(RunUpdate::Paused(true));
            while control.is_paused() && !control.is_stopped() {
                std::thread::sleep(PAUSE_POLL);
            }
            paused_for += since.elapsed();
            meters.set_paused(false);
            report(RunUpdate::Paused(false));
        }
    });
    let (mut outcome, meters) = match metered {
        Ok(done) => done,
        Err(e) => return report(RunUpdate::Failed(format!("{e:#}"))),
    };
    // A pause is no training time (PePR-T ranks by it).
    outcome.train_time_s = (outcome.train_time_s - paused_for.as_secs_f64()).max(0.0);

    match store_metered(home, config, &outcome, &meters, &id, created_at, &destination) {
        Ok(stored) => report(RunUpdate::Finished {
            record: Box::new(stored.record),
            message: outcome.message.or(outcome.start),
            checkpoint: stored.checkpoint,
        }),
        Err(e) => report(RunUpdate::Failed(format!(
            "run {id} ended {} but could not be stored: {e:#}",
            outcome.status.label()
        ))),
    }
}
