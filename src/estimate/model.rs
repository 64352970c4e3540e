//! From a workload to time, energy and CO2 with a low-high range: the calibration prices the work,
//! the runs this machine finished correct it (the next run of a family learns from the last ones),
//! and their power (or the power seen while calibrating) turns time into energy.

use chrono::{DateTime, Utc};

use super::calibration::Calibration;
use crate::results::record::{Origin, RunRecord, RunStatus};
use crate::results::workload::{Kind, Workload};

pub use crate::results::estimate::{Estimate, Range};

/// Evaluation batch of `train` (forward only).
const EVAL_BATCH: u64 = 256;
/// Share of a training step's work that is the forward pass (training = 3 x forward).
pub const FORWARD_SHARE: f64 = 1.0 / 3.0;

/// Seconds the calibration alone gives a workload: per epoch, the training steps (fixed cost,
/// optimiser, forward + backward of every sample) and the test evaluation (forward only).
pub fn model_seconds(w: &Workload, c: &Calibration) -> f64 {
    let per_sample: f64 = Kind::ALL.iter().map(|k| w.amount(*k) as f64 * c.unit(*k)).sum();
    let train_per_sample = if w.frozen_backbone {
        // A frozen backbone runs forward only; the head also runs backward.
        per_sample * FORWARD_SHARE + w.head_macs as f64 * c.unit(Kind::Linear) * (1.0 - FORWARD_SHARE)
    } else {
        per_sample
    };
    let steps = w.steps_per_epoch() as f64;
    let eval_steps = w.test_samples.div_ceil(EVAL_BATCH) as f64;
    let layers = w.nodes as f64 * c.node_s;
    let epoch = steps * (c.step_s + c.loop_s + c.param_s * w.params as f64 + layers)
        + w.train_samples as f64 * train_per_sample
        + eval_steps * (c.step_s + layers) * FORWARD_SHARE
        + w.test_samples as f64 * per_sample * FORWARD_SHARE;
    w.epochs as f64 * epoch
}

/// What one finished run of this machine tells the estimator.
#[derive(Clone, Debug, PartialEq)]
pub struct Past {
    pub family: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Measured time / the calibration's time for the run's stored workload.
    pub ratio: Option<f64>,
    /// Energy per second of training time (W), with its source's label.
    pub watts: Option<(f64, String)>,
}

/// The completed runs trained on `host` with `backend`, oldest first.
pub fn history(records: &[RunRecord], host: Option<&str>, backend: &str, calibration: &Calibration) -> Vec<Past> {
    let mut past: Vec<Past> = records
        .iter()
        .filter(|r| {
            r.status == RunStatus::Completed
                && matches!(r.origin, Origin::TrainedHere)
                && host.is_some()
                && r.node.as_deref() == host
                && r.backend.as_deref() == Some(backend)
        })
        .filter_map(|r| {
            let time = r.train_time_s.filter(|t| *t > 0.0)?;
            let ratio = r.estimate.as_ref().map(|e| model_seconds(&e.work, calibration)).filter(|m| *m > 0.0);
            let watts = r.energy_kwh.map(|e| e * 3.6e6 / time).filter(|w| w.is_finite() && *w > 0.0);
            let label = r.power_source.as_ref().map_or("unknown source".into(), |p| p.label());
            Some(Past {
                family: r.family.clone(),
                created_at: r.created_at,
                ratio: ratio.map(|m| time / m),
                watts: watts.map(|w| (w, label)),
            })
        })
        .collect();
    past.sort_by_key(|p| p.created_at);
    past
}

/// How sure an estimate with no run of this machine behind it is: a factor of 1 + this either way.
pub const CALIBRATION_ONLY_U: f64 = 1.0;
/// The narrowest range from one run of the family / from several. Set from what was seen on a
/// shared 2-core machine: the same run varies by a third from one try to the next.
const ONE_RUN_U: f64 = 0.35;
const FAMILY_U: f64 = 0.25;
/// The narrowest range from other families' runs.
const MACHINE_U: f64 = 0.5;
/// How many of the latest runs a correction uses.
const LATEST_FAMILY: usize = 3;
const LATEST_MACHINE: usize = 10;
const SPREAD_WINDOW: usize = 6;

/// A correction factor, its uncertainty (a factor of 1 + u either way) and what it rests on.
#[derive(Clone, Debug, PartialEq)]
pub struct Correction {
    pub factor: f64,
    pub u: f64,
    pub basis: String,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// The largest factor between a value and the centre, minus one.
fn spread(values: &[f64], centre: f64) -> f64 {
    values.iter().map(|v| (v / centre).max(centre / v) - 1.0).fold(0.0, f64::max)
}

/// A factor from a series (oldest first): median of the latest `latest`, range from the spread
/// of the latest `SPREAD_WINDOW` around it, at least `floor`.
fn from_series(series: &[f64], latest: usize, floor: f64) -> (f64, f64) {
    let mut last: Vec<f64> = series[series.len().saturating_sub(latest)..].to_vec();
    let factor = median(&mut last);
    let window = &series[series.len().saturating_sub(SPREAD_WINDOW)..];
    (factor, spread(window, factor).max(floor))
}

/// The time correction for a run of `family`: from its family's runs here, else from any runs
/// here, else none (the calibration alone).
pub fn time_correction(past: &[Past], family: Option<&str>) -> Correction {
    let of_family: Vec<f64> =
        past.iter().filter(|p| family.is_some() && p.family.as_deref() == family).filter_map(|p| p.ratio).collect();
    let all: Vec<f64> = past.iter().filter_map(|p| p.ratio).collect();
    if !of_family.is_empty() {
        let n = of_family.len();
        let floor = if n == 1 { ONE_RUN_U.max(spread_of(&all)) } else { FAMILY_U };
        let (factor, u) = from_series(&of_family, LATEST_FAMILY, floor);
        let basis = format!(
            "time x{factor:.2} from the last {} of {n} run{} of family {} on this machine (range from their spread{})",
            n.min(LATEST_FAMILY),
            if n == 1 { "" } else { "s" },
            family.unwrap_or_default(),
            if n == 1 { " and other families'" } else { "" }
        );
        return Correction { factor, u, basis };
    }
    if !all.is_empty() {
        let (factor, u) = from_series(&all, LATEST_MACHINE, MACHINE_U);
        let basis = format!(
            "time x{factor:.2} from {} earlier run{} of other families on this machine (none of family {} yet)",
            all.len(),
            if all.len() == 1 { "" } else { "s" },
            family.unwrap_or("?")
        );
        return Correction { factor, u, basis };
    }
    Correction {
        factor: 1.0,
        u: CALIBRATION_ONLY_U,
        basis: "time from the calibration alone: no run finished on this machine yet (wide range)".into(),
    }
}

fn spread_of(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let mut v = values.to_vec();
    let m = median(&mut v);
    spread(values, m)
}

/// The power a run is assumed to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Power {
    pub watts: f64,
    pub u: f64,
    pub basis: String,
}

/// Power from the family's runs here, else any runs here, else the calibration's reading (with
/// TDP x load, the TDP now in effect x the CPU share seen while calibrating).
pub fn power(past: &[Past], family: Option<&str>, calibration: &Calibration, tdp_w: Option<f64>) -> Option<Power> {
    let pick = |only_family: bool| -> Vec<(f64, String)> {
        past.iter()
            .filter(|p| !only_family || (family.is_some() && p.family.as_deref() == family))
            .filter_map(|p| p.watts.clone())
            .collect()
    };
    for (only_family, latest, floor) in [(true, LATEST_FAMILY, 0.08), (false, LATEST_MACHINE, 0.2)] {
        let found = pick(only_family);
        if let Some((_, label)) = found.last() {
            let series: Vec<f64> = found.iter().map(|(w, _)| *w).collect();
            let (watts, u) = from_series(&series, latest, floor);
            let whose = if only_family { format!("of family {}", family.unwrap_or_default()) } else { "here".into() };
            return Some(Power {
                watts,
                u,
                basis: format!(
                    "power {watts:.1} W: energy per training second of the last {} of {} runs {whose} ({label})",
                    series.len().min(latest),
                    series.len()
                ),
            });
        }
    }
    let label = calibration.power_label.clone().unwrap_or_default();
    let from_tdp = label.contains("TDP").then(|| Some(tdp_w? * calibration.cpu_share?)).flatten();
    let watts = from_tdp.or(calibration.power_w).filter(|w| w.is_finite() && *w > 0.0)?;
    Some(Power {
        watts,
        u: 0.3,
        basis: format!("power {watts:.1} W as seen while calibrating ({label}); no run with energy here yet"),
    })
}

/// The carbon figures an estimate is priced at.
#[derive(Clone, Debug, PartialEq)]
pub struct Carbon {
    pub g_per_kwh: f64,
    pub source: String,
    pub pue: f64,
}

/// Everything an estimate is made from.
pub struct Inputs<'a> {
    pub work: Workload,
    pub family: Option<&'a str>,
    pub calibration: &'a Calibration,
    /// "cached" or "measured now".
    pub calibration_how: &'a str,
    pub past: &'a [Past],
    pub tdp_w: Option<f64>,
    pub carbon: &'a Carbon,
}

fn per_sample_text(w: &Workload) -> String {
    let macs = w.macs().max(1) as f64;
    let mut shares: Vec<(Kind, u64)> = Kind::ALL
        .iter()
        .filter(|k| **k != Kind::Elementwise)
        .map(|k| (*k, w.amount(*k)))
        .filter(|(_, v)| *v > 0)
        .collect();
    shares.sort_by_key(|s| std::cmp::Reverse(s.1));
    let parts: Vec<String> =
        shares.iter().map(|(k, v)| format!("{} {:.0}%", k.name(), *v as f64 * 100.0 / macs)).collect();
    format!("{} forward per sample ({})", crate::format::si(w.macs() as f64, "MACs"), parts.join(", "))
}

/// The estimate.
pub fn estimate(inputs: Inputs<'_>) -> Estimate {
    let Inputs { work, family, calibration, calibration_how, past, tdp_w, carbon } = inputs;
    let base = model_seconds(&work, calibration);
    let correction = time_correction(past, family);
    let time = Range::spread(base * correction.factor, correction.u);
    let power = power(past, family, calibration, tdp_w);
    let energy = power.as_ref().map(|p| {
        let kwh = time.estimate * p.watts / 3.6e6;
        let u = (1.0 + correction.u) * (1.0 + p.u) - 1.0;
        Range::spread(kwh, u)
    });
    let co2 = energy.map(|e| e.scale(carbon.g_per_kwh * carbon.pue));
    let [c, h, wd] = work.input;
    let mut based_on = vec![
        format!(
            "analytic work: {} at {c}x{h}x{wd}; {} training + {} test samples x {} epoch{}, batch {}{}",
            per_sample_text(&work),
            work.train_samples,
            work.test_samples,
            work.epochs,
            if work.epochs == 1 { "" } else { "s" },
            work.batch_size,
            if work.frozen_backbone { ", backbone frozen" } else { "" }
        ),
        format!(
            "calibration ({calibration_how}, {}): {}; {:.1} ms fixed per step (anchored by a tiny real run)",
            calibration.measured_at,
            Kind::ALL
                .iter()
                .filter_map(|k| calibration.flops_per_s(*k).map(|f| format!(
                    "{} {}",
                    k.name(),
                    crate::format::si(f, "FLOP/s")
                )))
                .collect::<Vec<_>>()
                .join(", "),
            (calibration.step_s + calibration.loop_s + work.nodes as f64 * calibration.node_s) * 1e3
        ),
        correction.basis,
    ];
    match &power {
        Some(p) => based_on.push(p.basis.clone()),
        None => based_on.push("energy unknown: no power source on this machine (see `pepr doctor`)".into()),
    }
    if energy.is_some() {
        based_on.push(format!("CO2 at {} g/kWh ({}) x PUE {}", carbon.g_per_kwh, carbon.source, carbon.pue));
    }
    Estimate {
        train_time_s: time,
        energy_kwh: energy,
        co2_g: co2,
        power_w: power.map(|p| p.watts),
        carbon_intensity_g_per_kwh: carbon.g_per_kwh,
        pue: carbon.pue,
        based_on,
        calibration: format!("{} ({})", calibration.key, calibration.measured_at),
        work,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    pub(crate) fn calibration() -> Calibration {
        Calibration {
            key: "fake".into(),
            measured_at: "2026-01-01T00:00:00Z".into(),
            version: crate::estimate::calibration::VERSION,
            step_s: 1e-3,
            param_s: 0.0,
            node_s: 0.0,
            loop_s: 0.0,
            unit_s: Kind::ALL.iter().map(|k| (k.name().to_string(), 1e-9)).collect(),
            cpu_share: Some(0.5),
            power_w: Some(30.0),
            power_label: Some("estimated (TDP x load)".into()),
            seconds: 1.0,
        }
    }

    pub(crate) fn work(epochs: u32) -> Workload {
        Workload {
            epochs,
            batch_size: 10,
            train_samples: 1000,
            test_samples: 256,
            params: 0,
            work: [("convolution".to_string(), 1_000_000u64)].into_iter().collect::<BTreeMap<_, _>>(),
            head_macs: 0,
            nodes: 0,
            frozen_backbone: false,
            input: [1, 28, 28],
        }
    }

    fn past(family: &str, ratio: f64, watts: f64, day: u32) -> Past {
        Past {
            family: Some(family.into()),
            created_at: DateTime::parse_from_rfc3339(&format!("2026-01-{day:02}T00:00:00Z")).unwrap().into(),
            ratio: Some(ratio),
            watts: Some((watts, "estimated (TDP x load)".into())),
        }
    }

    #[test]
    fn the_time_model_adds_steps_samples_and_evaluation() {
        // Per epoch: 100 steps x 1 ms + 1000 x 1e6 x 1e-9 s + 1 eval step x 1/3 ms + 256 x 1e-3 / 3 s.
        let per_epoch = 0.1 + 1.0 + 1e-3 / 3.0 + 0.256 / 3.0;
        assert!((model_seconds(&work(2), &calibration()) - 2.0 * per_epoch).abs() < 1e-9);
        let mut frozen = work(1);
        frozen.frozen_backbone = true;
        assert!(model_seconds(&frozen, &calibration()) < model_seconds(&work(1), &calibration()) / 2.0);
    }

    #[test]
    fn corrections_come_from_the_family_then_the_machine_then_nothing() {
        let none = time_correction(&[], Some("resnet"));
        assert_eq!((none.factor, none.u), (1.0, CALIBRATION_ONLY_U));
        let machine = [past("vgg", 2.0, 20.0, 1), past("vgg", 2.2, 22.0, 2)];
        let c = time_correction(&machine, Some("resnet"));
        assert!((c.factor - 2.1).abs() < 1e-12 && c.u >= MACHINE_U && c.basis.contains("other families"), "{c:?}");
        // The next run of a family learns from the last ones of that family.
        let history = [past("vgg", 2.0, 20.0, 1), past("resnet", 1.5, 40.0, 2), past("resnet", 1.2, 30.0, 3)];
        let c = time_correction(&history, Some("resnet"));
        assert!((c.factor - 1.35).abs() < 1e-12, "{c:?}");
        assert_eq!(c.u, FAMILY_U, "the family's spread (12.5%) is under the floor: {c:?}");
        let wide = [past("resnet", 2.0, 40.0, 2), past("resnet", 1.0, 30.0, 3)];
        let c = time_correction(&wide, Some("resnet"));
        assert!((c.factor - 1.5).abs() < 1e-12 && (c.u - (1.5 / 1.0 - 1.0)).abs() < 1e-12, "{c:?}");
        let one = time_correction(&history[..2], Some("resnet"));
        assert_eq!(one.factor, 1.5);
        assert!(one.u >= ONE_RUN_U && one.basis.contains("1 run"), "{one:?}");
    }

    #[test]
    fn energy_is_time_times_power_and_co2_follows_the_carbon_settings() {
        let carbon = Carbon { g_per_kwh: 100.0, source: "test".into(), pue: 1.5 };
        let c = calibration();
        let history = [past("resnet", 2.0, 36.0, 1)];
        let e = estimate(Inputs {
            work: work(1),
            family: Some("resnet"),
            calibration: &c,
            calibration_how: "cached",
            past: &history,
            tdp_w: Some(80.0),
            carbon: &carbon,
        });
        let base = model_seconds(&work(1), &c);
        assert!((e.train_time_s.estimate - 2.0 * base).abs() < 1e-9);
        let kwh = e.energy_kwh.unwrap();
        assert!((kwh.estimate - 2.0 * base * 36.0 / 3.6e6).abs() < 1e-15);
        assert!(kwh.low < kwh.estimate && kwh.estimate < kwh.high);
        let co2 = e.co2_g.unwrap();
        assert!((co2.estimate - kwh.estimate * 150.0).abs() < 1e-12 && (co2.high - kwh.high * 150.0).abs() < 1e-12);
        assert_eq!(e.power_w, Some(36.0));
        assert!(e.based_on.iter().any(|l| l.contains("family resnet")), "{:?}", e.based_on);
        // No runs: TDP now x the CPU share while calibrating, wide range.
        let fresh = estimate(Inputs {
            work: work(1),
            family: Some("resnet"),
            calibration: &c,
            calibration_how: "cached",
            past: &[],
            tdp_w: Some(80.0),
            carbon: &carbon,
        });
        assert_eq!(fresh.power_w, Some(40.0));
        assert!((fresh.train_time_s.high / fresh.train_time_s.estimate - 2.0).abs() < 1e-12);
        // No power anywhere: no energy and no CO2, said so.
        let mut dark = c.clone();
        dark.power_w = None;
        dark.power_label = None;
        let e = estimate(Inputs {
            work: work(1),
            family: None,
            calibration: &dark,
            calibration_how: "cached",
            past: &[],
            tdp_w: None,
            carbon: &carbon,
        });
        assert_eq!((e.energy_kwh, e.co2_g), (None, None));
        assert!(e.based_on.iter().any(|l| l.contains("energy unknown")));
    }

    #[test]
    fn history_uses_only_this_hosts_completed_runs_on_the_backend() {
        let c = calibration();
        let mut mine = crate::results::record::sample("a", "g", 0.5, Some(0.001));
        mine.node = Some("here".into());
        mine.backend = Some("flex (CPU)".into());
        mine.train_time_s = Some(2.0 * model_seconds(&work(1), &c));
        mine.estimate = Some(estimate(Inputs {
            work: work(1),
            family: None,
            calibration: &c,
            calibration_how: "cached",
            past: &[],
            tdp_w: None,
            carbon: &Carbon { g_per_kwh: 1.0, source: "t".into(), pue: 1.0 },
        }));
        let mut elsewhere = mine.clone();
        elsewhere.node = Some("there".into());
        let mut failed = mine.clone();
        failed.status = RunStatus::Failed;
        let mut gpu = mine.clone();
        gpu.backend = Some("cuda".into());
        let past = history(&[mine, elsewhere, failed, gpu], Some("here"), "flex (CPU)", &c);
        assert_eq!(past.len(), 1);
        assert!((past[0].ratio.unwrap() - 2.0).abs() < 1e-12);
        assert!(history(&[], None, "flex (CPU)", &c).is_empty());
    }
}
