//! The integration tests, one crate: each former test file is a module here, so burn, polars and
//! ratatui are linked into one test binary rather than one per file. A module runs the real binary
//! through `common::pepr` or drives the library directly.
//!
//! Not here: tests/whatif.rs, its own binary (Cargo.toml) because it times a real run against its
//! estimate and must not share the CPU with the other tests.

mod common;

mod analyses;
mod bench;
mod catalog;
mod cli;
mod cli_progress;
mod data_local;
mod docs_images;
mod durability;
mod finetune;
mod fuzz_readers;
mod grid;
mod init;
mod kernels;
mod meters;
mod paper;
mod plot;
mod signals;
mod slurm;
mod threads;
mod timm_logits;
mod train;
mod train_worker;
mod tui;
mod tui_analyses;
mod tui_first_run;
mod tui_fit;
mod tui_keys;
mod tui_train_settings;
mod tui_whatif;
mod weights;

/// With `autotests = false` Cargo builds only the targets it is told of: a new tests/*.rs file must be
/// declared above (or as its own `[[test]]`), or it would silently never run.
#[test]
fn every_test_file_is_compiled() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(root.join("tests/main.rs")).unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("tests")).unwrap() {
        let path = entry.unwrap().path();
        let (Some(stem), Some("rs")) =
            (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|e| e.to_str()))
        else {
            continue;
        };
        let declared = main.lines().any(|line| line.trim() == format!("mod {stem};"));
        let own_target = manifest.contains(&format!("path = \"tests/{stem}.rs\""));
        if stem != "main" && !declared && !own_target {
            missing.push(format!("tests/{stem}.rs"));
        }
    }
    assert!(missing.is_empty(), "not compiled into any test binary (add `mod NAME;` to tests/main.rs): {missing:?}");
}
