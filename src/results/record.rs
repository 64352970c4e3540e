//! One training run, as stored: a versioned serde record.
//!
//! Every later feature (training, meters, fine-tuning) adds runs as these records, so the schema is
//! versioned: a reader skips a record written by a newer schema with a clear warning instead of
//! guessing at fields it does not know.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The schema version this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

use crate::catalog::ModelKind;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    #[default]
    Completed,
    Interrupted,
    Failed,
}

impl RunStatus {
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        match text.trim().to_ascii_lowercase().as_str() {
            "completed" | "" => Some(RunStatus::Completed),
            "interrupted" => Some(RunStatus::Interrupted),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

/// Whether a power/energy figure was measured by a counter or estimated by a model, and by what.
/// Per comparison set of `ranking` (indexed like `ranking.sets`): its [`mixed_scopes`] warning.
pub fn scope_warnings(records: &[RunRecord], ranking: &crate::results::rank::Ranking) -> Vec<Option<String>> {
    let mut members: Vec<Vec<&RunRecord>> = vec![Vec::new(); ranking.sets.len()];
    for run in &ranking.runs {
        members[run.set].push(&records[run.index]);
    }
    members.into_iter().map(mixed_scopes).collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PowerSource {
    pub measured: bool,
    /// The counter or model, e.g. "NVML", "RAPL", "TDP x load", "carbontracker (paper)".
    pub by: String,
}

impl PowerSource {
    pub fn label(&self) -> String {
        let how = if self.measured { "measured" } else { "estimated" };
        format!("{how} ({})", self.by)
    }

    /// Parses "measured (RAPL)" / "estimated (TDP x load)"; a bare word means measured by it.
    pub fn parse(text: &str) -> Option<PowerSource> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let (measured, rest) = if let Some(rest) = text.strip_prefix("measured") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("estimated") {
            (false, rest)
        } else {
            return Some(PowerSource { measured: true, by: text.to_string() });
        };
        let by = rest.trim().trim_start_matches('(').trim_end_matches(')').trim();
        Some(PowerSource { measured, by: if by.is_empty() { "unspecified".into() } else { by.into() } })
    }
}

/// Where a run came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Origin {
    TrainedHere,
    Imported { file: String, line: u64, layout: String },
    // Written by pepr from Slurm's job state for an array task that never left a record of its own
    // (cancelled while pending): pepr did not train it.
    SlurmState { state: String },
}

impl Origin {
    pub fn label(&self) -> String {
        match self {
            Origin::TrainedHere => "trained here".to_string(),
            Origin::Imported { file, line, layout } => {
                format!("imported ({layout}) from {file}:{line}")
            }
            Origin::SlurmState { state } => format!("from Slurm's job state ({state}); pepr never ran it"),
        }
    }
}

/// One run. Resource fields are optional: a run that lacks one gets no score for that PePR variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: u32,
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub arch: String,
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub kind: ModelKind,
    #[serde(default)]
    pub efficient: Option<bool>,
    #[serde(default)]
    pub params: Option<u64>,
    #[serde(default)]
    pub macs: Option<u64>,
    pub dataset: String,
    /// The comparison set (the paper calls it the dataset: e.g. `derma_pt`).
    pub group: String,
    #[serde(default)]
    pub data_fraction: Option<f64>,
    /// `None` for training from scratch, otherwise the weights' source.
    #[serde(default)]
    pub pretrained: Option<String>,
    #[serde(default)]
    pub epochs: Option<u32>,
    #[serde(default)]
    pub batch_size: Option<u32>,
    #[serde(default)]
    pub lr: Option<f64>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub backend: Option<String>,
    #[serde(default)]
    pub device: Option<String>,
    /// Name of the performance metric, e.g. "test accuracy".
    pub metric: String,
    /// Test performance after each epoch, in [0, 1].
    #[serde(default)]
    pub epoch_perf: Vec<f64>,
    /// Final test performance P, in [0, 1]; 0 in memory for a run stopped before its first epoch
    /// ended, stored as `null` then (see [`RunRecord::measured_p`]).
    #[serde(deserialize_with = "p_or_none")]
    pub performance: f64,
    #[serde(default)]
    pub energy_kwh: Option<f64>,
    #[serde(default)]
    pub co2_g: Option<f64>,
    #[serde(default)]
    pub train_time_s: Option<f64>,
    #[serde(default)]
    pub memory_gb: Option<f64>,
    /// Which memory `memory_gb` is, e.g. "GPU reserved (torch memR)" or "peak RSS".
    #[serde(default)]
    pub memory_kind: Option<String>,
    #[serde(default)]
    pub power_source: Option<PowerSource>,
    #[serde(default)]
    pub carbon_intensity_g_per_kwh: Option<f64>,
    /// How the resource figures of a run trained here were measured (absent for imported runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meters: Option<MeterDetail>,
    /// Totals predicted after the first epoch, kept beside the actual ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<Prediction>,
    /// The estimate made before the run started (time, energy, CO2 with ranges), kept beside the
    /// measured figures so `pepr estimate --accuracy` can compare them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<super::estimate::Estimate>,
    /// Fine-tuning with every layer but the classifier head frozen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_backbone: Option<bool>,
    /// The experiment-grid cell this run fills, so a resumed grid can skip it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_cell: Option<String>,
    /// The machine the run trained on (host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The Slurm array task that ran it, when it ran on a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmTask>,
    #[serde(default)]
    pub status: RunStatus,
    pub origin: Origin,
    /// Why a run failed or was interrupted, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The epochs asked for, when the run did fewer (`epochs` is then the number done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs_requested: Option<u32>,
    /// Why the run's checkpoint could not be written (the run itself is stored all the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_error: Option<String>,
    /// Bands, scopes and threads of the resource figures (top-level fields in the stored JSON).
    #[serde(flatten)]
    pub measurement: Measurement,
}

/// How far the resource figures can be trusted and what they cover. Stored flattened, so each is a
/// top-level field of the record (`energy_kwh_low`, `threads`, `time_scope`, ...); all optional, so
/// older records read as they are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Measurement {
    /// Low bound of `energy_kwh` (kWh), from the band of each power source (see `meter::band`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_kwh_low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_kwh_high: Option<f64>,
    /// Bounds of `co2_g` (g): the energy bounds at the same intensity and PUE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co2_g_low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co2_g_high: Option<f64>,
    /// Why the band is as wide as it is, e.g. "TDP x load (family median) x0.45-1.90".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_band_basis: Option<String>,
    /// CPU threads the run trained with (the CPU backend's thread pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// What `train_time_s` covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scope: Option<TimeScope>,
    /// What `energy_kwh` covers, as a short key: `training+evaluation` (pepr's runs) or
    /// `carbontracker` (the paper's: GPU + CPU as carbontracker measured them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_scope: Option<String>,
    /// `energy_kwh` is already multiplied by a PUE (carbontracker's 1.58 in the paper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_includes_pue: Option<bool>,
    /// The step of the TDP fallback chain when the energy was estimated from a TDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tdp_basis: Option<String>,
}

/// What a run's training time covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeScope {
    /// From the first step to the last evaluation (pepr's default).
    WholeRun,
    /// The last epoch only (the paper's train_medmnist.py resets its timer every epoch).
    LastEpoch,
}

impl TimeScope {
    pub fn label(self) -> &'static str {
        match self {
            TimeScope::WholeRun => "whole run",
            TimeScope::LastEpoch => "last epoch",
        }
    }
}

/// pepr's own energy scope key.
pub const ENERGY_SCOPE_PEPR: &str = "training+evaluation";
/// The paper's energy scope key (carbontracker's GPU + CPU energy).
pub const ENERGY_SCOPE_CARBONTRACKER: &str = "carbontracker";

/// The scope a record's figures cover: (time, energy, energy includes PUE), with the paper's
/// conventions inferred for records imported from its layout before these fields existed, and
/// pepr's for runs trained here. `None` parts are unknown.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    pub time: Option<TimeScope>,
    pub energy: Option<String>,
    pub includes_pue: Option<bool>,
}

impl Scope {
    pub fn of(record: &RunRecord) -> Scope {
        let m = &record.measurement;
        let (time, energy, pue) = match &record.origin {
            Origin::Imported { layout, .. } if layout == "paper" => {
                (Some(TimeScope::LastEpoch), Some(ENERGY_SCOPE_CARBONTRACKER.to_string()), Some(true))
            }
            Origin::TrainedHere => (Some(TimeScope::WholeRun), Some(ENERGY_SCOPE_PEPR.to_string()), Some(false)),
            _ => (None, None, None),
        };
        Scope {
            time: m.time_scope.or(time),
            energy: m.energy_scope.clone().or(energy),
            includes_pue: m.energy_includes_pue.or(pue),
        }
    }

    /// "time: last epoch; energy: carbontracker, incl. PUE".
    pub fn label(&self) -> String {
        let time = self.time.map_or("unknown", |t| t.label());
        let energy = self.energy.as_deref().unwrap_or("unknown");
        let pue = match self.includes_pue {
            Some(true) => ", incl. PUE",
            Some(false) => ", without PUE",
            None => "",
        };
        format!("time: {time}; energy: {energy}{pue}")
    }
}

/// When the runs of one comparison set do not share a scope: one line naming each scope and how
/// many runs have it (runs whose scope is unknown are not counted as a scope of their own).
pub fn mixed_scopes<'a>(records: impl IntoIterator<Item = &'a RunRecord>) -> Option<String> {
    let mut counts: Vec<(Scope, usize)> = Vec::new();
    for r in records {
        let scope = Scope::of(r);
        if scope.time.is_none() && scope.energy.is_none() {
            continue;
        }
        match counts.iter_mut().find(|(s, _)| *s == scope) {
            Some((_, n)) => *n += 1,
            None => counts.push((scope, 1)),
        }
    }
    (counts.len() > 1).then(|| {
        let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} run(s) {}", s.label())).collect();
        format!("mixed scopes, these figures measure different things: {}", parts.join(" vs "))
    })
}

/// A stored `null` P (no epoch finished) reads as 0 in memory; `measured_p` tells the two apart.
fn p_or_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(0.0))
}

impl RunRecord {
    /// P, or `None` for a run interrupted or failed before its first epoch ended (nothing measured):
    /// shown as "—", never plotted, never ranked.
    pub fn measured_p(&self) -> Option<f64> {
        (self.status == RunStatus::Completed || !self.epoch_perf.is_empty()).then_some(self.performance)
    }

    /// The record as one store line: P is `null` when nothing was measured.
    pub fn to_json_value(&self) -> serde_json::Result<serde_json::Value> {
        let mut value = serde_json::to_value(self)?;
        if self.measured_p().is_none()
            && let Some(map) = value.as_object_mut()
        {
            map.insert("performance".into(), serde_json::Value::Null);
        }
        Ok(value)
    }
}

/// The detail behind a trained run's energy, CO2, FLOP/s and memory figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct MeterDetail {
    /// What the energy covers, e.g. "training and evaluation".
    #[serde(default)]
    pub energy_scope: Option<String>,
    /// Gross energy minus the idle baseline times the run's duration.
    #[serde(default)]
    pub energy_net_kwh: Option<f64>,
    #[serde(default)]
    pub idle_power_w: Option<f64>,
    #[serde(default)]
    pub mean_power_w: Option<f64>,
    /// Power usage effectiveness the CO2 figure was multiplied by.
    #[serde(default)]
    pub pue: Option<f64>,
    /// Where the carbon intensity came from, e.g. "world average (Ember 2024)".
    #[serde(default)]
    pub carbon_intensity_source: Option<String>,
    /// Training FLOPs per sample from the catalog's analytic counter (3 x forward).
    #[serde(default)]
    pub train_flops_per_sample: Option<f64>,
    #[serde(default)]
    pub achieved_flops_per_s: Option<f64>,
    /// The device's measured peak (matrix-multiply benchmark).
    #[serde(default)]
    pub peak_flops_per_s: Option<f64>,
    #[serde(default)]
    pub sample_interval_ms: Option<u64>,
    /// The sources behind the energy, e.g. "TDP 65 W (table) x process CPU share over 8 logical CPUs".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_detail: Option<String>,
    /// Seconds the meters covered (pauses left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metered_s: Option<f64>,
    /// CPU seconds the sampler thread itself used (its cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler_cpu_s: Option<f64>,
    /// Samples the sampler took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// CPU seconds the whole process used while metered (every thread): over `metered_s`, the
    /// cores the run kept busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_cpu_s: Option<f64>,
}

/// Totals predicted from the first epoch(s), linear in epochs (as carbontracker does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub after_epochs: u32,
    pub time_s: f64,
    #[serde(default)]
    pub energy_kwh: Option<f64>,
    #[serde(default)]
    pub co2_g: Option<f64>,
}

/// A Slurm job-array task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmTask {
    pub job_id: String,
    pub array_task_id: u32,
}

/// A record that fails these checks is refused before it reaches the store.
pub fn validate(record: &RunRecord) -> Result<(), String> {
    if record.id.trim().is_empty() {
        return Err("id is empty".into());
    }
    if record.arch.trim().is_empty() {
        return Err("arch is empty".into());
    }
    if record.group.trim().is_empty() {
        return Err("group is empty".into());
    }
    check_unit("performance", Some(record.performance))?;
    for (i, p) in record.epoch_perf.iter().enumerate() {
        check_unit(&format!("epoch_perf[{i}]"), Some(*p))?;
    }
    check_unit("data_fraction", record.data_fraction)?;
    if record.data_fraction == Some(0.0) {
        return Err("data_fraction must be above 0 (a run trained on some data), got 0".into());
    }
    for (name, value) in [
        ("energy_kwh", record.energy_kwh),
        ("co2_g", record.co2_g),
        ("train_time_s", record.train_time_s),
        ("memory_gb", record.memory_gb),
        ("carbon_intensity_g_per_kwh", record.carbon_intensity_g_per_kwh),
        ("lr", record.lr),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(format!("{name} must be a finite number >= 0, got {v}"));
        }
    }
    Ok(())
}

fn check_unit(name: &str, value: Option<f64>) -> Result<(), String> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) => Err(format!("{name} must be in [0, 1], got {v}")),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) fn sample(id: &str, group: &str, p: f64, energy: Option<f64>) -> RunRecord {
    RunRecord {
        schema: SCHEMA_VERSION,
        id: id.into(),
        created_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().with_timezone(&Utc),
        arch: format!("arch-{id}"),
        family: None,
        kind: ModelKind::Cnn,
        efficient: Some(false),
        params: Some(1_000_000),
        macs: None,
        dataset: group.into(),
        group: group.into(),
        data_fraction: None,
        pretrained: None,
        epochs: Some(10),
        batch_size: Some(32),
        lr: Some(5e-4),
        seed: Some(1),
        backend: None,
        device: None,
        metric: "test accuracy".into(),
        epoch_perf: vec![p],
        performance: p,
        energy_kwh: energy,
        co2_g: energy.map(|e| e * 100.0),
        train_time_s: Some(10.0),
        memory_gb: Some(1.0),
        memory_kind: None,
        power_source: None,
        carbon_intensity_g_per_kwh: None,
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
        origin: Origin::TrainedHere,
        measurement: Measurement::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_through_json() {
        let record = sample("a", "g", 0.5, Some(1.0));
        let line = serde_json::to_string(&record).unwrap();
        let back: RunRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(record, back);
    }

    #[test]
    fn a_run_stopped_before_its_first_epoch_stores_no_p() {
        let mut r = sample("a", "g", 0.0, None);
        r.epoch_perf.clear();
        r.status = RunStatus::Interrupted;
        assert_eq!(r.measured_p(), None);
        let line = serde_json::to_string(&r.to_json_value().unwrap()).unwrap();
        assert!(line.contains("\"performance\":null"), "{line}");
        let back: RunRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.measured_p(), None);
        r.epoch_perf = vec![0.0];
        assert_eq!(r.measured_p(), Some(0.0), "a measured 0 stays a measurement");
        assert!(!serde_json::to_string(&r.to_json_value().unwrap()).unwrap().contains("\"performance\":null"));
    }

    #[test]
    fn validate_rejects_out_of_range_values() {
        let mut r = sample("a", "g", 0.5, Some(1.0));
        assert!(validate(&r).is_ok());
        r.performance = 1.5;
        assert!(validate(&r).unwrap_err().contains("performance"));
        let mut r = sample("a", "g", 0.5, Some(f64::NAN));
        assert!(validate(&r).unwrap_err().contains("energy_kwh"));
        r.energy_kwh = Some(-1.0);
        assert!(validate(&r).is_err());
    }

    #[test]
    fn measurement_fields_are_top_level_and_old_records_still_read() {
        let mut record = sample("a", "g", 0.5, Some(1.0));
        record.measurement.energy_kwh_low = Some(0.5);
        record.measurement.energy_kwh_high = Some(1.5);
        record.measurement.threads = Some(2);
        record.measurement.time_scope = Some(TimeScope::LastEpoch);
        let value = serde_json::to_value(&record).unwrap();
        assert_eq!(value["energy_kwh_low"], 0.5);
        assert_eq!(value["threads"], 2);
        assert_eq!(value["time_scope"], "last_epoch");
        assert!(value.get("measurement").is_none() && value.get("co2_g_low").is_none());
        let back: RunRecord = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(back, record);
        let mut old = value;
        for key in ["energy_kwh_low", "energy_kwh_high", "threads", "time_scope"] {
            old.as_object_mut().unwrap().remove(key);
        }
        let back: RunRecord = serde_json::from_value(old).unwrap();
        assert_eq!(back.measurement, Measurement::default());
    }

    #[test]
    fn scopes_are_inferred_and_a_mix_is_named() {
        let own = sample("a", "g", 0.5, Some(1.0));
        let mut paper = sample("b", "g", 0.5, Some(1.0));
        paper.origin = Origin::Imported { file: "all_results.csv".into(), line: 2, layout: "paper".into() };
        assert_eq!(Scope::of(&paper).time, Some(TimeScope::LastEpoch));
        assert_eq!(Scope::of(&own).energy.as_deref(), Some(ENERGY_SCOPE_PEPR));
        assert_eq!(mixed_scopes([&own, &own]), None);
        let warning = mixed_scopes([&own, &paper, &paper]).unwrap();
        assert!(
            warning.contains("1 run(s) time: whole run") && warning.contains("2 run(s) time: last epoch"),
            "{warning}"
        );
        // A run measured the paper's way compares with the paper's runs without a warning.
        let mut conv = own.clone();
        conv.measurement.time_scope = Some(TimeScope::LastEpoch);
        conv.measurement.energy_scope = Some(ENERGY_SCOPE_CARBONTRACKER.into());
        conv.measurement.energy_includes_pue = Some(true);
        assert_eq!(mixed_scopes([&conv, &paper]), None);
        // Unknown scopes (a generic import without the fields) are not a scope of their own.
        let mut generic = own.clone();
        generic.origin = Origin::Imported { file: "x.csv".into(), line: 2, layout: "generic".into() };
        assert_eq!(mixed_scopes([&own, &generic]), None);
    }

    #[test]
    fn power_source_labels_parse_back() {
        let m = PowerSource::parse("measured (RAPL)").unwrap();
        assert_eq!(m, PowerSource { measured: true, by: "RAPL".into() });
        assert_eq!(PowerSource::parse(&m.label()).unwrap(), m);
        let e = PowerSource::parse("estimated (TDP x load)").unwrap();
        assert!(!e.measured);
        assert_eq!(e.by, "TDP x load");
    }
}
