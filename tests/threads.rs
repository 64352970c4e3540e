//! Threads, backends, bands and scopes on the real binary (issues 13 and 20): a 1-thread run uses
//! about one core and says so, its energy carries a band, `--paper-conventions` records the paper's
//! scope, `pepr doctor` names the backends, and grid/Slurm scripts carry threads and backend.

use std::path::Path;
use std::process::Output;

use crate::common;
use serde_json::Value;

fn pepr(home: &Path, args: &[&str]) -> Output {
    // The thread counts asserted are pepr's own choice, not a caller's RAYON_NUM_THREADS.
    common::command(home).env_remove("RAYON_NUM_THREADS").args(args).output().unwrap()
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "pepr failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

const TRAIN: [&str; 12] = [
    "train",
    "--arch",
    "pepr_resnet8",
    "--dataset",
    "synthetic",
    "--epochs",
    "2",
    "--fraction",
    "0.5",
    "--json",
    "--powercap-root",
    "/nonexistent",
];

fn train(home: &Path, extra: &[&str]) -> Value {
    let mut args = TRAIN.to_vec();
    args.extend(extra);
    serde_json::from_str(&ok(&pepr(home, &args))).expect("--json prints the record")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn a_one_thread_run_uses_about_one_core_and_records_it_with_its_band() {
    let home = tempfile::tempdir().unwrap();
    let r = train(home.path(), &["--threads", "1", "--cpu-tdp", "100"]);
    assert_eq!(r["threads"], 1, "{r}");
    assert!(r["device"].as_str().unwrap().ends_with("(1 threads)"), "{r}");
    let m = &r["meters"];
    let cores = num(&m["process_cpu_s"]) / num(&m["metered_s"]);
    // The sampler thread and the process's other threads add a little; 2+ would mean the pool was ignored.
    assert!(cores < 1.35, "a 1-thread run kept {cores:.2} cores busy: {m}");
    // TDP x load with the user's TDP: the estimate's own band.
    let (e, lo, hi) = (num(&r["energy_kwh"]), num(&r["energy_kwh_low"]), num(&r["energy_kwh_high"]));
    assert!((lo - 0.6 * e).abs() < 1e-12 * e.max(1.0) && (hi - 1.4 * e).abs() < 1e-12 * e.max(1.0), "{r}");
    assert!(num(&r["co2_g_low"]) < num(&r["co2_g"]) && num(&r["co2_g"]) < num(&r["co2_g_high"]));
    assert_eq!(r["energy_band_basis"], "TDP x load x0.60-1.40");
    assert_eq!(r["tdp_basis"], "set by the user");
    assert_eq!(
        (&r["time_scope"], &r["energy_scope"], &r["energy_includes_pue"]),
        (&Value::from("whole_run"), &Value::from("training+evaluation"), &Value::from(false))
    );
    // The peak FLOP/s cache has an entry for 1 thread.
    let cache = std::fs::read_to_string(home.path().join("peak_flops.json")).unwrap_or_default();
    assert!(cache.contains("| 1 threads"), "{cache}");

    // The `threads` setting is the default for a run without the flag.
    ok(&pepr(home.path(), &["config", "set", "threads", "1"]));
    let r = train(home.path(), &["--cpu-tdp", "100"]);
    assert_eq!(r["threads"], 1);
    assert!(pepr(home.path(), &["config", "set", "threads", "0"]).status.code() == Some(1));
    let refused = pepr(home.path(), &[&TRAIN[..], &["--threads", "0"]].concat());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--threads must be at least 1"));
}

#[test]
fn paper_conventions_record_last_epoch_time_and_energy_with_pue() {
    let home = tempfile::tempdir().unwrap();
    let r = train(home.path(), &["--cpu-tdp", "100", "--paper-conventions", "--carbon-intensity", "100"]);
    assert_eq!(r["time_scope"], "last_epoch");
    assert_eq!(r["energy_scope"], "carbontracker");
    assert_eq!(r["energy_includes_pue"], true);
    assert_eq!(r["meters"]["pue"], 1.58);
    // Energy already includes the PUE, so CO2 = energy x intensity.
    let (e, c) = (num(&r["energy_kwh"]), num(&r["co2_g"]));
    assert!((c - e * 100.0).abs() < 1e-9 * c.max(1.0), "{r}");
    // Last epoch's time is less than the two epochs' metered time.
    assert!(num(&r["train_time_s"]) < num(&r["meters"]["metered_s"]), "{r}");
}

#[test]
fn doctor_names_the_backends_the_tdp_step_and_the_threads() {
    let home = tempfile::tempdir().unwrap();
    let text = ok(&pepr(home.path(), &["doctor", "--powercap-root", "/nonexistent"]));
    assert!(text.contains("backends compiled in: cpu"), "{text}");
    #[cfg(not(feature = "cuda"))]
    assert!(text.contains("cuda: unavailable, not built in"), "{text}");
    assert!(text.contains("threads: a run uses"), "{text}");
    let tdp = text.lines().find(|l| l.starts_with("TDP:")).unwrap();
    assert!(tdp.contains("--cpu-tdp") && tdp.contains("cpu_tdp_w"), "{tdp}");
    let with_tdp = ok(&pepr(home.path(), &["doctor", "--powercap-root", "/nonexistent", "--cpu-tdp", "65"]));
    assert!(with_tdp.contains("65.0 W, set by the user"), "{with_tdp}");
}

#[test]
fn grid_and_slurm_scripts_carry_threads_and_backend() {
    let home = tempfile::tempdir().unwrap();
    let grid = [
        "grid",
        "--arch",
        "pepr_lenet5",
        "--dataset",
        "synthetic",
        "--epochs",
        "1",
        "--threads",
        "2",
        "--backend",
        "cpu",
        "--slurm",
        "--dry-run",
    ];
    let script = ok(&pepr(home.path(), &grid));
    assert!(script.contains("--threads 2") && script.contains("--backend cpu"), "{script}");
    let sweep = [
        "sweep",
        "--arch",
        "pepr_lenet5",
        "--dataset",
        "synthetic",
        "--threads",
        "3",
        "--paper-conventions",
        "--slurm",
        "--dry-run",
    ];
    let script = ok(&pepr(home.path(), &sweep));
    assert!(script.contains("--threads 3") && script.contains("--paper-conventions"), "{script}");
    assert!(script.contains("--backend cpu"), "{script}");
}
