//! Energy from a stream of readings of one source: counter deltas where the source has a counter,
//! otherwise the trapezoid rule over its power samples. Intervals marked as not counted (a paused
//! run) add nothing.

use super::source::Reading;

#[derive(Clone, Debug, Default)]
pub struct Integrator {
    last: Option<(f64, Reading)>,
    /// Joules counted so far.
    pub energy_j: f64,
    /// Some interval was counted (so `energy_j` means something).
    pub counted_any: bool,
    /// The most recent power figure: the source's own, or the counter's rate over the last interval.
    pub power_w: Option<f64>,
}

impl Integrator {
    /// Adds a reading taken at `t` seconds (any origin, increasing).
    pub fn add(&mut self, t: f64, reading: Reading, counting: bool) {
        if reading.power_w.is_none() && reading.energy_j.is_none() {
            return; // nothing to integrate: the next reading bridges the gap
        }
        if let Some((t0, prev)) = &self.last {
            let dt = t - t0;
            if dt > 0.0 {
                let delta = match (prev.energy_j, reading.energy_j, prev.power_w, reading.power_w) {
                    // Counters win: a source that has one reports the energy itself.
                    (Some(e0), Some(e1), _, _) => Some((e1 - e0).max(0.0)),
                    (_, _, Some(p0), Some(p1)) => Some((p0 + p1) / 2.0 * dt),
                    _ => None,
                };
                if let Some(delta) = delta {
                    if counting {
                        self.energy_j += delta;
                        self.counted_any = true;
                    }
                    self.power_w = reading.power_w.or(Some(delta / dt));
                }
            }
        } else {
            self.power_w = reading.power_w;
        }
        self.last = Some((t, reading));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn power(w: f64) -> Reading {
        Reading { power_w: Some(w), ..Reading::default() }
    }

    #[test]
    fn constant_power_integrates_to_power_times_time() {
        let mut i = Integrator::default();
        for s in 0..=10 {
            i.add(s as f64, power(100.0), true);
        }
        assert!((i.energy_j - 1000.0).abs() < 1e-9);
        assert_eq!(i.power_w, Some(100.0));
    }

    #[test]
    fn a_linear_ramp_is_exact_under_the_trapezoid_rule() {
        // 0 -> 100 W over 10 s, sampled every 0.2 s: 500 J.
        let mut i = Integrator::default();
        for k in 0..=50 {
            let t = k as f64 * 0.2;
            i.add(t, power(10.0 * t), true);
        }
        assert!((i.energy_j - 500.0).abs() < 1e-9, "{}", i.energy_j);
    }

    #[test]
    fn a_sine_is_close_at_fine_sampling() {
        // 50 + 50 sin(t) over one period of 2π s: 100π J.
        let mut i = Integrator::default();
        let n = 1000;
        for k in 0..=n {
            let t = k as f64 * std::f64::consts::TAU / n as f64;
            i.add(t, power(50.0 + 50.0 * t.sin()), true);
        }
        assert!((i.energy_j - 100.0 * std::f64::consts::PI).abs() < 1e-6, "{}", i.energy_j);
    }

    #[test]
    fn counters_win_over_power_and_pauses_count_nothing() {
        let mut i = Integrator::default();
        // The power samples say 1000 W, the counter says 10 J/s: the counter wins.
        let r = |t: f64| Reading { power_w: Some(1000.0), energy_j: Some(5000.0 + 10.0 * t), memory_bytes: None };
        i.add(0.0, r(0.0), true);
        i.add(1.0, r(1.0), true);
        i.add(2.0, r(2.0), false); // paused
        i.add(3.0, r(3.0), true);
        assert!((i.energy_j - 20.0).abs() < 1e-9, "{}", i.energy_j);
        let mut i = Integrator::default();
        i.add(0.0, Reading { energy_j: Some(0.0), ..Reading::default() }, true);
        i.add(2.0, Reading { energy_j: Some(50.0), ..Reading::default() }, true);
        assert_eq!(i.power_w, Some(25.0), "a counter alone gives the rate over the interval");
    }

    #[test]
    fn a_missing_sample_is_bridged() {
        let mut i = Integrator::default();
        i.add(0.0, power(10.0), true);
        i.add(1.0, Reading::default(), true); // a read that carried nothing
        i.add(2.0, power(10.0), true);
        assert!((i.energy_j - 20.0).abs() < 1e-9, "{}", i.energy_j);
    }
}
