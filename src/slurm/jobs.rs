//! What pepr submitted: `slurm/jobs.json` in the home (one entry per array), and each submission's
//! `cells.json` beside its script. Both are rewritten whole under a temporary name and renamed, the
//! jobs file under a lock, so a crash or two pepr processes never leave a half-written list.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::home::Home;
use crate::train::TrainConfig;
use crate::train::record::group_name;

/// One submitted job array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubmittedJob {
    /// Slurm's job id of the array (`SLURM_ARRAY_JOB_ID` in its tasks).
    pub job_id: String,
    pub name: String,
    pub submitted_at: DateTime<Utc>,
    /// The submission's folder: `job.sbatch`, `cells.json`, task logs.
    pub dir: PathBuf,
    pub cells: usize,
    /// The options it was submitted with (a resubmission reuses them).
    #[serde(default)]
    pub options: super::SlurmOptions,
    /// The array whose missing cells this one reruns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resubmits: Option<String>,
}

/// One cell of an array, as the cells file keeps it: enough to show it and to write a record for it
/// if Slurm cancels it before it starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The array task id.
    pub index: u32,
    pub arch: String,
    pub dataset: String,
    /// The comparison group its record will have.
    pub group: String,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub fraction: f64,
    pub seed: u64,
    /// The record's metric name, e.g. "test accuracy".
    pub metric: String,
    #[serde(default)]
    pub pretrained: Option<String>,
    #[serde(default)]
    pub grid_cell: Option<String>,
    /// The `pepr train` flags the task runs with.
    pub args: Vec<String>,
}

impl Cell {
    pub fn new(index: u32, config: &TrainConfig) -> Cell {
        Cell {
            index,
            arch: config.arch.clone(),
            dataset: config.dataset.clone(),
            group: config
                .group
                .clone()
                .unwrap_or_else(|| group_name(&config.dataset, config.fraction, config.pretrained.is_some())),
            epochs: config.epochs,
            batch_size: config.batch_size,
            lr: config.lr,
            fraction: config.fraction,
            seed: config.seed,
            metric: config.metric.name().to_string(),
            pretrained: config.pretrained.clone(),
            grid_cell: config.grid_cell.clone(),
            args: super::script::train_args(config),
        }
    }
}

pub const JOBS_FILE: &str = "jobs.json";
pub const CELLS_FILE: &str = "cells.json";
pub const SCRIPT_FILE: &str = "job.sbatch";
/// A grid's spec, copied beside the script of the array that runs its cells.
pub const GRID_FILE: &str = "grid.json";

/// Writes `bytes` to `path` atomically: a synced temporary file renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(crate::files::write(path, bytes)?)
}

/// The jobs submitted from this home, oldest first. A missing file is an empty list.
pub fn load(home: &Home) -> Result<Vec<SubmittedJob>> {
    let path = home.slurm_dir().join(JOBS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("{}: not a pepr jobs file", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Adds a job to the jobs file (read, add, write temp + rename, all under `jobs.lock`).
pub fn add(home: &Home, job: SubmittedJob) -> Result<()> {
    let dir = home.slurm_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let lock_path = dir.join("jobs.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    lock.lock().with_context(|| format!("cannot lock {}", lock_path.display()))?;
    let mut jobs = load(home)?;
    jobs.retain(|j| j.job_id != job.job_id);
    jobs.push(job);
    write_atomic(&dir.join(JOBS_FILE), &serde_json::to_vec_pretty(&jobs)?)
}

/// A submission's cells.
pub fn load_cells(job: &SubmittedJob) -> Result<Vec<Cell>> {
    let path = job.dir.join(CELLS_FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: not a pepr cells file", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_remembered_in_order_and_a_resubmitted_id_replaces_its_entry() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        assert!(load(&home).unwrap().is_empty());
        let job = |id: &str, cells| SubmittedJob {
            job_id: id.into(),
            name: "pepr".into(),
            submitted_at: Utc::now(),
            dir: dir.path().join(id),
            cells,
            options: Default::default(),
            resubmits: None,
        };
        add(&home, job("7", 3)).unwrap();
        add(&home, job("8", 2)).unwrap();
        add(&home, job("7", 4)).unwrap();
        let jobs = load(&home).unwrap();
        let ids: Vec<_> = jobs.iter().map(|j| (j.job_id.as_str(), j.cells)).collect();
        assert_eq!(ids, [("8", 2), ("7", 4)]);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(home.slurm_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
    }

    #[test]
    fn a_corrupt_jobs_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::create_dir_all(home.slurm_dir()).unwrap();
        std::fs::write(home.slurm_dir().join(JOBS_FILE), "[{").unwrap();
        let error = format!("{:#}", load(&home).unwrap_err());
        assert!(error.contains("jobs.json: not a pepr jobs file"), "{error}");
    }
}
