//! `pepr bench train`: training throughput (images per second) of catalog models on the chosen
//! backend, measured over a fixed number of full training steps (forward, backward, Adam) on a
//! constant random batch, after warm-up steps. For comparing pepr with other frameworks on the same
//! machine; nothing here is stored as a run. `--eval` also times inference-mode forward passes, and
//! `--compare PYTHON` runs the PyTorch + timm peer (`benches/peer/torch_train.py`) on each case right
//! after pepr's, with the same batch, steps and threads, and prints the ratio.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, anyhow};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

use super::init_net;
use crate::catalog::{self, Cost, Spec};
use crate::format::human_count;

/// The models measured when none are named: pepr's small ones and a few small timm ones.
pub const DEFAULT_MODELS: &[&str] = &["pepr_lenet5", "pepr_resnet8", "pepr_resnet20", "mobilenetv2_050", "resnet18"];
pub const DEFAULT_SIZES: &[usize] = &[28, 64];
const WARMUP_STEPS: usize = 2;
const CLASSES: usize = 10;

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
}

/// Times `steps` training steps of `arch` on 3 x `size` x `size` inputs with a batch of `batch_size`.
pub fn measure(arch: &str, size: usize, batch_size: usize, steps: usize, device: &Device) -> Result<BenchRow> {
    measure_with(arch, size, batch_size, steps, false, device)
}

/// As [`measure`], and with `eval` also the same number of inference-mode forward passes (no
/// autodiff) on the same batch, after the same warm-up.
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
    let train_device = device.clone().without_autodiff().autodiff();
    let mut net = init_net(graph, entry.family, &train_device, 0);
    let images = Tensor::<4>::random([batch_size, 3, size, size], Distribution::Normal(0.0, 1.0), &train_device);
    let labels: Vec<i64> = (0..batch_size).map(|i| (i % CLASSES) as i64).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch_size]), &train_device);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut optimizer = AdamConfig::new().init();
    let mut seconds = 0.0;
    for step in 0..WARMUP_STEPS + steps {
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
    Ok(BenchRow { arch: arch.to_string(), size, batch_size, steps, seconds, cost, eval_seconds })
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

    /// Runs one case; returns training and (with `eval`) inference images/s.
    pub fn measure(
        &self,
        arch: &str,
        size: usize,
        batch_size: usize,
        steps: usize,
        threads: usize,
        eval: bool,
    ) -> Result<(f64, Option<f64>)> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.script)
            .args(["--models", arch, "--sizes", &size.to_string()])
            .args(["--batch", &batch_size.to_string(), "--steps", &steps.to_string()])
            .args(["--warmup", &WARMUP_STEPS.to_string(), "--threads", &threads.to_string()]);
        if eval {
            cmd.arg("--eval");
        }
        let out = cmd.output().map_err(|e| anyhow!("cannot run {}: {e}", self.python.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().last().unwrap_or("");
            return Err(anyhow!("{} {} failed: {last}", self.python.display(), self.script.display()));
        }
        parse_peer_line(&stdout, arch, size)
    }
}

/// The peer's line `arch size train [eval]` for this case, or its error line.
fn parse_peer_line(stdout: &str, arch: &str, size: usize) -> Result<(f64, Option<f64>)> {
    let size = size.to_string();
    for line in stdout.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 3 && fields[0] == arch && fields[1] == size {
            if fields[2] == "error" {
                return Err(anyhow!("peer: {}", fields[3..].join(" ")));
            }
            let number =
                |s: &str| s.parse::<f64>().map_err(|_| anyhow!("peer printed {line:?}: {s:?} is not a number"));
            let train = number(fields[2])?;
            let eval = fields.get(3).map(|s| number(s)).transpose()?;
            return Ok((train, eval));
        }
    }
    Err(anyhow!("the peer printed no line for {arch} at {size}"))
}

/// What `pepr bench train` measures besides training throughput.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Also time inference-mode forward passes.
    pub eval: bool,
    /// Run the PyTorch peer on every case, right after pepr's.
    pub peer: Option<Peer>,
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
    writeln!(
        out,
        "training throughput on flex (CPU), {threads} threads, batch {batch_size}, {steps} timed steps after {WARMUP_STEPS} warm-up"
    )?;
    let mut header =
        format!("{:<20} {:>6} {:>12} {:>16} {:>22}", "arch", "input", "images/s", "s per step", "train FLOP/s (est.)");
    if options.eval {
        header += &format!(" {:>10}", "eval im/s");
    }
    if options.peer.is_some() {
        header += &format!(" {:>12} {:>8}", "torch im/s", "ratio");
        if options.eval {
            header += &format!(" {:>12} {:>8}", "torch eval", "ratio");
        }
    }
    writeln!(out, "{header}")?;
    let (mut log_ratio, mut log_eval_ratio, mut cases) = (0.0, 0.0, 0usize);
    let all = models.len() * sizes.len();
    let mut done = 0;
    for arch in models {
        for &size in sizes {
            progress(done, all, &format!("{arch} at {size}x{size}"));
            done += 1;
            let row = match measure_with(arch, size, batch_size, steps, options.eval, &device) {
                Ok(row) => row,
                Err(e) => {
                    writeln!(out, "{arch:<20} {:>6}  not measured: {e}", format!("{size}x{size}"))?;
                    continue;
                }
            };
            let mut line = format!(
                "{:<20} {:>6} {:>12.1} {:>16.4} {:>22}",
                row.arch,
                format!("{size}x{size}"),
                row.images_per_second(),
                row.seconds / steps as f64,
                human_count(row.train_flops_per_second() as u64)
            );
            if let Some(eval) = row.eval_images_per_second() {
                line += &format!(" {eval:>10.1}");
            }
            if let Some(peer) = &options.peer {
                match peer.measure(arch, size, batch_size, steps, threads, options.eval) {
                    Ok((train, eval)) => {
                        let ratio = row.images_per_second() / train;
                        line += &format!(" {train:>12.1} {ratio:>8.2}");
                        log_ratio += ratio.ln();
                        if let (Some(ours), Some(theirs)) = (row.eval_images_per_second(), eval) {
                            line += &format!(" {theirs:>12.1} {:>8.2}", ours / theirs);
                            log_eval_ratio += (ours / theirs).ln();
                        }
                        cases += 1;
                    }
                    Err(e) => line += &format!("  peer not measured: {e}"),
                }
            }
            writeln!(out, "{line}")?;
            out.flush()?;
        }
    }
    progress(all, all, "");
    if cases > 0 {
        write!(
            out,
            "geometric mean of pepr/torch over {cases} cases: training {:.2}",
            (log_ratio / cases as f64).exp()
        )?;
        if options.eval {
            write!(out, ", inference {:.2}", (log_eval_ratio / cases as f64).exp())?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "images/s: measured wall time of full training steps (eval: forward passes without autodiff). FLOP/s: \
         estimated, analytic training FLOPs per image (3 x forward, fvcore convention) x measured images/s."
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_small_model() {
        let row = measure("pepr_lenet5", 28, 4, 1, &Device::flex()).unwrap();
        assert!(row.seconds > 0.0 && row.images_per_second() > 0.0);
        assert_eq!(row.train_flops_per_second(), row.cost.train_flops() as f64 * row.images_per_second());
        assert!(measure("nope", 28, 4, 1, &Device::flex()).is_err());
        assert!(measure("densenet121", 28, 4, 1, &Device::flex()).unwrap_err().to_string().contains("too small"));
        let row = measure_with("pepr_lenet5", 28, 4, 1, true, &Device::flex()).unwrap();
        assert!(row.eval_images_per_second().unwrap() > 0.0);
    }

    #[test]
    fn reads_the_peer_line_of_its_case() {
        let out = "# torch 2.15, 2 threads\nresnet18 28 290.5 800.25\nresnet18 64 120.0\nnet 28 error too small\n";
        assert_eq!(parse_peer_line(out, "resnet18", 28).unwrap(), (290.5, Some(800.25)));
        assert_eq!(parse_peer_line(out, "resnet18", 64).unwrap(), (120.0, None));
        assert!(parse_peer_line(out, "net", 28).unwrap_err().to_string().contains("too small"));
        assert!(parse_peer_line(out, "resnet50", 28).unwrap_err().to_string().contains("no line"));
        assert!(
            parse_peer_line("resnet18 28 fast\n", "resnet18", 28).unwrap_err().to_string().contains("not a number")
        );
    }
}
