//! The short calibration behind every estimate: timed training steps (forward, backward, Adam, as
//! `train` runs them) of tiny networks, each dominated by one layer kind, solved for the seconds
//! one unit of forward work of that kind costs in training, plus the fixed cost of a step and the
//! optimiser's cost per parameter. The power drawn meanwhile is read from the run's own power
//! sources. Cached in the home (`estimate_calibration.json`) per backend, device and thread count,
//! like the peak FLOP/s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder};
use crate::meter::backend::Backend;
use crate::meter::{MeterSettings, process};
use crate::results::workload::{Kind, work_per_sample};

/// What the calibration measured on one backend, device and thread count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// [`VERSION`] of the calibration that measured it: an older one is measured again.
    #[serde(default)]
    pub version: u32,
    pub key: String,
    pub measured_at: String,
    /// Fixed seconds of one training step (dispatch, loss, optimiser bookkeeping).
    pub step_s: f64,
    /// Optimiser seconds per parameter per step.
    pub param_s: f64,
    /// Seconds per layer (graph node) per step: each op's dispatch, forward and backward.
    #[serde(default)]
    pub node_s: f64,
    /// Seconds per training step the whole training loop adds beyond the benches (batching the
    /// data, reading the loss back, progress): from a tiny real run through `train` itself.
    #[serde(default)]
    pub loop_s: f64,
    /// Training seconds (forward + backward) per unit of forward work, by kind name.
    pub unit_s: BTreeMap<String, f64>,
    /// The process's share of the machine's CPUs while calibrating (CPU backend).
    #[serde(default)]
    pub cpu_share: Option<f64>,
    /// Mean power while calibrating, from the sources a run would use.
    #[serde(default)]
    pub power_w: Option<f64>,
    /// "measured (RAPL)", "estimated (TDP x load)", ...
    #[serde(default)]
    pub power_label: Option<String>,
    /// How long the calibration took.
    pub seconds: f64,
}

impl Calibration {
    pub fn unit(&self, kind: Kind) -> f64 {
        self.unit_s.get(kind.name()).copied().unwrap_or(0.0)
    }

    /// Achieved training FLOP/s of a kind (training = 3 x forward, 2 FLOPs per MAC), for display.
    pub fn flops_per_s(&self, kind: Kind) -> Option<f64> {
        let unit = self.unit(kind);
        (kind != Kind::Elementwise && unit > 0.0).then(|| 6.0 / unit)
    }
}

/// One calibration network: the kind it solves for and the batch sizes it is timed at.
pub struct Bench {
    pub name: &'static str,
    pub kind: Option<Kind>,
    pub batches: &'static [usize],
    pub graph: Graph,
}

const CLASSES: usize = 10;

/// The calibration's version: a cached one of another version is measured again.
pub const VERSION: u32 = 3;

pub use crate::results::workload::nodes;

/// The networks, in the order they are solved (each one's other kinds are already known).
pub fn benches() -> Vec<Bench> {
    let mut out = Vec::new();
    let (mut g, x) = GraphBuilder::new(4, 1, 1);
    let x = g.flatten("flatten", x).expect("shape");
    g.linear("fc", x, CLASSES, true).expect("shape");
    out.push(Bench { name: "step", kind: None, batches: &[4], graph: g.finish() });

    // Many tiny layers: what each layer costs whatever its size.
    let (mut g, mut x) = GraphBuilder::new(4, 4, 4);
    for i in 0..24 {
        x = g.act(&format!("act{i}"), x, Act::Relu);
    }
    let x = g.flatten("flatten", x).expect("shape");
    g.linear("fc", x, CLASSES, true).expect("shape");
    out.push(Bench { name: "layers", kind: None, batches: &[4], graph: g.finish() });

    let (mut g, x) = GraphBuilder::new(512, 1, 1);
    let x = g.flatten("flatten", x).expect("shape");
    let x = g.linear("fc1", x, 512, true).expect("shape");
    g.linear("fc", x, CLASSES, true).expect("shape");
    out.push(Bench { name: "linear", kind: Some(Kind::Linear), batches: &[8, 64], graph: g.finish() });

    let (mut g, mut x) = GraphBuilder::new(32, 32, 32);
    for i in 0..4 {
        x = g.act(&format!("act{i}"), x, Act::Relu);
    }
    g.classifier("fc", x, "pool", CLASSES).expect("shape");
    out.push(Bench { name: "elementwise", kind: Some(Kind::Elementwise), batches: &[16], graph: g.finish() });

    let (mut g, x) = GraphBuilder::new(16, 32, 32);
    let x = g.conv("conv", x, Conv::new(32, 3, 1)).expect("shape");
    g.classifier("fc", x, "pool", CLASSES).expect("shape");
    out.push(Bench { name: "convolution", kind: Some(Kind::Convolution), batches: &[16], graph: g.finish() });

    let (mut g, x) = GraphBuilder::new(64, 32, 32);
    let x = g.conv("dw", x, Conv::new(64, 3, 1).groups(64)).expect("shape");
    g.classifier("fc", x, "pool", CLASSES).expect("shape");
    out.push(Bench { name: "depthwise", kind: Some(Kind::Depthwise), batches: &[16], graph: g.finish() });

    let (mut g, x) = GraphBuilder::new(32, 32, 32);
    let x = g.batch_norm("bn", x).expect("shape");
    g.classifier("fc", x, "pool", CLASSES).expect("shape");
    out.push(Bench { name: "normalisation", kind: Some(Kind::Normalisation), batches: &[16], graph: g.finish() });

    let (mut g, x) = GraphBuilder::new(32, 16, 16);
    let x = g.map_to_tokens("tokens", x).expect("shape");
    let x = g.linear("qkv", x, 96, true).expect("shape");
    let x = g.attention("attn", x, 4).expect("shape");
    let x = g.token_mean("mean", x).expect("shape");
    g.linear("fc", x, CLASSES, true).expect("shape");
    out.push(Bench { name: "attention", kind: Some(Kind::Attention), batches: &[8], graph: g.finish() });
    out
}

/// Seconds one training step of `graph` takes at batch `batch`: the calibration's clock.
pub type StepTimer<'a> = dyn FnMut(&Graph, usize) -> f64 + 'a;

/// A timing: bench, batch, seconds per step.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    pub bench: &'static str,
    pub batch: usize,
    pub seconds: f64,
}

/// The smallest cost a kind gets (a measurement swamped by noise must not price work at zero).
const FLOOR_S: f64 = 1e-13;

/// Solves the timings for the coefficients: step cost and per-parameter cost from the step and
/// linear benches, then each kind in turn with the others' costs subtracted. Two passes, so the
/// small shares of other kinds in each bench are priced by the first pass.
pub fn solve(benches: &[Bench], timings: &[Timing]) -> (f64, f64, f64, BTreeMap<Kind, f64>) {
    let time = |name: &str, batch: usize| {
        timings.iter().find(|t| t.bench == name && t.batch == batch).map(|t| t.seconds).unwrap_or(0.0)
    };
    let mut unit: BTreeMap<Kind, f64> = Kind::ALL.iter().map(|k| (*k, 0.0)).collect();
    let (mut step_s, mut param_s, mut node_s) = (0.0, 0.0, 0.0);
    let fixed = |bench: &Bench, step_s: f64, param_s: f64, node_s: f64| {
        step_s + param_s * bench.graph.params() as f64 + node_s * nodes(&bench.graph) as f64
    };
    let work_s = |bench: &Bench, unit: &BTreeMap<Kind, f64>, except: Option<Kind>| -> f64 {
        work_per_sample(&bench.graph)
            .iter()
            .filter(|(k, _)| Some(**k) != except)
            .map(|(k, w)| *w as f64 * unit[k])
            .sum()
    };
    let step_benches: Vec<&Bench> = benches.iter().filter(|b| b.kind.is_none()).collect();
    for _pass in 0..3 {
        // The step and layer benches: two equations for the fixed cost of a step and of a layer.
        if let [one, many] = step_benches[..] {
            let variable = |b: &Bench, unit: &BTreeMap<Kind, f64>| {
                let batch = b.batches[0];
                time(b.name, batch) - param_s * b.graph.params() as f64 - batch as f64 * work_s(b, unit, None)
            };
            let (t1, t2) = (variable(one, &unit), variable(many, &unit));
            let (n1, n2) = (nodes(&one.graph) as f64, nodes(&many.graph) as f64);
            node_s = ((t2 - t1) / (n2 - n1)).max(0.0);
            step_s = (t1 - n1 * node_s).max(0.0);
        }
        for bench in benches {
            let Some(kind) = bench.kind else { continue };
            let w = work_per_sample(&bench.graph).get(&kind).copied().unwrap_or(0) as f64;
            let single = |b: usize, unit: &BTreeMap<Kind, f64>, param_s: f64| {
                let rest = fixed(bench, step_s, param_s, node_s) + b as f64 * work_s(bench, unit, Some(kind));
                ((time(bench.name, b) - rest) / (b as f64 * w)).max(FLOOR_S)
            };
            match bench.batches {
                [lo, hi] => {
                    // Two batch sizes: the slope prices the kind, the intercept the optimiser.
                    let (tl, th) = (time(bench.name, *lo), time(bench.name, *hi));
                    let per_sample = (th - tl) / (*hi - *lo) as f64;
                    let rest = work_s(bench, &unit, Some(kind));
                    if per_sample > rest {
                        unit.insert(kind, ((per_sample - rest) / w).max(FLOOR_S));
                        let intercept = tl - *lo as f64 * per_sample;
                        param_s =
                            ((intercept - fixed(bench, step_s, 0.0, node_s)) / bench.graph.params() as f64).max(0.0);
                    } else {
                        // Noise swamped the slope: price the kind at the larger batch alone.
                        param_s = 0.0;
                        unit.insert(kind, single(*hi, &unit, 0.0));
                    }
                }
                [b, ..] => {
                    let value = single(*b, &unit, param_s);
                    unit.insert(kind, value);
                }
                [] => {}
            }
        }
    }
    (step_s, param_s, node_s, unit)
}

/// Training steps of one bench, timed on `device` (median of the timed steps after a warm-up).
pub fn time_steps(graph: &Graph, batch: usize, device: &Device) -> f64 {
    const MIN_STEPS: usize = 3;
    const MAX_STEPS: usize = 25;
    const ENOUGH_S: f64 = 0.25;
    let train_device = device.clone().without_autodiff().autodiff();
    // Timing only: the initial values do not matter, PyTorch's defaults (no family) will do.
    let mut net = crate::train::init_net(graph.clone(), "", &train_device, 0);
    let dims = match graph.input() {
        crate::catalog::graph::Shape::Map { c, h, w } => [batch, c, h, w],
        other => [batch, other.features(), 1, 1],
    };
    let images = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), &train_device);
    let labels: Vec<i64> = (0..batch).map(|i| (i % CLASSES) as i64).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &train_device);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut optimizer = AdamConfig::new().init();
    let mut times = Vec::new();
    let mut total = 0.0;
    for step in 0..=MAX_STEPS {
        let start = Instant::now();
        let loss = loss_fn.forward(net.forward(images.clone()), labels.clone());
        let _ = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optimizer.step(5e-4, net, grads);
        let s = start.elapsed().as_secs_f64();
        if step > 0 {
            times.push(s);
            total += s;
            if times.len() >= MIN_STEPS && total >= ENOUGH_S {
                break;
            }
        }
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Runs every bench with `timer` and solves. `power` is read before and after (joules, from any
/// origin) to give the mean power.
pub fn calibrate(key: &str, timer: &mut StepTimer<'_>) -> Calibration {
    let start = Instant::now();
    let benches = benches();
    let mut timings = Vec::new();
    let all: usize = benches.iter().map(|b| b.batches.len()).sum();
    for bench in &benches {
        for &batch in bench.batches {
            report_progress(timings.len(), all, bench.name);
            timings.push(Timing { bench: bench.name, batch, seconds: timer(&bench.graph, batch) });
        }
    }
    report_progress(all, all, "");
    let (step_s, param_s, node_s, unit) = solve(&benches, &timings);
    Calibration {
        version: VERSION,
        key: key.to_string(),
        measured_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        step_s,
        param_s,
        node_s,
        loop_s: 0.0,
        unit_s: unit.into_iter().map(|(k, v)| (k.name().to_string(), v)).collect(),
        cpu_share: None,
        power_w: None,
        power_label: None,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Told (timings done, timings in all, the bench starting) while a calibration measures; set
/// once by the CLI, which draws a progress bar from it (the TUI sets none).
pub type ProgressHook = Box<dyn Fn(usize, usize, &str) + Send + Sync>;

static PROGRESS_HOOK: std::sync::OnceLock<ProgressHook> = std::sync::OnceLock::new();

/// Sets the hook calibrations report to (the first call wins).
pub fn set_progress_hook(hook: ProgressHook) {
    let _ = PROGRESS_HOOK.set(hook);
}

fn report_progress(done: usize, all: usize, bench: &str) {
    if let Some(hook) = PROGRESS_HOOK.get() {
        hook(done, all, bench);
    }
}

/// The real calibration on `device`, with the CPU share and the power the run's own sources see.
pub fn measure(key: &str, backend: Backend, device: &Device, settings: &MeterSettings) -> Calibration {
    let plan = crate::meter::session::plan_sources(settings, backend);
    let mut sources = plan.sources;
    let power_label = crate::meter::session::power_source_of(&sources).map(|p| p.label());
    let read = |sources: &mut Vec<Box<dyn crate::meter::source::EnergySource>>| -> Option<f64> {
        let mut total = 0.0;
        for s in sources.iter_mut() {
            total += s.read().ok()?.energy_j?;
        }
        Some(total)
    };
    let cpu0 = process::process_cpu_s();
    let e0 = if sources.is_empty() { None } else { read(&mut sources) };
    let wall = Instant::now();
    let mut calibration = calibrate(key, &mut |graph, batch| time_steps(graph, batch, device));
    if let Some((work, seconds)) = anchor(device) {
        let modelled = super::model::model_seconds(&work, &calibration);
        let steps = (work.steps_per_epoch() * work.epochs as u64).max(1) as f64;
        calibration.loop_s = ((seconds - modelled) / steps).max(0.0);
    }
    let elapsed = wall.elapsed().as_secs_f64();
    let e1 = if sources.is_empty() { None } else { read(&mut sources) };
    if let (Some(a), Some(b)) = (cpu0, process::process_cpu_s()) {
        calibration.cpu_share = Some(crate::meter::estimate::cpu_share(b - a, elapsed, process::logical_cpus()));
    }
    if let (Some(a), Some(b)) = (e0, e1)
        && elapsed > 0.0
        && b >= a
    {
        calibration.power_w = Some((b - a) / elapsed);
        calibration.power_label = power_label;
    }
    calibration
}

/// A tiny real run, timed after one warm-up run (pepr_lenet5, a quarter of the built-in synthetic set, one epoch) through
/// `train` itself: its workload and measured seconds.
pub fn anchor(device: &Device) -> Option<(crate::results::workload::Workload, f64)> {
    use crate::data::synthetic;
    let dataset = synthetic::synthetic(synthetic::DEFAULT_SIZE, synthetic::DEFAULT_CHANNELS, 0);
    let config = crate::train::TrainConfig {
        epochs: 1,
        fraction: 0.25,
        ..crate::train::TrainConfig::new("pepr_lenet5", "synthetic")
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    // The first run in a process pays one-off costs (thread pools, allocations): time the second.
    let _ = crate::train::train(&config, &dataset, device, &stop, &mut |_| {});
    let outcome = crate::train::train(&config, &dataset, device, &stop, &mut |_| {});
    if outcome.status != crate::results::record::RunStatus::Completed {
        return None;
    }
    let shape = crate::results::workload::RunShape {
        arch: config.arch.clone(),
        epochs: config.epochs,
        batch_size: config.batch_size,
        fraction: config.fraction,
        frozen_backbone: false,
    };
    let counts = dataset.train.class_counts(dataset.info.classes.len());
    let train = crate::results::workload::subset_size(dataset.info.splits[0], Some(&counts), config.fraction);
    let work = crate::results::workload::workload(&shape, &dataset.info, train).ok()?;
    Some((work, outcome.train_time_s))
}

/// The key a calibration is cached under: the peak FLOP/s cache's.
pub fn key_for(backend: Backend) -> String {
    let device = match backend {
        Backend::Cpu => process::cpu_model().unwrap_or_else(|| "CPU".into()),
        Backend::Cuda => "CUDA device 0".into(),
    };
    crate::meter::flops::cache_key(backend.label(), &device, process::logical_cpus())
}

pub fn cache_path(home: &Path) -> PathBuf {
    home.join("estimate_calibration.json")
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    entries: BTreeMap<String, Calibration>,
}

/// A calibration and how it was obtained.
#[derive(Clone, Debug, PartialEq)]
pub struct Obtained {
    pub calibration: Calibration,
    /// "cached" or "measured now".
    pub how: &'static str,
    pub warning: Option<String>,
}

/// The cached calibration for `key`, or a fresh one from `measure` (stored back). A cache that
/// cannot be read is reported, measured again and replaced; `fresh` measures again regardless.
pub fn obtain(cache: &Path, key: &str, fresh: bool, measure: impl FnOnce() -> Calibration) -> Obtained {
    let mut warning = None;
    let mut file = match std::fs::read_to_string(cache) {
        Ok(text) => serde_json::from_str::<CacheFile>(&text).unwrap_or_else(|e| {
            warning = Some(format!("{}: not a calibration cache ({e}); calibrating again", cache.display()));
            CacheFile::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CacheFile::default(),
        Err(e) => {
            warning = Some(format!("cannot read {}: {e}; calibrating again", cache.display()));
            CacheFile::default()
        }
    };
    if !fresh
        && let Some(found) =
            file.entries.get(key).filter(|c| c.version == VERSION && c.step_s.is_finite() && !c.unit_s.is_empty())
    {
        return Obtained { calibration: found.clone(), how: "cached", warning };
    }
    let calibration = measure();
    file.entries.insert(key.to_string(), calibration.clone());
    let text = serde_json::to_string_pretty(&file).unwrap_or_default();
    if let Err(e) = crate::files::write(cache, text.as_bytes()) {
        let note = format!("cannot save the calibration cache: {e}");
        warning = Some(warning.map_or(note.clone(), |w| format!("{w}; {note}")));
    }
    Obtained { calibration, how: "measured now", warning }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine whose step time is exactly the model's: the solver must find its coefficients.
    fn fake_machine(step_s: f64, param_s: f64, unit: &BTreeMap<Kind, f64>) -> impl FnMut(&Graph, usize) -> f64 {
        move |graph, batch| {
            let work: f64 = work_per_sample(graph).iter().map(|(k, w)| *w as f64 * unit[k]).sum();
            step_s + param_s * graph.params() as f64 + 5e-5 * nodes(graph) as f64 + batch as f64 * work
        }
    }

    #[test]
    fn the_solver_recovers_a_fake_machines_costs() {
        let unit: BTreeMap<Kind, f64> = [
            (Kind::Convolution, 2e-10),
            (Kind::Depthwise, 9e-10),
            (Kind::Linear, 1.5e-10),
            (Kind::Attention, 4e-10),
            (Kind::Normalisation, 3e-9),
            (Kind::Elementwise, 2e-9),
        ]
        .into_iter()
        .collect();
        let mut machine = fake_machine(1e-3, 2e-9, &unit);
        let c = calibrate("test", &mut machine);
        assert!((c.step_s - 1e-3).abs() < 2e-5, "{c:?}");
        assert!((c.param_s - 2e-9).abs() < 1e-10, "{c:?}");
        assert!((c.node_s - 5e-5).abs() < 1e-6, "{c:?}");
        assert_eq!(c.version, VERSION);
        for (kind, expected) in &unit {
            let got = c.unit(*kind);
            assert!((got / expected - 1.0).abs() < 0.02, "{kind:?}: {got} vs {expected}");
        }
        assert!((c.flops_per_s(Kind::Convolution).unwrap() - 3e10).abs() < 1e9);
        assert_eq!(c.flops_per_s(Kind::Elementwise), None);
    }

    #[test]
    fn the_calibration_is_cached_per_key_and_a_bad_cache_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_path(tmp.path());
        let unit: BTreeMap<Kind, f64> = Kind::ALL.iter().map(|k| (*k, 1e-9)).collect();
        let make = || calibrate("k", &mut fake_machine(1e-3, 0.0, &unit));
        let first = obtain(&cache, "k", false, make);
        assert_eq!((first.how, first.warning.clone()), ("measured now", None));
        let again = obtain(&cache, "k", false, || panic!("must come from the cache"));
        assert_eq!((again.how, again.calibration), ("cached", first.calibration.clone()));
        assert_eq!(obtain(&cache, "k", true, make).how, "measured now", "a fresh calibration was asked for");
        std::fs::write(&cache, "{ nope").unwrap();
        let bad = obtain(&cache, "k", false, make);
        assert_eq!(bad.how, "measured now");
        assert!(bad.warning.unwrap().contains("estimate_calibration.json"));
        assert_eq!(obtain(&cache, "k", false, || panic!("replaced")).how, "cached");
    }

    #[test]
    fn a_real_calibration_prices_every_kind() {
        let c = calibrate("real", &mut |graph, batch| time_steps(graph, batch, &Device::flex()));
        for kind in Kind::ALL {
            assert!(c.unit(kind) > 0.0 && c.unit(kind).is_finite(), "{kind:?}: {c:?}");
        }
        assert!(c.step_s >= 0.0 && c.seconds > 0.0, "{c:?}");
    }
}
