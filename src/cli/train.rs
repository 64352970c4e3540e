//! `pepr train`: trains one architecture on one dataset headless, stores the run, saves a checkpoint;
//! `pepr sweep`: every architecture on every dataset, one after another (or as a Slurm array).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Result, bail};
use chrono::Utc;

use super::args::TrainSettings;
use super::stored_settings;
use crate::home::Home;
use crate::meter::RunMeters;
use crate::progress::{Progress, Unit, WhenPlain};
use crate::results::record::{RunRecord, RunStatus};
use crate::run::{
    Destination, Stored, check_start, load_dataset, preflight, store_metered, store_outcome_to, train_metered,
};
use crate::train::record::new_run_id;
use crate::train::{Event, TrainConfig};

/// Training progress on stderr (see [`crate::progress`]): a bar over the run's steps on a
/// terminal, with the loss and live meters; plain lines otherwise, at most one per tenth of the run
/// and per 5 s; and a line per finished epoch either way.
struct TrainProgress {
    bar: Progress,
    epochs: usize,
    steps_per_epoch: usize,
    metric: &'static str,
}

impl TrainProgress {
    /// `parent`: the sweep's bar, drawn above this run's.
    fn new(parent: Option<&mut Progress>, label: String, epochs: usize, metric: &'static str) -> TrainProgress {
        let plain = WhenPlain::LinesAtMostEvery(Duration::from_secs(5));
        let bar = match parent {
            Some(parent) => parent.child(label, None, Unit::Count("steps"), plain),
            None => Progress::new(label, None, Unit::Count("steps"), plain),
        };
        TrainProgress { bar, epochs, steps_per_epoch: 0, metric }
    }

    fn event(&mut self, event: Event, meters: &mut RunMeters) {
        match event {
            Event::Started { arch, dataset, input, classes, params, steps_per_epoch, train_samples, .. } => {
                self.steps_per_epoch = steps_per_epoch;
                self.bar.set_total((self.epochs * steps_per_epoch) as u64);
                self.bar.say(&format!(
                    "training {arch} ({params} parameters) on {dataset}: {train_samples} images at {}x{}x{}, \
                     {classes} classes, {} epoch{} of {steps_per_epoch} steps",
                    input.channels,
                    input.height,
                    input.width,
                    self.epochs,
                    if self.epochs == 1 { "" } else { "s" }
                ));
            }
            Event::Progress { epoch, step, steps, loss, samples_per_sec } => {
                let done = (epoch.saturating_sub(1) * self.steps_per_epoch.max(steps) + step) as u64;
                let note = format!(
                    "epoch {epoch}/{} loss {loss:.4} {samples_per_sec:.0} images/s · {}",
                    self.epochs,
                    meters.live().summary()
                );
                self.bar.update(done, &note);
            }
            Event::EpochFinished { epoch, train_loss, test_metric } => {
                self.bar.say(&format!(
                    "epoch {epoch}/{}: train loss {train_loss:.4}, {} {test_metric:.4} · {}",
                    self.epochs,
                    self.metric,
                    meters.live().summary()
                ));
            }
        }
    }
}

/// Set by Ctrl-C, and by SIGTERM or SIGHUP (`scancel` sends SIGTERM): the run in progress stops at
/// the next step and is stored as interrupted. A second signal exits at once (the store is only ever appended to, so nothing is damaged).
pub fn interrupt_flag() -> &'static AtomicBool {
    static STOP: AtomicBool = AtomicBool::new(false);
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            if STOP.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nstopping after this step (a second Ctrl-C or SIGTERM quits at once)…");
        });
        if let Err(e) = installed {
            eprintln!("warning: Ctrl-C will not stop the run gracefully: {e}");
        }
    });
    &STOP
}

/// Trains, stores the record, saves the checkpoint; `json` prints the record on stdout. A failed
/// run is stored too, then reported as an error. Inside a Slurm job the record goes to `incoming/`.
pub fn run(home: &Home, config: &TrainConfig, data_dir: &Path, json: bool) -> Result<RunRecord> {
    run_to(home, config, data_dir, json, &Destination::detect(false))
}

/// [`run`], with the record going to `destination`.
pub fn run_to(
    home: &Home,
    config: &TrainConfig,
    data_dir: &Path,
    json: bool,
    destination: &Destination,
) -> Result<RunRecord> {
    run_under(home, config, data_dir, json, destination, None)
}

/// [`run_to`]; `parent` is the sweep's progress bar, shown above this run's.
fn run_under(
    home: &Home,
    config: &TrainConfig,
    data_dir: &Path,
    json: bool,
    destination: &Destination,
    mut parent: Option<&mut Progress>,
) -> Result<RunRecord> {
    // Installed before the (possibly slow) dataset load, so an early scancel still leaves a record.
    let stop = interrupt_flag();
    let created_at = Utc::now();
    let id = new_run_id(config, created_at);
    // A misspelt --pretrained is refused before the (possibly slow) dataset load.
    let dataset = match check_start(home, config).and_then(|()| load_dataset(config, data_dir)) {
        Ok(dataset) => dataset,
        // An array task must leave a record even when it cannot start, or its cell would look lost.
        Err(e) if matches!(destination, Destination::Incoming(_)) => {
            let outcome = crate::train::Outcome::failed_early(format!("{e:#}"), config.fraction);
            store_outcome_to(home, config, &outcome, &id, created_at, destination)?;
            return Err(e.context(format!("run {id} failed")));
        }
        Err(e) => return Err(e),
    };
    // Nothing trains that could not be stored: write access and free space first.
    preflight(home, config, &dataset, destination)?;
    let label = format!("{} on {}", config.arch, config.dataset);
    let mut progress = TrainProgress::new(parent.as_deref_mut(), label, config.epochs, config.metric.name());
    let device = config.backend.device()?;
    let metered =
        train_metered(config, &dataset, &device, stop, home, &mut |event, meters| progress.event(event, meters));
    let (outcome, meters) = match metered {
        Ok(done) => done,
        // Bad meter settings stop the run before it trains; an array task still leaves a record.
        Err(e) if matches!(destination, Destination::Incoming(_)) => {
            let outcome = crate::train::Outcome::failed_early(format!("{e:#}"), config.fraction);
            store_outcome_to(home, config, &outcome, &id, created_at, destination)?;
            return Err(e.context(format!("run {id} failed")));
        }
        Err(e) => return Err(e),
    };
    progress.bar.finish();
    // Said above the sweep's bar, if any.
    let say = |line: &str| match &parent {
        Some(parent) => parent.say(line),
        None => eprintln!("{line}"),
    };
    for note in &meters.notes {
        say(&format!("meters: {note}"));
    }
    if let Some(start) = &outcome.start {
        say(&start.to_string());
    }

    let Stored { record, checkpoint } = store_metered(home, config, &outcome, &meters, &id, created_at, destination)?;
    if matches!(destination, Destination::Incoming(_)) {
        say(&format!(
            "record written to {} (`pepr merge` moves it into the store)",
            crate::results::incoming::incoming_file(&home.incoming_dir(), &id).display()
        ));
    }

    if json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &record)?;
        writeln!(out)?;
    }
    if outcome.status == RunStatus::Failed {
        bail!("run {id} failed: {}", outcome.message.as_deref().unwrap_or("unknown error"));
    }
    let summary = format!(
        "run {id} {}: {} {} after {} epoch{}, {:.1} s, {:.0} images/s, {}; checkpoint {}",
        record.status.label(),
        record.metric,
        record.measured_p().map_or("— (no epoch finished)".into(), |p| format!("{p:.4}")),
        record.epoch_perf.len(),
        if record.epoch_perf.len() == 1 { "" } else { "s" },
        outcome.train_time_s,
        outcome.samples_per_sec,
        resources_text(&record),
        checkpoint.map_or_else(
            || record.checkpoint_error.as_ref().map_or("none".to_string(), |e| format!("not written ({e})")),
            |p| p.display().to_string()
        ),
    );
    if json {
        say(&summary);
    } else {
        println!("{summary}");
    }
    Ok(record)
}

/// The stored resource figures in words, each with its source.
fn resources_text(record: &RunRecord) -> String {
    use crate::format::{grams, kwh};
    let m = &record.measurement;
    let energy = match (record.energy_kwh, &record.power_source) {
        (Some(e), Some(source)) => {
            format!("{} {}", crate::meter::band::with_band(e, m.energy_kwh_low, m.energy_kwh_high, kwh), source.label())
        }
        _ => "energy unknown (no power source: see `pepr doctor`)".into(),
    };
    let co2 = record.co2_g.map_or_else(String::new, |c| {
        format!(", {} CO2-eq at {} g/kWh", grams(c), record.carbon_intensity_g_per_kwh.unwrap_or_default())
    });
    let memory = match (record.memory_gb, &record.memory_kind) {
        (Some(gb), Some(kind)) => format!(", {gb:.2} GB {kind}"),
        _ => String::new(),
    };
    format!("{energy}{co2}{memory}")
}

/// `pepr train --arch A --dataset D`: exits with status 130 when Ctrl-C interrupted the run (it is
/// stored as interrupted).
pub(super) fn train(
    home: &Home,
    arch: &str,
    dataset: &str,
    settings: &TrainSettings,
    json: bool,
    incoming: bool,
) -> Result<()> {
    let config = settings.config(arch, dataset, &stored_settings(home));
    let data_dir = settings.data_dir.clone().unwrap_or_else(|| home.datasets_dir());
    let destination = Destination::detect(incoming);
    let record = run_to(home, &config, &data_dir, json, &destination)?;
    if record.status == RunStatus::Interrupted {
        std::process::exit(130);
    }
    Ok(())
}

/// `pepr sweep --arch ... --dataset ...`: here, or as a Slurm array with `--slurm`.
pub(super) fn sweep_command(
    home: &Home,
    mut archs: Vec<String>,
    mut datasets: Vec<String>,
    settings: &TrainSettings,
    slurm: &crate::slurm::args::SlurmArgs,
) -> Result<()> {
    // `--arch a,a` names one run, not two identical ones.
    dedup_keep_order(&mut archs);
    dedup_keep_order(&mut datasets);
    let data_dir = settings.data_dir.clone().unwrap_or_else(|| home.datasets_dir());
    let stored = stored_settings(home);
    let configs: Vec<TrainConfig> =
        archs.iter().flat_map(|a| datasets.iter().map(|d| settings.config(a, d, &stored))).collect();
    if slurm.slurm {
        return crate::slurm::submit::sweep(home, &configs, &data_dir, settings.data_dir.as_deref(), slurm);
    }
    super::estimate::announce(home, &configs, &data_dir);
    sweep(home, &configs, &data_dir)
}

/// Drops repeated names, keeping the first of each in place.
fn dedup_keep_order(names: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
}

/// `pepr sweep`: every configuration in turn. A failed run is reported and the sweep goes on;
/// Ctrl-C stores the current run as interrupted and ends the sweep. Exit status: 0 when every run
/// completed, 1 when one failed, 130 when interrupted.
pub fn sweep(home: &Home, configs: &[TrainConfig], data_dir: &Path) -> Result<()> {
    // Refuse an unknown architecture or dataset before anything trains.
    for config in configs {
        crate::train::check(config)?;
        crate::data::registry::find(&config.dataset, data_dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let stop = interrupt_flag();
    let mut summary = Vec::new();
    let mut any_failed = false;
    // The whole sweep's bar on a terminal, above the current run's; plain output has the
    // `[i/n]` line of each run instead.
    let mut overall = Progress::new("sweep", Some(configs.len() as u64), Unit::Count("runs"), WhenPlain::Silent);
    let destination = Destination::detect(false);
    for (i, config) in configs.iter().enumerate() {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            summary.push(format!("{:<22} {:<18} not started (interrupted)", config.arch, config.dataset));
            continue;
        }
        let line = match &config.grid_cell {
            Some(cell) => {
                format!("[{}/{}] cell {cell} (group {})", i + 1, configs.len(), config.group.as_deref().unwrap_or(""))
            }
            None => format!("[{}/{}] {} on {}", i + 1, configs.len(), config.arch, config.dataset),
        };
        overall.say(&line);
        overall.update(i as u64, "");
        let result = run_under(home, config, data_dir, false, &destination, Some(&mut overall));
        overall.update(i as u64 + 1, "");
        let line = match result {
            Ok(r) => format!(
                "{:<22} {:<18} {:<11} {} {:.4}  {}",
                config.arch,
                config.dataset,
                r.status.label(),
                r.metric,
                r.performance,
                r.id
            ),
            Err(e) => {
                any_failed = true;
                format!("{:<22} {:<18} failed      {e:#}", config.arch, config.dataset)
            }
        };
        summary.push(line);
    }
    overall.finish();
    println!("\nsweep: {} runs", configs.len());
    for line in &summary {
        println!("{line}");
    }
    if stop.load(std::sync::atomic::Ordering::SeqCst) {
        std::process::exit(130);
    }
    if any_failed {
        bail!("some runs failed (they are stored with status failed)");
    }
    Ok(())
}
