//! A run's memory, estimated before it starts: running out of memory aborts a Rust process, so a
//! run that cannot fit is refused with a clear message instead.
//!
//! Estimate (f32): parameters x 4 (weights, gradients, Adam's two moments) plus, per sample in the
//! batch, every layer output twice (the activation kept for the backward pass and its gradient).
//! An estimate, not a measurement: the backend's workspace and allocator overhead come on top.

use std::path::Path;

use crate::catalog::Graph;
use crate::catalog::graph::Op;

/// Estimated peak bytes of one training step.
pub fn estimate_bytes(graph: &Graph, batch_size: usize) -> u64 {
    let params = graph.params();
    let activations: u64 =
        graph.nodes.iter().map(|n| n.output.elements() + kept_inside(&n.op, n.output.elements())).sum();
    4 * (4 * params + 2 * activations * batch_size as u64)
}

/// Values a layer keeps for the backward pass besides its output (`output` values). Sequencer's
/// LSTM2d (output 4 x hidden per position) runs four recurrences over every position, each keeping
/// per step its input projection, the gate pre-activations, gates and states (about 26 x hidden with
/// the reverse direction's time flips, counted from `catalog::net`'s loop): some 104 x hidden per
/// position, 26 times its output.
fn kept_inside(op: &Op, output: u64) -> u64 {
    match op {
        Op::Lstm2d { .. } => 26 * output,
        _ => 0,
    }
}

/// Memory the system reports available (`MemAvailable` in /proc/meminfo), when it reports it.
pub fn meminfo_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The tightest memory limit of this process's cgroup and its ancestors (a Slurm job's `--mem`, a
/// container's limit), with what is already used inside it.
#[derive(Clone, Debug, PartialEq)]
pub struct CgroupMemory {
    pub limit: u64,
    pub usage: u64,
    /// The cgroup file the limit came from.
    pub file: String,
}

impl CgroupMemory {
    pub fn free(&self) -> u64 {
        self.limit.saturating_sub(self.usage)
    }
}

/// Reads the cgroup memory limit under `root` (normally /sys/fs/cgroup) for the cgroups named in a
/// /proc/self/cgroup text: v2 (`0::/path`: memory.max, memory.current) or v1 (`N:...memory...:/path`:
/// memory/path/memory.limit_in_bytes, memory.usage_in_bytes). Every ancestor is checked, since a
/// limit set on a job applies to the steps inside it; "max" (or v1's huge number) is no limit.
pub fn cgroup_memory(root: &Path, proc_self_cgroup: &str) -> Option<CgroupMemory> {
    let mut best: Option<CgroupMemory> = None;
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let (base, limit_file, usage_file) = if controllers.is_empty() {
            (root.to_path_buf(), "memory.max", "memory.current")
        } else if controllers.split(',').any(|c| c == "memory") {
            (root.join("memory"), "memory.limit_in_bytes", "memory.usage_in_bytes")
        } else {
            continue;
        };
        let mut dir = base.join(path.trim_start_matches('/'));
        loop {
            let read =
                |name: &str| std::fs::read_to_string(dir.join(name)).ok().and_then(|t| t.trim().parse::<u64>().ok());
            // v1 writes "no limit" as a number near 2^63.
            if let Some(limit) = read(limit_file).filter(|&l| l < (1u64 << 60)) {
                let usage = read(usage_file).unwrap_or(0);
                let found = CgroupMemory { limit, usage, file: dir.join(limit_file).display().to_string() };
                if best.as_ref().is_none_or(|b| found.free() < b.free()) {
                    best = Some(found);
                }
            }
            if dir == base || !dir.pop() || !dir.starts_with(&base) {
                break;
            }
        }
    }
    best
}

/// What a run may use: MemAvailable and, when this process is in a memory-limited cgroup, the
/// room left under that limit; the smaller decides.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Available {
    pub meminfo: Option<u64>,
    pub cgroup: Option<CgroupMemory>,
}

impl Available {
    pub fn bytes(&self) -> Option<u64> {
        match (self.meminfo, self.cgroup.as_ref().map(CgroupMemory::free)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// "12.0 GB available (MemAvailable); cgroup limit 4.0 GB, 3.2 GB free (/sys/fs/cgroup/.../memory.max)".
    pub fn describe(&self) -> String {
        let gb = |b: u64| b as f64 / 1e9;
        let mut parts = Vec::new();
        if let Some(a) = self.meminfo {
            parts.push(format!("{:.1} GB available (MemAvailable)", gb(a)));
        }
        if let Some(c) = &self.cgroup {
            parts.push(format!("cgroup limit {:.1} GB with {:.1} GB free ({})", gb(c.limit), gb(c.free()), c.file));
        }
        parts.join("; ")
    }
}

/// This process's memory room now.
pub fn available_here() -> Available {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| cgroup_memory(Path::new("/sys/fs/cgroup"), &text));
    Available { meminfo: meminfo_available(), cgroup }
}

/// The bytes a run may use (the smaller of MemAvailable and the cgroup's free room).
pub fn available_bytes() -> Option<u64> {
    available_here().bytes()
}

/// Refuses a run whose estimate exceeds 90% of the available memory.
pub fn check(graph: &Graph, batch_size: usize, available: Option<u64>) -> Result<(), String> {
    check_with(graph, batch_size, &Available { meminfo: available, cgroup: None })
}

/// [`check`] against MemAvailable and the cgroup limit, naming both in the refusal.
pub fn check_with(graph: &Graph, batch_size: usize, available: &Available) -> Result<(), String> {
    let Some(room) = available.bytes() else { return Ok(()) };
    let needed = estimate_bytes(graph, batch_size);
    if needed as f64 > 0.9 * room as f64 {
        let gb = |b: u64| b as f64 / 1e9;
        return Err(format!(
            "not enough memory: this run needs about {:.1} GB (estimated: parameters, Adam state and activations at \
             batch {batch_size}) and {}; try a smaller --batch-size or input size",
            gb(needed),
            available.describe()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Spec, find};

    #[test]
    fn estimate_grows_with_batch_and_refuses_what_cannot_fit() {
        let graph = find("pepr_lenet5").unwrap().graph(&Spec::new(1, 10, 28)).unwrap();
        let one = estimate_bytes(&graph, 1);
        let many = estimate_bytes(&graph, 100);
        assert!(many > one);
        assert_eq!(many - one, 99 * 2 * 4 * graph.nodes.iter().map(|n| n.output.elements()).sum::<u64>());
        assert!(check(&graph, 32, Some(u64::MAX)).is_ok());
        assert!(check(&graph, 32, None).is_ok(), "unknown availability never blocks a run");
        let err = check(&graph, 32, Some(1_000_000)).unwrap_err();
        assert!(err.contains("not enough memory") && err.contains("--batch-size"), "{err}");
    }

    fn write(path: &std::path::Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_cgroup_limit_is_read_from_a_fake_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        // cgroup v2: a Slurm job with --mem=2G; the step inside it has no limit of its own.
        write(&root.join("system.slice/slurmstepd.scope/job_7/memory.max"), "2000000000\n");
        write(&root.join("system.slice/slurmstepd.scope/job_7/memory.current"), "500000000\n");
        write(&root.join("system.slice/slurmstepd.scope/job_7/step_0/memory.max"), "max\n");
        write(&root.join("system.slice/slurmstepd.scope/job_7/step_0/memory.current"), "400000000\n");
        let found = cgroup_memory(root, "0::/system.slice/slurmstepd.scope/job_7/step_0\n").unwrap();
        assert_eq!((found.limit, found.usage, found.free()), (2_000_000_000, 500_000_000, 1_500_000_000));
        assert!(found.file.ends_with("job_7/memory.max"), "{}", found.file);
        // No limit anywhere: none.
        write(&root.join("free/memory.max"), "max\n");
        assert_eq!(cgroup_memory(root, "0::/free\n"), None);
        // cgroup v1, memory controller among others; v1's "unlimited" is a huge number.
        write(&root.join("memory/docker/abc/memory.limit_in_bytes"), "1073741824\n");
        write(&root.join("memory/docker/abc/memory.usage_in_bytes"), "73741824\n");
        write(&root.join("memory/memory.limit_in_bytes"), "9223372036854771712\n");
        let v1 = cgroup_memory(root, "12:cpuset:/\n4:memory:/docker/abc\n").unwrap();
        assert_eq!(v1.free(), 1_000_000_000);

        // The smaller room decides, and the refusal names both figures.
        let graph = find("pepr_lenet5").unwrap().graph(&Spec::new(1, 10, 28)).unwrap();
        let tight = Available {
            meminfo: Some(64_000_000_000),
            cgroup: Some(CgroupMemory { limit: 1_000_000, usage: 0, file: "/x/memory.max".into() }),
        };
        assert_eq!(tight.bytes(), Some(1_000_000));
        let err = check_with(&graph, 32, &tight).unwrap_err();
        assert!(err.contains("64.0 GB available (MemAvailable)") && err.contains("cgroup limit 0.0 GB"), "{err}");
        assert!(err.contains("/x/memory.max"), "{err}");
        assert!(check_with(&graph, 32, &Available { meminfo: Some(64_000_000_000), cgroup: None }).is_ok());
    }
}
