//! CO2 = energy x carbon intensity x PUE.

pub use crate::carbon::{CarbonIntensity as Intensity, co2_g, world_average};

/// `--carbon-intensity` or the `carbon_intensity` setting: a number in g/kWh, a country code looked up
/// in the shipped table, or nothing (the world average, named as such).
pub fn resolve_intensity(spec: Option<&str>) -> Result<Intensity, String> {
    crate::carbon::resolve(spec)
}

pub use crate::carbon::check_pue;

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
        assert!(resolve_intensity(Some("dk")).unwrap().source.contains("Denmark"));
        assert_eq!(check_pue(1.58), Ok(1.58));
        assert!(check_pue(0.9).is_err() && check_pue(f64::NAN).is_err());
    }
}
