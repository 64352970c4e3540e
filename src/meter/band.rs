//! Uncertainty bands on energy (and so CO2): each source's energy is multiplied by a low and a high
//! factor, and a run's bounds are the sums over its sources. The factors are assumptions taken from
//! published validations, not measured here (no machine here has RAPL or a GPU); the record keeps
//! the basis beside the bounds.
//!
//! - **Counters** (RAPL, NVML's energy counter): ±10%. RAPL readings track plug power closely
//!   (Khan et al., "RAPL in Action", ACM TOMPECS 3(2), 2018; Hackenberg et al., "Power measurement
//!   techniques on standard compute nodes: a quantitative comparison", ISPASS 2013, against a
//!   calibrated power analyser), yet on-chip sensors still deviate from an external meter on dynamic
//!   energy (Fahad et al., "A comparative study of methods for measurement of energy of computing",
//!   Energies 12(11):2204, 2019). A counter sees its own domain only (package, DRAM, one GPU board),
//!   so the band covers the sensor, not the rest of the machine.
//! - **NVML power integrated** (no energy counter, pre-Volta): ±20%. nvidia-smi/NVML power is an
//!   average over part of each window: on A100/H100 only about 25% of the runtime is sampled, and
//!   external-meter comparisons found errors that good practice cut by 35% on average (Yang et al.,
//!   "Accurate and convenient energy measurements for GPUs", SC24, arXiv:2312.02741).
//! - **TDP x load**: 0.6-1.4 for an exact model (or a TDP the user gives). Estimates from rated
//!   power make errors of up to 40% against ground-truth meters (Fischer, "Ground-truthing AI energy
//!   consumption: validating CodeCarbon against external measurements", arXiv:2509.22092, 2025);
//!   CodeCarbon itself falls back to 50% of TDP when it cannot measure (mlco2/codecarbon#524). A
//!   family or vendor median widens this by the spread of that family's watts per thread in the
//!   table (10th and 90th percentile over the median), see [`super::tdp`].

/// Low and high factors of a counter (RAPL, NVML energy counter).
pub const COUNTER: (f64, f64) = (0.9, 1.1);
/// Low and high factors of integrated NVML power (no energy counter).
pub const NVML_POWER: (f64, f64) = (0.8, 1.2);
/// Low and high factors of TDP x load with the model's own TDP.
pub const TDP_MODEL: (f64, f64) = (0.6, 1.4);

/// A run's energy with its bounds, in the unit of `value`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// Sums per-source energies with their factors: `(energy, (low factor, high factor))`.
pub fn combine(parts: &[(f64, (f64, f64))]) -> Option<Bounds> {
    if parts.is_empty() {
        return None;
    }
    let value = parts.iter().map(|(e, _)| e).sum();
    let low = parts.iter().map(|(e, (l, _))| e * l).sum();
    let high = parts.iter().map(|(e, (_, h))| e * h).sum();
    Some(Bounds { value, low, high })
}

/// "0.012 kWh, 0.005-0.035": a figure with its band, in the figure's own format.
pub fn with_band(value: f64, low: Option<f64>, high: Option<f64>, format: fn(f64) -> String) -> String {
    match (low, high) {
        (Some(l), Some(h)) => {
            let (l, h) = (format(l), format(h));
            // "0.005 kWh-0.035 kWh" reads badly: keep the unit once, at the end.
            let unit = |s: &str| s.rsplit_once(' ').map(|(n, u)| (n.to_string(), u.to_string()));
            match (unit(&l), unit(&h)) {
                (Some((ln, lu)), Some((hn, hu))) if lu == hu => format!("{}, {ln}-{hn} {lu}", format(value)),
                _ => format!("{}, {l}-{h}", format(value)),
            }
        }
        _ => format(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_sum_each_sources_band() {
        assert_eq!(combine(&[]), None);
        let b = combine(&[(10.0, COUNTER), (5.0, TDP_MODEL)]).unwrap();
        assert!((b.value - 15.0).abs() < 1e-12);
        assert!((b.low - (9.0 + 3.0)).abs() < 1e-12, "{b:?}");
        assert!((b.high - (11.0 + 7.0)).abs() < 1e-12, "{b:?}");
        // A counter's band is narrower than an estimate's.
        assert!(COUNTER.1 - COUNTER.0 < NVML_POWER.1 - NVML_POWER.0);
        assert!(NVML_POWER.1 - NVML_POWER.0 < TDP_MODEL.1 - TDP_MODEL.0);
    }

    #[test]
    fn text_keeps_the_unit_once() {
        let f = |v: f64| format!("{v:.3} kWh");
        assert_eq!(with_band(0.012, Some(0.005), Some(0.035), f), "0.012 kWh, 0.005-0.035 kWh");
        assert_eq!(with_band(0.012, None, Some(0.035), f), "0.012 kWh");
    }
}
