//! `pepr doctor`: which power sources this machine has, which a run will use and why, the peak
//! FLOP/s (measured now, the best kept) and where memory figures come from.

use std::io::Write;
use std::path::Path;

use burn::tensor::Device;
use serde_json::json;

use super::estimate;
use super::flops;
use super::nvml::{GpuDevice, NvmlDevice};
use super::process;
use super::rapl::Rapl;
use super::session::{MeterSettings, device_peak, plan_sources, power_source_of};
use crate::meter::backend::Backend;

/// Prints the report (plain text, or JSON with `json`).
pub fn run(out: &mut impl Write, settings: &MeterSettings, home: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let cpu = process::cpu_model();
    let cpus = process::logical_cpus();
    let nvml = match NvmlDevice::count() {
        Ok(0) => "NVML: loaded, but it sees no GPU".to_string(),
        Ok(n) => match NvmlDevice::open_for_cuda(0) {
            Ok((device, how)) => {
                format!("NVML: available, {n} GPU(s); a --backend cuda run reads {} = {how}", device.name())
            }
            Err(why) => format!("NVML: {n} GPU(s), but the run's device cannot be opened ({why})"),
        },
        Err(why) => format!("NVML: not available ({why})"),
    };
    let rapl = match Rapl::open(&settings.powercap_root, super::rapl::read_file) {
        Ok(r) => format!("RAPL: readable ({})", r.domain_names().join(" + ")),
        Err(problem) => problem.message().to_string(),
    };
    let give = "give the real TDP with --cpu-tdp WATTS or `pepr config set cpu_tdp_w WATTS`";
    let tdp_step = estimate::cpu_tdp(settings.cpu_tdp_w, cpu.as_deref()).map(|t| t.step.label());
    let tdp = match estimate::cpu_tdp(settings.cpu_tdp_w, cpu.as_deref()) {
        Some(t) => format!(
            "TDP: {} = {:.1} W, {}: {}; energy band x{:.2}-{:.2}{}",
            cpu.as_deref().unwrap_or("this CPU"),
            t.watts,
            t.step.label(),
            t.source,
            t.band.0,
            t.band.1,
            if t.step == super::tdp::TdpStep::User { String::new() } else { format!("; {give}") }
        ),
        None => format!(
            "TDP: unknown for {} (no vendor pepr knows, so no estimate); {give}",
            cpu.as_deref().unwrap_or("this CPU")
        ),
    };
    let backends = format!("backends compiled in: {}", crate::meter::backend::compiled().join(", "));
    let cuda = match crate::meter::backend::available_here(Backend::Cuda) {
        Ok(()) => "cuda: available".to_string(),
        Err(why) => format!("cuda: unavailable, {}", why.reason()),
    };
    let threads = format!(
        "threads: a run uses {} (set with --threads N or `pepr config set threads N`)",
        rayon::current_num_threads()
    );
    let cpu_plan = plan_sources(settings, Backend::Cpu);
    let cpu_use = power_source_of(&cpu_plan.sources)
        .map_or_else(|| "nothing: energy and CO2 are left unknown".to_string(), |p| p.label());
    let why = if cpu_plan.sources.iter().any(|s| s.name() == "RAPL") {
        "RAPL counters are readable"
    } else if cpu_plan.sources.is_empty() {
        "no RAPL, and no TDP: the CPU's vendor is not one pepr knows"
    } else {
        "no readable RAPL, so the CPU's TDP x this process's CPU share"
    };
    let peak = device_peak(Backend::Cpu, &Device::flex(), home);
    let peak_line = format!(
        "peak FLOP/s (flex (CPU), {cpus} threads): {:.2} GFLOP/s, {} ({n}x{n} f32 matrix product, best of {r}; \
         the best one's threads got {} of their time){}",
        peak.flops_per_s / 1e9,
        peak.how(),
        peak.best_cpu_share.map_or("an unknown share".into(), |s| format!("{:.0}%", s * 100.0)),
        home.map(|h| format!(", cache {}", flops::cache_path(h).display())).unwrap_or_default(),
        n = flops::PEAK_MATRIX,
        r = flops::PEAK_REPS,
    );
    let memory = format!(
        "memory: CPU runs store the peak resident memory of the process (VmRSS from /proc/self/status, sampled every \
         {} ms; VmHWM is not used, it covers the whole process life); GPU runs the peak GPU memory used (NVML)",
        settings.sample_ms
    );
    if json {
        let value = json!({
            "cpu": cpu,
            "logical_cpus": cpus,
            "nvml": nvml,
            "rapl": rapl,
            "tdp": tdp,
            "tdp_step": tdp_step,
            "backends": crate::meter::backend::compiled(),
            "cuda": cuda,
            "threads": rayon::current_num_threads(),
            "cpu_run_uses": cpu_use,
            "why": why,
            "peak_flops_per_s": peak.flops_per_s,
            "peak_how": peak.how(),
            "peak_measurements": peak.measurements,
            "peak_cpu_share": peak.best_cpu_share,
            "peak_now_flops_per_s": peak.now.flops_per_s,
            "peak_now_cpu_share": peak.now.cpu_share,
            "peak_warning": peak.warning,
            "peak_caution": peak.caution(),
            "memory": memory,
            "notes": cpu_plan.notes,
        });
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "CPU: {} ({cpus} logical CPUs)", cpu.as_deref().unwrap_or("unknown model"))?;
    writeln!(out, "{backends}; {cuda}")?;
    writeln!(out, "{threads}")?;
    writeln!(out, "{nvml}")?;
    writeln!(out, "{rapl}")?;
    writeln!(out, "{tdp}")?;
    writeln!(out, "a CPU run's energy: {cpu_use} ({why})")?;
    writeln!(out, "a --backend cuda run's energy: NVML for the GPU when available, plus the CPU as above")?;
    writeln!(out, "{peak_line}")?;
    if let Some(w) = &peak.warning {
        writeln!(out, "warning: {w}")?;
    }
    if let Some(c) = peak.caution() {
        writeln!(out, "note: {c}")?;
    }
    writeln!(out, "{memory}")?;
    Ok(())
}
