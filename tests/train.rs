//! Training on the built-in synthetic set: learning, determinism, stopping, failing, records,
//! checkpoints, and `pepr train` on the real binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;

use crate::common::pepr;
use burn::tensor::{Device, Tensor};
use chrono::Utc;
use pepr::catalog;
use pepr::catalog::ModelKind;
use pepr::data::Input;
use pepr::data::{BatchOptions, Dataset, SplitName, registry, synthetic};
use pepr::results::record::{Origin, RunStatus};
use pepr::results::store::RunStore;
use pepr::train::record::build_record;
use pepr::train::{Event, Metric, Outcome, TrainConfig, input_for, train};
use pepr::weights::checkpoint::{Meta, load_checkpoint, save_checkpoint};

fn synthetic_set() -> Dataset {
    synthetic::synthetic(synthetic::DEFAULT_SIZE, synthetic::DEFAULT_CHANNELS, registry::SYNTHETIC_SEED)
}

fn config(arch: &str, epochs: usize, fraction: f64, seed: u64) -> TrainConfig {
    TrainConfig { epochs, fraction, seed, ..TrainConfig::new(arch, "synthetic") }
}

fn run(config: &TrainConfig, dataset: &Dataset) -> (Outcome, Vec<Event>) {
    let mut events = Vec::new();
    let stop = AtomicBool::new(false);
    let outcome = train(config, dataset, &Device::flex(), &stop, &mut |e| events.push(e));
    (outcome, events)
}

#[test]
fn lenet5_learns_the_synthetic_shapes() {
    let dataset = synthetic_set();
    // Three epochs at a higher learning rate than the default: LeNet-5 sits at chance for about an
    // epoch on this set before it starts to learn (every seed tried reaches 55-73% by epoch 3).
    let config = TrainConfig { lr: 2e-3, batch_size: 16, ..config("pepr_lenet5", 3, 1.0, 1) };
    let (outcome, events) = run(&config, &dataset);
    assert_eq!(outcome.status, RunStatus::Completed, "{:?}", outcome.message);
    assert_eq!(outcome.epoch_perf.len(), 3);
    assert!(outcome.performance >= 0.5, "4 classes, chance is 0.25: got {:?}", outcome.epoch_perf);
    assert_eq!(outcome.performance, *outcome.epoch_perf.last().unwrap());
    assert!(outcome.epoch_loss[2] < outcome.epoch_loss[0], "{:?}", outcome.epoch_loss);
    assert!(outcome.train_time_s > 0.0 && outcome.samples_per_sec > 0.0);
    assert_eq!(outcome.input, Input { channels: 1, height: 28, width: 28 });
    assert_eq!(outcome.params, 61_196, "LeNet-5 with a 4-class head");

    let steps = 2000usize.div_ceil(16);
    let Event::Started { steps_per_epoch, train_samples, test_samples, .. } = &events[0] else {
        panic!("first event {:?}", events[0])
    };
    assert_eq!((*steps_per_epoch, *train_samples, *test_samples), (steps, 2000, 600));
    let progress = events.iter().filter(|e| matches!(e, Event::Progress { .. })).count();
    assert_eq!(progress, 3 * steps);
    let finished: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            Event::EpochFinished { test_metric, .. } => Some(*test_metric),
            _ => None,
        })
        .collect();
    assert_eq!(finished, outcome.epoch_perf);
}

#[test]
fn same_seed_same_weights_and_order() {
    let dataset = synthetic_set();
    let first = run(&config("pepr_lenet5", 1, 0.25, 7), &dataset).0;
    let again = run(&config("pepr_lenet5", 1, 0.25, 7), &dataset).0;
    let other = run(&config("pepr_lenet5", 1, 0.25, 8), &dataset).0;
    assert_eq!(first.epoch_loss, again.epoch_loss);
    assert_eq!(first.epoch_perf, again.epoch_perf);
    assert_ne!(first.epoch_loss, other.epoch_loss);
}

#[test]
fn stop_flag_set_before_start_interrupts() {
    let dataset = synthetic_set();
    let stop = AtomicBool::new(true);
    let mut events = Vec::new();
    let outcome = train(&config("pepr_lenet5", 2, 0.25, 0), &dataset, &Device::flex(), &stop, &mut |e| events.push(e));
    assert_eq!(outcome.status, RunStatus::Interrupted);
    assert!(outcome.epoch_perf.is_empty());
    assert!(outcome.message.unwrap().contains("epoch 1 at step 1"));
    assert!(events.iter().all(|e| matches!(e, Event::Started { .. })), "{events:?}");
}

#[test]
fn diverging_loss_fails_naming_epoch_and_step() {
    let dataset = synthetic_set();
    let config = TrainConfig { lr: 1e9, ..config("pepr_lenet5", 2, 0.25, 0) };
    let (outcome, _) = run(&config, &dataset);
    assert_eq!(outcome.status, RunStatus::Failed);
    let message = outcome.message.unwrap();
    assert!(message.contains("epoch 1 at step "), "{message}");
    assert!(message.contains("NaN") || message.contains("inf"), "{message}");
}

#[test]
fn unknown_architecture_fails_without_panicking() {
    let (outcome, events) = run(&config("no_such_net", 1, 1.0, 0), &synthetic_set());
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.message.unwrap().contains("no_such_net"));
    assert!(outcome.net.is_none() && events.is_empty());
}

#[test]
fn input_is_the_datasets_size_unless_the_architecture_cannot_take_it() {
    let dataset = synthetic_set();
    let lenet = catalog::find("pepr_lenet5").unwrap();
    assert_eq!(input_for(lenet, &dataset).unwrap().0, Input { channels: 1, height: 28, width: 28 });
    // densenet121 cannot pool a 28x28 image down through its transitions: it gets its own 224.
    let densenet = catalog::find("densenet121").unwrap();
    let (input, graph) = input_for(densenet, &dataset).unwrap();
    assert_eq!(input, Input { channels: 1, height: 224, width: 224 });
    assert_eq!(graph.nodes[0].output.features(), 1);
}

#[test]
fn record_has_every_field_and_is_stored() {
    let dataset = synthetic_set();
    let config = TrainConfig { metric: Metric::MacroAuc, ..config("pepr_resnet8", 1, 0.1, 3) };
    let (outcome, _) = run(&config, &dataset);
    assert_eq!(outcome.status, RunStatus::Completed, "{:?}", outcome.message);
    let at = Utc::now();
    let record = build_record(&config, &outcome, "run-test-1", at);
    assert_eq!(record.id, "run-test-1");
    assert_eq!(record.created_at, at);
    assert_eq!(record.origin, Origin::TrainedHere);
    assert_eq!(record.arch, "pepr_resnet8");
    assert_eq!(record.family.as_deref(), Some(catalog::find("pepr_resnet8").unwrap().family));
    assert_eq!(record.kind, ModelKind::Cnn);
    assert_eq!(record.efficient, Some(catalog::find("pepr_resnet8").unwrap().efficient));
    let graph = catalog::find("pepr_resnet8").unwrap().graph(&catalog::Spec::new(1, 4, 28)).unwrap();
    assert_eq!(record.params, Some(graph.params()));
    assert_eq!(record.macs, Some(catalog::count::total_macs(&graph)));
    assert_eq!(record.dataset, "synthetic");
    assert_eq!(record.group, "synthetic_small");
    assert_eq!(record.data_fraction, Some(0.1));
    assert_eq!(record.pretrained, None);
    assert_eq!((record.epochs, record.batch_size, record.lr, record.seed), (Some(1), Some(32), Some(5e-4), Some(3)));
    assert_eq!(record.backend.as_deref(), Some(pepr::meter::backend::Backend::Cpu.label()));
    assert!(record.device.as_deref().unwrap().starts_with("CPU"));
    assert_eq!(record.metric, "test macro AUC (one-vs-rest)");
    assert_eq!(record.epoch_perf, outcome.epoch_perf);
    assert_eq!(record.performance, outcome.performance);
    assert!(record.performance > 0.0 && record.performance <= 1.0);
    assert_eq!(record.train_time_s, Some(outcome.train_time_s));
    assert_eq!((record.energy_kwh, record.co2_g, record.memory_gb), (None, None, None));
    assert_eq!((record.power_source.clone(), record.carbon_intensity_g_per_kwh), (None, None));
    assert_eq!(record.status, RunStatus::Completed);

    let home = tempfile::tempdir().unwrap();
    let store = RunStore::new(home.path().join("runs.jsonl"));
    assert_eq!(store.append_new(std::slice::from_ref(&record)).unwrap().added, 1);
    let loaded = store.load().unwrap().records;
    assert_eq!(loaded.len(), 1);
    assert_eq!((loaded[0].id.as_str(), loaded[0].group.as_str()), ("run-test-1", "synthetic_small"));
    // serde_json's default float parsing may differ from the written value in the last bit.
    assert!((loaded[0].performance - record.performance).abs() < 1e-12);
}

#[test]
fn checkpoint_round_trip_gives_identical_logits() {
    let dataset = synthetic_set();
    // ResNet-8 has batch norm: its running statistics must travel too.
    let (outcome, _) = run(&config("pepr_resnet8", 1, 0.1, 5), &dataset);
    let net = outcome.net.expect("trained net");
    let dir = tempfile::tempdir().unwrap();
    let meta = Meta {
        run_id: "run-x".into(),
        arch: "pepr_resnet8".into(),
        input: outcome.input,
        classes: outcome.classes,
        dataset: "synthetic".into(),
        format: "burnpack".into(),
    };
    let path = save_checkpoint(&dir.path().join("run-x"), &net, &meta).unwrap();
    assert!(path.join("model.bpk").is_file() && path.join("meta.json").is_file());
    let (loaded, loaded_meta) = load_checkpoint(&path).unwrap();
    assert_eq!(loaded_meta, meta);

    let device = Device::flex();
    let options = BatchOptions { batch_size: 16, shuffle_seed: None, resize: None, channels: None };
    let images = dataset.batches(SplitName::Test, options, &device).next().unwrap().images;
    let logits = |net: &pepr::catalog::net::Net, x: Tensor<4>| -> Vec<f32> {
        net.forward(x).into_data().iter::<f32>().collect()
    };
    let before = logits(&net, images.clone());
    let after = logits(&loaded, images);
    assert_eq!(before, after);
    // A fresh net of the same shape gives other logits: the weights really came from the file.
    let fresh = pepr::train::init_net(
        catalog::find("pepr_resnet8").unwrap().graph(&catalog::Spec::new(1, 4, 28)).unwrap(),
        "cifar-resnet",
        &device,
        99,
    );
    let images = dataset.batches(SplitName::Test, options, &device).next().unwrap().images;
    assert_ne!(logits(&fresh, images), before);
}

/// It must really learn: a small catalog CNN on real Fashion-MNIST (Debian's dataset-fashion-mnist,
/// which .ci/run installs) reaches 85% test accuracy within 2 epochs on the CPU (about 20 s).
/// Without the package the test says so and passes, except under CI, where it fails.
#[test]
fn fashion_mnist_lenet5_reaches_85_percent_in_two_epochs() {
    let Ok(entry) = registry::find("fashion-mnist", Path::new("/nonexistent")) else {
        assert!(std::env::var_os("CI").is_none(), "CI must have Fashion-MNIST: .ci/run installs dataset-fashion-mnist");
        eprintln!("skipped: Fashion-MNIST is not on this machine (apt-get install dataset-fashion-mnist)");
        return;
    };
    let dataset = registry::load(&entry).unwrap();
    let config = TrainConfig { epochs: 2, ..TrainConfig::new("pepr_lenet5", "fashion-mnist") };
    let (outcome, _) = run(&config, &dataset);
    eprintln!(
        "pepr_lenet5 on Fashion-MNIST, 2 epochs: test accuracy {:?}, {:.1} s, {:.0} images/s",
        outcome.epoch_perf, outcome.train_time_s, outcome.samples_per_sec
    );
    assert!(outcome.performance >= 0.85, "test accuracy {:.4} after 2 epochs", outcome.performance);
}

#[test]
fn pepr_train_end_to_end() {
    let home = tempfile::tempdir().unwrap();
    let args = ["train", "--arch", "pepr_lenet5", "--dataset", "synthetic", "--epochs", "2", "--fraction", "0.25"];
    let mut with_json = args.to_vec();
    with_json.extend(["--seed", "4", "--metric", "balanced-accuracy", "--json"]);
    let output = pepr(home.path(), &with_json);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let record: serde_json::Value = serde_json::from_slice(&output.stdout).expect("--json prints the record");
    let id = record["id"].as_str().unwrap();
    assert_eq!(record["arch"], "pepr_lenet5");
    assert_eq!(record["group"], "synthetic_f0.25");
    assert_eq!(record["status"], "completed");
    assert_eq!(record["metric"], "test balanced accuracy");
    assert_eq!(record["epoch_perf"].as_array().unwrap().len(), 2);
    assert_eq!(record["seed"], 4);
    // The meters fill memory always; energy needs a power source (tests/meters.rs covers them).
    assert!(record["memory_gb"].as_f64().unwrap() > 0.0 && record["node"].is_string());
    // Progress and the summary on stderr, plain lines (not a terminal here).
    assert!(stderr.contains("epoch 2/2: train loss"), "{stderr}");
    assert!(!stderr.contains('\r'), "{stderr}");
    let checkpoint = home.path().join("checkpoints").join(id);
    assert!(stderr.contains(&checkpoint.display().to_string()), "{stderr}");
    let (_, meta) = load_checkpoint(&checkpoint).unwrap();
    assert_eq!(meta.run_id, id);
    assert_eq!(meta.input, Input { channels: 1, height: 28, width: 28 });

    // The stored run is ranked like any other.
    let ranked = pepr(home.path(), &["rank", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&ranked.stdout).unwrap();
    assert_eq!(rows[0]["id"], id);

    // Without --json: nothing but the summary on stdout.
    let plain = pepr(home.path(), &args);
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    let stdout = String::from_utf8(plain.stdout).unwrap();
    assert!(stdout.starts_with("run run-") && stdout.contains("completed") && stdout.lines().count() == 1, "{stdout}");
}

#[test]
fn pepr_train_errors_are_one_line() {
    let home = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (vec!["--arch", "nope", "--dataset", "synthetic"], "no architecture named \"nope\""),
        (vec!["--arch", "pepr_lenet5", "--dataset", "nope"], "no dataset named \"nope\""),
        (vec!["--arch", "pepr_lenet5", "--dataset", "synthetic", "--fraction", "0"], "--fraction"),
        (
            vec![
                "--arch",
                "pepr_lenet5",
                "--dataset",
                "synthetic",
                "--epochs",
                "1",
                "--fraction",
                "0.1",
                "--lr",
                "1e9",
            ],
            "failed: loss became",
        ),
    ] {
        let mut full = vec!["train"];
        full.extend(args);
        let output = pepr(home.path(), &full);
        assert_eq!(output.status.code(), Some(1), "{full:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let last = stderr.lines().last().unwrap();
        assert!(last.starts_with("error: ") && last.contains(expected), "{full:?}: {stderr}");
    }
    // Only the failed run was stored.
    let loaded = RunStore::new(home.path().join("runs.jsonl")).load().unwrap();
    assert_eq!(loaded.records.len(), 1);
    assert_eq!(loaded.records[0].status, RunStatus::Failed);
}

#[test]
fn sweep_trains_every_pair_and_refuses_unknown_names_up_front() {
    let home = tempfile::tempdir().unwrap();
    let args = [
        "sweep",
        "--arch",
        "pepr_lenet5,pepr_resnet8",
        "--dataset",
        "synthetic",
        "--epochs",
        "1",
        "--fraction",
        "0.05",
    ];
    let output = pepr(home.path(), &args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("sweep: 2 runs") && text.contains("pepr_lenet5") && text.contains("pepr_resnet8"), "{text}");
    let store = std::fs::read_to_string(home.path().join("runs.jsonl")).unwrap();
    assert_eq!(store.lines().count(), 2);

    let bad = pepr(home.path(), &["sweep", "--arch", "pepr_lenet5,nope", "--dataset", "synthetic", "--epochs", "1"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no architecture named \"nope\""));
    let store = std::fs::read_to_string(home.path().join("runs.jsonl")).unwrap();
    assert_eq!(store.lines().count(), 2, "nothing trained when a name is wrong");
}

#[test]
fn ctrl_c_stops_pepr_train_and_stores_the_run_as_interrupted() {
    use std::io::{BufRead, BufReader};
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pepr"))
        .args(["--home", home.path().to_str().unwrap(), "train", "--arch", "pepr_resnet20", "--dataset", "synthetic"])
        .args(["--epochs", "50"])
        .env_remove("PEPR_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first progress line, then send SIGINT as a terminal's Ctrl-C would.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("step") {
        line.clear();
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130), "{rest}");
    let store = std::fs::read_to_string(home.path().join("runs.jsonl")).unwrap();
    assert!(store.contains("\"status\":\"interrupted\""), "{store}");
}

/// On the built-in default every small-input model (pepr's own, not timm's) learns well above chance
/// (4 classes: 25%). Measured with these settings: lenet5 72.8%, resnet8 75.5%, resnet20 77.8%.
#[test]
fn every_small_input_model_learns_the_synthetic_set_well_above_chance() {
    let dataset = synthetic_set();
    for entry in pepr::catalog::entries().iter().filter(|e| !e.from_timm) {
        let config = TrainConfig { lr: 2e-3, batch_size: 16, ..config(entry.name, 3, 1.0, 1) };
        let (outcome, _) = run(&config, &dataset);
        assert_eq!(outcome.status, RunStatus::Completed, "{}: {:?}", entry.name, outcome.message);
        assert!(outcome.performance >= 0.5, "{}: test accuracy {:.3} after 3 epochs", entry.name, outcome.performance);
    }
}
