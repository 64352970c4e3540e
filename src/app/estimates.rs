//! Estimates of planned runs for the TUI (issue 19): each queued run's training time, energy and
//! CO2 on this machine, the queue's total, and the total of the cells the grid form would queue.
//! A worker thread makes them ([`spawn`]; the first estimate on a machine may calibrate it for
//! seconds), the UI thread never waits: it asks again whenever what is planned changes (the queue,
//! the Train settings, the grid form) and keeps only the answer to its latest question
//! (generation numbers, as the other workers).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};

use crate::estimate::{Estimate, Totals};
use crate::home::Home;
use crate::train::TrainConfig;

use super::state::{App, Request};
use super::train::{JobState, QueueEntry, planned_config};

/// Which plan an estimate is for: the Train queue or the grid form's cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    Queue,
    Grid,
}

/// A question for the worker: estimate these runs (`id`: a queue entry's, or a cell's index).
#[derive(Clone, Debug, PartialEq)]
pub struct EstimateJob {
    pub purpose: Purpose,
    pub generation: u64,
    pub runs: Vec<(u64, TrainConfig)>,
}

/// The worker's answers.
#[derive(Clone, Debug, PartialEq)]
pub enum EstimateReply {
    /// This machine has no calibration yet: the worker measures one first (a few seconds).
    Calibrating {
        purpose: Purpose,
        generation: u64,
    },
    Done(Estimated),
    /// The estimator thread could not be started: why.
    Failed(String),
}

/// The estimates of one job.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimated {
    pub purpose: Purpose,
    pub generation: u64,
    /// Per run of the job: its estimate, or why there is none.
    pub runs: Vec<(u64, Result<Estimate, String>)>,
    /// Over the runs that have one.
    pub total: Option<Totals>,
    pub warnings: Vec<String>,
}

/// Estimates a job synchronously (the worker's body; tests call it directly). Datasets are looked
/// up, not loaded; nothing is trained and the run store is only read.
pub fn compute(home: &Home, data_dir: &Path, job: &EstimateJob) -> Estimated {
    let configs: Vec<TrainConfig> = job.runs.iter().map(|(_, c)| c.clone()).collect();
    let plan = crate::estimate::plan(home, &configs, data_dir, false);
    Estimated {
        purpose: job.purpose,
        generation: job.generation,
        runs: job.runs.iter().map(|(id, _)| *id).zip(plan.runs).collect(),
        total: plan.total,
        warnings: plan.warnings,
    }
}

/// Whether estimating `configs` will first measure a calibration (none cached for a backend).
pub fn needs_calibration(home: &Home, configs: &[TrainConfig]) -> bool {
    use crate::estimate::calibration::{VERSION, cache_path, key_for};
    let cache: Option<serde_json::Value> =
        std::fs::read_to_string(cache_path(home.root())).ok().and_then(|t| serde_json::from_str(&t).ok());
    configs.iter().any(|c| {
        let entry = cache.as_ref().map(|v| &v["entries"][key_for(c.backend)]);
        entry.and_then(|e| e["version"].as_u64()) != Some(VERSION as u64)
    })
}

/// The UI's handle on the estimator thread.
pub struct Estimator {
    jobs: Sender<EstimateJob>,
}

impl Estimator {
    pub fn ask(&self, job: EstimateJob) {
        let _ = self.jobs.send(job);
    }
}

/// Starts the estimator: it answers each purpose's latest job (older ones still waiting are
/// skipped: their answers would be dropped anyway).
pub fn spawn<M: Send + 'static>(
    home: Home,
    data_dir: PathBuf,
    reply: Sender<M>,
    wrap: fn(EstimateReply) -> M,
) -> Estimator {
    let (jobs, incoming) = mpsc::channel::<EstimateJob>();
    let work = move |reply: Sender<M>| {
        while let Ok(first) = incoming.recv() {
            let mut latest: Vec<EstimateJob> = vec![first];
            while let Ok(next) = incoming.try_recv() {
                latest.retain(|j| j.purpose != next.purpose);
                latest.push(next);
            }
            for job in latest {
                let configs: Vec<TrainConfig> = job.runs.iter().map(|(_, c)| c.clone()).collect();
                if needs_calibration(&home, &configs) {
                    let note = EstimateReply::Calibrating { purpose: job.purpose, generation: job.generation };
                    if reply.send(wrap(note)).is_err() {
                        return;
                    }
                }
                if reply.send(wrap(EstimateReply::Done(compute(&home, &data_dir, &job)))).is_err() {
                    return; // the UI has quit
                }
            }
        }
    };
    // Without an estimator the Train screen's status line says why (estimates stay "—").
    super::threads::start("pepr-estimate", &reply, work, |why| wrap(EstimateReply::Failed(why)));
    Estimator { jobs }
}

/// The estimates of one plan as the UI holds them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanEstimates {
    /// Generation of the latest question; 0: never asked.
    pub asked: u64,
    /// Generation of the answer held.
    pub answered: u64,
    /// What was last asked about, to notice when the plan changes.
    planned: Vec<(u64, TrainConfig)>,
    pub runs: HashMap<u64, Result<Estimate, String>>,
    pub total: Option<Totals>,
    /// The worker is measuring this machine's calibration for the latest question.
    pub calibrating: bool,
    pub warnings: Vec<String>,
}

impl PlanEstimates {
    /// A question is on its way and its answer has not come.
    pub fn pending(&self) -> bool {
        self.asked > self.answered
    }

    /// A job when `planned` differs from what was last asked (an empty plan asks nothing and clears).
    fn update(&mut self, purpose: Purpose, planned: Vec<(u64, TrainConfig)>) -> Option<EstimateJob> {
        if planned == self.planned {
            return None;
        }
        self.planned = planned.clone();
        self.asked += 1;
        if planned.is_empty() {
            self.answered = self.asked;
            self.runs.clear();
            self.total = None;
            self.calibrating = false;
            return None;
        }
        Some(EstimateJob { purpose, generation: self.asked, runs: planned })
    }

    /// Takes the answer to the latest question; `keep`: ids whose previous estimate stays shown
    /// (a run that started since).
    fn on_answer(&mut self, answer: Estimated, keep: &[u64]) {
        if answer.generation != self.asked {
            return; // superseded
        }
        let mut previous = std::mem::take(&mut self.runs);
        self.runs = answer.runs.into_iter().collect();
        for id in keep {
            if let Some(old) = previous.remove(id) {
                self.runs.entry(*id).or_insert(old);
            }
        }
        self.answered = answer.generation;
        self.total = answer.total;
        self.warnings = answer.warnings;
        self.calibrating = false;
    }
}

/// The queue's and the grid form's estimates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimates {
    pub queue: PlanEstimates,
    pub grid: PlanEstimates,
}

/// The queued (not yet started) runs with the configuration each would start with now.
pub fn queue_plan(queue: &[QueueEntry], settings: &super::train::Settings) -> Vec<(u64, TrainConfig)> {
    queue.iter().filter(|e| e.state == JobState::Queued).map(|e| (e.id, planned_config(settings, e))).collect()
}

impl App {
    /// Questions for the estimator when the queue, the Train settings or the open grid form's
    /// cells changed since the last ones (the event loop asks after every batch of messages).
    pub fn estimate_requests(&mut self) -> Vec<Request> {
        let mut requests = Vec::new();
        let queue = queue_plan(&self.train.queue, &self.train.settings);
        requests.extend(self.estimates.queue.update(Purpose::Queue, queue).map(Request::Estimate));
        if self.grid_form.open {
            let cells = self.grid_cells();
            requests.extend(self.estimates.grid.update(Purpose::Grid, cells).map(Request::Estimate));
        }
        requests
    }

    /// The cells the grid form would queue (its missing ones), as they would start now.
    fn grid_cells(&self) -> Vec<(u64, TrainConfig)> {
        let archs: Vec<&str> = self.archs.chosen.iter().copied().collect();
        let datasets: Vec<&str> = self.datasets.chosen.iter().map(String::as_str).collect();
        let records = self.data.as_ref().map_or(&[][..], |d| &d.records);
        let Ok(preview) = self.grid_form.preview(&archs, &datasets, &self.train.settings, records) else {
            return Vec::new();
        };
        let states = crate::grid::cell_states(&preview.cells, records);
        preview
            .cells
            .into_iter()
            .zip(states)
            .filter(|(_, s)| !s.is_done())
            .enumerate()
            .map(|(i, (cell, _))| {
                // As `add_cells` would queue it.
                let entry = QueueEntry {
                    id: i as u64,
                    arch: cell.config.arch.clone(),
                    dataset: cell.config.dataset.clone(),
                    state: JobState::Queued,
                    config: None,
                    start: cell.config.pretrained.clone(),
                    freeze: cell.config.freeze_backbone,
                    grid_cell: Some(cell),
                };
                (i as u64, planned_config(&self.train.settings, &entry))
            })
            .collect()
    }

    /// The estimator's answer.
    pub fn on_estimated(&mut self, reply: EstimateReply) {
        match reply {
            EstimateReply::Calibrating { purpose, generation } => {
                let plan = self.plan_mut(purpose);
                if generation == plan.asked {
                    plan.calibrating = true;
                }
            }
            EstimateReply::Done(answer) => {
                let running: Vec<u64> =
                    self.train.queue.iter().filter(|e| e.state == JobState::Running).map(|e| e.id).collect();
                let keep = if answer.purpose == Purpose::Queue { running } else { Vec::new() };
                self.plan_mut(answer.purpose).on_answer(answer, &keep);
            }
            EstimateReply::Failed(why) => self.message = Some(format!("no estimates: {why}")),
        }
    }

    fn plan_mut(&mut self, purpose: Purpose) -> &mut PlanEstimates {
        match purpose {
            Purpose::Queue => &mut self.estimates.queue,
            Purpose::Grid => &mut self.estimates.grid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::calibration::{cache_path, key_for, obtain};
    use crate::meter::backend::Backend;

    fn config(arch: &str, epochs: usize) -> TrainConfig {
        let mut c = TrainConfig::new(arch, "synthetic");
        c.epochs = epochs;
        c.meter.cpu_tdp_w = Some(50.0);
        c
    }

    /// A home whose calibration is cached (a fake machine): estimating measures nothing.
    fn calibrated_home() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        let key = key_for(Backend::Cpu);
        let mut fake = crate::estimate::model::tests::calibration();
        fake.key = key.clone();
        obtain(&cache_path(home.root()), &key, true, || fake);
        (dir, home)
    }

    #[test]
    fn the_worker_answers_the_latest_question_without_a_terminal() {
        let (dir, home) = calibrated_home();
        assert!(!needs_calibration(&home, &[config("pepr_lenet5", 1)]));
        let (reply, answers) = mpsc::channel::<EstimateReply>();
        let estimator = spawn(home, dir.path().join("data"), reply, |r| r);
        let job = |generation, runs| EstimateJob { purpose: Purpose::Queue, generation, runs };
        estimator.ask(job(1, vec![(7, config("pepr_lenet5", 1)), (8, config("no_such_arch", 1))]));
        let answer = answers.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
        let EstimateReply::Done(done) = answer else { panic!("calibration is cached: {answer:?}") };
        assert_eq!((done.purpose, done.generation), (Purpose::Queue, 1));
        let one = done.runs[0].1.as_ref().unwrap();
        assert!(one.train_time_s.low < one.train_time_s.estimate && one.train_time_s.estimate < one.train_time_s.high);
        assert!(one.based_on.iter().any(|l| l.contains("calibration alone")), "{:?}", one.based_on);
        assert!(done.runs[1].1.as_ref().unwrap_err().contains("no_such_arch"));
        // The total counts the runs that have an estimate.
        let total = done.total.unwrap();
        assert_eq!(total.runs, 1);
        assert_eq!(total.train_time_s, one.train_time_s);
        // Three epochs cost about three times one (same fixed costs per epoch).
        estimator.ask(job(2, vec![(7, config("pepr_lenet5", 3))]));
        let EstimateReply::Done(three) = answers.recv_timeout(std::time::Duration::from_secs(60)).unwrap() else {
            panic!()
        };
        let ratio = three.runs[0].1.as_ref().unwrap().train_time_s.estimate / one.train_time_s.estimate;
        assert!((ratio - 3.0).abs() < 1e-9, "{ratio}");
    }

    #[test]
    fn a_home_without_calibration_says_so_first() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        assert!(needs_calibration(&home, &[config("pepr_lenet5", 1)]));
        std::fs::create_dir_all(home.root()).unwrap();
        std::fs::write(cache_path(home.root()), "not json").unwrap();
        assert!(needs_calibration(&home, &[config("pepr_lenet5", 1)]), "a bad cache is measured again");
    }

    fn estimated(purpose: Purpose, generation: u64, ids: &[u64]) -> Estimated {
        Estimated {
            purpose,
            generation,
            runs: ids.iter().map(|id| (*id, Err(format!("run {id}")))).collect(),
            total: None,
            warnings: vec![],
        }
    }

    #[test]
    fn plans_ask_again_only_when_they_change_and_keep_the_latest_answer() {
        let mut plan = PlanEstimates::default();
        assert!(!plan.pending());
        let job = plan.update(Purpose::Queue, vec![(1, config("a", 1))]).unwrap();
        assert_eq!(job.generation, 1);
        assert!(plan.pending());
        assert_eq!(plan.update(Purpose::Queue, vec![(1, config("a", 1))]), None, "unchanged: no new question");
        let job = plan.update(Purpose::Queue, vec![(1, config("a", 2))]).unwrap();
        assert_eq!(job.generation, 2, "a changed setting asks again");
        plan.on_answer(estimated(Purpose::Queue, 1, &[1]), &[]);
        assert!(plan.pending() && plan.runs.is_empty(), "the stale answer is dropped");
        plan.on_answer(estimated(Purpose::Queue, 2, &[1]), &[]);
        assert!(!plan.pending() && plan.runs.contains_key(&1));
        // Run 1 starts; run 2 is queued: the running one keeps its estimate.
        plan.update(Purpose::Queue, vec![(2, config("b", 1))]).unwrap();
        plan.on_answer(estimated(Purpose::Queue, 3, &[2]), &[1]);
        assert!(plan.runs.contains_key(&1) && plan.runs.contains_key(&2));
        // An empty plan asks nothing and clears.
        assert_eq!(plan.update(Purpose::Queue, vec![]), None);
        assert!(!plan.pending() && plan.runs.is_empty() && plan.total.is_none());
    }

    #[test]
    fn the_app_asks_when_the_queue_or_the_settings_change() {
        let mut app = App::new("store");
        assert!(app.estimate_requests().is_empty(), "nothing queued");
        app.train.add_pairs(["pepr_lenet5"], ["synthetic"]);
        let asked = app.estimate_requests();
        let [Request::Estimate(job)] = asked.as_slice() else { panic!("{asked:?}") };
        assert_eq!((job.purpose, job.generation, job.runs.len()), (Purpose::Queue, 1, 1));
        assert_eq!(job.runs[0].1, planned_config(&app.train.settings, &app.train.queue[0]));
        assert!(app.estimate_requests().is_empty());
        app.train.settings.change(super::super::train::Setting::Epochs, true);
        let asked = app.estimate_requests();
        let [Request::Estimate(job)] = asked.as_slice() else { panic!("{asked:?}") };
        assert_eq!((job.generation, job.runs[0].1.epochs), (2, app.train.settings.epochs));
        app.on_estimated(EstimateReply::Calibrating { purpose: Purpose::Queue, generation: 2 });
        assert!(app.estimates.queue.calibrating);
        app.on_estimated(EstimateReply::Done(estimated(Purpose::Queue, 2, &[job.runs[0].0])));
        assert!(!app.estimates.queue.calibrating && !app.estimates.queue.pending());
    }
}
