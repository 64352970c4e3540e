//! The real `pepr` binary, run the way scripts run it.

use crate::common;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn pepr(home: &Path, args: &[&str]) -> Output {
    // MedMNIST files in the user's own ~/.medmnist would otherwise show in listings.
    common::command(home).env("HOME", home).args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

use crate::common::paper as paper_data;

fn paper_csv() -> String {
    paper_data::csv_arg()
}

fn rank_csv(home: &Path, extra: &[&str]) -> Vec<csv::StringRecord> {
    let mut args = vec!["rank", "--format", "csv"];
    args.extend_from_slice(extra);
    let output = pepr(home, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    let required = "id,arch,group,P,energy_kwh,co2_g,train_time_s,memory_gb,pepr_e,pepr_c,pepr_t,pepr_m,pareto_e,rank";
    for column in required.split(',') {
        assert!(headers.iter().any(|h| h == column), "missing column {column} in {headers:?}");
    }
    reader.records().map(Result::unwrap).collect()
}

#[test]
fn import_paper_twice_then_rank() {
    let home = tempfile::tempdir().unwrap();
    // The built-in copy first, then the repository's file: the same rows get the same ids.
    let first = pepr(home.path(), &["import", "--paper"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("built into pepr")
            && stdout(&first).contains("1048 rows (paper layout): 1048 added, 0 already in the store"),
        "{}",
        stdout(&first)
    );
    let second = pepr(home.path(), &["import", &paper_csv()]);
    assert!(stdout(&second).contains("0 added, 1048 already in the store"), "{}", stdout(&second));
    let third = pepr(home.path(), &["import", "--paper"]);
    assert!(stdout(&third).contains("0 added, 1048 already in the store"), "{}", stdout(&third));
    let nothing = pepr(home.path(), &["import"]);
    assert_eq!(nothing.status.code(), Some(2), "a file or --paper is required");

    let rows = rank_csv(home.path(), &[]);
    assert_eq!(rows.len(), 1048);

    // --group and --top: the three best PePR-E runs of derma_pt, best first, ranked 1..3.
    let top = rank_csv(home.path(), &["--group", "derma_pt", "--top", "3"]);
    assert_eq!(top.len(), 3);
    let scores: Vec<f64> = top.iter().map(|r| r[11].parse().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let ranks: Vec<&str> = top.iter().map(|r| r.get(r.len() - 1).unwrap()).collect();
    assert_eq!(ranks, ["1", "2", "3"]);
    assert!(top.iter().all(|r| &r[2] == "derma_pt"));

    // --by a column sorts by it; PePR-M ranks by memory's score.
    let by_energy = rank_csv(home.path(), &["--group", "lidc", "--by", "energy_kwh"]);
    let energies: Vec<f64> = by_energy.iter().map(|r| r[7].parse().unwrap()).collect();
    assert!(energies.windows(2).all(|w| w[0] <= w[1]));
    let by_m = rank_csv(home.path(), &["--group", "lidc", "--by", "pepr-m", "--top", "1"]);
    assert_eq!(by_m[0].get(by_m[0].len() - 1), Some("1"));

    let table = pepr(home.path(), &["rank", "--group", "pneumonia", "--top", "5"]);
    let text = stdout(&table);
    assert!(text.contains("== pneumonia ==") && text.contains("PePR-E"), "{text}");
    assert_eq!(text.lines().filter(|l| !l.is_empty()).count(), 7, "{text}");

    let json = pepr(home.path(), &["rank", "--format", "json", "--group", "derma", "--top", "2"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value.as_array().unwrap().len(), 2);
    assert!(value[0]["pepr_e"].is_number() && value[0]["pareto_e"].is_boolean());
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1_with_one_line() {
    let home = tempfile::tempdir().unwrap();
    let bad_by = pepr(home.path(), &["rank", "--by", "bogus"]);
    assert_eq!(bad_by.status.code(), Some(2));
    assert!(stderr(&bad_by).contains("pepr-e"));
    assert_eq!(pepr(home.path(), &["frobnicate"]).status.code(), Some(2));

    let no_group = pepr(home.path(), &["rank", "--group", "nope"]);
    assert_eq!(no_group.status.code(), Some(1));
    assert_eq!(stderr(&no_group).lines().count(), 1, "{}", stderr(&no_group));
    assert!(stderr(&no_group).starts_with("error: no comparison set named \"nope\""));

    let missing = pepr(home.path(), &["import", "/nonexistent/x.csv"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("/nonexistent/x.csv"));
}

#[test]
fn bad_row_aborts_the_import_and_names_file_line_column() {
    let home = tempfile::tempdir().unwrap();
    let good = home.path().join("good.csv");
    std::fs::write(&good, "arch,group,P,energy_kwh\na,g,0.5,0.1\n").unwrap();
    assert!(pepr(home.path(), &["import", good.to_str().unwrap()]).status.success());
    let before = std::fs::read(home.path().join("runs.jsonl")).unwrap();

    let bad = home.path().join("bad.csv");
    std::fs::write(&bad, "arch,group,P,energy_kwh\nb,g,0.5,0.1\nc,g,0.7,-3\n").unwrap();
    let output = pepr(home.path(), &["import", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("{}:3:4: column `energy_kwh`: must not be negative", bad.display())),
        "{message}"
    );
    assert_eq!(std::fs::read(home.path().join("runs.jsonl")).unwrap(), before, "nothing from the bad file was written");
}

#[test]
fn export_in_three_formats_and_reimport_the_csv() {
    let home = tempfile::tempdir().unwrap();
    assert!(pepr(home.path(), &["import", &paper_csv()]).status.success());
    for name in ["runs.csv", "runs.parquet", "runs.json"] {
        let path = home.path().join(name);
        let output = pepr(home.path(), &["export", path.to_str().unwrap()]);
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        assert!(stdout(&output).contains("1048 runs written"));
    }
    let parquet = std::fs::read(home.path().join("runs.parquet")).unwrap();
    assert_eq!(&parquet[..4], b"PAR1");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.path().join("runs.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1048);
    assert!(json[0]["epoch_perf"].as_array().unwrap().len() == 10);

    // The exported CSV is in the generic layout: it imports back as a no-op into the same store
    // and as 1048 runs with the same scores into a fresh one.
    let csv_path = home.path().join("runs.csv");
    let again = pepr(home.path(), &["import", csv_path.to_str().unwrap()]);
    assert!(stdout(&again).contains("1048 rows (generic layout): 0 added"), "{} {}", stdout(&again), stderr(&again));
    let fresh = tempfile::tempdir().unwrap();
    assert!(pepr(fresh.path(), &["import", csv_path.to_str().unwrap()]).status.success());
    let original: Vec<Vec<String>> =
        rank_csv(home.path(), &[]).iter().map(|r| r.iter().map(String::from).collect()).collect();
    let round_trip: Vec<Vec<String>> =
        rank_csv(fresh.path(), &[]).iter().map(|r| r.iter().map(String::from).collect()).collect();
    assert_eq!(original, round_trip);

    let bad = pepr(home.path(), &["export", home.path().join("runs.xlsx").to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn two_processes_importing_at_once_lose_nothing() {
    let home = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..4)
        .map(|f| {
            let path = home.path().join(format!("batch{f}.csv"));
            let mut file = std::fs::File::create(&path).unwrap();
            writeln!(file, "arch,group,P,energy_kwh").unwrap();
            for i in 0..250 {
                writeln!(file, "m{f}-{i},g{},0.{i:03},{}", i % 3, 0.01 * (i + 1) as f64).unwrap();
            }
            path
        })
        .collect();
    let children: Vec<_> = files
        .iter()
        .map(|path| {
            Command::new(env!("CARGO_BIN_EXE_pepr"))
                .arg("--home")
                .arg(home.path())
                .arg("import")
                .arg(path)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(rank_csv(home.path(), &[]).len(), 1000);
}

#[test]
fn a_torn_store_line_is_reported_and_every_other_run_loads() {
    let home = tempfile::tempdir().unwrap();
    assert!(pepr(home.path(), &["import", &paper_csv()]).status.success());
    let store = home.path().join("runs.jsonl");
    let mut file = std::fs::OpenOptions::new().append(true).open(&store).unwrap();
    file.write_all(b"{\"schema\":1,\"id\":\"half-writ").unwrap();
    drop(file);

    let output = pepr(home.path(), &["rank", "--format", "csv"]);
    assert!(output.status.success());
    assert!(
        stderr(&output).contains(&format!("warning: {}:1049: skipped: incomplete last line", store.display())),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output).lines().count(), 1 + 1048);
}

#[test]
fn pepr_home_env_is_the_default_home() {
    let home = tempfile::tempdir().unwrap();
    let csv = home.path().join("one.csv");
    std::fs::write(&csv, "arch,group,P\nx,g,0.5\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pepr"))
        .args(["import", csv.to_str().unwrap()])
        .env("PEPR_HOME", home.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(home.path().join("runs.jsonl").exists());
}

#[test]
fn the_tui_refuses_to_start_without_a_terminal() {
    let home = tempfile::tempdir().unwrap();
    let output = pepr(home.path(), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("the TUI needs a terminal"), "{}", stderr(&output));
    assert!(output.stdout.is_empty(), "no escape codes sprayed into a pipe");
}

#[test]
fn the_generic_example_fixture_imports_and_a_run_without_resources_gets_no_score() {
    let home = tempfile::tempdir().unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/generic_example.csv");
    let output = pepr(home.path(), &["import", fixture.to_str().unwrap()]);
    assert!(stdout(&output).contains("4 rows (generic layout): 4 added"), "{}{}", stdout(&output), stderr(&output));
    let rows = rank_csv(home.path(), &[]);
    let vit = rows.iter().find(|r| &r[1] == "vit_tiny").unwrap();
    assert_eq!((&vit[7], &vit[11], &vit[15], &vit[19]), ("", "", "false", ""), "{vit:?}");
    assert_eq!(&rows.last().unwrap()[1], "vit_tiny", "unscored runs sort last");
}

#[test]
fn archs_lists_the_catalog_and_shows_a_breakdown() {
    let home = tempfile::tempdir().unwrap();
    let output = pepr(home.path(), &["archs", "--input", "1x64x64", "--classes", "7", "--format", "csv"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    for column in ["arch", "family", "kind", "efficient", "params", "macs", "flops"] {
        assert!(headers.iter().any(|h| h == column), "missing {column}");
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let resnet18 = rows.iter().find(|r| &r[col("arch")] == "resnet18").unwrap();
    // timm: resnet18 with in_chans=1, num_classes=7 has 11,173,831 parameters.
    assert_eq!(&resnet18[col("params")], "11173831");
    let macs: u64 = resnet18[col("macs")].parse().unwrap();
    assert_eq!(resnet18[col("flops")].parse::<u64>().unwrap(), 2 * macs);
    assert_eq!(&resnet18[col("input")], "1x64x64");

    let json = pepr(home.path(), &["archs", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(value.as_array().unwrap().len() >= 29);

    let show = pepr(home.path(), &["archs", "show", "resnet18", "--input", "3x224x224"]);
    let text = stdout(&show);
    assert!(show.status.success(), "{}", stderr(&show));
    assert!(text.contains("params: 11689512 (counted from the burn module)"), "{text}");
    assert!(text.contains("layer4.1.conv2") && text.contains("fvcore"), "{text}");

    let unknown = pepr(home.path(), &["archs", "show", "resnet9000"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no architecture named \"resnet9000\""));
    let too_small = pepr(home.path(), &["archs", "show", "densenet121", "--input", "3x28x28"]);
    assert_eq!(too_small.status.code(), Some(1));
    assert!(stderr(&too_small).contains("too small"), "{}", stderr(&too_small));
    let bad_input = pepr(home.path(), &["archs", "--input", "big"]);
    assert_eq!(bad_input.status.code(), Some(2));
}

use crate::common::http;

#[test]
fn data_list_info_and_download_errors() {
    let home = tempfile::tempdir().unwrap();
    let list = pepr(home.path(), &["data", "list", "--format", "csv"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    assert!(
        text.starts_with("name,availability,path,size,channels,classes,train,val,test,licence,source,synthetic"),
        "{text}"
    );
    assert!(text.contains("\nsynthetic,built-in,"), "{text}");
    assert!(text.contains("\ndermamnist_64,downloadable,,64,3,7,7007,1003,2005,CC BY-NC 4.0,"), "{text}");

    let info = pepr(home.path(), &["data", "info", "dermamnist"]);
    let text = stdout(&info);
    assert!(text.contains("licence:  CC BY-NC 4.0") && text.contains("melanoma"), "{text}");
    assert!(text.contains("pepr data download dermamnist"), "{text}");
    let synthetic = stdout(&pepr(home.path(), &["data", "info", "synthetic"]));
    assert!(synthetic.contains("SYNTHETIC: generated by pepr, not real data"), "{synthetic}");
    let unknown = pepr(home.path(), &["data", "info", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no dataset named \"nope\""));

    // A server that sends the wrong bytes: the checksum error says what was expected and what
    // arrived, and nothing is left in the data dir.
    let server = http::Server::start(200, b"not the real file".to_vec(), 4);
    let data_dir = home.path().join("datasets");
    let output = Command::new(env!("CARGO_BIN_EXE_pepr"))
        .args(["--home", home.path().to_str().unwrap(), "data", "download", "dermamnist", "--size", "64"])
        .env("PEPR_MEDMNIST_URL", &server.base_url)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("b70a2f5635c6199aeaa28c31d7202e1f"), "expected MD5 named: {message}");
    assert!(!data_dir.join("medmnist/dermamnist_64.npz").exists());

    let missing = http::Server::start(404, b"gone".to_vec(), 4);
    let output = Command::new(env!("CARGO_BIN_EXE_pepr"))
        .args(["--home", home.path().to_str().unwrap(), "data", "download", "pneumoniamnist"])
        .env("PEPR_MEDMNIST_URL", &missing.base_url)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("404"), "{}", stderr(&output));
}

#[test]
fn image_folders_are_registered_listed_and_forgotten() {
    let home = tempfile::tempdir().unwrap();
    let images = home.path().join("pets");
    for (class, shade) in [("cat", 40u8), ("dog", 200u8)] {
        std::fs::create_dir_all(images.join(class)).unwrap();
        for i in 0..5u8 {
            let image = image::GrayImage::from_pixel(20, 12, image::Luma([shade.wrapping_add(i)]));
            image.save(images.join(class).join(format!("{i}.png"))).unwrap();
        }
    }
    let add = pepr(home.path(), &["data", "add", "pets", images.to_str().unwrap(), "--size", "16", "--channels", "1"]);
    assert!(add.status.success(), "{}", stderr(&add));
    assert!(stdout(&add).contains("pets: 2 classes"), "{}", stdout(&add));
    let list = stdout(&pepr(home.path(), &["data", "list", "--format", "csv"]));
    assert!(list.contains("\npets,local,"), "{list}");
    let info = stdout(&pepr(home.path(), &["data", "info", "pets"]));
    assert!(info.contains("cat") && info.contains("dog") && info.contains("1 x 16x16"), "{info}");

    // A corrupt image is refused at registration, naming the file; the first registration stays.
    std::fs::write(images.join("dog").join("broken.png"), b"not a png").unwrap();
    let bad = pepr(home.path(), &["data", "add", "pets2", images.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("broken.png"), "{}", stderr(&bad));

    let remove = pepr(home.path(), &["data", "remove", "pets"]);
    assert!(remove.status.success());
    assert!(!stdout(&pepr(home.path(), &["data", "list", "--format", "csv"])).contains("\npets,"));
    assert!(images.join("cat").join("0.png").exists(), "images are never touched");
    assert_eq!(pepr(home.path(), &["data", "remove", "pets"]).status.code(), Some(1));
}

#[test]
fn config_show_set_unset_and_errors_name_the_key() {
    let home = tempfile::tempdir().unwrap();
    let settings = home.path().join("settings.json");
    let show = pepr(home.path(), &["config", "show"]);
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    assert!(text.contains("not created yet"), "{text}");
    assert!(text.contains("carbon_intensity") && text.contains("world average"), "{text}");
    assert!(text.contains("carbontracker uses 1.58"), "{text}");
    assert!(!settings.exists(), "show writes nothing");

    let set = pepr(home.path(), &["config", "set", "carbon_intensity", "dnk"]);
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&set).contains("Denmark"), "{}", stdout(&set));
    assert!(pepr(home.path(), &["config", "set", "pue", "1.58"]).status.success());
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(stored, serde_json::json!({"carbon_intensity": "DNK", "pue": 1.58}));
    let text = stdout(&pepr(home.path(), &["config", "show"]));
    assert!(text.contains("set to DNK") && text.contains("1.58"), "{text}");

    // Bad values: exit 1, one line naming the key, the file unchanged.
    let before = std::fs::read_to_string(&settings).unwrap();
    for (key, value, expected) in [
        ("pue", "0.3", "`pue`"),
        ("sample_interval_ms", "fast", "`sample_interval_ms`"),
        ("carbon_intensity", "Atlantis", "\"Atlantis\""),
        ("colour", "red", "`colour`: unknown setting"),
    ] {
        let out = pepr(home.path(), &["config", "set", key, value]);
        assert_eq!(out.status.code(), Some(1), "{key}={value}");
        let err = stderr(&out);
        assert!(err.contains(expected) && err.lines().count() == 1, "{key}={value}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), before);

    assert!(pepr(home.path(), &["config", "unset", "pue"]).status.success());
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(stored, serde_json::json!({"carbon_intensity": "DNK"}));
}

#[test]
fn a_bad_settings_file_is_reported_never_overwritten_and_rank_still_runs() {
    let home = tempfile::tempdir().unwrap();
    let settings = home.path().join("settings.json");
    let bad = "{\"pue\": \"high\"}";
    std::fs::write(&settings, bad).unwrap();
    let show = pepr(home.path(), &["config", "show"]);
    assert!(show.status.success());
    let err = stderr(&show);
    assert!(err.contains("settings.json") && err.contains("field `pue`") && err.contains("default"), "{err}");
    let set = pepr(home.path(), &["config", "set", "cpu_tdp_w", "65"]);
    assert_eq!(set.status.code(), Some(1));
    assert!(stderr(&set).contains("fix or remove the file"), "{}", stderr(&set));
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), bad, "the user's file is untouched");
    let rank = pepr(home.path(), &["rank"]);
    assert!(rank.status.success(), "{}", stderr(&rank));
    assert!(stderr(&rank).contains("field `pue`"), "{}", stderr(&rank));
}

#[test]
fn rank_energy_net_uses_the_net_figure_and_the_setting_is_its_default() {
    let home = tempfile::tempdir().unwrap();
    // Gross order a < b; net order b < a. Same intensity, so PePR-C repeats gross PePR-E.
    let csv = home.path().join("runs.csv");
    std::fs::write(
        &csv,
        "id,arch,group,P,energy_kwh,co2_g,carbon_intensity_g_per_kwh\na,arch_a,g,0.8,1.0,100,100\nb,arch_b,g,0.8,2.0,200,100\n",
    )
    .unwrap();
    assert!(pepr(home.path(), &["import", csv.to_str().unwrap()]).status.success());
    // Imported runs have no meter detail, hence no net energy: with --energy net they get no PePR-E.
    let gross = rank_csv(home.path(), &[]);
    assert_eq!(gross.iter().map(|r| r[19].to_string()).collect::<Vec<_>>(), ["1", "2"]);
    let net = rank_csv(home.path(), &["--energy", "net"]);
    assert!(net.iter().all(|r| r[11].is_empty() && r[19].is_empty()), "{net:?}");
    assert!(pepr(home.path(), &["config", "set", "rank_energy", "net"]).status.success());
    let from_setting = rank_csv(home.path(), &[]);
    assert!(from_setting.iter().all(|r| r[11].is_empty()), "{from_setting:?}");
    let flag_wins = rank_csv(home.path(), &["--energy", "gross"]);
    assert_eq!(flag_wins.iter().map(|r| r[19].to_string()).collect::<Vec<_>>(), ["1", "2"]);

    let table = stdout(&pepr(home.path(), &["rank", "--by", "pepr-c", "--energy", "gross"]));
    assert!(table.contains("PePR-C orders these runs exactly as PePR-E"), "{table}");
    let table = stdout(&pepr(home.path(), &["rank", "--by", "pepr-c"]));
    assert!(!table.contains("exactly as PePR-E"), "net energy: PePR-C is its own ordering\n{table}");
    assert!(stdout(&pepr(home.path(), &["rank", "--energy", "net"])).contains("net kWh"));
}
