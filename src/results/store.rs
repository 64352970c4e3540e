//! The run store: one JSON record per line in `runs.jsonl`, only ever appended to.
//!
//! Crash safety comes from never rewriting the file: each batch of records is one `write` of whole
//! lines followed by `fsync`, under an exclusive advisory lock so two pepr processes appending at
//! once cannot interleave. A torn last line (a crash mid-write) or a corrupt line is skipped on load
//! with a warning naming the file and line; every other run still loads. If the file ends in a torn
//! line, the next append starts with a newline so the torn bytes stay on a line of their own.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::record::{RunRecord, SCHEMA_VERSION, validate};

/// A problem found while loading that did not stop the load.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadWarning {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: skipped: {}", self.file.display(), self.line, self.message)
    }
}

/// Everything that loaded, plus what was skipped and why.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub records: Vec<RunRecord>,
    pub warnings: Vec<LoadWarning>,
}

/// Handle on one `runs.jsonl` file.
#[derive(Clone, Debug)]
pub struct RunStore {
    path: PathBuf,
}

/// How many of the records offered to [`RunStore::append_new`] were written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    pub added: usize,
    pub already_present: usize,
}

impl RunStore {
    pub fn new(path: impl Into<PathBuf>) -> RunStore {
        RunStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads every readable record. A missing file is an empty store.
    pub fn load(&self) -> Result<Loaded> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read run store {}", self.path.display()));
            }
        };
        Ok(parse_store(&self.path, &bytes))
    }

    /// Appends the records whose ids are not yet in the store, atomically with respect to other
    /// pepr processes. Nothing is written if any record is invalid.
    pub fn append_new(&self, records: &[RunRecord]) -> Result<AppendOutcome> {
        for record in records {
            validate(record).map_err(|e| anyhow::anyhow!("run {}: {e}", record.id))?;
        }
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create directory {}", parent.display()))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&self.path)
            .with_context(|| format!("cannot open run store {}", self.path.display()))?;
        // Held until `file` drops: the read of existing ids and the write are one critical section.
        file.lock().with_context(|| format!("cannot lock run store {}", self.path.display()))?;

        let mut existing = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_end(&mut existing).with_context(|| format!("cannot read run store {}", self.path.display()))?;
        let mut seen: HashSet<String> = parse_store(&self.path, &existing).records.into_iter().map(|r| r.id).collect();

        let mut buffer = Vec::new();
        if existing.last().is_some_and(|&b| b != b'\n') {
            buffer.push(b'\n');
        }
        let mut outcome = AppendOutcome { added: 0, already_present: 0 };
        for record in records {
            if !seen.insert(record.id.clone()) {
                outcome.already_present += 1;
                continue;
            }
            serde_json::to_writer(&mut buffer, record)?;
            buffer.push(b'\n');
            outcome.added += 1;
        }
        if outcome.added > 0 {
            file.write_all(&buffer).with_context(|| format!("cannot append to run store {}", self.path.display()))?;
            file.sync_data().with_context(|| format!("cannot sync run store {}", self.path.display()))?;
        }
        Ok(outcome)
    }
}

/// Parses store bytes line by line; bad lines become warnings.
pub(crate) fn parse_store(path: &Path, bytes: &[u8]) -> Loaded {
    let mut loaded = Loaded::default();
    let mut ids = HashSet::new();
    let ends_cleanly = bytes.last().is_none_or(|&b| b == b'\n');
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let last_index = lines.len().saturating_sub(1);
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let warn = |message: String| LoadWarning { file: path.to_path_buf(), line: number, message };
        let torn = index == last_index && !ends_cleanly;
        let value: serde_json::Value = match serde_json::from_slice(line) {
            Ok(value) => value,
            Err(e) if torn => {
                loaded.warnings.push(warn(format!("incomplete last line (interrupted write?): {e}")));
                continue;
            }
            Err(e) => {
                loaded.warnings.push(warn(format!("not valid JSON: {e}")));
                continue;
            }
        };
        let schema = value.get("schema").and_then(|s| s.as_u64()).unwrap_or(0);
        if schema > u64::from(SCHEMA_VERSION) {
            loaded.warnings.push(warn(format!(
                "written by a newer pepr (schema {schema}; this build reads up to {SCHEMA_VERSION})"
            )));
            continue;
        }
        let record: RunRecord = match serde_json::from_value(value) {
            Ok(record) => record,
            Err(e) => {
                loaded.warnings.push(warn(format!("not a run record: {e}")));
                continue;
            }
        };
        if let Err(e) = validate(&record) {
            loaded.warnings.push(warn(format!("invalid run {}: {e}", record.id)));
            continue;
        }
        if !ids.insert(record.id.clone()) {
            loaded.warnings.push(warn(format!("duplicate run id {} (the first one is kept)", record.id)));
            continue;
        }
        loaded.records.push(record);
    }
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::record::sample;
    use std::fs::File;

    fn file_len(path: &Path) -> u64 {
        File::open(path).and_then(|f| f.metadata()).map(|m| m.len()).unwrap_or(0)
    }

    fn store() -> (tempfile::TempDir, RunStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::new(dir.path().join("runs.jsonl"));
        (dir, store)
    }

    #[test]
    fn missing_file_is_an_empty_store() {
        let (_dir, store) = store();
        let loaded = store.load().unwrap();
        assert!(loaded.records.is_empty() && loaded.warnings.is_empty());
    }

    #[test]
    fn appends_and_loads_in_order_and_skips_known_ids() {
        let (_dir, store) = store();
        let a = sample("a", "g", 0.5, Some(1.0));
        let b = sample("b", "g", 0.6, Some(2.0));
        assert_eq!(store.append_new(&[a.clone()]).unwrap().added, 1);
        let outcome = store.append_new(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(outcome, AppendOutcome { added: 1, already_present: 1 });
        assert_eq!(store.load().unwrap().records, vec![a, b]);
    }

    #[test]
    fn torn_last_line_is_skipped_with_a_warning_and_next_append_is_clean() {
        let (_dir, store) = store();
        store.append_new(&[sample("a", "g", 0.5, Some(1.0))]).unwrap();
        let line = serde_json::to_string(&sample("b", "g", 0.5, Some(1.0))).unwrap();
        let mut file = OpenOptions::new().append(true).open(store.path()).unwrap();
        file.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
        drop(file);

        let loaded = store.load().unwrap();
        assert_eq!(loaded.records.len(), 1);
        assert_eq!(loaded.warnings.len(), 1);
        assert_eq!(loaded.warnings[0].line, 2);
        assert!(loaded.warnings[0].to_string().contains("runs.jsonl:2: skipped: incomplete last line"));

        store.append_new(&[sample("c", "g", 0.7, Some(1.0))]).unwrap();
        let loaded = store.load().unwrap();
        let ids: Vec<_> = loaded.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].message.contains("not valid JSON"));
    }

    #[test]
    fn corrupt_middle_line_and_newer_schema_are_skipped() {
        let (_dir, store) = store();
        let good = serde_json::to_string(&sample("a", "g", 0.5, Some(1.0))).unwrap();
        let mut newer = sample("n", "g", 0.5, Some(1.0));
        newer.schema = SCHEMA_VERSION + 1;
        let newer = serde_json::to_string(&newer).unwrap();
        let good2 = serde_json::to_string(&sample("b", "g", 0.5, Some(1.0))).unwrap();
        std::fs::write(store.path(), format!("{good}\n{{garbage\n{newer}\n{{\"schema\":1}}\n{good2}\n")).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.records.len(), 2);
        let lines: Vec<_> = loaded.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert!(loaded.warnings[1].message.contains("newer pepr"));
        assert!(loaded.warnings[2].message.contains("not a run record"));
    }

    #[test]
    fn invalid_record_is_refused_and_nothing_written() {
        let (_dir, store) = store();
        let good = sample("a", "g", 0.5, Some(1.0));
        let bad = sample("b", "g", 2.0, Some(1.0));
        assert!(store.append_new(&[good, bad]).is_err());
        assert_eq!(file_len(store.path()), 0);
    }

    #[test]
    fn concurrent_appenders_lose_nothing() {
        let (_dir, store) = store();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let r = sample(&format!("t{t}-{i}"), "g", 0.5, Some(1.0));
                        store.append_new(&[r]).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let loaded = store.load().unwrap();
        assert_eq!(loaded.records.len(), 200);
        assert!(loaded.warnings.is_empty());
    }
}
