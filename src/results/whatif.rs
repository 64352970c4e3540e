//! Carbon what-if: the CO2 (and so PePR-C) of stored runs as if they had drawn their energy from
//! another grid or data centre: another carbon intensity (a region's annual average or a number)
//! and/or PUE. Works on copies: the store is never written.

use crate::carbon;
use crate::results::record::{MeterDetail, RunRecord};

/// The intensity and PUE to re-score with; `None` keeps each run's own.
#[derive(Clone, Debug, PartialEq)]
pub struct WhatIf {
    pub intensity: Option<carbon::CarbonIntensity>,
    pub pue: Option<f64>,
}

/// What re-scoring changed, over some runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub runs: usize,
    /// Runs without an energy figure keep no CO2 in the what-if (they cannot be re-scored).
    pub not_rescored: usize,
    pub stored_co2_g: f64,
    pub what_if_co2_g: f64,
}

impl WhatIf {
    /// From `--intensity REGION|G_PER_KWH` and `--pue X`; `None` when neither is given.
    pub fn parse(intensity: Option<&str>, pue: Option<f64>) -> Result<Option<WhatIf>, String> {
        if intensity.is_none() && pue.is_none() {
            return Ok(None);
        }
        let intensity =
            intensity.map(|spec| carbon::resolve(Some(spec)).map_err(|e| format!("--intensity: {e}"))).transpose()?;
        let pue = pue.map(crate::carbon::check_pue).transpose()?;
        Ok(Some(WhatIf { intensity, pue }))
    }

    /// The CO2 of a run under this what-if: its energy x the intensity x the PUE, each the
    /// what-if's or else the run's own (an imported run's intensity is implied by its CO2 / energy).
    pub fn co2_g(&self, record: &RunRecord) -> Option<f64> {
        let energy = record.energy_kwh?;
        let own_pue = record.meters.as_ref().and_then(|m| m.pue).unwrap_or(carbon::DEFAULT_PUE);
        let intensity = match &self.intensity {
            Some(i) => i.g_per_kwh,
            None => record
                .carbon_intensity_g_per_kwh
                .or_else(|| (energy > 0.0).then(|| record.co2_g.map(|c| c / (energy * own_pue))).flatten())?,
        };
        Some(carbon::co2_g(energy, intensity, self.pue.unwrap_or(own_pue)))
    }

    /// Copies of the runs with CO2, intensity and PUE as the what-if has them.
    pub fn apply(&self, records: &[RunRecord]) -> Vec<RunRecord> {
        records
            .iter()
            .map(|r| {
                let mut copy = r.clone();
                copy.co2_g = self.co2_g(r);
                if let Some(i) = &self.intensity {
                    copy.carbon_intensity_g_per_kwh = Some(i.g_per_kwh);
                }
                if let Some(pue) = self.pue {
                    copy.meters.get_or_insert_with(MeterDetail::default).pue = Some(pue);
                }
                // The CO2 band moves with the CO2 (same energy band, another factor).
                if let (Some(old), Some(new)) = (r.co2_g, copy.co2_g)
                    && old > 0.0
                {
                    let (k, m) = (new / old, &mut copy.measurement);
                    m.co2_g_low = m.co2_g_low.map(|v| v * k);
                    m.co2_g_high = m.co2_g_high.map(|v| v * k);
                }
                copy
            })
            .collect()
    }

    /// Stored vs what-if CO2 over the runs `indices` of `stored` and their copies `rescored`.
    pub fn totals(stored: &[RunRecord], rescored: &[RunRecord], indices: &[usize]) -> Totals {
        let mut t = Totals::default();
        for &i in indices {
            t.runs += 1;
            t.stored_co2_g += stored[i].co2_g.unwrap_or(0.0);
            match rescored[i].co2_g {
                Some(c) => t.what_if_co2_g += c,
                None => t.not_rescored += 1,
            }
        }
        t
    }

    /// The banner shown above (or, for CSV and JSON, beside) a what-if ranking.
    pub fn banner(&self) -> String {
        let intensity = match &self.intensity {
            Some(i) => format!("{} g CO2-eq/kWh ({})", i.g_per_kwh, i.source),
            None => "each run's own carbon intensity".into(),
        };
        let pue = match self.pue {
            Some(p) => format!("PUE {p}"),
            None => "each run's own PUE".into(),
        };
        format!(
            "WHAT-IF (not measured, not stored): CO2 and PePR-C re-scored as if trained at {intensity} x {pue}; \
             the run store is unchanged"
        )
    }
}

impl Totals {
    pub fn line(&self) -> String {
        let mut text = format!(
            "what-if CO2 of these {} runs: {:.3} g CO2-eq (stored: {:.3} g, {:+.1}%)",
            self.runs,
            self.what_if_co2_g,
            self.stored_co2_g,
            if self.stored_co2_g > 0.0 { (self.what_if_co2_g / self.stored_co2_g - 1.0) * 100.0 } else { 0.0 }
        );
        if self.not_rescored > 0 {
            text.push_str(&format!("; {} without an energy figure have no CO2 here", self.not_rescored));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::record::sample;

    #[test]
    fn co2_is_rescored_with_the_what_ifs_factors_or_the_runs_own() {
        let mut here = sample("a", "g", 0.8, Some(2.0));
        here.carbon_intensity_g_per_kwh = Some(400.0);
        here.co2_g = Some(2.0 * 400.0 * 1.5);
        here.meters = Some(MeterDetail { pue: Some(1.5), ..Default::default() });
        (here.measurement.co2_g_low, here.measurement.co2_g_high) = (Some(1000.0), Some(1500.0));
        let imported = sample("b", "g", 0.7, Some(1.0)); // co2 100 g, no intensity: 100 g/kWh implied
        let no_energy = sample("c", "g", 0.9, None);

        let norway = WhatIf::parse(Some("NO"), None).unwrap().unwrap();
        let no = carbon::country("NO").unwrap().g_per_kwh;
        assert_eq!(norway.co2_g(&here), Some(2.0 * no * 1.5), "the run's own PUE is kept");
        assert_eq!(norway.co2_g(&no_energy), None);
        let pue_only = WhatIf::parse(None, Some(1.2)).unwrap().unwrap();
        assert!((pue_only.co2_g(&here).unwrap() - 2.0 * 400.0 * 1.2).abs() < 1e-9);
        assert!((pue_only.co2_g(&imported).unwrap() - 1.0 * 100.0 * 1.2).abs() < 1e-9);
        let both = WhatIf::parse(Some("20"), Some(1.1)).unwrap().unwrap();
        assert!((both.co2_g(&here).unwrap() - 2.0 * 20.0 * 1.1).abs() < 1e-9);

        assert_eq!(WhatIf::parse(None, None), Ok(None));
        assert!(WhatIf::parse(Some("XQ"), None).unwrap_err().contains("--intensity"));
        assert!(WhatIf::parse(None, Some(0.5)).unwrap_err().contains("--pue"));

        let records = vec![here.clone(), imported.clone(), no_energy.clone()];
        let copies = both.apply(&records);
        assert_eq!(records, vec![here, imported, no_energy], "the originals are untouched");
        assert_eq!(copies[1].carbon_intensity_g_per_kwh, Some(20.0));
        let band = &copies[0].measurement;
        let k = copies[0].co2_g.unwrap() / 1200.0;
        assert!(
            (band.co2_g_low.unwrap() - 1000.0 * k).abs() < 1e-9 && (band.co2_g_high.unwrap() - 1500.0 * k).abs() < 1e-9
        );
        assert_eq!(copies[1].meters.as_ref().unwrap().pue, Some(1.1));
        let t = WhatIf::totals(&records, &copies, &[0, 1, 2]);
        assert_eq!((t.runs, t.not_rescored), (3, 1));
        assert!((t.stored_co2_g - (1200.0 + 100.0)).abs() < 1e-9);
        assert!((t.what_if_co2_g - (44.0 + 22.0)).abs() < 1e-9);
        assert!(both.banner().starts_with("WHAT-IF") && t.line().contains("without an energy figure"));
    }

    #[test]
    fn one_intensity_for_all_makes_pepr_c_follow_energy() {
        use crate::results::rank::{SetBy, rank};
        let mut records =
            vec![sample("a", "g", 0.8, Some(1.0)), sample("b", "g", 0.9, Some(3.0)), sample("c", "g", 0.6, Some(2.0))];
        // Stored CO2 from very different grids: PePR-C orders differently from PePR-E.
        records[0].co2_g = Some(900.0);
        records[1].co2_g = Some(30.0);
        let stored = rank(&records, SetBy::Group).unwrap();
        assert!(!stored.co2_mirrors_energy_in(0));
        let what_if = WhatIf::parse(Some("DK"), Some(1.0)).unwrap().unwrap().apply(&records);
        let ranking = rank(&what_if, SetBy::Group).unwrap();
        assert!(ranking.co2_mirrors_energy_in(0));
        let ranks = |r: &crate::results::rank::Ranking, v: usize| r.runs.iter().map(|x| x.rank[v]).collect::<Vec<_>>();
        assert_eq!(ranks(&ranking, 1), ranks(&ranking, 0));
        assert_ne!(ranks(&stored, 1), ranks(&ranking, 1));
    }
}
