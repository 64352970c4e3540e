//! Verified, resumable HTTP downloads (the MedMNIST files on Zenodo).
//!
//! A download goes to `dest` + `.part`, resumes an existing `.part` with an HTTP `Range` request,
//! and becomes `dest` (by an atomic rename) only once its MD5 matches.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::files::hex;

use md5::{Digest, Md5};

use super::medmnist::{self, MedMnistSet};
use super::{DataError, Result};

/// Where MedMNIST v3 keeps its files.
pub const ZENODO_BASE: &str = "https://zenodo.org/records/10519652/files";

/// The download address of a MedMNIST file: `{base}/{file name}?download=1`.
pub fn medmnist_url(base: &str, flag: &str, size: usize) -> Result<String> {
    Ok(format!("{}/{}?download=1", base.trim_end_matches('/'), medmnist::file_name(flag, size)?))
}

/// Downloads `set` at `size` into `data_dir/medmnist/` (from `base_url`, normally [`ZENODO_BASE`])
/// and returns the file's path. A file already there with the right MD5 is kept without a request.
pub fn download_medmnist(
    set: &MedMnistSet,
    size: usize,
    data_dir: &Path,
    base_url: &str,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<PathBuf> {
    let expected = set.md5_for(size)?;
    let dest = data_dir.join("medmnist").join(medmnist::file_name(set.flag, size)?);
    if dest.is_file() && file_md5(&dest)? == expected {
        return Ok(dest);
    }
    download_verified(&medmnist_url(base_url, set.flag, size)?, &dest, expected, progress)
}

/// The lowercase hex MD5 of a file.
pub fn file_md5(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| DataError::in_file(path, format!("cannot open: {e}")))?;
    let mut hasher = Md5::new();
    hash_reader(&mut file, &mut hasher).map_err(|e| DataError::in_file(path, format!("cannot read: {e}")))?;
    Ok(hex(&hasher.finalize()))
}

/// `dest` + `.part`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = OsString::from(dest.as_os_str());
    name.push(".part");
    PathBuf::from(name)
}

/// Downloads `url` to `dest`, verified by `expected_md5`; see the module documentation.
/// `progress` gets the bytes so far and the total when the server says it.
///
/// On an MD5 mismatch the `.part` is removed, an existing `dest` is left as it was, and the error
/// names `dest` and both checksums. A download that breaks off keeps its `.part` to resume.
pub fn download_verified(
    url: &str,
    dest: &Path,
    expected_md5: &str,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<PathBuf> {
    let expected = expected_md5.trim().to_ascii_lowercase();
    if expected.len() != 32 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DataError::in_file(dest, format!("`{expected_md5}` is not an MD5 checksum")));
    }
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| DataError::in_file(parent, format!("cannot create the folder: {e}")))?;
    }
    let part = part_path(dest);
    let agent = agent_for(url);
    // A second pass only after the server refused to resume (416) a .part that was not the file.
    let mut actual = None;
    for _pass in 0..2 {
        let offset = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        match fetch(&agent, url, &part, offset, progress)? {
            Fetched::Complete(hasher) => {
                actual = Some(hex(&hasher.finalize()));
                break;
            }
            Fetched::RangeNotSatisfiable => {
                // The .part may be the whole file already (a download stopped before its rename).
                let md5 = file_md5(&part)?;
                if md5 == expected {
                    actual = Some(md5);
                    break;
                }
                remove_part(&part)?;
            }
        }
    }
    // Without a Range header there is no 416, so the second pass always completes or fails.
    let actual = actual.ok_or_else(|| DataError::new(format!("{url}: the server refused to send the file")))?;
    if actual != expected {
        remove_part(&part)?;
        return Err(DataError::in_file(
            dest,
            format!(
                "MD5 mismatch: expected {expected}, got {actual} (downloaded from {url}; the download was deleted)"
            ),
        ));
    }
    fs::rename(&part, dest)
        .map_err(|e| DataError::in_file(dest, format!("cannot rename the finished download: {e}")))?;
    Ok(dest.to_path_buf())
}

enum Fetched {
    /// The .part holds the whole body; the hasher has seen all of it.
    Complete(Md5),
    /// The server answered 416 to a resume.
    RangeNotSatisfiable,
}

fn remove_part(part: &Path) -> Result<()> {
    match fs::remove_file(part) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DataError::in_file(part, format!("cannot remove: {e}"))),
    }
}

/// An agent with timeouts; loopback addresses never go through a proxy from the environment.
fn agent_for(url: &str) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)));
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    if host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]") {
        config = config.proxy(None);
    }
    config.build().new_agent()
}

/// One request: resumes from `offset` when it is not zero, appends to (or restarts) the .part.
fn fetch(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    offset: u64,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Fetched> {
    // Identity encoding: byte ranges must count the file's bytes, not compressed ones.
    let mut request = agent.get(url).header("Accept-Encoding", "identity");
    if offset > 0 {
        request = request.header("Range", format!("bytes={offset}-"));
    }
    let response = match request.call() {
        Ok(response) => response,
        Err(ureq::Error::StatusCode(416)) if offset > 0 => return Ok(Fetched::RangeNotSatisfiable),
        Err(ureq::Error::StatusCode(code)) => {
            return Err(DataError::new(format!("{url}: the server answered HTTP {code}")));
        }
        Err(e) => return Err(DataError::new(format!("{url}: cannot download: {e}"))),
    };
    let status = response.status().as_u16();
    let length = response.body().content_length();
    let content_range = response.headers().get("content-range").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (start, total) = match status {
        206 if offset > 0 => {
            let (start, total) = content_range.as_deref().and_then(parse_content_range).ok_or_else(|| {
                DataError::new(format!("{url}: a partial answer without a valid Content-Range ({content_range:?})"))
            })?;
            if start != offset {
                return Err(DataError::new(format!("{url}: asked to resume at byte {offset}, got byte {start}")));
            }
            (offset, total.or(length.map(|l| offset + l)))
        }
        200 => (0, length),
        _ => return Err(DataError::new(format!("{url}: unexpected HTTP status {status}"))),
    };
    let mut hasher = Md5::new();
    let mut file = if start > 0 {
        // Resume: hash what is already there, then append.
        let mut existing = File::open(part).map_err(|e| DataError::in_file(part, format!("cannot open: {e}")))?;
        hash_reader(&mut existing, &mut hasher).map_err(|e| DataError::in_file(part, format!("cannot read: {e}")))?;
        OpenOptions::new().append(true).open(part)
    } else {
        File::create(part)
    }
    .map_err(|e| DataError::in_file(part, format!("cannot write: {e}")))?;
    let write_error = |e: io::Error| DataError::in_file(part, format!("cannot write: {e}"));
    let mut reader = response.into_body().into_reader();
    let mut buffer = vec![0u8; 1 << 16];
    let mut so_far = start;
    progress(so_far, total);
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                file.flush().map_err(write_error)?;
                return Err(DataError::new(format!(
                    "{url}: the download broke off after {so_far} bytes ({e}); run it again to resume"
                )));
            }
        };
        file.write_all(&buffer[..n]).map_err(write_error)?;
        hasher.update(&buffer[..n]);
        so_far += n as u64;
        progress(so_far, total);
    }
    if let Some(total) = total
        && so_far != total
    {
        return Err(DataError::new(format!("{url}: got {so_far} of {total} bytes; run it again to resume")));
    }
    file.sync_all().map_err(write_error)?;
    Ok(Fetched::Complete(hasher))
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`) to (START, TOTAL).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let start = range.split_once('-')?.0.trim().parse().ok()?;
    let total = if total.trim() == "*" { None } else { Some(total.trim().parse().ok()?) };
    Some((start, total))
}

fn hash_reader(reader: &mut impl Read, hasher: &mut Md5) -> io::Result<()> {
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buffer)? {
            0 => return Ok(()),
            n => hasher.update(&buffer[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::SplitMix64;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::Instant;

    /// How the test server answers one request.
    #[derive(Clone, Copy, Debug)]
    enum Mode {
        /// The body, honouring `Range` (206, or 416 past the end).
        Serve,
        /// The whole body with 200, whatever the `Range`.
        IgnoreRange,
        /// Announces the whole body but closes after this many bytes.
        CutAfter(usize),
        /// This status and no body.
        Status(u16),
    }

    /// What the server saw and sent for one request.
    #[derive(Clone, Debug, PartialEq)]
    struct Seen {
        target: String,
        range: Option<u64>,
        status: u16,
        sent: usize,
    }

    /// A one-thread HTTP/1.1 server on 127.0.0.1 that answers request `i` with `modes[i]` (the last
    /// mode repeats). It stops by itself after 8 connections or 20 seconds, or when finished.
    struct Server {
        addr: SocketAddr,
        seen: Arc<Mutex<Vec<Seen>>>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl Server {
        fn start(body: Vec<u8>, modes: Vec<Mode>) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let addr = listener.local_addr().unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let stop = Arc::new(AtomicBool::new(false));
            let (seen2, stop2) = (seen.clone(), stop.clone());
            let thread = std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                let mut handled = 0;
                while handled < 8 && Instant::now() < deadline && !stop2.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let mode = modes[handled.min(modes.len() - 1)];
                            if let Some(s) = answer(stream, &body, mode) {
                                seen2.lock().unwrap().push(s);
                            }
                            handled += 1;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(2)),
                        Err(_) => break,
                    }
                }
            });
            Server { addr, seen, stop, thread: Some(thread) }
        }

        fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }

        /// Stops the server and returns what it saw.
        fn finish(mut self) -> Vec<Seen> {
            self.shut_down();
            self.seen.lock().unwrap().clone()
        }

        fn shut_down(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(thread) = self.thread.take() {
                thread.join().unwrap();
            }
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.shut_down();
        }
    }

    fn answer(mut stream: TcpStream, body: &[u8], mode: Mode) -> Option<Seen> {
        stream.set_nonblocking(false).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => request.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&request).into_owned();
        let target = text.lines().next()?.split(' ').nth(1)?.to_string();
        let range = text.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            if !name.trim().eq_ignore_ascii_case("range") {
                return None;
            }
            value.trim().strip_prefix("bytes=")?.strip_suffix('-')?.parse::<u64>().ok()
        });
        let len = body.len();
        let (status, headers, data): (u16, String, &[u8]) = match (mode, range) {
            (Mode::Status(code), _) => (code, String::new(), &[]),
            (Mode::Serve | Mode::CutAfter(_), Some(from)) if from as usize >= len => {
                (416, format!("Content-Range: bytes */{len}\r\n"), &[])
            }
            (Mode::Serve | Mode::CutAfter(_), Some(from)) => {
                let from = from as usize;
                (206, format!("Content-Range: bytes {from}-{}/{len}\r\n", len - 1), &body[from..])
            }
            _ => (200, String::new(), body),
        };
        let sent = match mode {
            Mode::CutAfter(k) if range.is_none() => k.min(data.len()),
            _ => data.len(),
        };
        let head =
            format!("HTTP/1.1 {status} Test\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n", data.len());
        stream.write_all(head.as_bytes()).ok()?;
        stream.write_all(&data[..sent]).ok()?;
        stream.flush().ok()?;
        Some(Seen { target, range, status, sent })
    }

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = SplitMix64::new(seed);
        (0..n).map(|_| rng.next_u64() as u8).collect()
    }

    fn md5_of(data: &[u8]) -> String {
        hex(&Md5::digest(data))
    }

    const LEN: usize = 300_000;

    #[test]
    fn md5_hex_is_right() {
        assert_eq!(md5_of(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        fs::write(&path, "abc").unwrap();
        assert_eq!(file_md5(&path).unwrap(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(part_path(Path::new("a/b.npz")), PathBuf::from("a/b.npz.part"));
        assert_eq!(parse_content_range("bytes 10-99/100"), Some((10, Some(100))));
        assert_eq!(parse_content_range("bytes 10-99/*"), Some((10, None)));
        assert_eq!(parse_content_range("bits 1-2/3"), None);
    }

    #[test]
    fn medmnist_urls() {
        assert_eq!(
            medmnist_url(ZENODO_BASE, "dermamnist", 64).unwrap(),
            "https://zenodo.org/records/10519652/files/dermamnist_64.npz?download=1"
        );
        assert_eq!(medmnist_url("http://x/", "pathmnist", 28).unwrap(), "http://x/pathmnist.npz?download=1");
        assert!(medmnist_url(ZENODO_BASE, "pathmnist", 100).is_err());
    }

    #[test]
    fn downloads_and_verifies() {
        let body = bytes(LEN, 1);
        let server = Server::start(body.clone(), vec![Mode::Serve]);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub").join("file.npz");
        let mut calls = Vec::new();
        let got = download_verified(&server.url("/file.npz"), &dest, &md5_of(&body).to_uppercase(), &mut |n, t| {
            calls.push((n, t))
        })
        .unwrap();
        assert_eq!(got, dest);
        assert_eq!(fs::read(&dest).unwrap(), body);
        assert!(!part_path(&dest).exists());
        assert_eq!(calls.first(), Some(&(0, Some(LEN as u64))));
        assert_eq!(calls.last(), Some(&(LEN as u64, Some(LEN as u64))));
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
        let seen = server.finish();
        assert_eq!(seen, vec![Seen { target: "/file.npz".into(), range: None, status: 200, sent: LEN }]);
    }

    #[test]
    fn resumes_a_partial_download() {
        let body = bytes(LEN, 2);
        let server = Server::start(body.clone(), vec![Mode::Serve]);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("file.npz");
        fs::write(part_path(&dest), &body[..100_000]).unwrap();
        let mut calls = Vec::new();
        download_verified(&server.url("/f"), &dest, &md5_of(&body), &mut |n, t| calls.push((n, t))).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), body);
        assert_eq!(calls.first(), Some(&(100_000, Some(LEN as u64))));
        let seen = server.finish();
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].range, seen[0].status, seen[0].sent), (Some(100_000), 206, LEN - 100_000));
    }

    #[test]
    fn resumes_after_a_broken_connection() {
        let body = bytes(LEN, 3);
        let server = Server::start(body.clone(), vec![Mode::CutAfter(50_000), Mode::Serve]);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("file.npz");
        let url = server.url("/f");
        let err = download_verified(&url, &dest, &md5_of(&body), &mut |_, _| {}).unwrap_err();
        assert!(err.message.starts_with(&url), "{}", err.message);
        assert_eq!(fs::metadata(part_path(&dest)).unwrap().len(), 50_000, "the .part is kept");
        assert!(!dest.exists());
        download_verified(&url, &dest, &md5_of(&body), &mut |_, _| {}).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), body);
        let seen = server.finish();
        assert_eq!(
            seen.iter().map(|s| (s.range, s.sent)).collect::<Vec<_>>(),
            [(None, 50_000), (Some(50_000), LEN - 50_000)]
        );
    }

    #[test]
    fn restarts_when_the_server_ignores_the_range() {
        let body = bytes(LEN, 4);
        let server = Server::start(body.clone(), vec![Mode::IgnoreRange]);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("file.npz");
        fs::write(part_path(&dest), vec![0xAA; 5000]).unwrap();
        download_verified(&server.url("/f"), &dest, &md5_of(&body), &mut |_, _| {}).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), body);
        let seen = server.finish();
        assert_eq!((seen[0].range, seen[0].status, seen[0].sent), (Some(5000), 200, LEN));
    }

    #[test]
    fn a_complete_part_is_verified_after_416() {
        let body = bytes(1000, 5);
        let server = Server::start(body.clone(), vec![Mode::Serve]);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("file.npz");
        fs::write(part_path(&dest), &body).unwrap();
        download_verified(&server.url("/f"), &dest, &md5_of(&body), &mut |_, _| {}).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), body);
        let seen = server.finish();
        assert_eq!((seen.len(), seen[0].status), (1, 416));
    }

    #[test]
    fn a_bad_checksum_keeps_the_old_file() {
        let good = bytes(2000, 6);
        let served = bytes(LEN, 7);
        let server = Server::start(served.clone(), vec![Mode::Serve]);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("file.npz");
        fs::write(&dest, &good).unwrap();
        let err = download_verified(&server.url("/f"), &dest, &md5_of(&good), &mut |_, _| {}).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(dest.as_path()));
        let expected = format!("MD5 mismatch: expected {}, got {}", md5_of(&good), md5_of(&served));
        assert!(err.message.starts_with(&expected), "{}", err.message);
        assert_eq!(fs::read(&dest).unwrap(), good, "the existing file is untouched");
        assert!(!part_path(&dest).exists(), "the bad download is removed");
        server.finish();
    }

    #[test]
    fn http_errors_name_the_url() {
        for code in [500, 404] {
            let server = Server::start(Vec::new(), vec![Mode::Status(code)]);
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("file.npz");
            let url = server.url("/missing.npz?download=1");
            let err = download_verified(&url, &dest, &md5_of(b""), &mut |_, _| {}).unwrap_err();
            assert_eq!(err.to_string(), format!("{url}: the server answered HTTP {code}"));
            assert!(!dest.exists() && !part_path(&dest).exists());
            assert_eq!(server.finish().len(), 1);
        }
        // Not an MD5: refused before any request.
        let err = download_verified("http://127.0.0.1:1/x", Path::new("x"), "nope", &mut |_, _| {}).unwrap_err();
        assert!(err.message.contains("is not an MD5 checksum"));
    }

    #[test]
    fn connection_refused_names_the_url() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/f.npz");
        let dir = tempfile::tempdir().unwrap();
        let err = download_verified(&url, &dir.path().join("f.npz"), &md5_of(b""), &mut |_, _| {}).unwrap_err();
        assert!(err.message.starts_with(&format!("{url}: cannot download: ")), "{}", err.message);
        assert!(err.message.contains("refused"), "{}", err.message);
    }

    #[test]
    fn downloads_medmnist_once() {
        let body = bytes(4000, 8);
        let md5: &'static str = Box::leak(md5_of(&body).into_boxed_str());
        let mut set = *medmnist::find("breastmnist").unwrap();
        set.md5 = [md5; 4];
        let server = Server::start(body.clone(), vec![Mode::Serve]);
        let dir = tempfile::tempdir().unwrap();
        let base = server.url("");
        let path = download_medmnist(&set, 64, dir.path(), &base, &mut |_, _| {}).unwrap();
        assert_eq!(path, dir.path().join("medmnist").join("breastmnist_64.npz"));
        assert_eq!(fs::read(&path).unwrap(), body);
        // Already there with the right MD5: no second request.
        assert_eq!(download_medmnist(&set, 64, dir.path(), &base, &mut |_, _| {}).unwrap(), path);
        let seen = server.finish();
        assert_eq!(seen.iter().map(|s| s.target.as_str()).collect::<Vec<_>>(), ["/breastmnist_64.npz?download=1"]);
        assert!(download_medmnist(&set, 30, dir.path(), &base, &mut |_, _| {}).is_err());
    }
}
