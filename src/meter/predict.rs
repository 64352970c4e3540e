//! Totals predicted from the first epoch(s), linear in epochs (as carbontracker predicts).

use crate::results::record::Prediction;

/// Scales what `after_epochs` epochs took to `total_epochs`.
pub fn predict(
    after_epochs: u32,
    total_epochs: u32,
    time_s: f64,
    energy_kwh: Option<f64>,
    co2_g: Option<f64>,
) -> Option<Prediction> {
    if after_epochs == 0 || total_epochs == 0 {
        return None;
    }
    let scale = total_epochs as f64 / after_epochs as f64;
    Some(Prediction {
        after_epochs,
        time_s: time_s * scale,
        energy_kwh: energy_kwh.map(|e| e * scale),
        co2_g: co2_g.map(|c| c * scale),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_in_epochs() {
        let p = predict(1, 10, 12.5, Some(0.002), Some(0.96)).unwrap();
        assert_eq!(p.after_epochs, 1);
        assert_eq!(p.time_s, 125.0);
        assert!((p.energy_kwh.unwrap() - 0.02).abs() < 1e-15);
        assert!((p.co2_g.unwrap() - 9.6).abs() < 1e-12);
        let p = predict(2, 3, 10.0, None, None).unwrap();
        assert_eq!((p.time_s, p.energy_kwh, p.co2_g), (15.0, None, None));
        assert_eq!(predict(0, 10, 1.0, None, None), None);
    }
}
