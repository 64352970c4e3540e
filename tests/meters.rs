//! Meters on real `pepr train` runs: every resource field filled and its source named.

use std::path::Path;

use crate::common::pepr;
use serde_json::Value;

const TRAIN: [&str; 9] =
    ["train", "--arch", "pepr_lenet5", "--dataset", "synthetic", "--epochs", "2", "--fraction", "0.25"];

fn train(home: &Path, extra: &[&str]) -> (Value, String) {
    let mut args = TRAIN.to_vec();
    args.extend(extra);
    args.push("--json");
    let output = pepr(home, &args);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    (serde_json::from_slice(&output.stdout).expect("--json prints the record"), stderr)
}

fn positive(v: &Value) -> f64 {
    let x = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!(x.is_finite() && x > 0.0, "{v}");
    x
}

#[test]
fn a_run_on_the_synthetic_set_fills_every_resource_field_with_its_source() {
    let home = tempfile::tempdir().unwrap();
    // No RAPL and no GPU here: the estimate, from the TDP given on the command line.
    let (r, stderr) = train(
        home.path(),
        &["--cpu-tdp", "100", "--powercap-root", "/nonexistent", "--pue", "1.58", "--carbon-intensity", "250"],
    );
    let energy = positive(&r["energy_kwh"]);
    let co2 = positive(&r["co2_g"]);
    assert!((co2 - energy * 250.0 * 1.58).abs() < 1e-12 * co2.max(1.0), "{r}");
    positive(&r["memory_gb"]);
    assert!(r["memory_kind"].as_str().unwrap().starts_with("peak RSS"), "{r}");
    assert_eq!(r["power_source"], serde_json::json!({"measured": false, "by": "TDP x load"}));
    assert_eq!(r["carbon_intensity_g_per_kwh"], 250.0);
    let m = &r["meters"];
    assert!(m["energy_scope"].as_str().unwrap().contains("training and evaluation"));
    positive(&m["mean_power_w"]);
    assert!(m["mean_power_w"].as_f64().unwrap() <= 100.0, "at most the TDP: {m}");
    assert_eq!(m["pue"], 1.58);
    assert!(m["carbon_intensity_source"].as_str().unwrap().contains("set by user"));
    let flops = positive(&m["train_flops_per_sample"]);
    // 3 x forward: pepr_lenet5 at 1x28x28, 4 classes.
    let archs = pepr(home.path(), &["archs", "--input", "1x28x28", "--classes", "4", "--format", "json"]);
    let rows: Value = serde_json::from_slice(&archs.stdout).unwrap();
    let lenet = rows.as_array().unwrap().iter().find(|a| a["arch"] == "pepr_lenet5").unwrap();
    assert_eq!(flops, lenet["train_flops_per_sample"].as_f64().unwrap());
    positive(&m["achieved_flops_per_s"]);
    positive(&m["peak_flops_per_s"]);
    assert_eq!(m["sample_interval_ms"], 200);
    assert!(m["power_detail"].as_str().unwrap().contains("TDP 100 W"), "{m}");
    let p = &r["prediction"];
    assert_eq!(p["after_epochs"], 1);
    positive(&p["time_s"]);
    assert!(p["energy_kwh"].as_f64().is_some() && p["co2_g"].as_f64().is_some(), "{p}");
    assert!(r["node"].as_str().is_some_and(|n| !n.is_empty()));
    // Live figures on the progress lines, with units and the source.
    assert!(
        stderr.contains("W estimated (TDP x load)") && stderr.contains("kWh") && stderr.contains("FLOP/s"),
        "{stderr}"
    );
    assert!(stderr.contains("g CO2-eq") && stderr.contains("GB peak RSS") && stderr.contains("predicted total"));
    // The peak was cached in the home for the next run.
    assert!(home.path().join("peak_flops.json").exists());
}

#[test]
fn rapl_counters_are_used_when_readable_and_the_idle_baseline_gives_net_energy() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("powercap");
    let package = root.join("intel-rapl:0");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(package.join("name"), "package-0\n").unwrap();
    std::fs::write(package.join("energy_uj"), "123456\n").unwrap();
    std::fs::write(package.join("max_energy_range_uj"), "262143328850\n").unwrap();
    let (r, _) = train(home.path(), &["--powercap-root", root.to_str().unwrap(), "--idle-baseline", "0.3"]);
    assert_eq!(r["power_source"], serde_json::json!({"measured": true, "by": "RAPL"}));
    // The fake counter never moves: a measured zero, not an unknown.
    assert_eq!(r["energy_kwh"], 0.0);
    assert_eq!(r["co2_g"], 0.0);
    assert_eq!(r["meters"]["idle_power_w"], 0.0);
    assert_eq!(r["meters"]["energy_net_kwh"], 0.0);
    assert!(r["meters"]["carbon_intensity_source"].as_str().unwrap().contains("world average"));
}

#[test]
fn doctor_names_each_source_and_why() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("powercap");
    // A directory where the counter file should be: present but not readable.
    std::fs::create_dir_all(root.join("intel-rapl:0/energy_uj")).unwrap();
    std::fs::write(root.join("intel-rapl:0/name"), "package-0").unwrap();
    let output = pepr(home.path(), &["doctor", "--powercap-root", root.to_str().unwrap(), "--cpu-tdp", "65"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("NVML: "), "{text}");
    assert!(text.contains("present but not readable") && text.contains("sudo chmod a+r"), "{text}");
    assert!(text.contains("= 65.0 W, set by the user"), "{text}");
    assert!(text.contains("a CPU run's energy: estimated (TDP x load)"), "{text}");
    assert!(text.contains("peak FLOP/s") && text.contains("GFLOP/s, measured now"), "{text}");
    assert!(text.contains("memory: "), "{text}");
    let again = pepr(home.path(), &["doctor", "--json", "--powercap-root", "/nonexistent"]);
    let v: Value = serde_json::from_slice(&again.stdout).unwrap();
    let how = v["peak_how"].as_str().unwrap();
    assert!(how.contains("the best of 2 measurements") || how.starts_with("best of 2 measurements"), "{v}");
    assert_eq!(v["peak_measurements"], 2, "{v}");
    assert!(v["peak_now_cpu_share"].as_f64().is_some_and(|s| s > 0.0), "{v}");
    assert!(v["rapl"].as_str().unwrap().contains("no /nonexistent/intel-rapl*"), "{v}");
}

#[test]
fn bad_meter_settings_are_one_line_errors() {
    let home = tempfile::tempdir().unwrap();
    for (extra, expected) in [(["--pue", "0.5"], "--pue"), (["--carbon-intensity=-4", "--seed=0"], "intensity")] {
        let mut args = TRAIN.to_vec();
        args.extend(extra);
        let output = pepr(home.path(), &args);
        // Refused while the arguments are parsed (one validator for flags and `config set`): a usage
        // error, exit 2, whose first line names the flag and the value.
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("error: invalid value") && first.contains(expected), "{stderr}");
    }
}

#[test]
fn the_settings_file_sets_the_meters_and_a_flag_overrides_it() {
    let home = tempfile::tempdir().unwrap();
    for (key, value) in [("carbon_intensity", "DK"), ("pue", "1.2"), ("cpu_tdp_w", "50")] {
        let out = pepr(home.path(), &["config", "set", key, value]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (r, _) = train(home.path(), &["--powercap-root", "/nonexistent"]);
    let m = &r["meters"];
    assert!(m["carbon_intensity_source"].as_str().unwrap().contains("Denmark"), "{m}");
    assert_eq!(m["pue"], 1.2);
    assert!(m["mean_power_w"].as_f64().unwrap() <= 50.0, "at most the TDP from the settings: {m}");
    let intensity = r["carbon_intensity_g_per_kwh"].as_f64().unwrap();
    assert!((positive(&r["co2_g"]) - positive(&r["energy_kwh"]) * intensity * 1.2).abs() < 1e-9);

    let (r, _) = train(home.path(), &["--powercap-root", "/nonexistent", "--carbon-intensity", "300", "--pue", "1"]);
    assert_eq!(r["carbon_intensity_g_per_kwh"], 300.0);
    assert_eq!(r["meters"]["pue"], 1.0);
}
