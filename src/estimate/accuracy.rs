//! How good the estimates were: each run stores the estimate made when it started beside what was
//! measured; this compares them over the runs of this machine, per family.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::results::record::{Origin, RunRecord, RunStatus};

/// Relative errors of one group of runs: (estimate - measured) / measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Errors {
    pub runs: usize,
    /// Median of the absolute relative errors.
    pub median: f64,
    /// The relative error of largest magnitude, with its sign (+: the estimate was too high).
    pub worst: f64,
    /// Runs whose measured figure fell inside the stated low-high range.
    pub in_range: usize,
}

/// One family's (or all runs') figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The family, or "all" for every run.
    pub family: String,
    pub time: Option<Errors>,
    pub energy: Option<Errors>,
}

fn errors(pairs: &[(f64, f64, bool)]) -> Option<Errors> {
    if pairs.is_empty() {
        return None;
    }
    let rel: Vec<f64> = pairs.iter().map(|(est, measured, _)| (est - measured) / measured).collect();
    let mut abs: Vec<f64> = rel.iter().map(|e| e.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let n = abs.len();
    let median = if n % 2 == 1 { abs[n / 2] } else { (abs[n / 2 - 1] + abs[n / 2]) / 2.0 };
    let worst = rel.iter().copied().fold(0.0, |w: f64, e| if e.abs() > w.abs() { e } else { w });
    Some(Errors { runs: n, median, worst, in_range: pairs.iter().filter(|p| p.2).count() })
}

/// Per family (alphabetically), then "all": completed runs trained on `host` that stored an estimate.
pub fn accuracy(records: &[RunRecord], host: Option<&str>) -> Vec<Row> {
    let mut time: BTreeMap<String, Vec<(f64, f64, bool)>> = BTreeMap::new();
    let mut energy: BTreeMap<String, Vec<(f64, f64, bool)>> = BTreeMap::new();
    for r in records {
        if r.status != RunStatus::Completed
            || !matches!(r.origin, Origin::TrainedHere)
            || host.is_none()
            || r.node.as_deref() != host
        {
            continue;
        }
        let Some(estimate) = &r.estimate else { continue };
        let family = r.family.clone().unwrap_or_else(|| r.arch.clone());
        for key in [family, "all".to_string()] {
            if let Some(t) = r.train_time_s.filter(|t| *t > 0.0) {
                let e = estimate.train_time_s;
                time.entry(key.clone()).or_default().push((e.estimate, t, e.contains(t)));
            }
            if let (Some(kwh), Some(e)) = (r.energy_kwh.filter(|e| *e > 0.0), estimate.energy_kwh) {
                energy.entry(key).or_default().push((e.estimate, kwh, e.contains(kwh)));
            }
        }
    }
    let mut families: Vec<String> = time.keys().chain(energy.keys()).filter(|k| *k != "all").cloned().collect();
    families.sort();
    families.dedup();
    if time.contains_key("all") || energy.contains_key("all") {
        families.push("all".into());
    }
    families
        .into_iter()
        .map(|family| Row {
            time: time.get(&family).and_then(|p| errors(p)),
            energy: energy.get(&family).and_then(|p| errors(p)),
            family,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::model::{Range, tests::work};

    fn run(id: &str, family: &str, est_time: f64, time: f64, est_kwh: f64, kwh: f64) -> RunRecord {
        let mut r = crate::results::record::sample(id, "g", 0.5, Some(kwh));
        r.family = Some(family.into());
        r.node = Some("here".into());
        r.train_time_s = Some(time);
        r.estimate = Some(crate::estimate::Estimate {
            train_time_s: Range::spread(est_time, 0.2),
            energy_kwh: Some(Range::spread(est_kwh, 0.2)),
            co2_g: None,
            power_w: None,
            carbon_intensity_g_per_kwh: 0.0,
            pue: 1.0,
            based_on: vec![],
            calibration: String::new(),
            work: work(1),
        });
        r
    }

    #[test]
    fn median_and_worst_relative_errors_per_family_and_overall() {
        let mut records = vec![
            run("a", "resnet", 110.0, 100.0, 1.0, 1.0),
            run("b", "resnet", 70.0, 100.0, 1.0, 2.0),
            run("c", "resnet", 100.0, 100.0, 1.0, 1.0),
            run("d", "lenet", 10.0, 8.0, 3.0, 1.0),
        ];
        let mut elsewhere = run("e", "lenet", 1.0, 100.0, 1.0, 100.0);
        elsewhere.node = Some("there".into());
        records.push(elsewhere);
        let mut without = run("f", "lenet", 1.0, 100.0, 1.0, 100.0);
        without.estimate = None;
        records.push(without);
        let rows = accuracy(&records, Some("here"));
        let names: Vec<&str> = rows.iter().map(|r| r.family.as_str()).collect();
        assert_eq!(names, ["lenet", "resnet", "all"]);
        let resnet = rows[1].time.as_ref().unwrap();
        assert_eq!((resnet.runs, resnet.in_range), (3, 2));
        assert!((resnet.median - 0.1).abs() < 1e-12 && (resnet.worst + 0.3).abs() < 1e-12, "{resnet:?}");
        let energy = rows[1].energy.as_ref().unwrap();
        assert!((energy.worst + 0.5).abs() < 1e-12, "{energy:?}");
        let all = rows[2].time.as_ref().unwrap();
        assert_eq!(all.runs, 4);
        assert!((all.median - 0.175).abs() < 1e-12, "{all:?}");
        assert!(accuracy(&records, None).is_empty());
    }
}
