//! Cost estimates before launch: training time, energy and CO2 of an architecture x dataset x
//! settings on this machine and backend, from the catalog's analytic work per layer kind
//! ([`workload`]), a short calibration of this machine per layer kind ([`calibration`], cached in
//! the home), corrected by the runs this machine has finished ([`model`]); and how good earlier
//! estimates were ([`accuracy`]). Every figure says what it rests on and comes with a low-high range.

pub mod accuracy;
pub mod budget;
pub mod calibration;
pub mod model;

use std::collections::BTreeMap;

use crate::results::workload;
pub use model::{Estimate, Range};

use crate::data::{Dataset, DatasetInfo};
use crate::home::Home;
use crate::meter::MeterSettings;
use crate::meter::backend::Backend;
use crate::results::store::RunStore;
use crate::train::TrainConfig;

/// What estimates on one backend share: the calibration, this machine's finished runs, the TDP
/// and the carbon settings.
pub struct Context {
    pub obtained: calibration::Obtained,
    pub past: Vec<model::Past>,
    pub tdp_w: Option<f64>,
    pub carbon: model::Carbon,
    pub backend: Backend,
}

/// This machine's name as its runs record it.
pub fn this_host() -> Option<String> {
    crate::slurm::task::node_name()
}

impl Context {
    /// Reads (or measures, the first time or when `fresh`) the calibration for `backend` and the
    /// runs in the home's store. Bad carbon settings are an error.
    pub fn new(home: &Home, backend: Backend, settings: &MeterSettings, fresh: bool) -> Result<Context, String> {
        let intensity = crate::meter::emissions::resolve_intensity(settings.carbon_intensity.as_deref())?;
        let pue = crate::meter::emissions::check_pue(settings.pue)?;
        let device = backend.device().map_err(|e| format!("{e:#}"))?;
        let key = calibration::key_for(backend);
        let obtained = calibration::obtain(&calibration::cache_path(home.root()), &key, fresh, || {
            calibration::measure(&key, backend, &device, settings)
        });
        let records = RunStore::new(home.runs_file()).load().map(|l| l.records).unwrap_or_default();
        let host = this_host();
        let past = model::history(&records, host.as_deref(), backend.label(), &obtained.calibration);
        let cpu = crate::meter::process::cpu_model();
        let tdp_w = crate::meter::estimate::cpu_tdp(settings.cpu_tdp_w, cpu.as_deref()).map(|t| t.watts);
        let carbon = model::Carbon { g_per_kwh: intensity.g_per_kwh, source: intensity.source, pue };
        Ok(Context { obtained, past, tdp_w, carbon, backend })
    }

    /// The estimate of training `config` on a dataset described by `info`; `class_counts` of the
    /// training split make the subset size exact (a loaded dataset), else it is rounded as a whole.
    pub fn estimate(
        &self,
        config: &TrainConfig,
        info: &DatasetInfo,
        class_counts: Option<&[usize]>,
    ) -> Result<Estimate, String> {
        if !(config.fraction > 0.0 && config.fraction <= 1.0) {
            return Err(format!("--fraction must be in (0, 1], got {}", config.fraction));
        }
        let shape = workload::RunShape {
            arch: config.arch.clone(),
            epochs: config.epochs,
            batch_size: config.batch_size,
            fraction: config.fraction,
            frozen_backbone: config.freeze_backbone,
        };
        let train = workload::subset_size(info.splits[0], class_counts, config.fraction);
        let work = workload::workload(&shape, info, train)?;
        let family = crate::catalog::find(&config.arch).map(|e| e.family);
        Ok(model::estimate(model::Inputs {
            work,
            family,
            calibration: &self.obtained.calibration,
            calibration_how: self.obtained.how,
            past: &self.past,
            tdp_w: self.tdp_w,
            carbon: &self.carbon,
        }))
    }
}

/// The estimate a run stores, made just before it trains (the calibration is measured first if
/// this machine has none yet). `Err` says why there is none; the run goes on regardless.
pub fn at_start(home: &Home, config: &TrainConfig, dataset: &Dataset) -> Result<Estimate, String> {
    let context = Context::new(home, config.backend, &config.meter, false)?;
    let counts = dataset.train.class_counts(dataset.info.classes.len());
    context.estimate(config, &dataset.info, Some(&counts))
}

/// Estimates for many configurations (one context per backend) and their total.
pub struct Plan {
    /// One per configuration, in order: the estimate or why there is none.
    pub runs: Vec<Result<Estimate, String>>,
    pub total: Option<Totals>,
    pub warnings: Vec<String>,
}

/// Sums over the runs that have an estimate.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Totals {
    pub runs: usize,
    pub train_time_s: Range,
    /// Only when every counted run has one.
    pub energy_kwh: Option<Range>,
    pub co2_g: Option<Range>,
}

pub fn totals(estimates: &[&Estimate]) -> Option<Totals> {
    let first = estimates.first()?;
    let mut total = Totals {
        runs: estimates.len(),
        train_time_s: first.train_time_s,
        energy_kwh: first.energy_kwh,
        co2_g: first.co2_g,
    };
    for e in &estimates[1..] {
        total.train_time_s = total.train_time_s + e.train_time_s;
        total.energy_kwh = total.energy_kwh.zip(e.energy_kwh).map(|(a, b)| a + b);
        total.co2_g = total.co2_g.zip(e.co2_g).map(|(a, b)| a + b);
    }
    Some(total)
}

/// Estimates every configuration; datasets are looked up (not loaded) in `data_dir`.
pub fn plan(home: &Home, configs: &[TrainConfig], data_dir: &std::path::Path, fresh: bool) -> Plan {
    let mut contexts: BTreeMap<&'static str, Result<Context, String>> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut runs = Vec::new();
    for config in configs {
        let context = contexts.entry(config.backend.label()).or_insert_with(|| {
            let made = Context::new(home, config.backend, &config.meter, fresh);
            if let Ok(c) = &made
                && let Some(w) = &c.obtained.warning
            {
                warnings.push(w.clone());
            }
            made
        });
        let result = match context {
            Ok(context) => crate::data::registry::find(&config.dataset, data_dir)
                .map_err(|e| e.to_string())
                .and_then(|entry| context.estimate(config, &entry.info, None)),
            Err(e) => Err(e.clone()),
        };
        runs.push(result);
    }
    let ok: Vec<&Estimate> = runs.iter().filter_map(|r| r.as_ref().ok()).collect();
    Plan { total: totals(&ok), runs, warnings }
}
