//! Signals reach the TUI as they do in real life: the real binary on a pseudo-terminal, keys typed
//! into it, and `kill` from outside. SIGHUP (a dropped SSH connection) and SIGTERM must stop a run
//! and store it as interrupted, restore the terminal, and exit with the shell's 128 + signal.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::pty::{Winsize, openpty};
use nix::sys::signal::{Signal, kill};
use nix::sys::termios::{LocalFlags, tcgetattr};
use nix::unistd::Pid;

/// The TUI running on a pseudo-terminal, with everything it drew collected.
struct Tui {
    child: Child,
    master: std::fs::File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Tui {
    fn start(home: &Path) -> Tui {
        let size = Winsize { ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = openpty(Some(&size), None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        let mut command = Command::new(env!("CARGO_BIN_EXE_pepr"));
        command
            .arg("--home")
            .arg(home)
            .env("TERM", "xterm-256color")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // Its own session with the pty as controlling terminal, as a login shell would give it.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start pepr");
        let master = std::fs::File::from(pty.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // EIO once the last process on the pty side has gone.
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        Tui { child, master, output }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the drawn output contains `needle` (new text drawn after `from` bytes).
    fn wait_for(&self, needle: &str, from: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let bytes = self.output.lock().unwrap().clone();
            if String::from_utf8_lossy(&bytes[from.min(bytes.len())..]).contains(needle) {
                return;
            }
            assert!(Instant::now() < deadline, "{needle:?} never drawn; output:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn len(&self) -> usize {
        self.output.lock().unwrap().len()
    }

    fn type_keys(&mut self, keys: &str) {
        for byte in keys.bytes() {
            self.master.write_all(&[byte]).unwrap();
            self.master.flush().unwrap();
            // One key at a time, as typed: an escape followed at once by a letter reads as Alt+letter.
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn raw_mode(&self) -> bool {
        let termios = tcgetattr(&self.master).expect("tcgetattr on the pty");
        !termios.local_flags.contains(LocalFlags::ICANON) || !termios.local_flags.contains(LocalFlags::ECHO)
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// The exit code, waiting at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("pepr did not exit within {limit:?}; output:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn sigterm_on_an_idle_tui_restores_the_terminal_and_exits_143() {
    let home = tempfile::tempdir().unwrap();
    let tui = &mut Tui::start(home.path());
    tui.wait_for("No runs", 0);
    assert!(tui.raw_mode(), "the TUI puts the terminal in raw mode");
    tui.signal(Signal::SIGTERM);
    let status = tui.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(!tui.raw_mode(), "the terminal is left raw");
    assert!(tui.text().contains("\x1b[?1049l"), "the alternate screen is left");
    assert!(!home.path().join("runs.jsonl").exists(), "nothing to store");
}

#[test]
fn sighup_while_a_run_trains_stores_it_interrupted_with_a_checkpoint_and_exits_129() {
    let home = tempfile::tempdir().unwrap();
    let tui = &mut Tui::start(home.path());
    tui.wait_for("No runs", 0);
    // Architectures: pick pepr_lenet5.
    let mark = tui.len();
    tui.type_keys("2");
    tui.wait_for("pepr_", mark);
    tui.type_keys("/pepr_lenet5\r ");
    tui.type_keys("\x1b");
    // Datasets: the synthetic set comes first.
    let mark = tui.len();
    tui.type_keys("3");
    tui.wait_for("synthetic", mark);
    tui.type_keys(" ");
    // Train: many epochs, so the run is still going when the signal comes.
    let mark = tui.len();
    tui.type_keys("4");
    tui.wait_for("queue", mark);
    // `4` only moves; `a` queues the selected pair.
    tui.type_keys("a");
    tui.type_keys(&"+".repeat(40));
    let mark = tui.len();
    tui.type_keys("s");
    tui.wait_for("step", mark);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(tui.child.try_wait().unwrap().is_none(), "pepr ended early:\n{}", tui.text());
    tui.signal(Signal::SIGHUP);
    let status = tui.wait_exit(Duration::from_secs(120));
    assert_eq!(status.code(), Some(129), "{status:?}; output:\n{}", tui.text());
    assert!(!tui.raw_mode(), "the terminal is left raw");

    let store = std::fs::read_to_string(home.path().join("runs.jsonl")).expect("the run is stored");
    let records: Vec<serde_json::Value> = store.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 1, "{store}");
    let record = &records[0];
    assert_eq!(record["status"], "interrupted", "{record}");
    assert_eq!(record["arch"], "pepr_lenet5");
    let id = record["id"].as_str().unwrap();
    let checkpoint = home.path().join("checkpoints").join(id);
    assert!(checkpoint.join("model.bpk").is_file(), "checkpoint written in {}", checkpoint.display());
    assert!(checkpoint.join("meta.json").is_file());
}
