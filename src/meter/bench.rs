//! `pepr bench meter`: what the sampler costs. It samples this machine's sources for a while at
//! the chosen interval while the main thread keeps the CPUs busy (as training would), and reports
//! the sampler's own work time and CPU time against the wall time.

use std::io::Write;
use std::time::{Duration, Instant};

use super::sampler::Sampler;
use super::session::{MeterSettings, plan_sources};
use crate::meter::backend::Backend;

pub fn run(out: &mut impl Write, settings: &MeterSettings, seconds: f64) -> anyhow::Result<()> {
    let plan = plan_sources(settings, Backend::Cpu);
    let names: Vec<String> = plan.sources.iter().map(|s| s.name().to_string()).collect();
    writeln!(
        out,
        "sampling {} for {seconds} s every {} ms while the main thread computes",
        if names.is_empty() { "memory only (no power source)".to_string() } else { names.join(" + ") },
        settings.sample_ms
    )?;
    let sampler = Sampler::start(plan.sources, Duration::from_millis(settings.sample_ms.max(1)));
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..100_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        }
    }
    std::hint::black_box(x);
    let wall = start.elapsed().as_secs_f64();
    let done = sampler.stop();
    let s = done.snapshot;
    writeln!(out, "samples: {} in {wall:.2} s", s.samples)?;
    writeln!(
        out,
        "sampler work (wall time inside reads): {:.4} s = {:.3}% of the run, {:.1} µs per sample",
        s.busy_s,
        100.0 * s.busy_s / wall,
        1e6 * s.busy_s / s.samples.max(1) as f64
    )?;
    match done.thread_cpu_s {
        Some(cpu) => writeln!(
            out,
            "sampler thread CPU time (/proc/thread-self/stat, 10 ms ticks): {cpu:.2} s = {:.3}% of the run's wall time",
            100.0 * cpu / wall
        )?,
        None => writeln!(out, "sampler thread CPU time: not available")?,
    }
    writeln!(out, "target: under 1% of training time")?;
    Ok(())
}
