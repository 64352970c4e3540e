//! What the real `pepr` binary writes while it waits, when stderr is a pipe (CI, Slurm logs,
//! `2> log`): plain progress lines, no carriage return or escape code, not one per step, and
//! nothing of it on stdout. Also the machine formats of `pepr rank` and the download error's shape.

use crate::common;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn pepr(home: &Path, args: &[&str]) -> Output {
    pepr_with(home, args, &[])
}

fn pepr_with(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::command(home).env("HOME", home).args(args).envs(env.iter().copied()).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Plain text for a log file: no '\r', no terminal escape sequences.
fn assert_plain(what: &str, stderr: &str) {
    assert!(!stderr.contains('\r'), "{what}: a carriage return in piped stderr: {stderr:?}");
    assert!(!stderr.contains('\x1b'), "{what}: an escape code in piped stderr: {stderr:?}");
}

#[test]
fn training_and_a_sweep_write_plain_lines_to_a_pipe() {
    let home = tempfile::tempdir().unwrap();
    let output = pepr(
        home.path(),
        &["train", "--arch", "pepr_lenet5", "--dataset", "synthetic", "--epochs", "2", "--fraction", "0.5"],
    );
    let err = text(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert_plain("train", &err);
    assert!(err.contains("training pepr_lenet5 ("), "{err}");
    assert!(err.contains("\nepoch 1/2: train loss ") && err.contains("\nepoch 2/2: train loss "), "{err}");
    // Per epoch, and at most a tenth of the run at a time: never a line per step.
    let step_lines = err.lines().filter(|l| l.starts_with("pepr_lenet5 on synthetic:")).count();
    assert!(step_lines <= 10, "{step_lines} progress lines: {err}");
    assert!(err.lines().count() <= 20, "{err}");
    // stdout has the run's summary only.
    let out = text(&output.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("run ") && !out.contains("epoch 1/2"), "{out}");

    let output = pepr(
        home.path(),
        &[
            "sweep",
            "--arch",
            "pepr_lenet5,pepr_resnet8",
            "--dataset",
            "synthetic",
            "--epochs",
            "1",
            "--fraction",
            "0.2",
        ],
    );
    let err = text(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert_plain("sweep", &err);
    let first = err.find("[1/2] pepr_lenet5 on synthetic").expect(&err);
    let second = err.find("[2/2] pepr_resnet8 on synthetic").expect(&err);
    assert!(first < second && err[second..].contains("epoch 1/1: train loss"), "{err}");
    let out = text(&output.stdout);
    assert!(out.contains("sweep: 2 runs") && !out.contains("[1/2]"), "{out}");
}

#[test]
fn a_large_import_reports_progress_by_tenths() {
    let home = tempfile::tempdir().unwrap();
    // About 5 MB: over the size that gets a progress report.
    let file = home.path().join("many.csv");
    let mut csv = String::from("arch,family,group,P,energy_kwh\n");
    let family = "f".repeat(60);
    for i in 0..60_000 {
        csv.push_str(&format!("net{i},{family},g{},0.{:04},0.{:04}\n", i % 50, i % 9973 + 1, i % 7919 + 1));
    }
    assert!(csv.len() > 4_000_000);
    std::fs::write(&file, csv).unwrap();
    let output = pepr(home.path(), &["import", file.to_str().unwrap()]);
    let err = text(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert_plain("import", &err);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("reading ")).collect();
    assert!((2..=10).contains(&lines.len()), "{lines:#?}");
    assert!(lines.last().unwrap().contains(": 100% ("), "{lines:#?}");
    assert!(text(&output.stdout).contains("60000 rows"), "{}", text(&output.stdout));
    // A small file says nothing while it is read.
    let small = home.path().join("small.csv");
    std::fs::write(&small, "arch,group,P\nlenet,h,0.5\n").unwrap();
    let output = pepr(home.path(), &["import", small.to_str().unwrap()]);
    assert!(output.status.success());
    assert_eq!(text(&output.stderr), "");
}

use crate::common::http;

#[test]
fn a_download_reports_progress_by_tenths_and_its_error_fits_80_columns() {
    let home = tempfile::tempdir().unwrap();
    // 3 MB of the wrong bytes: progress lines while it arrives, then the checksum error.
    let server = http::Server::start(200, vec![7u8; 3_000_000], 4);
    let output =
        pepr_with(home.path(), &["data", "download", "pneumoniamnist"], &[("PEPR_MEDMNIST_URL", &server.base_url)]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_plain("download", &err);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("downloading pneumoniamnist.npz: ")).collect();
    assert!((1..=10).contains(&lines.len()), "{err}");
    assert!(lines.last().unwrap().contains("100% (3.00 MB/3.00 MB)"), "{err}");
    assert!(err.contains("error: cannot download pneumoniamnist.npz: "), "{err}");
    assert!(err.contains("MD5 mismatch"), "{err}");

    let missing = http::Server::start(404, b"gone".to_vec(), 4);
    let output =
        pepr_with(home.path(), &["data", "download", "pneumoniamnist"], &[("PEPR_MEDMNIST_URL", &missing.base_url)]);
    let err = text(&output.stderr);
    let first = err.lines().next().unwrap_or_default();
    assert_eq!(first, "error: cannot download pneumoniamnist.npz: the server answered HTTP 404", "{err}");
    assert!(first.chars().count() <= 80);
    assert!(err.lines().nth(1).unwrap_or_default().starts_with("  from http://127.0.0.1:"), "{err}");
}

/// A store written before names were checked at import (or edited by hand) can hold control
/// characters: the table shows them escaped, CSV and JSON carry the value itself.
#[test]
fn rank_escapes_names_in_its_table_and_keeps_them_raw_in_csv_and_json() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("ok.csv");
    std::fs::write(&file, "arch,group,P\nplaceholder,g,0.5\nlenet,g,0.4\n").unwrap();
    assert!(pepr(home.path(), &["import", file.to_str().unwrap()]).status.success());
    let store = home.path().join("runs.jsonl");
    let hostile = "evil\u{1b}[2J\u{1b}]0;owned\u{7},\"q\"\nline2";
    let stored = std::fs::read_to_string(&store).unwrap();
    let encoded = serde_json::to_string(hostile).unwrap();
    assert!(stored.contains("\"arch\":\"placeholder\""), "{stored}");
    std::fs::write(&store, stored.replace("\"arch\":\"placeholder\"", &format!("\"arch\":{encoded}"))).unwrap();

    let table = pepr(home.path(), &["rank"]);
    let shown = text(&table.stdout);
    assert!(table.status.success(), "{}", text(&table.stderr));
    assert!(!shown.contains('\x1b') && !shown.contains('\u{7}'), "{shown:?}");
    assert!(shown.contains("evil\\u{1b}[2J"), "{shown}");
    assert!(shown.contains("\\nline2"), "the newline is escaped, the row stays one line: {shown}");

    let csv_out = pepr(home.path(), &["rank", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv_out.stdout.as_slice());
    let arch = reader.headers().unwrap().iter().position(|h| h == "arch").unwrap();
    let archs: Vec<String> = reader.records().map(|r| r.unwrap()[arch].to_string()).collect();
    assert!(archs.contains(&hostile.to_string()), "CSV carries the raw value, quoted: {archs:?}");

    let json_out = pepr(home.path(), &["rank", "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let archs: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["arch"].as_str().unwrap()).collect();
    assert!(archs.contains(&hostile), "{archs:?}");
    assert!(!text(&json_out.stdout).contains('\x1b'), "JSON escapes control characters itself");
}

/// On a terminal the wait is an indicatif bar on stderr (redrawn in place), and stdout stays empty.
#[test]
fn on_a_terminal_a_download_draws_a_bar_on_stderr_only() {
    use std::io::Read;
    use std::os::fd::OwnedFd;
    let home = tempfile::tempdir().unwrap();
    let server = http::Server::start(200, vec![7u8; 3_000_000], 4);
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave: OwnedFd = pty.slave;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pepr"))
        .arg("--home")
        .arg(home.path())
        .args(["data", "download", "pneumoniamnist"])
        .env_remove("PEPR_HOME")
        .env("HOME", home.path())
        .env("TERM", "xterm-256color")
        .env("PEPR_MEDMNIST_URL", &server.base_url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    // The master reads until the child's end of the terminal closes (EIO).
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    let mut stdout = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
    let status = child.wait().unwrap();
    let terminal = text(&reader.join().unwrap());
    assert_eq!(status.code(), Some(1), "{terminal}");
    assert!(terminal.contains("downloading pneumoniamnist.npz ["), "a bar was drawn: {terminal:?}");
    assert!(terminal.contains('\r') || terminal.contains('\x1b'), "redrawn in place: {terminal:?}");
    assert!(terminal.contains("cannot download pneumoniamnist.npz"), "{terminal:?}");
    assert!(stdout.is_empty(), "nothing on stdout: {:?}", text(&stdout));
}
