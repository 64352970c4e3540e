//! `pepr jobs`: each submitted array's cells with their state, from the run store first (a cell
//! whose record has merged shows how the run ended) and from Slurm otherwise.
//!
//! A cell Slurm cancelled before it started has no pepr process and so no record of its own. So that
//! the cell still reads "interrupted" in the store (as the issue asks of a cancelled task), pepr writes
//! one for it from Slurm's state: id `slurm-JOB_TASK`, status interrupted, no figures, origin
//! "from Slurm's job state". A task that started and ended without a record (killed hard) gets
//! none: it is shown as Slurm reports it, with its log file, because its own record could still be
//! on its way.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;

use super::jobs::{self, Cell, SubmittedJob};
use super::query::{self, TaskInfo};
use crate::home::Home;
use crate::results::incoming::{self, MergeReport};
use crate::results::record::{Origin, RunRecord, RunStatus, SCHEMA_VERSION, SlurmTask};
use crate::results::store::RunStore;

/// One cell of a submitted array.
#[derive(Clone, Debug, PartialEq)]
pub struct CellStatus {
    pub index: u32,
    pub arch: String,
    pub dataset: String,
    pub group: String,
    /// What Slurm says, when it still knows the task.
    pub slurm: Option<TaskInfo>,
    /// The merged record's id and status.
    pub run: Option<(String, RunStatus)>,
    /// Its record was written from Slurm's state: Slurm cancelled it before it started.
    pub never_started: bool,
    pub node: Option<String>,
    /// The task's stderr log.
    pub log: PathBuf,
}

impl CellStatus {
    /// pending, running, completed, failed, interrupted, cancelled, … : the record's status once it
    /// has merged ("cancelled" when Slurm cancelled it before it started: its record says
    /// interrupted), Slurm's state (lower case) before.
    pub fn state(&self) -> String {
        if self.never_started {
            return "cancelled".to_string();
        }
        match (&self.run, &self.slurm) {
            (Some((_, status)), _) => status.label().to_string(),
            (None, Some(info)) => info.state.to_ascii_lowercase(),
            (None, None) => "unknown".to_string(),
        }
    }
}

/// One submitted array and its cells.
#[derive(Clone, Debug, PartialEq)]
pub struct JobStatus {
    pub job: SubmittedJob,
    pub cells: Vec<CellStatus>,
    /// Why Slurm could not be asked (its tools missing, the job forgotten).
    pub slurm_error: Option<String>,
    /// Why the cells file could not be read.
    pub cells_error: Option<String>,
}

impl JobStatus {
    /// Counts of each state, e.g. "2 completed, 1 running".
    pub fn summary(&self) -> String {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for cell in &self.cells {
            *counts.entry(cell.state()).or_default() += 1;
        }
        counts.iter().map(|(state, n)| format!("{n} {state}")).collect::<Vec<_>>().join(", ")
    }

    /// Whether some cell may still produce a record: Slurm still has it queued or running.
    pub fn active(&self) -> bool {
        self.cells.iter().any(|c| c.run.is_none() && c.slurm.as_ref().is_some_and(|s| !s.is_terminal()))
    }
}

/// The record pepr writes for a cell Slurm cancelled before it started.
pub fn never_started_record(job_id: &str, cell: &Cell, info: &TaskInfo) -> RunRecord {
    let entry = crate::catalog::find(&cell.arch);
    RunRecord {
        schema: SCHEMA_VERSION,
        id: format!("slurm-{job_id}_{}", cell.index),
        created_at: Utc::now(),
        arch: cell.arch.clone(),
        family: entry.map(|e| e.family.to_string()),
        kind: entry.map(|e| e.kind).unwrap_or_default(),
        efficient: entry.map(|e| e.efficient),
        params: None,
        macs: None,
        dataset: cell.dataset.clone(),
        group: cell.group.clone(),
        data_fraction: Some(cell.fraction),
        pretrained: cell.pretrained.clone(),
        epochs: Some(cell.epochs as u32),
        batch_size: Some(cell.batch_size as u32),
        lr: Some(cell.lr),
        seed: Some(cell.seed),
        backend: None,
        device: None,
        metric: cell.metric.clone(),
        epoch_perf: Vec::new(),
        performance: 0.0,
        energy_kwh: None,
        co2_g: None,
        train_time_s: None,
        memory_gb: None,
        memory_kind: None,
        power_source: None,
        carbon_intensity_g_per_kwh: None,
        meters: None,
        prediction: None,
        estimate: None,
        frozen_backbone: None,
        grid_cell: cell.grid_cell.clone(),
        node: None,
        slurm: Some(SlurmTask { job_id: job_id.to_string(), array_task_id: cell.index }),
        checkpoint_error: None,
        reason: None,
        epochs_requested: None,
        status: RunStatus::Interrupted,
        origin: Origin::SlurmState { state: format!("{} before it started", info.state) },
        measurement: Default::default(),
    }
}

/// The cells of one job, given its Slurm tasks and the stored records of its tasks.
pub fn cell_statuses(
    job: &SubmittedJob,
    cells: &[Cell],
    tasks: &BTreeMap<u32, TaskInfo>,
    records: &HashMap<(String, u32), &RunRecord>,
) -> Vec<CellStatus> {
    cells
        .iter()
        .map(|cell| {
            let record = records.get(&(job.job_id.clone(), cell.index));
            let slurm = tasks.get(&cell.index).cloned();
            CellStatus {
                index: cell.index,
                arch: cell.arch.clone(),
                dataset: cell.dataset.clone(),
                group: cell.group.clone(),
                node: record.and_then(|r| r.node.clone()).or_else(|| slurm.as_ref().and_then(|s| s.node.clone())),
                run: record.map(|r| (r.id.clone(), r.status)),
                never_started: record.is_some_and(|r| matches!(r.origin, Origin::SlurmState { .. })),
                slurm,
                log: job.dir.join(format!("task-{}.err", cell.index)),
            }
        })
        .collect()
}

/// Merges incoming records, asks Slurm about every submitted array, stores records for cells Slurm
/// cancelled before they started, and returns each array's cells.
pub fn refresh(home: &Home) -> Result<(MergeReport, Vec<JobStatus>)> {
    let store = RunStore::new(home.runs_file());
    let submitted = jobs::load(home)?;
    // Slurm is asked before the incoming records are merged. A task writes its record before it
    // exits, so every task Slurm already calls finished has its record merged below. Merging
    // first left a window: a task that ended between the two showed as completed with no record
    // and counted as missing, so `jobs resubmit` would have run it again (a test saw it under load).
    let answers: Vec<_> = submitted.iter().map(|job| query::query(&job.job_id)).collect();
    let report = incoming::merge(&store, &home.incoming_dir())?;
    if submitted.is_empty() {
        return Ok((report, Vec::new()));
    }
    let mut loaded = store.load()?.records;
    let mut statuses = Vec::new();
    let mut written = Vec::new();
    for (job, answer) in submitted.into_iter().zip(answers) {
        let (cells, cells_error) = match jobs::load_cells(&job) {
            Ok(cells) => (cells, None),
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        };
        let (tasks, slurm_error) = match answer {
            Ok(tasks) => (tasks, None),
            Err(e) => (BTreeMap::new(), Some(e)),
        };
        let index: HashMap<(String, u32), &RunRecord> =
            loaded.iter().filter_map(|r| r.slurm.as_ref().map(|s| ((s.job_id.clone(), s.array_task_id), r))).collect();
        for cell in &cells {
            if index.contains_key(&(job.job_id.clone(), cell.index)) {
                continue;
            }
            if let Some(info) = tasks.get(&cell.index)
                && info.state == "CANCELLED"
                && !info.started
            {
                written.push(never_started_record(&job.job_id, cell, info));
            }
        }
        if !written.is_empty() {
            store.append_new(&written)?;
            loaded.append(&mut written);
        }
        let index: HashMap<(String, u32), &RunRecord> =
            loaded.iter().filter_map(|r| r.slurm.as_ref().map(|s| ((s.job_id.clone(), s.array_task_id), r))).collect();
        let cells = cell_statuses(&job, &cells, &tasks, &index);
        statuses.push(JobStatus { job, cells, slurm_error, cells_error });
    }
    Ok((report, statuses))
}

/// `pepr jobs`: a block per array, a line per cell (files that would not merge are the caller's to
/// report, on stderr).
pub fn print(out: &mut impl std::io::Write, report: &MergeReport, statuses: &[JobStatus]) -> std::io::Result<()> {
    if report.added > 0 {
        writeln!(out, "{report}")?;
    }
    if statuses.is_empty() {
        writeln!(out, "no Slurm jobs submitted from this home (`pepr sweep ... --slurm` submits one)")?;
    }
    for status in statuses {
        let job = &status.job;
        writeln!(
            out,
            "job {} {} submitted {}: {} cell{}: {}",
            job.job_id,
            job.name,
            job.submitted_at.format("%Y-%m-%d %H:%M:%S UTC"),
            job.cells,
            if job.cells == 1 { "" } else { "s" },
            status.summary()
        )?;
        writeln!(out, "  folder {}", job.dir.display())?;
        if let Some(e) = &status.cells_error {
            writeln!(out, "  cannot read its cells: {e}")?;
        }
        if let Some(e) = &status.slurm_error {
            writeln!(out, "  Slurm does not answer for it: {e}")?;
        }
        for cell in &status.cells {
            let detail = match (&cell.run, &cell.slurm) {
                (Some((id, _)), _) => id.clone(),
                (None, Some(info)) if info.is_terminal() => format!("no record; see {}", cell.log.display()),
                (None, Some(info)) => info.reason.clone().unwrap_or_default(),
                (None, None) => String::new(),
            };
            writeln!(
                out,
                "  {:>4}  {:<20} {:<14} {:<12} {:<10} {}",
                cell.index,
                cell.arch,
                cell.dataset,
                cell.state(),
                cell.node.as_deref().unwrap_or("—"),
                detail
            )?;
        }
    }
    Ok(())
}

/// `pepr jobs --json`: the same as JSON objects.
pub fn to_json(statuses: &[JobStatus]) -> serde_json::Value {
    let jobs: Vec<serde_json::Value> = statuses
        .iter()
        .map(|s| {
            let cells: Vec<serde_json::Value> = s
                .cells
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "index": c.index,
                        "arch": c.arch,
                        "dataset": c.dataset,
                        "group": c.group,
                        "state": c.state(),
                        "slurm_state": c.slurm.as_ref().map(|i| i.state.clone()),
                        "node": c.node,
                        "run_id": c.run.as_ref().map(|(id, _)| id.clone()),
                        "log": c.log,
                    })
                })
                .collect();
            serde_json::json!({
                "job_id": s.job.job_id,
                "name": s.job.name,
                "submitted_at": s.job.submitted_at,
                "dir": s.job.dir,
                "active": s.active(),
                "slurm_error": s.slurm_error,
                "cells": cells,
            })
        })
        .collect();
    serde_json::Value::Array(jobs)
}

/// `pepr jobs cancel ID`: only arrays submitted from this home.
pub fn cancel(home: &Home, job_id: &str) -> Result<()> {
    let submitted = jobs::load(home)?;
    if !submitted.iter().any(|j| j.job_id == job_id) {
        let known: Vec<&str> = submitted.iter().map(|j| j.job_id.as_str()).collect();
        anyhow::bail!(
            "no job {job_id} was submitted from this home (known: {})",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        );
    }
    query::cancel(job_id).map_err(|e| anyhow::anyhow!(e))
}

/// The cells of an array worth running again: no completed run, and not still queued or running.
pub fn missing_cells(status: &JobStatus) -> Vec<u32> {
    status
        .cells
        .iter()
        .filter(|cell| match (&cell.run, &cell.slurm) {
            (Some((_, status)), _) => *status != RunStatus::Completed,
            (None, Some(info)) => info.is_terminal(),
            // Slurm has forgotten it and no record came: lost.
            (None, None) => true,
        })
        .map(|cell| cell.index)
        .collect()
}

/// `pepr jobs resubmit ID`: a new array of the cells of array ID that have no completed run (failed,
/// cancelled, never started, lost), with the options ID was submitted with.
pub fn resubmit(home: &Home, job_id: &str, dry_run: bool) -> Result<super::Submission> {
    let (_, statuses) = refresh(home)?;
    let Some(status) = statuses.iter().find(|s| s.job.job_id == job_id) else {
        anyhow::bail!("no job {job_id} was submitted from this home (`pepr jobs` lists them)");
    };
    let missing = missing_cells(status);
    if missing.is_empty() {
        anyhow::bail!("job {job_id} has nothing to resubmit: {}", status.summary());
    }
    let cells: Vec<Cell> = jobs::load_cells(&status.job)?.into_iter().filter(|c| missing.contains(&c.index)).collect();
    super::submit::submit_cells(home, cells, &status.job.options, dry_run, Some(job_id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::TrainConfig;

    fn job(dir: &std::path::Path) -> SubmittedJob {
        SubmittedJob {
            job_id: "12".into(),
            name: "pepr".into(),
            submitted_at: Utc::now(),
            dir: dir.into(),
            cells: 3,
            options: Default::default(),
            resubmits: None,
        }
    }

    fn info(state: &str, node: Option<&str>) -> TaskInfo {
        TaskInfo { state: state.into(), node: node.map(Into::into), started: node.is_some(), reason: None }
    }

    #[test]
    fn a_merged_record_decides_the_state_then_slurm() {
        let cells: Vec<Cell> = (0..3).map(|i| Cell::new(i, &TrainConfig::new("pepr_lenet5", "synthetic"))).collect();
        let tasks = BTreeMap::from([(1, info("RUNNING", Some("n1"))), (2, info("PENDING", None))]);
        let mut record = crate::results::record::sample("r0", "synthetic", 0.9, None);
        record.slurm = Some(SlurmTask { job_id: "12".into(), array_task_id: 0 });
        record.node = Some("n2".into());
        let records = HashMap::from([(("12".to_string(), 0), &record)]);
        let dir = std::path::Path::new("/h/slurm/x");
        let status = JobStatus {
            job: job(dir),
            cells: cell_statuses(&job(dir), &cells, &tasks, &records),
            slurm_error: None,
            cells_error: None,
        };
        let states: Vec<_> = status.cells.iter().map(CellStatus::state).collect();
        assert_eq!(states, ["completed", "running", "pending"]);
        assert_eq!(status.cells[0].node.as_deref(), Some("n2"));
        assert_eq!(status.summary(), "1 completed, 1 pending, 1 running");
        assert!(status.active());
        assert_eq!(status.cells[2].log, dir.join("task-2.err"));
        assert!(missing_cells(&status).is_empty(), "running and pending cells are not missing");
    }

    #[test]
    fn failed_cancelled_and_lost_cells_are_missing() {
        let cells: Vec<Cell> = (0..5).map(|i| Cell::new(i, &TrainConfig::new("pepr_lenet5", "synthetic"))).collect();
        let tasks = BTreeMap::from([
            (0, info("COMPLETED", Some("n1"))),
            (1, info("FAILED", Some("n1"))),
            (2, info("CANCELLED", None)),
        ]);
        let mut done = crate::results::record::sample("r0", "synthetic", 0.9, None);
        done.slurm = Some(SlurmTask { job_id: "12".into(), array_task_id: 0 });
        let mut stopped = done.clone();
        stopped.id = "r2".into();
        stopped.status = RunStatus::Interrupted;
        stopped.slurm = Some(SlurmTask { job_id: "12".into(), array_task_id: 2 });
        let records = HashMap::from([(("12".to_string(), 0), &done), (("12".to_string(), 2), &stopped)]);
        let dir = std::path::Path::new("/h");
        let status = JobStatus {
            job: job(dir),
            cells: cell_statuses(&job(dir), &cells, &tasks, &records),
            slurm_error: None,
            cells_error: None,
        };
        // 1 failed without a record, 2 interrupted, 3 and 4 unknown to Slurm and unrecorded.
        assert_eq!(missing_cells(&status), [1, 2, 3, 4]);
    }

    #[test]
    fn the_record_of_a_never_started_cell_says_where_it_came_from() {
        let mut config = TrainConfig::new("pepr_lenet5", "synthetic");
        config.fraction = 0.1;
        config.grid_cell = Some("c1".into());
        let cell = Cell::new(1, &config);
        let record = never_started_record("12", &cell, &info("CANCELLED", None));
        assert_eq!(record.id, "slurm-12_1");
        assert_eq!(record.status, RunStatus::Interrupted);
        assert_eq!(record.group, "synthetic_small");
        assert_eq!(record.grid_cell.as_deref(), Some("c1"));
        assert_eq!(record.slurm, Some(SlurmTask { job_id: "12".into(), array_task_id: 1 }));
        assert!(record.origin.label().contains("CANCELLED before it started"));
        assert!(record.train_time_s.is_none() && record.epoch_perf.is_empty());
        crate::results::record::validate(&record).unwrap();
    }
}
