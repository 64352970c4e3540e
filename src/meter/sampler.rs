//! The sampler thread: owns the power sources, reads them every interval (default 200 ms),
//! integrates them into energy, tracks the process's peak resident memory (VmRSS sampled; VmHWM is
//! lifetime-wide) and the GPU's peak memory, and publishes a [`Snapshot`] the training worker reads.
//! It also times its own work, so its cost can be reported.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::integrate::Integrator;
use super::process;
use super::source::EnergySource;

pub const DEFAULT_INTERVAL_MS: u64 = 200;

/// What the sampler knows at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Seconds counted (pauses left out).
    pub elapsed_s: f64,
    /// Sum of the sources' latest power, watts; `None` before any source gave one.
    pub power_w: Option<f64>,
    /// Energy so far over every source, joules; `None` when there is no source.
    pub energy_j: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub peak_rss_bytes: Option<u64>,
    pub gpu_memory_bytes: Option<u64>,
    pub peak_gpu_memory_bytes: Option<u64>,
    /// Samples taken.
    pub samples: u64,
    /// Wall seconds the sampler spent reading sources (its cost).
    pub busy_s: f64,
    /// The last error a source gave, if any.
    pub last_error: Option<String>,
}

struct Shared {
    snapshot: Mutex<Snapshot>,
    paused: AtomicBool,
}

/// What the thread hands back when stopped.
pub struct Finished {
    pub snapshot: Snapshot,
    /// CPU seconds the sampler thread used (from /proc/thread-self/stat).
    pub thread_cpu_s: Option<f64>,
    pub sources: Vec<Box<dyn EnergySource>>,
}

pub struct Sampler {
    shared: Arc<Shared>,
    stop: Sender<()>,
    thread: Option<JoinHandle<Finished>>,
}

impl Sampler {
    /// Starts sampling `sources` every `interval` (the first sample is taken at once).
    pub fn start(sources: Vec<Box<dyn EnergySource>>, interval: Duration) -> Sampler {
        let shared = Arc::new(Shared { snapshot: Mutex::new(Snapshot::default()), paused: AtomicBool::new(false) });
        let (stop, stopped) = channel();
        let worker = shared.clone();
        let interval = interval.max(Duration::from_millis(1));
        let thread = std::thread::Builder::new()
            .name("pepr-meter".into())
            .spawn(move || sample_loop(sources, interval, &worker, stopped))
            .ok();
        Sampler { shared, stop, thread }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// While paused, time and energy are not counted (a paused run is not training).
    pub fn set_paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::SeqCst);
    }

    /// Takes a last sample, stops the thread and hands back the sources.
    pub fn stop(mut self) -> Finished {
        let _ = self.stop.send(());
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(finished)) => finished,
            _ => Finished { snapshot: self.snapshot(), thread_cpu_s: None, sources: Vec::new() },
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}

fn sample_loop(
    mut sources: Vec<Box<dyn EnergySource>>,
    interval: Duration,
    shared: &Shared,
    stopped: Receiver<()>,
) -> Finished {
    let mut integrators = vec![Integrator::default(); sources.len()];
    let start = Instant::now();
    let mut last_t = 0.0f64;
    let mut state = Snapshot::default();
    loop {
        let work = Instant::now();
        let t = start.elapsed().as_secs_f64();
        let counting = !shared.paused.load(Ordering::SeqCst);
        if counting {
            state.elapsed_s += t - last_t;
        }
        last_t = t;
        let mut gpu_memory = None;
        for (source, integrator) in sources.iter_mut().zip(&mut integrators) {
            match source.read() {
                Ok(reading) => {
                    if let Some(m) = reading.memory_bytes {
                        gpu_memory = Some(gpu_memory.unwrap_or(0) + m);
                    }
                    integrator.add(t, reading, counting);
                }
                Err(e) => state.last_error = Some(format!("{}: {e}", source.name())),
            }
        }
        let powers: Vec<f64> = integrators.iter().filter_map(|i| i.power_w).collect();
        state.power_w = (!powers.is_empty()).then(|| powers.iter().sum());
        state.energy_j = (!sources.is_empty()).then(|| integrators.iter().map(|i| i.energy_j).sum());
        state.rss_bytes = process::rss_bytes();
        state.peak_rss_bytes = state.peak_rss_bytes.max(state.rss_bytes);
        state.gpu_memory_bytes = gpu_memory;
        state.peak_gpu_memory_bytes = state.peak_gpu_memory_bytes.max(gpu_memory);
        state.samples += 1;
        state.busy_s += work.elapsed().as_secs_f64();
        *shared.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = state.clone();
        match stopped.recv_timeout(interval.saturating_sub(work.elapsed())) {
            Err(RecvTimeoutError::Timeout) => continue,
            // Stopped (or the owner is gone): the sample above was the last one wanted... unless
            // time has passed since it, so take a final one first.
            _ => {
                if start.elapsed().as_secs_f64() - t > 0.001 {
                    final_sample(&mut sources, &mut integrators, start, &mut last_t, shared, &mut state);
                }
                break;
            }
        }
    }
    Finished { snapshot: state, thread_cpu_s: process::thread_cpu_s(), sources }
}

fn final_sample(
    sources: &mut [Box<dyn EnergySource>],
    integrators: &mut [Integrator],
    start: Instant,
    last_t: &mut f64,
    shared: &Shared,
    state: &mut Snapshot,
) {
    let work = Instant::now();
    let t = start.elapsed().as_secs_f64();
    let counting = !shared.paused.load(Ordering::SeqCst);
    if counting {
        state.elapsed_s += t - *last_t;
    }
    *last_t = t;
    for (source, integrator) in sources.iter_mut().zip(integrators.iter_mut()) {
        if let Ok(reading) = source.read() {
            integrator.add(t, reading, counting);
        }
    }
    state.energy_j = (!sources.is_empty()).then(|| integrators.iter().map(|i| i.energy_j).sum());
    state.samples += 1;
    state.busy_s += work.elapsed().as_secs_f64();
    *shared.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = state.clone();
}

#[cfg(test)]
mod tests {
    use super::super::source::{FakeSource, Reading};
    use super::*;

    #[test]
    fn samples_publishes_and_hands_back_its_sources() {
        let fake = FakeSource::new("fake", true, vec![Ok(Reading { power_w: Some(40.0), ..Reading::default() })]);
        let sampler = Sampler::start(vec![Box::new(fake)], Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(100));
        let live = sampler.snapshot();
        assert!(live.samples >= 2 && live.power_w == Some(40.0), "{live:?}");
        assert!(live.peak_rss_bytes.unwrap() > 0);
        let done = sampler.stop();
        let s = done.snapshot;
        // Constant 40 W: energy = 40 W x the time counted.
        assert!((s.energy_j.unwrap() - 40.0 * s.elapsed_s).abs() < 1e-3, "{s:?}");
        assert!(s.elapsed_s >= 0.09 && done.sources.len() == 1);
        assert!(s.busy_s < s.elapsed_s);
    }

    #[test]
    fn no_source_means_unknown_energy_not_zero() {
        let sampler = Sampler::start(Vec::new(), Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(20));
        let s = sampler.stop().snapshot;
        assert_eq!(s.energy_j, None);
        assert_eq!(s.power_w, None);
        assert!(s.peak_rss_bytes.is_some());
    }

    #[test]
    fn paused_time_counts_neither_time_nor_energy() {
        let fake = FakeSource::new("fake", true, vec![Ok(Reading { power_w: Some(10.0), ..Reading::default() })]);
        let sampler = Sampler::start(vec![Box::new(fake)], Duration::from_millis(5));
        sampler.set_paused(true);
        std::thread::sleep(Duration::from_millis(60));
        let s = sampler.stop().snapshot;
        assert!(s.elapsed_s < 0.03, "{s:?}");
        assert!(s.energy_j.unwrap() < 0.3, "{s:?}");
    }
}
