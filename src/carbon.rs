//! Carbon intensity of electricity (g CO2-eq per kWh) and the CO2 arithmetic.
//!
//! The intensity is a number the user gives, or a country's annual average from
//! `assets/carbon_intensity.csv` (carbontracker 2.4.7's table, see assets/README.md), or by default
//! the world average, named as such wherever it is shown.

use std::collections::HashMap;
use std::sync::OnceLock;

/// World average carbon intensity of electricity, g CO2-eq/kWh: the IEA's figure for 2024
/// (Electricity 2025, emissions chapter), the default carbontracker 2.4.7 uses.
pub const WORLD_AVERAGE_G_PER_KWH: f64 = 445.0;

/// How the world average is named wherever it is shown or stored.
pub const WORLD_AVERAGE_SOURCE: &str = "world average, 2024 (IEA Electricity 2025, via carbontracker 2.4.7)";

/// PUE when none is set: the energy measured is the energy counted. carbontracker multiplies by
/// 1.58 (Uptime Institute's 2023 data-centre average) instead.
pub const DEFAULT_PUE: f64 = 1.0;
/// carbontracker's PUE constant, which the paper's energy figures include (`--paper-conventions`).
pub const CARBONTRACKER_PUE: f64 = 1.58;

/// The table of annual national averages, compiled in.
const TABLE: &str = include_str!("../assets/carbon_intensity.csv");

/// A carbon intensity and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct CarbonIntensity {
    pub g_per_kwh: f64,
    pub source: String,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct Country {
    pub alpha2: String,
    pub alpha3: String,
    #[serde(rename = "country")]
    pub name: String,
    pub year: u32,
    pub g_per_kwh: f64,
    /// The package the row was taken from: "carbontracker" or "codecarbon".
    pub from: String,
}

struct Table {
    rows: Vec<Country>,
    /// Upper-case alpha-2 and alpha-3 codes -> row index.
    by_code: HashMap<String, usize>,
}

fn table() -> &'static Table {
    static TABLE_CELL: OnceLock<Table> = OnceLock::new();
    TABLE_CELL.get_or_init(|| {
        let rows: Vec<Country> = csv::Reader::from_reader(TABLE.as_bytes())
            .deserialize()
            .enumerate()
            .map(|(i, row)| row.unwrap_or_else(|e| panic!("assets/carbon_intensity.csv line {}: {e}", i + 2)))
            .collect();
        let mut by_code = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            by_code.insert(row.alpha2.to_ascii_uppercase(), i);
            by_code.insert(row.alpha3.to_ascii_uppercase(), i);
        }
        Table { rows, by_code }
    })
}

/// Every country in the table, in alpha-2 order.
pub fn countries() -> &'static [Country] {
    &table().rows
}

/// The table row for an ISO 3166 alpha-2 or alpha-3 code (case-insensitive).
pub fn country(code: &str) -> Option<&'static Country> {
    let t = table();
    t.by_code.get(&code.trim().to_ascii_uppercase()).map(|&i| &t.rows[i])
}

/// The world average, named as such.
pub fn world_average() -> CarbonIntensity {
    CarbonIntensity { g_per_kwh: WORLD_AVERAGE_G_PER_KWH, source: WORLD_AVERAGE_SOURCE.into() }
}

/// Resolves a setting: none -> the world average; a number -> that, set by the user; an ISO 3166
/// alpha-2/alpha-3 code -> the country's annual average from the table.
pub fn resolve(spec: Option<&str>) -> Result<CarbonIntensity, String> {
    let Some(spec) = spec.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(world_average());
    };
    if let Ok(value) = spec.parse::<f64>() {
        if !(value.is_finite() && value >= 0.0) {
            return Err(format!("carbon intensity must be a number >= 0 g CO2-eq/kWh, got {spec}"));
        }
        return Ok(CarbonIntensity { g_per_kwh: value, source: "set by user".into() });
    }
    match country(spec) {
        Some(c) => Ok(CarbonIntensity {
            g_per_kwh: c.g_per_kwh,
            source: format!(
                "{} ({}), annual average {} (Our World in Data / Ember, via {})",
                c.name, c.alpha2, c.year, c.from
            ),
        }),
        None => Err(format!(
            "unknown country or region code {spec:?}: give an ISO 3166 alpha-2 or alpha-3 code (e.g. DK or DNK) \
             or a number in g CO2-eq/kWh; `pepr config show` lists the setting and docs/settings.md \
             names the table"
        )),
    }
}

/// Grams of CO2-eq for `energy_kwh` drawn at `intensity_g_per_kwh`, times the data centre's PUE.
pub fn co2_g(energy_kwh: f64, intensity_g_per_kwh: f64, pue: f64) -> f64 {
    energy_kwh * intensity_g_per_kwh * pue
}

/// Checks a PUE (>= 1: a data centre never uses less than its IT load).
pub fn check_pue(pue: f64) -> Result<f64, String> {
    if pue.is_finite() && pue >= 1.0 { Ok(pue) } else { Err(format!("--pue must be a number >= 1, got {pue}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_holds_every_country_once() {
        let rows = countries();
        assert!(rows.len() > 200, "{} countries", rows.len());
        for row in rows {
            assert_eq!(row.alpha2.len(), 2, "{row:?}");
            assert_eq!(row.alpha3.len(), 3, "{row:?}");
            assert!((2009..=2030).contains(&row.year), "{row:?}");
            assert!(row.g_per_kwh >= 0.0 && row.g_per_kwh < 1500.0, "{row:?}"); // all-hydro grids report 0
        }
        let mut codes: Vec<&str> = rows.iter().map(|r| r.alpha3.as_str()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), rows.len());
    }

    #[test]
    fn codes_resolve_in_either_form_and_any_case() {
        for (a2, a3) in [("DK", "DNK"), ("DE", "DEU"), ("IN", "IND"), ("KE", "KEN"), ("BR", "BRA"), ("US", "USA")] {
            let two = resolve(Some(a2)).unwrap();
            let three = resolve(Some(&a3.to_ascii_lowercase())).unwrap();
            assert_eq!(two, three, "{a2}/{a3}");
            assert!(two.source.contains("annual average"), "{}", two.source);
        }
        let dk = resolve(Some(" dk ")).unwrap();
        assert!((dk.g_per_kwh - 143.3).abs() < 0.05, "{dk:?}");
        assert!(dk.source.starts_with("Denmark (DK), annual average 2024"), "{}", dk.source);
        // India's grid is coal-heavy, Kenya's mostly geothermal and hydro.
        assert!(resolve(Some("IN")).unwrap().g_per_kwh > 5.0 * resolve(Some("KE")).unwrap().g_per_kwh);
        // Namibia's alpha-2 code is "NA", which carbontracker's table lost; ours has it.
        assert_eq!(country("na").unwrap().alpha3, "NAM");
    }

    #[test]
    fn default_is_the_world_average_named_as_such_and_numbers_are_the_users() {
        let world = resolve(None).unwrap();
        assert_eq!(world.g_per_kwh, WORLD_AVERAGE_G_PER_KWH);
        assert!(world.source.starts_with("world average"));
        assert_eq!(resolve(Some("")).unwrap(), world);
        assert_eq!(resolve(Some("120.5")).unwrap(), CarbonIntensity { g_per_kwh: 120.5, source: "set by user".into() });
        assert!(resolve(Some("-3")).unwrap_err().contains(">= 0"));
    }

    #[test]
    fn unknown_codes_are_errors_naming_the_code() {
        let e = resolve(Some("XQ")).unwrap_err();
        assert!(e.contains("\"XQ\"") && e.contains("alpha-2"), "{e}");
        assert!(resolve(Some("Denmark")).is_err());
    }

    #[test]
    fn co2_is_energy_times_intensity_times_pue() {
        assert_eq!(co2_g(2.0, 100.0, 1.0), 200.0);
        assert!((co2_g(0.5, 445.0, 1.58) - 351.55).abs() < 1e-9);
        assert_eq!(co2_g(0.0, 445.0, 1.58), 0.0);
    }
}
