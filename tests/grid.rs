//! `pepr grid` and `pepr rank --aggregate-seeds` through the real binary, on the built-in synthetic
//! set with tiny settings (1 epoch on 5% of the training split) so they stay fast.

use std::path::Path;
use std::process::{Command, Stdio};

use pepr::results::record::{RunRecord, RunStatus};
use pepr::results::store::RunStore;

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn records(home: &Path) -> Vec<RunRecord> {
    RunStore::new(home.join("runs.jsonl")).load().unwrap().records
}

use crate::common::pepr;
use crate::common::tiny_grid::{GRID, cell};

#[test]
fn a_resumed_grid_runs_only_the_cells_not_yet_completed() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    // Seed 1's cell is already stored as completed (as a Slurm array task would store it).
    let cell1 = cell(1);
    let args = [
        "train",
        "--arch",
        "pepr_lenet5",
        "--dataset",
        "synthetic",
        "--fraction",
        "0.05",
        "--seed",
        "1",
        "--epochs",
        "1",
    ];
    let mut train = args.to_vec();
    train.extend(["--group", "synthetic_f0.05", "--grid-cell", &cell1]);
    let output = pepr(home, &train);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // Seed 2's cell was interrupted: it must run again.
    let mut interrupted = records(home)[0].clone();
    interrupted.id = "run-interrupted".into();
    interrupted.grid_cell = Some(cell(2));
    interrupted.status = RunStatus::Interrupted;
    RunStore::new(home.join("runs.jsonl")).append_new(&[interrupted]).unwrap();

    let mut dry = GRID.to_vec();
    dry.push("--dry-run");
    let output = pepr(home, &dry);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let listing = text(&output.stdout);
    assert!(listing.contains(&format!("to run       {}", cell(0))), "{listing}");
    assert!(listing.contains(&format!("done         {}", cell(1))), "{listing}");
    assert!(listing.contains(&format!("interrupted  {}", cell(2))), "{listing}");
    assert!(listing.contains("grid tiny: 3 cells, 1 done, 2 to run (dry run: not saved)"), "{listing}");
    assert!(!home.join("grids/tiny.json").exists(), "a dry run saves nothing");

    let output = pepr(home, &GRID);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let log = text(&output.stderr);
    assert!(log.contains("grid tiny: 3 cells, 1 already done, 2 to run"), "{log}");
    assert!(log.contains(&format!("[1/2] cell {} (group synthetic_f0.05)", cell(0))), "{log}");
    assert!(log.contains(&format!("[2/2] cell {} (group synthetic_f0.05)", cell(2))), "{log}");
    assert!(home.join("grids/tiny.json").exists());

    let stored = records(home);
    let completed = |seed: u64| {
        stored
            .iter()
            .filter(|r| r.grid_cell.as_deref() == Some(cell(seed).as_str()) && r.status == RunStatus::Completed)
            .count()
    };
    assert_eq!((completed(0), completed(1), completed(2)), (1, 1, 1), "each cell completed exactly once");
    assert_eq!(stored.len(), 4, "the pre-stored run, the interrupted one and two new runs");
    for record in stored.iter().filter(|r| r.status == RunStatus::Completed) {
        assert_eq!(record.group, "synthetic_f0.05");
        assert_eq!(record.data_fraction, Some(0.05));
        assert_eq!(Some(format!("synthetic/pepr_lenet5/scratch/f0.05/s{}", record.seed.unwrap())), record.grid_cell);
    }

    // Everything is done now: resuming trains nothing.
    let output = pepr(home, &["grid", "--resume", "tiny"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("grid tiny: every cell is done"));
    assert_eq!(records(home).len(), 4);

    // The same name with other settings is refused rather than overwritten.
    let mut other = GRID.to_vec();
    let epochs = other.iter().position(|a| *a == "--epochs").unwrap() + 1;
    other[epochs] = "2";
    let output = pepr(home, &other);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("a different grid is already saved as \"tiny\""));

    // One cell by position, as a job-array task asks: done already, so nothing runs.
    let output = pepr(home, &["grid", "--resume", "tiny", "--cell", "2"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains(&format!("grid tiny: cell 2 ({}) is done", cell(2))));
    let output = pepr(home, &["grid", "--resume", "tiny", "--cell", "3"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("--cell 3: grid tiny has 3 cells (0 to 2)"));

    // Three seeds of one cell collapse to one row.
    let output = pepr(home, &["rank", "--aggregate-seeds", "--format", "csv"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][2], "pepr_lenet5");
    assert_eq!(&rows[0][5], "3");
    assert_eq!(&rows[0][6], "1;0;2");
}

#[test]
fn a_bad_spec_file_is_reported_with_its_path_and_nothing_runs() {
    let home = tempfile::tempdir().unwrap();
    let grids = home.path().join("grids");
    std::fs::create_dir_all(&grids).unwrap();
    std::fs::write(
        grids.join("broken.json"),
        "{\n  \"version\": 1,\n  \"name\": \"broken\",\n  \"archs\": [\"pepr_lenet5\"],\n  \"colour\": 3\n}\n",
    )
    .unwrap();
    let output = pepr(home.path(), &["grid", "--resume", "broken"]);
    assert_eq!(output.status.code(), Some(1));
    let error = text(&output.stderr);
    assert!(
        error.contains("grids/broken.json") && error.contains("unknown field `colour`") && error.contains("line 5"),
        "{error}"
    );
    assert!(!home.path().join("runs.jsonl").exists());
}

#[test]
fn aggregating_the_papers_single_seed_runs_keeps_every_score() {
    let home = tempfile::tempdir().unwrap();
    let output = pepr(home.path(), &["import", "--paper"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let read = |args: &[&str]| {
        let output = pepr(home.path(), args);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
        let headers = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        (headers, rows)
    };
    let (h, plain) = read(&["rank", "--format", "csv", "--group", "derma_pt"]);
    let (ha, aggregated) = read(&["rank", "--format", "csv", "--group", "derma_pt", "--aggregate-seeds"]);
    assert_eq!(plain.len(), 131);
    assert_eq!(aggregated.len(), 131, "one seed per model: nothing collapses");
    let col = |headers: &csv::StringRecord, name: &str| headers.iter().position(|c| c == name).unwrap();
    for row in &aggregated {
        let arch = &row[col(&ha, "arch")];
        let run = plain.iter().find(|r| &r[col(&h, "arch")] == arch).unwrap();
        assert_eq!(&row[col(&ha, "runs")], "1");
        assert_eq!(&row[col(&ha, "pepr_e_std")], "", "no spread from one run");
        let (mean, score): (f64, f64) =
            (row[col(&ha, "pepr_e_mean")].parse().unwrap(), run[col(&h, "pepr_e")].parse().unwrap());
        assert!((mean - score).abs() < 1e-12, "{arch}: {mean} vs {score}");
    }
}

#[test]
fn a_cell_run_alone_through_its_train_arguments_counts_as_done() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let mut spec = pepr::grid::GridSpec::new(vec!["pepr_lenet5".into()], vec!["synthetic".into()]);
    spec.fractions = vec![0.05];
    spec.seeds = vec![0, 1];
    spec.train.epochs = 1;
    spec.name = "alone".into();
    spec.save(&pepr::home::Home::at(home)).unwrap();
    let cells = pepr::grid::expand(&spec);
    let args = cells[1].train_args();
    let output = pepr(home, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stored = records(home);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].grid_cell.as_deref(), Some(cells[1].id.as_str()));
    assert_eq!(stored[0].group, cells[1].group);
    assert_eq!((stored[0].seed, stored[0].data_fraction, stored[0].epochs), (Some(1), Some(0.05), Some(1)));
    let states = pepr::grid::cell_states(&cells, &stored);
    assert!(!states[0].is_done() && states[1].is_done());

    let output = pepr(home, &["grid", "--resume", "alone", "--dry-run"]);
    assert!(text(&output.stdout).contains("grid alone: 2 cells, 1 done, 1 to run"), "{}", text(&output.stdout));
}

#[test]
fn ctrl_c_stores_the_current_cell_as_interrupted_and_the_resume_lists_it_to_run_again() {
    use std::io::{BufRead, BufReader};
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pepr"))
        .arg("--home")
        .arg(home)
        .args(["grid", "--arch", "pepr_lenet5", "--dataset", "synthetic", "--fractions", "0.05"])
        .args(["--seeds", "0,1", "--epochs", "200", "--name", "stopped"])
        .env_remove("PEPR_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Wait until the first cell trains, then press Ctrl-C (SIGINT).
    for line in lines.by_ref() {
        if line.unwrap().starts_with("training pepr_lenet5") {
            break;
        }
    }
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest:?}");

    let stored = records(home);
    assert_eq!(stored.len(), 1, "the second cell never started");
    assert_eq!(stored[0].status, RunStatus::Interrupted);
    assert_eq!(stored[0].grid_cell.as_deref(), Some("synthetic/pepr_lenet5/scratch/f0.05/s0"));
    let output = pepr(home, &["grid", "--resume", "stopped", "--dry-run"]);
    let listing = text(&output.stdout);
    assert!(listing.contains("interrupted  synthetic/pepr_lenet5/scratch/f0.05/s0"), "{listing}");
    assert!(listing.contains("to run       synthetic/pepr_lenet5/scratch/f0.05/s1"), "{listing}");
    assert!(listing.contains("grid stopped: 2 cells, 0 done, 2 to run"), "{listing}");
}
