//! The estimate a run's record keeps: time, energy and CO2 with their ranges, made before the run by
//! the `estimate` module and stored with the record so a later calibration can re-price it.

use serde::{Deserialize, Serialize};

use super::workload::Workload;

/// A figure with its range: `low <= estimate <= high`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

impl Range {
    /// `estimate` divided and multiplied by `1 + u`.
    pub fn spread(estimate: f64, u: f64) -> Range {
        Range { estimate, low: estimate / (1.0 + u), high: estimate * (1.0 + u) }
    }

    pub fn scale(self, k: f64) -> Range {
        Range { estimate: self.estimate * k, low: self.low * k, high: self.high * k }
    }

    pub fn contains(self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// Bounds add as bounds: the sum of ranges holds the sum of values.
impl std::ops::Add for Range {
    type Output = Range;

    fn add(self, other: Range) -> Range {
        Range { estimate: self.estimate + other.estimate, low: self.low + other.low, high: self.high + other.high }
    }
}

/// The estimate of one run, as shown and as stored in the run's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub train_time_s: Range,
    pub energy_kwh: Option<Range>,
    pub co2_g: Option<Range>,
    /// Mean power assumed, watts.
    #[serde(default)]
    pub power_w: Option<f64>,
    pub carbon_intensity_g_per_kwh: f64,
    pub pue: f64,
    /// What the estimate rests on, one line each.
    pub based_on: Vec<String>,
    /// The calibration's key and date.
    pub calibration: String,
    pub work: Workload,
}
