//! Submitting a list of runs as one job array.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;

use super::SlurmOptions;
use super::jobs::{self, CELLS_FILE, Cell, GRID_FILE, SCRIPT_FILE, SubmittedJob};
use super::script::{ScriptInput, render};
use crate::home::Home;
use crate::train::TrainConfig;

/// What `submit` did.
#[derive(Clone, Debug)]
pub struct Submission {
    /// Slurm's job id; `None` for a dry run.
    pub job_id: Option<String>,
    /// The submission's folder (not created by a dry run).
    pub dir: PathBuf,
    pub script: String,
    pub cells: usize,
}

/// Refuses option values that would break the script (they become `#SBATCH` lines).
fn check_options(options: &SlurmOptions) -> Result<()> {
    let named = [
        ("--job-name", options.job_name.as_deref()),
        ("--partition", options.partition.as_deref()),
        ("--time", options.time.as_deref()),
        ("--account", options.account.as_deref()),
    ];
    for (flag, value) in named {
        if let Some(value) = value
            && (value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            bail!("{flag} {value:?}: must be one word");
        }
    }
    for extra in &options.extra {
        if !extra.starts_with('-') || extra.chars().any(char::is_control) {
            bail!("--extra {extra:?}: expected sbatch options such as --qos=short");
        }
    }
    if options.gpus_per_task == Some(0) || options.cpus_per_task == Some(0) {
        bail!("--gpus-per-task and --cpus-per-task must be at least 1");
    }
    Ok(())
}

/// Writes the script and cells file for `configs` under `HOME/slurm/NAME-TIMESTAMP/`, submits it
/// with `sbatch --parsable`, and adds the job to `HOME/slurm/jobs.json`. A dry run only renders the
/// script. The home must be a path every node sees; this pepr binary's path is what the tasks run.
pub fn submit(home: &Home, configs: &[TrainConfig], options: &SlurmOptions, dry_run: bool) -> Result<Submission> {
    let cells: Vec<Cell> = configs.iter().enumerate().map(|(i, c)| Cell::new(i as u32, c)).collect();
    submit_cells(home, cells, options, dry_run, None)
}

/// [`submit`] for cells already made (a resubmission's); they are renumbered 0, 1, ... in order.
pub fn submit_cells(
    home: &Home,
    cells: Vec<Cell>,
    options: &SlurmOptions,
    dry_run: bool,
    resubmits: Option<String>,
) -> Result<Submission> {
    submit_array(home, cells, options, dry_run, resubmits, None)
}

/// An experiment grid's spec, saved beside the script of the array that runs its cells.
pub struct GridFile<'a> {
    pub name: &'a str,
    /// The spec as JSON (what `grids/NAME.json` holds).
    pub json: &'a [u8],
}

/// [`submit_cells`] for the cells of an experiment grid: its spec goes beside the script as
/// `grid.json`, and the script names the grid.
pub fn submit_grid_cells(
    home: &Home,
    cells: Vec<Cell>,
    options: &SlurmOptions,
    dry_run: bool,
    grid: GridFile,
) -> Result<Submission> {
    submit_array(home, cells, options, dry_run, None, Some(grid))
}

fn submit_array(
    home: &Home,
    mut cells: Vec<Cell>,
    options: &SlurmOptions,
    dry_run: bool,
    resubmits: Option<String>,
    grid: Option<GridFile>,
) -> Result<Submission> {
    if cells.is_empty() {
        bail!("nothing to submit: no runs");
    }
    for (index, cell) in cells.iter_mut().enumerate() {
        cell.index = index as u32;
    }
    check_options(options)?;
    let name = options.job_name.clone().unwrap_or_else(|| "pepr".to_string());
    home.ensure()?;
    let root = std::fs::canonicalize(home.root())
        .with_context(|| format!("cannot resolve the home {}", home.root().display()))?;
    let home = Home::at(&root);
    let pepr = std::env::current_exe().context("cannot find pepr's own executable")?;
    let now = Utc::now();
    let dir = home.slurm_dir().join(format!("{name}-{}", now.format("%Y%m%d-%H%M%S-%3f")));
    let script = render(&ScriptInput {
        pepr: &pepr,
        home: &root,
        dir: &dir,
        job_name: &name,
        cells: &cells,
        options,
        grid: grid.as_ref().map(|g| g.name),
    });
    if dry_run {
        return Ok(Submission { job_id: None, dir, script, cells: cells.len() });
    }

    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    jobs::write_atomic(&dir.join(CELLS_FILE), &serde_json::to_vec_pretty(&cells)?)?;
    if let Some(grid) = &grid {
        jobs::write_atomic(&dir.join(GRID_FILE), grid.json)?;
    }
    let script_path = dir.join(SCRIPT_FILE);
    jobs::write_atomic(&script_path, script.as_bytes())?;

    let output =
        Command::new("sbatch").arg("--parsable").arg(&script_path).current_dir(&dir).output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!("sbatch is not on the PATH: --slurm needs Slurm's client tools (--dry-run prints the script)")
            } else {
                anyhow!("cannot run sbatch: {e}")
            }
        })?;
    if !output.status.success() {
        bail!("sbatch refused {}: {}", script_path.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let job_id = stdout.trim().split(';').next().unwrap_or("").trim().to_string();
    if job_id.is_empty() || !job_id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed no job id (got {:?})", stdout.trim());
    }
    jobs::add(
        &home,
        SubmittedJob {
            job_id: job_id.clone(),
            name,
            submitted_at: now,
            dir: dir.clone(),
            cells: cells.len(),
            options: options.clone(),
            resubmits,
        },
    )?;
    Ok(Submission { job_id: Some(job_id), dir, script, cells: cells.len() })
}

/// Whether an executable `sbatch` is on the PATH (the TUI offers Slurm then). Looks, runs nothing.
pub fn sbatch_on_path() -> bool {
    on_path("sbatch", std::env::var_os("PATH").as_deref())
}

fn on_path(program: &str, path: Option<&std::ffi::OsStr>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = path else { return false };
    std::env::split_paths(path).any(|dir| {
        std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// `pepr sweep ... --slurm`: checks every run's settings, architecture and dataset here first (the
/// home is shared, so the tasks see the same datasets), then submits or prints the script.
pub fn sweep(
    home: &Home,
    configs: &[TrainConfig],
    data_dir: &std::path::Path,
    explicit_data_dir: Option<&std::path::Path>,
    args: &super::args::SlurmArgs,
) -> Result<()> {
    for config in configs {
        crate::train::check(config)?;
        crate::data::registry::find(&config.dataset, data_dir).map_err(|e| anyhow!("{e}"))?;
    }
    let mut options = args.options();
    options.data_dir = explicit_data_dir.map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()));
    let submission = submit(home, configs, &options, args.dry_run)?;
    print_submission(&submission);
    Ok(())
}

/// What a submission prints: the script for a dry run, else the job id and where its files are.
pub fn print_submission(submission: &Submission) {
    // A closed stdout (`| head`) is not an error: the job is submitted either way.
    let mut out = std::io::stdout().lock();
    let _ = match &submission.job_id {
        None => write!(out, "{}", submission.script),
        Some(id) => writeln!(
            out,
            "submitted job {id}: {} array task{}; script, cells and logs in {}\n\
             watch it with `pepr jobs`; finished runs merge into the store there and in the TUI",
            submission.cells,
            if submission.cells == 1 { "" } else { "s" },
            submission.dir.display()
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_that_would_break_the_script_are_refused() {
        let bad = SlurmOptions { partition: Some("gpu\n#SBATCH --x".into()), ..Default::default() };
        assert!(check_options(&bad).unwrap_err().to_string().contains("--partition"));
        let bad = SlurmOptions { extra: vec!["qos=short".into()], ..Default::default() };
        assert!(check_options(&bad).unwrap_err().to_string().contains("--extra"));
        let bad = SlurmOptions { cpus_per_task: Some(0), ..Default::default() };
        assert!(check_options(&bad).is_err());
        assert!(check_options(&SlurmOptions::default()).is_ok());
    }

    #[test]
    fn sbatch_is_found_only_as_an_executable_file_on_the_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        let program = dir.path().join("sbatch");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths([empty.path(), dir.path()]).unwrap();
        assert!(!on_path("sbatch", Some(&path)), "not executable yet");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(on_path("sbatch", Some(&path)));
        assert!(!on_path("sbatch", Some(empty.path().as_os_str())));
        assert!(!on_path("sbatch", None));
    }

    #[test]
    fn a_dry_run_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        let configs = [TrainConfig::new("pepr_lenet5", "synthetic")];
        let submission = submit(&home, &configs, &SlurmOptions::default(), true).unwrap();
        assert!(submission.job_id.is_none());
        assert!(submission.script.contains("#SBATCH --array=0-0"));
        assert!(!home.slurm_dir().exists());
    }
}
