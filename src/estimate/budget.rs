//! Budgets: the runs that stayed within an energy, time and CO2 budget and reached a minimum P
//! (`pepr rank --max-energy --max-time --max-co2 --min-p`), and for planned runs, whether their
//! estimate fits.

use crate::estimate::Estimate;
use crate::results::record::RunRecord;

/// Upper bounds on resources and a lower bound on P; `None` bounds nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Budget {
    pub max_energy_kwh: Option<f64>,
    pub max_time_s: Option<f64>,
    pub max_co2_g: Option<f64>,
    pub min_p: Option<f64>,
}

/// Whether a planned run fits by its estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Even the high end of every range is within the budget.
    Fits,
    /// The estimate is within, the high end is not.
    Maybe,
    /// The estimate itself is over (or a budgeted figure cannot be estimated).
    Over,
}

impl Budget {
    pub fn is_empty(&self) -> bool {
        *self == Budget::default()
    }

    /// Bounds must be finite and >= 0, P in [0, 1]; the error names the flag.
    pub fn check(&self) -> Result<(), String> {
        for (flag, value) in
            [("--max-energy", self.max_energy_kwh), ("--max-time", self.max_time_s), ("--max-co2", self.max_co2_g)]
        {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(format!("{flag} must be a number >= 0, got {v}"));
            }
        }
        if let Some(p) = self.min_p
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("--min-p must be in [0, 1], got {p}"));
        }
        Ok(())
    }

    /// A stored run fits when every budgeted figure is known and within. A run that lacks a
    /// budgeted figure does not fit: nothing shows it kept to the budget.
    pub fn fits(&self, record: &RunRecord) -> bool {
        let within = |max: Option<f64>, value: Option<f64>| max.is_none_or(|m| value.is_some_and(|v| v <= m));
        within(self.max_energy_kwh, record.energy_kwh)
            && within(self.max_time_s, record.train_time_s)
            && within(self.max_co2_g, record.co2_g)
            && self.min_p.is_none_or(|p| record.performance >= p)
    }

    /// A planned run by its estimate (a P bound cannot be judged before training and is ignored).
    pub fn fits_estimate(&self, e: &Estimate) -> Fit {
        let ranges =
            [(self.max_energy_kwh, e.energy_kwh), (self.max_time_s, Some(e.train_time_s)), (self.max_co2_g, e.co2_g)];
        let mut fit = Fit::Fits;
        for (max, range) in ranges {
            let Some(max) = max else { continue };
            match range {
                Some(r) if r.high <= max => {}
                Some(r) if r.estimate <= max => fit = Fit::Maybe,
                _ => return Fit::Over,
            }
        }
        fit
    }

    /// "energy <= 0.01 kWh, time <= 600 s, P >= 0.8".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.max_energy_kwh {
            parts.push(format!("energy <= {v} kWh"));
        }
        if let Some(v) = self.max_time_s {
            parts.push(format!("training time <= {v} s"));
        }
        if let Some(v) = self.max_co2_g {
            parts.push(format!("CO2 <= {v} g"));
        }
        if let Some(v) = self.min_p {
            parts.push(format!("P >= {v}"));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::Range;
    use crate::results::record::sample;

    #[test]
    fn runs_fit_when_every_budgeted_figure_is_known_and_within() {
        let run = sample("a", "g", 0.8, Some(0.5)); // 0.5 kWh, 50 g, 10 s
        assert!(Budget::default().fits(&run) && Budget::default().is_empty());
        let b = |e, t, c, p| Budget { max_energy_kwh: e, max_time_s: t, max_co2_g: c, min_p: p };
        assert!(b(Some(0.5), Some(10.0), Some(50.0), Some(0.8)).fits(&run), "bounds are inclusive");
        assert!(!b(Some(0.49), None, None, None).fits(&run));
        assert!(!b(None, Some(9.9), None, None).fits(&run));
        assert!(!b(None, None, Some(49.0), None).fits(&run));
        assert!(!b(None, None, None, Some(0.81)).fits(&run));
        let unknown = sample("b", "g", 0.9, None);
        assert!(!b(Some(100.0), None, None, None).fits(&unknown), "no energy figure: not shown to fit");
        assert!(b(None, Some(100.0), None, None).fits(&unknown));
        assert!(b(Some(-1.0), None, None, None).check().unwrap_err().contains("--max-energy"));
        assert!(b(None, None, None, Some(1.5)).check().unwrap_err().contains("--min-p"));
        assert_eq!(b(Some(0.01), None, None, Some(0.8)).describe(), "energy <= 0.01 kWh, P >= 0.8");
    }

    #[test]
    fn planned_runs_fit_by_their_estimate_range() {
        let mut e = crate::estimate::Estimate {
            train_time_s: Range { estimate: 100.0, low: 50.0, high: 200.0 },
            energy_kwh: None,
            co2_g: None,
            power_w: None,
            carbon_intensity_g_per_kwh: 0.0,
            pue: 1.0,
            based_on: vec![],
            calibration: String::new(),
            work: crate::estimate::model::tests::work(1),
        };
        let time = |s| Budget { max_time_s: Some(s), ..Budget::default() };
        assert_eq!(time(250.0).fits_estimate(&e), Fit::Fits);
        assert_eq!(time(150.0).fits_estimate(&e), Fit::Maybe);
        assert_eq!(time(90.0).fits_estimate(&e), Fit::Over);
        let energy = Budget { max_energy_kwh: Some(1.0), ..Budget::default() };
        assert_eq!(energy.fits_estimate(&e), Fit::Over, "unknown energy cannot fit an energy budget");
        e.energy_kwh = Some(Range { estimate: 0.5, low: 0.25, high: 1.0 });
        assert_eq!(energy.fits_estimate(&e), Fit::Fits);
    }
}
