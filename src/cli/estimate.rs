//! `pepr estimate` (and the totals `pepr sweep` / `pepr grid` print before they start): the
//! estimates as a table or JSON, and `--accuracy`.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::args::{EstimateArgs, Format};
use super::{ignore_broken_pipe, stored_settings};
use crate::estimate::budget::{Budget, Fit};
use crate::estimate::{Estimate, Plan, Range, Totals, accuracy, plan};
use crate::format::duration;
use crate::home::Home;
use crate::results::store::RunStore;
use crate::train::TrainConfig;

/// `pepr estimate`: the planned runs' estimates (or `--accuracy`), as a table or JSON.
pub(super) fn command(home: &Home, args: EstimateArgs) -> Result<()> {
    let EstimateArgs { archs, datasets, settings, accuracy, recalibrate, max_energy, max_time, max_co2, format } = args;
    let budget = Budget { max_energy_kwh: max_energy, max_time_s: max_time, max_co2_g: max_co2, min_p: None };
    budget.check().map_err(|e| anyhow::anyhow!(e))?;
    if format == Format::Csv {
        bail!("--format: pepr estimate prints table or json");
    }
    let mut out = std::io::stdout().lock();
    if accuracy {
        return ignore_broken_pipe(print_accuracy(home, format == Format::Json, &mut out));
    }
    let data_dir = settings.data_dir.clone().unwrap_or_else(|| home.datasets_dir());
    let stored = stored_settings(home);
    let configs: Vec<TrainConfig> =
        archs.iter().flat_map(|a| datasets.iter().map(|d| settings.config(a, d, &stored))).collect();
    ignore_broken_pipe(run(home, &configs, &data_dir, recalibrate, &budget, format == Format::Json, &mut out))
}

fn range_text(r: Range, fmt: &dyn Fn(f64) -> String) -> String {
    format!("{} ({} – {})", fmt(r.estimate), fmt(r.low), fmt(r.high))
}

/// The totals on one line.
pub fn totals_text(t: &Totals) -> String {
    use crate::format::{grams, kwh};
    let mut parts = vec![range_text(t.train_time_s, &duration)];
    parts.push(t.energy_kwh.map_or("energy unknown".into(), |e| range_text(e, &kwh)));
    if let Some(c) = t.co2_g {
        parts.push(format!("{} CO2-eq", range_text(c, &grams)));
    }
    format!("{} run{}: {}", t.runs, if t.runs == 1 { "" } else { "s" }, parts.join(", "))
}

/// The line `pepr sweep` / `pepr grid` print before they start (and `grid --dry-run`).
pub fn plan_line(plan: &Plan) -> String {
    let missing = plan.runs.iter().filter(|r| r.is_err()).count();
    let mut line = match &plan.total {
        Some(t) => format!("estimate on this machine (before training), {}", totals_text(t)),
        None => "estimate on this machine: none".into(),
    };
    if missing > 0 {
        let why = plan.runs.iter().find_map(|r| r.as_ref().err()).cloned().unwrap_or_default();
        line.push_str(&format!("; {missing} run(s) not estimated ({why})"));
    }
    line.push_str("; `pepr estimate` shows what each rests on");
    line
}

/// Draws a calibration's progress (the first estimate on a machine measures for a few seconds):
/// a bar on a terminal, one line when it starts otherwise.
pub fn show_calibration_progress() {
    use crate::progress::{Progress, Unit, WhenPlain};
    let slot: std::sync::Mutex<Option<Progress>> = std::sync::Mutex::new(None);
    crate::estimate::calibration::set_progress_hook(Box::new(move |done: usize, all: usize, bench: &str| {
        let Ok(mut bar) = slot.lock() else { return };
        if done == 0 {
            let label = "calibrating this machine for estimates";
            let progress = Progress::new(label, Some(all as u64), Unit::Count("timings"), WhenPlain::Silent);
            progress.say(&format!("{label} (once per backend and thread count; cached in the home)"));
            *bar = Some(progress);
        }
        if let Some(progress) = bar.as_mut() {
            progress.update(done as u64, bench);
        }
        if done >= all
            && let Some(progress) = bar.take()
        {
            progress.finish();
        }
    }));
}

/// Estimates `configs` and prints the plan line on stderr (before a sweep or grid trains).
pub fn announce(home: &Home, configs: &[TrainConfig], data_dir: &Path) {
    let plan = plan(home, configs, data_dir, false);
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("{}", plan_line(&plan));
}

fn start_text(config: &TrainConfig) -> String {
    match (&config.pretrained, config.freeze_backbone) {
        (None, _) => "scratch".into(),
        (Some(s), false) => format!("from {s}"),
        (Some(s), true) => format!("from {s}, backbone frozen"),
    }
}

fn range_json(r: Option<Range>) -> Value {
    r.map_or(Value::Null, |r| json!({ "estimate": r.estimate, "low": r.low, "high": r.high }))
}

fn estimate_json(config: &TrainConfig, e: &Estimate) -> Value {
    json!({
        "arch": config.arch,
        "dataset": config.dataset,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "fraction": config.fraction,
        "start": start_text(config),
        "backend": config.backend.label(),
        "train_time_s": range_json(Some(e.train_time_s)),
        "energy_kwh": range_json(e.energy_kwh),
        "co2_g": range_json(e.co2_g),
        "power_w": e.power_w,
        "carbon_intensity_g_per_kwh": e.carbon_intensity_g_per_kwh,
        "pue": e.pue,
        "based_on": e.based_on,
        "input": e.work.input,
        "train_samples": e.work.train_samples,
        "test_samples": e.work.test_samples,
    })
}

/// `pepr estimate`: every configuration's estimate, then the total when there are several.
pub fn run(
    home: &Home,
    configs: &[TrainConfig],
    data_dir: &Path,
    recalibrate: bool,
    budget: &Budget,
    json_out: bool,
    out: &mut impl Write,
) -> Result<()> {
    for config in configs {
        crate::train::check(config)?;
    }
    let plan = plan(home, configs, data_dir, recalibrate);
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    if plan.runs.iter().all(|r| r.is_err()) {
        let why: Vec<String> = configs
            .iter()
            .zip(&plan.runs)
            .filter_map(|(c, r)| r.as_ref().err().map(|e| format!("{} on {}: {e}", c.arch, c.dataset)))
            .collect();
        bail!("no estimate: {}", why.join("; "));
    }
    if json_out {
        let runs: Vec<Value> = configs
            .iter()
            .zip(&plan.runs)
            .map(|(c, r)| match r {
                Ok(e) if !budget.is_empty() => {
                    let mut value = estimate_json(c, e);
                    value["budget"] = json!(fit_word(budget.fits_estimate(e)));
                    value
                }
                Ok(e) => estimate_json(c, e),
                Err(why) => json!({ "arch": c.arch, "dataset": c.dataset, "error": why }),
            })
            .collect();
        let total = plan.total.as_ref().expect("one estimate at least");
        let value = json!({
            "what": "estimate before training, on this machine",
            "runs_estimated": total.runs,
            "train_time_s": range_json(Some(total.train_time_s)),
            "energy_kwh": range_json(total.energy_kwh),
            "co2_g": range_json(total.co2_g),
            "runs": runs,
        });
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    use crate::format::{grams, kwh};
    for (config, result) in configs.iter().zip(&plan.runs) {
        writeln!(
            out,
            "{} on {} ({}; {} epoch{}, batch {}, fraction {}, {})",
            config.arch,
            config.dataset,
            start_text(config),
            config.epochs,
            if config.epochs == 1 { "" } else { "s" },
            config.batch_size,
            config.fraction,
            config.backend.label()
        )?;
        match result {
            Err(why) => writeln!(out, "  not estimated: {why}")?,
            Ok(e) => {
                writeln!(out, "  train_time_s  {}", range_text(e.train_time_s, &|s| format!("{s:.1}")))?;
                writeln!(out, "                = {}", range_text(e.train_time_s, &duration))?;
                match e.energy_kwh {
                    Some(r) => writeln!(out, "  energy_kwh    {}", range_text(r, &kwh))?,
                    None => writeln!(out, "  energy_kwh    unknown")?,
                }
                match e.co2_g {
                    Some(r) => writeln!(out, "  co2_g         {} CO2-eq", range_text(r, &grams))?,
                    None => writeln!(out, "  co2_g         unknown")?,
                }
                if !budget.is_empty() {
                    writeln!(out, "  budget ({}): {}", budget.describe(), fit_text(budget.fits_estimate(e)))?;
                }
                writeln!(out, "  estimated, not measured; based on:")?;
                for line in &e.based_on {
                    writeln!(out, "    - {line}")?;
                }
            }
        }
    }
    if configs.len() > 1
        && let Some(t) = &plan.total
    {
        writeln!(out, "total: {}", totals_text(t))?;
    }
    if !budget.is_empty() {
        let fits: Vec<Fit> =
            plan.runs.iter().filter_map(|r| r.as_ref().ok()).map(|e| budget.fits_estimate(e)).collect();
        let count = |f: Fit| fits.iter().filter(|x| **x == f).count();
        writeln!(
            out,
            "budget {}: {} of {} planned runs fit even at the high end of their range, {} only at their estimate",
            budget.describe(),
            count(Fit::Fits),
            configs.len(),
            count(Fit::Maybe)
        )?;
    }
    Ok(())
}

fn fit_word(fit: Fit) -> &'static str {
    match fit {
        Fit::Fits => "fits",
        Fit::Maybe => "maybe",
        Fit::Over => "over",
    }
}

fn fit_text(fit: Fit) -> &'static str {
    match fit {
        Fit::Fits => "fits, even at the high end of the range",
        Fit::Maybe => "fits by the estimate, not at the high end of the range",
        Fit::Over => "does not fit (or a budgeted figure cannot be estimated)",
    }
}

fn pct(x: f64) -> String {
    format!("{:+.0}%", x * 100.0)
}

/// `pepr estimate --accuracy`.
pub fn print_accuracy(home: &Home, json_out: bool, out: &mut impl Write) -> Result<()> {
    let loaded = RunStore::new(home.runs_file()).load()?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let host = crate::estimate::this_host();
    let rows = accuracy::accuracy(&loaded.records, host.as_deref());
    if json_out {
        let value = json!({
            "host": host,
            "error": "(estimate - measured) / measured; median of absolute values, worst with its sign",
            "families": rows,
        });
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    let host_name = host.as_deref().unwrap_or("unknown host");
    if rows.is_empty() {
        writeln!(
            out,
            "no run trained on this machine ({host_name}) has a stored estimate yet: train one with `pepr train`"
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "estimates made at the start of each run vs measured, runs of this machine ({host_name}); error = (estimate - measured) / measured"
    )?;
    writeln!(
        out,
        "{:<22} {:>5} {:>12} {:>11} {:>9}   {:>5} {:>14} {:>13} {:>9}",
        "family", "runs", "time median", "time worst", "in range", "runs", "energy median", "energy worst", "in range"
    )?;
    let cells = |e: &Option<accuracy::Errors>| match e {
        Some(e) => (
            e.runs.to_string(),
            format!("{:.1}%", e.median * 100.0),
            pct(e.worst),
            format!("{}/{}", e.in_range, e.runs),
        ),
        None => ("0".into(), "—".into(), "—".into(), "—".into()),
    };
    for row in &rows {
        let (tn, tm, tw, tr) = cells(&row.time);
        let (en, em, ew, er) = cells(&row.energy);
        writeln!(out, "{:<22} {tn:>5} {tm:>12} {tw:>11} {tr:>9}   {en:>5} {em:>14} {ew:>13} {er:>9}", row.family)?;
    }
    Ok(())
}
