//! An experiment grid on Slurm: its cells not yet done become one job array (one task per cell,
//! each task's record carrying the cell's id and group, so resuming works across the cluster), with
//! the grid's spec saved beside the script. Used by `pepr grid --slurm` and the TUI's grid form.
//!
//! "Done" is judged after merging the home's `incoming/` records (a dry run reads them without
//! merging), and a cell still queued or running in an array submitted earlier from this home is not
//! submitted again.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Result, anyhow, bail};

use super::{Cell, GridSpec, cell_states, expand};
use crate::home::Home;
use crate::meter::MeterSettings;
use crate::results::incoming;
use crate::results::record::RunRecord;
use crate::results::store::RunStore;
use crate::slurm::jobs::{self, SubmittedJob};
use crate::slurm::query::{self, TaskInfo};
use crate::slurm::submit::{GridFile, submit_grid_cells};
use crate::slurm::{SlurmOptions, Submission};
use crate::train::TrainConfig;

/// What to submit.
pub struct GridJob<'a> {
    pub spec: &'a GridSpec,
    /// The meters' settings where the grid is submitted; each task meters its own node with them.
    pub meter: &'a MeterSettings,
    pub options: SlurmOptions,
    /// Only the cell at this position of the grid (`--cell`).
    pub only: Option<usize>,
    /// Render the script; merge, save and submit nothing.
    pub dry_run: bool,
}

/// What a grid submission found and did.
#[derive(Debug)]
pub struct GridSubmission {
    pub grid: String,
    /// Cells in the grid (or 1 with `--cell`).
    pub cells: usize,
    pub done: usize,
    /// Cells still queued or running in an earlier array: (cell id, job id). Not submitted again.
    pub in_flight: Vec<(String, String)>,
    /// The array; `None` when no cell is left to submit.
    pub submission: Option<Submission>,
    /// Things worth saying that did not stop the submission.
    pub warnings: Vec<String>,
}

impl GridSubmission {
    /// One line: what was submitted, or why nothing was.
    pub fn summary(&self) -> String {
        let busy = if self.in_flight.is_empty() {
            String::new()
        } else {
            let mut ids: Vec<&str> = self.in_flight.iter().map(|(_, job)| job.as_str()).collect();
            ids.dedup();
            format!(", {} still queued or running (job {})", self.in_flight.len(), ids.join(", "))
        };
        let head = format!("grid {}: {} cells, {} done{busy}", self.grid, self.cells, self.done);
        match &self.submission {
            None if self.in_flight.is_empty() => format!("{head}: every cell is done, nothing to submit"),
            None => format!("{head}: nothing else to submit"),
            Some(s) => match &s.job_id {
                Some(id) => format!("{head}: submitted job {id} with {} array task(s)", s.cells),
                None => format!("{head}: {} to submit (dry run)", s.cells),
            },
        }
    }
}

/// Submits the grid's missing cells as one job array (or renders its script for a dry run).
pub fn submit_missing(home: &Home, job: GridJob) -> Result<GridSubmission> {
    let spec = job.spec;
    let store = RunStore::new(home.runs_file());
    let mut warnings = Vec::new();
    let mut extra = Vec::new();
    if !job.dry_run {
        save_or_check(home, spec)?;
    }
    if job.dry_run {
        // What a submission would merge first, read without moving it.
        let (good, _) = incoming::read_incoming(&home.incoming_dir())?;
        extra.extend(good.into_iter().map(|(_, record)| record));
    } else {
        let report = incoming::merge(&store, &home.incoming_dir())?;
        for (path, why) in &report.bad {
            warnings.push(format!("{}: not merged: {why}", path.display()));
        }
    }
    let loaded = store.load()?;
    warnings.extend(loaded.warnings.iter().map(|w| w.to_string()));
    let mut records = loaded.records;
    records.extend(extra);

    let cells = expand(spec);
    if let Some(index) = job.only
        && index >= cells.len()
    {
        bail!("--cell {index}: grid {} has {} cells (0 to {})", spec.name, cells.len(), cells.len().saturating_sub(1));
    }
    let states = cell_states(&cells, &records);
    let busy = in_flight(home, &records, &mut warnings)?;
    let chosen: Vec<(usize, &Cell)> =
        cells.iter().enumerate().filter(|(i, _)| job.only.is_none_or(|only| only == *i)).collect();
    let done = chosen.iter().filter(|(i, _)| states[*i].is_done()).count();
    let mut in_flight_cells = Vec::new();
    let mut configs: Vec<TrainConfig> = Vec::new();
    for (i, cell) in &chosen {
        if states[*i].is_done() {
            continue;
        }
        if let Some(job_id) = busy.get(&(cell.id.clone(), cell.group.clone())) {
            in_flight_cells.push((cell.id.clone(), job_id.clone()));
            continue;
        }
        let config = TrainConfig { meter: job.meter.clone(), ..cell.config.clone() };
        crate::train::check(&config).map_err(|e| anyhow!("cell {}: {e}", cell.id))?;
        configs.push(config);
    }
    let mut outcome = GridSubmission {
        grid: spec.name.clone(),
        cells: chosen.len(),
        done,
        in_flight: in_flight_cells,
        submission: None,
        warnings,
    };
    if configs.is_empty() {
        return Ok(outcome);
    }
    let mut json = serde_json::to_vec_pretty(spec)?;
    json.push(b'\n');
    let mut options = job.options;
    if options.job_name.is_none() {
        options.job_name = Some(format!("pepr-{}", spec.name));
    }
    let array: Vec<jobs::Cell> = configs.iter().enumerate().map(|(i, c)| jobs::Cell::new(i as u32, c)).collect();
    let grid = GridFile { name: &spec.name, json: &json };
    outcome.submission = Some(submit_grid_cells(home, array, &options, job.dry_run, grid)?);
    Ok(outcome)
}

/// Saves the spec as `grids/NAME.json`, or checks that the file there is this same grid.
pub fn save_or_check(home: &Home, spec: &GridSpec) -> Result<()> {
    home.ensure()?;
    let path = GridSpec::path(home, &spec.name);
    if !path.exists() {
        spec.save(home)?;
        return Ok(());
    }
    let saved = GridSpec::read(&path)?;
    if saved != *spec {
        bail!(
            "a different grid is already saved as {:?} ({}): continue it with --resume {}, or pick another --name",
            spec.name,
            path.display(),
            spec.name
        );
    }
    Ok(())
}

/// The grid cells (id, group) still queued or running in arrays submitted from this home, with
/// their job id. Only arrays with cells whose records have not merged are asked about; when Slurm
/// cannot be asked, a warning says those cells may be submitted twice.
fn in_flight(
    home: &Home,
    records: &[RunRecord],
    warnings: &mut Vec<String>,
) -> Result<HashMap<(String, String), String>> {
    let merged: HashSet<(&str, u32)> =
        records.iter().filter_map(|r| r.slurm.as_ref().map(|s| (s.job_id.as_str(), s.array_task_id))).collect();
    let mut busy = HashMap::new();
    for job in jobs::load(home)? {
        let cells = match jobs::load_cells(&job) {
            Ok(cells) => cells,
            Err(e) => {
                warnings.push(format!("job {}: {e:#}", job.job_id));
                continue;
            }
        };
        let open: Vec<&jobs::Cell> = cells
            .iter()
            .filter(|c| c.grid_cell.is_some() && !merged.contains(&(job.job_id.as_str(), c.index)))
            .collect();
        if open.is_empty() {
            continue;
        }
        match query::query(&job.job_id) {
            Ok(tasks) => busy.extend(still_running(&job, &open, &tasks)),
            Err(e) => warnings.push(format!(
                "cannot ask Slurm about job {} ({e}): its {} unfinished grid cell(s) may be submitted again",
                job.job_id,
                open.len()
            )),
        }
    }
    Ok(busy)
}

/// The cells of `job` Slurm still has queued or running.
fn still_running(
    job: &SubmittedJob,
    cells: &[&jobs::Cell],
    tasks: &BTreeMap<u32, TaskInfo>,
) -> Vec<((String, String), String)> {
    cells
        .iter()
        .filter(|c| tasks.get(&c.index).is_some_and(|t| !t.is_terminal()))
        .filter_map(|c| Some(((c.grid_cell.clone()?, c.group.clone()), job.job_id.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: &str) -> TaskInfo {
        TaskInfo { state: state.into(), node: None, started: false, reason: None }
    }

    #[test]
    fn only_queued_or_running_tasks_hold_their_cells() {
        let mut spec = GridSpec::new(vec!["pepr_lenet5".into()], vec!["synthetic".into()]);
        spec.seeds = vec![0, 1, 2, 3];
        let cells: Vec<jobs::Cell> =
            expand(&spec).iter().enumerate().map(|(i, c)| jobs::Cell::new(i as u32, &c.config)).collect();
        let job = SubmittedJob {
            job_id: "9".into(),
            name: "pepr".into(),
            submitted_at: chrono::Utc::now(),
            dir: "/h/slurm/x".into(),
            cells: 4,
            options: Default::default(),
            resubmits: None,
        };
        let tasks = BTreeMap::from([(0, info("PENDING")), (1, info("RUNNING")), (2, info("FAILED"))]);
        let refs: Vec<&jobs::Cell> = cells.iter().collect();
        let busy = still_running(&job, &refs, &tasks);
        let ids: Vec<&str> = busy.iter().map(|((id, _), _)| id.as_str()).collect();
        assert_eq!(ids, ["synthetic/pepr_lenet5/scratch/f1/s0", "synthetic/pepr_lenet5/scratch/f1/s1"]);
        assert!(busy.iter().all(|((_, group), job)| group == "synthetic" && job == "9"));
    }

    #[test]
    fn a_dry_run_lists_the_missing_cells_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        let mut spec = GridSpec::new(vec!["pepr_lenet5".into()], vec!["synthetic".into()]);
        spec.seeds = vec![0, 1, 2];
        spec.name = "tiny".into();
        let cells = expand(&spec);
        // Cell 1's record waits in incoming/: a dry run counts it as done without merging it.
        let mut record = crate::results::record::sample("r1", "synthetic", 0.9, None);
        record.grid_cell = Some(cells[1].id.clone());
        record.group = cells[1].group.clone();
        incoming::write_incoming(&home.incoming_dir(), &record).unwrap();
        let meter = MeterSettings { pue: 1.5, ..MeterSettings::default() };
        let job = GridJob { spec: &spec, meter: &meter, options: SlurmOptions::default(), only: None, dry_run: true };
        let outcome = submit_missing(&home, job).unwrap();
        assert_eq!((outcome.cells, outcome.done), (3, 1));
        let submission = outcome.submission.as_ref().unwrap();
        assert_eq!(submission.cells, 2);
        let script = &submission.script;
        assert!(script.contains("#SBATCH --job-name=pepr-tiny"), "{script}");
        assert!(script.contains("#SBATCH --array=0-1"), "{script}");
        assert!(script.contains(&format!("--grid-cell {}", cells[0].id)), "{script}");
        assert!(script.contains(&format!("--grid-cell {}", cells[2].id)), "{script}");
        assert!(!script.contains(&format!("--grid-cell {}", cells[1].id)), "{script}");
        assert!(script.contains("--group synthetic --grid-cell") && script.contains("--pue 1.5"), "{script}");
        assert!(script.contains("grid.json beside this script"), "{script}");
        assert_eq!(outcome.summary(), "grid tiny: 3 cells, 1 done: 2 to submit (dry run)");
        assert!(!home.slurm_dir().exists() && !GridSpec::path(&home, "tiny").exists());
        assert_eq!(incoming::read_incoming(&home.incoming_dir()).unwrap().0.len(), 1, "nothing merged");
    }
}
