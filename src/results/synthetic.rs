//! Deterministic synthetic runs for benchmarks and tests (never shown as real results: their
//! origin says "synthetic" and their ids start with `syn-`).

use chrono::{DateTime, Duration, Utc};

use super::record::{Origin, PowerSource, RunRecord, RunStatus, SCHEMA_VERSION};
use crate::catalog::ModelKind;

/// `sets` comparison sets (`set-00`, `set-01`, ...) of `per_set` runs each, reproducible from `seed`.
/// Bigger models get more energy, time and memory and, noisily, higher P; every tenth run lacks
/// a memory figure so missing values are exercised.
pub fn runs(sets: usize, per_set: usize, seed: u64) -> Vec<RunRecord> {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        // SplitMix64: small, good enough for test data.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").expect("a valid date").with_timezone(&Utc);
    let kinds = [ModelKind::Cnn, ModelKind::Transformer, ModelKind::Mlp, ModelKind::Other];
    let mut records = Vec::with_capacity(sets * per_set);
    for s in 0..sets {
        for r in 0..per_set {
            let n = records.len();
            let size = 1.0 + 129.0 * uniform(); // millions of parameters
            let performance = (0.45 + 0.4 * (size / 130.0).sqrt() + 0.1 * (uniform() - 0.5)).clamp(0.0, 1.0);
            let energy = 0.005 + 0.0008 * size * (0.7 + 0.6 * uniform());
            let curve: Vec<f64> = (1..=10).map(|e| performance * (0.6 + 0.04 * e as f64)).collect();
            records.push(RunRecord {
                schema: SCHEMA_VERSION,
                id: format!("syn-{seed}-{s:02}-{r:06}"),
                created_at: start + Duration::minutes(n as i64),
                arch: format!("model{:03}", r % 131),
                family: None,
                kind: kinds[r % kinds.len()],
                efficient: Some(r % 5 == 0),
                params: Some((size * 1e6) as u64),
                macs: None,
                dataset: format!("data-{}", s % 3),
                group: format!("set-{s:02}"),
                data_fraction: None,
                pretrained: (s % 2 == 1).then(|| "synthetic".to_string()),
                epochs: Some(10),
                batch_size: Some(32),
                lr: Some(5e-4),
                seed: Some(seed),
                backend: None,
                device: None,
                metric: "test accuracy".into(),
                epoch_perf: curve,
                performance,
                energy_kwh: Some(energy),
                co2_g: Some(energy * 475.0),
                train_time_s: Some(5.0 + 0.6 * size * (0.8 + 0.4 * uniform())),
                memory_gb: (n % 10 != 9).then_some(0.5 + 0.08 * size),
                memory_kind: Some("synthetic".into()),
                power_source: Some(PowerSource { measured: false, by: "synthetic test data".into() }),
                carbon_intensity_g_per_kwh: Some(475.0),
                meters: None,
                prediction: None,
                estimate: None,
                frozen_backbone: None,
                grid_cell: None,
                node: None,
                slurm: None,
                checkpoint_error: None,
                reason: None,
                epochs_requested: None,
                status: RunStatus::Completed,
                origin: Origin::Imported { file: "synthetic".into(), line: n as u64 + 2, layout: "synthetic".into() },
                measurement: Default::default(),
            });
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::record::validate;

    #[test]
    fn deterministic_and_valid() {
        let a = runs(3, 20, 7);
        assert_eq!(a, runs(3, 20, 7));
        assert_ne!(a, runs(3, 20, 8));
        assert!(a.iter().all(|r| validate(r).is_ok()));
        assert_eq!(a.iter().filter(|r| r.memory_gb.is_none()).count(), 6);
    }
}
