//! The training worker: a run on its own thread, reporting by message, paused, resumed and stopped
//! through its handle, stored like `pepr train` stores it.

use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use pepr::home::Home;
use pepr::results::record::RunStatus;
use pepr::results::store::RunStore;
use pepr::run::worker::{Job, RunMessage, RunUpdate, spawn_run};
use pepr::train::TrainConfig;

fn job(id: u64, epochs: usize, fraction: f64) -> Job {
    Job { id, config: TrainConfig { epochs, fraction, seed: 1, ..TrainConfig::new("pepr_lenet5", "synthetic") } }
}

/// The next message within a generous limit (a lenet5 epoch on 200 images takes well under a second).
fn next(receiver: &Receiver<RunMessage>) -> RunUpdate {
    receiver.recv_timeout(Duration::from_secs(120)).expect("a message from the worker").update
}

/// Every message up to and including `Finished` or `Failed`.
fn until_end(receiver: &Receiver<RunMessage>, mut seen: Vec<RunUpdate>) -> Vec<RunUpdate> {
    loop {
        let update = next(receiver);
        let end = matches!(update, RunUpdate::Finished { .. } | RunUpdate::Failed(_));
        seen.push(update);
        if end {
            return seen;
        }
    }
}

fn stored(home: &Path) -> Vec<pepr::results::record::RunRecord> {
    RunStore::new(home.join("runs.jsonl")).load().unwrap().records
}

#[test]
fn a_run_reports_started_progress_epochs_and_is_stored() {
    let home = tempfile::tempdir().unwrap();
    let (sender, receiver) = mpsc::channel();
    let handle = spawn_run(job(7, 1, 0.1), Home::at(home.path()), home.path().join("datasets"), sender);
    let updates = until_end(&receiver, Vec::new());
    handle.join();
    // Live meters come with the progress and after each epoch; the rest of the sequence is checked below.
    let meters: Vec<_> =
        updates.iter().filter_map(|u| if let RunUpdate::Meters(m) = u { Some(m) } else { None }).collect();
    let last = meters.last().expect("live meters");
    assert!(last.memory_gb.is_some_and(|gb| gb > 0.0) && last.memory_kind.contains("RSS"), "{last:?}");
    assert!(last.flops_per_s.is_some() && last.prediction.is_some(), "{last:?}");
    let updates: Vec<RunUpdate> = updates.into_iter().filter(|u| !matches!(u, RunUpdate::Meters(_))).collect();

    let RunUpdate::Started { run_id, params, epochs, steps_per_epoch, train_samples, .. } = &updates[0] else {
        panic!("first {:?}", updates[0])
    };
    assert_eq!((*params, *epochs, *train_samples), (61_196, 1, 200));
    assert_eq!(*steps_per_epoch, 200usize.div_ceil(32));
    let progress: Vec<(usize, usize)> = updates
        .iter()
        .filter_map(|u| match u {
            RunUpdate::Progress { epoch, step, loss, elapsed_s, .. } => {
                assert!(loss.is_finite() && *elapsed_s >= 0.0);
                Some((*epoch, *step))
            }
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 2, "first and last step at least: {progress:?}");
    assert_eq!(progress.first(), Some(&(1, 1)));
    assert_eq!(progress.last(), Some(&(1, *steps_per_epoch)));
    let n = updates.len();
    assert!(matches!(updates[n - 2], RunUpdate::EpochFinished { epoch: 1, .. }), "{:?}", updates[n - 2]);
    assert!(updates[1..n - 2].iter().all(|u| matches!(u, RunUpdate::Progress { .. })), "{updates:?}");
    let RunUpdate::Finished { record, message, checkpoint } = &updates[n - 1] else { panic!("{:?}", updates[n - 1]) };
    assert_eq!(record.status, RunStatus::Completed, "{message:?}");
    assert_eq!(&record.id, run_id);
    assert_eq!(record.group, "synthetic_small");
    assert_eq!(record.epoch_perf.len(), 1);
    assert!(checkpoint.as_ref().unwrap().join("model.bpk").is_file());

    let runs = stored(home.path());
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].id.as_str(), runs[0].status), (run_id.as_str(), RunStatus::Completed));
}

#[test]
fn stop_stores_an_interrupted_run_with_what_was_measured() {
    let home = tempfile::tempdir().unwrap();
    let (sender, receiver) = mpsc::channel();
    let handle = spawn_run(job(1, 1000, 0.1), Home::at(home.path()), home.path().join("datasets"), sender);
    // Wait for the first finished epoch, then stop.
    let mut seen = Vec::new();
    loop {
        let update = next(&receiver);
        let epoch_done = matches!(update, RunUpdate::EpochFinished { .. });
        seen.push(update);
        if epoch_done {
            break;
        }
    }
    handle.stop();
    let updates = until_end(&receiver, seen);
    assert!(handle_finishes(handle));
    let RunUpdate::Finished { record, message, checkpoint } = updates.last().unwrap() else { panic!("{updates:?}") };
    assert_eq!(record.status, RunStatus::Interrupted);
    assert!(message.as_deref().unwrap().starts_with("stopped in epoch"), "{message:?}");
    assert!(!record.epoch_perf.is_empty() && record.epoch_perf.len() < 1000);
    assert!(checkpoint.is_some(), "an interrupted run keeps its weights");
    let runs = stored(home.path());
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Interrupted);
    assert_eq!(runs[0].epoch_perf, record.epoch_perf);
}

fn handle_finishes(handle: pepr::run::worker::RunHandle) -> bool {
    handle.join();
    true
}

#[test]
fn pause_blocks_the_worker_and_resume_completes_the_run() {
    let home = tempfile::tempdir().unwrap();
    let (sender, receiver) = mpsc::channel();
    let handle = spawn_run(job(2, 1, 0.1), Home::at(home.path()), home.path().join("datasets"), sender);
    handle.pause();
    assert!(matches!(next(&receiver), RunUpdate::Started { .. }));
    assert_eq!(next(&receiver), RunUpdate::Paused(true));
    // Paused: nothing happens.
    assert!(receiver.recv_timeout(Duration::from_millis(400)).is_err(), "a paused worker sends nothing");
    assert!(handle.is_paused() && !handle.is_finished());
    handle.resume();
    assert_eq!(next(&receiver), RunUpdate::Paused(false));
    let updates = until_end(&receiver, Vec::new());
    handle.join();
    let RunUpdate::Finished { record, .. } = updates.last().unwrap() else { panic!("{updates:?}") };
    assert_eq!(record.status, RunStatus::Completed);
    // The pause is not training time.
    assert!(record.train_time_s.unwrap() < 30.0);
    assert_eq!(stored(home.path()).len(), 1);
}

#[test]
fn stop_while_paused_ends_the_run() {
    let home = tempfile::tempdir().unwrap();
    let (sender, receiver) = mpsc::channel();
    let handle = spawn_run(job(3, 5, 0.1), Home::at(home.path()), home.path().join("datasets"), sender);
    handle.pause();
    assert!(matches!(next(&receiver), RunUpdate::Started { .. }));
    assert_eq!(next(&receiver), RunUpdate::Paused(true));
    handle.stop();
    let updates = until_end(&receiver, Vec::new());
    handle.join();
    let RunUpdate::Finished { record, .. } = updates.last().unwrap() else { panic!("{updates:?}") };
    assert_eq!(record.status, RunStatus::Interrupted);
    assert!(record.epoch_perf.is_empty());
}

#[test]
fn a_run_that_cannot_start_fails_without_storing() {
    let home = tempfile::tempdir().unwrap();
    let (sender, receiver) = mpsc::channel();
    let mut bad = job(4, 1, 0.1);
    bad.config.dataset = "no_such_set".into();
    let handle = spawn_run(bad, Home::at(home.path()), home.path().join("datasets"), sender);
    let message = receiver.recv_timeout(Duration::from_secs(60)).unwrap();
    handle.join();
    assert_eq!(message.job, 4);
    let RunUpdate::Failed(error) = message.update else { panic!("{message:?}") };
    assert!(error.contains("no_such_set"), "{error}");
    assert!(!home.path().join("runs.jsonl").exists());
}
