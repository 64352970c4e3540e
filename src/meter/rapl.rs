//! CPU package and DRAM energy from Linux's powercap interface (`/sys/class/powercap/intel-rapl:*`;
//! AMD Zen CPUs appear under the same names). Each domain has a cumulative `energy_uj` counter that
//! wraps at `max_energy_range_uj`. Package and DRAM domains are summed; `core`/`uncore` sub-domains
//! are already inside the package and `psys` covers the whole platform, so they are left out.

use std::io;
use std::path::{Path, PathBuf};

use super::source::{EnergySource, Reading};

/// The real powercap root.
pub const POWERCAP_ROOT: &str = "/sys/class/powercap";

/// How files are read: `std::fs::read_to_string`, or a stand-in in tests (we run as root, where a
/// mode-000 file is still readable).
pub type ReadFn = fn(&Path) -> io::Result<String>;

pub fn read_file(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[derive(Clone, Debug)]
struct Domain {
    /// e.g. "package-0", "dram".
    name: String,
    energy: PathBuf,
    max_uj: Option<u64>,
    last_uj: Option<u64>,
}

/// A readable RAPL counter set.
pub struct Rapl {
    domains: Vec<Domain>,
    read: ReadFn,
    /// Joules counted since this source was opened (wrap-arounds unrolled).
    total_j: f64,
    last_t: Option<std::time::Instant>,
}

/// Why RAPL cannot be used.
#[derive(Clone, Debug, PartialEq)]
pub enum RaplProblem {
    /// No powercap domains at all.
    Absent(String),
    /// The files are there but cannot be read.
    Unreadable(String),
}

impl RaplProblem {
    pub fn message(&self) -> &str {
        match self {
            RaplProblem::Absent(m) | RaplProblem::Unreadable(m) => m,
        }
    }
}

fn read_u64(read: ReadFn, path: &Path) -> io::Result<u64> {
    let text = read(path)?;
    text.trim().parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{text:?}: {e}")))
}

fn unreadable(path: &Path, e: &io::Error) -> RaplProblem {
    RaplProblem::Unreadable(format!(
        "RAPL: {} is present but not readable ({e}; since Linux 5.10 energy_uj is root-only): run \
         `sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj` (until the next boot), or add a udev rule or \
         systemd-tmpfiles entry that does the same, or run pepr as root",
        path.display()
    ))
}

impl Rapl {
    /// Finds the package and DRAM domains under `root` and reads each counter once.
    pub fn open(root: &Path, read: ReadFn) -> Result<Rapl, RaplProblem> {
        let entries = std::fs::read_dir(root).map_err(|_| {
            RaplProblem::Absent(format!("RAPL: no {}/intel-rapl* (no powercap interface)", root.display()))
        })?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("intel-rapl:"))
            .map(|e| e.path())
            .collect();
        dirs.sort();
        if dirs.is_empty() {
            return Err(RaplProblem::Absent(format!("RAPL: no {}/intel-rapl*", root.display())));
        }
        let mut domains = Vec::new();
        for dir in dirs {
            let name_path = dir.join("name");
            let name = match read(&name_path) {
                Ok(name) => name.trim().to_string(),
                Err(e) => return Err(unreadable(&name_path, &e)),
            };
            if !(name.starts_with("package") || name == "dram") {
                continue;
            }
            let energy = dir.join("energy_uj");
            let first = read_u64(read, &energy).map_err(|e| unreadable(&energy, &e))?;
            let max_uj = read_u64(read, &dir.join("max_energy_range_uj")).ok().filter(|&m| m > 0);
            domains.push(Domain { name, energy, max_uj, last_uj: Some(first) });
        }
        if domains.is_empty() {
            return Err(RaplProblem::Absent(format!("RAPL: no package or dram domain under {}", root.display())));
        }
        Ok(Rapl { domains, read, total_j: 0.0, last_t: Some(std::time::Instant::now()) })
    }

    /// The domains summed, e.g. ["package-0", "dram"].
    pub fn domain_names(&self) -> Vec<String> {
        self.domains.iter().map(|d| d.name.clone()).collect()
    }

    /// Reads every counter and adds what each advanced since the last read (wrap-around unrolled).
    /// Returns the total joules since opened.
    pub fn poll(&mut self) -> Result<f64, String> {
        for domain in &mut self.domains {
            let now = read_u64(self.read, &domain.energy)
                .map_err(|e| format!("RAPL: cannot read {}: {e}", domain.energy.display()))?;
            if let Some(last) = domain.last_uj {
                self.total_j += counter_delta(last, now, domain.max_uj) as f64 / 1e6;
            }
            domain.last_uj = Some(now);
        }
        Ok(self.total_j)
    }
}

/// How far a counter advanced from `last` to `now`: one wrap at `max` is assumed when it went
/// backwards (the sampler reads far more often than the counter can wrap twice). Without a known
/// range a backwards step counts from zero.
pub fn counter_delta(last: u64, now: u64, max: Option<u64>) -> u64 {
    if now >= last {
        now - last
    } else {
        match max {
            Some(max) if max >= last => max - last + now,
            _ => now,
        }
    }
}

impl EnergySource for Rapl {
    fn name(&self) -> &str {
        "RAPL"
    }

    fn measured(&self) -> bool {
        true
    }

    fn read(&mut self) -> Result<Reading, String> {
        let before = self.total_j;
        let total = self.poll()?;
        let now = std::time::Instant::now();
        let power_w = self.last_t.map(|t| (total - before) / now.duration_since(t).as_secs_f64().max(1e-9));
        self.last_t = Some(now);
        Ok(Reading { power_w, energy_j: Some(total), memory_bytes: None })
    }

    fn detail(&self) -> String {
        format!("RAPL counters: {}", self.domain_names().join(" + "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(root: &Path, dir: &str, name: &str, uj: u64, max: u64) {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
        std::fs::write(d.join("energy_uj"), format!("{uj}\n")).unwrap();
        std::fs::write(d.join("max_energy_range_uj"), format!("{max}\n")).unwrap();
    }

    #[test]
    fn sums_package_and_dram_and_unrolls_wrap_around() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        domain(root, "intel-rapl:0", "package-0", 999_000_000, 1_000_000_000);
        domain(root, "intel-rapl:0:0", "core", 5, 1_000_000_000);
        domain(root, "intel-rapl:0:1", "dram", 1_000_000, 1_000_000_000);
        domain(root, "intel-rapl:1", "psys", 0, 1_000_000_000);
        let mut rapl = Rapl::open(root, read_file).unwrap();
        assert_eq!(rapl.domain_names(), ["package-0", "dram"]);
        // Package wraps: 999 J -> (1000 J range) -> 2 J, i.e. 3 J; DRAM 1 J -> 1.5 J.
        std::fs::write(root.join("intel-rapl:0/energy_uj"), "2000000\n").unwrap();
        std::fs::write(root.join("intel-rapl:0:1/energy_uj"), "1500000\n").unwrap();
        std::fs::write(root.join("intel-rapl:0:0/energy_uj"), "900000000\n").unwrap(); // core: not summed
        let reading = rapl.read().unwrap();
        assert!((reading.energy_j.unwrap() - 3.5).abs() < 1e-9, "{reading:?}");
        assert!(reading.power_w.unwrap() > 0.0);
        assert!(rapl.detail().contains("package-0 + dram"));
    }

    #[test]
    fn counter_deltas() {
        assert_eq!(counter_delta(10, 25, Some(100)), 15);
        assert_eq!(counter_delta(90, 5, Some(100)), 15);
        assert_eq!(counter_delta(90, 5, None), 5);
    }

    #[test]
    fn absent_tree_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Rapl::open(&tmp.path().join("nope"), read_file).err().unwrap();
        assert!(matches!(err, RaplProblem::Absent(_)) && err.message().contains("intel-rapl"), "{err:?}");
        let err = Rapl::open(tmp.path(), read_file).err().unwrap();
        assert!(matches!(err, RaplProblem::Absent(_)));
    }

    fn denied(path: &Path) -> io::Result<String> {
        if path.ends_with("energy_uj") {
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        } else {
            std::fs::read_to_string(path)
        }
    }

    #[test]
    fn unreadable_counters_say_how_to_allow_them() {
        let tmp = tempfile::tempdir().unwrap();
        domain(tmp.path(), "intel-rapl:0", "package-0", 1, 100);
        let err = Rapl::open(tmp.path(), denied).err().unwrap();
        assert!(matches!(err, RaplProblem::Unreadable(_)), "{err:?}");
        let m = err.message();
        assert!(m.contains("present but not readable") && m.contains("sudo chmod a+r") && m.contains("5.10"), "{m}");

        // The same through the file system: a directory where the counter file should be.
        let d = tmp.path().join("intel-rapl:1");
        std::fs::create_dir_all(d.join("energy_uj")).unwrap();
        std::fs::write(d.join("name"), "package-1").unwrap();
        let err = Rapl::open(tmp.path(), read_file).err().unwrap();
        assert!(err.message().contains("intel-rapl:1/energy_uj is present but not readable"), "{err:?}");
    }

    #[test]
    fn unreadable_for_a_mode_000_file_when_not_root() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        domain(tmp.path(), "intel-rapl:0", "package-0", 1, 100);
        let file = tmp.path().join("intel-rapl:0/energy_uj");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::read_to_string(&file).is_ok() {
            return; // running as root: mode 000 does not stop us; the injected reader above covers it
        }
        let err = Rapl::open(tmp.path(), read_file).err().unwrap();
        assert!(matches!(err, RaplProblem::Unreadable(_)), "{err:?}");
    }
}
