//! What a user can type: clap's types for every `pepr` command, their value parsers, and how they
//! become the domain's settings (a flag wins over the home's settings file, which wins over the
//! defaults). `pepr grid`'s arguments are in `grid`, the `weights` and `runs` subcommands' in their
//! domain modules.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::home::Home;
use crate::results::rank::{EnergyBasis, SetBy, Variant};
use crate::results::view::SortKey;
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
        command: super::weights::WeightsCommand,
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
    Estimate(EstimateArgs),
    /// Move finished runs from the home's incoming/ folder (Slurm array tasks) into the run store.
    Merge,
    /// List, delete, hide or restore stored runs; `runs compact` rewrites the store without deleted ones.
    Runs {
        #[command(subcommand)]
        command: super::manage::RunsCommand,
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
    Grid(super::grid::GridArgs),
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
    Analyze(AnalyzeArgs),
    /// Draw a figure as an SVG or PNG file: pareto (P against a resource for one comparison set),
    /// params, pretrained, fraction (the paper's analyses) or curves (per-epoch test performance).
    Plot(PlotArgs),
    /// Print runs ranked by PePR within each comparison set.
    Rank(RankArgs),
    /// Show or change the settings (carbon intensity, PUE, meter interval, idle baseline, CPU TDP,
    /// ranking energy), kept in the home's settings.json.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `pepr estimate`.
#[derive(Debug, clap::Args)]
pub struct EstimateArgs {
    /// Architectures, comma-separated or repeated.
    #[arg(long = "arch", value_name = "A", value_delimiter = ',', required_unless_present = "accuracy")]
    pub archs: Vec<String>,
    /// Datasets, comma-separated or repeated.
    #[arg(long = "dataset", value_name = "D", value_delimiter = ',', required_unless_present = "accuracy")]
    pub datasets: Vec<String>,
    #[command(flatten)]
    pub settings: TrainSettings,
    /// Report the median and worst relative error of stored estimates, per family.
    #[arg(long, conflicts_with_all = ["archs", "datasets"])]
    pub accuracy: bool,
    /// Measure the calibration again instead of using the cached one.
    #[arg(long)]
    pub recalibrate: bool,
    /// Budget: say which planned runs fit this energy (kWh) by their estimate.
    #[arg(long, value_name = "KWH")]
    pub max_energy: Option<f64>,
    /// Budget: training time in seconds.
    #[arg(long, value_name = "S")]
    pub max_time: Option<f64>,
    /// Budget: CO2 in grams.
    #[arg(long, value_name = "G")]
    pub max_co2: Option<f64>,
    /// table or json.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `pepr analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    #[arg(value_enum)]
    pub analysis: AnalysisArg,
    /// Only this dataset or group (e.g. dermamnist, derma or derma_pt).
    #[arg(long, value_name = "D")]
    pub dataset: Option<String>,
    /// pepr-e (default), pepr-c, pepr-t or pepr-m: the PePR variant, and the resource compared
    /// between pretrained and scratch.
    #[arg(long, default_value = "pepr-e", value_parser = parse_variant)]
    pub variant: Variant,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `pepr plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    #[arg(value_name = "KIND", value_parser = parse_plot_kind)]
    pub kind: crate::plot::Kind,
    /// The comparison set (pareto, curves), group (params; default: all groups averaged), pair
    /// (pretrained: either group or the dataset) or family (fraction: a group or the dataset).
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
    /// pepr-e (default), pepr-c, pepr-t or pepr-m: the PePR variant and its resource.
    #[arg(long, default_value = "pepr-e", value_parser = parse_variant)]
    pub variant: Variant,
    /// curves: these runs (repeatable) instead of the set's five best.
    #[arg(long = "run", value_name = "ID")]
    pub runs: Vec<String>,
    /// The image file; its extension chooses the format: .svg or .png.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// How runs form comparison sets (pareto, curves).
    #[arg(long, value_enum, default_value_t = SetByArg::Group)]
    pub set_by: SetByArg,
}

/// `pepr rank`.
#[derive(Debug, clap::Args)]
pub struct RankArgs {
    /// pepr-e|pepr-c|pepr-t|pepr-m, or a column: rank, arch, group, kind, params, macs, P,
    /// energy_kwh, co2_g, train_time_s, memory_gb, created_at.
    #[arg(long, default_value = "pepr-e", value_parser = parse_sort_by)]
    pub by: SortBy,
    /// Only this comparison set.
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
    /// Only the first N rows of each comparison set.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Reverse the sort order.
    #[arg(long)]
    pub reverse: bool,
    /// How runs form comparison sets.
    #[arg(long, value_enum, default_value_t = SetByArg::Group)]
    pub set_by: SetByArg,
    /// The energy PePR-E ranks on: gross (the paper's) or net of the idle baseline
    /// (default: the `rank_energy` setting, else gross).
    #[arg(long, value_enum, value_name = "gross|net")]
    pub energy: Option<EnergyArg>,
    /// Collapse runs that differ only by seed into one row: mean, std, min and max.
    #[arg(long)]
    pub aggregate_seeds: bool,
    #[command(flatten)]
    pub budget: BudgetArgs,
    /// Show the energy and CO2 uncertainty bands and whether each rank holds within them
    /// (table: low-high beside the figures, `?` on a rank that could change; csv/json: extra
    /// columns energy_kwh_low/high, co2_g_low/high, score_low/high, rank_best/worst, rank_certain).
    #[arg(long)]
    pub bands: bool,
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
    pub(super) intensity: Option<String>,
    /// What-if: re-score CO2 and PePR-C with this PUE (default: each run's own).
    #[arg(long, value_name = "X")]
    pub(super) pue: Option<f64>,
}

impl BudgetArgs {
    pub(super) fn budget(&self) -> crate::estimate::budget::Budget {
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
    pub(super) data_dir: Option<PathBuf>,
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
    pub(super) fn config(&self, arch: &str, dataset: &str, stored: &Settings) -> TrainConfig {
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
        /// Measure each case N times (with --compare, pepr and PyTorch taking turns) and show each
        /// side's median run: single wall-clock runs of small cases can differ 2x.
        #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=99))]
        repeat: u32,
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

/// `--format table|csv|json`, written by [`crate::output`].
pub use crate::output::Format;

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
