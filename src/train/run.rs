//! The pieces of one training run shared by `pepr train` and the TUI's worker: checking the settings,
//! loading the dataset, and storing what came out (record in the store, weights as a checkpoint).

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};

use super::checkpoint::{Meta, save_checkpoint};
use super::record::build_record;
use super::{Event, Outcome, TrainConfig, input_for};
use crate::catalog;
use crate::data::{Dataset, registry};
use crate::home::Home;
use crate::meter::RunMeters;
use crate::meter::session::MeterReport;
use crate::results::record::{RunRecord, RunStatus, SlurmTask};
use crate::results::store::RunStore;

/// Rejects settings no run can use, naming the command-line flag.
pub fn check(config: &TrainConfig) -> Result<()> {
    catalog::find(&config.arch).ok_or_else(|| anyhow!("no architecture named {:?} (see `pepr archs`)", config.arch))?;
    if config.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if config.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    if !(config.lr.is_finite() && config.lr > 0.0) {
        bail!("--lr must be a positive number, got {}", config.lr);
    }
    if !(config.fraction > 0.0 && config.fraction <= 1.0) {
        bail!("--fraction must be in (0, 1], got {}", config.fraction);
    }
    super::threads::check(config.threads)?;
    Ok(())
}

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
/// The run executes in its own thread pool when `config.threads` is set (see [`super::threads`]).
pub fn train_metered(
    config: &TrainConfig,
    dataset: &Dataset,
    device: &burn::tensor::Device,
    stop: &std::sync::atomic::AtomicBool,
    home: &Home,
    on_event: &mut (dyn FnMut(Event, &mut RunMeters) + Send),
) -> Result<(Outcome, MeterReport)> {
    super::threads::with_threads(config.threads, || train_metered_here(config, dataset, device, stop, home, on_event))?
}

fn train_metered_here(
    config: &TrainConfig,
    dataset: &Dataset,
    device: &burn::tensor::Device,
    stop: &std::sync::atomic::AtomicBool,
    home: &Home,
    on_event: &mut (dyn FnMut(Event, &mut RunMeters) + Send),
) -> Result<(Outcome, MeterReport)> {
    let mut meters = RunMeters::start(&config.meter, config.backend, device, Some(home.root()), config.epochs)
        .map_err(|e| anyhow!(e))?;
    let batch = config.batch_size as u64;
    let mut train_samples = u64::MAX;
    let outcome = super::train_in(Some(home), config, dataset, device, stop, &mut |event| {
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
    let report = meters.finish(outcome.samples_per_sec);
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
    home.ensure()?;
    let mut record = build_record(config, outcome, id, created_at);
    fill(&mut record);
    // Inside a Slurm job the node is Slurm's name for it; otherwise the host name.
    if let Some(node) = crate::slurm::task::node_name() {
        record.node = Some(node);
    }
    let checkpoint = match (&outcome.net, outcome.status) {
        (Some(net), RunStatus::Completed | RunStatus::Interrupted) => {
            let meta = Meta {
                run_id: id.to_string(),
                arch: config.arch.clone(),
                input: outcome.input,
                classes: outcome.classes,
                dataset: config.dataset.clone(),
                format: "burnpack".into(),
            };
            Some(save_checkpoint(&home.checkpoints_dir().join(id), net, &meta)?)
        }
        _ => None,
    };
    match destination {
        Destination::Store => {
            RunStore::new(home.runs_file()).append_new(std::slice::from_ref(&record))?;
        }
        Destination::Incoming(task) => {
            record.slurm = task.clone();
            crate::results::incoming::write_incoming(&home.incoming_dir(), &record)?;
        }
    }
    Ok(Stored { record, checkpoint })
}
