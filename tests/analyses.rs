//! The paper's analyses on its own published runs (assets/paper/all_results.csv, saintslab/PePR,
//! MIT). Every figure pepr computes is recomputed here from the raw CSV with plain arithmetic,
//! independently of pepr's importer, ranking and analysis code; then a few facts the paper states
//! are checked on top.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::Utc;
use pepr::results::analysis::{Analyses, analyze};
use pepr::results::import::read_file;
use pepr::results::rank::Variant;

use crate::common::paper as paper_data;
use crate::common::pepr;

fn paper_csv() -> PathBuf {
    paper_data::csv_path()
}

/// One published run: (P = test_09, energy kWh, params, efficient).
#[derive(Clone, Copy)]
struct Raw {
    p: f64,
    energy: f64,
    params: f64,
    efficient: bool,
}

/// group -> model -> run, read straight from the CSV.
fn raw() -> HashMap<String, HashMap<String, Raw>> {
    let mut reader = csv::Reader::from_path(paper_csv()).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (model, group, p, energy, params, efficient) =
        (col("model"), col("dataset"), col("test_09"), col("energy"), col("num_param"), col("efficient"));
    let mut groups: HashMap<String, HashMap<String, Raw>> = HashMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let num = |i: usize| -> f64 { row[i].parse().unwrap() };
        let run = Raw { p: num(p), energy: num(energy), params: num(params), efficient: &row[efficient] == "1" };
        groups.entry(row[group].to_string()).or_default().insert(row[model].to_string(), run);
    }
    groups
}

/// make_pepr_data.py's PePR-E within one group.
fn pepr_e(group: &HashMap<String, Raw>) -> HashMap<String, f64> {
    let lo = group.values().map(|r| r.energy).fold(f64::INFINITY, f64::min);
    let hi = group.values().map(|r| r.energy).fold(f64::NEG_INFINITY, f64::max);
    group.iter().map(|(m, r)| (m.clone(), r.p / (1.0 + (r.energy - lo) / (hi - lo)))).collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= 1e-12 * b.abs().max(1.0))
}

fn paper_analyses() -> Analyses {
    let (_, records) = read_file(&paper_csv(), Utc::now()).unwrap();
    analyze(&records).unwrap()
}

#[test]
fn pretrained_vs_scratch_on_derma_matches_the_csv() {
    let analyses = paper_analyses();
    // The paper has one pretrained group, derma_pt, and its scratch counterpart is derma (same
    // dataset, whole training split); derma_small and derma_smallest differ in fraction.
    assert_eq!(analyses.paired.len(), 1);
    let paired = &analyses.paired[0];
    assert_eq!((paired.pair.scratch.as_str(), paired.pair.pretrained.as_str()), ("derma", "derma_pt"));
    assert_eq!(paired.pair.fraction, Some(1.0));

    let groups = raw();
    let (scratch, pretrained) = (&groups["derma"], &groups["derma_pt"]);
    let models: Vec<&String> = scratch.keys().filter(|m| pretrained.contains_key(*m)).collect();
    assert_eq!(models.len(), 131);
    assert_eq!(paired.rows.len(), 131);
    for row in &paired.rows {
        let (s, p) = (scratch[&row.arch], pretrained[&row.arch]);
        assert!(close(Some(row.dp()), p.p - s.p), "{}", row.arch);
        assert!(close(row.dr(Variant::Energy), p.energy - s.energy), "{}", row.arch);
        assert!(close(row.r_ratio(Variant::Energy), p.energy / s.energy), "{}", row.arch);
        assert_eq!(row.runs, (1, 1));
    }
    let dp: Vec<f64> = models.iter().map(|m| pretrained[*m].p - scratch[*m].p).collect();
    let de: Vec<f64> = models.iter().map(|m| pretrained[*m].energy - scratch[*m].energy).collect();
    let s = paired.summary(Variant::Energy);
    assert_eq!(s.archs, 131);
    assert!(close(s.mean_dp, dp.iter().sum::<f64>() / 131.0));
    assert!(close(s.median_dp, median(dp.clone())));
    assert!(close(s.mean_dr, de.iter().sum::<f64>() / 131.0));
    assert!(close(s.median_dr, median(de.clone())));
    assert_eq!(s.p_wins, dp.iter().filter(|d| **d > 0.0).count());
    assert_eq!(s.r_wins, de.iter().filter(|d| **d < 0.0).count());
    assert_eq!(s.with_resource, 131);

    // The paper (Fig. 5a, paper_plots.py: t-test, "p<0.001"): pretrained models reach higher test
    // performance on Derma. Here: a clear majority of the 131 architectures, and a positive mean.
    assert!(s.p_wins * 3 > 131 * 2, "pretrained wins on P for only {} of 131", s.p_wins);
    assert!(s.mean_dp.unwrap() > 0.05);
}

#[test]
fn p_and_pepr_against_data_fraction_match_the_csv() {
    let analyses = paper_analyses();
    let labels: Vec<String> = analyses.families.iter().map(|f| f.label()).collect();
    assert_eq!(
        labels,
        ["dermamnist from scratch", "lidc-idri from scratch", "pneumoniamnist from scratch"],
        "derma_pt alone is no family"
    );
    let groups = raw();
    for family in &analyses.families {
        let levels: Vec<(&str, Option<f64>)> = family.levels.iter().map(|l| (l.group.as_str(), l.fraction)).collect();
        let base = &family.levels[0].group;
        let mut expected = vec![(base.as_str(), Some(1.0))];
        let small = format!("{base}_small");
        expected.push((small.as_str(), Some(0.1)));
        // derma_smallest: the paper's code does not state its share, so it is unknown and last.
        let smallest = format!("{base}_smallest");
        if groups.contains_key(&smallest) {
            expected.push((smallest.as_str(), None));
        }
        assert_eq!(levels, expected);

        let summary = family.summary(Variant::Energy);
        for (level, s) in family.levels.iter().zip(&summary) {
            let group = &groups[&level.group];
            assert_eq!(s.archs, 131, "every model ran at every level");
            assert!(close(s.median_p, median(group.values().map(|r| r.p).collect())), "{}", level.group);
            assert!(close(s.median_score, median(pepr_e(group).into_values().collect())), "{}", level.group);
        }
        // The paper (Fig. 5b): training on 10% of the data lowers test performance.
        let p: Vec<f64> = summary.iter().map(|s| s.median_p.unwrap()).collect();
        assert!(p.windows(2).all(|w| w[0] > w[1]), "{}: median P does not fall with less data: {p:?}", family.label());
    }
}

/// Spearman's rho computed the textbook way: rank = (number below) + (number equal + 1) / 2.
fn spearman(xs: &[f64], ys: &[f64]) -> f64 {
    let ranks = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .map(|x| {
                let below = v.iter().filter(|y| *y < x).count() as f64;
                let equal = v.iter().filter(|y| *y == x).count() as f64;
                below + (equal + 1.0) / 2.0
            })
            .collect()
    };
    let (rx, ry) = (ranks(xs), ranks(ys));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sx: f64 = rx.iter().map(|a| (a - mx) * (a - mx)).sum::<f64>().sqrt();
    let sy: f64 = ry.iter().map(|b| (b - my) * (b - my)).sum::<f64>().sqrt();
    cov / (sx * sy)
}

#[test]
fn pepr_against_parameters_matches_the_csv() {
    let analyses = paper_analyses();
    assert_eq!(analyses.params.len(), 9, "eight groups, then all of them averaged");
    let groups = raw();
    for group in &analyses.params[..8] {
        let runs = &groups[&group.group];
        let scores = pepr_e(runs);
        assert_eq!(group.points.len(), 131);
        let s = group.summary(Variant::Energy);
        let efficient: Vec<f64> = runs.iter().filter(|(_, r)| r.efficient).map(|(m, _)| scores[m]).collect();
        let other: Vec<f64> = runs.iter().filter(|(_, r)| !r.efficient).map(|(m, _)| scores[m]).collect();
        assert_eq!((s.efficient, s.other), (efficient.len(), other.len()));
        assert!(close(s.median_efficient, median(efficient.clone())), "{}", group.group);
        assert!(close(s.median_other, median(other.clone())), "{}", group.group);
        let models: Vec<&String> = runs.keys().collect();
        let xs: Vec<f64> = models.iter().map(|m| runs[*m].params.log10()).collect();
        let ys: Vec<f64> = models.iter().map(|m| scores[*m]).collect();
        let rho = spearman(&xs, &ys);
        assert!((s.spearman.unwrap() - rho).abs() < 1e-9, "{}: {:?} vs {rho}", group.group, s.spearman);
        // The paper's case for small, efficient models (Fig. 5d marks them): on every one of its
        // eight groups, the efficient architectures' median PePR-E is above the others'.
        assert!(s.median_efficient > s.median_other, "{}", group.group);
    }
}

fn imported_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let output = pepr(home.path(), &["import", "--paper"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    home
}

#[test]
fn params_averaged_over_all_groups_like_the_papers_figure() {
    // paper_plots.py, Fig. 5c/d: tmp = allDf.groupby('model').mean(); scatter of tmp.pepr_e against
    // log10(tmp.num_param), hue = efficient.
    let analyses = paper_analyses();
    let all = analyses.params.last().unwrap();
    assert_eq!(all.group, "all groups");
    assert_eq!(all.points.len(), 131);
    let groups = raw();
    let scores: Vec<HashMap<String, f64>> = groups.values().map(pepr_e).collect();
    // The mean over the eight groups of a per-group value (k indexes `scores`, built in the same order).
    let mean = |value: &dyn Fn(&HashMap<String, Raw>, usize) -> f64| -> f64 {
        groups.values().enumerate().map(|(k, g)| value(g, k)).sum::<f64>() / 8.0
    };
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for point in &all.points {
        let m = point.arch.as_str();
        let want_p = mean(&|g, _| g[m].p);
        let want_e = mean(&|_, k| scores[k][m]);
        assert!((point.performance - want_p).abs() < 1e-12, "{m}");
        assert!((point.score[0].unwrap() - want_e).abs() < 1e-12, "{m}");
        xs.push((point.params as f64).log10());
        ys.push(want_e);
    }
    let s = all.summary(Variant::Energy);
    assert!((s.spearman.unwrap() - spearman(&xs, &ys)).abs() < 1e-9);
    assert!(s.median_efficient > s.median_other);
}

#[test]
fn pepr_analyze_through_the_binary() {
    let home = imported_home();
    let groups = raw();

    // pretrained, CSV: one row per architecture, the same differences as the CSV gives.
    let output = pepr(home.path(), &["analyze", "pretrained", "--format", "csv"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert!(headers.iter().any(|h| h == "d_energy_kwh"), "{headers:?}");
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 131);
    for row in &rows {
        let arch = &row[col("arch")];
        let want = groups["derma_pt"][arch].p - groups["derma"][arch].p;
        let got: f64 = row[col("dP")].parse().unwrap();
        assert!((got - want).abs() < 1e-12, "{arch}");
    }

    // The table says what it compares and how many won.
    let output = pepr(home.path(), &["analyze", "pretrained", "--variant", "pepr-t"]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("derma (scratch) vs derma_pt (pretrained: ImageNet (timm)) on dermamnist, 100%"), "{text}");
    assert!(text.contains("R = training time (s)"), "{text}");
    let wins = groups["derma"].iter().filter(|(m, r)| groups["derma_pt"][*m].p > r.p).count();
    assert!(text.contains(&format!("pretrained reached higher P: {wins}/131")), "{text}");

    // fraction, JSON, one dataset.
    let output = pepr(home.path(), &["analyze", "fraction", "--dataset", "dermamnist", "--format", "json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let families = value.as_array().unwrap();
    assert_eq!(families.len(), 1);
    let levels = families[0]["levels"].as_array().unwrap();
    let groups_and_fractions: Vec<(String, serde_json::Value)> =
        levels.iter().map(|l| (l["group"].as_str().unwrap().to_string(), l["fraction"].clone())).collect();
    assert_eq!(
        groups_and_fractions,
        [
            ("derma".to_string(), serde_json::json!(1.0)),
            ("derma_small".to_string(), serde_json::json!(0.1)),
            ("derma_smallest".to_string(), serde_json::Value::Null)
        ]
    );

    // params, table, one group.
    let output = pepr(home.path(), &["analyze", "params", "--dataset", "derma_pt"]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("== derma_pt (dermamnist) ==\n131 architectures; median PePR-E: efficient"), "{text}");

    // An unknown dataset is an error naming what exists.
    let output = pepr(home.path(), &["analyze", "params", "--dataset", "nope"]);
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.contains("\"nope\"") && err.contains("derma_small"), "{err}");
    let output = pepr(home.path(), &["analyze", "sideways"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn pepr_analyze_on_an_empty_store() {
    let home = tempfile::tempdir().unwrap();
    let output = pepr(home.path(), &["analyze", "pretrained"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8(output.stdout).unwrap().starts_with("no pair of a scratch and a pretrained group"));
    let output = pepr(home.path(), &["analyze", "params", "--format", "json"]);
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "[]\n");
}

/// Runs of one's own, as a generic CSV written here: two architectures, three seeds per cell, a
/// scratch group, a group fine-tuned from an earlier run and a 25% group, plus an interrupted run.
#[test]
fn own_runs_with_seeds_are_averaged_per_cell_through_the_binary() {
    let home = tempfile::tempdir().unwrap();
    let mut csv =
        String::from("arch,group,dataset,pretrained,data_fraction,seed,P,energy_kwh,params,efficient,status\n");
    // P and energy per (group, arch); seeds add -0.01, 0, +0.01 to P and 0, 1, 2 Wh to energy.
    let cells = [
        ("syn", "", "1", "a", 0.70, 0.010),
        ("syn", "", "1", "b", 0.60, 0.020),
        ("syn_pt", "run:abc", "1", "a", 0.80, 0.008),
        ("syn_pt", "run:abc", "1", "b", 0.55, 0.030),
        ("syn_f0.25", "", "0.25", "a", 0.50, 0.003),
        ("syn_f0.25", "", "0.25", "b", 0.45, 0.004),
    ];
    for (group, pretrained, fraction, arch, p, energy) in cells {
        for seed in 0..3 {
            let (p, e) = (p + 0.01 * (seed as f64 - 1.0), energy + 0.001 * seed as f64);
            let params = if arch == "a" { 100_000 } else { 2_000_000 };
            let efficient = arch == "a";
            csv.push_str(&format!(
                "{arch},{group},synthetic,{pretrained},{fraction},{seed},{p},{e},{params},{efficient},completed\n"
            ));
        }
    }
    // Interrupted: left out of every analysis however good it looks.
    csv.push_str("a,syn_pt,synthetic,run:abc,1,9,0.99,0.0001,100000,true,interrupted\n");
    let file = home.path().join("own.csv");
    std::fs::write(&file, csv).unwrap();
    let output = pepr(home.path(), &["import", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let output = pepr(home.path(), &["analyze", "pretrained", "--format", "json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let pair = &value[0];
    assert_eq!((pair["scratch_group"].as_str(), pair["pretrained_group"].as_str()), (Some("syn"), Some("syn_pt")));
    assert_eq!(pair["source"], "run:abc");
    let rows = pair["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    // Seed means: P 0.70 / 0.80 for a (the interrupted 0.99 is not counted), energy +1 Wh each.
    assert_eq!(
        (rows[0]["arch"].as_str(), rows[0]["runs_scratch"].as_u64(), rows[0]["runs_pretrained"].as_u64()),
        (Some("a"), Some(3), Some(3))
    );
    assert!((num(&rows[0]["dP"]) - 0.10).abs() < 1e-12);
    assert!((num(&rows[0]["R_ratio"]) - 0.009 / 0.011).abs() < 1e-12);
    assert!((num(&rows[1]["dP"]) + 0.05).abs() < 1e-12);
    let summary = &pair["summary"];
    assert_eq!(
        (summary["pretrained_higher_P"].as_u64(), summary["pretrained_less_resource"].as_u64()),
        (Some(1), Some(1))
    );
    assert!((num(&summary["mean_dP"]) - 0.025).abs() < 1e-12);

    // The fraction family: syn (100%) then syn_f0.25 (25%), medians of the seed means.
    let output = pepr(home.path(), &["analyze", "fraction", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value.as_array().unwrap().len(), 1, "syn_pt alone is no family");
    let levels = value[0]["levels"].as_array().unwrap();
    assert_eq!(levels[0]["group"], "syn");
    assert_eq!(levels[1]["fraction"], 0.25);
    assert!((num(&levels[0]["median_P"]) - 0.65).abs() < 1e-12);
    assert!((num(&levels[1]["median_P"]) - 0.475).abs() < 1e-12);

    // Params: a is efficient and small, b not.
    let output = pepr(home.path(), &["analyze", "params", "--dataset", "syn", "--format", "csv"]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    let fields: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(fields[..6], ["syn", "synthetic", "a", "100000", "5", "true"], "{text}");
    assert!((fields[6].parse::<f64>().unwrap() - 0.7).abs() < 1e-12, "{text}");
}
