//! The estimate used when nothing measures power: the CPU's rated power (TDP) x the share of the
//! machine's CPU time this process used (utime + stime over wall time x logical CPUs, at most 1).
//! Nothing is invented for RAM. A TDP is a thermal design figure, not a measurement: every figure
//! from here is labelled "estimated (TDP x load)".

use std::time::Instant;

use super::process;
use super::source::{EnergySource, Reading};
use super::tdp::TdpStep;

/// A CPU's rated power, where that figure comes from, and the band of the estimate made with it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tdp {
    pub watts: f64,
    pub source: String,
    pub step: TdpStep,
    /// Low and high factors on the estimated energy (see [`super::band`]).
    pub band: (f64, f64),
}

impl Tdp {
    /// A TDP the user gives: the estimate's own band (the TDP is right, TDP x load still is a model).
    pub fn user(watts: f64) -> Tdp {
        Tdp {
            watts,
            source: "set by the user (--cpu-tdp or `pepr config set cpu_tdp_w`)".into(),
            step: TdpStep::User,
            band: super::band::TDP_MODEL,
        }
    }
}

/// The TDP to estimate with: the user's figure wins, then the table's fallback chain (exact model,
/// family median, vendor median; see [`super::tdp::lookup_on`]).
pub fn cpu_tdp(override_w: Option<f64>, cpu_model: Option<&str>) -> Option<Tdp> {
    if let Some(watts) = override_w.filter(|w| w.is_finite() && *w > 0.0) {
        return Some(Tdp::user(watts));
    }
    let t = super::tdp::lookup(cpu_model?)?;
    Some(Tdp { watts: t.watts, source: t.source, step: t.step, band: t.band })
}

/// The process's share of the machine: CPU seconds over wall seconds x logical CPUs, capped at 1.
pub fn cpu_share(cpu_s: f64, wall_s: f64, cpus: usize) -> f64 {
    if wall_s <= 0.0 || cpus == 0 {
        return 0.0;
    }
    (cpu_s / (wall_s * cpus as f64)).clamp(0.0, 1.0)
}

/// Reads (wall seconds, process CPU seconds); replaced by a fake clock in tests.
pub type LoadClock = Box<dyn FnMut() -> Result<(f64, f64), String> + Send>;

/// The real clock: wall time since `start`, CPU time from /proc/self/stat.
pub fn proc_clock() -> LoadClock {
    let start = Instant::now();
    Box::new(move || {
        let cpu = process::process_cpu_s().ok_or("cannot read /proc/self/stat")?;
        Ok((start.elapsed().as_secs_f64(), cpu))
    })
}

/// TDP x load as a source with a cumulative (estimated) energy counter.
pub struct LoadEstimate {
    pub tdp: Tdp,
    cpus: usize,
    /// The run's thread count: a run on fewer threads than CPUs can load at most that share of the
    /// package (the gauge's full scale; the energy follows from the CPU time it really used).
    threads: usize,
    clock: LoadClock,
    last: Option<(f64, f64)>,
    energy_j: f64,
}

impl LoadEstimate {
    pub fn new(tdp: Tdp, cpus: usize, clock: LoadClock) -> LoadEstimate {
        LoadEstimate { tdp, cpus, threads: cpus, clock, last: None, energy_j: 0.0 }
    }

    /// The run trains on `threads` threads (see `train::threads`).
    pub fn with_threads(mut self, threads: usize) -> LoadEstimate {
        self.threads = threads.clamp(1, self.cpus.max(1));
        self
    }
}

impl EnergySource for LoadEstimate {
    fn name(&self) -> &str {
        "TDP x load"
    }

    fn measured(&self) -> bool {
        false
    }

    fn read(&mut self) -> Result<Reading, String> {
        let (wall, cpu) = (self.clock)()?;
        let mut power_w = None;
        if let Some((wall0, cpu0)) = self.last {
            let dt = wall - wall0;
            if dt > 0.0 {
                let watts = self.tdp.watts * cpu_share(cpu - cpu0, dt, self.cpus);
                self.energy_j += watts * dt;
                power_w = Some(watts);
            }
        }
        self.last = Some((wall, cpu));
        Ok(Reading { power_w, energy_j: Some(self.energy_j), memory_bytes: None })
    }

    fn detail(&self) -> String {
        let threads =
            if self.threads < self.cpus { format!(" (the run uses {} of them)", self.threads) } else { String::new() };
        format!(
            "TDP {} W ({}) x process CPU share over {} logical CPUs{threads}",
            (self.tdp.watts * 10.0).round() / 10.0,
            self.tdp.source,
            self.cpus
        )
    }

    fn full_scale_w(&self) -> Option<f64> {
        Some(self.tdp.watts * self.threads as f64 / self.cpus.max(1) as f64)
    }

    fn band(&self) -> (f64, f64) {
        self.tdp.band
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_is_capped_and_safe() {
        assert_eq!(cpu_share(1.0, 1.0, 2), 0.5);
        assert_eq!(cpu_share(5.0, 1.0, 2), 1.0);
        assert_eq!(cpu_share(1.0, 0.0, 2), 0.0);
        assert_eq!(cpu_share(-1.0, 1.0, 2), 0.0);
    }

    #[test]
    fn estimates_tdp_times_load_on_a_fake_clock() {
        // Wall 0, 1, 2, 3 s; CPU 0, 2, 3, 3 s on 4 CPUs: shares 0.5, 0.25, 0 of 100 W.
        let mut ticks = vec![(0.0, 0.0), (1.0, 2.0), (2.0, 3.0), (3.0, 3.0)].into_iter();
        let clock: LoadClock = Box::new(move || ticks.next().ok_or_else(|| "done".to_string()));
        let tdp = Tdp { watts: 100.0, source: "test".into(), step: TdpStep::User, band: (0.5, 2.0) };
        let mut est = LoadEstimate::new(tdp, 4, clock);
        assert_eq!(est.read().unwrap().power_w, None, "the first reading has no interval yet");
        assert_eq!(est.read().unwrap().power_w, Some(50.0));
        assert_eq!(est.read().unwrap().power_w, Some(25.0));
        let last = est.read().unwrap();
        assert_eq!((last.power_w, last.energy_j), (Some(0.0), Some(75.0)));
        assert!(!est.measured() && est.detail().contains("TDP 100 W (test)"));
        assert_eq!(est.band(), (0.5, 2.0));
        assert_eq!(est.full_scale_w(), Some(100.0));
        let one = LoadEstimate::new(est.tdp.clone(), 4, Box::new(|| Ok((0.0, 0.0)))).with_threads(1);
        assert_eq!(one.full_scale_w(), Some(25.0));
        assert!(one.detail().contains("the run uses 1 of them"), "{}", one.detail());
        assert!(est.read().is_err());
    }

    #[test]
    fn the_users_tdp_wins_and_no_tdp_means_no_estimate() {
        let t = cpu_tdp(Some(65.0), Some("Some CPU")).unwrap();
        assert_eq!(t.watts, 65.0);
        assert!(t.source.contains("user") && t.step == TdpStep::User);
        assert_eq!(t.band, super::super::band::TDP_MODEL);
        assert_eq!(cpu_tdp(Some(0.0), None), None);
        assert_eq!(cpu_tdp(None, None), None);
    }
}
