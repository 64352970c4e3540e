//! The run store: one JSON record per line in `runs.jsonl`, only ever added to, plus tombstones.
//!
//! Durability (see docs, DURABILITY):
//! - Every writer holds an exclusive advisory lock on `runs.jsonl.lock` (a file never replaced), so
//!   two pepr processes writing at once cannot interleave or lose each other's runs.
//! - One record (a finished training run) is appended in place with one `write` and `fsync`; if the
//!   write fails (a full disk) the file is cut back to its old length. A crash mid-write can leave a
//!   torn last line: it is skipped on load with a warning naming the file and line, and the next
//!   append starts with a newline so the torn bytes stay on a line of their own.
//! - Several records at once (an import, a merge) are all or nothing: the whole store is written to
//!   a temporary file beside it, synced, and renamed over `runs.jsonl` (then the folder is synced).
//!   A crash at any byte leaves the old store or the new one; a temporary file left by a crash is
//!   removed by the next writer.
//! - Removing a run (`pepr runs delete/hide`) appends a tombstone to `runs.tombstones.jsonl`; the
//!   run's line stays until `pepr runs compact` rewrites the store (atomically, as above), so every
//!   removal can be undone until then.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

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
        // The message can quote the file (a run id): escaped, like every printed field.
        write!(f, "{}:{}: skipped: {}", self.file.display(), self.line, crate::text::clean(&self.message))
    }
}

/// How many load warnings are printed one by one before the rest are counted.
pub const WARNINGS_SHOWN: usize = 5;

impl Loaded {
    /// The warnings as lines for stderr: the first few, then how many more (a store with 100k bad
    /// lines must not print 100k lines on every command).
    pub fn warning_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> =
            self.warnings.iter().take(WARNINGS_SHOWN).map(|w| format!("warning: {w}")).collect();
        if self.warnings.len() > WARNINGS_SHOWN {
            lines.push(format!(
                "warning: and {} more unreadable lines skipped (`pepr runs compact` drops them from the store)",
                self.warnings.len() - WARNINGS_SHOWN
            ));
        }
        lines
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

/// What a tombstone does to a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Removal {
    /// Left out everywhere; dropped from the file by `pepr runs compact`.
    Delete,
    /// Left out everywhere; kept by `pepr runs compact`.
    Hide,
    /// Undoes an earlier delete or hide.
    Restore,
}

impl Removal {
    pub fn verb(self) -> &'static str {
        match self {
            Removal::Delete => "deleted",
            Removal::Hide => "hidden",
            Removal::Restore => "restored",
        }
    }
}

/// One line of `runs.tombstones.jsonl`: the latest line for a run wins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tombstone {
    pub id: String,
    pub action: Removal,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// What `pepr runs compact` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactOutcome {
    pub kept_lines: usize,
    pub dropped_deleted: usize,
    pub dropped_unreadable: usize,
}

/// Writes bytes to a file; tests swap in one that fails like a full disk.
pub type WriteFn<'a> = &'a mut dyn FnMut(&mut dyn Write, &[u8]) -> std::io::Result<()>;

fn write_all(file: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)
}

// Temporary files of an atomic rewrite (crate::files) carry this after a dot and the store's file name.
use crate::files::TEMP_MARK;

impl RunStore {
    pub fn new(path: impl Into<PathBuf>) -> RunStore {
        RunStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tombstones file beside the store: `runs.jsonl` -> `runs.tombstones.jsonl`.
    pub fn tombstones_path(&self) -> PathBuf {
        self.path.with_extension("tombstones.jsonl")
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    /// Takes the writers' lock (held until the returned file drops), creating the folder if needed,
    /// and removes what a crashed rewrite left behind.
    fn lock(&self) -> Result<File> {
        if let Some(parent) = self.path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create directory {}", parent.display()))?;
        }
        let lock_path = self.lock_path();
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open lock file {}", lock_path.display()))?;
        lock.lock().with_context(|| format!("cannot lock run store {}", lock_path.display()))?;
        self.remove_stale_temps();
        Ok(lock)
    }

    /// Under the lock no other rewrite is under way: any temporary file is a crash's leftover.
    fn remove_stale_temps(&self) {
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let prefixes = [temp_prefix(&self.path), temp_prefix(&self.tombstones_path())];
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }

    fn read_bytes(&self) -> Result<Vec<u8>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("cannot read run store {}", self.path.display())),
        }
    }

    /// Loads every readable record that is not deleted or hidden. A missing file is an empty store.
    pub fn load(&self) -> Result<Loaded> {
        let mut loaded = self.load_all()?;
        let removed = self.removed()?;
        loaded.records.retain(|r| !removed.contains_key(&r.id));
        Ok(loaded)
    }

    /// Loads every readable record, deleted and hidden ones included.
    pub fn load_all(&self) -> Result<Loaded> {
        let bytes = self.read_bytes()?;
        Ok(parse_store(&self.path, &bytes))
    }

    /// The runs deleted or hidden now (the latest tombstone of each id), read from the tombstones file.
    pub fn removed(&self) -> Result<HashMap<String, Removal>> {
        let path = self.tombstones_path();
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut state = HashMap::new();
        // A torn or foreign line is skipped: at worst a removal is not applied, which loses nothing.
        for line in text.split(|&b| b == b'\n') {
            if let Ok(tombstone) = serde_json::from_slice::<Tombstone>(line) {
                match tombstone.action {
                    Removal::Restore => state.remove(&tombstone.id),
                    action => state.insert(tombstone.id, action),
                };
            }
        }
        Ok(state)
    }

    /// Deletes, hides or restores runs by id. Every id must be in the store (nothing is written
    /// otherwise); returns how many changed state.
    pub fn mark(&self, ids: &[String], action: Removal) -> Result<usize> {
        let _lock = self.lock()?;
        let known: HashSet<String> = self.load_all()?.records.into_iter().map(|r| r.id).collect();
        let unknown: Vec<&str> = ids.iter().filter(|id| !known.contains(*id)).map(String::as_str).collect();
        if !unknown.is_empty() {
            bail!("no run with id {} in {} (see `pepr runs list`)", unknown.join(", "), self.path.display());
        }
        let removed = self.removed()?;
        let at = chrono::Utc::now();
        let mut buffer = Vec::new();
        let mut changed = 0;
        for id in ids {
            let current = removed.get(id).copied().unwrap_or(Removal::Restore);
            if current == action {
                continue;
            }
            serde_json::to_writer(&mut buffer, &Tombstone { id: id.clone(), action, at })?;
            buffer.push(b'\n');
            changed += 1;
        }
        if changed > 0 {
            append_in_place(&self.tombstones_path(), &buffer, &mut write_all)?;
        }
        Ok(changed)
    }

    /// Rewrites the store without the deleted runs and without lines that cannot be read, atomically
    /// (on request only: until then every deletion can be undone).
    pub fn compact(&self) -> Result<CompactOutcome> {
        let _lock = self.lock()?;
        let bytes = self.read_bytes()?;
        let removed = self.removed()?;
        let loaded = parse_store(&self.path, &bytes);
        let keep: HashSet<&str> = loaded
            .records
            .iter()
            .filter(|r| removed.get(&r.id) != Some(&Removal::Delete))
            .map(|r| r.id.as_str())
            .collect();
        let mut out = Vec::with_capacity(bytes.len());
        let mut outcome =
            CompactOutcome { kept_lines: 0, dropped_deleted: 0, dropped_unreadable: loaded.warnings.len() };
        for record in &loaded.records {
            if keep.contains(record.id.as_str()) {
                serde_json::to_writer(&mut out, &record.to_json_value()?)?;
                out.push(b'\n');
                outcome.kept_lines += 1;
            } else {
                outcome.dropped_deleted += 1;
            }
        }
        replace_atomically(&self.path, &out, &mut write_all)?;
        // Tombstones of runs now gone are dropped too; the hidden ones stay.
        let mut stones = Vec::new();
        for (id, action) in &removed {
            if keep.contains(id.as_str()) {
                serde_json::to_writer(
                    &mut stones,
                    &Tombstone { id: id.clone(), action: *action, at: chrono::Utc::now() },
                )?;
                stones.push(b'\n');
            }
        }
        replace_atomically(&self.tombstones_path(), &stones, &mut write_all)?;
        Ok(outcome)
    }

    /// Appends the records whose ids are not yet in the store, atomically with respect to other
    /// pepr processes and to crashes: all of them or none. Nothing is written if any is invalid.
    pub fn append_new(&self, records: &[RunRecord]) -> Result<AppendOutcome> {
        self.append_new_with(records, &mut write_all)
    }

    /// [`append_new`](Self::append_new) writing through `write` (tests inject a full disk).
    pub fn append_new_with(&self, records: &[RunRecord], write: WriteFn) -> Result<AppendOutcome> {
        for record in records {
            validate(record).map_err(|e| anyhow::anyhow!("run {}: {e}", record.id))?;
        }
        let _lock = self.lock()?;
        let existing = self.read_bytes()?;
        let mut seen: HashSet<String> = parse_store(&self.path, &existing).records.into_iter().map(|r| r.id).collect();

        let mut buffer = Vec::new();
        let torn = existing.last().is_some_and(|&b| b != b'\n');
        if torn {
            buffer.push(b'\n');
        }
        let mut outcome = AppendOutcome { added: 0, already_present: 0 };
        for record in records {
            if !seen.insert(record.id.clone()) {
                outcome.already_present += 1;
                continue;
            }
            serde_json::to_writer(&mut buffer, &record.to_json_value()?)?;
            buffer.push(b'\n');
            outcome.added += 1;
        }
        match outcome.added {
            0 => {}
            // One line: a torn write of it loses only it (skipped on load), so append in place.
            1 => append_in_place(&self.path, &buffer, write)?,
            // Many: the old store and the new lines go to a file aside, renamed in whole.
            _ => {
                let mut whole = existing;
                whole.extend_from_slice(&buffer);
                replace_atomically(&self.path, &whole, write)?;
            }
        }
        Ok(outcome)
    }
}

/// `.runs.jsonl.pepr-tmp-`: the start of the name of `path`'s temporary files.
fn temp_prefix(path: &Path) -> String {
    format!(".{}{TEMP_MARK}", path.file_name().unwrap_or_default().to_string_lossy())
}

/// Appends `bytes` to `path` with one write and a sync; a failed write is cut back off, so a full
/// disk leaves the file as it was.
fn append_in_place(path: &Path, bytes: &[u8], write: WriteFn) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let before = file.metadata().map(|m| m.len()).ok();
    let written = write(&mut file, bytes).and_then(|()| file.sync_data());
    if let Err(e) = written {
        if let Some(len) = before {
            let _ = file.set_len(len);
            let _ = file.sync_data();
        }
        return Err(e).with_context(|| format!("cannot append to {} (nothing was added)", path.display()));
    }
    Ok(())
}

/// Replaces `path` by `bytes`: written to a temporary file beside it, synced, renamed over it, and
/// the folder synced, so a crash leaves the old file or the new one, never a mix.
fn replace_atomically(path: &Path, bytes: &[u8], write: WriteFn) -> Result<()> {
    crate::files::write_with(path, |out| write(out, bytes)).with_context(|| format!("{} is unchanged", path.display()))
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
        assert_eq!(store.append_new(std::slice::from_ref(&a)).unwrap().added, 1);
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

    /// A disk that takes `room` bytes and then reports itself full (after writing them).
    fn full_disk(room: usize) -> impl FnMut(&mut dyn Write, &[u8]) -> std::io::Result<()> {
        move |file, bytes| {
            let n = bytes.len().min(room);
            file.write_all(&bytes[..n])?;
            if n < bytes.len() {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            Ok(())
        }
    }

    fn leftovers(store: &RunStore) -> Vec<String> {
        std::fs::read_dir(store.path().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("pepr-tmp"))
            .collect()
    }

    #[test]
    fn an_import_into_a_full_disk_stores_nothing_and_leaves_nothing() {
        let (_dir, store) = store();
        store.append_new(&[sample("a", "g", 0.5, Some(1.0))]).unwrap();
        let before = std::fs::read(store.path()).unwrap();
        let batch: Vec<_> = (0..100).map(|i| sample(&format!("r{i}"), "g", 0.5, Some(1.0))).collect();
        for room in [0, 1, before.len() + 10, before.len() + 5000] {
            let error = store.append_new_with(&batch, &mut full_disk(room)).unwrap_err();
            assert!(format!("{error:#}").contains("unchanged"), "{error:#}");
            assert_eq!(std::fs::read(store.path()).unwrap(), before, "room {room}");
            assert!(leftovers(&store).is_empty());
        }
        // One record: appended in place, and cut back off when the disk is full.
        let error = store.append_new_with(&[sample("b", "g", 0.5, None)], &mut full_disk(30)).unwrap_err();
        assert!(format!("{error:#}").contains("nothing was added"), "{error:#}");
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
        assert_eq!(store.append_new(&batch).unwrap().added, 100);
        let loaded = store.load().unwrap();
        assert_eq!((loaded.records.len(), loaded.warnings.len()), (101, 0));
    }

    #[test]
    fn a_crashed_rewrite_leaves_the_old_store_and_its_temporary_file_is_cleared() {
        let (dir, store) = store();
        store.append_new(&[sample("a", "g", 0.5, Some(1.0))]).unwrap();
        // What a kill -9 half-way through an import leaves: a temporary file, the store as it was.
        std::fs::write(dir.path().join(".runs.jsonl.pepr-tmp-99999"), b"{\"schema\":1,\"id\":\"half").unwrap();
        assert_eq!(store.load().unwrap().records.len(), 1);
        store.append_new(&[sample("b", "g", 0.5, Some(1.0)), sample("c", "g", 0.5, Some(1.0))]).unwrap();
        assert!(leftovers(&store).is_empty());
        assert_eq!(store.load().unwrap().records.len(), 3);
    }

    #[test]
    fn deleted_and_hidden_runs_are_left_out_until_restored_and_compact_drops_only_deleted() {
        let (_dir, store) = store();
        let runs: Vec<_> = ["a", "b", "c"].iter().map(|id| sample(id, "g", 0.5, Some(1.0))).collect();
        store.append_new(&runs).unwrap();
        assert_eq!(store.mark(&["a".into()], Removal::Delete).unwrap(), 1);
        assert_eq!(store.mark(&["b".into()], Removal::Hide).unwrap(), 1);
        assert_eq!(store.mark(&["a".into()], Removal::Delete).unwrap(), 0, "already deleted");
        let ids = |store: &RunStore| store.load().unwrap().records.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(&store), ["c"]);
        assert_eq!(store.load_all().unwrap().records.len(), 3);
        let error = store.mark(&["a".into(), "zz".into()], Removal::Restore).unwrap_err().to_string();
        assert!(error.contains("no run with id zz"), "{error}");
        assert_eq!(ids(&store), ["c"], "nothing changed by a refused request");
        store.mark(&["b".into()], Removal::Restore).unwrap();
        assert_eq!(ids(&store), ["b", "c"]);
        store.mark(&["b".into()], Removal::Hide).unwrap();

        let outcome = store.compact().unwrap();
        assert_eq!(outcome, CompactOutcome { kept_lines: 2, dropped_deleted: 1, dropped_unreadable: 0 });
        assert_eq!(store.load_all().unwrap().records.len(), 2);
        assert_eq!(ids(&store), ["c"], "b stays hidden after compacting");
        // The deleted run is gone for good: its id is free again.
        assert_eq!(store.append_new(&[sample("a", "g", 0.5, None)]).unwrap().added, 1);
        assert_eq!(ids(&store), ["c", "a"]);
        assert!(leftovers(&store).is_empty());
    }

    #[test]
    fn many_bad_lines_are_summarised() {
        let (_dir, store) = store();
        std::fs::write(store.path(), "garbage\n".repeat(1000)).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.warnings.len(), 1000);
        let lines = loaded.warning_lines();
        assert_eq!(lines.len(), WARNINGS_SHOWN + 1);
        assert!(lines[WARNINGS_SHOWN].contains("and 995 more unreadable lines"), "{lines:?}");
    }
}
