//! `pepr bench train`: training throughput (images per second) of catalog models on the chosen
//! backend, measured over a fixed number of full training steps (forward, backward, Adam) on a
//! constant random batch, after warm-up steps, together with the step's peak resident memory, its
//! growth across steps and how many cores it kept busy. For comparing pepr with other frameworks on
//! the same machine; nothing here is stored as a run. `--eval` also times inference-mode forward
//! passes, and `--compare PYTHON` runs the PyTorch peer (`benches/peer/torch_train.py`) on each case
//! right after pepr's, with the same batch, steps and threads, prints both side by side and checks
//! issue 12's targets (speed, memory, both cores busy) in a summary.
//!
//! Each case runs in a fresh process (pepr's own binary for pepr, the peer script for PyTorch) when
//! a [`Child`] is given, as the CLI does: memory freed by one case stays with the allocator (and
//! burn-flex's buffer pool) and would let the next case grow without raising the process's resident
//! memory, so only a fresh process gives each case a clean peak.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, anyhow};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::init_net;
use crate::catalog::{self, Cost, Spec};
use crate::format::{fixed, human_count};
use crate::meter::process::{parse_status_kb, process_cpu_s_precise};

/// The models measured when none are named: pepr's small ones and a few small timm ones.
pub const DEFAULT_MODELS: &[&str] = &["pepr_lenet5", "pepr_resnet8", "pepr_resnet20", "mobilenetv2_050", "resnet18"];
pub const DEFAULT_SIZES: &[usize] = &[28, 64];
const WARMUP_STEPS: usize = 2;
const CLASSES: usize = 10;

/// Issue 12's targets, checked by the comparison's summary: the geometric mean of pepr/PyTorch
/// images/s at least this,
pub const TARGET_MEAN: f64 = 1.0;
/// no case below this,
pub const TARGET_LOWEST: f64 = 0.7;
/// step memory at most this multiple of PyTorch's,
pub const MEMORY_BOUND: f64 = 1.25;
/// and "both cores busy": CPU time / wall time over the timed steps at least this share of the
/// thread count, on average over the cases ("close to the thread count").
pub const BUSY_SHARE: f64 = 0.8;
/// Resident memory that rises from after warm-up to after the last step by more than both of these
/// counts as growing (a few MiB come and go with the allocator's arenas), if the rise goes on
/// through both halves of the timed steps (see [`Memory::grows`]).
const GROWTH_MIN_BYTES: i64 = 2 << 20;
const GROWTH_MIN_SHARE: f64 = 0.05;
const MIB: f64 = (1u64 << 20) as f64;

/// Resident memory of one case (bytes), read from /proc/self/status.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// VmRSS before the model was built: the process's own baseline (runtime, libraries).
    pub base: u64,
    /// VmHWM over warm-up and timed steps (the peak, reset just before the case).
    pub peak: u64,
    pub after_warmup: u64,
    /// VmRSS after the first half of the timed steps (`steps / 2` of them); absent with fewer than
    /// two timed steps and in figures from before it was recorded.
    #[serde(default)]
    pub after_mid: Option<u64>,
    pub after_last: u64,
    /// RssFile (pages backed by files: the program's and its libraries' code, which PyTorch faults
    /// in on first use) at `base` and after the last step; not the step's memory.
    #[serde(default)]
    pub file_base: u64,
    #[serde(default)]
    pub file_end: u64,
}

impl Memory {
    /// What the case added at its peak to the process it ran in, less file-backed pages: the
    /// step memory compared. (File pages stay resident once touched, so RssFile after the last
    /// step stands for RssFile at the peak.)
    pub fn step_bytes(&self) -> u64 {
        self.peak.saturating_sub(self.file_end).saturating_sub(self.base.saturating_sub(self.file_base))
    }

    /// Resident memory after the last step minus after warm-up.
    pub fn growth_bytes(&self) -> i64 {
        self.after_last as i64 - self.after_warmup as i64
    }

    /// Whether memory grew across the timed steps by more than allocator noise, and kept growing.
    /// An allocation that grows with the number of steps raises resident memory in both halves of
    /// the timed steps; the allocator taking one more arena (or the kernel reclaiming one) is a
    /// single jump, in one half. Runs here flagged such jumps of 8-17 MiB in one run of three at
    /// 5 steps, gone at 20 steps. So each half must rise by at least half the threshold too.
    pub fn grows(&self) -> bool {
        let growth = self.growth_bytes();
        let threshold = (GROWTH_MIN_BYTES as f64).max(GROWTH_MIN_SHARE * self.step_bytes() as f64);
        if growth as f64 <= threshold {
            return false;
        }
        match self.after_mid {
            Some(mid) => {
                let first = mid as i64 - self.after_warmup as i64;
                let second = self.after_last as i64 - mid as i64;
                first.min(second) as f64 > threshold / 2.0
            }
            None => true,
        }
    }

    /// Reads the figures now, with `base` (VmRSS, RssFile) and `after_warmup` from earlier; `None`
    /// off Linux.
    fn read(base: Option<(u64, u64)>, after_warmup: Option<u64>, after_mid: Option<u64>) -> Option<Memory> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let (base, file_base) = base?;
        Some(Memory {
            base,
            peak: parse_status_kb(&status, "VmHWM")?,
            after_warmup: after_warmup?,
            after_mid,
            after_last: parse_status_kb(&status, "VmRSS")?,
            file_base,
            file_end: parse_status_kb(&status, "RssFile")?,
        })
    }
}

fn rss() -> Option<u64> {
    crate::meter::process::rss_bytes()
}

/// VmRSS and RssFile now.
fn rss_and_file() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some((parse_status_kb(&status, "VmRSS")?, parse_status_kb(&status, "RssFile")?))
}

/// Resets the process's VmHWM to its current RSS (Linux >= 4.0: writing 5 to clear_refs).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One case's figures, from pepr or from the peer: the JSON line both print for a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub arch: String,
    pub size: usize,
    pub train_images_per_s: f64,
    #[serde(default)]
    pub eval_images_per_s: Option<f64>,
    #[serde(default)]
    pub params: Option<u64>,
    /// CPU seconds (user + system, every thread) over the timed training steps.
    #[serde(default)]
    pub cpu_s: Option<f64>,
    /// Wall seconds of that span.
    #[serde(default)]
    pub wall_s: Option<f64>,
    #[serde(default)]
    pub memory: Option<Memory>,
    /// Estimated training FLOPs per image (pepr's analytic count; the peer has none).
    #[serde(default)]
    pub train_flops: Option<u64>,
}

impl Figures {
    /// CPU time / wall time over the timed steps: how many cores the step kept busy.
    pub fn cores_busy(&self) -> Option<f64> {
        let busy = self.cpu_s? / self.wall_s?;
        busy.is_finite().then_some(busy)
    }

    pub fn step_mib(&self) -> Option<f64> {
        self.memory.map(|m| m.step_bytes() as f64 / MIB)
    }

    /// One case measured several times, as one: the run with the median training images/s (the
    /// lower of the middle two for an even count), whose memory and CPU figures come with it, and
    /// the median inference images/s of all runs. Whole runs rather than per-field medians, so the
    /// memory and cores-busy figures shown are ones that were measured together.
    pub fn median_run(mut runs: Vec<Figures>) -> Option<Figures> {
        let mut evals: Vec<f64> = runs.iter().filter_map(|f| f.eval_images_per_s).collect();
        evals.sort_by(f64::total_cmp);
        runs.sort_by(|a, b| a.train_images_per_s.total_cmp(&b.train_images_per_s));
        let mut median = runs.get(runs.len().saturating_sub(1) / 2)?.clone();
        if !evals.is_empty() {
            median.eval_images_per_s = Some(evals[(evals.len() - 1) / 2]);
        }
        Some(median)
    }
}

/// One measurement.
#[derive(Clone, Debug)]
pub struct BenchRow {
    pub arch: String,
    pub size: usize,
    pub batch_size: usize,
    pub steps: usize,
    pub seconds: f64,
    pub cost: Cost,
    /// Wall time of the timed inference-mode forward passes, when measured.
    pub eval_seconds: Option<f64>,
    /// CPU seconds (user + system, every thread) from the first timed step to the end of the last.
    pub cpu_seconds: Option<f64>,
    /// Wall seconds of the same span.
    pub wall_seconds: f64,
    /// `None` where /proc is missing.
    pub memory: Option<Memory>,
}

impl BenchRow {
    pub fn images_per_second(&self) -> f64 {
        (self.steps * self.batch_size) as f64 / self.seconds
    }

    pub fn eval_images_per_second(&self) -> Option<f64> {
        self.eval_seconds.map(|s| (self.steps * self.batch_size) as f64 / s)
    }

    /// Achieved training FLOP/s, estimated from the analytic count (training = 3 x forward).
    pub fn train_flops_per_second(&self) -> f64 {
        self.cost.train_flops() as f64 * self.images_per_second()
    }

    pub fn figures(&self) -> Figures {
        Figures {
            arch: self.arch.clone(),
            size: self.size,
            train_images_per_s: self.images_per_second(),
            eval_images_per_s: self.eval_images_per_second(),
            params: Some(self.cost.params),
            cpu_s: self.cpu_seconds,
            wall_s: Some(self.wall_seconds),
            memory: self.memory,
            train_flops: Some(self.cost.train_flops()),
        }
    }
}

/// Times `steps` training steps of `arch` on 3 x `size` x `size` inputs with a batch of `batch_size`.
pub fn measure(arch: &str, size: usize, batch_size: usize, steps: usize, device: &Device) -> Result<BenchRow> {
    measure_with(arch, size, batch_size, steps, false, device)
}

/// As [`measure`], and with `eval` also the same number of inference-mode forward passes (no
/// autodiff) on the same batch, after the same warm-up. Memory is read around the training steps
/// only; in a process that ran other cases before, its peak can be low (see the module note).
pub fn measure_with(
    arch: &str,
    size: usize,
    batch_size: usize,
    steps: usize,
    eval: bool,
    device: &Device,
) -> Result<BenchRow> {
    let entry = catalog::find(arch).ok_or_else(|| anyhow!(crate::catalog::unknown_architecture(arch)))?;
    let graph = entry.graph(&Spec::new(3, CLASSES, size))?;
    let cost = Cost::of(&graph);
    let reset = reset_peak();
    let base = rss_and_file();
    let train_device = device.clone().without_autodiff().autodiff();
    let mut net = init_net(graph, entry.family, &train_device, 0);
    let images = Tensor::<4>::random([batch_size, 3, size, size], Distribution::Normal(0.0, 1.0), &train_device);
    let labels: Vec<i64> = (0..batch_size).map(|i| (i % CLASSES) as i64).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch_size]), &train_device);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut optimizer = AdamConfig::new().init();
    let mut seconds = 0.0;
    let (mut after_warmup, mut after_mid, mut cpu_start, mut wall_start) = (None, None, None, Instant::now());
    for step in 0..WARMUP_STEPS + steps {
        if step == WARMUP_STEPS {
            after_warmup = rss();
            cpu_start = process_cpu_s_precise();
            wall_start = Instant::now();
        }
        if steps >= 2 && step == WARMUP_STEPS + steps / 2 {
            after_mid = rss();
        }
        let start = Instant::now();
        let loss = loss_fn.forward(net.forward(images.clone()), labels.clone());
        // Reading the loss waits for the backend to finish the step.
        let _ = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optimizer.step(5e-4, net, grads);
        if step >= WARMUP_STEPS {
            seconds += start.elapsed().as_secs_f64();
        }
    }
    let cpu_seconds = cpu_start.zip(process_cpu_s_precise()).map(|(start, end)| end - start);
    let wall_seconds = wall_start.elapsed().as_secs_f64();
    let memory = if reset { Memory::read(base, after_warmup, after_mid) } else { None };
    let eval_seconds = eval.then(|| {
        let plain = device.clone().without_autodiff();
        let net = net.valid();
        let images = Tensor::<4>::random([batch_size, 3, size, size], Distribution::Normal(0.0, 1.0), &plain);
        let mut seconds = 0.0;
        for step in 0..WARMUP_STEPS + steps {
            let start = Instant::now();
            let _ = net.forward(images.clone()).sum().into_scalar::<f32>();
            if step >= WARMUP_STEPS {
                seconds += start.elapsed().as_secs_f64();
            }
        }
        seconds
    });
    Ok(BenchRow {
        arch: arch.to_string(),
        size,
        batch_size,
        steps,
        seconds,
        cost,
        eval_seconds,
        cpu_seconds,
        wall_seconds,
        memory,
    })
}

/// One case as a child process prints it (`pepr bench train --case-json`): its figures as one
/// JSON line.
pub fn run_case_json(
    out: &mut impl Write,
    arch: &str,
    size: usize,
    batch_size: usize,
    steps: usize,
    eval: bool,
    threads: Option<usize>,
) -> Result<()> {
    let row =
        super::threads::with_threads(threads, || measure_with(arch, size, batch_size, steps, eval, &Device::flex()))??;
    writeln!(out, "{}", serde_json::to_string(&row.figures())?)?;
    Ok(())
}

/// How to run pepr's side of one case in a fresh process: this binary and the arguments that go
/// before `bench train` (the CLI passes `--home`).
#[derive(Clone, Debug)]
pub struct Child {
    pub program: PathBuf,
    pub leading_args: Vec<OsString>,
}

impl Child {
    fn measure(
        &self,
        arch: &str,
        size: usize,
        batch: usize,
        steps: usize,
        threads: usize,
        eval: bool,
    ) -> Result<Figures> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.leading_args)
            .args(["bench", "train", "--case-json", "--arch", arch, "--size", &size.to_string()])
            .args(["--batch-size", &batch.to_string(), "--steps", &steps.to_string()])
            .args(["--threads", &threads.to_string()]);
        if eval {
            cmd.arg("--eval");
        }
        let out = cmd.output().map_err(|e| anyhow!("cannot run {}: {e}", self.program.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("failed without a message");
            return Err(anyhow!("{}", last.strip_prefix("error: ").unwrap_or(last)));
        }
        parse_figures(&String::from_utf8_lossy(&out.stdout), arch, size, "pepr")
    }
}

/// The PyTorch + timm peer script and the Python that runs it.
#[derive(Clone, Debug)]
pub struct Peer {
    pub python: PathBuf,
    pub script: PathBuf,
}

impl Peer {
    /// The peer for `python`, with the script given or the one in pepr's source tree.
    pub fn new(python: PathBuf, script: Option<PathBuf>) -> Result<Peer> {
        let script =
            script.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer/torch_train.py"));
        if !script.is_file() {
            return Err(anyhow!("peer script {} not found (give it with --peer-script)", script.display()));
        }
        Ok(Peer { python, script })
    }

    /// Runs one case in its own process.
    pub fn measure(
        &self,
        arch: &str,
        size: usize,
        batch_size: usize,
        steps: usize,
        threads: usize,
        eval: bool,
    ) -> Result<Figures> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.script)
            .args(["--json", "--models", arch, "--sizes", &size.to_string()])
            .args(["--batch", &batch_size.to_string(), "--steps", &steps.to_string()])
            .args(["--warmup", &WARMUP_STEPS.to_string(), "--threads", &threads.to_string()]);
        if eval {
            cmd.arg("--eval");
        }
        let out = cmd.output().map_err(|e| anyhow!("cannot run {}: {e}", self.python.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
            return Err(anyhow!("{} {} failed: {last}", self.python.display(), self.script.display()));
        }
        parse_figures(&stdout, arch, size, "peer")
    }
}

/// The JSON line for this case in `stdout` (lines starting with `#` are comments), or its
/// `error` field as the error; `who` names the side in messages.
fn parse_figures(stdout: &str, arch: &str, size: usize, who: &str) -> Result<Figures> {
    for (number, line) in stdout.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| anyhow!("{who} output line {}: not a JSON object ({e}): {line:?}", number + 1))?;
        if value["arch"] != arch || value["size"] != size {
            continue;
        }
        if let Some(error) = value.get("error") {
            return Err(anyhow!("{who}: {}", error.as_str().unwrap_or("failed")));
        }
        return serde_json::from_value(value).map_err(|e| anyhow!("{who} output line {}: {e}", number + 1));
    }
    Err(anyhow!("{who} printed no line for {arch} at {size}"))
}

/// What `pepr bench train` measures besides training throughput, and where.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Also time inference-mode forward passes.
    pub eval: bool,
    /// Run the PyTorch peer on every case, right after pepr's.
    pub peer: Option<Peer>,
    /// Run pepr's side of every case in a fresh process (clean memory figures); `None`: in this one.
    pub child: Option<Child>,
    /// Measure each case this many times, pepr and the peer taking turns, and show each side's
    /// median run (0 counts as 1). Wall-clock figures of small cases moved up to 2x between runs
    /// on a quiet 2-core machine; a median of alternating runs is what a comparison can stand on.
    pub repeat: usize,
}

/// Measures every model at every size and prints a table as it goes, on `threads` CPU threads
/// (`None`: every core).
pub fn run(
    out: &mut (impl Write + Send),
    models: &[String],
    sizes: &[usize],
    batch_size: usize,
    steps: usize,
    options: &Options,
    threads: Option<usize>,
) -> Result<()> {
    run_reporting(out, models, sizes, batch_size, steps, options, threads, &mut |_, _, _| {})
}

/// [`run`], telling `progress` (cases done, cases in all, the case starting) before each case and
/// at the end, for the CLI's progress bar.
#[allow(clippy::too_many_arguments)]
pub fn run_reporting(
    out: &mut (impl Write + Send),
    models: &[String],
    sizes: &[usize],
    batch_size: usize,
    steps: usize,
    options: &Options,
    threads: Option<usize>,
    progress: &mut (dyn FnMut(usize, usize, &str) + Send),
) -> Result<()> {
    super::threads::with_threads(threads, || run_here(out, models, sizes, batch_size, steps, options, progress))?
}

fn run_here(
    out: &mut impl Write,
    models: &[String],
    sizes: &[usize],
    batch_size: usize,
    steps: usize,
    options: &Options,
    progress: &mut (dyn FnMut(usize, usize, &str) + Send),
) -> Result<()> {
    let device = Device::flex();
    let threads = rayon::current_num_threads();
    let peer = options.peer.as_ref();
    writeln!(
        out,
        "training on flex (CPU), {threads} threads, batch {batch_size}, {steps} timed steps after {WARMUP_STEPS} warm-up{}{}",
        if options.child.is_some() { ", each case in a fresh process" } else { "" },
        if peer.is_some() { "; PyTorch peer right after pepr, same case" } else { "" },
    )?;
    let repeat = options.repeat.max(1);
    if repeat > 1 {
        writeln!(
            out,
            "each case measured {repeat} times{}; each side's median run shown (by training images/s, with its memory and cores; inference: median of the runs)",
            if peer.is_some() { ", pepr and PyTorch taking turns" } else { "" }
        )?;
    }
    let table = Table {
        arch_width: models.iter().map(|m| m.chars().count()).max().unwrap_or(0).max(4),
        eval: options.eval,
        peer: peer.is_some(),
    };
    for line in table.header() {
        writeln!(out, "{line}")?;
    }
    let mut compared = Vec::new();
    let all = models.len() * sizes.len();
    let mut done = 0;
    for arch in models {
        for &size in sizes {
            progress(done, all, &format!("{arch} at {size}x{size}"));
            done += 1;
            let measure_ours = || match &options.child {
                Some(child) => child.measure(arch, size, batch_size, steps, threads, options.eval),
                None => measure_with(arch, size, batch_size, steps, options.eval, &device).map(|r| r.figures()),
            };
            // Turns: pepr, peer, pepr, peer, ... so a slow spell of the machine falls on both sides. A
            // side's first failure is its result; the peer failing does not stop pepr's runs.
            let (mut ours, mut theirs) = (Ok(Vec::new()), peer.map(|_| Ok(Vec::new())));
            for _ in 0..repeat {
                add_run(&mut ours, measure_ours());
                if ours.is_err() {
                    break;
                }
                if let (Some(p), Some(runs @ Ok(_))) = (peer, &mut theirs) {
                    add_run(runs, p.measure(arch, size, batch_size, steps, threads, options.eval));
                }
            }
            let median = |runs: Result<Vec<Figures>>| runs.map(|r| Figures::median_run(r).expect("one run at least"));
            let ours = match median(ours) {
                Ok(figures) => figures,
                Err(e) => {
                    writeln!(out, "{}  not measured: {e}", table.case(arch, size))?;
                    continue;
                }
            };
            let theirs = theirs.map(median);
            let mut line = table.row(&ours, theirs.as_ref().and_then(|t| t.as_ref().ok()));
            match theirs {
                Some(Ok(theirs)) => {
                    if ours.params.is_some() && theirs.params.is_some() && ours.params != theirs.params {
                        line += &format!(
                            "  not compared: parameters differ (pepr {}, PyTorch {})",
                            ours.params.unwrap_or(0),
                            theirs.params.unwrap_or(0)
                        );
                    }
                    compared.push(Compared { pepr: ours, peer: theirs });
                }
                Some(Err(e)) => line += &format!("  peer not measured: {e}"),
                None => {}
            }
            writeln!(out, "{line}")?;
            out.flush()?;
        }
    }
    progress(all, all, "");
    if peer.is_some() {
        write!(out, "{}", summarize(&compared, threads).text())?;
    }
    writeln!(
        out,
        "images/s: measured wall time of full training steps (eval: forward passes without autodiff). {}\
         step MiB: measured peak resident memory (VmHWM) over warm-up and timed steps minus the process's \
         before the model was built, both without file-backed pages (library code). growth: resident memory after the last step minus after warm-up (! \
         above {} MiB and {:.0}% of the step memory, and rising by half that in each half of the timed steps). cores busy: measured CPU time (user + system, every \
         thread) / wall time of the timed steps.",
        if peer.is_some() {
            ""
        } else {
            "FLOP/s: estimated, analytic training FLOPs per image (3 x forward, fvcore convention) x measured images/s. "
        },
        GROWTH_MIN_BYTES >> 20,
        GROWTH_MIN_SHARE * 100.0
    )?;
    Ok(())
}

/// Adds one run's figures to a side's runs, or turns them into that run's error.
fn add_run(runs: &mut Result<Vec<Figures>>, run: Result<Figures>) {
    match (runs.as_mut(), run) {
        (Ok(runs), Ok(figures)) => runs.push(figures),
        (Ok(_), Err(e)) => *runs = Err(e),
        (Err(_), _) => {}
    }
}

/// The printed table: fixed column widths, so each line can be printed as its case finishes.
struct Table {
    arch_width: usize,
    eval: bool,
    peer: bool,
}

impl Table {
    /// (group, title, width) of the figure columns, in order; a group runs to the next one.
    fn columns(&self) -> Vec<(&'static str, &'static str, usize)> {
        let mut columns = Vec::new();
        if self.peer {
            columns.extend([("training images/s", "pepr", 8), ("", "torch", 8), ("", "ratio", 5)]);
            if self.eval {
                columns.extend([("inference images/s", "pepr", 8), ("", "torch", 8), ("", "ratio", 5)]);
            }
            columns.extend([("step memory MiB", "pepr", 7), ("", "torch", 7), ("", "ratio", 5)]);
            columns.extend([("growth MiB", "pepr", 6), ("", "torch", 6)]);
            columns.extend([("cores busy", "pepr", 5), ("", "torch", 5)]);
        } else {
            columns.extend([("training", "images/s", 8), ("", "FLOP/s", 8)]);
            if self.eval {
                columns.push(("inference", "images/s", 9));
            }
            columns.extend([("step MiB", "peak", 8), ("", "growth", 6), ("cores", "busy", 5)]);
        }
        columns
    }

    fn case(&self, arch: &str, size: usize) -> String {
        format!("{arch:<w$} {:>7}", format!("{size}x{size}"), w = self.arch_width)
    }

    /// The cells after the case, two spaces before each group, one between its columns.
    fn join(&self, cells: &[String]) -> String {
        let mut line = String::new();
        for (cell, (group, _, width)) in cells.iter().zip(self.columns()) {
            line += if group.is_empty() { " " } else { "  " };
            line += &format!("{cell:>width$}");
        }
        line
    }

    fn header(&self) -> Vec<String> {
        let columns = self.columns();
        let titles: Vec<String> = columns.iter().map(|(_, title, _)| title.to_string()).collect();
        let mut groups = format!("{:w$}", "", w = self.arch_width + 8);
        for (i, (group, _, _)) in columns.iter().enumerate() {
            if !group.is_empty() {
                // Over the group's first column, where its cells start.
                let at = self.arch_width + 8 + self.join(&titles[..i]).chars().count() + 2;
                groups += &" ".repeat(at.saturating_sub(groups.chars().count()).max(1));
                groups += group;
            }
        }
        vec![groups, format!("{:<w$} {:>7}{}", "arch", "input", self.join(&titles), w = self.arch_width)]
    }

    fn row(&self, ours: &Figures, theirs: Option<&Figures>) -> String {
        let ratio = |a: Option<f64>, b: Option<f64>| fixed(a.zip(b).map(|(a, b)| a / b).filter(|r| r.is_finite()), 2);
        let growth = |f: Option<&Figures>| {
            let memory = f.and_then(|f| f.memory);
            memory.map_or_else(
                || fixed(None, 1),
                |m| format!("{:+.1}{}", m.growth_bytes() as f64 / MIB, if m.grows() { "!" } else { "" }),
            )
        };
        let cells: Vec<String> = if self.peer {
            let mut cells = vec![
                fixed(Some(ours.train_images_per_s), 1),
                fixed(theirs.map(|t| t.train_images_per_s), 1),
                ratio(Some(ours.train_images_per_s), theirs.map(|t| t.train_images_per_s)),
            ];
            if self.eval {
                let theirs = theirs.and_then(|t| t.eval_images_per_s);
                cells.extend([
                    fixed(ours.eval_images_per_s, 1),
                    fixed(theirs, 1),
                    ratio(ours.eval_images_per_s, theirs),
                ]);
            }
            let their_mib = theirs.and_then(Figures::step_mib);
            cells.extend([fixed(ours.step_mib(), 1), fixed(their_mib, 1), ratio(ours.step_mib(), their_mib)]);
            cells.extend([growth(Some(ours)), growth(theirs)]);
            cells.extend([fixed(ours.cores_busy(), 2), fixed(theirs.and_then(Figures::cores_busy), 2)]);
            cells
        } else {
            let flops = ours.train_flops.map(|f| f as f64 * ours.train_images_per_s);
            let mut cells = vec![
                fixed(Some(ours.train_images_per_s), 1),
                flops.map_or_else(|| fixed(None, 0), |f| human_count(f as u64)),
            ];
            if self.eval {
                cells.push(fixed(ours.eval_images_per_s, 1));
            }
            cells.extend([fixed(ours.step_mib(), 1), growth(Some(ours)), fixed(ours.cores_busy(), 2)]);
            cells
        };
        self.case(&ours.arch, ours.size) + &self.join(&cells)
    }
}

/// One case measured on both sides.
#[derive(Clone, Debug)]
pub struct Compared {
    pub pepr: Figures,
    pub peer: Figures,
}

fn label(f: &Figures) -> String {
    format!("{}@{}", f.arch, f.size)
}

/// Geometric mean, lowest and highest of per-case values.
#[derive(Clone, Debug, PartialEq)]
pub struct Spread {
    pub cases: usize,
    pub geomean: f64,
    pub lowest: (f64, String),
    pub highest: (f64, String),
}

impl Spread {
    /// Over the positive, finite values; `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = (String, f64)>) -> Option<Spread> {
        let values: Vec<(String, f64)> = values.into_iter().filter(|(_, v)| v.is_finite() && *v > 0.0).collect();
        let first = values.first()?;
        let mut spread = Spread {
            cases: values.len(),
            geomean: (values.iter().map(|(_, v)| v.ln()).sum::<f64>() / values.len() as f64).exp(),
            lowest: (first.1, first.0.clone()),
            highest: (first.1, first.0.clone()),
        };
        for (case, v) in &values {
            if *v < spread.lowest.0 {
                spread.lowest = (*v, case.clone());
            }
            if *v > spread.highest.0 {
                spread.highest = (*v, case.clone());
            }
        }
        Some(spread)
    }
}

/// The comparison against issue 12's targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub threads: usize,
    /// Cases measured on both sides with the same parameter count.
    pub cases: usize,
    /// Cases left out because the two models' parameter counts differ.
    pub mismatched: Vec<String>,
    /// pepr / PyTorch images/s.
    pub train: Option<Spread>,
    pub eval: Option<Spread>,
    /// pepr / PyTorch step memory.
    pub memory: Option<Spread>,
    /// "resnet18@64 +12.0 MiB": pepr's cases whose memory grew across the timed steps.
    pub growing: Vec<String>,
    /// The same for PyTorch: shown beside the check, which is pepr's alone (Deliver 2 asks it of pepr).
    pub peer_growing: Vec<String>,
    /// Whether pepr's growth could be checked at all (its memory figures were measured).
    pub growth_measured: bool,
    /// Cores busy (CPU time / wall time), per side.
    pub pepr_busy: Option<Spread>,
    pub peer_busy: Option<Spread>,
}

/// One target: what it asks, what was measured, whether it holds (`None`: not measured).
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub what: String,
    pub measured: String,
    pub holds: Option<bool>,
}

pub fn summarize(cases: &[Compared], threads: usize) -> Summary {
    let (same, mismatched): (Vec<&Compared>, Vec<&Compared>) = cases
        .iter()
        .partition(|c| c.pepr.params.is_none() || c.peer.params.is_none() || c.pepr.params == c.peer.params);
    let ratios = |f: &dyn Fn(&Figures) -> Option<f64>| {
        Spread::of(same.iter().filter_map(|c| Some((label(&c.pepr), f(&c.pepr)? / f(&c.peer)?))))
    };
    let growing_of = |side: &dyn Fn(&Compared) -> &Figures| -> Vec<String> {
        let grown = same.iter().map(|c| side(c)).filter(|f| f.memory.is_some_and(|m| m.grows()));
        grown
            .map(|f| format!("{} {:+.1} MiB", label(f), f.memory.map_or(0, |m| m.growth_bytes()) as f64 / MIB))
            .collect()
    };
    let growth_measured = same.iter().any(|c| c.pepr.memory.is_some());
    let busy = |side: &dyn Fn(&Compared) -> &Figures| {
        Spread::of(same.iter().filter_map(|c| Some((label(side(c)), side(c).cores_busy()?))))
    };
    Summary {
        threads,
        cases: same.len(),
        mismatched: mismatched.iter().map(|c| label(&c.pepr)).collect(),
        train: ratios(&|f| Some(f.train_images_per_s)),
        eval: ratios(&|f| f.eval_images_per_s),
        memory: ratios(&|f| f.step_mib()),
        growing: growing_of(&|c| &c.pepr),
        peer_growing: growing_of(&|c| &c.peer),
        growth_measured,
        pepr_busy: busy(&|c| &c.pepr),
        peer_busy: busy(&|c| &c.peer),
    }
}

impl Summary {
    pub fn checks(&self) -> Vec<Check> {
        let mean = |s: &Option<Spread>, what: &str| Check {
            what: format!("{what}: geometric mean >= {TARGET_MEAN:.2}"),
            measured: s.as_ref().map_or("not measured".into(), |s| format!("{:.2}", s.geomean)),
            holds: s.as_ref().map(|s| s.geomean >= TARGET_MEAN),
        };
        let lowest = |s: &Option<Spread>, what: &str| Check {
            what: format!("{what}: no case < {TARGET_LOWEST:.2}"),
            measured: s.as_ref().map_or("not measured".into(), |s| format!("lowest {:.2} {}", s.lowest.0, s.lowest.1)),
            holds: s.as_ref().map(|s| s.lowest.0 >= TARGET_LOWEST),
        };
        let busy_target = BUSY_SHARE * self.threads as f64;
        vec![
            mean(&self.train, "training pepr/PyTorch images/s"),
            lowest(&self.train, "training"),
            mean(&self.eval, "inference pepr/PyTorch images/s"),
            lowest(&self.eval, "inference"),
            Check {
                what: format!("step memory pepr/PyTorch <= {MEMORY_BOUND:.2} in every case"),
                measured: self
                    .memory
                    .as_ref()
                    .map_or("not measured".into(), |s| format!("highest {:.2} {}", s.highest.0, s.highest.1)),
                holds: self.memory.as_ref().map(|s| s.highest.0 <= MEMORY_BOUND),
            },
            Check {
                what: "no memory growth across pepr's steps".into(),
                measured: if !self.growth_measured {
                    "not measured".into()
                } else {
                    let pepr = if self.growing.is_empty() { "none".into() } else { self.growing.join(", ") };
                    let peer = if self.peer_growing.is_empty() {
                        String::new()
                    } else {
                        format!(" (PyTorch: {})", self.peer_growing.join(", "))
                    };
                    pepr + &peer
                },
                holds: self.growth_measured.then_some(self.growing.is_empty()),
            },
            Check {
                what: format!("both cores busy: pepr's mean cores busy >= {busy_target:.2} of {}", self.threads),
                measured: self.pepr_busy.as_ref().map_or("not measured".into(), |s| {
                    let peer = self.peer_busy.as_ref().map_or(String::new(), |p| format!("; PyTorch {:.2}", p.geomean));
                    format!("{:.2} (lowest {:.2} {}){peer}", s.geomean, s.lowest.0, s.lowest.1)
                }),
                holds: self.pepr_busy.as_ref().map(|s| s.geomean >= busy_target),
            },
        ]
    }

    /// The summary lines printed under the table.
    pub fn text(&self) -> String {
        let mut text =
            format!("summary over {} cases measured on both sides ({} threads):\n", self.cases, self.threads);
        if !self.mismatched.is_empty() {
            text += &format!("  left out, parameter counts differ: {}\n", self.mismatched.join(", "));
        }
        let checks = self.checks();
        let width = checks.iter().map(|c| c.what.chars().count()).max().unwrap_or(0);
        for c in &checks {
            let verdict = match c.holds {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            };
            text += &format!("  {:<width$}  {verdict:<3}  {}\n", c.what, c.measured);
        }
        let failed: Vec<&str> =
            checks.iter().filter(|c| c.holds == Some(false)).map(|c| c.what.split(':').next().unwrap_or("")).collect();
        let unmeasured = checks.iter().any(|c| c.holds.is_none());
        text += &format!(
            "issue 12 targets (Deliver 1 and 2): {}\n",
            if !failed.is_empty() {
                format!("NOT MET ({} of {} checks fail)", failed.len(), checks.len())
            } else if unmeasured || self.cases == 0 {
                "not all measured (--eval adds inference)".into()
            } else {
                "met".into()
            }
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn measures_a_small_model() {
        let row = measure("pepr_lenet5", 28, 4, 1, &Device::flex()).unwrap();
        assert!(row.seconds > 0.0 && row.images_per_second() > 0.0);
        assert_eq!(row.train_flops_per_second(), row.cost.train_flops() as f64 * row.images_per_second());
        assert!(measure("nope", 28, 4, 1, &Device::flex()).is_err());
        assert!(measure("densenet121", 28, 4, 1, &Device::flex()).unwrap_err().to_string().contains("too small"));
        let row = measure_with("pepr_lenet5", 28, 4, 1, true, &Device::flex()).unwrap();
        assert!(row.eval_images_per_second().unwrap() > 0.0);
        // Linux: CPU time and memory are read; the step holds at least the batch (4 x 3 x 28 x 28 f32).
        assert!(row.cpu_seconds.unwrap() > 0.0 && row.wall_seconds >= row.seconds);
        let memory = row.memory.unwrap();
        assert!(memory.peak >= memory.after_last.max(memory.after_warmup) && memory.base > 0);
        let figures = row.figures();
        assert_eq!(figures.params, Some(62_006));
        assert!(figures.cores_busy().unwrap() > 0.0);
    }

    fn figures(arch: &str, train: f64, eval: Option<f64>, step_mb: u64, growth_mb: u64, busy: f64) -> Figures {
        Figures {
            arch: arch.into(),
            size: 64,
            train_images_per_s: train,
            eval_images_per_s: eval,
            params: Some(1000),
            cpu_s: Some(busy),
            wall_s: Some(1.0),
            memory: Some(Memory {
                base: 100 * MB,
                peak: (100 + step_mb) * MB,
                after_warmup: 150 * MB,
                after_mid: None,
                after_last: (150 + growth_mb) * MB,
                file_base: 0,
                file_end: 0,
            }),
            train_flops: None,
        }
    }

    #[test]
    fn reads_the_json_line_of_its_case() {
        let good = r#"{"arch": "resnet18", "size": 28, "train_images_per_s": 290.5, "eval_images_per_s": 800.25, "params": 11, "cpu_s": 3.0, "wall_s": 2.0, "memory": {"base": 10, "peak": 30, "after_warmup": 25, "after_last": 26, "file_base": 4, "file_end": 6}}"#;
        let out = format!(
            "# torch 2.15, 2 threads\n{good}\n{}\n{}\n",
            r#"{"arch": "resnet18", "size": 64, "train_images_per_s": 120.0}"#,
            r#"{"arch": "net", "size": 28, "error": "too small"}"#
        );
        let f = parse_figures(&out, "resnet18", 28, "peer").unwrap();
        assert_eq!((f.train_images_per_s, f.eval_images_per_s, f.params), (290.5, Some(800.25), Some(11)));
        assert_eq!(
            (f.cores_busy(), f.memory.unwrap().step_bytes(), f.memory.unwrap().growth_bytes()),
            (Some(1.5), 18, 1)
        );
        let f = parse_figures(&out, "resnet18", 64, "peer").unwrap();
        assert_eq!((f.train_images_per_s, f.eval_images_per_s, f.memory, f.cores_busy()), (120.0, None, None, None));
        assert_eq!(parse_figures(&out, "net", 28, "peer").unwrap_err().to_string(), "peer: too small");
        assert!(parse_figures(&out, "resnet50", 28, "peer").unwrap_err().to_string().contains("no line"));
        let e = parse_figures("resnet18 28 290.5\n", "resnet18", 28, "peer").unwrap_err().to_string();
        assert!(e.contains("line 1: not a JSON object"), "{e}");
        let e = parse_figures(r#"{"arch": "a", "size": 1, "train_images_per_s": "fast"}"#, "a", 1, "pepr");
        assert!(e.unwrap_err().to_string().starts_with("pepr output line 1"));
    }

    #[test]
    fn growth_is_flagged_above_noise_only() {
        let m = |step: u64, growth: u64| figures("a", 1.0, None, step, growth, 1.0).memory.unwrap();
        assert!(!m(100, 2).grows(), "2 MiB is allocator noise");
        assert!(m(100, 6).grows(), "6 MiB is above 2 MiB and 5% of 100 MiB");
        assert!(!m(1000, 40).grows(), "40 MiB is under 5% of 1000 MiB");
        let shrinks =
            Memory { base: 0, peak: 10, after_warmup: 10, after_mid: None, after_last: 5, file_base: 0, file_end: 0 };
        assert!(!shrinks.grows());
        // Library code faulted in during the case (RssFile 40 -> 90) is not step memory.
        let m = Memory {
            base: 100,
            peak: 300,
            after_warmup: 250,
            after_mid: None,
            after_last: 250,
            file_base: 40,
            file_end: 90,
        };
        assert_eq!(m.step_bytes(), (300 - 90) - (100 - 40));
    }

    #[test]
    fn the_median_run_keeps_its_own_memory_and_takes_the_median_inference() {
        let run = |train: f64, eval: Option<f64>, growth_mb: u64| figures("a", train, eval, 100, growth_mb, 1.0);
        let runs = vec![run(300.0, Some(5.0), 3), run(100.0, Some(9.0), 1), run(200.0, Some(7.0), 2)];
        let median = Figures::median_run(runs).unwrap();
        assert_eq!((median.train_images_per_s, median.eval_images_per_s), (200.0, Some(7.0)));
        assert_eq!(median.memory.unwrap().growth_bytes(), 2 * MB as i64, "the memory of the 200 images/s run");
        // An even count takes the lower middle run; runs without inference leave it out.
        let runs = vec![run(4.0, None, 0), run(1.0, Some(2.0), 0), run(3.0, None, 0), run(2.0, Some(4.0), 0)];
        assert_eq!(
            Figures::median_run(runs).map(|f| (f.train_images_per_s, f.eval_images_per_s)),
            Some((2.0, Some(2.0)))
        );
        assert!(Figures::median_run(Vec::new()).is_none());
    }

    #[test]
    fn growth_must_go_on_through_both_halves_of_the_steps() {
        // 100 MiB steps: the threshold is 5 MiB, so each half must rise by more than 2.5 MiB.
        let m = |mid: u64, last: u64| {
            let mut m = figures("a", 1.0, None, 100, 0, 1.0).memory.unwrap();
            (m.after_mid, m.after_last) = (Some(m.after_warmup + mid * MB), m.after_warmup + last * MB);
            m
        };
        assert!(m(4, 8).grows(), "4 MiB then 4 more: a steady rise");
        assert!(!m(8, 8).grows(), "one 8 MiB jump in the first half, none after");
        assert!(!m(0, 8).grows(), "one 8 MiB jump in the second half");
        assert!(!m(12, 8).grows(), "up 12, then down 4");
        assert!(!m(2, 4).grows(), "4 MiB in all is under the threshold");
        // Without the midpoint (older figures, or one timed step) the total alone decides.
        let mut m = m(0, 8);
        m.after_mid = None;
        assert!(m.grows());
    }

    #[test]
    fn spread_is_the_geometric_mean_lowest_and_highest() {
        let s = Spread::of([("a".into(), 0.5), ("b".into(), 2.0), ("c".into(), 1.0), ("d".into(), f64::NAN)]).unwrap();
        assert!((s.geomean - 1.0).abs() < 1e-12);
        assert_eq!((s.cases, s.lowest, s.highest), (3, (0.5, "a".into()), (2.0, "b".into())));
        assert!(Spread::of([("z".into(), 0.0)]).is_none());
    }

    #[test]
    fn the_summary_checks_every_target() {
        // pepr/PyTorch: training 0.5 and 2.0 (mean 1.0, lowest 0.5 < 0.7), memory 1.2 and 1.5 (> 1.25),
        // pepr's second case grows by 10 MiB (PyTorch's first by 8: shown, not judged), cores busy 1.8 and
        // 1.4 (mean 1.59 < 1.6 of 2).
        let cases = vec![
            Compared {
                pepr: figures("a", 50.0, Some(100.0), 120, 0, 1.8),
                peer: figures("a", 100.0, Some(100.0), 100, 8, 1.9),
            },
            Compared {
                pepr: figures("b", 200.0, Some(100.0), 150, 10, 1.4),
                peer: figures("b", 100.0, Some(50.0), 100, 0, 1.9),
            },
        ];
        let s = summarize(&cases, 2);
        assert_eq!((s.cases, s.growing.clone()), (2, vec!["b@64 +10.0 MiB".to_string()]));
        assert_eq!(s.peer_growing, ["a@64 +8.0 MiB"]);
        let holds: Vec<Option<bool>> = s.checks().iter().map(|c| c.holds).collect();
        assert_eq!(holds, [Some(true), Some(false), Some(true), Some(true), Some(false), Some(false), Some(false)]);
        assert!((s.eval.as_ref().unwrap().geomean - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.memory.as_ref().unwrap().highest, (1.5, "b@64".into()));
        let text = s.text();
        assert!(text.contains("NOT MET (4 of 7 checks fail)"), "{text}");
        assert!(text.contains("lowest 0.50 a@64"), "{text}");
        assert!(text.contains("b@64 +10.0 MiB (PyTorch: a@64 +8.0 MiB)"), "{text}");

        // PyTorch's growth alone does not fail pepr's check.
        let cases =
            [Compared { pepr: figures("a", 100.0, None, 100, 0, 1.9), peer: figures("a", 100.0, None, 100, 9, 1.9) }];
        let growth = summarize(&cases, 2).checks()[5].clone();
        assert_eq!((growth.holds, growth.measured.as_str()), (Some(true), "none (PyTorch: a@64 +9.0 MiB)"));

        // Everything within the targets; a case whose parameter counts differ is left out.
        let mut other = figures("c", 1.0, Some(1.0), 500, 0, 0.1);
        other.params = Some(999);
        let cases = vec![
            Compared {
                pepr: figures("a", 100.0, Some(100.0), 100, 0, 1.9),
                peer: figures("a", 100.0, Some(90.0), 100, 0, 1.9),
            },
            Compared { pepr: other.clone(), peer: figures("c", 100.0, Some(100.0), 100, 0, 1.9) },
        ];
        let s = summarize(&cases, 2);
        assert_eq!((s.cases, s.mismatched.clone()), (1, vec!["c@64".to_string()]));
        assert!(s.checks().iter().all(|c| c.holds == Some(true)), "{:?}", s.checks());
        assert!(s.text().ends_with("issue 12 targets (Deliver 1 and 2): met\n"), "{}", s.text());

        // Without --eval and without memory figures: those checks are not measured, not passed.
        let mut bare = figures("a", 100.0, None, 0, 0, 1.9);
        bare.memory = None;
        let s = summarize(&[Compared { pepr: bare.clone(), peer: bare }], 2);
        let holds: Vec<Option<bool>> = s.checks().iter().map(|c| c.holds).collect();
        assert_eq!(holds, [Some(true), Some(true), None, None, None, None, Some(true)]);
        assert!(s.text().contains("not all measured"), "{}", s.text());
    }

    #[test]
    fn table_lines_line_up() {
        for (peer, eval) in [(true, true), (true, false), (false, true), (false, false)] {
            let table = Table { arch_width: 13, eval, peer };
            let header = table.header();
            let f = figures("pepr_resnet20", 1234.5, Some(2345.6), 100, 10, 1.5);
            let row = table.row(&f, Some(&f));
            assert_eq!(header[1].chars().count(), row.chars().count(), "{}\n{row}", header[1]);
            assert!(header[0].chars().count() <= row.chars().count() + 12, "{}", header[0]);
            assert!(row.contains("+10.0!"), "{row}");
        }
        let row = Table { arch_width: 4, eval: false, peer: true }.row(&figures("a", 10.0, None, 1, 0, 1.0), None);
        assert!(row.contains("—"), "a missing peer shows dashes: {row}");
    }
}
