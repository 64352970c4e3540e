//! Replacing a file whole: a reader, a crash or a full disk sees the old file or the new one, never
//! half of one. The bytes go to a uniquely named temporary file beside the target (`tempfile`),
//! which is synced and renamed over it, and the folder is synced so the rename survives a power
//! cut; on any failure the temporary file is removed. A kill -9 cannot remove it, so the writer
//! holds a lock on its temporary file (which dies with the process) and every write clears the
//! unlocked temporary files of its folder first.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

/// Every temporary file of [`write_with`] has this in its name (stores skip and clean such files).
pub const TEMP_MARK: &str = ".pepr-tmp-";

/// Random characters after [`TEMP_MARK`]: `.NAME.pepr-tmp-` and exactly this many letters or digits
/// is the whole pattern [`remove_stale_temps`] touches.
const TEMP_RANDOM: usize = 6;

/// An unlocked temporary file that is still empty may be a writer between creating and locking it;
/// it is a crash's leftover only once this old.
const EMPTY_GRACE: Duration = Duration::from_secs(60);

/// Writes `path` whole with what `write` writes, creating its folder when missing. The error names
/// `path`.
pub fn write_with(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()));
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(named)?;
    remove_stale_temps(dir);
    let name = path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let prefix = format!(".{name}{TEMP_MARK}");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).rand_bytes(TEMP_RANDOM);
    // 0o666 before the umask, as `File::create` gives, rather than tempfile's private 0o600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // Dropping `temp` before `persist` (any `?` below) deletes the temporary file.
    let mut temp = builder.tempfile_in(dir).map_err(named)?;
    // Held until the file is renamed and closed; a file system without locks only loses the clean-up.
    let _ = temp.as_file().lock();
    {
        let mut out = BufWriter::new(temp.as_file_mut());
        write(&mut out).map_err(named)?;
        out.flush().map_err(named)?;
    }
    temp.as_file().sync_all().map_err(named)?;
    temp.persist(path).map_err(|e| named(e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Removes from `dir` the temporary files of [`write_with`] that a killed writer left: those named
/// `.NAME.pepr-tmp-XXXXXX` that no process holds locked, once they have content or are a minute old
/// (a live writer locks its file right after creating it, before writing). Best effort: a file it
/// cannot lock, read or remove stays.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !is_temp_name(&name.to_string_lossy()) || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Ok(file) = File::open(entry.path()) else { continue };
        if file.try_lock().is_err() {
            continue; // a live writer's (or locks do not work here)
        }
        let Ok(meta) = file.metadata() else { continue };
        let old = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age >= EMPTY_GRACE);
        if meta.len() > 0 || old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `.NAME.pepr-tmp-` followed by exactly [`TEMP_RANDOM`] letters or digits.
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name.rsplit_once(TEMP_MARK).is_some_and(|(head, random)| {
            head.len() > 1 && random.len() == TEMP_RANDOM && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Writes `bytes` as the whole of `path` (see [`write_with`]).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |out| out.write_all(bytes))
}

/// Makes a rename in `dir` durable. Best effort: not every platform or file system can open a
/// folder, and the data itself is already synced.
pub fn sync_dir(dir: &Path) {
    if let Ok(folder) = File::open(dir) {
        let _ = folder.sync_all();
    }
}

/// `bytes` as lowercase hexadecimal (digests, ids).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_is_replaced_whole_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/a.json");
        write(&path, b"one").unwrap();
        write(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names(&dir.path().join("sub")), ["a.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_ne!(mode & 0o044, 0, "readable by others as File::create makes it (umask allowing): {mode:o}");
        }
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write(&path, b"old").unwrap();
        let err = write_with(&path, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("a.json") && err.to_string().contains("disk full"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["a.json"]);
    }

    /// What a kill -9 leaves is cleared by the next write into the folder, whatever its target; what a
    /// live writer holds, a young empty file (a writer about to lock it) and look-alikes stay.
    #[test]
    fn the_next_write_clears_what_a_killed_writer_left_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, bytes: &[u8]| {
            std::fs::write(dir.path().join(name), bytes).unwrap();
            File::options().write(true).open(dir.path().join(name)).unwrap()
        };
        put(".x.csv.pepr-tmp-a1B2c3", b"arch,P\nhalf");
        let old_empty = put(".runs.jsonl.pepr-tmp-zzzzzz", b"");
        old_empty.set_modified(std::time::SystemTime::now() - EMPTY_GRACE * 2).unwrap();
        put(".y.json.pepr-tmp-young1", b"");
        let live = put(".z.parquet.pepr-tmp-live99", b"being written");
        live.lock().unwrap();
        for name in [".notes.pepr-tmp-1234567", "x.csv.pepr-tmp-abcdef", ".x.csv.pepr-tmp-ab-def", ".pepr-tmp-abcdef"] {
            put(name, b"not pepr's");
        }
        write(&dir.path().join("other.json"), b"{}").unwrap();
        let mut want = vec![
            ".notes.pepr-tmp-1234567",
            ".pepr-tmp-abcdef",
            ".x.csv.pepr-tmp-ab-def",
            ".y.json.pepr-tmp-young1",
            ".z.parquet.pepr-tmp-live99",
            "other.json",
            "x.csv.pepr-tmp-abcdef",
        ];
        assert_eq!(names(dir.path()), want);
        // The writer is gone: its lock went with it.
        drop(live);
        write(&dir.path().join("other.json"), b"{}").unwrap();
        want.retain(|n| *n != ".z.parquet.pepr-tmp-live99");
        assert_eq!(names(dir.path()), want);
    }

    #[test]
    fn a_writer_holds_its_temporary_file_locked_until_it_is_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        write_with(&path, |out| {
            let temp = names(dir.path()).into_iter().find(|n| is_temp_name(n)).expect("a temporary file");
            let other = File::open(dir.path().join(&temp)).unwrap();
            assert!(other.try_lock().is_err(), "{temp} is not locked while written");
            remove_stale_temps(dir.path());
            assert!(dir.path().join(&temp).exists(), "a live writer's file was removed");
            out.write_all(b"whole")
        })
        .unwrap();
        assert_eq!(names(dir.path()), ["a.csv"]);
    }

    #[test]
    fn hex_is_lowercase_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
    }
}
