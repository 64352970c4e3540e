//! The paper's own published results (assets/paper/all_results.csv, saintslab/PePR, MIT):
//! every PePR score pepr computes must equal what the paper's make_pepr_data.py computes.
//! The expected scores are recomputed here from the raw CSV with plain arithmetic, independently
//! of pepr's importer and polars engine.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::Utc;
use pepr::results::import::{Layout, read_file};
use pepr::results::rank::{SetBy, Variant, rank};

use crate::common::paper as paper_data;

fn paper_csv() -> PathBuf {
    paper_data::csv_path()
}

/// make_pepr_data.py: per `dataset` group, X_n = (X - min) / (max - min) and pepr = test_09 / (1 + X_n)
/// for X in energy, co2, train_time, memR.
fn expected_scores() -> HashMap<(String, String), [f64; 4]> {
    let mut reader = csv::Reader::from_path(paper_csv()).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (model, group, p) = (col("model"), col("dataset"), col("test_09"));
    let resources = [col("energy"), col("co2"), col("train_time"), col("memR")];
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let num = |row: &csv::StringRecord, i: usize| -> f64 { row[i].parse().unwrap() };

    let mut by_group: HashMap<String, Vec<&csv::StringRecord>> = HashMap::new();
    for row in &rows {
        by_group.entry(row[group].to_string()).or_default().push(row);
    }
    let mut expected = HashMap::new();
    for (name, members) in &by_group {
        let bounds: Vec<(f64, f64)> = resources
            .iter()
            .map(|&r| {
                let values = members.iter().map(|row| num(row, r));
                (values.clone().fold(f64::INFINITY, f64::min), values.fold(f64::NEG_INFINITY, f64::max))
            })
            .collect();
        for row in members {
            let scores: [f64; 4] = std::array::from_fn(|k| {
                let (lo, hi) = bounds[k];
                num(row, p) / (1.0 + (num(row, resources[k]) - lo) / (hi - lo))
            });
            expected.insert((row[model].to_string(), name.clone()), scores);
        }
    }
    expected
}

#[test]
fn every_score_of_all_eight_groups_matches_the_papers_formula() {
    let (layout, records) = read_file(&paper_csv(), Utc::now()).unwrap();
    assert_eq!(layout, Layout::Paper);
    assert_eq!(records.len(), 1048);
    let ranking = rank(&records, SetBy::Group).unwrap();
    assert_eq!(ranking.sets.len(), 8);
    assert!(ranking.sets.iter().all(|s| s.runs == 131));

    let expected = expected_scores();
    assert_eq!(expected.len(), 1048);
    let mut compared = 0;
    for run in &ranking.runs {
        let record = &records[run.index];
        let want = expected[&(record.arch.clone(), record.group.clone())];
        for v in Variant::ALL {
            let got =
                run.score[v.index()].unwrap_or_else(|| panic!("{} {} has no {:?} score", record.arch, record.group, v));
            assert!(
                (got - want[v.index()]).abs() <= 1e-12,
                "{} in {}: PePR-{} = {got}, the paper's formula gives {}",
                record.arch,
                record.group,
                v.letter(),
                want[v.index()]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 1048 * 4);
}

/// Values from the paper's own output, data/full_data_pepr_dataset_level.csv in saintslab/PePR
/// (commit ce087aa), written by make_pepr_data.py: model, group, pepr_e, pepr_c, pepr_t, pepr_m.
const PUBLISHED: &[(&str, &str, [f64; 4])] = &[
    ("hardcorenas_a", "derma_pt", [0.5826215642247453, 0.5845780543759487, 0.5849780307031882, 0.5795501466398698]),
    ("fbnetv3_b", "derma_pt", [0.5726591830313085, 0.579411116002691, 0.5734389668143913, 0.5410697851766717]),
];

#[test]
fn spot_values_equal_the_papers_published_output() {
    let (_, records) = read_file(&paper_csv(), Utc::now()).unwrap();
    let ranking = rank(&records, SetBy::Group).unwrap();
    for (arch, group, want) in PUBLISHED {
        let run =
            ranking.runs.iter().find(|r| records[r.index].arch == *arch && records[r.index].group == *group).unwrap();
        for v in Variant::ALL {
            let got = run.score[v.index()].unwrap();
            assert!(
                (got - want[v.index()]).abs() < 1e-12,
                "{arch} {group} PePR-{}: {got} vs published {}",
                v.letter(),
                want[v.index()]
            );
        }
    }
}

#[test]
fn pareto_front_of_every_group_is_non_dominated_and_complete() {
    let (_, records) = read_file(&paper_csv(), Utc::now()).unwrap();
    let ranking = rank(&records, SetBy::Group).unwrap();
    for v in Variant::ALL {
        for run in &ranking.runs {
            let me = &records[run.index];
            let (p, r) = (me.performance, v.resource(me).unwrap());
            let dominated = ranking.runs.iter().filter(|o| o.set == run.set).any(|o| {
                let other = &records[o.index];
                let (op, or) = (other.performance, v.resource(other).unwrap());
                op >= p && or <= r && (op > p || or < r)
            });
            assert_eq!(run.pareto[v.index()], !dominated, "{} {} PePR-{}", me.arch, me.group, v.letter());
        }
    }
    let fronts = ranking.runs.iter().filter(|r| r.pareto[0]).count();
    assert!(fronts >= 8, "each group has at least one front member");
}

/// carbontracker fetched a live intensity for each run (Denmark's grid varies hour by hour), so the
/// intensity each paper run implies (co2 / energy) differs within every group: PePR-C is an ordering
/// of its own there, and the leaderboard must not say it repeats PePR-E.
#[test]
fn paper_groups_have_varying_intensity_so_pepr_c_is_not_pepr_e() {
    let (_, records) = read_file(&paper_csv(), Utc::now()).unwrap();
    let ranking = rank(&records, SetBy::Group).unwrap();
    assert_eq!(ranking.co2_mirrors_energy, vec![false; 8]);
    for (set, summary) in ranking.sets.iter().enumerate() {
        let implied: Vec<f64> = ranking
            .runs
            .iter()
            .filter(|r| r.set == set)
            .filter_map(|r| records[r.index].carbon_intensity_g_per_kwh)
            .collect();
        let lo = implied.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = implied.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(implied.len(), 131, "{}", summary.name);
        assert!(hi > 1.5 * lo, "{}: implied intensity {lo:.1}..{hi:.1} g/kWh", summary.name);
        // And the orderings do differ somewhere in each group.
        let differs = ranking.runs.iter().filter(|r| r.set == set).any(|r| r.rank[0] != r.rank[1]);
        assert!(differs, "{}", summary.name);
    }
}
