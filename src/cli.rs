//! Headless commands: everything the results explorer does, for scripts and batch jobs.
//!
//! Exit codes: 0 ok, 2 usage (clap), 1 error with a one-line message on stderr.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::home::{HOME_ENV, Home};
use crate::results::export::export;
use crate::results::import::import_file;
use crate::results::rank::{RankedRun, Ranking, SetBy, Variant, rank};
use crate::results::record::RunRecord;
use crate::results::store::RunStore;
use crate::results::view::{SortKey, select};
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
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
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
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
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
    },
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
    #[arg(long, value_enum, default_value_t = crate::train::backend::Backend::Cpu)]
    backend: crate::train::backend::Backend,
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
}

impl TrainSettings {
    fn config(&self, arch: &str, dataset: &str) -> TrainConfig {
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
        }
    }
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
pub fn run(home: &Home, command: Command) -> Result<()> {
    let store = RunStore::new(home.runs_file());
    match command {
        Command::Tui => unreachable!("the TUI is started by main"),
        Command::Weights { command } => crate::weights::cli::run(home, command),
        Command::Predict { arch, weights, images, top } => {
            crate::weights::cli::run_predict(home, &arch, &weights, &images, top)
        }
        Command::Import { files } => {
            home.ensure()?;
            for file in files {
                let summary = import_file(&store, &file)?;
                println!("{summary}");
            }
            Ok(())
        }
        Command::Export { file, set_by } => {
            let (records, ranking) = load_and_rank(&store, set_by.into())?;
            let rows = export(&records, &ranking, &file)?;
            println!("{}: {rows} runs written", file.display());
            Ok(())
        }
        Command::Data { command, data_dir } => {
            let data_dir = data_dir.unwrap_or_else(|| home.datasets_dir());
            ignore_broken_pipe(crate::data::cli::run(command, &data_dir))
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
        Command::Train { arch, dataset, settings, json } => {
            let config = settings.config(&arch, &dataset);
            let data_dir = settings.data_dir.clone().unwrap_or_else(|| home.datasets_dir());
            let record = crate::train::cli::run(home, &config, &data_dir, json)?;
            if record.status == crate::results::record::RunStatus::Interrupted {
                std::process::exit(130);
            }
            Ok(())
        }
        Command::Sweep { archs, datasets, settings } => {
            let data_dir = settings.data_dir.clone().unwrap_or_else(|| home.datasets_dir());
            let configs: Vec<TrainConfig> =
                archs.iter().flat_map(|a| datasets.iter().map(|d| settings.config(a, d))).collect();
            crate::train::cli::sweep(home, &configs, &data_dir)
        }
        Command::Bench { command: BenchCommand::Train { archs, sizes, batch_size, steps } } => {
            use crate::train::bench;
            let archs =
                if archs.is_empty() { bench::DEFAULT_MODELS.iter().map(|s| s.to_string()).collect() } else { archs };
            let sizes = if sizes.is_empty() { bench::DEFAULT_SIZES.to_vec() } else { sizes };
            if batch_size == 0 || steps == 0 {
                bail!("--batch-size and --steps must be at least 1");
            }
            ignore_broken_pipe(bench::run(&mut std::io::stdout().lock(), &archs, &sizes, batch_size, steps))
        }
        Command::Rank { by, group, top, format, reverse, set_by } => {
            let (records, ranking) = load_and_rank(&store, set_by.into())?;
            if let Some(group) = &group
                && !ranking.sets.iter().any(|s| &s.name == group)
            {
                let names: Vec<&str> = ranking.sets.iter().map(|s| s.name.as_str()).collect();
                bail!(
                    "no comparison set named {group:?}; the store has: {}",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                );
            }
            let descending = by.key.descending_by_default() != reverse;
            let mut rows = select(&records, &ranking, group.as_deref(), "", by.key, descending, by.variant);
            if let Some(top) = top {
                rows = first_n_per_set(&ranking, rows, top);
            }
            let out = std::io::stdout();
            let mut out = out.lock();
            let result = print_ranking(&mut out, &records, &ranking, &rows, by.variant, format);
            ignore_broken_pipe(result)
        }
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

fn load_and_rank(store: &RunStore, set_by: SetBy) -> Result<(Vec<RunRecord>, Ranking)> {
    let loaded = store.load()?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let ranking = rank(&loaded.records, set_by)?;
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
        Cell::Number(Some(record.performance)),
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
) -> Result<()> {
    let row_cells = |row: usize| {
        let run = &ranking.runs[row];
        rank_cells(&records[run.index], run, variant)
    };
    match format {
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(RANK_COLUMNS)?;
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
                    let map = RANK_COLUMNS
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
        Format::Table => print_table(out, records, ranking, rows, variant)?,
    }
    Ok(())
}

/// A human-readable table: one block per comparison set.
fn print_table(
    out: &mut impl Write,
    records: &[RunRecord],
    ranking: &Ranking,
    rows: &[usize],
    variant: Variant,
) -> Result<()> {
    if rows.is_empty() {
        writeln!(out, "no runs to show (import some with `pepr import FILE`)")?;
        return Ok(());
    }
    let headers = [
        "rank",
        "arch",
        "P",
        "energy kWh",
        "CO2 g",
        "time s",
        "mem GB",
        &format!("PePR-{}", variant.letter()),
        "front",
    ];
    let mut current: Option<usize> = None;
    let mut block: Vec<[String; 9]> = Vec::new();
    let flush = |out: &mut dyn Write, set: &str, block: &mut Vec<[String; 9]>| -> std::io::Result<()> {
        writeln!(out, "== {set} ==")?;
        let mut widths = headers.map(str::len);
        for row in block.iter() {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |out: &mut dyn Write, cells: [&str; 9]| -> std::io::Result<()> {
            let parts: Vec<String> = cells
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(i, (c, w))| if i == 1 { format!("{c:<w$}") } else { format!("{c:>w$}") })
                .collect();
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
            flush(out, &ranking.sets[set].name, &mut block)?;
        }
        current = Some(run.set);
        let v = variant.index();
        block.push([
            run.rank[v].map_or("—".into(), |r| r.to_string()),
            record.arch.clone(),
            format!("{:.4}", record.performance),
            fmt_opt(record.energy_kwh, 5),
            fmt_opt(record.co2_g, 3),
            fmt_opt(record.train_time_s, 1),
            fmt_opt(record.memory_gb, 2),
            fmt_opt(run.score[v], 4),
            if run.pareto[v] { "*".into() } else { String::new() },
        ]);
    }
    if let Some(set) = current {
        flush(out, &ranking.sets[set].name, &mut block)?;
    }
    Ok(())
}

/// A number with fixed decimals, or an em dash when missing.
pub fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{v:.decimals$}"))
}

/// Resolves the home from the parsed arguments.
pub fn home_of(cli: &Cli) -> Result<Home> {
    Home::resolve(cli.home.as_deref()).with_context(|| format!("choosing the pepr home (--home or {HOME_ENV})"))
}
