//! What /proc says about this process and machine: CPU time, resident memory, host and CPU model.

use std::path::Path;

/// Linux reports utime/stime in clock ticks of USER_HZ, which the kernel ABI fixes at 100 per second.
const USER_HZ: f64 = 100.0;

/// utime + stime in seconds from a `/proc/.../stat` line (fields 14 and 15; the command name in
/// parentheses may contain spaces, so fields are counted after the last `)`).
pub fn parse_stat_cpu_s(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// CPU seconds used by the whole process (every thread) so far.
pub fn process_cpu_s() -> Option<f64> {
    parse_stat_cpu_s(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// CPU seconds used by the calling thread so far.
pub fn thread_cpu_s() -> Option<f64> {
    parse_stat_cpu_s(&std::fs::read_to_string("/proc/thread-self/stat").ok()?)
}

/// CPU seconds used by the whole process (every thread) so far, to the nanosecond
/// (`clock_gettime`): the /proc figures above count 10 ms ticks, too coarse for a benchmark of a few
/// tens of milliseconds or a few training steps of a small net (`pepr bench train`).
pub fn process_cpu_s_precise() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // Safety: clock_gettime only writes the timespec it is given.
        let ok = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0;
        ok.then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A `kB` field of `/proc/self/status` (e.g. `VmRSS`), in bytes.
pub fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kb: u64 = line[field.len() + 1..].split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// The process's resident memory now (VmRSS). VmHWM would be the lifetime peak, which includes
/// whatever happened before the run, so the sampler tracks the peak of VmRSS itself.
pub fn rss_bytes() -> Option<u64> {
    parse_status_kb(&std::fs::read_to_string("/proc/self/status").ok()?, "VmRSS")
}

/// Logical CPUs this process may use.
pub fn logical_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The host name (for the record's `node`).
pub fn host_name() -> Option<String> {
    let from_file = |p: &str| std::fs::read_to_string(Path::new(p)).ok().map(|s| s.trim().to_string());
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty())
}

/// The CPU model as /proc/cpuinfo names it (e.g. "AMD EPYC 7763 64-Core Processor"), or on
/// aarch64 as its implementer and part codes name it ("ARM Neoverse-N1"), or macOS's brand string.
pub fn cpu_model() -> Option<String> {
    super::tdp::this_cpu_model().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_status_fields() {
        let stat = "1234 (my (odd) name) R 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100 200 300";
        assert_eq!(parse_stat_cpu_s(stat), Some(3.0));
        assert_eq!(parse_stat_cpu_s("garbage"), None);
        let status = "Name:\tpepr\nVmHWM:\t  9000 kB\nVmRSS:\t  2048 kB\n";
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(2048 * 1024));
        assert_eq!(parse_status_kb(status, "VmSwap"), None);
        assert!(rss_bytes().unwrap() > 0 && process_cpu_s().is_some() && thread_cpu_s().is_some());
    }
}
