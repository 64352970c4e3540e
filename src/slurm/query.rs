//! Asking Slurm about an array's tasks: `scontrol show job` (every task the controller still
//! remembers, pending ranges included), `squeue` for anything it missed, and `sacct` only as a last
//! resort (it needs an accounting database, which small clusters often lack).

use std::collections::BTreeMap;
use std::process::Command;

/// What Slurm says about one array task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    /// Slurm's state word, e.g. PENDING, RUNNING, COMPLETED, CANCELLED, FAILED, TIMEOUT.
    pub state: String,
    /// The node it ran on; `None` while it has none.
    pub node: Option<String>,
    /// Whether it ever started (it had a node or a run time).
    pub started: bool,
    /// Why it waits, e.g. JobHeldUser.
    pub reason: Option<String>,
}

impl TaskInfo {
    /// Ended, one way or another: no process of it is left.
    pub fn is_terminal(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "PENDING" | "RUNNING" | "COMPLETING" | "CONFIGURING" | "SUSPENDED" | "REQUEUED" | "RESIZING" | "STOPPED"
        ) && !self.state.starts_with("REQUEUE")
            && !self.state.starts_with("SIGNALING")
    }
}

/// Task ids from Slurm's notation: `3`, `0-2`, `0-9:2`, `1,4-5`, with an optional `%LIMIT`.
pub fn parse_task_ids(text: &str) -> Vec<u32> {
    let text = text.trim().trim_start_matches('[').trim_end_matches(']');
    let text = text.split('%').next().unwrap_or("");
    let mut ids = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (range, step) = match part.split_once(':') {
            Some((range, step)) => (range, step.parse().unwrap_or(1).max(1)),
            None => (part, 1),
        };
        match range.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    ids.extend((a..=b).step_by(step));
                }
            }
            None => ids.extend(range.parse::<u32>().ok()),
        }
    }
    ids
}

fn node_of(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && text != "(null)" && text != "None assigned").then(|| text.to_string())
}

/// Parses `scontrol -o show job ID`: one line per job record, `Key=Value` words.
pub fn parse_scontrol(text: &str) -> BTreeMap<u32, TaskInfo> {
    let mut tasks = BTreeMap::new();
    for line in text.lines() {
        let field = |key: &str| {
            line.split_whitespace().find_map(|word| word.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
        };
        let (Some(ids), Some(state)) = (field("ArrayTaskId"), field("JobState")) else { continue };
        let node = field("NodeList").and_then(node_of);
        let ran = field("RunTime").is_some_and(|t| t != "00:00:00" && t != "0:00");
        let reason = field("Reason").filter(|r| *r != "None").map(str::to_string);
        for id in parse_task_ids(ids) {
            let info = TaskInfo {
                state: state.to_string(),
                node: node.clone(),
                started: ran || node.is_some(),
                reason: reason.clone(),
            };
            tasks.insert(id, info);
        }
    }
    tasks
}

/// The `squeue` format [`parse_squeue`] reads: task id, state, node list, reason.
pub const SQUEUE_FORMAT: &str = "%K|%T|%N|%r";

/// Parses `squeue -h -r -j ID -o SQUEUE_FORMAT` (`-r`: one line per task).
pub fn parse_squeue(text: &str) -> BTreeMap<u32, TaskInfo> {
    let mut tasks = BTreeMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.trim().split('|').collect();
        if parts.len() < 4 {
            continue;
        }
        let node = node_of(parts[2]);
        let reason = Some(parts[3].trim()).filter(|r| !r.is_empty() && *r != "None").map(str::to_string);
        for id in parse_task_ids(parts[0]) {
            let started = node.is_some();
            tasks.insert(
                id,
                TaskInfo { state: parts[1].trim().to_string(), node: node.clone(), started, reason: reason.clone() },
            );
        }
    }
    tasks
}

/// Parses `sacct -n -P -X -j ID --format=JobID,State,NodeList`: `ID_TASK|STATE|NODE`.
pub fn parse_sacct(text: &str) -> BTreeMap<u32, TaskInfo> {
    let mut tasks = BTreeMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.trim().split('|').collect();
        if parts.len() < 3 {
            continue;
        }
        let Some((_, ids)) = parts[0].split_once('_') else { continue };
        // "CANCELLED by 0" → CANCELLED.
        let state = parts[1].split_whitespace().next().unwrap_or("").to_string();
        let node = node_of(parts[2]);
        for id in parse_task_ids(ids) {
            tasks.insert(
                id,
                TaskInfo { state: state.clone(), node: node.clone(), started: node.is_some(), reason: None },
            );
        }
    }
    tasks
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program).args(args).output().map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("{program}: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// Every task of array `job_id` Slurm can tell about. An error when no source knows the job.
pub fn query(job_id: &str) -> Result<BTreeMap<u32, TaskInfo>, String> {
    let mut errors = Vec::new();
    let mut tasks = match run("scontrol", &["-o", "show", "job", job_id]) {
        Ok(text) => parse_scontrol(&text),
        Err(e) => {
            errors.push(e);
            BTreeMap::new()
        }
    };
    match run("squeue", &["-h", "-r", "-j", job_id, "-o", SQUEUE_FORMAT]) {
        Ok(text) => {
            for (id, info) in parse_squeue(&text) {
                tasks.entry(id).or_insert(info);
            }
        }
        Err(e) => errors.push(e),
    }
    if tasks.is_empty() {
        match run("sacct", &["-n", "-P", "-X", "-j", job_id, "--format=JobID,State,NodeList"]) {
            Ok(text) => tasks = parse_sacct(&text),
            Err(e) => errors.push(e),
        }
    }
    if tasks.is_empty() && !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(tasks)
}

/// `scancel JOB`.
pub fn cancel(job_id: &str) -> Result<(), String> {
    run("scancel", &[job_id]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_notation() {
        assert_eq!(parse_task_ids("3"), [3]);
        assert_eq!(parse_task_ids("0-2"), [0, 1, 2]);
        assert_eq!(parse_task_ids("[1,4-5%2]"), [1, 4, 5]);
        assert_eq!(parse_task_ids("0-6:3"), [0, 3, 6]);
        assert!(parse_task_ids("").is_empty());
    }

    // Lines as slurm-wlm 22.05.8 prints them (shortened to the fields read).
    const SCONTROL: &str = "JobId=13 ArrayJobId=12 ArrayTaskId=1 JobName=pepr JobState=COMPLETED Reason=None \
        ExitCode=0:0 RunTime=00:00:02 StartTime=2026-11-28T23:57:05 NodeList=vm BatchHost=vm\n\
        JobId=12 ArrayJobId=12 ArrayTaskId=0 JobState=RUNNING Reason=None RunTime=00:00:01 NodeList=vm\n\
        JobId=14 ArrayJobId=12 ArrayTaskId=2-3 JobState=PENDING Reason=JobHeldUser RunTime=00:00:00 NodeList=(null)\n";

    #[test]
    fn scontrol_records_expand_to_tasks() {
        let tasks = parse_scontrol(SCONTROL);
        assert_eq!(tasks.len(), 4);
        assert_eq!(tasks[&1].state, "COMPLETED");
        assert_eq!(tasks[&1].node.as_deref(), Some("vm"));
        assert!(tasks[&1].started && tasks[&1].is_terminal());
        assert_eq!(tasks[&0].state, "RUNNING");
        assert!(!tasks[&0].is_terminal());
        assert_eq!(tasks[&3].state, "PENDING");
        assert_eq!(tasks[&3].reason.as_deref(), Some("JobHeldUser"));
        assert!(!tasks[&3].started && tasks[&3].node.is_none());
    }

    #[test]
    fn a_cancelled_pending_array_never_started() {
        let text = "JobId=2 ArrayJobId=2 ArrayTaskId=0-2 JobState=CANCELLED Reason=JobHeldUser RunTime=00:00:00 \
                    StartTime=2026-11-28T23:57:09 NodeList= \n";
        let tasks = parse_scontrol(text);
        assert_eq!(tasks.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
        assert!(tasks.values().all(|t| t.state == "CANCELLED" && !t.started && t.is_terminal()));
    }

    #[test]
    fn squeue_and_sacct_lines() {
        let tasks = parse_squeue("0|RUNNING|vm|None\n2|PENDING||JobHeldUser\n");
        assert_eq!(tasks[&0].node.as_deref(), Some("vm"));
        assert_eq!(tasks[&2].reason.as_deref(), Some("JobHeldUser"));
        let tasks = parse_sacct("7_0|COMPLETED|n1\n7_[1-2]|CANCELLED by 0|None assigned\n");
        assert_eq!(tasks[&0].state, "COMPLETED");
        assert_eq!(tasks[&2].state, "CANCELLED");
        assert!(!tasks[&1].started);
    }
}
