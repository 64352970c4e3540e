//! Estimates before training, budgets and the carbon what-if, on the real binary: an estimate
//! against a real short run on the built-in synthetic set, budget filtering on the paper's
//! published results (the repository's copy, assets/paper/all_results.csv), and a what-if that leaves the store
//! byte-identical.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[path = "common/paper.rs"]
mod paper;

fn pepr(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pepr"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("PEPR_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn paper_csv() -> PathBuf {
    paper::csv_path()
}

fn range(value: &serde_json::Value) -> (f64, f64, f64) {
    let f = |k: &str| value[k].as_f64().unwrap_or_else(|| panic!("{k} in {value}"));
    (f("estimate"), f("low"), f("high"))
}

/// The timing test runs alone in this file, so the file's other tests do not load the CPU it times.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn an_estimate_holds_a_real_short_run_and_the_run_stores_it() {
    let _alone = alone();
    let home = tempfile::tempdir().unwrap();
    let settings = ["--arch", "pepr_lenet5", "--dataset", "synthetic", "--epochs", "1", "--cpu-tdp", "50"];
    let mut args = vec!["estimate"];
    args.extend(settings);
    args.extend(["--format", "json"]);
    let estimate: serde_json::Value = serde_json::from_str(&ok(&pepr(home.path(), &args))).unwrap();
    for key in ["train_time_s", "energy_kwh", "co2_g"] {
        let (e, low, high) = range(&estimate[key]);
        assert!(low > 0.0 && low <= e && e <= high, "{key}: {estimate}");
    }
    let run = &estimate["runs"][0];
    assert_eq!((run["train_samples"].as_u64(), run["test_samples"].as_u64()), (Some(2000), Some(600)));
    assert!(run["based_on"].as_array().unwrap().iter().any(|l| l.as_str().unwrap().contains("calibration")));
    assert!(home.path().join("estimate_calibration.json").exists(), "the calibration is cached in the home");

    let mut args = vec!["train"];
    args.extend(settings);
    args.push("--json");
    let record: serde_json::Value = serde_json::from_str(&ok(&pepr(home.path(), &args))).unwrap();
    let measured = record["train_time_s"].as_f64().unwrap();
    let stored = &record["estimate"];
    let (_, low, high) = range(&stored["train_time_s"]);
    assert!(low <= measured && measured <= high, "measured {measured} s outside the stated {low}-{high} s");
    let (_, elow, ehigh) = range(&stored["energy_kwh"]);
    let energy = record["energy_kwh"].as_f64().unwrap();
    assert!(elow <= energy && energy <= ehigh, "measured {energy} kWh outside the stated {elow}-{ehigh} kWh");

    // The next estimate of the family learns from that run; the accuracy report has it.
    let mut args = vec!["estimate"];
    args.extend(settings);
    let table = ok(&pepr(home.path(), &args));
    assert!(table.contains("family lenet") && table.contains("estimated, not measured"), "{table}");
    // Planned runs against a budget, by their estimate.
    args.extend(["--max-time", "100000", "--format", "json"]);
    let planned: serde_json::Value = serde_json::from_str(&ok(&pepr(home.path(), &args))).unwrap();
    assert_eq!(planned["runs"][0]["budget"], "fits", "{planned}");
    let n = args.len();
    args[n - 3] = "0.000001";
    let planned: serde_json::Value = serde_json::from_str(&ok(&pepr(home.path(), &args))).unwrap();
    assert_eq!(planned["runs"][0]["budget"], "over", "{planned}");
    let report: serde_json::Value =
        serde_json::from_str(&ok(&pepr(home.path(), &["estimate", "--accuracy", "--format", "json"]))).unwrap();
    let families = report["families"].as_array().unwrap();
    assert_eq!(families.last().unwrap()["family"], "all", "{report}");
    assert_eq!(families.last().unwrap()["time"]["runs"], 1, "{report}");
}

#[test]
fn estimate_errors_name_the_problem() {
    let _alone = alone();
    let home = tempfile::tempdir().unwrap();
    let out = pepr(home.path(), &["estimate", "--arch", "nope", "--dataset", "synthetic"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("nope"));
    let out = pepr(home.path(), &["estimate", "--arch", "pepr_lenet5", "--dataset", "nowhere"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("nowhere"));
    let out = pepr(home.path(), &["estimate", "--accuracy"]);
    assert!(ok(&out).contains("no run trained on this machine"));
}

#[test]
fn budgets_keep_exactly_the_paper_runs_within_them() {
    let _alone = alone();
    let home = tempfile::tempdir().unwrap();
    let csv = paper_csv();
    ok(&pepr(home.path(), &["import", csv.to_str().unwrap()]));
    // Counted independently from the raw CSV: energy <= 0.05 kWh and test_09 >= 0.7.
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (energy, p, time) = (col("energy"), col("test_09"), col("train_time"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let num = |row: &csv::StringRecord, i: usize| -> f64 { row[i].parse().unwrap() };
    let expected = rows.iter().filter(|r| num(r, energy) <= 0.05 && num(r, p) >= 0.7).count();
    assert!(expected > 0 && expected < rows.len(), "{expected}: the budget must cut");

    let args = ["rank", "--max-energy", "0.05", "--min-p", "0.7", "--format", "json"];
    let out = pepr(home.path(), &args);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(listed.len(), expected);
    for row in &listed {
        assert!(row["energy_kwh"].as_f64().unwrap() <= 0.05 && row["P"].as_f64().unwrap() >= 0.7, "{row}");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{expected} of {} runs fit", rows.len())));
    // The best run within the budget leads each set; scores are those of the full ranking.
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&pepr(home.path(), &["rank", "--format", "json"]))).unwrap();
    let first = &listed[0];
    let same = all.iter().find(|r| r["id"] == first["id"]).unwrap();
    assert_eq!(same["pepr_e"], first["pepr_e"]);

    let max_time = 100.0;
    let expected = rows.iter().filter(|r| num(r, time) <= max_time).count();
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&pepr(home.path(), &["rank", "--max-time", "100", "--format", "json"]))).unwrap();
    assert_eq!(listed.len(), expected);
    let out = pepr(home.path(), &["rank", "--min-p", "2"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--min-p"));
}

#[test]
fn a_carbon_what_if_rescores_but_never_writes_the_store() {
    let _alone = alone();
    let home = tempfile::tempdir().unwrap();
    ok(&pepr(home.path(), &["import", paper_csv().to_str().unwrap()]));
    let store = home.path().join("runs.jsonl");
    let before = std::fs::read(&store).unwrap();
    let stored: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&pepr(home.path(), &["rank", "--format", "json"]))).unwrap();

    let table = ok(&pepr(home.path(), &["rank", "--intensity", "NO", "--pue", "1.2"]));
    assert!(table.starts_with("WHAT-IF (not measured, not stored)"), "{table}");
    assert!(table.contains("Norway") && table.contains("what-if CO2 of these"), "{table}");
    let out = pepr(home.path(), &["rank", "--intensity", "20", "--pue", "1.2", "--format", "json"]);
    let what_if: Vec<serde_json::Value> = serde_json::from_str(&ok(&out)).unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("WHAT-IF"));
    assert_eq!(what_if.len(), stored.len());
    for row in &what_if {
        let energy = row["energy_kwh"].as_f64().unwrap();
        let co2 = row["co2_g"].as_f64().unwrap();
        assert!((co2 - energy * 20.0 * 1.2).abs() <= 1e-9 * co2.max(1.0), "{row}");
        // One intensity for every run: PePR-C is PePR-E.
        assert!((row["pepr_c"].as_f64().unwrap() - row["pepr_e"].as_f64().unwrap()).abs() < 1e-12, "{row}");
    }
    let out = pepr(home.path(), &["rank", "--intensity", "XQ"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--intensity"));
    assert_eq!(std::fs::read(&store).unwrap(), before, "the store is byte-identical after every what-if");
}
