//! Records that arrive from elsewhere (Slurm array tasks): each one is its own file under the home's
//! `incoming/` folder, written under a temporary name and renamed, so no two writers ever touch the
//! same file and appends over NFS (not atomic) are never needed. [`merge`] moves them into the run
//! store; the run id decides, so merging twice, or two pepr processes merging at once, adds each run
//! exactly once.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::record::RunRecord;
use super::store::{RunStore, parse_store};

/// What one merge did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MergeReport {
    /// Records appended to the store.
    pub added: usize,
    /// Records the store already had (a merge interrupted before it removed its files, or a rerun).
    pub already_present: usize,
    /// Files that could not be merged, with why; they stay where they are.
    pub bad: Vec<(PathBuf, String)>,
}

impl std::fmt::Display for MergeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "merged {} new run(s), {} already stored", self.added, self.already_present)?;
        if !self.bad.is_empty() {
            write!(f, ", {} bad file(s) left in place", self.bad.len())?;
        }
        Ok(())
    }
}

/// The file a record with this id is written to.
pub fn incoming_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.json"))
}

/// Writes one record as `DIR/ID.json`: a temporary name first, synced, then renamed into place, so a
/// reader sees the whole record or nothing.
pub fn write_incoming(dir: &Path, record: &RunRecord) -> Result<PathBuf> {
    super::record::validate(record).map_err(|e| anyhow::anyhow!("run {}: {e}", record.id))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = incoming_file(dir, &record.id);
    let mut line = serde_json::to_vec(&record.to_json_value()?)?;
    line.push(b'\n');
    crate::files::write(&path, &line)?;
    Ok(path)
}

/// Good records with their files, and bad files with the reason.
pub type Incoming = (Vec<(PathBuf, RunRecord)>, Vec<(PathBuf, String)>);

/// Reads every finished record file in `dir` (temporary files, still being written, are skipped).
/// Good records come back with their files; a bad file is reported with the reason.
pub fn read_incoming(dir: &Path) -> Result<Incoming> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((good, bad)),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.') && name.ends_with(".json")
        })
        .collect();
    paths.sort();
    for path in paths {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            // Merged and removed by another pepr meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                bad.push((path, format!("cannot read: {e}")));
                continue;
            }
        };
        let mut parsed = parse_store(&path, &bytes);
        if let Some(warning) = parsed.warnings.first() {
            bad.push((path, warning.message.clone()));
        } else if parsed.records.len() != 1 {
            bad.push((path, format!("expected one run record, found {}", parsed.records.len())));
        } else {
            good.push((path, parsed.records.remove(0)));
        }
    }
    Ok((good, bad))
}

/// Moves the records in `dir` into `store`: appends the ids the store lacks, then removes the merged
/// files. A crash between the two leaves files whose runs are already stored; the next merge finds
/// them present and removes them. Bad files are reported and left in place.
pub fn merge(store: &RunStore, dir: &Path) -> Result<MergeReport> {
    let (good, bad) = read_incoming(dir)?;
    let mut report = MergeReport { bad, ..MergeReport::default() };
    if good.is_empty() {
        return Ok(report);
    }
    let records: Vec<RunRecord> = good.iter().map(|(_, r)| r.clone()).collect();
    let outcome = store.append_new(&records)?;
    report.added = outcome.added;
    report.already_present = outcome.already_present;
    for (path, _) in good {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => report.bad.push((path, format!("merged, but cannot remove it: {e}"))),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::record::sample;

    fn setup() -> (tempfile::TempDir, RunStore, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::new(dir.path().join("runs.jsonl"));
        let incoming = dir.path().join("incoming");
        (dir, store, incoming)
    }

    #[test]
    fn written_records_merge_once_and_their_files_go() {
        let (_dir, store, incoming) = setup();
        let a = sample("a", "g", 0.5, None);
        let b = sample("b", "g", 0.6, None);
        write_incoming(&incoming, &a).unwrap();
        write_incoming(&incoming, &b).unwrap();
        let report = merge(&store, &incoming).unwrap();
        assert_eq!((report.added, report.already_present, report.bad.len()), (2, 0, 0));
        assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0);
        let ids: Vec<_> = store.load().unwrap().records.into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["a", "b"]);
        // Nothing new: nothing added.
        assert_eq!(merge(&store, &incoming).unwrap(), MergeReport::default());
    }

    #[test]
    fn a_file_already_stored_is_removed_without_a_second_copy() {
        // As after a crash between the append and the removal.
        let (_dir, store, incoming) = setup();
        let a = sample("a", "g", 0.5, None);
        store.append_new(std::slice::from_ref(&a)).unwrap();
        let path = write_incoming(&incoming, &a).unwrap();
        let report = merge(&store, &incoming).unwrap();
        assert_eq!((report.added, report.already_present), (0, 1));
        assert!(!path.exists());
        assert_eq!(store.load().unwrap().records.len(), 1);
    }

    #[test]
    fn bad_files_are_named_and_left_while_good_ones_merge() {
        let (_dir, store, incoming) = setup();
        write_incoming(&incoming, &sample("a", "g", 0.5, None)).unwrap();
        let garbage = incoming.join("broken.json");
        std::fs::write(&garbage, "{not json").unwrap();
        let mut invalid = serde_json::to_value(sample("c", "g", 0.5, None)).unwrap();
        invalid["performance"] = serde_json::json!(3.0);
        let invalid_path = incoming.join("c.json");
        std::fs::write(&invalid_path, format!("{invalid}\n")).unwrap();
        // A temporary file still being written is not touched.
        let temp = incoming.join(".d.json.tmp-1");
        std::fs::write(&temp, "{").unwrap();

        let report = merge(&store, &incoming).unwrap();
        assert_eq!(report.added, 1);
        let bad: Vec<_> = report.bad.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(bad, [garbage.clone(), invalid_path.clone()]);
        assert!(report.bad[1].1.contains("performance"), "{:?}", report.bad);
        assert!(garbage.exists() && invalid_path.exists() && temp.exists());
        assert!(report.to_string().contains("2 bad file(s)"));
    }

    #[test]
    fn a_missing_folder_merges_nothing() {
        let (_dir, store, incoming) = setup();
        assert_eq!(merge(&store, &incoming).unwrap(), MergeReport::default());
        assert!(!store.path().exists());
    }
}
