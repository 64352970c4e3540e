//! The pieces of one training run shared by `pepr train` and the TUI's worker: checking the settings,
//! loading the dataset, and storing what came out (record in the store, weights as a checkpoint).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};

pub mod worker;

// `check` belongs to the settings (train), where SLURM submission can reach it; `run::check` stays a name.
use crate::catalog;
use crate::data::{Dataset, registry};
use crate::home::Home;
use crate::meter::RunMeters;
use crate::meter::session::MeterReport;
use crate::results::record::{RunRecord, RunStatus, SlurmTask};
use crate::results::store::RunStore;
pub use crate::train::check;
use crate::train::record::build_record;
use crate::train::{Event, Outcome, TrainConfig, input_for};
use crate::weights::checkpoint::{Meta, save_checkpoint};

/// Checks the settings, finds and loads the dataset, and checks the architecture can take it.
pub fn load_dataset(config: &TrainConfig, data_dir: &Path) -> Result<Dataset> {
    check(config)?;
    let entry = catalog::find(&config.arch).expect("checked");
    let found = registry::find(&config.dataset, data_dir).map_err(|e| anyhow!("{e}"))?;
    let dataset = registry::load(&found).map_err(|e| anyhow!("{e}"))?;
    input_for(entry, &dataset)
        .map_err(|message| anyhow!("{} cannot take {}: {message}", entry.name, config.dataset))?;
    Ok(dataset)
}

/// What storing a run produced.
#[derive(Clone, Debug)]
pub struct Stored {
    pub record: RunRecord,
    /// The checkpoint directory; `None` for a failed run (no weights worth keeping).
    pub checkpoint: Option<PathBuf>,
}

/// Trains with the meters running (see [`crate::meter`]): `on_event` gets each training event and
/// the meters, for live figures. The meters start before the network is built and stop after the
/// last evaluation; bad meter settings are an error before anything trains.
/// The run executes in its own thread pool when `config.threads` is set (see [`crate::train::threads`]).
pub fn train_metered(
    config: &TrainConfig,
    dataset: &Dataset,
    device: &burn::tensor::Device,
    stop: &std::sync::atomic::AtomicBool,
    home: &Home,
    on_event: &mut (dyn FnMut(Event, &mut RunMeters) + Send),
) -> Result<(Outcome, MeterReport)> {
    crate::train::threads::with_threads(config.threads, || {
        train_metered_here(config, dataset, device, stop, home, on_event)
    })?
}

fn train_metered_here(
    config: &TrainConfig,
    dataset: &Dataset,
    device: &burn::tensor::Device,
    stop: &std::sync::atomic::AtomicBool,
    home: &Home,
    on_event: &mut (dyn FnMut(Event, &mut RunMeters) + Send),
) -> Result<(Outcome, MeterReport)> {
    // Made before the meters start, so a first calibration is neither timed nor metered as the run.
    let estimate = crate::estimate::at_start(home, config, dataset);
    let mut meters = RunMeters::start(&config.meter, config.backend, device, Some(home.root()), config.epochs)
        .map_err(|e| anyhow!(e))?;
    let batch = config.batch_size as u64;
    let mut train_samples = u64::MAX;
    let outcome = crate::train::train_in(Some(home), config, dataset, device, stop, &mut |event| {
        match &event {
            Event::Started { input, classes, train_samples: n, .. } => {
                meters.set_input(&config.arch, *input, *classes);
                train_samples = *n as u64;
            }
            Event::Progress { epoch, step, .. } => meters.observe(*epoch, (*step as u64 * batch).min(train_samples)),
            Event::EpochFinished { epoch, .. } => meters.epoch_finished(*epoch),
        }
        on_event(event, &mut meters);
    });
    let mut report = meters.finish(outcome.samples_per_sec);
    match estimate {
        Ok(estimate) => report.estimate = Some(estimate),
        Err(why) => report.notes.push(format!("no estimate stored: {why}")),
    }
    Ok((outcome, report))
}

/// [`store_outcome`] with the meters' figures filled in.
pub fn store_metered(
    home: &Home,
    config: &TrainConfig,
    outcome: &Outcome,
    report: &MeterReport,
    id: &str,
    created_at: DateTime<Utc>,
    destination: &Destination,
) -> Result<Stored> {
    store_with(home, config, outcome, id, created_at, destination, &mut |record| {
        report.apply(record);
        if config.paper_conventions {
            report.apply_paper_conventions(record, outcome.epoch_time_s.last().copied());
        }
    })
}

/// Where a finished run's record goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Destination {
    /// Appended to the home's run store.
    Store,
    /// Its own file in the home's `incoming/` folder, merged later (Slurm array tasks: appends over
    /// NFS are not atomic), carrying the Slurm task's ids when there is one.
    Incoming(Option<SlurmTask>),
}

impl Destination {
    /// `incoming/` when asked (`pepr train --incoming`) or inside a Slurm job, else the store.
    pub fn detect(incoming: bool) -> Destination {
        if incoming || crate::slurm::task::in_slurm_job() {
            Destination::Incoming(crate::slurm::task::from_env())
        } else {
            Destination::Store
        }
    }
}

/// Builds the run's record, saves the weights of a completed or interrupted run in
/// `checkpoints/<id>/`, and appends the record to the home's store (a failed run is stored too).
pub fn store_outcome(
    home: &Home,
    config: &TrainConfig,
    outcome: &Outcome,
    id: &str,
    created_at: DateTime<Utc>,
) -> Result<Stored> {
    store_with(home, config, outcome, id, created_at, &Destination::Store, &mut |_| {})
}

/// [`store_outcome`], with the record going to `destination`.
pub fn store_outcome_to(
    home: &Home,
    config: &TrainConfig,
    outcome: &Outcome,
    id: &str,
    created_at: DateTime<Utc>,
    destination: &Destination,
) -> Result<Stored> {
    store_with(home, config, outcome, id, created_at, destination, &mut |_| {})
}

/// Writes a checkpoint directory; [`save_checkpoint`] except in tests that inject a failing disk.
pub type CheckpointWriter = dyn Fn(&Path, &crate::catalog::net::Net, &Meta) -> Result<PathBuf>;

/// Builds the record, lets `fill` add the meters' figures, names the node, saves the checkpoint and
/// sends the record to `destination`.
fn store_with(
    home: &Home,
    config: &TrainConfig,
    outcome: &Outcome,
    id: &str,
    created_at: DateTime<Utc>,
    destination: &Destination,
    fill: &mut dyn FnMut(&mut RunRecord),
) -> Result<Stored> {
    store_with_writer(home, config, outcome, id, created_at, destination, fill, &save_checkpoint)
}

/// [`store_with`] with the checkpoint written by `write`. The record is what must survive: the
/// checkpoint is written aside first (so no half-written folder is left under its id) and a
/// failure to write it is noted on the record, not fatal; if the record then cannot be stored next
/// to the checkpoint (a disk filled by it), the checkpoint is removed and the record stored alone.
#[allow(clippy::too_many_arguments)]
pub fn store_with_writer(
    home: &Home,
    config: &TrainConfig,
    outcome: &Outcome,
    id: &str,
    created_at: DateTime<Utc>,
    destination: &Destination,
    fill: &mut dyn FnMut(&mut RunRecord),
    write: &CheckpointWriter,
) -> Result<Stored> {
    home.ensure()?;
    let mut record = build_record(config, outcome, id, created_at);
    fill(&mut record);
    // Inside a Slurm job the node is Slurm's name for it; otherwise the host name.
    if let Some(node) = crate::slurm::task::node_name() {
        record.node = Some(node);
    }
    let mut checkpoint = None;
    if let (Some(net), RunStatus::Completed | RunStatus::Interrupted) = (&outcome.net, outcome.status) {
        let meta = Meta {
            run_id: id.to_string(),
            arch: config.arch.clone(),
            input: outcome.input,
            classes: outcome.classes,
            dataset: config.dataset.clone(),
            format: "burnpack".into(),
        };
        match write_aside(&home.checkpoints_dir(), id, net, &meta, write) {
            Ok(dir) => checkpoint = Some(dir),
            Err(e) => record.checkpoint_error = Some(format!("{e:#}")),
        }
    }
    if let Err(first) = send_record(home, destination, &mut record) {
        let Some(dir) = checkpoint.take() else { return Err(first) };
        let _ = std::fs::remove_dir_all(&dir);
        record.checkpoint_error = Some(format!("checkpoint removed so that the record could be stored: {first:#}"));
        send_record(home, destination, &mut record)
            .map_err(|e| e.context(format!("run {id} could not be stored (its checkpoint was removed)")))?;
    }
    Ok(Stored { record, checkpoint })
}

fn send_record(home: &Home, destination: &Destination, record: &mut RunRecord) -> Result<()> {
    match destination {
        Destination::Store => {
            RunStore::new(home.runs_file()).append_new(std::slice::from_ref(record))?;
        }
        Destination::Incoming(task) => {
            record.slurm = task.clone();
            crate::results::incoming::write_incoming(&home.incoming_dir(), record)?;
        }
    }
    Ok(())
}

/// Writes the checkpoint into `<dir>/.<id>.partial` and renames it to `<dir>/<id>` when whole; on
/// failure nothing is left behind.
fn write_aside(
    dir: &Path,
    id: &str,
    net: &crate::catalog::net::Net,
    meta: &Meta,
    write: &CheckpointWriter,
) -> Result<PathBuf> {
    let staging = dir.join(format!(".{id}.partial"));
    let target = dir.join(id);
    let _ = std::fs::remove_dir_all(&staging);
    let written = write(&staging, net, meta).and_then(|_| {
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(&staging, &target)
            .with_context(|| format!("cannot move checkpoint {} to {}", staging.display(), target.display()))
    });
    match written {
        Ok(()) => Ok(target),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// Room asked for beyond the checkpoint and the record: a file system with less is about full.
const SPACE_MARGIN: u64 = 1 << 20;
/// A generous size for one record line.
const RECORD_BYTES: u64 = 64 << 10;

/// Checks, before a run starts, that what it will write can be written: the store (or `incoming/`)
/// and the checkpoint folder accept a file, and their file system has room for the checkpoint
/// (float32 weights) and the record. The error names the folder and both figures.
pub fn preflight(home: &Home, config: &TrainConfig, dataset: &Dataset, destination: &Destination) -> Result<()> {
    let entry = catalog::find(&config.arch)
        .ok_or_else(|| anyhow!("no architecture named {:?} (see `pepr archs`)", config.arch))?;
    let (_, graph) = input_for(entry, dataset)
        .map_err(|message| anyhow!("{} cannot take {}: {message}", entry.name, config.dataset))?;
    home.ensure()?;
    let record_dir = match destination {
        Destination::Store => home.root().to_path_buf(),
        Destination::Incoming(_) => home.incoming_dir(),
    };
    if matches!(destination, Destination::Store) {
        let runs = home.runs_file();
        if runs.exists() {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&runs)
                .with_context(|| format!("the run store {} cannot be written to", runs.display()))?;
        }
    }
    for dir in [record_dir.as_path(), home.checkpoints_dir().as_path()] {
        probe_writable(dir)?;
    }
    let needed = graph.params() * 4 + 64 * 1024 + RECORD_BYTES + SPACE_MARGIN;
    let available = fs4::available_space(home.root())
        .with_context(|| format!("cannot read the free space of {}", home.root().display()))?;
    check_space(home.root(), available, needed)
}

/// Creates and removes a small file in `dir` (created if missing).
fn probe_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let probe = dir.join(format!(".pepr-probe-{}", std::process::id()));
    std::fs::write(&probe, b"pepr").with_context(|| format!("{} cannot be written to", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Refuses a run when `available` bytes are fewer than the `needed` ones, naming both.
pub fn check_space(dir: &Path, available: u64, needed: u64) -> Result<()> {
    if available < needed {
        bail!(
            "not enough free space in {}: {} available, about {} needed for this run's checkpoint and record \
             (free some space, or use another home with --home)",
            dir.display(),
            megabytes(available),
            megabytes(needed)
        );
    }
    Ok(())
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Resolves a `--pretrained` source before the dataset loads, so a misspelt one costs nothing and
/// leaves no record.
pub fn check_start(home: &Home, config: &TrainConfig) -> Result<()> {
    if let Some(source) = &config.pretrained {
        crate::weights::start::resolve(home, &config.arch, source)
            .map_err(|e| anyhow!("pretrained weights {source:?}: {e:#}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Spec;
    use crate::catalog::net::Net;
    use crate::data::Input;

    fn interrupted_outcome() -> Outcome {
        let graph = catalog::find("pepr_lenet5").unwrap().graph(&Spec::new(1, 10, 28)).unwrap();
        Outcome {
            status: RunStatus::Interrupted,
            message: Some("stopped in epoch 2 at step 3".into()),
            epoch_perf: vec![0.5],
            epoch_loss: vec![1.0],
            performance: 0.5,
            train_time_s: 1.0,
            epoch_time_s: vec![1.0],
            samples_per_sec: 100.0,
            input: Input { channels: 1, height: 28, width: 28 },
            classes: 10,
            params: 1,
            macs: 1,
            data_fraction: 1.0,
            net: Some(Net::new(graph, &burn::tensor::Device::flex())),
            start: None,
        }
    }

    fn config() -> TrainConfig {
        let mut config = TrainConfig::new("pepr_lenet5", "synthetic");
        config.epochs = 5;
        config
    }

    #[test]
    fn a_group_with_control_characters_or_of_any_length_is_refused() {
        let mut config = config();
        config.group = Some("ok_group".into());
        assert!(check(&config).is_ok());
        config.group = Some("x\u{1b}]0;owned\u{7}".into());
        let err = check(&config).unwrap_err().to_string();
        assert!(err.starts_with("--group holds the control character \\u{1b}"), "{err}");
        config.group = Some("g".repeat(10_000));
        assert!(check(&config).unwrap_err().to_string().contains("10000 characters"));
    }

    /// A disk that fills up half-way through the weights.
    fn full_disk(dir: &Path, _: &Net, _: &Meta) -> Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("model.bpk"), b"half of the wei")?;
        bail!("cannot write {}: No space left on device (os error 28)", dir.join("model.bpk").display())
    }

    fn store(home: &Home, write: &CheckpointWriter) -> Result<Stored> {
        let at = Utc::now();
        store_with_writer(home, &config(), &interrupted_outcome(), "run-1", at, &Destination::Store, &mut |_| {}, write)
    }

    fn entries(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_checkpoint_that_cannot_be_written_is_noted_on_the_stored_run() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let stored = store(&home, &full_disk).unwrap();
        assert!(stored.checkpoint.is_none());
        let loaded = RunStore::new(home.runs_file()).load().unwrap();
        assert_eq!(loaded.records.len(), 1);
        let record = &loaded.records[0];
        assert!(record.checkpoint_error.as_deref().unwrap().contains("No space left"), "{record:?}");
        // What was measured is kept, with the epochs done and why it stopped.
        assert_eq!(record.epoch_perf, [0.5]);
        assert_eq!((record.epochs, record.epochs_requested), (Some(1), Some(5)));
        assert_eq!(record.reason.as_deref(), Some("stopped in epoch 2 at step 3"));
        assert_eq!(entries(&home.checkpoints_dir()), Vec::<String>::new(), "no half-written checkpoint is left");
    }

    #[test]
    fn a_written_checkpoint_is_moved_into_place_whole() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let stored = store(&home, &save_checkpoint).unwrap();
        assert_eq!(stored.checkpoint, Some(home.checkpoints_dir().join("run-1")));
        assert_eq!(entries(&home.checkpoints_dir()), ["run-1"]);
        assert!(home.checkpoints_dir().join("run-1").join("model.bpk").is_file());
        assert!(stored.record.checkpoint_error.is_none());
    }

    #[test]
    fn a_store_that_cannot_be_written_leaves_no_orphaned_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::create_dir_all(home.runs_file()).unwrap();
        let error = store(&home, &save_checkpoint).unwrap_err();
        assert!(format!("{error:#}").contains("runs.jsonl"), "{error:#}");
        assert_eq!(entries(&home.checkpoints_dir()), Vec::<String>::new());
    }

    #[test]
    fn space_and_write_access_are_checked_before_a_run() {
        let error = check_space(Path::new("/data/pepr"), 1_500_000, 4_200_000).unwrap_err().to_string();
        assert!(error.contains("/data/pepr") && error.contains("1.5 MB available") && error.contains("4.2 MB needed"));
        assert!(check_space(Path::new("/x"), 5, 5).is_ok());

        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let data = dir.path().join("datasets");
        let dataset = load_dataset(&config(), &data).unwrap();
        preflight(&home, &config(), &dataset, &Destination::Store).unwrap();
        assert!(!home.runs_file().exists() && entries(&home.checkpoints_dir()).is_empty(), "the probe leaves nothing");
        std::fs::create_dir_all(home.runs_file()).unwrap();
        let error = preflight(&home, &config(), &dataset, &Destination::Store).unwrap_err();
        assert!(format!("{error:#}").contains("runs.jsonl cannot be written to"), "{error:#}");
    }

    #[test]
    fn an_unknown_pretrained_source_is_refused_before_anything_loads() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let mut config = config();
        config.pretrained = Some("nosuch".into());
        let error = check_start(&home, &config).unwrap_err();
        assert!(format!("{error:#}").contains("nosuch"), "{error:#}");
        assert!(!home.runs_file().exists());
    }
}
