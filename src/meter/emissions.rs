//! CO2 = energy x carbon intensity x PUE.

/// A carbon intensity in g CO2-eq per kWh and where it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Intensity {
    pub g_per_kwh: f64,
    pub source: String,
}

/// The world average used when none is given. MERGE: the carbon-table helper's
/// `crate::meter::carbon::resolve(None)` supplies the shipped figure; this stands in until then.
pub fn world_average() -> Intensity {
    Intensity { g_per_kwh: 480.0, source: "world average 2023 (Ember, Global Electricity Review 2024)".into() }
}

/// `--carbon-intensity`: a number in g/kWh, a region code, or nothing (the world average).
/// MERGE: region codes are looked up by `crate::meter::carbon::resolve`; this branch takes numbers.
pub fn resolve_intensity(spec: Option<&str>) -> Result<Intensity, String> {
    let Some(spec) = spec.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(world_average());
    };
    match spec.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => {
            Ok(Intensity { g_per_kwh: v, source: "set by the user (--carbon-intensity)".into() })
        }
        Ok(v) => Err(format!("--carbon-intensity must be >= 0 g/kWh, got {v}")),
        Err(_) => Err(format!("--carbon-intensity: {spec:?} is not a number of g CO2-eq per kWh")),
    }
}

/// Checks a PUE (>= 1: a data centre never uses less than its IT load).
pub fn check_pue(pue: f64) -> Result<f64, String> {
    if pue.is_finite() && pue >= 1.0 { Ok(pue) } else { Err(format!("--pue must be a number >= 1, got {pue}")) }
}

/// Grams of CO2-eq for `energy_kwh`.
pub fn co2_g(energy_kwh: f64, g_per_kwh: f64, pue: f64) -> f64 {
    energy_kwh * g_per_kwh * pue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn co2_arithmetic_and_inputs() {
        assert_eq!(co2_g(2.0, 300.0, 1.5), 900.0);
        assert_eq!(co2_g(0.0, 300.0, 1.58), 0.0);
        assert!(resolve_intensity(None).unwrap().source.contains("world average"));
        let i = resolve_intensity(Some(" 56.5 ")).unwrap();
        assert_eq!(i.g_per_kwh, 56.5);
        assert!(resolve_intensity(Some("-3")).unwrap_err().contains(">= 0"));
        assert_eq!(check_pue(1.58), Ok(1.58));
        assert!(check_pue(0.9).is_err() && check_pue(f64::NAN).is_err());
    }
}
