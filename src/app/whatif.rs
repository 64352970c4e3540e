//! The leaderboard's what-ifs (issue 19): a budget filter (`B`: the runs within a maximum energy,
//! training time and CO2 and a minimum P, as `pepr rank --max-* --min-p`) and a carbon what-if
//! (`w` cycles regions, `W` turns it off: CO2 and PePR-C re-scored as if every run had drawn its
//! energy from that grid, as `pepr rank --intensity`). The what-if is ranked on the loader thread
//! on copies of the records; the run store is never written.

use crossterm::event::{KeyCode, KeyEvent};

use crate::carbon::{self, CarbonIntensity};
use crate::estimate::budget::Budget;
use crate::results::record::RunRecord;
use crate::results::whatif::{Totals, WhatIf};

use super::state::{App, Request};

/// The regions `w` steps through, from the cleanest grid to the dirtiest (annual averages from
/// assets/carbon_intensity.csv; "world" is the world average).
pub const REGIONS: [&str; 9] = ["NO", "FR", "GB", "DE", "US", "world", "CN", "PL", "IN"];

/// The carbon intensity of one of [`REGIONS`].
pub fn region_intensity(region: &str) -> Result<CarbonIntensity, String> {
    if region == "world" { Ok(carbon::world_average()) } else { carbon::resolve(Some(region)) }
}

/// The what-if of region `index` of [`REGIONS`]: its intensity, each run's own PUE.
pub fn region_what_if(index: usize) -> Result<WhatIf, String> {
    Ok(WhatIf { intensity: Some(region_intensity(REGIONS[index % REGIONS.len()])?), pue: None })
}

/// The leaderboard's budget and carbon what-if.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenario {
    pub budget: Budget,
    /// The budget being typed after `B`.
    pub prompt: Option<String>,
    /// Runs the set and the text filter show before the budget (the "of M" of "N of M fit").
    pub before_budget: usize,
    /// The region asked for (an index into [`REGIONS`]); the leaderboard shows it once ranked.
    pub region: Option<usize>,
}

impl Scenario {
    /// `B`: the budget prompt, holding the budget in effect to edit.
    pub fn open_prompt(&mut self) {
        self.prompt = Some(budget_text(&self.budget));
    }
}

/// The what-if a loaded [`super::Data`] was ranked with, and the records as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub what_if: WhatIf,
    /// Index into [`REGIONS`].
    pub region: usize,
    /// The records as the store holds them (`Data::records` are the re-scored copies).
    pub stored: Vec<RunRecord>,
}

impl Applied {
    /// Stored vs what-if CO2 over some runs (indices into the records).
    pub fn totals(&self, rescored: &[RunRecord], indices: &[usize]) -> Totals {
        WhatIf::totals(&self.stored, rescored, indices)
    }

    /// The banner: what is re-scored, as if where, and that nothing is stored.
    pub fn banner(&self) -> String {
        let intensity = self.what_if.intensity.as_ref().map_or(0.0, |i| i.g_per_kwh);
        let region = REGIONS[self.region];
        let place = if region == "world" {
            "the world average grid".to_string()
        } else {
            carbon::country(region).map_or(region.to_string(), |c| format!("{} ({region})", c.name))
        };
        format!(
            "WHAT-IF (not measured, not stored): CO2 and PePR-C as if trained in {place} at {intensity} g/kWh x each run's own PUE"
        )
    }

    /// The banner for a narrow terminal: the same facts, shorter.
    pub fn short_banner(&self) -> String {
        let intensity = self.what_if.intensity.as_ref().map_or(0.0, |i| i.g_per_kwh);
        format!("WHAT-IF (not measured, not stored): CO2, PePR-C as if at {} {intensity} g/kWh", REGIONS[self.region])
    }
}

/// The budget as the prompt shows it: `energy=0.01 time=600 co2=5 p=0.8`.
pub fn budget_text(b: &Budget) -> String {
    let mut parts = Vec::new();
    for (name, value) in [("energy", b.max_energy_kwh), ("time", b.max_time_s), ("co2", b.max_co2_g), ("p", b.min_p)] {
        if let Some(v) = value {
            parts.push(format!("{name}={v}"));
        }
    }
    parts.join(" ")
}

/// Parses the prompt: `energy=KWH time=S co2=G p=P` in any order, separated by spaces or commas
/// (`<=`/`>=` may stand for `=`; `e t c` are short names); empty: no budget. The error names the
/// part that is wrong.
pub fn parse_budget(text: &str) -> Result<Budget, String> {
    let mut budget = Budget::default();
    for part in text.split([' ', ',']).map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) =
            part.split_once("<=").or_else(|| part.split_once(">=")).or_else(|| part.split_once('=')).ok_or_else(
                || format!("{part:?}: write NAME=VALUE, e.g. energy=0.01 (kWh), time=600 (s), co2=5 (g), p=0.8"),
            )?;
        let value: f64 = value.trim().parse().map_err(|_| format!("{part:?}: {:?} is not a number", value.trim()))?;
        let slot = match name.trim().to_ascii_lowercase().as_str() {
            "energy" | "e" | "kwh" => &mut budget.max_energy_kwh,
            "time" | "t" | "s" => &mut budget.max_time_s,
            "co2" | "c" | "g" => &mut budget.max_co2_g,
            "p" | "min_p" => &mut budget.min_p,
            other => return Err(format!("{other:?} is not a budget: energy, time, co2 or p")),
        };
        *slot = Some(value);
    }
    budget.check().map_err(|e| {
        e.replace("--max-energy", "energy")
            .replace("--max-time", "time")
            .replace("--max-co2", "co2")
            .replace("--min-p", "p")
    })?;
    Ok(budget)
}

impl App {
    /// `B`: type the budget (prefilled with the current one).
    pub fn open_budget_prompt(&mut self) {
        self.runs.scenario.open_prompt();
    }

    /// A key while the budget is typed: Enter applies (an error keeps the prompt open and says
    /// what is wrong), Esc leaves the budget as it was.
    pub fn budget_prompt_key(&mut self, event: KeyEvent) {
        let Some(text) = &mut self.runs.scenario.prompt else { return };
        match event.code {
            KeyCode::Esc => {
                self.runs.scenario.prompt = None;
                self.message = Some("budget unchanged".into());
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            KeyCode::Enter => match parse_budget(text) {
                Ok(budget) => {
                    self.runs.scenario.prompt = None;
                    self.runs.scenario.budget = budget;
                    self.runs.cursor.reset();
                    self.refresh_rows();
                    self.message = Some(if budget.is_empty() {
                        "budget off: every run shown".into()
                    } else {
                        format!(
                            "budget {}: {} of {} runs fit",
                            budget.describe(),
                            self.rows().len(),
                            self.runs.scenario.before_budget
                        )
                    });
                }
                Err(e) => self.message = Some(format!("budget: {e}")),
            },
            _ => {}
        }
    }

    /// `w` (next region) / `W` (off): asks the loader to rank again under the carbon what-if.
    pub fn step_what_if(&mut self, next: bool) -> Option<Request> {
        let region = if next {
            Some(self.runs.scenario.region.map_or(0, |i| i + 1)).filter(|&i| i < REGIONS.len())
        } else {
            None
        };
        if !next && self.runs.scenario.region.is_none() {
            self.message = Some("no carbon what-if is on (w starts one)".into());
            return None;
        }
        let what_if = match region.map(region_what_if).transpose() {
            Ok(w) => w,
            Err(e) => {
                self.message = Some(format!("what-if: {e}"));
                return None;
            }
        };
        self.runs.scenario.region = region;
        // The leaderboard says "re-scoring…" until the ranking under it arrives.
        self.message = None;
        self.loading = true;
        Some(Request::LoadWhatIf(self.runs.set_by, what_if.map(|w| (w, region.unwrap_or(0)))))
    }

    /// The carbon what-if the leaderboard shows, once ranked.
    pub fn what_if(&self) -> Option<&Applied> {
        self.data.as_ref()?.what_if.as_ref()
    }

    /// Stored vs what-if CO2 of the rows shown.
    pub fn what_if_totals(&self) -> Option<Totals> {
        self.runs.what_if_totals(self.data.as_ref()?)
    }
}

impl super::runs::RunsScreen {
    /// Stored vs what-if CO2 of the rows shown, when a what-if is applied.
    pub fn what_if_totals(&self, data: &super::state::Data) -> Option<Totals> {
        let applied = data.what_if.as_ref()?;
        let indices: Vec<usize> = self.rows().iter().map(|&r| data.ranking.runs[r].index).collect();
        Some(applied.totals(&data.records, &indices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_from_the_prompt_and_back() {
        let b = parse_budget("energy=0.01, time<=600 co2=5 p>=0.8").unwrap();
        assert_eq!(
            b,
            Budget { max_energy_kwh: Some(0.01), max_time_s: Some(600.0), max_co2_g: Some(5.0), min_p: Some(0.8) }
        );
        assert_eq!(parse_budget(&budget_text(&b)).unwrap(), b);
        assert_eq!(budget_text(&b), "energy=0.01 time=600 co2=5 p=0.8");
        assert!(parse_budget("  ").unwrap().is_empty());
        assert_eq!(parse_budget("e=2 t=3").unwrap().max_time_s, Some(3.0));
        assert!(parse_budget("watts=3").unwrap_err().contains("watts"));
        assert!(parse_budget("energy").unwrap_err().contains("NAME=VALUE"));
        assert!(parse_budget("time=ten").unwrap_err().contains("not a number"));
        assert!(parse_budget("p=1.5").unwrap_err().starts_with("p must be"));
        assert!(parse_budget("energy=-1").unwrap_err().starts_with("energy must be"));
    }

    #[test]
    fn w_steps_through_the_regions_then_off_and_w_upper_turns_it_off() {
        let mut app = App::new("store");
        assert_eq!(app.step_what_if(false), None, "nothing to turn off");
        for i in 0..REGIONS.len() {
            let Some(Request::LoadWhatIf(_, Some((what_if, region)))) = app.step_what_if(true) else { panic!() };
            assert_eq!((region, app.runs.scenario.region), (i, Some(i)));
            assert_eq!(what_if, region_what_if(i).unwrap());
        }
        assert_eq!(app.step_what_if(true), Some(Request::LoadWhatIf(app.runs.set_by, None)), "after the last: off");
        assert_eq!(app.runs.scenario.region, None);
        app.step_what_if(true);
        assert_eq!(app.step_what_if(false), Some(Request::LoadWhatIf(app.runs.set_by, None)));
        assert!(app.loading && app.runs.scenario.region.is_none());
    }

    #[test]
    fn regions_resolve_from_the_table() {
        for i in 0..REGIONS.len() {
            let w = region_what_if(i).unwrap();
            assert!(w.intensity.unwrap().g_per_kwh > 0.0 && w.pue.is_none());
        }
        // Cleanest first, dirtiest last.
        let g = |i| region_intensity(REGIONS[i]).unwrap().g_per_kwh;
        assert!((1..REGIONS.len()).all(|i| g(i - 1) <= g(i)));
        assert_eq!(g(0), carbon::country("NO").unwrap().g_per_kwh);
    }
}
