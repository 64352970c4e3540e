//! The PePR paper's published results, compiled into pepr so that `pepr import --paper` (and the
//! TUI's empty-store key) work on any machine, offline, with no file beside the binary.
//!
//! Source, licence and checksums: `assets/README.md` (section paper/). The rows import exactly as the file
//! `assets/paper/all_results.csv` does: run ids are content hashes of each row, so importing the
//! built-in copy, the file, or both, in any order, stores each run once.

use std::path::Path;

use chrono::Utc;

use super::import::{ImportSummary, read_text};
use super::store::{AppendOutcome, RunStore};

/// saintslab/PePR's `all_results.csv`: 131 timm models x 8 experiment groups, 1048 runs.
pub const ALL_RESULTS_CSV: &str = include_str!("../../assets/paper/all_results.csv");

/// saintslab/PePR's `model_names.csv`: the 131 models with parameter counts, type, efficient flag and
/// the paper introducing each architecture.
pub const MODEL_NAMES_CSV: &str = include_str!("../../assets/paper/model_names.csv");

/// The licence the two files are published under (MIT, © 2024 Selvan).
pub const LICENSE: &str = include_str!("../../assets/paper/LICENSE");

/// How many runs the published file holds (131 models x 8 groups).
pub const RUNS: usize = 1048;

/// The upstream commit the files were taken from.
pub const COMMIT: &str = "ce087aafcdce4a5b636152d170475a6df5f4c3d7";

/// What summaries and errors call the built-in copy.
pub const LABEL: &str = "the paper's results built into pepr (saintslab/PePR all_results.csv)";

/// The origin stored in each imported record.
fn origin() -> String {
    format!("built-in: saintslab/PePR@{} all_results.csv", &COMMIT[..7])
}

/// Parses the built-in results into records (without touching any store).
pub fn records() -> anyhow::Result<Vec<super::record::RunRecord>> {
    let (_, records) = read_text(ALL_RESULTS_CSV, Path::new(LABEL), &origin(), Utc::now())?;
    Ok(records)
}

/// Appends the paper's runs that the store does not hold yet, in one locked write.
pub fn import(store: &RunStore) -> anyhow::Result<ImportSummary> {
    let (layout, records) = read_text(ALL_RESULTS_CSV, Path::new(LABEL), &origin(), Utc::now())?;
    let AppendOutcome { added, already_present } = store.append_new(&records)?;
    Ok(ImportSummary { file: LABEL.into(), layout, rows: records.len(), added, already_present })
}

/// One row of `model_names.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperModel {
    pub name: String,
    /// Parameters with timm's 1000-class head.
    pub params: u64,
    /// `CNN` or `Other`, as the paper groups them.
    pub kind: String,
    pub efficient: bool,
    /// The paper that introduced the architecture.
    pub link: String,
}

/// The paper's 131 models.
pub fn models() -> anyhow::Result<Vec<PaperModel>> {
    let mut reader = csv::Reader::from_reader(MODEL_NAMES_CSV.as_bytes());
    let mut models = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row?;
        let field = |n: usize| row.get(n).unwrap_or("").trim().to_string();
        let line = i + 2;
        models.push(PaperModel {
            name: field(0),
            params: field(1).parse().map_err(|e| anyhow::anyhow!("model_names.csv:{line}: num_param: {e}"))?,
            kind: field(2),
            efficient: field(3) == "1",
            link: field(4),
        });
    }
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    fn md5_hex(text: &str) -> String {
        crate::files::hex(&Md5::digest(text.as_bytes()))
    }

    #[test]
    fn the_built_in_files_are_the_published_ones() {
        // The checksums recorded in assets/README.md: an edited copy fails here.
        assert_eq!(md5_hex(ALL_RESULTS_CSV), "6ed17e211d0e9a24ab8d85e1a0bab560");
        assert_eq!(md5_hex(MODEL_NAMES_CSV), "abbb3839fa03cd755975ae5d8659d69e");
        assert!(LICENSE.starts_with("MIT License") && LICENSE.contains("Copyright (c) 2024 Selvan."));
    }

    #[test]
    fn all_runs_parse_and_the_models_agree_with_them() {
        let records = records().unwrap();
        assert_eq!(records.len(), RUNS);
        let models = models().unwrap();
        assert_eq!(models.len(), 131);
        for model in &models {
            let runs: Vec<_> = records.iter().filter(|r| r.arch == model.name).collect();
            assert_eq!(runs.len(), 8, "{}: one run per group", model.name);
            assert!(runs.iter().all(|r| r.params == Some(model.params)), "{}", model.name);
        }
    }

    #[test]
    fn importing_twice_adds_nothing_the_second_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::new(dir.path().join("runs.jsonl"));
        let first = import(&store).unwrap();
        assert_eq!((first.rows, first.added, first.already_present), (RUNS, RUNS, 0));
        let second = import(&store).unwrap();
        assert_eq!((second.added, second.already_present), (0, RUNS));
        assert_eq!(store.load().unwrap().records.len(), RUNS);
    }
}
