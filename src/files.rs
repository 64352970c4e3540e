//! Replacing a file whole: a reader, a crash or a full disk sees the old file or the new one, never
//! half of one. The bytes go to a uniquely named temporary file beside the target (`tempfile`),
//! which is synced and renamed over it, and the folder is synced so the rename survives a power
//! cut; on any failure the temporary file is removed.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Every temporary file of [`write_with`] has this in its name (stores skip and clean such files).
pub const TEMP_MARK: &str = ".pepr-tmp-";

/// Writes `path` whole with what `write` writes, creating its folder when missing. The error names
/// `path`.
pub fn write_with(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()));
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(named)?;
    let name = path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let prefix = format!(".{name}{TEMP_MARK}");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    // 0o666 before the umask, as `File::create` gives, rather than tempfile's private 0o600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // Dropping `temp` before `persist` (any `?` below) deletes the temporary file.
    let mut temp = builder.tempfile_in(dir).map_err(named)?;
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

    #[test]
    fn hex_is_lowercase_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
    }
}
