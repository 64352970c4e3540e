//! Training a catalog architecture on a dataset: Adam on cross-entropy, the test split evaluated after
//! every epoch, progress reported by callback, a stop flag checked between steps. The result becomes a
//! [`RunRecord`](crate::results::record::RunRecord) ([`record`]) and a checkpoint ([`checkpoint`]).

pub mod alloc;
pub mod bench;
pub mod memory;
pub mod metric;
pub mod record;
pub mod threads;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use crate::catalog::net::Net;
use crate::catalog::{self, Spec};
use crate::data::{BatchOptions, Dataset, SplitName};
use crate::home::Home;
use crate::results::record::RunStatus;
use crate::weights;

mod check;

use crate::data::Input;
use crate::meter::backend;
pub use check::check;
pub use metric::Metric;

/// What to train, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub arch: String,
    pub dataset: String,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Share of the training split kept (a seeded, stratified subset); val and test stay whole.
    pub fraction: f64,
    /// Seeds the initial weights, the subset and the data order.
    pub seed: u64,
    pub metric: Metric,
    pub backend: backend::Backend,
    /// Where the initial weights come from: `None` trains from scratch; otherwise a weights source
    /// (an imported weights name, or `run:ID` for an earlier run's checkpoint), named in the record.
    pub pretrained: Option<String>,
    /// Fine-tune only the classifier head; every other layer keeps its starting weights.
    pub freeze_backbone: bool,
    /// The comparison group, when a caller (e.g. an experiment grid) names it; otherwise derived
    /// from the dataset, fraction and start (see `record::group_name`).
    pub group: Option<String>,
    /// The experiment-grid cell this run fills, so a resumed grid can skip it.
    pub grid_cell: Option<String>,
    /// How the run's power, energy, CO2 and FLOP/s are metered.
    pub meter: crate::meter::MeterSettings,
    /// CPU threads for this run (its own thread pool); `None`: every core (rayon's global pool,
    /// which honours RAYON_NUM_THREADS).
    pub threads: Option<usize>,
    /// Record the paper's conventions: last-epoch training time, energy including the PUE
    /// (carbontracker's 1.58), so the run compares with the paper's imported runs.
    pub paper_conventions: bool,
}

impl TrainConfig {
    pub const DEFAULT_EPOCHS: usize = 10;
    pub const DEFAULT_BATCH_SIZE: usize = 32;
    pub const DEFAULT_LR: f64 = 5e-4;

    pub fn new(arch: impl Into<String>, dataset: impl Into<String>) -> TrainConfig {
        TrainConfig {
            arch: arch.into(),
            dataset: dataset.into(),
            epochs: Self::DEFAULT_EPOCHS,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            lr: Self::DEFAULT_LR,
            fraction: 1.0,
            seed: 0,
            metric: Metric::Accuracy,
            backend: backend::Backend::Cpu,
            pretrained: None,
            freeze_backbone: false,
            group: None,
            grid_cell: None,
            meter: crate::meter::MeterSettings::default(),
            threads: None,
            paper_conventions: false,
        }
    }
}

/// What training reports while it runs. `Progress` comes after every step: the caller throttles.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Started {
        arch: String,
        dataset: String,
        input: Input,
        classes: usize,
        params: u64,
        epochs: usize,
        steps_per_epoch: usize,
        train_samples: usize,
        test_samples: usize,
    },
    Progress {
        /// 1-based.
        epoch: usize,
        /// 1-based, within the epoch.
        step: usize,
        steps: usize,
        /// This step's loss.
        loss: f64,
        /// Training throughput so far in this epoch.
        samples_per_sec: f64,
    },
    EpochFinished {
        epoch: usize,
        /// Mean training loss over the epoch.
        train_loss: f64,
        test_metric: f64,
    },
}

/// How a run ended and what it produced.
#[derive(Debug)]
pub struct Outcome {
    pub status: RunStatus,
    /// Why it failed (or was interrupted).
    pub message: Option<String>,
    /// Test metric after each completed epoch.
    pub epoch_perf: Vec<f64>,
    /// Mean training loss of each completed epoch.
    pub epoch_loss: Vec<f64>,
    /// Final P: the last completed epoch's test metric (0 when no epoch completed).
    pub performance: f64,
    /// Wall time from the first step to the end, evaluation included.
    pub train_time_s: f64,
    /// Wall time of each completed epoch (its steps and its evaluation).
    pub epoch_time_s: Vec<f64>,
    /// Training samples per second over the optimisation steps (evaluation excluded).
    pub samples_per_sec: f64,
    pub input: Input,
    pub classes: usize,
    /// Learnable parameters (batch norm's running statistics left out).
    pub params: u64,
    /// Forward MACs per sample at `input`.
    pub macs: u64,
    /// Share of the original training split used.
    pub data_fraction: f64,
    /// The trained network (inference mode, on the plain device); `None` when it could not be built.
    pub net: Option<Net>,
    /// How a pretrained start was loaded: tensors, stem adaptation, head re-initialisation, freezing.
    pub start: Option<String>,
}

impl Outcome {
    pub(crate) fn failed_early(message: String, data_fraction: f64) -> Outcome {
        Outcome {
            status: RunStatus::Failed,
            message: Some(message),
            epoch_perf: Vec::new(),
            epoch_loss: Vec::new(),
            performance: 0.0,
            train_time_s: 0.0,
            epoch_time_s: Vec::new(),
            samples_per_sec: 0.0,
            input: Input { channels: 0, height: 0, width: 0 },
            classes: 0,
            params: 0,
            macs: 0,
            data_fraction,
            net: None,
            start: None,
        }
    }
}

/// The input an architecture gets for a dataset: the dataset's own size when the architecture can
/// take it, else the architecture's default size (images are resized up to it). Channels stay the
/// dataset's: catalog architectures build for any channel count.
pub fn input_for(entry: &catalog::Entry, dataset: &Dataset) -> Result<(Input, catalog::Graph), String> {
    let classes = dataset.info.classes.len();
    let channels = dataset.train.images.c;
    let (h, w) = (dataset.train.images.h, dataset.train.images.w);
    let own = Spec { in_chans: channels, classes, height: h, width: w };
    match entry.graph(&own) {
        Ok(graph) => Ok((Input { channels, height: h, width: w }, graph)),
        Err(own_error) => {
            let size = entry.default_size;
            if size <= h.min(w) {
                return Err(own_error.message);
            }
            let graph = entry.graph(&Spec::new(channels, classes, size)).map_err(|e| e.message)?;
            Ok((Input { channels, height: size, width: size }, graph))
        }
    }
}

/// burn's flex backend seeds one process-wide generator, so seeding and initialising are done under
/// one lock: two runs started at once still get the weights their seeds give.
static INIT: Mutex<()> = Mutex::new(());

/// Touches every parameter so lazy initialisation happens now, in module order.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A freshly initialised network, the same for the same seed, with timm's initial weights for `family`
/// (crate::weights::init).
pub fn init_net(graph: catalog::Graph, family: &str, device: &Device, seed: u64) -> Net {
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    let net = crate::weights::init::timm_net(graph, family, seed, device)
        .expect("timm's initial state dict is built from the same graph");
    net.visit(&mut Materialize);
    net
}

/// The per-epoch shuffle seed (SplitMix64-style mixing of the run seed and the epoch).
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let mut z = seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Loads the weights of `source` into `net` (stem and head adapted), and freezes every layer but
/// the classifier head when asked: frozen layers get no gradients and their batch norms keep their
/// running statistics (inference behaviour), so their weights stay bit-identical.
fn start_from(
    home: Option<&Home>,
    config: &TrainConfig,
    source: &str,
    net: Net,
    device: &Device,
) -> anyhow::Result<(Net, weights::Report)> {
    let home = match home {
        Some(home) => home.clone(),
        None => Home::resolve(None)?,
    };
    let resolved = weights::start::resolve(&home, &config.arch, source)
        .map_err(|e| anyhow::anyhow!("pretrained weights {source:?}: {e:#}"))?;
    let (mut net, report) = weights::load_into(net, &resolved.state, device)
        .map_err(|e| anyhow::anyhow!("pretrained weights {source:?} for {}: {e:#}", config.arch))?;
    if config.freeze_backbone {
        let last = net.layers.len().saturating_sub(1);
        let layers = std::mem::take(&mut net.layers);
        net.layers = layers.into_iter().enumerate().map(|(i, l)| if i == last { l } else { l.freeze() }).collect();
    }
    Ok((net, report))
}

/// Evaluation batch size (no gradients, so larger batches are cheap).
const EVAL_BATCH: usize = 256;

/// The test metric of `net` (already in inference mode) on `dataset`'s test split.
pub fn evaluate(net: &Net, dataset: &Dataset, input: Input, metric: Metric, device: &Device) -> f64 {
    let classes = dataset.info.classes.len();
    let options = BatchOptions {
        batch_size: EVAL_BATCH,
        shuffle_seed: None,
        resize: Some(input.height),
        channels: Some(input.channels),
    };
    let mut probs: Vec<f32> = Vec::with_capacity(dataset.test.len() * classes);
    for batch in dataset.batches(SplitName::Test, options, device) {
        let p = softmax(net.forward(batch.images), 1);
        probs.extend(p.into_data().iter::<f32>());
    }
    metric.compute(&probs, &dataset.test.labels, classes)
}

/// Trains `config.arch` on `dataset` (loaded by the caller; `config.fraction` is applied here) on
/// `device` (autodiff is enabled on it here). Never panics on bad input: problems end the run with
/// status failed and a message.
pub fn train(
    config: &TrainConfig,
    dataset: &Dataset,
    device: &Device,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
) -> Outcome {
    train_in(None, config, dataset, device, stop, on_event)
}

/// [`train`], resolving `config.pretrained` (imported weights, `run:ID` checkpoints) in `home`;
/// `None` resolves the home as pepr does without `--home` (`$PEPR_HOME`, else the platform's).
pub fn train_in(
    home: Option<&Home>,
    config: &TrainConfig,
    dataset: &Dataset,
    device: &Device,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
) -> Outcome {
    contain(|| train_unguarded(home, config, dataset, device, stop, on_event), dataset.data_fraction)
}

/// Runs a training function so that a panic inside it (a backend error, a bug) ends the run as
/// failed with the panic's message instead of taking pepr down.
pub fn contain(run: impl FnOnce() -> Outcome, data_fraction: f64) -> Outcome {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(outcome) => outcome,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Outcome::failed_early(format!("the run crashed: {message}"), data_fraction)
        }
    }
}

fn train_unguarded(
    home: Option<&Home>,
    config: &TrainConfig,
    dataset: &Dataset,
    device: &Device,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
) -> Outcome {
    let Some(entry) = catalog::find(&config.arch) else {
        return Outcome::failed_early(crate::catalog::unknown_architecture(&config.arch), dataset.data_fraction);
    };
    if config.epochs == 0 || config.batch_size == 0 {
        return Outcome::failed_early("epochs and batch size must be positive".into(), dataset.data_fraction);
    }
    if !(config.lr.is_finite() && config.lr > 0.0) {
        return Outcome::failed_early(
            format!("learning rate must be positive, got {}", config.lr),
            dataset.data_fraction,
        );
    }
    if config.freeze_backbone && config.pretrained.is_none() {
        return Outcome::failed_early(
            "freezing the backbone needs pretrained weights to start from".into(),
            dataset.data_fraction,
        );
    }
    let subset;
    let dataset = if config.fraction < 1.0 || config.fraction.is_nan() {
        match dataset.subset(config.fraction, config.seed) {
            Ok(s) => {
                subset = s;
                &subset
            }
            Err(e) => return Outcome::failed_early(e.to_string(), dataset.data_fraction),
        }
    } else if config.fraction > 1.0 {
        return Outcome::failed_early(
            format!("data fraction must be in (0, 1], got {}", config.fraction),
            dataset.data_fraction,
        );
    } else {
        dataset
    };
    let (input, graph) = match input_for(entry, dataset) {
        Ok(found) => found,
        Err(message) => return Outcome::failed_early(message, dataset.data_fraction),
    };
    // An allocation failure would abort the whole process: refuse a run that cannot fit instead.
    if let Err(message) = memory::check_with(&graph, config.batch_size, &memory::available_here()) {
        return Outcome::failed_early(message, dataset.data_fraction);
    }
    let classes = dataset.info.classes.len();
    let macs = catalog::count::total_macs(&graph);
    let plain = device.clone().without_autodiff();
    let train_device = plain.clone().autodiff();
    let mut net = init_net(graph, entry.family, &train_device, config.seed);
    let mut start_note = None;
    if let Some(source) = &config.pretrained {
        // The fresh network supplies the head when the class count differs (seeded like a scratch run).
        match start_from(home, config, source, net, &train_device) {
            Ok((started, report)) => {
                net = started;
                let frozen = if config.freeze_backbone { "; backbone frozen" } else { "" };
                start_note = Some(format!("started from {source}: {report}{frozen}"));
            }
            Err(e) => return Outcome::failed_early(format!("{e:#}"), dataset.data_fraction),
        }
    }
    let params = net.trainable_params();

    let options = |shuffle: Option<u64>| BatchOptions {
        batch_size: config.batch_size,
        shuffle_seed: shuffle,
        resize: Some(input.height),
        channels: Some(input.channels),
    };
    let steps = dataset.train.len().div_ceil(config.batch_size);
    on_event(Event::Started {
        arch: config.arch.clone(),
        dataset: dataset.info.name.clone(),
        input,
        classes,
        params,
        epochs: config.epochs,
        steps_per_epoch: steps,
        train_samples: dataset.train.len(),
        test_samples: dataset.test.len(),
    });

    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let start = Instant::now();
    let mut step_time = 0.0f64;
    let mut samples_seen = 0usize;
    let mut epoch_perf = Vec::new();
    let mut epoch_loss = Vec::new();
    let mut epoch_time_s = Vec::new();
    let mut status = RunStatus::Completed;
    let mut message = None;

    'epochs: for epoch in 1..=config.epochs {
        let epoch_start = Instant::now();
        let mut epoch_samples = 0usize;
        let mut loss_sum = 0.0f64;
        let batches = dataset.batches(SplitName::Train, options(Some(epoch_seed(config.seed, epoch))), &train_device);
        for (index, batch) in batches.enumerate() {
            if stop.load(Ordering::Relaxed) {
                status = RunStatus::Interrupted;
                message = Some(format!("stopped in epoch {epoch} at step {}", index + 1));
                break 'epochs;
            }
            let step_start = Instant::now();
            let n = batch.labels.dims()[0];
            let logits = net.forward(batch.images);
            let loss = loss_fn.forward(logits, batch.labels);
            let value = loss.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                status = RunStatus::Failed;
                message = Some(format!("loss became {value} in epoch {epoch} at step {} of {steps}", index + 1));
                break 'epochs;
            }
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optimizer.step(config.lr, net, grads);
            step_time += step_start.elapsed().as_secs_f64();
            samples_seen += n;
            epoch_samples += n;
            loss_sum += value * n as f64;
            on_event(Event::Progress {
                epoch,
                step: index + 1,
                steps,
                loss: value,
                samples_per_sec: epoch_samples as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9),
            });
        }
        let train_loss = loss_sum / epoch_samples.max(1) as f64;
        let test_metric = evaluate(&net.valid(), dataset, input, config.metric, &plain);
        epoch_loss.push(train_loss);
        epoch_perf.push(test_metric);
        epoch_time_s.push(epoch_start.elapsed().as_secs_f64());
        on_event(Event::EpochFinished { epoch, train_loss, test_metric });
    }
    let train_time_s = start.elapsed().as_secs_f64();
    Outcome {
        status,
        message,
        performance: epoch_perf.last().copied().unwrap_or(0.0),
        epoch_perf,
        epoch_loss,
        train_time_s,
        epoch_time_s,
        samples_per_sec: if step_time > 0.0 { samples_seen as f64 / step_time } else { 0.0 },
        input,
        classes,
        params,
        macs,
        data_fraction: dataset.data_fraction,
        net: Some(net.valid()),
        start: start_note,
    }
}

#[cfg(test)]
mod containment_tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_run_fails_the_run_not_pepr() {
        let outcome = contain(|| panic!("backend exploded"), 0.5);
        assert_eq!(outcome.status, RunStatus::Failed);
        assert_eq!(outcome.message.as_deref(), Some("the run crashed: backend exploded"));
        assert_eq!(outcome.data_fraction, 0.5);
        let outcome = contain(|| panic!("{} at step {}", "shape mismatch", 3), 1.0);
        assert_eq!(outcome.message.as_deref(), Some("the run crashed: shape mismatch at step 3"));
    }
}
