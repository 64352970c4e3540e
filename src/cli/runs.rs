//! `pepr import`, `pepr export` and `pepr merge`: runs into and out of the run store.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::args::SetByArg;
use super::rank::load_and_rank;
use crate::home::Home;
use crate::results::import::{ImportSummary, import_file};
use crate::results::rank::EnergyBasis;
use crate::results::store::RunStore;

/// A file this large gets a progress bar (or plain progress lines) while it is read.
const LARGE_IMPORT_BYTES: u64 = 4_000_000;

/// `pepr import [--paper] FILE...`: each file is all or nothing; a bad one does not stop the others,
/// and is named.
pub(super) fn import(home: &Home, store: &RunStore, files: &[PathBuf], paper: bool) -> Result<()> {
    home.ensure()?;
    if paper {
        println!("{}", crate::results::paper::import(store)?);
    }
    let mut failed = Vec::new();
    for file in files {
        match import_with_progress(store, file) {
            Ok(summary) => println!("{summary}"),
            Err(e) => {
                eprintln!("error: {e:#} (nothing from this file was stored)");
                failed.push(file.display().to_string());
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{} of {} files not imported: {}", failed.len(), files.len(), failed.join(", "));
    }
    Ok(())
}

/// [`import_file`] with a progress bar for a large file.
fn import_with_progress(store: &RunStore, file: &Path) -> Result<ImportSummary> {
    use crate::progress::{Progress, Unit, WhenPlain};
    let large = std::fs::metadata(file).is_ok_and(|m| m.len() >= LARGE_IMPORT_BYTES);
    if !large {
        return import_file(store, file);
    }
    let mut bar = Progress::new(format!("reading {}", file.display()), None, Unit::Bytes, WhenPlain::Lines);
    let summary = crate::results::import::import_file_reporting(store, file, &mut |read, size| {
        bar.set_total(size);
        bar.update(read, "");
    });
    bar.finish();
    summary
}

/// `pepr export FILE`: every run with its scores, in the format the extension names.
pub(super) fn export(store: &RunStore, file: &Path, set_by: SetByArg) -> Result<()> {
    let (records, ranking) = load_and_rank(store, set_by.into(), EnergyBasis::Gross)?;
    let rows = crate::results::export::export(&records, &ranking, file)?;
    println!("{}: {rows} runs written", file.display());
    Ok(())
}

/// `pepr merge`: finished runs from incoming/ into the store.
pub(super) fn merge(home: &Home, store: &RunStore) -> Result<()> {
    let report = crate::results::incoming::merge(store, &home.incoming_dir())?;
    for (path, why) in &report.bad {
        eprintln!("warning: {}: not merged: {why}", path.display());
    }
    println!("{report}");
    Ok(())
}
