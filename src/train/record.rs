//! A finished (or stopped, or failed) training run as a [`RunRecord`] for the store.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Outcome, TrainConfig};
use crate::catalog;
use crate::results::record::{Origin, RunRecord, RunStatus, SCHEMA_VERSION};

/// A fresh run id: `run-YYYYMMDD-HHMMSS-` and 8 hex digits of a hash of the moment, the process and
/// the configuration (so two runs started in the same second differ).
pub fn new_run_id(config: &TrainConfig, at: DateTime<Utc>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(at.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(format!("{config:?}").as_bytes());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    hasher.update(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_le_bytes());
    let digest = hasher.finalize();
    let hex = crate::files::hex(&digest[..4]);
    format!("run-{}-{hex}", at.format("%Y%m%d-%H%M%S"))
}

/// The comparison set of a run, named as an experiment grid names its cells (the paper's naming):
/// the dataset, `_pt` for a pretrained start, `_small` for 10% of the data, `_smallest` for 1%,
/// `_f{fraction}` for any other subset. A run and a grid cell with the same settings compare together.
pub fn group_name(dataset: &str, fraction: f64, pretrained: bool) -> String {
    crate::results::groups::default_group(dataset, pretrained, fraction)
}

/// This machine's CPU, in words, for the record's `device`: the model and the threads the run used.
pub fn cpu_name(threads: usize) -> String {
    match crate::meter::process::cpu_model() {
        Some(model) => format!("CPU: {model} ({threads} threads)"),
        None => format!("CPU ({threads} threads)"),
    }
}

/// The store record of a run. Energy, CO2 and memory are not measured here: they stay `None`.
pub fn build_record(config: &TrainConfig, outcome: &Outcome, id: &str, created_at: DateTime<Utc>) -> RunRecord {
    let entry = catalog::find(&config.arch);
    RunRecord {
        schema: SCHEMA_VERSION,
        id: id.to_string(),
        created_at,
        arch: config.arch.clone(),
        family: entry.map(|e| e.family.to_string()),
        kind: entry.map(|e| e.kind).unwrap_or_default(),
        efficient: entry.map(|e| e.efficient),
        params: (outcome.params > 0).then_some(outcome.params),
        macs: (outcome.macs > 0).then_some(outcome.macs),
        dataset: config.dataset.clone(),
        group: config
            .group
            .clone()
            .unwrap_or_else(|| group_name(&config.dataset, config.fraction, config.pretrained.is_some())),
        data_fraction: Some(outcome.data_fraction),
        pretrained: config.pretrained.clone(),
        // A run that ended early records the epochs it did, and what was asked for beside it.
        epochs: Some(
            if outcome.status == RunStatus::Completed { config.epochs } else { outcome.epoch_perf.len() } as u32
        ),
        batch_size: Some(config.batch_size as u32),
        lr: Some(config.lr),
        seed: Some(config.seed),
        backend: Some(config.backend.label().to_string()),
        device: Some(match config.backend {
            crate::meter::backend::Backend::Cpu => cpu_name(super::threads::effective(config.threads)),
            crate::meter::backend::Backend::Cuda => "CUDA device 0".to_string(),
        }),
        metric: config.metric.name().to_string(),
        epoch_perf: outcome.epoch_perf.iter().map(|p| p.clamp(0.0, 1.0)).collect(),
        performance: outcome.performance.clamp(0.0, 1.0),
        energy_kwh: None,
        co2_g: None,
        train_time_s: Some(outcome.train_time_s),
        memory_gb: None,
        memory_kind: None,
        power_source: None,
        carbon_intensity_g_per_kwh: None,
        meters: None,
        prediction: None,
        estimate: None,
        frozen_backbone: config.pretrained.is_some().then_some(config.freeze_backbone),
        grid_cell: config.grid_cell.clone(),
        node: None,
        slurm: None,
        checkpoint_error: None,
        reason: (outcome.status != RunStatus::Completed).then(|| outcome.message.clone()).flatten(),
        epochs_requested: (outcome.status != RunStatus::Completed && outcome.epoch_perf.len() < config.epochs)
            .then_some(config.epochs as u32),
        status: outcome.status,
        origin: Origin::TrainedHere,
        measurement: crate::results::record::Measurement {
            threads: Some(super::threads::effective(config.threads) as u32),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_ids() {
        assert_eq!(group_name("synthetic", 1.0, false), "synthetic");
        assert_eq!(group_name("synthetic", 0.25, false), "synthetic_f0.25");
        assert_eq!(group_name("derma", 1.0, true), "derma_pt");
        assert_eq!(group_name("derma", 0.1, true), "derma_pt_small");
        assert_eq!(group_name("derma", 0.01, false), "derma_smallest");
        let config = TrainConfig::new("pepr_lenet5", "synthetic");
        let at = Utc::now();
        let a = new_run_id(&config, at);
        let b = new_run_id(&config, at);
        assert_ne!(a, b);
        assert!(a.starts_with("run-") && a.len() == "run-20260102-030405-abcdef01".len(), "{a}");
    }
}
