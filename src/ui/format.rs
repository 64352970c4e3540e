//! Number formatting for narrow table cells.

/// `v` with `digits` significant digits, without scientific notation for typical magnitudes.
pub fn sig(v: f64, digits: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).clamp(0, 12) as usize;
    format!("{v:.decimals$}")
}

/// 1_068_440 -> "1.07M", 130_000_000 -> "130M", 950 -> "950".
pub fn human_count(n: u64) -> String {
    let (value, suffix) = match n {
        0..=999 => return n.to_string(),
        1_000..=999_999 => (n as f64 / 1e3, "k"),
        1_000_000..=999_999_999 => (n as f64 / 1e6, "M"),
        _ => (n as f64 / 1e9, "G"),
    };
    format!("{}{suffix}", sig(value, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(sig(0.072770387, 4), "0.07277");
        assert_eq!(sig(45.46593, 4), "45.47");
        assert_eq!(sig(1234.5, 3), "1234");
        assert_eq!(human_count(1_068_440), "1.07M");
        assert_eq!(human_count(130_000_000), "130M");
        assert_eq!(human_count(950), "950");
    }
}
