//! `pepr grid`: builds (or re-reads) a grid spec, saves it in the home, and trains the cells the run
//! store does not yet hold as completed, one after another through `pepr sweep`'s code path
//! (progress, Ctrl-C stores the current run as interrupted, exit codes).

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};

use super::args::MetricArg;
use crate::grid::spec::{GridSpec, Start};
use crate::grid::{CellState, cell_states, expand};
use crate::home::Home;
use crate::meter::backend::Backend;
use crate::results::groups::parse_rename;
use crate::results::store::RunStore;
use crate::train::TrainConfig;

/// The arguments of `pepr grid`.
#[derive(Debug, clap::Args)]
pub struct GridArgs {
    /// Architectures, comma-separated or repeated.
    #[arg(
        long = "arch",
        value_name = "A",
        value_delimiter = ',',
        required_unless_present = "resume",
        conflicts_with = "resume"
    )]
    pub archs: Vec<String>,
    /// Datasets, comma-separated or repeated.
    #[arg(
        long = "dataset",
        value_name = "D",
        value_delimiter = ',',
        required_unless_present = "resume",
        conflicts_with = "resume"
    )]
    pub datasets: Vec<String>,
    /// Starts: `scratch` (default), a weights source SRC (pretrained only), `both:SRC` or `scratch,SRC`.
    #[arg(long, value_name = "SRC", value_delimiter = ',', conflicts_with = "resume")]
    pub pretrained: Vec<String>,
    /// Training-data fractions, e.g. 1,0.1,0.01 (groups: DATASET, DATASET_small, DATASET_smallest).
    #[arg(long, value_name = "F", value_delimiter = ',', conflicts_with = "resume")]
    pub fractions: Vec<f64>,
    /// Seeds, e.g. 0,1,2.
    #[arg(long, value_name = "S", value_delimiter = ',', conflicts_with = "resume")]
    pub seeds: Vec<u64>,
    /// Rename a group: FROM=TO (repeatable), e.g. dermamnist_pt_small=derma_small.
    #[arg(long = "group-name", value_name = "FROM=TO", value_parser = parse_rename, conflicts_with = "resume")]
    pub group_names: Vec<(String, String)>,
    /// How group names are made, from {dataset} {pt} {fraction} {f} {start} (default: {dataset}{pt}{fraction}).
    #[arg(long, value_name = "T", conflicts_with = "resume")]
    pub group_template: Option<String>,
    #[arg(long, default_value_t = TrainConfig::DEFAULT_EPOCHS, value_name = "N", conflicts_with = "resume")]
    pub epochs: usize,
    #[arg(long, default_value_t = TrainConfig::DEFAULT_BATCH_SIZE, value_name = "B", conflicts_with = "resume")]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = TrainConfig::DEFAULT_LR, value_name = "X", conflicts_with = "resume")]
    pub lr: f64,
    /// The test metric that becomes P.
    #[arg(long, value_enum, default_value_t = MetricArg::Accuracy, conflicts_with = "resume")]
    pub metric: MetricArg,
    /// cpu or cuda.
    #[arg(long, value_enum, default_value_t = Backend::Cpu, conflicts_with = "resume")]
    pub backend: Backend,
    /// Pretrained cells train only the classifier head.
    #[arg(long, conflicts_with = "resume")]
    pub freeze_backbone: bool,
    /// CPU threads per cell (default: the `threads` setting, else every core).
    #[arg(long, value_name = "N", conflicts_with = "resume")]
    pub threads: Option<usize>,
    /// Save the grid as grids/NAME.json in the home (default: `grid-` and a hash of its settings).
    #[arg(long, value_name = "NAME", conflicts_with = "resume")]
    pub name: Option<String>,
    /// Continue the grid saved as NAME: its cells not yet stored as completed run.
    #[arg(long, value_name = "NAME")]
    pub resume: Option<String>,
    /// Run only the cell at this 0-based position of the grid (skipped when done), e.g. one task
    /// of a job array: `--resume NAME --cell $SLURM_ARRAY_TASK_ID`.
    #[arg(long, value_name = "INDEX")]
    pub cell: Option<usize>,
    /// List the cells and which are done; train nothing, save nothing. With --slurm: print the
    /// sbatch script of the missing cells instead of submitting it.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit the cells not yet done to Slurm as one job array (one task per cell) instead of
    /// training them here; the spec is saved beside the script (see docs/clusters.md).
    #[arg(long)]
    pub slurm: bool,
    #[command(flatten)]
    pub sbatch: crate::slurm::args::SbatchArgs,
    /// Where dataset files live (default: the home's `datasets/` folder).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub meter: super::args::MeterArgs,
}

impl GridArgs {
    /// The spec these arguments describe (not yet validated).
    pub fn spec(&self) -> Result<GridSpec> {
        let mut spec = GridSpec::new(self.archs.clone(), self.datasets.clone());
        spec.starts = parse_starts(&self.pretrained)?;
        if !self.fractions.is_empty() {
            spec.fractions = self.fractions.clone();
        }
        if !self.seeds.is_empty() {
            spec.seeds = self.seeds.clone();
        }
        spec.group_template = self.group_template.clone();
        for (from, to) in &self.group_names {
            if spec.group_names.insert(from.clone(), to.clone()).is_some() {
                bail!("--group-name renames {from:?} twice");
            }
        }
        spec.train.epochs = self.epochs;
        spec.train.batch_size = self.batch_size;
        spec.train.lr = self.lr;
        spec.train.metric = crate::train::Metric::from(self.metric).key().to_string();
        spec.train.backend = match self.backend {
            Backend::Cpu => "cpu".into(),
            Backend::Cuda => "cuda".into(),
        };
        spec.train.freeze_backbone = self.freeze_backbone;
        spec.train.threads = self.threads;
        spec.name = match &self.name {
            Some(name) => name.clone(),
            None => spec.derived_name(),
        };
        spec.validate().map_err(|e| anyhow!("{}", flag_of(&e)))?;
        Ok(spec)
    }
}

/// `--pretrained` values: `scratch`, a source, `both:SRC`; none means scratch only.
pub fn parse_starts(values: &[String]) -> Result<Vec<Start>> {
    let mut starts = Vec::new();
    for value in values {
        let value = value.trim();
        if value == "both" {
            bail!("--pretrained both needs a source: both:SRC (or scratch,SRC)");
        }
        let items: Vec<Start> = match value.strip_prefix("both:") {
            Some(source) if !source.trim().is_empty() => vec![Start::Scratch, Start::parse(source)],
            Some(_) => bail!("--pretrained both:SRC needs a source after the colon"),
            None => vec![Start::parse(value)],
        };
        for start in items {
            if !starts.contains(&start) {
                starts.push(start);
            }
        }
    }
    if starts.is_empty() {
        starts.push(Start::Scratch);
    }
    Ok(starts)
}

/// Spec validation speaks of file fields; on the command line, name the flag instead.
fn flag_of(error: &str) -> String {
    let flags = [
        ("field `archs`", "--arch"),
        ("field `datasets`", "--dataset"),
        ("field `starts`", "--pretrained"),
        ("field `fractions`", "--fractions"),
        ("field `seeds`", "--seeds"),
        ("field `group_names`", "--group-name"),
        ("field `group_template`", "--group-template"),
        ("field `name`", "--name"),
        ("field `train.epochs`", "--epochs"),
        ("field `train.batch_size`", "--batch-size"),
        ("field `train.lr`", "--lr"),
    ];
    for (field, flag) in flags {
        if let Some(rest) = error.strip_prefix(field) {
            return format!("{flag}{rest}");
        }
    }
    error.to_string()
}

/// Runs `pepr grid`.
pub fn run(home: &Home, args: GridArgs) -> Result<()> {
    let resuming = args.resume.is_some();
    let spec = match &args.resume {
        Some(name) => GridSpec::load(home, name)?,
        None => args.spec()?,
    };
    let data_dir = args.data_dir.clone().unwrap_or_else(|| home.datasets_dir());
    for dataset in &spec.datasets {
        crate::data::registry::find(dataset, &data_dir).map_err(|e| anyhow!("{e}"))?;
    }
    let cells = expand(&spec);
    if let Some(index) = args.cell
        && index >= cells.len()
    {
        bail!("--cell {index}: grid {} has {} cells (0 to {})", spec.name, cells.len(), cells.len().saturating_sub(1));
    }
    if args.slurm {
        return submit(home, &spec, &args);
    }
    let loaded = RunStore::new(home.runs_file()).load()?;
    for line in loaded.warning_lines() {
        eprintln!("{line}");
    }
    let states = cell_states(&cells, &loaded.records);
    let done = states.iter().filter(|s| s.is_done()).count();
    let path = GridSpec::path(home, &spec.name);

    if args.dry_run {
        let width = cells.iter().map(|c| c.id.len()).max().unwrap_or(0);
        println!("{:<11}  {:<width$}  group", "state", "cell");
        for (cell, state) in cells.iter().zip(&states) {
            let run = match state {
                CellState::Done { run_id } => format!("  ({run_id})"),
                _ => String::new(),
            };
            println!("{:<11}  {:<width$}  {}{run}", state.label(), cell.id, cell.group);
        }
        println!(
            "grid {}: {} cells, {done} done, {} to run{}",
            spec.name,
            cells.len(),
            cells.len() - done,
            match GridSpec::read(&path) {
                Ok(saved) if saved == spec => format!(" (saved as {})", path.display()),
                Ok(_) => format!(" (dry run; a different grid is saved as {})", path.display()),
                Err(_) if path.exists() => format!(" (dry run; {} cannot be read)", path.display()),
                Err(_) => " (dry run: not saved)".into(),
            }
        );
        let meter = args.meter.settings(&super::stored_settings(home));
        let todo: Vec<TrainConfig> = cells
            .iter()
            .zip(&states)
            .filter(|(_, s)| !s.is_done())
            .map(|(c, _)| TrainConfig { meter: meter.clone(), ..c.config.clone() })
            .collect();
        if !todo.is_empty() {
            let plan = crate::estimate::plan(home, &todo, &data_dir, false);
            println!("{}", super::estimate::plan_line(&plan));
        }
        return Ok(());
    }

    if !resuming {
        crate::grid::slurm::save_or_check(home, &spec)?;
    }
    eprintln!(
        "grid {}: {} cells, {done} already done, {} to run (spec: {})",
        spec.name,
        cells.len(),
        cells.len() - done,
        path.display()
    );
    let chosen = |i: usize| args.cell.is_none_or(|only| only == i);
    // The meters are this machine's (flags, then the home's settings), not part of the grid's spec.
    let stored = super::stored_settings(home);
    let meter = args.meter.settings(&stored);
    let configs: Vec<TrainConfig> = cells
        .iter()
        .zip(&states)
        .enumerate()
        .filter(|(i, (_, s))| chosen(*i) && !s.is_done())
        .map(|(_, (c, _))| TrainConfig {
            meter: meter.clone(),
            threads: c.config.threads.or(stored.threads),
            ..c.config.clone()
        })
        .collect();
    if configs.is_empty() {
        match args.cell {
            Some(index) => println!("grid {}: cell {index} ({}) is done", spec.name, cells[index].id),
            None => println!("grid {}: every cell is done", spec.name),
        }
        return Ok(());
    }
    super::estimate::announce(home, &configs, &data_dir);
    super::train::sweep(home, &configs, &data_dir)
}

/// `pepr grid ... --slurm`: the cells not yet done (nor queued or running in an earlier array) as
/// one job array; `--dry-run` prints its script.
fn submit(home: &Home, spec: &GridSpec, args: &GridArgs) -> Result<()> {
    let meter = args.meter.settings(&super::stored_settings(home));
    let mut options = args.sbatch.options();
    options.data_dir = args.data_dir.as_ref().map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()));
    let job = crate::grid::slurm::GridJob { spec, meter: &meter, options, only: args.cell, dry_run: args.dry_run };
    let outcome = crate::grid::slurm::submit_missing(home, job)?;
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    match &outcome.submission {
        Some(submission) => {
            eprintln!("{}", outcome.summary());
            crate::slurm::submit::print_submission(submission);
        }
        None => println!("{}", outcome.summary()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_from_the_command_line() {
        let s = |v: &[&str]| parse_starts(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&[]).unwrap(), vec![Start::Scratch]);
        assert_eq!(s(&["imagenet"]).unwrap(), vec![Start::Pretrained("imagenet".into())]);
        assert_eq!(s(&["both:imagenet"]).unwrap(), vec![Start::Scratch, Start::Pretrained("imagenet".into())]);
        assert_eq!(s(&["scratch", "imagenet"]).unwrap(), vec![Start::Scratch, Start::Pretrained("imagenet".into())]);
        assert!(s(&["both"]).unwrap_err().to_string().contains("both:SRC"));
    }

    #[test]
    fn errors_name_the_flag() {
        assert_eq!(flag_of("field `fractions`: 2 is not in (0, 1]"), "--fractions: 2 is not in (0, 1]");
    }
}
