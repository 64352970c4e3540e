//! The FLOP meter: training FLOPs per sample from the catalog's analytic count (3 x forward, an
//! estimate) x measured samples per second = achieved FLOP/s, and its share of the device's peak.
//! The peak is measured by a short matrix-multiply benchmark at every run, and the best measurement
//! is kept per backend, device and thread count in the home (`peak_flops.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use serde::{Deserialize, Serialize};

/// Achieved FLOP/s from samples counted against a clock the caller gives (seconds, any origin).
#[derive(Clone, Debug, PartialEq)]
pub struct FlopMeter {
    /// Training FLOPs per sample: 3 x the analytic forward FLOPs.
    pub train_flops_per_sample: f64,
    pub peak_flops_per_s: Option<f64>,
    first: Option<(f64, u64)>,
    last: Option<(f64, u64)>,
}

impl FlopMeter {
    pub fn new(train_flops_per_sample: f64, peak_flops_per_s: Option<f64>) -> FlopMeter {
        FlopMeter { train_flops_per_sample, peak_flops_per_s, first: None, last: None }
    }

    /// `samples` trained in total by time `t`.
    pub fn observe(&mut self, t: f64, samples: u64) {
        if self.first.is_none() {
            self.first = Some((t, samples));
        }
        self.last = Some((t, samples));
    }

    /// Samples per second between the first and the last observation.
    pub fn samples_per_s(&self) -> Option<f64> {
        let ((t0, n0), (t1, n1)) = (self.first?, self.last?);
        (t1 > t0).then(|| (n1 - n0) as f64 / (t1 - t0))
    }

    /// Achieved FLOP/s at a rate of `samples_per_s`.
    pub fn flops_at(&self, samples_per_s: f64) -> f64 {
        self.train_flops_per_sample * samples_per_s
    }

    pub fn achieved_flops_per_s(&self) -> Option<f64> {
        self.samples_per_s().map(|r| self.flops_at(r))
    }

    /// The achieved figure as a share of the peak (0.25 = 25%).
    pub fn share_of_peak(&self, achieved: f64) -> Option<f64> {
        self.peak_flops_per_s.filter(|p| *p > 0.0).map(|p| achieved / p)
    }
}

/// Matrix size and repetitions of the peak benchmark.
pub const PEAK_MATRIX: usize = 1024;
pub const PEAK_REPS: usize = 4;

/// Below this share of its threads' time the benchmark ran on a busy machine and its figure is low.
pub const CONTENDED_BELOW: f64 = 0.7;

/// One run of the peak benchmark.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeakSample {
    pub flops_per_s: f64,
    /// CPU time the process got during the best product over its wall time x the threads (1.0:
    /// every thread ran throughout; lower when other processes had the cores). None where the
    /// product does not run on the CPU's threads (a GPU) or the clock cannot be read.
    pub cpu_share: Option<f64>,
}

impl PeakSample {
    pub fn contended(&self) -> bool {
        self.cpu_share.is_some_and(|s| s < CONTENDED_BELOW)
    }
}

/// Best FLOP/s of `reps` n x n f32 matrix products on `device` (one warm-up first): 2n³ per
/// product. `cpu_threads`: the threads a CPU backend computes with, to measure contention.
pub fn measure_peak(device: &Device, n: usize, reps: usize, cpu_threads: Option<usize>) -> PeakSample {
    let a = Tensor::<2>::random([n, n], Distribution::Default, device);
    let b = Tensor::<2>::random([n, n], Distribution::Default, device);
    let mut best = f64::INFINITY;
    let mut cpu_share = None;
    for rep in 0..=reps {
        let cpu_start = crate::meter::process::process_cpu_s_precise();
        let start = Instant::now();
        // Reading one value back waits for the product on any backend.
        let c = a.clone().matmul(b.clone());
        let _ = c.slice([0..1, 0..1]).into_scalar::<f32>();
        let s = start.elapsed().as_secs_f64();
        let cpu_end = crate::meter::process::process_cpu_s_precise();
        if rep > 0 && s < best {
            best = s;
            cpu_share = match (cpu_threads, cpu_start, cpu_end) {
                (Some(t), Some(c0), Some(c1)) if t > 0 && s > 0.0 => Some((c1 - c0) / (s * t as f64)),
                _ => None,
            };
        }
    }
    PeakSample { flops_per_s: 2.0 * (n as f64).powi(3) / best.max(1e-9), cpu_share }
}

/// One cached peak: the best measurement so far under its key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeakEntry {
    pub flops_per_s: f64,
    pub matrix: usize,
    pub reps: usize,
    /// When the best figure was measured.
    pub measured_at: String,
    /// The best figure's CPU share (see [`PeakSample`]); absent in caches written before it was kept.
    #[serde(default)]
    pub cpu_share: Option<f64>,
    /// How many times the peak was measured under this key (1 for caches from before the count).
    #[serde(default = "one")]
    pub measurements: u32,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PeakFile {
    entries: BTreeMap<String, PeakEntry>,
}

/// A device's peak and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Peak {
    /// The best of every measurement under the key: what the device reaches when nothing else runs.
    pub flops_per_s: f64,
    /// This session's measurement.
    pub now: PeakSample,
    /// How many measurements the best is taken over, this one included.
    pub measurements: u32,
    /// When the best was measured (RFC 3339).
    pub best_at: String,
    /// The best figure's CPU share, where known.
    pub best_cpu_share: Option<f64>,
    /// A cache problem that was reported and worked around.
    pub warning: Option<String>,
    pub key: String,
}

impl Peak {
    fn from_sample(now: PeakSample, key: &str) -> Peak {
        Peak {
            flops_per_s: now.flops_per_s,
            now,
            measurements: 1,
            best_at: now_rfc3339(),
            best_cpu_share: now.cpu_share,
            warning: None,
            key: key.to_string(),
        }
    }

    /// Where the figure comes from: "measured now" or "best of 5 measurements (2026-11-30T14:10:00Z)".
    pub fn how(&self) -> String {
        if self.measurements <= 1 {
            "measured now".into()
        } else if self.now.flops_per_s >= self.flops_per_s {
            format!("measured now, the best of {} measurements", self.measurements)
        } else {
            format!(
                "best of {} measurements ({}); now {:.2} GFLOP/s",
                self.measurements,
                self.best_at,
                self.now.flops_per_s / 1e9
            )
        }
    }

    /// Said when the best figure itself was measured on a busy machine: it may be low, so a share
    /// of it reads high until a quieter session measures a better one (which replaces it).
    pub fn caution(&self) -> Option<String> {
        let share = self.best_cpu_share.filter(|s| *s < CONTENDED_BELOW)?;
        Some(format!(
            "the peak FLOP/s was measured while other processes had the CPU (its threads got {:.0}% of their \
             time), so it may be low and \"% of peak\" high; every run measures it again and keeps the best",
            share * 100.0
        ))
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The cache file in a home.
pub fn cache_path(home: &Path) -> PathBuf {
    home.join("peak_flops.json")
}

/// The key a peak is cached under.
pub fn cache_key(backend: &str, device: &str, threads: usize) -> String {
    format!("{backend} | {device} | {threads} threads")
}

/// Measures the peak now and returns the best of this and every earlier measurement cached under
/// `key` (stored back, temp + rename). Measuring every time costs a few tenths of a second; it
/// means one measurement taken on a busy machine (which only ever reads low) cannot stick, as a
/// plain cache made it do. A cache file that cannot be read or parsed is reported in `warning`
/// and replaced.
pub fn peak(cache: &Path, key: &str, measure: impl FnOnce() -> PeakSample) -> Peak {
    let mut warning = None;
    let mut file = match std::fs::read_to_string(cache) {
        Ok(text) => match serde_json::from_str::<PeakFile>(&text) {
            Ok(file) => file,
            Err(e) => {
                warning = Some(format!("{}: not a peak FLOP/s cache ({e}); measuring again", cache.display()));
                PeakFile::default()
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => PeakFile::default(),
        Err(e) => {
            warning = Some(format!("cannot read {}: {e}; measuring again", cache.display()));
            PeakFile::default()
        }
    };
    let now = measure();
    let before = file.entries.get(key).filter(|e| e.flops_per_s.is_finite() && e.flops_per_s > 0.0).cloned();
    let mut result = Peak::from_sample(now, key);
    result.warning = warning;
    let entry = match before {
        Some(best) if best.flops_per_s >= now.flops_per_s || !now.flops_per_s.is_finite() => {
            result.flops_per_s = best.flops_per_s;
            result.best_at = best.measured_at.clone();
            result.best_cpu_share = best.cpu_share;
            result.measurements = best.measurements.saturating_add(1);
            PeakEntry { measurements: result.measurements, ..best }
        }
        earlier => {
            result.measurements = earlier.map_or(1, |e| e.measurements.saturating_add(1));
            PeakEntry {
                flops_per_s: now.flops_per_s,
                matrix: PEAK_MATRIX,
                reps: PEAK_REPS,
                measured_at: result.best_at.clone(),
                cpu_share: now.cpu_share,
                measurements: result.measurements,
            }
        }
    };
    file.entries.insert(key.to_string(), entry);
    if let Err(e) = write_atomically(cache, &serde_json::to_string_pretty(&file).unwrap_or_default()) {
        let note = format!("cannot save the peak FLOP/s cache {}: {e}", cache.display());
        result.warning = Some(result.warning.map_or(note.clone(), |w| format!("{w}; {note}")));
    }
    result
}

/// A peak measured now, with no cache to keep (no home).
pub fn peak_uncached(key: &str, measure: impl FnOnce() -> PeakSample) -> Peak {
    Peak::from_sample(measure(), key)
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn achieved_flops_on_a_fake_clock() {
        // 1 MFLOP per sample, 50% of a 400 MFLOP/s peak at 200 samples/s.
        let mut meter = FlopMeter::new(1e6, Some(4e8));
        assert_eq!(meter.achieved_flops_per_s(), None, "no rate before two observations");
        meter.observe(10.0, 0);
        meter.observe(12.0, 400);
        meter.observe(15.0, 1000);
        assert_eq!(meter.samples_per_s(), Some(200.0));
        let achieved = meter.achieved_flops_per_s().unwrap();
        assert_eq!(achieved, 2e8);
        assert_eq!(meter.share_of_peak(achieved), Some(0.5));
        assert_eq!(FlopMeter::new(1e6, None).share_of_peak(achieved), None);
    }

    fn sample(flops_per_s: f64, cpu_share: f64) -> PeakSample {
        PeakSample { flops_per_s, cpu_share: Some(cpu_share) }
    }

    #[test]
    fn the_peak_is_the_best_measurement_and_a_bad_cache_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_path(tmp.path());
        let key = cache_key("flex (CPU)", "cpu", 2);
        let first = peak(&cache, &key, || sample(1e9, 0.95));
        assert_eq!((first.flops_per_s, first.how(), first.warning.clone()), (1e9, "measured now".into(), None));
        assert_eq!(first.caution(), None, "measured on a quiet machine");
        // A later measurement on a busy machine reads low: the best stays.
        let busy = peak(&cache, &key, || sample(2e8, 0.3));
        assert_eq!((busy.flops_per_s, busy.measurements, busy.now.flops_per_s), (1e9, 2, 2e8));
        assert!(busy.now.contended());
        assert!(
            busy.how().starts_with("best of 2 measurements (") && busy.how().ends_with("now 0.20 GFLOP/s"),
            "{}",
            busy.how()
        );
        // A better one replaces it.
        let better = peak(&cache, &key, || sample(3e9, 1.0));
        assert_eq!((better.flops_per_s, better.measurements), (3e9, 3));
        assert_eq!(better.how(), "measured now, the best of 3 measurements");
        let other = peak(&cache, &cache_key("flex (CPU)", "cpu", 4), || sample(2e9, 1.0));
        assert_eq!((other.flops_per_s, other.measurements), (2e9, 1), "keys are separate");
        assert_eq!(peak(&cache, &key, || sample(0.0, 1.0)).flops_per_s, 3e9, "other keys are kept");

        std::fs::write(&cache, "{ not json").unwrap();
        let bad = peak(&cache, &key, || sample(5e8, 1.0));
        assert_eq!((bad.flops_per_s, bad.how()), (5e8, "measured now".into()));
        assert!(bad.warning.unwrap().contains("peak_flops.json"));
        assert_eq!(peak(&cache, &key, || sample(0.0, 1.0)).flops_per_s, 5e8, "the bad file was replaced");
    }

    #[test]
    fn a_peak_first_measured_on_a_busy_machine_is_flagged_until_beaten() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_path(tmp.path());
        // A cache written before the CPU share and count were kept, with a low figure.
        std::fs::write(
            &cache,
            r#"{"entries":{"k":{"flops_per_s":9.4e9,"matrix":1024,"reps":4,"measured_at":"2026-11-30T04:50:00Z"}}}"#,
        )
        .unwrap();
        let old = peak(&cache, "k", || sample(8e9, 0.4));
        assert_eq!((old.flops_per_s, old.measurements, old.best_cpu_share), (9.4e9, 2, None));
        assert_eq!(old.caution(), None, "unknown contention is not claimed");
        let busy = peak(&cache, "k", || sample(2e10, 0.5));
        assert_eq!(busy.flops_per_s, 2e10);
        assert!(busy.caution().unwrap().contains("got 50% of their time"), "{:?}", busy.caution());
        let quiet = peak(&cache, "k", || sample(9e10, 0.97));
        assert_eq!((quiet.flops_per_s, quiet.measurements, quiet.caution()), (9e10, 4, None));
    }

    #[test]
    fn measures_a_small_matmul() {
        let peak = measure_peak(&Device::flex(), 128, 2, Some(rayon::current_num_threads()));
        assert!(peak.flops_per_s.is_finite() && peak.flops_per_s > 1e6, "{peak:?}");
        assert!(peak.cpu_share.is_some_and(|s| s > 0.0), "{peak:?}");
        assert_eq!(measure_peak(&Device::flex(), 16, 1, None).cpu_share, None);
    }
}
