//! Headless commands: everything the results explorer does, for scripts and batch jobs.
//!
//! Exit codes: 0 ok, 2 usage (clap), 1 error with a one-line message on stderr.

pub mod data;
pub mod estimate;
pub mod grid;
pub mod train;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::home::{HOME_ENV, Home};
use crate::results::export::export;
use crate::results::import::import_file;
use crate::results::rank::{EnergyBasis, RankedRun, Ranking, SetBy, Variant, rank_with};
use crate::results::record::RunRecord;
use crate::results::store::RunStore;
use crate::results::view::{SortKey, select};
use crate::settings::Settings;
use crate::train::{Metric, TrainConfig};

#[derive(Debug, Parser)]
#[command(name = "pepr", version, about = "Explore and rank deep-learning runs by PePR = P / (1 + R_n)")]
pub struct Cli {
    /// Data directory (default: $PEPR_HOME, else the platform data dir, e.g. ~/.local/share/pepr).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the terminal UI (the default when no command is given).
    Tui,
    /// Import runs from CSV files (the paper's all_results.csv layout, or pepr's generic layout).
    Import {
        #[arg(required_unless_present = "paper", value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Import the PePR paper's 1048 published runs, built into pepr (no file needed).
        #[arg(long)]
        paper: bool,
    },
    /// Export every run with its scores; the format follows the extension: .csv, .parquet or .json.
    Export {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// How runs form comparison sets.
        #[arg(long, value_enum, default_value_t = SetByArg::Group)]
        set_by: SetByArg,
    },
    /// Datasets: list, describe, download.
    Data {
        #[command(subcommand)]
        command: DataCommand,
        /// Where dataset files live (default: the home's `datasets/` folder).
        #[arg(long, global = true, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// List the architecture catalog with parameters, MACs and FLOPs.
    #[command(args_conflicts_with_subcommands = true)]
    Archs {
        #[command(subcommand)]
        command: Option<ArchsCommand>,
        /// Input as CxHxW for every architecture (default: 3 channels at each one's default size).
        #[arg(long, value_parser = parse_input_arg, value_name = "CxHxW")]
        input: Option<(usize, usize, usize)>,
        /// Number of classes of the classifier head.
        #[arg(long, default_value_t = 1000, value_name = "K")]
        classes: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Pretrained weights: import timm checkpoints, list them.
    Weights {
        #[command(subcommand)]
        command: crate::weights::cli::WeightsCommand,
    },
    /// Classify images with an architecture and weights: each image's top classes with probabilities.
    Predict {
        #[arg(long, value_name = "NAME")]
        arch: String,
        /// An imported weights name, `run:ID` (a run's checkpoint) or a checkpoint file.
        #[arg(long, value_name = "W")]
        weights: String,
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<PathBuf>,
        /// How many classes to print per image.
        #[arg(long, default_value_t = 5, value_name = "K")]
        top: usize,
    },
    /// Train an architecture on a dataset (CPU), store the run and save a checkpoint.
    Train {
        /// A catalog architecture (see `pepr archs`), e.g. pepr_lenet5.
        #[arg(long, value_name = "A")]
        arch: String,
        /// A dataset (see `pepr data list`), e.g. synthetic or fashion-mnist.
        #[arg(long, value_name = "D")]
        dataset: String,
        #[command(flatten)]
        settings: TrainSettings,
        /// Print the stored run record as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Write the record to the home's incoming/ folder (merged later) instead of runs.jsonl;
        /// automatic inside a Slurm job (SLURM_JOB_ID set).
        #[arg(long)]
        incoming: bool,
    },
    /// Train every architecture on every dataset, one run after another (same settings as `train`).
    Sweep {
        /// Architectures, comma-separated or repeated.
        #[arg(long = "arch", value_name = "A", value_delimiter = ',', required = true)]
        archs: Vec<String>,
        /// Datasets, comma-separated or repeated.
        #[arg(long = "dataset", value_name = "D", value_delimiter = ',', required = true)]
        datasets: Vec<String>,
        #[command(flatten)]
        settings: TrainSettings,
        #[command(flatten)]
        slurm: crate::slurm::args::SlurmArgs,
    },
    /// Predict training time, energy and CO2 before training, on this machine and backend, from the
    /// catalog's analytic work and a short calibration refined by the runs this machine finished;
    /// `--accuracy` compares the estimates stored with earlier runs to what was measured.
    Estimate {
        /// Architectures, comma-separated or repeated.
        #[arg(long = "arch", value_name = "A", value_delimiter = ',', required_unless_present = "accuracy")]
        archs: Vec<String>,
        /// Datasets, comma-separated or repeated.
        #[arg(long = "dataset", value_name = "D", value_delimiter = ',', required_unless_present = "accuracy")]
        datasets: Vec<String>,
        #[command(flatten)]
        settings: TrainSettings,
        /// Report the median and worst relative error of stored estimates, per family.
        #[arg(long, conflicts_with_all = ["archs", "datasets"])]
        accuracy: bool,
        /// Measure the calibration again instead of using the cached one.
        #[arg(long)]
        recalibrate: bool,
        /// Budget: say which planned runs fit this energy (kWh) by their estimate.
        #[arg(long, value_name = "KWH")]
        max_energy: Option<f64>,
        /// Budget: training time in seconds.
        #[arg(long, value_name = "S")]
        max_time: Option<f64>,
        /// Budget: CO2 in grams.
        #[arg(long, value_name = "G")]
        max_co2: Option<f64>,
        /// table or json.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Move finished runs from the home's incoming/ folder (Slurm array tasks) into the run store.
    Merge,
    /// List, delete, hide or restore stored runs; `runs compact` rewrites the store without deleted ones.
    Runs {
        #[command(subcommand)]
        command: crate::results::manage::RunsCommand,
    },
    /// Slurm job arrays submitted from this home, with each cell's state; `jobs cancel ID` cancels one.
    Jobs {
        #[command(subcommand)]
        command: Option<JobsCommand>,
        /// Print the jobs and their cells as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Experiment grid: archs x datasets x starts x fractions x seeds, resumable (see docs/grids.md).
    Grid(crate::cli::grid::GridArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Which power sources this machine has and which a run uses, the peak FLOP/s, the memory source.
    Doctor {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        meter: MeterArgs,
    },
    /// The paper's analyses of the stored runs: pretrained vs scratch (paired by architecture),
    /// P and PePR against the share of training data, PePR against parameter count.
    Analyze {
        #[arg(value_enum)]
        analysis: AnalysisArg,
        /// Only this dataset or group (e.g. dermamnist, derma or derma_pt).
        #[arg(long, value_name = "D")]
        dataset: Option<String>,
        /// pepr-e (default), pepr-c, pepr-t or pepr-m: the PePR variant, and the resource compared
        /// between pretrained and scratch.
        #[arg(long, default_value = "pepr-e", value_parser = parse_variant)]
        variant: Variant,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Draw a figure as an SVG or PNG file: pareto (P against a resource for one comparison set),
    /// params, pretrained, fraction (the paper's analyses) or curves (per-epoch test performance).
    Plot {
        #[arg(value_name = "KIND", value_parser = parse_plot_kind)]
        kind: crate::plot::Kind,
        /// The comparison set (pareto, curves), group (params; default: all groups averaged), pair
        /// (pretrained: either group or the dataset) or family (fraction: a group or the dataset).
        #[arg(long, value_name = "G")]
        group: Option<String>,
        /// pepr-e (default), pepr-c, pepr-t or pepr-m: the PePR variant and its resource.
        #[arg(long, default_value = "pepr-e", value_parser = parse_variant)]
        variant: Variant,
        /// curves: these runs (repeatable) instead of the set's five best.
        #[arg(long = "run", value_name = "ID")]
        runs: Vec<String>,
        /// The image file; its extension chooses the format: .svg or .png.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// How runs form comparison sets (pareto, curves).
        #[arg(long, value_enum, default_value_t = SetByArg::Group)]
        set_by: SetByArg,
    },
    /// Print runs ranked by PePR within each comparison set.
    Rank {
        /// pepr-e|pepr-c|pepr-t|pepr-m, or a column: rank, arch, group, kind, params, macs, P,
        /// energy_kwh, co2_g, train_time_s, memory_gb, created_at.
        #[arg(long, default_value = "pepr-e", value_parser = parse_sort_by)]
        by: SortBy,
        /// Only this comparison set.
        #[arg(long, value_name = "G")]
        group: Option<String>,
        /// Only the first N rows of each comparison set.
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Reverse the sort order.
        #[arg(long)]
        reverse: bool,
        /// How runs form comparison sets.
        #[arg(long, value_enum, default_value_t = SetByArg::Group)]
        set_by: SetByArg,
        /// The energy PePR-E ranks on: gross (the paper's) or net of the idle baseline
        /// (default: the `rank_energy` setting, else gross).
        #[arg(long, value_enum, value_name = "gross|net")]
        energy: Option<EnergyArg>,
        /// Collapse runs that differ only by seed into one row: mean, std, min and max.
        #[arg(long)]
        aggregate_seeds: bool,
        #[command(flatten)]
        budget: BudgetArgs,
        /// Show the energy and CO2 uncertainty bands and whether each rank holds within them
        /// (table: low-high beside the figures, `?` on a rank that could change; csv/json: extra
        /// columns energy_kwh_low/high, co2_g_low/high, score_low/high, rank_best/worst, rank_certain).
        #[arg(long)]
        bands: bool,
    },
    /// Show or change the settings (carbon intensity, PUE, meter interval, idle baseline, CPU TDP,
    /// ranking energy), kept in the home's settings.json.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `pepr rank`'s budget and carbon what-if.
#[derive(Debug, Clone, clap::Args)]
pub struct BudgetArgs {
    /// Only runs whose energy is at most KWH (runs without an energy figure are left out).
    #[arg(long, value_name = "KWH")]
    max_energy: Option<f64>,
    /// Only runs that trained in at most S seconds.
    #[arg(long, value_name = "S")]
    max_time: Option<f64>,
    /// Only runs whose CO2 is at most G grams (the what-if CO2 with --intensity/--pue).
    #[arg(long, value_name = "G")]
    max_co2: Option<f64>,
    /// Only runs with P at least P.
    #[arg(long, value_name = "P")]
    min_p: Option<f64>,
    /// What-if: re-score CO2 and PePR-C as if every run drew its energy at this carbon intensity
    /// (a country code such as NO, or g CO2-eq/kWh). Shown, never stored.
    #[arg(long, value_name = "REGION|G_PER_KWH")]
    intensity: Option<String>,
    /// What-if: re-score CO2 and PePR-C with this PUE (default: each run's own).
    #[arg(long, value_name = "X")]
    pue: Option<f64>,
}

impl BudgetArgs {
    fn budget(&self) -> crate::estimate::budget::Budget {
        crate::estimate::budget::Budget {
            max_energy_kwh: self.max_energy,
            max_time_s: self.max_time,
            max_co2_g: self.max_co2,
            min_p: self.min_p,
        }
    }
}

/// `pepr config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every setting with the value in effect and where it comes from.
    Show,
    /// Set a key: carbon_intensity, pue, sample_interval_ms, idle_baseline_s, cpu_tdp_w, rank_energy.
    Set {
        #[arg(value_name = "KEY")]
        key: String,
        #[arg(value_name = "VALUE", allow_hyphen_values = true)]
        value: String,
    },
    /// Return a key to its default.
    Unset {
        #[arg(value_name = "KEY")]
        key: String,
    },
}

/// `pepr rank --energy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EnergyArg {
    Gross,
    Net,
}

impl From<EnergyArg> for EnergyBasis {
    fn from(value: EnergyArg) -> EnergyBasis {
        match value {
            EnergyArg::Gross => EnergyBasis::Gross,
            EnergyArg::Net => EnergyBasis::Net,
        }
    }
}

/// Training settings shared by `pepr train` and `pepr sweep`.
#[derive(Debug, clap::Args)]
pub struct TrainSettings {
    #[arg(long, default_value_t = TrainConfig::DEFAULT_EPOCHS, value_name = "N")]
    epochs: usize,
    #[arg(long, default_value_t = TrainConfig::DEFAULT_BATCH_SIZE, value_name = "B")]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = TrainConfig::DEFAULT_LR, value_name = "X")]
    lr: f64,
    /// Share of the training split to use (a seeded, stratified subset).
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    fraction: f64,
    /// Seeds the initial weights, the subset and the data order.
    #[arg(long, default_value_t = 0, value_name = "S")]
    seed: u64,
    /// The test metric that becomes P.
    #[arg(long, value_enum, default_value_t = MetricArg::Accuracy)]
    metric: MetricArg,
    /// Where dataset files live (default: the home's `datasets/` folder).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// cpu (burn's flex backend) or cuda (needs a build with `--features cuda`).
    #[arg(long, value_enum, default_value_t = crate::meter::backend::Backend::Cpu)]
    backend: crate::meter::backend::Backend,
    /// Start from these weights instead of from scratch: an imported weights name, `run:ID` for an
    /// earlier run's checkpoint of the same architecture, or a timm checkpoint file.
    #[arg(long, value_name = "SRC")]
    pretrained: Option<String>,
    /// With --pretrained: train only the classifier head.
    #[arg(long, requires = "pretrained")]
    freeze_backbone: bool,
    /// Name the comparison group instead of deriving it from the dataset, fraction and start.
    #[arg(long, value_name = "G")]
    group: Option<String>,
    /// The experiment-grid cell this run fills (written by `pepr grid` and Slurm array tasks).
    #[arg(long, value_name = "CELL", hide = true)]
    grid_cell: Option<String>,
    /// CPU threads for this run (default: the `threads` setting, else every core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Measure the paper's way, to compare with its imported runs: last-epoch training time, and
    /// energy including carbontracker's PUE of 1.58 (unless --pue is given).
    #[arg(long)]
    paper_conventions: bool,
    #[command(flatten)]
    meter: MeterArgs,
}

/// How runs are metered (train, sweep; `pepr doctor` and `pepr bench meter` take the source ones).
#[derive(Debug, Clone, clap::Args)]
pub struct MeterArgs {
    /// Carbon intensity for CO2: g CO2-eq per kWh, or a country code (default: the `carbon_intensity`
    /// setting, else the world average).
    #[arg(long, value_name = "G_PER_KWH|REGION", value_parser = |v: &str| setting_flag("carbon-intensity", "carbon_intensity", v))]
    carbon_intensity: Option<String>,
    /// Power usage effectiveness CO2 is multiplied by (default: the `pue` setting, else 1.0;
    /// carbontracker uses 1.58).
    #[arg(long, value_name = "X", value_parser = |v: &str| number_flag("pue", "pue", v))]
    pue: Option<f64>,
    /// How often the power sources are sampled, in milliseconds (default: the setting, else 200).
    #[arg(long, value_name = "MS", value_parser = |v: &str| number_flag("sample-ms", "sample_interval_ms", v).map(|n| n as u64))]
    sample_ms: Option<u64>,
    /// Measure idle power for this many seconds before the run, for net energy beside gross
    /// (default: the `idle_baseline_s` setting, else off).
    #[arg(long, value_name = "SECONDS", value_parser = |v: &str| number_flag("idle-baseline", "idle_baseline_s", v))]
    idle_baseline: Option<f64>,
    /// The CPU's TDP in watts for the estimate when RAPL is not readable (overrides the table and
    /// the `cpu_tdp_w` setting).
    #[arg(long, value_name = "WATTS", value_parser = |v: &str| number_flag("cpu-tdp", "cpu_tdp_w", v))]
    cpu_tdp: Option<f64>,
    /// Where the powercap (RAPL) tree is (for tests).
    #[arg(long, value_name = "DIR", hide = true, default_value = crate::meter::rapl::POWERCAP_ROOT)]
    powercap_root: PathBuf,
}

/// A meter flag checked by the same function as its `config set` key (one rule for both).
fn setting_flag(flag: &str, key: &str, value: &str) -> Result<String, String> {
    crate::settings::check_flag(flag, key, value)
}

fn number_flag(flag: &str, key: &str, value: &str) -> Result<f64, String> {
    let stored = crate::settings::check_flag(flag, key, value)?;
    stored.parse().map_err(|_| format!("--{flag}: expected a number, got {value:?}"))
}

impl MeterArgs {
    /// The meter settings in effect: a flag wins over the home's settings file, which wins over the
    /// defaults.
    pub(crate) fn settings(&self, stored: &Settings) -> crate::meter::MeterSettings {
        let base = stored.meter_settings();
        crate::meter::MeterSettings {
            sample_ms: self.sample_ms.unwrap_or(base.sample_ms),
            idle_baseline_s: self.idle_baseline.unwrap_or(base.idle_baseline_s),
            carbon_intensity: self.carbon_intensity.clone().or(base.carbon_intensity),
            pue: self.pue.unwrap_or(base.pue),
            cpu_tdp_w: self.cpu_tdp.or(base.cpu_tdp_w),
            powercap_root: self.powercap_root.clone(),
        }
    }
}

/// The home's settings file, or the defaults with a warning on stderr when it cannot be used.
pub(crate) fn stored_settings(home: &Home) -> Settings {
    let (settings, warning) = Settings::load_or_default(&home.settings_file());
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    settings
}

impl TrainSettings {
    fn config(&self, arch: &str, dataset: &str, stored: &Settings) -> TrainConfig {
        TrainConfig {
            arch: arch.to_string(),
            dataset: dataset.to_string(),
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            fraction: self.fraction,
            seed: self.seed,
            metric: self.metric.into(),
            backend: self.backend,
            pretrained: self.pretrained.clone(),
            freeze_backbone: self.freeze_backbone,
            group: self.group.clone(),
            grid_cell: self.grid_cell.clone(),
            meter: crate::meter::MeterSettings {
                pue: match (self.paper_conventions, self.meter.pue) {
                    (true, None) => crate::carbon::CARBONTRACKER_PUE,
                    _ => self.meter.settings(stored).pue,
                },
                ..self.meter.settings(stored)
            },
            threads: self.threads.or(stored.threads),
            paper_conventions: self.paper_conventions,
        }
    }
}

/// `pepr jobs ...`.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Cancel a submitted array (scancel): running cells stop and are stored as interrupted.
    Cancel {
        #[arg(value_name = "JOB_ID")]
        job_id: String,
    },
    /// Submit again, as a new array, the cells of JOB_ID without a completed run (failed, cancelled,
    /// never started), with the same options.
    Resubmit {
        #[arg(value_name = "JOB_ID")]
        job_id: String,
        /// Print the new script instead of submitting it.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `pepr bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Training throughput (images/s) of catalog models at fixed input sizes, batch 32 by default.
    Train {
        /// Architectures to measure (default: pepr_lenet5, pepr_resnet8, pepr_resnet20, mobilenetv2_050, resnet18).
        #[arg(long = "arch", value_name = "A")]
        archs: Vec<String>,
        /// Square input sizes (default: 28 and 64).
        #[arg(long = "size", value_name = "S")]
        sizes: Vec<usize>,
        #[arg(long, default_value_t = 32, value_name = "B")]
        batch_size: usize,
        /// Timed training steps per model and size (after 2 warm-up steps).
        #[arg(long, default_value_t = 5, value_name = "N")]
        steps: usize,
        /// Also time inference-mode forward passes (no autodiff).
        #[arg(long)]
        eval: bool,
        /// A Python with torch and timm: runs the PyTorch peer on every case right after pepr's and prints the ratio.
        #[arg(long, value_name = "PYTHON")]
        compare: Option<std::path::PathBuf>,
        /// The peer script (default: benches/peer/torch_train.py in pepr's source tree).
        #[arg(long, value_name = "FILE", requires = "compare")]
        peer_script: Option<std::path::PathBuf>,
        /// CPU threads (default: the `threads` setting, else every core).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Internal: measure the one case named here and print its figures as JSON (the table runs
        /// each case so, in a fresh process, for a clean memory peak).
        #[arg(long, hide = true)]
        case_json: bool,
    },
    /// The sampler's cost: its own work and CPU time while sampling this machine's sources.
    Meter {
        /// How long to sample.
        #[arg(long, default_value_t = 10.0, value_name = "S")]
        seconds: f64,
        #[command(flatten)]
        meter: MeterArgs,
    },
}

/// `pepr data ...`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Every dataset: name, source, local or downloadable, size, classes, splits, licence.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One dataset's description, classes, split sizes and licence.
    Info {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Register an image folder (one sub-folder per class; optional train/ val/ test/) as a dataset.
    Add {
        #[arg(value_name = "NAME")]
        name: String,
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Images are resized to S x S.
        #[arg(long, default_value_t = 64, value_name = "S")]
        size: usize,
        /// 1 (grayscale) or 3 (RGB).
        #[arg(long, default_value_t = 3, value_name = "C")]
        channels: usize,
        /// Seed of the stratified 80/10/10 split when the folder has no train/ val/ test/.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Forget a registered image folder (its images are not touched).
    Remove {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Download a MedMNIST set from Zenodo (MD5-verified, resumable).
    Download {
        /// A MedMNIST flag such as dermamnist (or dermamnist_64).
        #[arg(value_name = "NAME")]
        name: String,
        /// Image size: 28, 64, 128 or 224.
        #[arg(long, value_name = "S")]
        size: Option<usize>,
        /// Base URL of the files (default: MedMNIST v3's Zenodo record 10519652).
        #[arg(long, env = "PEPR_MEDMNIST_URL", value_name = "URL")]
        base_url: Option<String>,
    },
}

/// `pepr archs show NAME`.
#[derive(Debug, Subcommand)]
pub enum ArchsCommand {
    /// Per-layer breakdown of one architecture: output shape, parameters and MACs of every layer.
    Show {
        #[arg(value_name = "NAME")]
        name: String,
        /// Input as CxHxW (default: 3 channels at the architecture's default size).
        #[arg(long, value_parser = parse_input_arg, value_name = "CxHxW")]
        input: Option<(usize, usize, usize)>,
        #[arg(long, default_value_t = 1000, value_name = "K")]
        classes: usize,
    },
}

fn parse_input_arg(text: &str) -> Result<(usize, usize, usize), String> {
    crate::catalog::listing::parse_input(text)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// `pepr train --metric`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MetricArg {
    Accuracy,
    BalancedAccuracy,
    Auc,
}

impl From<MetricArg> for Metric {
    fn from(value: MetricArg) -> Metric {
        match value {
            MetricArg::Accuracy => Metric::Accuracy,
            MetricArg::BalancedAccuracy => Metric::BalancedAccuracy,
            MetricArg::Auc => Metric::MacroAuc,
        }
    }
}

/// `pepr analyze ...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AnalysisArg {
    /// Pretrained vs scratch per architecture: the difference in P and in the resource.
    Pretrained,
    /// P and PePR against the share of training data.
    Fraction,
    /// PePR against parameter count, efficient architectures apart.
    Params,
}

fn parse_plot_kind(text: &str) -> Result<crate::plot::Kind, String> {
    crate::plot::Kind::parse(text).ok_or_else(|| format!("expected one of: {}", crate::plot::Kind::NAMES))
}

fn parse_variant(text: &str) -> Result<Variant, String> {
    Variant::parse(text).ok_or_else(|| "expected pepr-e, pepr-c, pepr-t or pepr-m".to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SetByArg {
    Group,
    Dataset,
    All,
}

impl From<SetByArg> for SetBy {
    fn from(value: SetByArg) -> SetBy {
        match value {
            SetByArg::Group => SetBy::Group,
            SetByArg::Dataset => SetBy::Dataset,
            SetByArg::All => SetBy::All,
        }
    }
}

/// `--by`: a PePR variant (ranks by it) or another column (sorts by it; ranks stay PePR-E's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortBy {
    pub key: SortKey,
    pub variant: Variant,
}

fn parse_sort_by(text: &str) -> Result<SortBy, String> {
    let key = SortKey::parse(text, Variant::Energy).ok_or_else(|| format!("expected one of: {}", SortKey::NAMES))?;
    let variant = match key {
        SortKey::Rank(v) => v,
        _ => Variant::Energy,
    };
    Ok(SortBy { key, variant })
}

/// Runs a headless command. `None` (the TUI) is handled by the caller.
/// A file this large gets a progress bar (or plain progress lines) while it is read.
const LARGE_IMPORT_BYTES: u64 = 4_000_000;

/// [`import_file`] with a progress bar for a large file.
fn import_with_progress(store: &RunStore, file: &std::path::Path) -> Result<crate::results::import::ImportSummary> {
    use crate::progress::{Progress, Unit, WhenPlain};
    let large = std::fs::metadata(file).is_ok_and(|m| m.len() >= LARGE_IMPORT_BYTES);
    if !large {
        return import_file(store, file);
    }
    let mut bar = Progress::new(format!("reading {}", file.display()), None, Unit::Bytes, WhenPlain::Lines);
    let summary = crate::results::import::import_file_reporting(store, file, &mut |read, size| {
        bar.set_total(size);
        bar.update(read, "");
    });
    bar.finish();
    summary
}

pub fn run(home: &Home, command: Command) -> Result<()> {
    crate::cli::estimate::show_calibration_progress();
    let store = RunStore::new(home.runs_file());
    match command {
        Command::Tui => unreachable!("the TUI is started by main"),
        Command::Weights { command } => crate::weights::cli::run(home, command),
        Command::Predict { arch, weights, images, top } => {
            crate::weights::cli::run_predict(home, &arch, &weights, &images, top)
        }
        Command::Import { files, paper } => {
            home.ensure()?;
            if paper {
                println!("{}", crate::results::paper::import(&store)?);
            }
            // Each file is all or nothing; a bad one does not stop the others, and is named.
            let mut failed = Vec::new();
            for file in &files {
                match import_with_progress(&store, file) {
                    Ok(summary) => println!("{summary}"),
                    Err(e) => {
                        eprintln!("error: {e:#} (nothing from this file was stored)");
                        failed.push(file.display().to_string());
                    }
                }
            }
            if !failed.is_empty() {
                anyhow::bail!("{} of {} files not imported: {}", failed.len(), files.len(), failed.join(", "));
            }
            Ok(())
        }
        Command::Runs { command } => crate::results::manage::run(&store, command),
        Command::Export { file, set_by } => {
            let (records, ranking) = load_and_rank(&store, set_by.into(), EnergyBasis::Gross)?;
            let rows = export(&records, &ranking, &file)?;
            println!("{}: {rows} runs written", file.display());
            Ok(())
        }
        Command::Data { command, data_dir } => {
            let data_dir = data_dir.unwrap_or_else(|| home.datasets_dir());
            ignore_broken_pipe(crate::cli::data::run(command, &data_dir))
        }
        Command::Archs { command: Some(ArchsCommand::Show { name, input, classes }), .. } => {
            crate::catalog::report::print_breakdown(&mut std::io::stdout().lock(), &name, input, classes)
        }
        Command::Archs { command: None, input, classes, format } => {
            let mut out = std::io::stdout().lock();
            let result = match format {
                Format::Table => crate::catalog::report::print_table(&mut out, input, classes),
                Format::Csv => crate::catalog::report::print_csv(&mut out, input, classes),
                Format::Json => crate::catalog::report::print_json(&mut out, input, classes),
            };
            ignore_broken_pipe(result)
        }
        Command::Train { arch, dataset, settings, json, incoming } => {
            let config = settings.config(&arch, &dataset, &stored_settings(home));
            let data_dir = settings.data_dir.clone().unwrap_or_else(|| home.datasets_dir());
            let destination = crate::run::Destination::detect(incoming);
            let record = crate::cli::train::run_to(home, &config, &data_dir, json, &destination)?;
            if record.status == crate::results::record::RunStatus::Interrupted {
                std::process::exit(130);
            }
            Ok(())
        }
        Command::Sweep { mut archs, mut datasets, settings, slurm } => {
            // `--arch a,a` names one run, not two identical ones.
            dedup_keep_order(&mut archs);
            dedup_keep_order(&mut datasets);
            let data_dir = settings.data_dir.clone().unwrap_or_else(|| home.datasets_dir());
            let stored = stored_settings(home);
            let configs: Vec<TrainConfig> =
                archs.iter().flat_map(|a| datasets.iter().map(|d| settings.config(a, d, &stored))).collect();
            if slurm.slurm {
                return crate::slurm::submit::sweep(home, &configs, &data_dir, settings.data_dir.as_deref(), &slurm);
            }
            crate::cli::estimate::announce(home, &configs, &data_dir);
            crate::cli::train::sweep(home, &configs, &data_dir)
        }
        Command::Estimate {
            archs,
            datasets,
            settings,
            accuracy,
            recalibrate,
            max_energy,
            max_time,
            max_co2,
            format,
        } => {
            let budget = crate::estimate::budget::Budget {
                max_energy_kwh: max_energy,
                max_time_s: max_time,
                max_co2_g: max_co2,
                min_p: None,
            };
            budget.check().map_err(|e| anyhow::anyhow!(e))?;
            if format == Format::Csv {
                bail!("--format: pepr estimate prints table or json");
            }
            let mut out = std::io::stdout().lock();
            if accuracy {
                return ignore_broken_pipe(crate::cli::estimate::print_accuracy(
                    home,
                    format == Format::Json,
                    &mut out,
                ));
            }
            let data_dir = settings.data_dir.clone().unwrap_or_else(|| home.datasets_dir());
            let stored = stored_settings(home);
            let configs: Vec<TrainConfig> =
                archs.iter().flat_map(|a| datasets.iter().map(|d| settings.config(a, d, &stored))).collect();
            let json = format == Format::Json;
            ignore_broken_pipe(crate::cli::estimate::run(
                home,
                &configs,
                &data_dir,
                recalibrate,
                &budget,
                json,
                &mut out,
            ))
        }
        Command::Merge => {
            let report = crate::results::incoming::merge(&store, &home.incoming_dir())?;
            for (path, why) in &report.bad {
                eprintln!("warning: {}: not merged: {why}", path.display());
            }
            println!("{report}");
            Ok(())
        }
        Command::Jobs { command: Some(JobsCommand::Cancel { job_id }), .. } => {
            crate::slurm::watch::cancel(home, &job_id)?;
            println!("cancelled job {job_id}; `pepr jobs` shows its cells as they stop");
            Ok(())
        }
        Command::Jobs { command: Some(JobsCommand::Resubmit { job_id, dry_run }), .. } => {
            let submission = crate::slurm::watch::resubmit(home, &job_id, dry_run)?;
            crate::slurm::submit::print_submission(&submission);
            Ok(())
        }
        Command::Jobs { command: None, json } => {
            let (report, statuses) = crate::slurm::watch::refresh(home)?;
            for (path, why) in &report.bad {
                eprintln!("warning: {}: not merged: {why}", path.display());
            }
            let mut out = std::io::stdout().lock();
            let result = if json {
                serde_json::to_writer_pretty(&mut out, &crate::slurm::watch::to_json(&statuses))
                    .map_err(anyhow::Error::from)
                    .and_then(|()| writeln!(out).map_err(anyhow::Error::from))
            } else {
                crate::slurm::watch::print(&mut out, &report, &statuses).map_err(anyhow::Error::from)
            };
            ignore_broken_pipe(result)
        }
        Command::Bench {
            command:
                BenchCommand::Train { archs, sizes, batch_size, steps, eval, compare, peer_script, threads, case_json },
        } => {
            use crate::train::bench;
            if case_json {
                let ([arch], [size]) = (archs.as_slice(), sizes.as_slice()) else {
                    bail!("--case-json measures one --arch at one --size");
                };
                return bench::run_case_json(&mut std::io::stdout(), arch, *size, batch_size, steps, eval, threads);
            }
            let archs =
                if archs.is_empty() { bench::DEFAULT_MODELS.iter().map(|s| s.to_string()).collect() } else { archs };
            let sizes = if sizes.is_empty() { bench::DEFAULT_SIZES.to_vec() } else { sizes };
            if batch_size == 0 || steps == 0 {
                bail!("--batch-size and --steps must be at least 1");
            }
            let peer = compare.map(|python| bench::Peer::new(python, peer_script)).transpose()?;
            // Each case in a fresh process of this binary (clean memory figures), on the same home.
            let program = std::env::current_exe().context("finding pepr's own binary to measure each case in")?;
            let leading_args = vec!["--home".into(), home.root().as_os_str().to_owned()];
            let options = bench::Options { eval, peer, child: Some(bench::Child { program, leading_args }) };
            let threads = threads.or(stored_settings(home).threads);
            // The table goes to stdout as it grows; the bar (stderr) says which case is measuring.
            use crate::progress::{Progress, Unit, WhenPlain};
            let total = (archs.len() * sizes.len()) as u64;
            let mut bar = Progress::new("bench", Some(total), Unit::Count("cases"), WhenPlain::Silent);
            let result = bench::run_reporting(
                &mut std::io::stdout(),
                &archs,
                &sizes,
                batch_size,
                steps,
                &options,
                threads,
                &mut |done: usize, _: usize, case: &str| bar.update(done as u64, case),
            );
            bar.finish();
            ignore_broken_pipe(result)
        }
        Command::Doctor { json, meter } => {
            let settings = meter.settings(&stored_settings(home));
            let root = home.root().to_path_buf();
            ignore_broken_pipe(crate::meter::doctor::run(&mut std::io::stdout().lock(), &settings, Some(&root), json))
        }
        Command::Bench { command: BenchCommand::Meter { seconds, meter } } => {
            let settings = meter.settings(&stored_settings(home));
            if !(seconds.is_finite() && seconds > 0.0) || settings.sample_ms == 0 {
                bail!("--seconds and --sample-ms must be positive");
            }
            crate::meter::bench::run(&mut std::io::stdout().lock(), &settings, seconds)
        }
        Command::Config { command } => config(home, command),
        Command::Analyze { analysis, dataset, variant, format } => {
            use crate::results::analysis_report::{Output, Which, print};
            let loaded = store.load()?;
            for line in loaded.warning_lines() {
                eprintln!("{line}");
            }
            let energy = stored_settings(home).rank_energy();
            // A group whose runs' figures cover different scopes compares different things.
            let mut groups: std::collections::BTreeMap<&str, Vec<&RunRecord>> = Default::default();
            for r in &loaded.records {
                let wanted =
                    dataset.as_deref().is_none_or(|d| r.group == d || r.dataset == d || r.group.starts_with(d));
                if wanted {
                    groups.entry(r.group.as_str()).or_default().push(r);
                }
            }
            for (group, runs) in groups {
                if let Some(w) = crate::results::record::mixed_scopes(runs) {
                    eprintln!("warning: {group}: {w}");
                }
            }
            let analyses = crate::results::analysis::analyze_on(&loaded.records, energy)?;
            let which = match analysis {
                AnalysisArg::Pretrained => Which::Pretrained,
                AnalysisArg::Fraction => Which::Fraction,
                AnalysisArg::Params => Which::Params,
            };
            let output = match format {
                Format::Table => Output::Table,
                Format::Csv => Output::Csv,
                Format::Json => Output::Json,
            };
            let mut out = std::io::stdout().lock();
            ignore_broken_pipe(print(&mut out, &analyses, which, dataset.as_deref(), variant, output))
        }
        Command::Grid(args) => crate::cli::grid::run(home, args),
        Command::Plot { kind, group, variant, runs, out, set_by } => {
            // Checked before the store is read: a wrong extension costs nothing.
            crate::plot::render::Format::of(&out)?;
            let energy = stored_settings(home).rank_energy();
            let (records, ranking) = load_and_rank(&store, set_by.into(), energy)?;
            let analyses = match kind {
                crate::plot::Kind::Pareto | crate::plot::Kind::Curves => None,
                _ => Some(crate::results::analysis::analyze_on(&records, energy)?),
            };
            let inputs = crate::plot::Inputs { records: &records, ranking: &ranking, analyses: analyses.as_ref() };
            let figure = crate::plot::build(kind, &inputs, &crate::plot::Choice { group, variant, runs })?;
            let path = crate::plot::write(&figure, &out)?;
            println!("{}: {} ({} points)", path.display(), figure.title, figure.markers());
            Ok(())
        }
        Command::Rank { by, group, top, format, reverse, set_by, energy, aggregate_seeds, budget, bands } => {
            let energy = match energy {
                Some(energy) => energy.into(),
                None => stored_settings(home).rank_energy(),
            };
            let (limits, what_if) =
                (budget.budget(), crate::results::whatif::WhatIf::parse(budget.intensity.as_deref(), budget.pue));
            limits.check().map_err(|e| anyhow::anyhow!(e))?;
            let what_if = what_if.map_err(|e| anyhow::anyhow!(e))?;
            if aggregate_seeds && !limits.is_empty() {
                bail!("budget flags filter runs, not seed groups: drop --aggregate-seeds or the budget");
            }
            let (stored, records, ranking) = match &what_if {
                None => {
                    let (records, ranking) = load_and_rank(&store, set_by.into(), energy)?;
                    (None, records, ranking)
                }
                Some(what_if) => {
                    let loaded = store.load()?;
                    for warning in &loaded.warnings {
                        eprintln!("warning: {warning}");
                    }
                    let rescored = what_if.apply(&loaded.records);
                    let ranking = rank_with(&rescored, set_by.into(), energy)?;
                    (Some(loaded.records), rescored, ranking)
                }
            };
            if let Some(what_if) = &what_if {
                // Tables carry the banner in their own output; CSV and JSON keep their shape.
                if format == Format::Table {
                    let _ = writeln!(std::io::stdout(), "{}\n", what_if.banner());
                } else {
                    eprintln!("{}", what_if.banner());
                }
            }
            if let Some(group) = &group
                && !ranking.sets.iter().any(|s| &s.name == group)
            {
                let names: Vec<&str> = ranking.sets.iter().map(|s| s.name.as_str()).collect();
                bail!(
                    "no comparison set named {group:?}; the store has: {}",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                );
            }
            if aggregate_seeds {
                return ignore_broken_pipe(print_aggregated(
                    &records,
                    &ranking,
                    group.as_deref(),
                    top,
                    by,
                    reverse,
                    format,
                ));
            }
            let descending = by.key.descending_by_default() != reverse;
            let mut rows = select(&records, &ranking, group.as_deref(), "", by.key, descending, by.variant);
            let before_budget = rows.len();
            rows.retain(|&row| limits.fits(&records[ranking.runs[row].index]));
            if let Some(top) = top {
                rows = first_n_per_set(&ranking, rows, top);
            }
            // Sets whose runs' figures cover different scopes (e.g. the paper's last-epoch time).
            let warnings = crate::results::record::scope_warnings(&records, &ranking);
            let shown: std::collections::BTreeSet<usize> = rows.iter().map(|&r| ranking.runs[r].set).collect();
            for set in shown {
                if let Some(w) = &warnings[set] {
                    eprintln!("warning: {}: {w}", ranking.sets[set].name);
                }
            }
            let band = bands.then(|| crate::results::stability::rank_bands(&records, &ranking, by.variant));
            let out = std::io::stdout();
            let mut out = out.lock();
            let result = print_ranking(&mut out, &records, &ranking, &rows, by.variant, format, band.as_deref());
            let mut notes = Vec::new();
            if !limits.is_empty() {
                notes.push(format!(
                    "budget {}: {} of {before_budget} runs fit (scores as ranked among all runs of each set)",
                    limits.describe(),
                    rows.len()
                ));
            }
            if let Some(stored) = &stored {
                let indices: Vec<usize> = rows.iter().map(|&row| ranking.runs[row].index).collect();
                notes.push(crate::results::whatif::WhatIf::totals(stored, &records, &indices).line());
            }
            for note in notes {
                if format == Format::Table {
                    let _ = writeln!(out, "{note}");
                } else {
                    eprintln!("{note}");
                }
            }
            ignore_broken_pipe(result)
        }
    }
}

/// `pepr config show|set|unset`. Show falls back to the defaults over a bad file (with a warning);
/// set and unset refuse to write over a file they could not read.
fn config(home: &Home, command: ConfigCommand) -> Result<()> {
    let path = home.settings_file();
    match command {
        ConfigCommand::Show => {
            let (settings, warning) = Settings::load_or_default(&path);
            if let Some(warning) = warning {
                eprintln!("warning: {warning}");
            }
            let state = if path.exists() { "" } else { " (not created yet: every key has its default)" };
            println!("settings file: {}{state}", path.display());
            for (key, value, origin) in settings.describe() {
                println!("{key:<19}{value:<22}{origin}");
            }
            if settings.carbon_intensity.is_none() {
                println!("(set your grid's intensity with `pepr config set carbon_intensity CODE`, e.g. DK or 120)");
            }
            if settings.cpu_tdp_w().is_none() {
                let model = crate::meter::tdp::this_cpu_model();
                let tdp = model.as_deref().and_then(crate::meter::tdp::lookup);
                match (model, tdp) {
                    (Some(_), Some(tdp)) => println!(
                        "this CPU: {:.1} W, {}: {} (set cpu_tdp_w to give its real TDP)",
                        tdp.watts,
                        tdp.step.label(),
                        tdp.source
                    ),
                    (Some(model), None) => {
                        println!("this CPU ({model}) has no vendor pepr knows: set cpu_tdp_w for the estimate")
                    }
                    (None, _) => println!("this CPU's model name is unknown (no /proc/cpuinfo): set cpu_tdp_w"),
                }
            }
            Ok(())
        }
        ConfigCommand::Set { key, value } => {
            let mut settings =
                Settings::load(&path).map_err(|e| anyhow::anyhow!("{e}; fix or remove the file first"))?;
            settings.set(&key, &value).map_err(|e| anyhow::anyhow!("{e}"))?;
            settings.save(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
            let (_, value, origin) = settings.describe().into_iter().find(|(k, _, _)| *k == key).expect("a known key");
            println!("{key} = {value} ({origin})");
            Ok(())
        }
        ConfigCommand::Unset { key } => {
            let mut settings =
                Settings::load(&path).map_err(|e| anyhow::anyhow!("{e}; fix or remove the file first"))?;
            settings.unset(&key).map_err(|e| anyhow::anyhow!("{e}"))?;
            if path.exists() {
                settings.save(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            println!("{key}: back to its default");
            Ok(())
        }
    }
}

/// `pepr rank --aggregate-seeds`: rows sorted by the mean of the chosen PePR variant within each set.
fn print_aggregated(
    records: &[RunRecord],
    ranking: &Ranking,
    group: Option<&str>,
    top: Option<usize>,
    by: SortBy,
    reverse: bool,
    format: Format,
) -> Result<()> {
    use crate::results::seeds;
    let mut groups = seeds::aggregate_seeds(records, ranking)?;
    seeds::sort_groups(&mut groups, by.variant);
    let mut rows: Vec<&seeds::SeedGroup> =
        groups.iter().filter(|g| group.is_none_or(|name| ranking.sets[g.set].name == name)).collect();
    if reverse {
        rows.reverse();
        rows.sort_by_key(|g| g.set);
    }
    if let Some(top) = top {
        let mut count = std::collections::HashMap::new();
        rows.retain(|g| {
            let n = count.entry(g.set).or_insert(0usize);
            *n += 1;
            *n <= top
        });
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    match format {
        Format::Csv => seeds::write_csv(&mut out, ranking, &rows),
        Format::Table => seeds::write_table(&mut out, ranking, &rows, by.variant),
        Format::Json => seeds::write_json(&mut out, ranking, &rows),
    }
}

/// A closed pipe (`pepr rank | head`) is not an error.
fn ignore_broken_pipe(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            Ok(())
        }
        other => other,
    }
}

fn load_and_rank(store: &RunStore, set_by: SetBy, energy: EnergyBasis) -> Result<(Vec<RunRecord>, Ranking)> {
    let loaded = store.load()?;
    for line in loaded.warning_lines() {
        eprintln!("{line}");
    }
    let ranking = rank_with(&loaded.records, set_by, energy)?;
    Ok((loaded.records, ranking))
}

fn first_n_per_set(ranking: &Ranking, rows: Vec<usize>, n: usize) -> Vec<usize> {
    let mut kept = Vec::new();
    let mut current: Option<usize> = None;
    let mut count = 0;
    for row in rows {
        let set = ranking.runs[row].set;
        if current != Some(set) {
            current = Some(set);
            count = 0;
        }
        if count < n {
            kept.push(row);
        }
        count += 1;
    }
    kept
}

/// The columns of `pepr rank --format csv|json`.
pub const RANK_COLUMNS: &[&str] = &[
    "id",
    "arch",
    "group",
    "dataset",
    "kind",
    "params",
    "P",
    "energy_kwh",
    "co2_g",
    "train_time_s",
    "memory_gb",
    "pepr_e",
    "pepr_c",
    "pepr_t",
    "pepr_m",
    "pareto_e",
    "pareto_c",
    "pareto_t",
    "pareto_m",
    "rank",
];

enum Cell {
    Text(String),
    Number(Option<f64>),
    Flag(bool),
}

fn rank_cells(record: &RunRecord, run: &RankedRun, variant: Variant) -> Vec<Cell> {
    let mut cells = vec![
        Cell::Text(record.id.clone()),
        Cell::Text(record.arch.clone()),
        Cell::Text(record.group.clone()),
        Cell::Text(record.dataset.clone()),
        Cell::Text(record.kind.label().into()),
        Cell::Number(record.params.map(|p| p as f64)),
        Cell::Number(record.measured_p()),
    ];
    cells.extend(Variant::ALL.iter().map(|v| Cell::Number(v.resource(record))));
    cells.extend(Variant::ALL.iter().map(|v| Cell::Number(run.score[v.index()])));
    cells.extend(Variant::ALL.iter().map(|v| Cell::Flag(run.pareto[v.index()])));
    cells.push(Cell::Number(run.rank[variant.index()].map(f64::from)));
    cells
}

fn print_ranking(
    out: &mut impl Write,
    records: &[RunRecord],
    ranking: &Ranking,
    rows: &[usize],
    variant: Variant,
    format: Format,
    bands: Option<&[Option<crate::results::stability::RankBand>]>,
) -> Result<()> {
    let columns: Vec<&str> =
        RANK_COLUMNS.iter().chain(if bands.is_some() { BAND_COLUMNS } else { &[] }).copied().collect();
    let row_cells = |row: usize| {
        let run = &ranking.runs[row];
        let record = &records[run.index];
        let mut cells = rank_cells(record, run, variant);
        if let Some(bands) = bands {
            let m = &record.measurement;
            let band = bands.get(row).copied().flatten();
            cells.extend([
                Cell::Number(m.energy_kwh_low),
                Cell::Number(m.energy_kwh_high),
                Cell::Number(m.co2_g_low),
                Cell::Number(m.co2_g_high),
                Cell::Number(band.map(|b| b.score_low)),
                Cell::Number(band.map(|b| b.score_high)),
                Cell::Number(band.map(|b| b.best as f64)),
                Cell::Number(band.map(|b| b.worst as f64)),
                match band {
                    Some(b) => Cell::Flag(b.certain()),
                    None => Cell::Number(None),
                },
            ]);
        }
        cells
    };
    match format {
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(&columns)?;
            for &row in rows {
                writer.write_record(row_cells(row).iter().map(|cell| match cell {
                    Cell::Text(t) => t.clone(),
                    Cell::Number(n) => n.map(|n| n.to_string()).unwrap_or_default(),
                    Cell::Flag(b) => b.to_string(),
                }))?;
            }
            writer.flush()?;
        }
        Format::Json => {
            let objects: Vec<serde_json::Value> = rows
                .iter()
                .map(|&row| {
                    let map = columns
                        .iter()
                        .zip(row_cells(row))
                        .map(|(name, cell)| {
                            let value = match cell {
                                Cell::Text(t) => serde_json::Value::String(t),
                                Cell::Number(n) => n.map_or(serde_json::Value::Null, |n| serde_json::json!(n)),
                                Cell::Flag(b) => serde_json::Value::Bool(b),
                            };
                            (name.to_string(), value)
                        })
                        .collect();
                    serde_json::Value::Object(map)
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &objects)?;
            writeln!(out)?;
        }
        Format::Table => print_table(out, records, ranking, rows, variant, bands)?,
    }
    Ok(())
}

/// `pepr rank --bands`'s extra csv/json columns.
pub const BAND_COLUMNS: &[&str] = &[
    "energy_kwh_low",
    "energy_kwh_high",
    "co2_g_low",
    "co2_g_high",
    "score_low",
    "score_high",
    "rank_best",
    "rank_worst",
    "rank_certain",
];

/// A human-readable table: one block per comparison set.
fn print_table(
    out: &mut impl Write,
    records: &[RunRecord],
    ranking: &Ranking,
    rows: &[usize],
    variant: Variant,
    bands: Option<&[Option<crate::results::stability::RankBand>]>,
) -> Result<()> {
    if rows.is_empty() {
        writeln!(out, "no runs to show (import some with `pepr import FILE`)")?;
        return Ok(());
    }
    let energy_header = if ranking.energy == EnergyBasis::Net { "net kWh" } else { "energy kWh" };
    let headers = [
        "rank",
        "arch",
        "P",
        energy_header,
        "CO2 g",
        "time s",
        "mem GB",
        &format!("PePR-{}", variant.letter()),
        "front",
    ];
    let mut current: Option<usize> = None;
    let mut block: Vec<[String; 9]> = Vec::new();
    let flush = |out: &mut dyn Write, set: usize, block: &mut Vec<[String; 9]>| -> std::io::Result<()> {
        writeln!(out, "== {} ==", crate::text::clean(&ranking.sets[set].name))?;
        if variant == Variant::Co2 && ranking.co2_mirrors_energy_in(set) {
            writeln!(out, "{}", crate::results::rank::CO2_MIRRORS_ENERGY)?;
        }
        let mut widths = headers.map(str::len);
        for row in block.iter() {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(crate::text::width(cell));
            }
        }
        let line = |out: &mut dyn Write, cells: [&str; 9]| -> std::io::Result<()> {
            let parts: Vec<String> =
                cells.iter().zip(widths).enumerate().map(|(i, (c, w))| crate::text::pad(c, w, i == 1)).collect();
            writeln!(out, "{}", parts.join("  ").trim_end())
        };
        line(out, headers)?;
        for row in block.drain(..) {
            line(out, row.each_ref().map(String::as_str))?;
        }
        writeln!(out)
    };
    for &row in rows {
        let run = &ranking.runs[row];
        let record = &records[run.index];
        if let Some(set) = current.filter(|&c| c != run.set) {
            flush(out, set, &mut block)?;
        }
        current = Some(run.set);
        let v = variant.index();
        let band = bands.and_then(|b| b.get(row).copied().flatten());
        let m = &record.measurement;
        // With --bands: "0.01200 (0.005-0.035)" and "3?" for a rank that could change within them.
        let with_band = |text: String, low: Option<f64>, high: Option<f64>, decimals: usize| match (bands, low, high) {
            (Some(_), Some(l), Some(h)) => format!("{text} ({l:.decimals$}-{h:.decimals$})"),
            _ => text,
        };
        let energy_band =
            if ranking.energy == EnergyBasis::Gross { (m.energy_kwh_low, m.energy_kwh_high) } else { (None, None) };
        block.push([
            run.rank[v].map_or("—".into(), |r| match band {
                Some(b) if !b.certain() => format!("{r}? (#{}-#{})", b.best, b.worst),
                _ => r.to_string(),
            }),
            crate::text::clean(&record.arch).into_owned(),
            crate::format::fixed(record.measured_p(), 4),
            with_band(
                crate::format::fixed(ranking.resource(Variant::Energy, record), 5),
                energy_band.0,
                energy_band.1,
                5,
            ),
            with_band(crate::format::fixed(record.co2_g, 3), m.co2_g_low, m.co2_g_high, 3),
            crate::format::fixed(record.train_time_s, 1),
            crate::format::fixed(record.memory_gb, 2),
            crate::format::fixed(run.score[v], 4),
            if run.pareto[v] { "*".into() } else { String::new() },
        ]);
    }
    if let Some(set) = current {
        flush(out, set, &mut block)?;
    }
    Ok(())
}

/// Drops repeated names, keeping the first of each in place.
fn dedup_keep_order(names: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
}

/// Resolves the home from the parsed arguments.
pub fn home_of(cli: &Cli) -> Result<Home> {
    Home::resolve(cli.home.as_deref()).with_context(|| format!("choosing the pepr home (--home or {HOME_ENV})"))
}
