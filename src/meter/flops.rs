//! The FLOP meter: training FLOPs per sample from the catalog's analytic count (3 x forward, an
//! estimate) x measured samples per second = achieved FLOP/s, and its share of the device's peak.
//! The peak is measured by a short matrix-multiply benchmark and cached per backend, device and
//! thread count in the home (`peak_flops.json`).

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

/// Best FLOP/s of `reps` n x n f32 matrix products on `device` (one warm-up first): 2n³ per product.
pub fn measure_peak(device: &Device, n: usize, reps: usize) -> f64 {
    let a = Tensor::<2>::random([n, n], Distribution::Default, device);
    let b = Tensor::<2>::random([n, n], Distribution::Default, device);
    let mut best = f64::INFINITY;
    for rep in 0..=reps {
        let start = Instant::now();
        // Reading one value back waits for the product on any backend.
        let c = a.clone().matmul(b.clone());
        let _ = c.slice([0..1, 0..1]).into_scalar::<f32>();
        let s = start.elapsed().as_secs_f64();
        if rep > 0 {
            best = best.min(s);
        }
    }
    2.0 * (n as f64).powi(3) / best.max(1e-9)
}

/// One cached peak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeakEntry {
    pub flops_per_s: f64,
    pub matrix: usize,
    pub reps: usize,
    pub measured_at: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PeakFile {
    entries: BTreeMap<String, PeakEntry>,
}

/// Where the peak came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Peak {
    pub flops_per_s: f64,
    /// "cached" or "measured now".
    pub how: &'static str,
    /// A cache problem that was reported and worked around.
    pub warning: Option<String>,
    pub key: String,
}

/// The cache file in a home.
pub fn cache_path(home: &Path) -> PathBuf {
    home.join("peak_flops.json")
}

/// The key a peak is cached under.
pub fn cache_key(backend: &str, device: &str, threads: usize) -> String {
    format!("{backend} | {device} | {threads} threads")
}

/// The cached peak for `key`, or a fresh measurement (stored back, temp + rename). A cache file
/// that cannot be read or parsed is reported in `warning`, measured again and replaced.
pub fn peak(cache: &Path, key: &str, measure: impl FnOnce() -> f64) -> Peak {
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
    if let Some(entry) = file.entries.get(key).filter(|e| e.flops_per_s.is_finite() && e.flops_per_s > 0.0) {
        return Peak { flops_per_s: entry.flops_per_s, how: "cached", warning, key: key.to_string() };
    }
    let flops_per_s = measure();
    file.entries.insert(
        key.to_string(),
        PeakEntry {
            flops_per_s,
            matrix: PEAK_MATRIX,
            reps: PEAK_REPS,
            measured_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
    );
    if let Err(e) = write_atomically(cache, &serde_json::to_string_pretty(&file).unwrap_or_default()) {
        let note = format!("cannot save the peak FLOP/s cache {}: {e}", cache.display());
        warning = Some(warning.map_or(note.clone(), |w| format!("{w}; {note}")));
    }
    Peak { flops_per_s, how: "measured now", warning, key: key.to_string() }
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

    #[test]
    fn the_peak_is_cached_and_a_bad_cache_is_measured_again() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_path(tmp.path());
        let key = cache_key("flex (CPU)", "cpu", 2);
        let first = peak(&cache, &key, || 1e9);
        assert_eq!((first.flops_per_s, first.how, first.warning.clone()), (1e9, "measured now", None));
        let again = peak(&cache, &key, || panic!("must come from the cache"));
        assert_eq!((again.flops_per_s, again.how), (1e9, "cached"));
        let other = peak(&cache, &cache_key("flex (CPU)", "cpu", 4), || 2e9);
        assert_eq!(other.how, "measured now");
        assert_eq!(peak(&cache, &key, || 0.0).flops_per_s, 1e9, "other keys are kept");

        std::fs::write(&cache, "{ not json").unwrap();
        let bad = peak(&cache, &key, || 3e9);
        assert_eq!((bad.flops_per_s, bad.how), (3e9, "measured now"));
        assert!(bad.warning.unwrap().contains("peak_flops.json"));
        assert_eq!(peak(&cache, &key, || 0.0).flops_per_s, 3e9, "the bad file was replaced");
    }

    #[test]
    fn measures_a_small_matmul() {
        let flops = measure_peak(&Device::flex(), 64, 2);
        assert!(flops.is_finite() && flops > 1e6, "{flops}");
    }
}
