//! `pepr bench train`: training throughput (images per second) of catalog models on the chosen
//! backend, measured over a fixed number of full training steps (forward, backward, Adam) on a
//! constant random batch, after warm-up steps. For comparing pepr with other frameworks on the same
//! machine; nothing here is stored as a run.

use std::io::Write;
use std::time::Instant;

use anyhow::{Result, anyhow};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

use super::init_net;
use crate::catalog::{self, Cost, Spec};
use crate::ui::human_count;

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
}

impl BenchRow {
    pub fn images_per_second(&self) -> f64 {
        (self.steps * self.batch_size) as f64 / self.seconds
    }

    /// Achieved training FLOP/s, estimated from the analytic count (training = 3 x forward).
    pub fn train_flops_per_second(&self) -> f64 {
        self.cost.train_flops() as f64 * self.images_per_second()
    }
}

/// Times `steps` training steps of `arch` on 3 x `size` x `size` inputs with a batch of `batch_size`.
pub fn measure(arch: &str, size: usize, batch_size: usize, steps: usize, device: &Device) -> Result<BenchRow> {
    let entry = catalog::find(arch).ok_or_else(|| anyhow!("no architecture named {arch:?} (see `pepr archs`)"))?;
    let graph = entry.graph(&Spec::new(3, CLASSES, size))?;
    let cost = Cost::of(&graph);
    let train_device = device.clone().without_autodiff().autodiff();
    let mut net = init_net(graph, &train_device, 0);
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
    Ok(BenchRow { arch: arch.to_string(), size, batch_size, steps, seconds, cost })
}

/// Measures every model at every size and prints a table as it goes, on `threads` CPU threads
/// (`None`: every core).
pub fn run(
    out: &mut (impl Write + Send),
    models: &[String],
    sizes: &[usize],
    batch_size: usize,
    steps: usize,
    threads: Option<usize>,
) -> Result<()> {
    super::threads::with_threads(threads, || run_here(out, models, sizes, batch_size, steps))?
}

fn run_here(out: &mut impl Write, models: &[String], sizes: &[usize], batch_size: usize, steps: usize) -> Result<()> {
    let device = Device::flex();
    let threads = rayon::current_num_threads();
    writeln!(
        out,
        "training throughput on flex (CPU), {threads} threads, batch {batch_size}, {steps} timed steps after {WARMUP_STEPS} warm-up"
    )?;
    writeln!(
        out,
        "{:<20} {:>6} {:>12} {:>16} {:>22}",
        "arch", "input", "images/s", "s per step", "train FLOP/s (est.)"
    )?;
    for arch in models {
        for &size in sizes {
            match measure(arch, size, batch_size, steps, &device) {
                Ok(row) => writeln!(
                    out,
                    "{:<20} {:>6} {:>12.1} {:>16.4} {:>22}",
                    row.arch,
                    format!("{size}x{size}"),
                    row.images_per_second(),
                    row.seconds / steps as f64,
                    human_count(row.train_flops_per_second() as u64)
                )?,
                Err(e) => writeln!(out, "{arch:<20} {:>6}  not measured: {e}", format!("{size}x{size}"))?,
            }
            out.flush()?;
        }
    }
    writeln!(
        out,
        "images/s: measured wall time of full training steps. FLOP/s: estimated, analytic training FLOPs per image \
         (3 x forward, fvcore convention) x measured images/s."
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
    }
}
