//! pepr on Slurm, with the real binary. The first tests need no cluster (dry run, incoming records,
//! merge). The others submit to a real Slurm: `.ci/slurm-up.sh` starts a one-node cluster on this
//! machine (`.ci/run` does so before `cargo test`). Without one they fail under CI (env `CI` set)
//! and say they were skipped otherwise. They hold one lock, so they never share the cluster's two
//! cores with each other.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::{pepr, pepr_with};
use serde_json::Value;

/// The Slurm tests run one at a time.
static CLUSTER: Mutex<()> = Mutex::new(());

/// How long an array may take before a test gives up.
const WAIT: Duration = Duration::from_secs(300);

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "pepr failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stored(home: &Path) -> Vec<Value> {
    std::fs::read_to_string(home.join("runs.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn incoming_files(home: &Path) -> Vec<String> {
    std::fs::read_dir(home.join("incoming"))
        .map(|d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
        .unwrap_or_default()
}

const TINY: [&str; 6] = ["--dataset", "synthetic", "--epochs", "1", "--fraction", "0.1"];

#[test]
fn dry_run_prints_the_array_script_and_submits_nothing() {
    let home = tempfile::tempdir().unwrap();
    let mut args = vec!["sweep", "--arch", "pepr_lenet5,pepr_resnet8"];
    args.extend(TINY);
    args.extend([
        "--slurm",
        "--dry-run",
        "--partition",
        "short",
        "--time",
        "00:10:00",
        "--extra",
        "--qos=low --mem=1G",
    ]);
    let script = ok(&pepr(home.path(), &args));
    for line in [
        "#SBATCH --array=0-1",
        "#SBATCH --partition=short",
        "#SBATCH --time=00:10:00",
        "#SBATCH --qos=low",
        "#SBATCH --mem=1G",
    ] {
        assert!(script.lines().any(|l| l == line), "missing {line:?} in\n{script}");
    }
    assert!(script.contains("0) args=(--arch pepr_lenet5 --dataset synthetic --epochs 1"), "{script}");
    assert!(script.contains("1) args=(--arch pepr_resnet8 "), "{script}");
    assert!(script.contains(" train --incoming \"${args[@]}\""), "{script}");
    assert!(!home.path().join("slurm").exists(), "a dry run writes nothing");

    // Names are checked before anything is written or submitted.
    let output =
        pepr(home.path(), &["sweep", "--arch", "no_such_net", "--dataset", "synthetic", "--slurm", "--dry-run"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no_such_net"));
}

use crate::common::tiny_grid::{GRID, cell as grid_cell};

#[test]
fn a_grid_dry_run_scripts_one_task_per_missing_cell() {
    let home = tempfile::tempdir().unwrap();
    // A new grid's dry run saves nothing.
    let script = ok(&pepr(home.path(), &[&GRID[..], &["--slurm", "--dry-run"]].concat()));
    assert!(script.lines().any(|l| l == "#SBATCH --array=0-2"), "{script}");
    assert!(!home.path().join("grids").exists() && !home.path().join("slurm").exists());

    // Cell 1 trained here; the others are left for the cluster.
    ok(&pepr(home.path(), &[&GRID[..], &["--cell", "1"]].concat()));
    let output = pepr(
        home.path(),
        &["grid", "--resume", "tiny", "--slurm", "--dry-run", "--partition", "short", "--pue", "1.5"],
    );
    let script = ok(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("grid tiny: 3 cells, 1 done: 2 to submit (dry run)"), "{stderr}");
    for line in ["#SBATCH --array=0-1", "#SBATCH --job-name=pepr-tiny", "#SBATCH --partition=short"] {
        assert!(script.lines().any(|l| l == line), "missing {line:?} in\n{script}");
    }
    let tasks: Vec<&str> =
        script.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(tasks.len(), 2, "{script}");
    for (task, seed) in tasks.iter().zip([0, 2]) {
        assert!(task.contains(&format!("--seed {seed} ")), "{task}");
        assert!(task.contains(&format!("--grid-cell {}", grid_cell(seed))), "{task}");
        assert!(task.contains("--group synthetic"), "{task}");
        assert!(task.contains("--fraction 0.05 ") && task.contains("--pue 1.5"), "{task}");
    }
    assert!(script.contains("grid.json beside this script"), "{script}");
    assert!(!home.path().join("slurm").exists(), "a dry run submits nothing");

    // sbatch's options need --slurm.
    let output = pepr(home.path(), &["grid", "--resume", "tiny", "--partition", "short"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--slurm"));
}

#[test]
fn inside_a_slurm_task_the_record_goes_to_incoming_and_merges_once() {
    let home = tempfile::tempdir().unwrap();
    let mut args = vec!["train", "--arch", "pepr_lenet5", "--group", "cluster"];
    args.extend(TINY);
    let env =
        [("SLURM_JOB_ID", "43"), ("SLURM_ARRAY_JOB_ID", "42"), ("SLURM_ARRAY_TASK_ID", "3"), ("SLURMD_NODENAME", "n7")];
    ok(&pepr_with(home.path(), &args, &env));
    assert!(stored(home.path()).is_empty(), "an array task never appends to runs.jsonl");
    let files = incoming_files(home.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("incoming").join(&files[0])).unwrap()).unwrap();
    assert_eq!(record["slurm"], serde_json::json!({"job_id": "42", "array_task_id": 3}));
    assert_eq!(record["node"], "n7");
    assert_eq!(record["group"], "cluster");

    let merged = ok(&pepr(home.path(), &["merge"]));
    assert!(merged.contains("merged 1 new run(s)"), "{merged}");
    assert!(incoming_files(home.path()).is_empty());
    assert_eq!(stored(home.path()).len(), 1);
    assert!(ok(&pepr(home.path(), &["merge"])).contains("merged 0 new run(s)"));

    // A task that cannot start (a dataset missing on the cluster) still leaves a failed record.
    let output = pepr_with(home.path(), &["train", "--arch", "pepr_lenet5", "--dataset", "nowhere"], &env);
    assert!(!output.status.success());
    let files = incoming_files(home.path());
    assert_eq!(files.len(), 1, "{files:?}");
    // A bad file is named and left in place; the good one merges.
    std::fs::write(home.path().join("incoming").join("broken.json"), "{").unwrap();
    let output = pepr(home.path(), &["merge"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.json: not merged"), "{stderr}");
    assert_eq!(incoming_files(home.path()), ["broken.json"]);
    let records = stored(home.path());
    assert_eq!(records[1]["status"], "failed");
    assert_eq!(records[1]["slurm"]["array_task_id"], 3);
}

/// A node state (sinfo's `%T`) that takes jobs, now or once its current ones end. A trailing `*`
/// means the node does not respond.
fn usable(state: &str) -> bool {
    let state = state.trim();
    !state.ends_with('*')
        && matches!(
            state.trim_end_matches(|c: char| !c.is_ascii_alphabetic()),
            "idle" | "mixed" | "allocated" | "completing" | "planned"
        )
}

/// Whether a Slurm controller answers and has a usable node (asked for up to 20 s, so a node still
/// cleaning up after the previous test counts). In CI its absence fails the test.
fn cluster() -> Option<std::sync::MutexGuard<'static, ()>> {
    // Once found down, later tests need not wait their 20 s again.
    static DOWN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let guard = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let start = Instant::now();
    let why = loop {
        if let Some(why) = DOWN.get() {
            break why.clone();
        }
        let why = match Command::new("sinfo").args(["-h", "-o", "%T"]).output() {
            Err(e) => break format!("sinfo cannot run ({e})"),
            Ok(out) if !out.status.success() => {
                format!("sinfo failed: {}", String::from_utf8_lossy(&out.stderr).trim())
            }
            Ok(out) => {
                let states = String::from_utf8_lossy(&out.stdout);
                if states.lines().any(usable) {
                    return Some(guard);
                }
                format!("no node is up (sinfo says {:?})", states.trim())
            }
        };
        if start.elapsed() > Duration::from_secs(20) {
            break DOWN.get_or_init(|| why).clone();
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    if std::env::var_os("CI").is_some() {
        panic!("Slurm is not running: {why}. Start it with .ci/slurm-up.sh (.ci/run does).");
    }
    eprintln!("skipped: Slurm is not running ({why}); .ci/slurm-up.sh starts a one-node cluster");
    None
}

fn jobs(home: &Path) -> Vec<Value> {
    serde_json::from_str::<Value>(&ok(&pepr(home, &["jobs", "--json"]))).unwrap().as_array().unwrap().clone()
}

/// A submitted job, cancelled when the test ends however it ends, so a failed test leaves nothing
/// queued or running on the cluster.
struct Submitted(String);

impl Drop for Submitted {
    fn drop(&mut self) {
        let _ = Command::new("scancel").arg(&self.0).output();
    }
}

fn submitted_id(stdout: &str) -> Submitted {
    let id = stdout.strip_prefix("submitted job ").and_then(|s| s.split(':').next()).expect(stdout);
    Submitted(id.to_string())
}

/// Polls `pepr jobs` until `done` holds for the job, or fails after [`WAIT`].
fn wait_for(home: &Path, job_id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let all = jobs(home);
        let job = all.iter().find(|j| j["job_id"] == job_id).expect("the job is listed").clone();
        if done(&job) {
            return job;
        }
        assert!(start.elapsed() < WAIT, "job {job_id} not {what} after {WAIT:?}: {job:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn host() -> String {
    let out = Command::new("hostname").arg("-s").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn an_array_of_three_cells_runs_on_slurm_and_merges_every_record() {
    let Some(_cluster) = cluster() else { return };
    let home = tempfile::tempdir().unwrap();
    // Three distinct runs: a sweep names each arch once (`--arch a,a` is one run, not two).
    let mut args = vec!["sweep", "--arch", "pepr_lenet5,pepr_resnet8,pepr_resnet20", "--group", "slurm-ci"];
    args.extend(TINY);
    args.extend(["--slurm", "--cpus-per-task", "1", "--job-name", "pepr-ci"]);
    let submitted = submitted_id(&ok(&pepr(home.path(), &args)));
    let job_id = submitted.0.clone();
    let started = Instant::now();
    let job = wait_for(home.path(), &job_id, "finished", |job| {
        job["cells"].as_array().unwrap().iter().all(|c| c["run_id"].is_string())
    });
    eprintln!("array of 3 tiny cells: all merged after {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(job["name"], "pepr-ci");
    assert_eq!(job["active"], false);

    let records = stored(home.path());
    assert_eq!(records.len(), 3, "{records:#?}");
    let mut tasks: Vec<u64> = records.iter().map(|r| r["slurm"]["array_task_id"].as_u64().unwrap()).collect();
    tasks.sort();
    assert_eq!(tasks, [0, 1, 2]);
    for record in &records {
        assert_eq!(record["status"], "completed", "{record:#}");
        assert_eq!(record["slurm"]["job_id"], job_id.as_str());
        assert_eq!(record["node"], host().as_str());
        assert_eq!(record["group"], "slurm-ci");
        assert_eq!(record["epoch_perf"].as_array().unwrap().len(), 1);
        let task = record["slurm"]["array_task_id"].as_u64().unwrap() as usize;
        assert_eq!(record["arch"], ["pepr_lenet5", "pepr_resnet8", "pepr_resnet20"][task]);
    }
    assert!(incoming_files(home.path()).is_empty());
    for cell in job["cells"].as_array().unwrap() {
        assert_eq!(cell["state"], "completed");
    }
    // Each task's log is in the submission's folder.
    let dir = Path::new(job["dir"].as_str().unwrap());
    let log = std::fs::read_to_string(dir.join("task-1.err")).unwrap();
    assert!(log.contains("training pepr_resnet8"), "{log}");
    assert!(dir.join("cells.json").is_file() && dir.join("job.sbatch").is_file());
}

#[test]
fn a_cancelled_pending_array_leaves_interrupted_records() {
    let Some(_cluster) = cluster() else { return };
    let home = tempfile::tempdir().unwrap();
    let mut args = vec!["sweep", "--arch", "pepr_lenet5,pepr_resnet8,pepr_resnet20"];
    args.extend(TINY);
    args.extend(["--slurm", "--extra=--hold"]);
    let submitted = submitted_id(&ok(&pepr(home.path(), &args)));
    let job_id = submitted.0.clone();
    let job = wait_for(home.path(), &job_id, "pending", |job| {
        job["cells"].as_array().unwrap().iter().all(|c| c["state"] == "pending")
    });
    assert_eq!(job["active"], true);

    ok(&pepr(home.path(), &["jobs", "cancel", &job_id]));
    let job = wait_for(home.path(), &job_id, "cancelled", |job| {
        job["cells"].as_array().unwrap().iter().all(|c| c["state"] == "cancelled")
    });
    for cell in job["cells"].as_array().unwrap() {
        assert_eq!(cell["slurm_state"], "CANCELLED");
        assert_eq!(cell["run_id"], format!("slurm-{job_id}_{}", cell["index"]));
    }
    let records = stored(home.path());
    assert_eq!(records.len(), 3);
    for record in &records {
        assert_eq!(record["status"], "interrupted");
        assert_eq!(record["slurm"]["job_id"], job_id.as_str());
        assert_eq!(record["origin"]["type"], "slurm_state");
        assert!(record["node"].is_null(), "it never ran on a node");
    }
    // Asking again writes nothing twice.
    jobs(home.path());
    assert_eq!(stored(home.path()).len(), 3);

    // Resubmitting runs the three missing cells as a new array with the same options, so it is
    // held too: released here with scontrol.
    let again = ok(&pepr(home.path(), &["jobs", "resubmit", &job_id]));
    let resubmitted = submitted_id(&again);
    let new_id = resubmitted.0.clone();
    assert_ne!(new_id, job_id);
    let release = Command::new("scontrol").args(["release", &new_id]).output().unwrap();
    assert!(release.status.success(), "{}", String::from_utf8_lossy(&release.stderr));
    wait_for(home.path(), &new_id, "finished", |job| {
        job["cells"].as_array().unwrap().iter().all(|c| c["state"] == "completed")
    });
    let records = stored(home.path());
    assert_eq!(records.len(), 6);
    assert_eq!(records.iter().filter(|r| r["status"] == "completed").count(), 3);
    // Nothing is missing any more from the new array.
    let output = pepr(home.path(), &["jobs", "resubmit", &new_id]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing to resubmit"));
    // Only this home's jobs can be cancelled from it.
    let output = pepr(home.path(), &["jobs", "cancel", "999999"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("no job 999999 was submitted from this home"));
}

#[test]
fn a_running_task_cancelled_by_scancel_stores_itself_as_interrupted() {
    let Some(_cluster) = cluster() else { return };
    let home = tempfile::tempdir().unwrap();
    // Long enough that it is still training when cancelled.
    let args = ["sweep", "--arch", "pepr_resnet20", "--dataset", "synthetic", "--epochs", "50", "--slurm"];
    let submitted = submitted_id(&ok(&pepr(home.path(), &args)));
    let job_id = submitted.0.clone();
    let job = wait_for(home.path(), &job_id, "running", |job| job["cells"][0]["state"] == "running");
    // Training has begun once its log says so (pepr's signal handler is installed before that).
    let log = Path::new(job["dir"].as_str().unwrap()).join("task-0.err");
    let start = Instant::now();
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("training pepr_resnet20") {
        assert!(start.elapsed() < WAIT, "task 0 never started training");
        std::thread::sleep(Duration::from_millis(200));
    }
    ok(&pepr(home.path(), &["jobs", "cancel", &job_id]));
    let job = wait_for(home.path(), &job_id, "stored", |job| job["cells"][0]["run_id"].is_string());
    assert_eq!(job["cells"][0]["state"], "interrupted");
    let records = stored(home.path());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["status"], "interrupted");
    assert_eq!(records[0]["origin"]["type"], "trained_here");
    assert_eq!(records[0]["node"], host().as_str());
    assert_eq!(records[0]["slurm"]["array_task_id"], 0);
}

#[test]
fn a_grid_of_three_cells_runs_on_slurm_and_then_resumes_as_done() {
    let Some(_cluster) = cluster() else { return };
    let home = tempfile::tempdir().unwrap();
    let output = pepr(home.path(), &[&GRID[..], &["--slurm", "--cpus-per-task", "1"]].concat());
    let submitted = submitted_id(&ok(&output));
    let job_id = submitted.0.clone();
    let started = Instant::now();
    let job = wait_for(home.path(), &job_id, "finished", |job| {
        job["cells"].as_array().unwrap().iter().all(|c| c["run_id"].is_string())
    });
    eprintln!("grid of 3 tiny cells on Slurm: all merged after {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(job["name"], "pepr-tiny");
    ok(&pepr(home.path(), &["merge"]));
    assert!(incoming_files(home.path()).is_empty());

    let records = stored(home.path());
    assert_eq!(records.len(), 3, "{records:#?}");
    let mut cells: Vec<&str> = records.iter().map(|r| r["grid_cell"].as_str().unwrap()).collect();
    cells.sort();
    assert_eq!(cells, [grid_cell(0), grid_cell(1), grid_cell(2)]);
    for record in &records {
        assert_eq!(record["status"], "completed", "{record:#}");
        assert_eq!(record["slurm"]["job_id"], job_id.as_str());
        assert_eq!(record["node"], host().as_str());
        assert_eq!(record["data_fraction"], 0.05);
        assert!(record["group"].as_str().unwrap().starts_with("synthetic"), "{record:#}");
        assert_eq!(record["epoch_perf"].as_array().unwrap().len(), 1);
    }
    // The grid's spec is beside the script, the same as the home's copy.
    let dir = Path::new(job["dir"].as_str().unwrap());
    let beside = std::fs::read(dir.join("grid.json")).unwrap();
    assert_eq!(beside, std::fs::read(home.path().join("grids/tiny.json")).unwrap());

    let listing = ok(&pepr(home.path(), &["grid", "--resume", "tiny", "--dry-run"]));
    assert!(listing.contains("grid tiny: 3 cells, 3 done, 0 to run"), "{listing}");
    let again = ok(&pepr(home.path(), &["grid", "--resume", "tiny", "--slurm"]));
    assert!(again.contains("every cell is done, nothing to submit"), "{again}");
    assert_eq!(jobs(home.path()).len(), 1, "nothing was submitted again");
}

#[test]
fn a_grid_cell_queued_in_an_earlier_array_is_not_submitted_twice() {
    let Some(_cluster) = cluster() else { return };
    let home = tempfile::tempdir().unwrap();
    let output = pepr(home.path(), &[&GRID[..], &["--slurm", "--extra=--hold"]].concat());
    let submitted = submitted_id(&ok(&output));
    let job_id = submitted.0.clone();
    wait_for(home.path(), &job_id, "pending", |job| {
        job["cells"].as_array().unwrap().iter().all(|c| c["state"] == "pending")
    });
    let again = ok(&pepr(home.path(), &["grid", "--resume", "tiny", "--slurm"]));
    assert!(again.contains(&format!("3 still queued or running (job {job_id}): nothing else to submit")), "{again}");
    assert_eq!(jobs(home.path()).len(), 1);

    // Cancelled before they started, the cells are missing again: a resumed grid submits all three.
    ok(&pepr(home.path(), &["jobs", "cancel", &job_id]));
    wait_for(home.path(), &job_id, "cancelled", |job| {
        job["cells"].as_array().unwrap().iter().all(|c| c["state"] == "cancelled")
    });
    let output = pepr(home.path(), &["grid", "--resume", "tiny", "--slurm", "--dry-run"]);
    let script = ok(&output);
    assert!(script.lines().any(|l| l == "#SBATCH --array=0-2"), "{script}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("grid tiny: 3 cells, 0 done: 3 to submit (dry run)"), "{stderr}");
}
