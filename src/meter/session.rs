//! The meters of one training run, from start to record: picks the power sources for the backend,
//! measures (or reads the cached) peak FLOP/s and the optional idle baseline, runs the sampler while
//! the run trains, gives live figures to the caller and fills the record's resource fields.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::emissions::{self, Intensity};
use super::estimate::{self, LoadEstimate};
use super::flops::{self, FlopMeter, Peak};
use super::nvml::{NvmlDevice, NvmlSource};
use super::predict::predict;
use super::process;
use super::rapl::{self, Rapl};
use super::sampler::{self, Sampler, Snapshot};
use super::source::EnergySource;
use crate::catalog::{self, Cost, Spec};
use crate::data::Input;
use crate::format::{grams, kwh, si};
use crate::meter::backend::Backend;
use crate::results::record::{
    ENERGY_SCOPE_CARBONTRACKER, ENERGY_SCOPE_PEPR, MeterDetail, PowerSource, Prediction, RunRecord, TimeScope,
};

/// What the energy of a run trained here covers.
pub const ENERGY_SCOPE: &str = "training and evaluation: the whole run from building the network to the last test evaluation \
     (idle baseline and peak benchmark excluded)";

/// How a run is metered (command-line flags; the TUI uses the defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct MeterSettings {
    pub sample_ms: u64,
    /// Seconds of idle power measured before the run (0: none) to give net energy beside gross.
    pub idle_baseline_s: f64,
    /// A number in g CO2-eq/kWh or a region code; `None`: the world average.
    pub carbon_intensity: Option<String>,
    pub pue: f64,
    /// The CPU's TDP in watts, overriding the table.
    pub cpu_tdp_w: Option<f64>,
    /// Where powercap lives (a fake tree in tests).
    pub powercap_root: PathBuf,
}

impl Default for MeterSettings {
    fn default() -> Self {
        MeterSettings {
            sample_ms: sampler::DEFAULT_INTERVAL_MS,
            idle_baseline_s: 0.0,
            carbon_intensity: None,
            pue: 1.0,
            cpu_tdp_w: None,
            powercap_root: PathBuf::from(rapl::POWERCAP_ROOT),
        }
    }
}

/// The sources a run uses and why the others are not used.
pub struct SourcePlan {
    pub sources: Vec<Box<dyn EnergySource>>,
    /// One line per source considered: used, or why not.
    pub notes: Vec<String>,
    /// The step of the TDP fallback chain, when the CPU is estimated from a TDP.
    pub tdp_step: Option<super::tdp::TdpStep>,
}

/// GPU runs read NVML for the device they use; the CPU is read through RAPL when readable,
/// otherwise estimated from its TDP x the process's load; with neither, energy is unknown.
pub fn plan_sources(settings: &MeterSettings, backend: Backend) -> SourcePlan {
    let mut sources: Vec<Box<dyn EnergySource>> = Vec::new();
    let mut notes = Vec::new();
    let mut tdp_step = None;
    match backend {
        // The run trains on CUDA device 0 of its binding (CUDA_VISIBLE_DEVICES, Slurm's GPUs).
        Backend::Cuda => match NvmlDevice::open_for_cuda(0) {
            Ok((device, how)) => {
                let source = NvmlSource::new(device);
                notes.push(format!("NVML: used ({}; {how})", source.detail()));
                sources.push(Box::new(source));
            }
            Err(why) => notes.push(format!("NVML: not available ({why}): GPU energy is not counted")),
        },
        Backend::Cpu => notes.push("NVML: not used (the run trains on the CPU)".into()),
    }
    match Rapl::open(&settings.powercap_root, rapl::read_file) {
        Ok(rapl) => {
            notes.push(format!("RAPL: used ({})", rapl.detail()));
            sources.push(Box::new(rapl));
        }
        Err(problem) => {
            notes.push(problem.message().to_string());
            let model = process::cpu_model();
            match estimate::cpu_tdp(settings.cpu_tdp_w, model.as_deref()) {
                Some(tdp) => {
                    tdp_step = Some(tdp.step);
                    // Inside a run's own thread pool this is the run's thread count.
                    let source = LoadEstimate::new(tdp, process::logical_cpus(), estimate::proc_clock())
                        .with_threads(rayon::current_num_threads());
                    notes.push(format!("TDP: used, {}", source.detail()));
                    sources.push(Box::new(source));
                }
                None => notes.push(format!(
                    "TDP: unknown for {} (no vendor pepr knows): CPU energy is not estimated (give it with \
                     --cpu-tdp WATTS or `pepr config set cpu_tdp_w WATTS`)",
                    model.as_deref().unwrap_or("this CPU")
                )),
            }
        }
    }
    SourcePlan { sources, notes, tdp_step }
}

/// "measured (RAPL)", "estimated (TDP x load)", or for a mix "estimated (NVML measured + TDP x load)".
pub fn power_source_of(sources: &[Box<dyn EnergySource>]) -> Option<PowerSource> {
    if sources.is_empty() {
        return None;
    }
    let measured = sources.iter().all(|s| s.measured());
    let by = if measured || sources.iter().all(|s| !s.measured()) {
        sources.iter().map(|s| s.name().to_string()).collect::<Vec<_>>().join(" + ")
    } else {
        let part =
            |s: &dyn EnergySource| format!("{} {}", s.name(), if s.measured() { "measured" } else { "estimated" });
        sources.iter().map(|s| part(s.as_ref())).collect::<Vec<_>>().join(" + ")
    };
    Some(PowerSource { measured, by })
}

/// The live figures shown while a run trains.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveMeters {
    pub elapsed_s: f64,
    pub power_w: Option<f64>,
    /// "measured (RAPL)" / "estimated (TDP x load)"; `None`: no power source.
    pub power_label: Option<String>,
    /// Full scale of the power gauge: the TDP when estimating, else the highest power seen.
    pub gauge_max_w: Option<f64>,
    pub energy_kwh: Option<f64>,
    /// Bounds of the energy and CO2 (see [`super::band`]).
    pub energy_kwh_low: Option<f64>,
    pub energy_kwh_high: Option<f64>,
    pub co2_g_low: Option<f64>,
    pub co2_g_high: Option<f64>,
    /// "measured" or "estimated", for the energy text.
    pub energy_how: Option<&'static str>,
    pub co2_g: Option<f64>,
    pub samples_per_s: Option<f64>,
    pub flops_per_s: Option<f64>,
    pub share_of_peak: Option<f64>,
    pub memory_gb: Option<f64>,
    pub memory_kind: String,
    pub prediction: Option<Prediction>,
}

impl LiveMeters {
    pub fn power_text(&self) -> String {
        match (self.power_w, &self.power_label) {
            (Some(w), Some(label)) => format!("{w:.1} W {label}"),
            (None, Some(label)) => format!("— W {label}"),
            _ => "power unknown (no source)".into(),
        }
    }

    /// "0.012 kWh, 0.005-0.035 kWh, estimated · 5.76 g, 2.40-16.80 g CO2-eq".
    pub fn energy_text(&self) -> String {
        match (self.energy_kwh, self.co2_g) {
            (Some(e), Some(c)) => {
                let how = self.energy_how.map(|h| format!(", {h}")).unwrap_or_default();
                format!(
                    "{}{how} · {} CO2-eq",
                    super::band::with_band(e, self.energy_kwh_low, self.energy_kwh_high, kwh),
                    super::band::with_band(c, self.co2_g_low, self.co2_g_high, grams)
                )
            }
            _ => "energy unknown".into(),
        }
    }

    /// "1.234 GFLOP/s (12% of peak)", estimated from the analytic count.
    pub fn flops_text(&self) -> String {
        match self.flops_per_s {
            Some(f) => {
                let share = self.share_of_peak.map(|s| format!(" ({:.1}% of peak)", s * 100.0)).unwrap_or_default();
                format!("{}{share}", si(f, "FLOP/s"))
            }
            None => "— FLOP/s".into(),
        }
    }

    pub fn memory_text(&self) -> String {
        match self.memory_gb {
            Some(gb) => format!("{gb:.2} GB {}", self.memory_kind),
            None => "memory unknown".into(),
        }
    }

    pub fn prediction_text(&self) -> Option<String> {
        let p = self.prediction.as_ref()?;
        let mut text = format!("predicted total {:.0} s", p.time_s);
        if let Some(e) = p.energy_kwh {
            text.push_str(&format!(", {}", kwh(e)));
        }
        if let Some(c) = p.co2_g {
            text.push_str(&format!(", {} CO2-eq", grams(c)));
        }
        Some(text)
    }

    /// The figures on one line (for `pepr train`'s progress).
    pub fn summary(&self) -> String {
        let mut parts = vec![self.power_text(), self.energy_text(), self.flops_text(), self.memory_text()];
        if let Some(p) = self.prediction_text() {
            parts.push(p);
        }
        parts.join(" · ")
    }
}

/// The meters of one run.
pub struct RunMeters {
    sampler: Sampler,
    pub carbon: Intensity,
    pub pue: f64,
    power_source: Option<PowerSource>,
    power_detail: String,
    /// Each source's band factors, in the sampler's order.
    bands: Vec<(f64, f64)>,
    band_basis: Option<String>,
    tdp_basis: Option<String>,
    /// The CPU threads the run trains with (the thread pool it was started in).
    threads: usize,
    /// The process's CPU seconds when the meters started.
    cpu_at_start: Option<f64>,
    gauge_max_w: Option<f64>,
    gpu_memory: bool,
    pub notes: Vec<String>,
    idle_power_w: Option<f64>,
    peak: Option<Peak>,
    flops: Option<FlopMeter>,
    flops_epoch: usize,
    prediction: Option<Prediction>,
    epochs: usize,
    sample_ms: u64,
    /// The training clock for throughput: pauses left out.
    clock: Instant,
    paused_since: Option<Instant>,
    paused_for: Duration,
}

/// The peak FLOP/s of a device: measured now, and the best so far kept in `home` (when given).
pub fn device_peak(backend: Backend, device: &Device, home: Option<&Path>) -> Peak {
    let device_name = match backend {
        Backend::Cpu => process::cpu_model().unwrap_or_else(|| "CPU".into()),
        Backend::Cuda => "CUDA device 0".into(),
    };
    // Per thread count: inside a run's own pool, the peak of that many threads (measured in it).
    let key = flops::cache_key(backend.label(), &device_name, rayon::current_num_threads());
    // The CPU share tells a busy machine's low figure from a quiet one's; a GPU's product does not
    // run on the CPU threads.
    let cpu_threads = (backend == Backend::Cpu).then(rayon::current_num_threads);
    let measure = || flops::measure_peak(device, flops::PEAK_MATRIX, flops::PEAK_REPS, cpu_threads);
    match home {
        Some(home) => flops::peak(&flops::cache_path(home), &key, measure),
        None => flops::peak_uncached(&key, measure),
    }
}

impl RunMeters {
    /// Checks the settings, picks the sources, takes the peak and the idle baseline, and starts
    /// sampling. Bad settings (intensity, PUE, interval) are an error before anything trains.
    pub fn start(
        settings: &MeterSettings,
        backend: Backend,
        device: &Device,
        home: Option<&Path>,
        epochs: usize,
    ) -> Result<RunMeters, String> {
        let carbon = emissions::resolve_intensity(settings.carbon_intensity.as_deref())?;
        let pue = emissions::check_pue(settings.pue)?;
        if settings.sample_ms == 0 {
            return Err("--sample-ms must be at least 1".into());
        }
        if !(settings.idle_baseline_s.is_finite() && settings.idle_baseline_s >= 0.0) {
            return Err(format!("--idle-baseline must be a number of seconds >= 0, got {}", settings.idle_baseline_s));
        }
        let SourcePlan { sources, mut notes, tdp_step: plan_tdp_step } = plan_sources(settings, backend);
        let peak = device_peak(backend, device, home);
        notes.extend(peak.warning.iter().chain(peak.caution().as_ref()).cloned());
        let interval = Duration::from_millis(settings.sample_ms);
        let power_source = power_source_of(&sources);
        let power_detail = sources.iter().map(|s| s.detail()).collect::<Vec<_>>().join("; ");
        let bands: Vec<(f64, f64)> = sources.iter().map(|s| s.band()).collect();
        let band_basis = (!sources.is_empty()).then(|| {
            let part = |s: &dyn EnergySource| {
                let (l, h) = s.band();
                format!("{} x{l:.2}-{h:.2}", s.name())
            };
            sources.iter().map(|s| part(s.as_ref())).collect::<Vec<_>>().join(" + ")
        });
        let tdp_basis = plan_tdp_step.map(|step| step.label().to_string());
        let threads = rayon::current_num_threads();
        let gauge_max_w = sources.iter().find_map(|s| s.full_scale_w());
        let (sources, idle_power_w) = if settings.idle_baseline_s > 0.0 && !sources.is_empty() {
            let idle = Sampler::start(sources, interval);
            std::thread::sleep(Duration::from_secs_f64(settings.idle_baseline_s));
            let done = idle.stop();
            let s = done.snapshot;
            let idle_w = s.energy_j.filter(|_| s.elapsed_s > 0.0).map(|e| e / s.elapsed_s);
            (done.sources, idle_w)
        } else {
            (sources, None)
        };
        let gpu_memory = backend == Backend::Cuda && sources.iter().any(|s| s.name() == "NVML");
        Ok(RunMeters {
            sampler: Sampler::start(sources, interval),
            carbon,
            pue,
            power_source,
            power_detail,
            bands,
            band_basis,
            tdp_basis,
            threads,
            cpu_at_start: process::process_cpu_s(),
            gauge_max_w,
            gpu_memory,
            notes,
            idle_power_w,
            peak: Some(peak),
            flops: None,
            flops_epoch: 0,
            prediction: None,
            epochs,
            sample_ms: settings.sample_ms,
            clock: Instant::now(),
            paused_since: None,
            paused_for: Duration::ZERO,
        })
    }

    /// The network's input is known: training FLOPs per sample from the catalog's count.
    pub fn set_input(&mut self, arch: &str, input: Input, classes: usize) {
        let spec = Spec { in_chans: input.channels, classes, height: input.height, width: input.width };
        let cost = catalog::find(arch).and_then(|e| e.graph(&spec).ok()).map(|g| Cost::of(&g));
        self.flops = cost.map(|c| FlopMeter::new(c.train_flops() as f64, self.peak.as_ref().map(|p| p.flops_per_s)));
    }

    /// A paused run counts neither time nor energy.
    pub fn set_paused(&mut self, paused: bool) {
        self.sampler.set_paused(paused);
        match (paused, self.paused_since) {
            (true, None) => self.paused_since = Some(Instant::now()),
            (false, Some(since)) => {
                self.paused_for += since.elapsed();
                self.paused_since = None;
            }
            _ => {}
        }
    }

    /// Seconds of training time since the meters started.
    fn now_s(&self) -> f64 {
        self.clock.elapsed().saturating_sub(self.paused_for).as_secs_f64()
    }

    fn kwh_of(snapshot: &Snapshot) -> Option<f64> {
        snapshot.energy_j.map(|j| j / 3.6e6)
    }

    fn bounds_of(&self, snapshot: &Snapshot) -> Option<super::band::Bounds> {
        bounds_of(&self.bands, snapshot)
    }

    fn co2(&self, kwh: f64) -> f64 {
        emissions::co2_g(kwh, self.carbon.g_per_kwh, self.pue)
    }

    /// `samples_in_epoch` samples of `epoch` are trained by now.
    pub fn observe(&mut self, epoch: usize, samples_in_epoch: u64) {
        let t = self.now_s();
        if let Some(flops) = &mut self.flops {
            if epoch != self.flops_epoch {
                // Each epoch's rate is its own: evaluation between epochs is not training throughput.
                *flops = FlopMeter::new(flops.train_flops_per_sample, flops.peak_flops_per_s);
                self.flops_epoch = epoch;
            }
            flops.observe(t, samples_in_epoch);
        }
    }

    /// Live figures now.
    pub fn live(&mut self) -> LiveMeters {
        let s = self.sampler.snapshot();
        let energy_kwh = Self::kwh_of(&s);
        let samples_per_s = self.flops.as_ref().and_then(|f| f.samples_per_s());
        let flops_per_s = self.flops.as_ref().and_then(|f| f.achieved_flops_per_s());
        if let Some(w) = s.power_w {
            self.gauge_max_w = Some(self.gauge_max_w.unwrap_or(0.0).max(w));
        }
        let (memory_gb, memory_kind) = self.memory(&s);
        let bounds = self.bounds_of(&s);
        LiveMeters {
            elapsed_s: s.elapsed_s,
            power_w: s.power_w,
            power_label: self.power_source.as_ref().map(|p| p.label()),
            gauge_max_w: self.gauge_max_w,
            energy_kwh,
            energy_kwh_low: bounds.map(|b| b.low),
            energy_kwh_high: bounds.map(|b| b.high),
            co2_g_low: bounds.map(|b| self.co2(b.low)),
            co2_g_high: bounds.map(|b| self.co2(b.high)),
            energy_how: self.power_source.as_ref().map(|p| if p.measured { "measured" } else { "estimated" }),
            co2_g: energy_kwh.map(|e| emissions::co2_g(e, self.carbon.g_per_kwh, self.pue)),
            samples_per_s,
            flops_per_s,
            share_of_peak: flops_per_s.and_then(|f| self.flops.as_ref()?.share_of_peak(f)),
            memory_gb,
            memory_kind,
            prediction: self.prediction.clone(),
        }
    }

    fn memory(&self, s: &Snapshot) -> (Option<f64>, String) {
        memory_of(self.gpu_memory, self.sample_ms, s)
    }

    /// After the first epoch: the predicted totals, linear in epochs.
    pub fn epoch_finished(&mut self, epoch: usize) {
        if epoch == 1 && self.prediction.is_none() {
            let s = self.sampler.sample_now();
            let energy = Self::kwh_of(&s);
            let co2 = energy.map(|e| emissions::co2_g(e, self.carbon.g_per_kwh, self.pue));
            self.prediction = predict(1, self.epochs as u32, s.elapsed_s, energy, co2);
        }
    }

    /// Stops sampling and returns what goes into the record. `samples_per_s` is the run's measured
    /// training throughput (optimisation steps only).
    pub fn finish(self, samples_per_s: f64) -> MeterReport {
        let train_flops = self.flops.as_ref().map(|f| f.train_flops_per_sample);
        let achieved = self.flops.as_ref().filter(|_| samples_per_s > 0.0).map(|f| f.flops_at(samples_per_s));
        let done = self.sampler.stop();
        let s = done.snapshot;
        let bounds = bounds_of(&self.bands, &s);
        let energy_kwh = Self::kwh_of(&s);
        let (memory_gb, memory_kind) = memory_of(self.gpu_memory, self.sample_ms, &s);
        let co2_g = energy_kwh.map(|e| emissions::co2_g(e, self.carbon.g_per_kwh, self.pue));
        let net = match (energy_kwh, self.idle_power_w) {
            (Some(e), Some(idle)) => Some((e - idle * s.elapsed_s / 3.6e6).max(0.0)),
            _ => None,
        };
        let co2 = |kwh: f64| emissions::co2_g(kwh, self.carbon.g_per_kwh, self.pue);
        MeterReport {
            energy_kwh,
            co2_g,
            energy_kwh_low: bounds.map(|b| b.low),
            energy_kwh_high: bounds.map(|b| b.high),
            co2_g_low: bounds.map(|b| co2(b.low)),
            co2_g_high: bounds.map(|b| co2(b.high)),
            band_basis: self.band_basis,
            tdp_basis: self.tdp_basis,
            threads: self.threads,
            memory_gb,
            memory_kind,
            power_source: self.power_source,
            carbon_intensity_g_per_kwh: self.carbon.g_per_kwh,
            prediction: self.prediction,
            detail: MeterDetail {
                energy_scope: Some(ENERGY_SCOPE.into()),
                energy_net_kwh: net,
                idle_power_w: self.idle_power_w,
                mean_power_w: s.energy_j.filter(|_| s.elapsed_s > 0.0).map(|e| e / s.elapsed_s),
                pue: Some(self.pue),
                carbon_intensity_source: Some(self.carbon.source),
                train_flops_per_sample: train_flops,
                achieved_flops_per_s: achieved,
                peak_flops_per_s: self.peak.as_ref().map(|p| p.flops_per_s),
                sample_interval_ms: Some(self.sample_ms),
                power_detail: (!self.power_detail.is_empty()).then_some(self.power_detail),
                metered_s: Some(s.elapsed_s),
                sampler_cpu_s: done.thread_cpu_s,
                samples: Some(s.samples),
                process_cpu_s: self.cpu_at_start.zip(process::process_cpu_s()).map(|(a, b)| b - a),
            },
            notes: self.notes,
            estimate: None,
        }
    }
}

/// The energy's bounds in kWh: each source's energy times its band, summed.
fn bounds_of(bands: &[(f64, f64)], snapshot: &Snapshot) -> Option<super::band::Bounds> {
    snapshot.energy_j?;
    let parts: Vec<(f64, (f64, f64))> =
        snapshot.energy_by_source_j.iter().zip(bands).map(|(j, b)| (j / 3.6e6, *b)).collect();
    super::band::combine(&parts)
}

/// Which memory a run's figure is: the GPU's (NVML) for a metered GPU run, else the process's RSS.
fn memory_of(gpu_memory: bool, sample_ms: u64, s: &Snapshot) -> (Option<f64>, String) {
    if gpu_memory {
        (
            s.peak_gpu_memory_bytes.map(|b| b as f64 / 1e9),
            "peak GPU memory used (NVML, the run's device, all processes)".into(),
        )
    } else {
        (s.peak_rss_bytes.map(|b| b as f64 / 1e9), format!("peak RSS (VmRSS every {sample_ms} ms)"))
    }
}

/// The resource figures of a finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct MeterReport {
    pub energy_kwh: Option<f64>,
    pub co2_g: Option<f64>,
    pub energy_kwh_low: Option<f64>,
    pub energy_kwh_high: Option<f64>,
    pub co2_g_low: Option<f64>,
    pub co2_g_high: Option<f64>,
    /// Each source's band, e.g. "TDP x load x0.45-1.90".
    pub band_basis: Option<String>,
    pub tdp_basis: Option<String>,
    /// CPU threads the run trained with.
    pub threads: usize,
    pub memory_gb: Option<f64>,
    pub memory_kind: String,
    pub power_source: Option<PowerSource>,
    pub carbon_intensity_g_per_kwh: f64,
    pub prediction: Option<Prediction>,
    pub detail: MeterDetail,
    pub notes: Vec<String>,
    /// The estimate made before the run started (filled by the caller).
    pub estimate: Option<crate::results::estimate::Estimate>,
}

impl MeterReport {
    /// Fills the record's resource fields (and `node`, the host it trained on).
    pub fn apply(&self, record: &mut RunRecord) {
        record.energy_kwh = self.energy_kwh;
        record.co2_g = self.co2_g;
        record.memory_gb = self.memory_gb;
        record.memory_kind = self.memory_gb.map(|_| self.memory_kind.clone());
        record.power_source = self.power_source.clone();
        record.carbon_intensity_g_per_kwh = Some(self.carbon_intensity_g_per_kwh);
        record.meters = Some(self.detail.clone());
        record.prediction = self.prediction.clone();
        record.estimate = self.estimate.clone();
        record.node = process::host_name();
        let m = &mut record.measurement;
        m.energy_kwh_low = self.energy_kwh_low;
        m.energy_kwh_high = self.energy_kwh_high;
        m.co2_g_low = self.co2_g_low;
        m.co2_g_high = self.co2_g_high;
        m.energy_band_basis = self.band_basis.clone();
        m.tdp_basis = self.tdp_basis.clone();
        m.threads = Some(self.threads as u32);
        m.time_scope = Some(TimeScope::WholeRun);
        m.energy_scope = Some(ENERGY_SCOPE_PEPR.into());
        m.energy_includes_pue = Some(false);
    }

    /// The paper's conventions (`--paper-conventions`): energy multiplied by the PUE (as
    /// carbontracker reports it; CO2 is unchanged, it already includes the PUE) and the training
    /// time of the last epoch only (the paper's script resets its timer every epoch).
    pub fn apply_paper_conventions(&self, record: &mut RunRecord, last_epoch_s: Option<f64>) {
        let pue = self.detail.pue.unwrap_or(1.0);
        let scale = |v: &mut Option<f64>| *v = v.map(|e| e * pue);
        scale(&mut record.energy_kwh);
        scale(&mut record.measurement.energy_kwh_low);
        scale(&mut record.measurement.energy_kwh_high);
        record.measurement.energy_includes_pue = Some(true);
        // The same key as the paper's runs, so they compare without a mixed-scope warning; what
        // differs still (pepr meters the CPU or one GPU, carbontracker GPU + CPU) is in the docs.
        record.measurement.energy_scope = Some(ENERGY_SCOPE_CARBONTRACKER.into());
        if let Some(t) = last_epoch_s {
            record.train_time_s = Some(t);
            record.measurement.time_scope = Some(TimeScope::LastEpoch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::source::{FakeSource, Reading};
    use super::*;

    fn fake(name: &str, measured: bool) -> Box<dyn EnergySource> {
        Box::new(FakeSource::new(name, measured, vec![Ok(Reading::default())]))
    }

    #[test]
    fn power_source_labels() {
        assert_eq!(power_source_of(&[]), None);
        assert_eq!(power_source_of(&[fake("RAPL", true)]).unwrap().label(), "measured (RAPL)");
        assert_eq!(power_source_of(&[fake("TDP x load", false)]).unwrap().label(), "estimated (TDP x load)");
        let mixed = power_source_of(&[fake("NVML", true), fake("TDP x load", false)]).unwrap();
        assert_eq!(mixed.label(), "estimated (NVML measured + TDP x load estimated)");
    }

    #[test]
    fn plans_rapl_then_tdp_then_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("intel-rapl:0");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), "package-0").unwrap();
        std::fs::write(d.join("energy_uj"), "5").unwrap();
        let mut settings = MeterSettings { powercap_root: tmp.path().into(), ..MeterSettings::default() };
        let plan = plan_sources(&settings, Backend::Cpu);
        assert_eq!(plan.sources.iter().map(|s| s.name()).collect::<Vec<_>>(), ["RAPL"]);
        settings.powercap_root = tmp.path().join("none");
        settings.cpu_tdp_w = Some(100.0);
        let plan = plan_sources(&settings, Backend::Cpu);
        assert_eq!(plan.sources.iter().map(|s| s.name()).collect::<Vec<_>>(), ["TDP x load"]);
        assert!(plan.notes.iter().any(|n| n.contains("TDP: used, TDP 100 W")), "{:?}", plan.notes);
        settings.cpu_tdp_w = None;
        let plan = plan_sources(&settings, Backend::Cpu);
        if plan.sources.is_empty() {
            assert!(plan.notes.iter().any(|n| n.contains("--cpu-tdp")), "{:?}", plan.notes);
        }
    }

    #[test]
    fn a_metered_run_fills_every_resource_field() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = MeterSettings {
            cpu_tdp_w: Some(50.0),
            powercap_root: tmp.path().join("none"),
            pue: 1.5,
            carbon_intensity: Some("100".into()),
            sample_ms: 10,
            idle_baseline_s: 0.05,
        };
        let mut meters = RunMeters::start(&settings, Backend::Cpu, &Device::flex(), Some(tmp.path()), 2).unwrap();
        meters.set_input("pepr_lenet5", Input { channels: 1, height: 28, width: 28 }, 4);
        // Burn some CPU so the estimate has load to see.
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(150) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        meters.observe(1, 0);
        meters.observe(1, 64);
        let live = meters.live();
        assert_eq!(live.power_label.as_deref(), Some("estimated (TDP x load)"));
        meters.epoch_finished(1);
        let report = meters.finish(100.0);
        let mut record = crate::results::record::sample("a", "g", 0.5, None);
        report.apply(&mut record);
        let e = record.energy_kwh.unwrap();
        assert!(e > 0.0, "{report:?}");
        assert!((record.co2_g.unwrap() - e * 100.0 * 1.5).abs() < 1e-12);
        assert!(record.memory_gb.unwrap() > 0.0 && record.memory_kind.unwrap().contains("RSS"));
        assert_eq!(record.power_source.unwrap().label(), "estimated (TDP x load)");
        assert_eq!(record.carbon_intensity_g_per_kwh, Some(100.0));
        let m = record.meters.unwrap();
        assert!(m.energy_scope.unwrap().contains("training and evaluation"));
        assert!(m.idle_power_w.is_some() && m.energy_net_kwh.unwrap() <= e);
        assert_eq!(m.pue, Some(1.5));
        assert!(m.carbon_intensity_source.unwrap().contains("set by user"));
        let flops = m.train_flops_per_sample.unwrap();
        assert_eq!(m.achieved_flops_per_s, Some(flops * 100.0));
        assert!(m.peak_flops_per_s.unwrap() > 0.0);
        assert!(record.prediction.unwrap().time_s > 0.0);
        assert!(record.node.is_some());
        assert!(flops::cache_path(tmp.path()).exists(), "the peak is cached in the home");
    }

    #[test]
    fn bad_settings_are_refused_before_anything_runs() {
        let bad = MeterSettings { pue: 0.5, ..MeterSettings::default() };
        let err = RunMeters::start(&bad, Backend::Cpu, &Device::flex(), None, 1).err().unwrap();
        assert!(err.contains("--pue"), "{err}");
        let bad = MeterSettings { carbon_intensity: Some("-1".into()), ..MeterSettings::default() };
        assert!(RunMeters::start(&bad, Backend::Cpu, &Device::flex(), None, 1).err().unwrap().contains("intensity"));
    }

    #[test]
    fn live_text_has_units_and_sources() {
        let live = LiveMeters {
            power_w: Some(12.34),
            power_label: Some("estimated (TDP x load)".into()),
            energy_kwh: Some(0.00012),
            co2_g: Some(0.0576),
            flops_per_s: Some(2.5e9),
            share_of_peak: Some(0.125),
            memory_gb: Some(0.25),
            memory_kind: "peak RSS".into(),
            prediction: Some(Prediction { after_epochs: 1, time_s: 100.0, energy_kwh: Some(0.001), co2_g: Some(0.48) }),
            ..LiveMeters::default()
        };
        let s = live.summary();
        for part in
            ["12.3 W estimated (TDP x load)", "1.20e-4 kWh", "5.76e-2 g CO2-eq", "2.500 GFLOP/s (12.5% of peak)"]
        {
            assert!(s.contains(part), "{part} in {s}");
        }
        assert!(
            s.contains("0.25 GB peak RSS") && s.contains("predicted total 100 s, 1.00e-3 kWh, 0.48 g CO2-eq"),
            "{s}"
        );
        assert_eq!(LiveMeters::default().power_text(), "power unknown (no source)");
    }
}
