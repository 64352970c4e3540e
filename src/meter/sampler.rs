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
    /// Energy so far of each source, in the sources' order (for their uncertainty bands).
    pub energy_by_source_j: Vec<f64>,
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
    commands: Sender<Command>,
    thread: Option<JoinHandle<Finished>>,
}

impl Sampler {
    /// Starts sampling `sources` every `interval` (the first sample is taken at once).
    pub fn start(sources: Vec<Box<dyn EnergySource>>, interval: Duration) -> Sampler {
        let shared = Arc::new(Shared { snapshot: Mutex::new(Snapshot::default()), paused: AtomicBool::new(false) });
        let (commands, received) = channel();
        let worker = shared.clone();
        let interval = interval.max(Duration::from_millis(1));
        let thread = std::thread::Builder::new()
            .name("pepr-meter".into())
            .spawn(move || sample_loop(sources, interval, &worker, received))
            .ok();
        Sampler { shared, commands, thread }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A sample taken now (the latest one if the thread cannot answer).
    pub fn sample_now(&self) -> Snapshot {
        let (reply, answer) = channel();
        if self.commands.send(Command::Now(reply)).is_ok()
            && let Ok(snapshot) = answer.recv_timeout(Duration::from_secs(5))
        {
            return snapshot;
        }
        self.snapshot()
    }

    /// While paused, time and energy are not counted (a paused run is not training).
    pub fn set_paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::SeqCst);
    }

    /// Takes a last sample, stops the thread and hands back the sources.
    pub fn stop(mut self) -> Finished {
        let _ = self.commands.send(Command::Stop);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(finished)) => finished,
            _ => Finished { snapshot: self.snapshot(), thread_cpu_s: None, sources: Vec::new() },
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
    }
}

/// What the owner asks of the thread.
enum Command {
    /// Take a sample now and send it back (e.g. at the end of an epoch).
    Now(Sender<Snapshot>),
    Stop,
}

/// The thread's state between samples.
struct State {
    sources: Vec<Box<dyn EnergySource>>,
    integrators: Vec<Integrator>,
    start: Instant,
    last_t: f64,
    snapshot: Snapshot,
}

impl State {
    fn sample(&mut self, shared: &Shared) -> Snapshot {
        let work = Instant::now();
        let t = self.start.elapsed().as_secs_f64();
        let counting = !shared.paused.load(Ordering::SeqCst);
        let s = &mut self.snapshot;
        if counting {
            s.elapsed_s += t - self.last_t;
        }
        self.last_t = t;
        let mut gpu_memory = None;
        for (source, integrator) in self.sources.iter_mut().zip(&mut self.integrators) {
            match source.read() {
                Ok(reading) => {
                    if let Some(m) = reading.memory_bytes {
                        gpu_memory = Some(gpu_memory.unwrap_or(0) + m);
                    }
                    integrator.add(t, reading, counting);
                }
                Err(e) => s.last_error = Some(format!("{}: {e}", source.name())),
            }
        }
        let powers: Vec<f64> = self.integrators.iter().filter_map(|i| i.power_w).collect();
        s.power_w = (!powers.is_empty()).then(|| powers.iter().sum());
        s.energy_j = (!self.sources.is_empty()).then(|| self.integrators.iter().map(|i| i.energy_j).sum());
        s.energy_by_source_j = self.integrators.iter().map(|i| i.energy_j).collect();
        s.rss_bytes = process::rss_bytes();
        s.peak_rss_bytes = s.peak_rss_bytes.max(s.rss_bytes);
        s.gpu_memory_bytes = gpu_memory;
        s.peak_gpu_memory_bytes = s.peak_gpu_memory_bytes.max(gpu_memory);
        s.samples += 1;
        s.busy_s += work.elapsed().as_secs_f64();
        *shared.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = s.clone();
        s.clone()
    }
}

fn sample_loop(
    sources: Vec<Box<dyn EnergySource>>,
    interval: Duration,
    shared: &Shared,
    commands: Receiver<Command>,
) -> Finished {
    let integrators = vec![Integrator::default(); sources.len()];
    let mut state = State { sources, integrators, start: Instant::now(), last_t: 0.0, snapshot: Snapshot::default() };
    state.sample(shared);
    let mut next = Instant::now() + interval;
    loop {
        match commands.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => {
                state.sample(shared);
                let now = Instant::now();
                // A late sample (a busy machine) does not cause a burst of catch-up samples.
                next = (next + interval).max(now + interval / 2);
            }
            Ok(Command::Now(reply)) => {
                let _ = reply.send(state.sample(shared));
            }
            // Stopped, or the owner is gone: one last sample closes the run.
            Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => {
                state.sample(shared);
                break;
            }
        }
    }
    Finished { snapshot: state.snapshot, thread_cpu_s: process::thread_cpu_s(), sources: state.sources }
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
        let now = sampler.sample_now();
        let live = sampler.snapshot();
        assert!(now.samples >= 1 && now.samples <= live.samples, "{now:?}");
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
