//! The PePR paper's published results as this repository keeps them (assets/paper/, saintslab/PePR,
//! MIT; origin in assets/paper/README.md): the same bytes `pepr import --paper` has built in.
//! Tests that recompute expected figures read the CSV themselves, independently of pepr's importer.
#![allow(dead_code)]

use std::path::PathBuf;

/// assets/paper/all_results.csv inside the repository.
pub fn csv_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/paper/all_results.csv")
}

/// The same file as a string argument for the binary.
pub fn csv_arg() -> String {
    csv_path().display().to_string()
}
