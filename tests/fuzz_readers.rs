//! Every reader of a file a user can hand pepr, fed random bytes and random mutations of a valid
//! file (flipped bytes, cuts, insertions, repeated chunks): it must never panic, and an error must
//! name the file. Property-style with a seeded generator (no crate needed); the seed of a failing
//! case is printed, and `PEPR_FUZZ_SEED` replays it, `PEPR_FUZZ_CASES` runs more.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use pepr::home::Home;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// A random change of `valid`, or random bytes one time in five.
fn mutate(rng: &mut Rng, valid: &[u8]) -> Vec<u8> {
    if rng.below(5) == 0 {
        let n = rng.below(600);
        return (0..n).map(|_| rng.next() as u8).collect();
    }
    let mut bytes = valid.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            1 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next() as u8;
            }
            2 => bytes.truncate(rng.below(bytes.len() + 1)),
            3 => {
                let at = rng.below(bytes.len() + 1);
                let extra: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                bytes.splice(at..at, extra);
            }
            _ if !bytes.is_empty() => {
                let from = rng.below(bytes.len());
                let to = (from + 1 + rng.below(64)).min(bytes.len());
                let chunk = bytes[from..to].to_vec();
                let at = rng.below(bytes.len() + 1);
                bytes.splice(at..at, chunk);
            }
            _ => {}
        }
    }
    bytes
}

fn cases() -> usize {
    std::env::var("PEPR_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(150)
}

/// Writes mutations of `valid` to `path` and runs `read` on each: no panic, errors name the file.
fn fuzz(name: &str, path: &Path, valid: &[u8], read: &dyn Fn(&Path) -> Result<(), String>) {
    let base = std::env::var("PEPR_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_0000_u64);
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    for case in 0..cases() {
        let seed = base ^ (case as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rng = Rng(seed);
        let bytes = mutate(&mut rng, valid);
        std::fs::write(path, &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| read(path)));
        match outcome {
            Err(_) => panic!("{name}: the reader panicked (PEPR_FUZZ_SEED={seed}, case {case}, {} bytes)", bytes.len()),
            Ok(Err(message)) => assert!(
                message.contains(&file_name),
                "{name}: the error does not name {file_name} (PEPR_FUZZ_SEED={seed}): {message}"
            ),
            Ok(Ok(())) => {}
        }
    }
}

fn dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn csv_import() {
    let (_d, dir) = dir();
    let valid = fixture("fixtures/generic_example.csv");
    fuzz("import", &dir.join("runs.csv"), &valid, &|p| {
        pepr::results::import::read_file(p, chrono::Utc::now()).map(|_| ()).map_err(|e| e.to_string())
    });
    let paper = b"\"model\",\"num_param\",\"memR\",\"energy\",\"co2\",\"train_time\",\"test_09\",\"type\",\"efficient\",\"dataset\"\n\"resnet18\",11000000,1.5,0.01,2.5,100,0.8,\"CNN\",0,\"derma\"\n";
    fuzz("import (paper layout)", &dir.join("all_results.csv"), paper, &|p| {
        pepr::results::import::read_file(p, chrono::Utc::now()).map(|_| ()).map_err(|e| e.to_string())
    });
}

#[test]
fn run_store_lines() {
    let (_d, dir) = dir();
    let source = dir.join("in.csv");
    std::fs::write(&source, fixture("fixtures/generic_example.csv")).unwrap();
    let store = pepr::results::store::RunStore::new(dir.join("runs.jsonl"));
    pepr::results::import::import_file(&store, &source).unwrap();
    let valid = std::fs::read(store.path()).unwrap();
    fuzz("run store", store.path(), &valid, &|p| {
        let loaded = pepr::results::store::RunStore::new(p).load().map_err(|e| format!("{e:#}"))?;
        for warning in &loaded.warnings {
            assert_eq!(warning.file, p, "a warning names its file");
        }
        Ok(())
    });
}

#[test]
fn safetensors_and_pth_weights() {
    let (_d, dir) = dir();
    let mut state = pepr::weights::StateDict::new();
    state
        .insert("stem.weight".into(), pepr::weights::Tensor::new(vec![2, 1, 2, 2], (0..8).map(|i| i as f32).collect()));
    state.insert("fc.bias".into(), pepr::weights::Tensor::new(vec![3], vec![0.5, -1.0, 2.0]));
    let path = dir.join("w.safetensors");
    pepr::weights::tensors::write_safetensors(&path, &state).unwrap();
    let valid = std::fs::read(&path).unwrap();
    let read = |p: &Path| pepr::weights::tensors::read_file(p).map(|_| ()).map_err(|e| format!("{e:#}"));
    fuzz("safetensors", &path, &valid, &read);
    fuzz("pth", &dir.join("w.pth"), &fixture("fixtures/timm/weights/nested.pth"), &read);
}

#[test]
fn settings_grid_specs_and_jobs_files() {
    let (_d, dir) = dir();
    let settings = br#"{"carbon_intensity": "DK", "pue": 1.2, "sample_interval_ms": 200, "cpu_tdp_w": 65}"#;
    fuzz("settings.json", &dir.join("settings.json"), settings, &|p| pepr::settings::Settings::load(p).map(|_| ()));
    let grid =
        br#"{"archs": ["pepr_lenet5"], "datasets": ["synthetic"], "fractions": [1.0], "seeds": [0], "epochs": 1}"#;
    fuzz("grid spec", &dir.join("grid.json"), grid, &|p| {
        pepr::grid::spec::GridSpec::read(p).map(|_| ()).map_err(|e| format!("{e:#}"))
    });
    let home = Home::at(dir.join("home"));
    std::fs::create_dir_all(home.slurm_dir()).unwrap();
    fuzz("jobs.json", &home.slurm_dir().join("jobs.json"), b"[]", &|_| {
        pepr::slurm::jobs::load(&home).map(|_| ()).map_err(|e| format!("{e:#}"))
    });
}

#[test]
fn idx_files_and_npz_archives() {
    let (_d, dir) = dir();
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 4];
    images.extend((0..32).map(|i| i as u8 * 7));
    fuzz("idx images", &dir.join("train-images-idx3-ubyte"), &images, &|p| {
        pepr::data::idx::read_images(p).map(|_| ()).map_err(|e| e.to_string())
    });
    let labels = [0, 0, 8, 1, 0, 0, 0, 2, 3, 9];
    fuzz("idx labels", &dir.join("train-labels-idx1-ubyte"), &labels, &|p| {
        pepr::data::idx::read_labels(p, 10).map(|_| ()).map_err(|e| e.to_string())
    });
    let set = pepr::data::medmnist::find("dermamnist").unwrap();
    fuzz("npz", &dir.join("dermamnist.npz"), b"PK\x03\x04", &|p| {
        pepr::data::medmnist::read_npz(p, set, 28).map(|_| ()).map_err(|e| e.to_string())
    });
}

#[test]
fn incoming_records() {
    let (_d, dir) = dir();
    let incoming = dir.join("incoming");
    let source = dir.join("in.csv");
    std::fs::write(&source, fixture("fixtures/generic_example.csv")).unwrap();
    let (_, records) = pepr::results::import::read_file(&source, chrono::Utc::now()).unwrap();
    let path = pepr::results::incoming::write_incoming(&incoming, &records[0]).unwrap();
    let valid = std::fs::read(&path).unwrap();
    fuzz("incoming record", &path, &valid, &|p| {
        let (_, bad) = pepr::results::incoming::read_incoming(p.parent().unwrap()).map_err(|e| format!("{e:#}"))?;
        for (file, _) in &bad {
            assert_eq!(file, p, "a bad incoming record is named by its file");
        }
        Ok(())
    });
}
