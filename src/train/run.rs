//! The pieces of one training run shared by `pepr train` and the TUI's worker: checking the settings,
//! loading the dataset, and storing what came out (record in the store, weights as a checkpoint).

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};

use super::checkpoint::{Meta, save_checkpoint};
use super::record::build_record;
use super::{Event, Outcome, TrainConfig, input_for, train};
use crate::catalog;
use crate::data::{Dataset, registry};
use crate::home::Home;
use crate::meter::RunMeters;
use crate::meter::session::MeterReport;
use crate::results::record::{RunRecord, RunStatus};
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
pub fn train_metered(
    config: &TrainConfig,
    dataset: &Dataset,
    device: &burn::tensor::Device,
    stop: &std::sync::atomic::AtomicBool,
    home: &Home,
    on_event: &mut dyn FnMut(Event, &mut RunMeters),
) -> Result<(Outcome, MeterReport)> {
    let mut meters = RunMeters::start(&config.meter, config.backend, device, Some(home.root()), config.epochs)
        .map_err(|e| anyhow!(e))?;
    let batch = config.batch_size as u64;
    let mut train_samples = u64::MAX;
    let outcome = train(config, dataset, device, stop, &mut |event| {
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
) -> Result<Stored> {
    store_with(home, config, outcome, id, created_at, &mut |record| report.apply(record))
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
    store_with(home, config, outcome, id, created_at, &mut |_| {})
}

fn store_with(
    home: &Home,
    config: &TrainConfig,
    outcome: &Outcome,
    id: &str,
    created_at: DateTime<Utc>,
    fill: &mut dyn FnMut(&mut RunRecord),
) -> Result<Stored> {
    home.ensure()?;
    let mut record = build_record(config, outcome, id, created_at);
    fill(&mut record);
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
    RunStore::new(home.runs_file()).append_new(std::slice::from_ref(&record))?;
    Ok(Stored { record, checkpoint })
}
