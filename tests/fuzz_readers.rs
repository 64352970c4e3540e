//! Every reader of a file a user can hand pepr, fed random bytes and random mutations of a valid
//! file (flipped bits, overwritten bytes, cuts, insertions, repeated chunks), as proptest
//! properties: the reader must never panic, and an error must name the file.
//!
//! The generator is seeded (deterministic in CI); `PEPR_FUZZ_SEED=N` runs another seed and
//! `PROPTEST_CASES=N` more cases (150 per reader by default). A failure is shrunk by proptest to a
//! small input and printed with the seed.

use std::path::{Path, PathBuf};

use pepr::home::Home;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// A position in a file as a fraction of its length at the time (`u64::MAX`: the end).
#[derive(Clone, Copy, Debug)]
struct Index(u64);

impl Index {
    /// The position in `0..size` (`size` > 0).
    fn index(self, size: usize) -> usize {
        ((size as u128 * self.0 as u128) >> 64) as usize
    }
}

fn index() -> impl Strategy<Value = Index> {
    any::<u64>().prop_map(Index)
}

/// One change to a file's bytes.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    /// Copies up to 64 bytes from the first position to the second.
    Repeat(Index, usize, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (index(), 0u8..8).prop_map(|(i, bit)| Mutation::FlipBit(i, bit)),
        (index(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        index().prop_map(Mutation::Truncate),
        (index(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (index(), 1usize..64, index()).prop_map(|(from, n, at)| Mutation::Repeat(from, n, at)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::FlipBit(i, bit) if len > 0 => bytes[i.index(len)] ^= 1 << bit,
            Mutation::SetByte(i, b) if len > 0 => bytes[i.index(len)] = *b,
            Mutation::Truncate(i) => bytes.truncate(i.index(len + 1)),
            Mutation::Insert(i, extra) => {
                let at = i.index(len + 1);
                bytes.splice(at..at, extra.iter().copied());
            }
            Mutation::Repeat(from, n, at) if len > 0 => {
                let from = from.index(len);
                let chunk = bytes[from..(from + n).min(len)].to_vec();
                let at = at.index(len + 1);
                bytes.splice(at..at, chunk);
            }
            _ => {}
        }
    }
    bytes
}

/// Random bytes one time in five, else one to four mutations of `valid`.
fn inputs(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..600),
        4 => prop::collection::vec(mutation(), 1..5).prop_map(move |ms| apply(valid.clone(), &ms)),
    ]
}

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(150);
    let seed: u64 = std::env::var("PEPR_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_0000);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    // No regression files: the seed replays a failure.
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes))
}

/// Writes each input to `path` and runs `read` on it: no panic (proptest catches and shrinks it),
/// and an error names the file.
fn fuzz(name: &str, path: &Path, valid: &[u8], read: &dyn Fn(&Path) -> Result<(), String>) {
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let result = runner().run(&inputs(valid.to_vec()), |bytes| {
        std::fs::write(path, &bytes).unwrap();
        match read(path) {
            Err(message) if !message.contains(&file_name) => {
                Err(TestCaseError::fail(format!("the error does not name {file_name}: {message}")))
            }
            _ => Ok(()),
        }
    });
    if let Err(failure) = result {
        panic!("{name}: {failure} (seed PEPR_FUZZ_SEED={:?})", std::env::var("PEPR_FUZZ_SEED").ok());
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
fn the_mutator_changes_files_in_every_way_it_says() {
    let valid: Vec<u8> = (0..100).collect();
    let at = |n: usize| Index(n as u64 * (u64::MAX / 100 + 1));
    assert_eq!(apply(valid.clone(), &[Mutation::Truncate(at(10))]).len(), 10);
    assert_eq!(apply(valid.clone(), &[Mutation::FlipBit(at(3), 1)])[3], 1);
    assert_eq!(apply(valid.clone(), &[Mutation::SetByte(at(3), 200)])[3], 200);
    assert_eq!(apply(valid.clone(), &[Mutation::Insert(at(0), vec![7, 7])])[..3], [7, 7, 0]);
    let repeated = apply(valid.clone(), &[Mutation::Repeat(at(98), 10, at(0))]);
    assert_eq!(repeated[..3], [98, 99, 0], "a chunk is cut at the end of the file");
    // The strategy's values differ from the valid file nearly always.
    let mut runner = runner();
    let strategy = inputs(valid.clone());
    let changed = (0..50).filter(|_| strategy.new_tree(&mut runner).unwrap().current() != valid).count();
    assert!(changed >= 45, "{changed} of 50 inputs differ from the valid file");
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
            if warning.file != p {
                return Err(format!("a warning names another file: {}", warning.file.display()));
            }
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
    let jobs =
        br#"[{"job_id": "123", "name": "g", "submitted_at": "2026-01-01T00:00:00Z", "dir": "/tmp/g", "cells": 2}]"#;
    fuzz("jobs.json", &home.slurm_dir().join("jobs.json"), jobs, &|_| {
        pepr::slurm::jobs::load(&home).map(|_| ()).map_err(|e| format!("{e:#}"))
    });
}

/// A small PneumoniaMNIST-shaped archive (grayscale 28x28, two classes), as numpy writes it.
fn pneumonia_npz() -> Vec<u8> {
    use npyz::WriterBuilder;
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut npz = npyz::npz::NpzWriter::new(&mut bytes);
    for (split, n) in [("train", 3u64), ("val", 2), ("test", 2)] {
        let pixels: Vec<u8> = (0..n * 28 * 28).map(|i| ((i * 37) % 251) as u8).collect();
        let mut writer = npz
            .array::<u8>(&format!("{split}_images"), npyz::zip::write::FileOptions::default())
            .unwrap()
            .default_dtype()
            .shape(&[n, 28, 28])
            .begin_nd()
            .unwrap();
        writer.extend(pixels).unwrap();
        writer.finish().unwrap();
        let mut writer = npz
            .array::<u8>(&format!("{split}_labels"), npyz::zip::write::FileOptions::default())
            .unwrap()
            .default_dtype()
            .shape(&[n, 1])
            .begin_nd()
            .unwrap();
        writer.extend((0..n).map(|i| (i % 2) as u8)).unwrap();
        writer.finish().unwrap();
    }
    npz.zip_writer().finish().unwrap();
    drop(npz);
    bytes.into_inner()
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
    let set = pepr::data::medmnist::find("pneumoniamnist").unwrap();
    let valid = pneumonia_npz();
    let path = dir.join("pneumoniamnist.npz");
    std::fs::write(&path, &valid).unwrap();
    pepr::data::medmnist::read_npz(&path, set, 28).expect("the unmutated archive reads");
    fuzz("npz", &path, &valid, &|p| pepr::data::medmnist::read_npz(p, set, 28).map(|_| ()).map_err(|e| e.to_string()));
    fuzz("npz split sizes", &path, &valid, &|p| {
        pepr::data::medmnist::file_split_sizes(p).map(|_| ()).map_err(|e| format!("{e:#}"))
    });
}

#[test]
fn image_folders() {
    let (_d, dir) = dir();
    let root = dir.join("flowers");
    for class in ["daisy", "rose"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..3u8 {
            let image = image::RgbImage::from_fn(8, 6, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, i * 80]));
            image.save(root.join(class).join(format!("{i}.png"))).unwrap();
        }
    }
    let valid = std::fs::read(root.join("rose/1.png")).unwrap();
    pepr::data::folder::read_folder(&root, 16, 3, 0).expect("the unmutated folder reads");
    // One image of the folder is replaced by each input; the error names that image.
    fuzz("image folder", &root.join("rose/1.png"), &valid, &|_| {
        pepr::data::folder::read_folder(&root, 16, 3, 0).map(|_| ()).map_err(|e| e.to_string())
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
            if file != p {
                return Err(format!("a bad incoming record is named by another file: {}", file.display()));
            }
        }
        Ok(())
    });
}
