//! What survives a crash: the real binary killed with SIGKILL at random moments of an import, over
//! and over; the store must then hold all of the import or none of it, with no torn line. Also the
//! `pepr runs` commands (delete, hide, undelete, compact) and hostile names through the real binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::pepr;
use pepr::results::store::RunStore;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A generic-layout CSV of `rows` runs.
fn big_csv(path: &Path, rows: usize, tag: &str) {
    let mut out = String::from("arch,group,P,energy_kwh,train_time_s,memory_gb\n");
    for i in 0..rows {
        out.push_str(&format!("{tag}net{i},set{},0.{:04},{}.5,{},1.25\n", i % 8, i % 10_000, i % 97, 10 + i % 13));
    }
    std::fs::write(path, out).unwrap();
}

/// xorshift: enough randomness for kill times without a crate; the seed is printed on failure.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn kill_9_at_any_moment_of_an_import_leaves_all_of_it_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let small = dir.path().join("small.csv");
    big_csv(&small, 3, "small");
    let output = pepr(&home, &["import", small.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let store_path = home.join("runs.jsonl");
    let before = std::fs::read(&store_path).unwrap();

    let rows = 40_000;
    let big = dir.path().join("big.csv");
    big_csv(&big, rows, "big");
    // How long a whole import takes here, so kills land all over it.
    let start = Instant::now();
    let output = pepr(&home, &["import", big.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let full = start.elapsed();
    assert_eq!(RunStore::new(&store_path).load().unwrap().records.len(), 3 + rows);

    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let first_seed = seed;
    let (mut none, mut all) = (0, 0);
    for round in 0..16 {
        std::fs::write(&store_path, &before).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pepr"))
            .arg("--home")
            .arg(&home)
            .args(["import", big.to_str().unwrap()])
            .env_remove("PEPR_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from the start to a little past the usual end.
        let wait = Duration::from_micros(next(&mut seed) % (full.as_micros() as u64 * 11 / 10 + 1));
        std::thread::sleep(wait);
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        let loaded = RunStore::new(&store_path).load().unwrap();
        let count = loaded.records.len();
        assert!(
            count == 3 || count == 3 + rows,
            "round {round} (seed {first_seed}, kill after {wait:?} of {full:?}): {count} runs stored, a torn import"
        );
        assert!(loaded.warnings.is_empty(), "round {round}: {:?}", &loaded.warnings[..1]);
        if count == 3 { none += 1 } else { all += 1 }
    }
    eprintln!("{none} imports left nothing, {all} were whole (a whole import takes {full:?})");
    // The next writer clears whatever a killed one left aside.
    std::fs::write(&store_path, &before).unwrap();
    let output = pepr(&home, &["import", big.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let leftovers: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("pepr-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(RunStore::new(&store_path).load().unwrap().records.len(), 3 + rows);
}

#[test]
fn runs_can_be_deleted_hidden_restored_and_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let csv = dir.path().join("runs.csv");
    std::fs::write(&csv, "id,arch,group,P\nr1,a,g,0.5\nr2,b,g,0.6\nr3,c,g,0.7\n").unwrap();
    assert!(pepr(&home, &["import", csv.to_str().unwrap()]).status.success());
    let ranked = |home: &Path| {
        let output = pepr(home, &["rank", "--format", "csv"]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let mut ids: Vec<String> =
            text(&output.stdout).lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ranked(&home), ["r1", "r2", "r3"]);

    let output = pepr(&home, &["runs", "delete", "r1"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("1 of 1 runs deleted (undo: pepr runs undelete r1)"),
        "{}",
        text(&output.stdout)
    );
    assert!(pepr(&home, &["runs", "hide", "r2"]).status.success());
    assert_eq!(ranked(&home), ["r3"]);
    let listing = text(&pepr(&home, &["runs", "list"]).stdout);
    assert!(
        listing.contains("r1  deleted") && listing.contains("r2  hidden") && listing.contains("r3  shown"),
        "{listing}"
    );

    let output = pepr(&home, &["runs", "delete", "nosuch"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("no run with id nosuch"), "{}", text(&output.stderr));

    assert!(pepr(&home, &["runs", "undelete", "r2"]).status.success());
    assert_eq!(ranked(&home), ["r2", "r3"]);
    let output = pepr(&home, &["runs", "compact"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("2 runs kept, 1 deleted runs"), "{}", text(&output.stdout));
    let stored = std::fs::read_to_string(home.join("runs.jsonl")).unwrap();
    assert_eq!(stored.lines().count(), 2);
    assert!(!stored.contains("\"r1\""));
}

#[test]
fn hostile_names_are_refused_at_import_and_a_bad_file_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "arch,group,P\n\"x\x1b[2J\x1b]0;owned\x07\",g,0.5\n").unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "arch,group,P\n残差网络🚀,g,0.5\nlenet,g,0.6\n").unwrap();
    let output = pepr(&home, &["import", bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert!(!output.status.success());
    let err = text(&output.stderr);
    assert!(err.contains("bad.csv:2: arch holds the control character \\u{1b}"), "{err}");
    assert!(!err.contains('\x1b'), "the error itself is escaped: {err:?}");
    assert!(err.contains("1 of 2 files not imported"), "{err}");
    assert!(text(&output.stdout).contains("good.csv: 2 rows"), "the good file after the bad one is imported");

    // Wide names line up: every row of the table has the P column at the same terminal column.
    let output = pepr(&home, &["rank"]);
    let table = text(&output.stdout);
    let columns: Vec<usize> = table
        .lines()
        .filter(|l| l.contains("0.5000") || l.contains("0.6000"))
        .map(|l| {
            let at = l.find("0.").unwrap();
            pepr::text::width(&l[..at])
        })
        .collect();
    assert_eq!(columns.len(), 2, "{table}");
    assert_eq!(columns[0], columns[1], "{table}");
}

#[test]
fn meter_flags_are_checked_like_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    for value in ["1e308", "-5", "0", "nan"] {
        let flag = format!("--cpu-tdp={value}");
        let output = pepr(&home, &["train", "--arch", "pepr_lenet5", "--dataset", "synthetic", &flag]);
        assert!(!output.status.success(), "--cpu-tdp {value} was accepted");
        let err = text(&output.stderr);
        assert!(err.contains("--cpu-tdp") && err.contains("rated power in watts"), "{value}: {err}");
        let output = pepr(&home, &["config", "set", "cpu_tdp_w", value]);
        assert!(!output.status.success(), "config set cpu_tdp_w {value} was accepted");
    }
    let output = pepr(&home, &["config", "set", "carbon_intensity", ""]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("empty"), "{}", text(&output.stderr));
    assert!(!home.join("runs.jsonl").exists(), "nothing trained or stored");
}

#[test]
fn an_unknown_pretrained_source_is_refused_before_the_dataset_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let output =
        pepr(&home, &["train", "--arch", "pepr_lenet5", "--dataset", "no-such-dataset", "--pretrained", "nosuch"]);
    assert!(!output.status.success());
    let err = text(&output.stderr);
    assert!(err.contains("pretrained weights \"nosuch\""), "the start is checked first: {err}");
    assert!(!home.join("runs.jsonl").exists(), "no failed record");
}

/// pepr's temporary files in `dir`.
fn temps(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".pepr-tmp-"))
        .collect();
    names.sort();
    names
}

fn spawn_export(home: &Path, target: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_pepr"))
        .arg("--home")
        .arg(home)
        .arg("export")
        .arg(target)
        .env_remove("PEPR_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until `child` has created its temporary file in `dir` (true) or has exited (false).
fn wait_for_temp(child: &mut std::process::Child, dir: &Path) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(300) {
        if !temps(dir).is_empty() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    panic!("the export neither wrote nor ended in 300 s");
}

#[test]
fn kill_9_during_an_export_leaves_the_old_file_and_the_next_write_clears_what_it_left() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let rows = 40_000;
    let big = dir.path().join("big.csv");
    big_csv(&big, rows, "big");
    let output = pepr(&home, &["import", big.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let target = out.join("runs.csv");

    // A whole export, timed from its temporary file's appearance to its end: the window kills aim at.
    let mut child = spawn_export(&home, &target);
    assert!(wait_for_temp(&mut child, &out), "no temporary file was seen");
    let began = Instant::now();
    assert!(child.wait().unwrap().success());
    let writing = began.elapsed();
    let whole = std::fs::read(&target).unwrap();
    assert_eq!(String::from_utf8_lossy(&whole).lines().count(), rows + 1);
    assert!(temps(&out).is_empty(), "{:?}", temps(&out));

    let old = b"the user's old file\n";
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let first_seed = seed;
    let mut left = 0;
    for round in 0..12 {
        std::fs::write(&target, old).unwrap();
        let mut child = spawn_export(&home, &target);
        let wait = Duration::from_micros(next(&mut seed) % (writing.as_micros() as u64 + 1));
        if wait_for_temp(&mut child, &out) {
            std::thread::sleep(wait);
        }
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        let now = std::fs::read(&target).unwrap();
        assert!(
            now == old || now == whole,
            "round {round} (seed {first_seed}, kill {wait:?} into a {writing:?} write): a torn export"
        );
        left += usize::from(!temps(&out).is_empty());
    }
    assert!(left > 0, "no kill landed inside a write ({writing:?}): the test proved nothing");
    // A kill right after the file was created leaves it empty, which is cleared once a minute old
    // (a live writer may be about to lock it): age those as the minute would.
    for name in temps(&out) {
        let file = std::fs::File::options().write(true).open(out.join(&name)).unwrap();
        if file.metadata().unwrap().len() == 0 {
            file.set_modified(std::time::SystemTime::now() - Duration::from_secs(120)).unwrap();
        }
    }
    eprintln!("{left} of 12 kills left a temporary file: {:?}", temps(&out));
    // The next write into that folder, to any name, clears them; the user's file is untouched.
    let before = std::fs::read(&target).unwrap();
    let output = pepr(&home, &["export", out.join("other.json").to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(temps(&out).is_empty(), "left after the next export: {:?}", temps(&out));
    assert_eq!(std::fs::read(&target).unwrap(), before);
}
