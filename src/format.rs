//! Every number, unit and dash helper, for the terminal and the command line alike: the bottom
//! layer (no `crate::` uses), so any module may format a figure the same way. See ARCHITECTURE.md.

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

/// What a table shows for a missing figure.
pub const DASH: &str = "—";

/// `value` with `decimals` fixed decimals; [`DASH`] when missing.
pub fn fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| DASH.into(), |v| format!("{v:.decimals$}"))
}

/// `value` with its sign and `decimals` fixed decimals; [`DASH`] when missing.
pub fn signed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| DASH.into(), |v| format!("{v:+.decimals$}"))
}

/// `value` with `digits` significant digits ([`sig`]); [`DASH`] when missing.
pub fn number(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| DASH.into(), |v| sig(v, digits))
}

/// A difference with its sign and `digits` significant digits (resource differences can be tiny).
pub fn signed_sig(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| DASH.into(), |v| format!("{}{}", if v >= 0.0 { "+" } else { "" }, sig(v, digits)))
}

/// "3/4 (75%)": a count out of a total with its share.
pub fn share(count: usize, of: usize) -> String {
    if of == 0 { format!("{count}/0") } else { format!("{count}/{of} ({:.0}%)", 100.0 * count as f64 / of as f64) }
}

/// `value` with an SI prefix (k, M, G, T) before `unit`: 3.2e9, "FLOP/s" -> "3.200 GFLOP/s".
pub fn si(value: f64, unit: &str) -> String {
    let (v, prefix) = match value.abs() {
        v if v >= 1e12 => (value / 1e12, "T"),
        v if v >= 1e9 => (value / 1e9, "G"),
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    format!("{v:.3} {prefix}{unit}")
}

/// An energy in kWh with enough digits for the small figures of small runs.
pub fn kwh(value: f64) -> String {
    if value == 0.0 || value >= 0.01 { format!("{value:.3} kWh") } else { format!("{value:.2e} kWh") }
}

/// A mass of CO2-eq in grams, in scientific notation when tiny.
pub fn grams(value: f64) -> String {
    if value == 0.0 || value >= 0.1 { format!("{value:.2} g") } else { format!("{value:.2e} g") }
}

/// A time span for a plan or an estimate: 42 -> "42.0 s", 754 -> "12.6 min", 7200 -> "2.00 h".
pub fn duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.2} h", s / 3600.0)
    }
}

/// A running clock, whole seconds: "42s", "12m 34s", "2h 05m".
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `text` cut to `width` characters with an ellipsis when it is longer, so a cell never shows a
/// number cut into another number ("0.4270" in 3 columns is "0.…", never "0.4").
pub fn fit(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// `text` fitted to `width` and right-aligned in it (numbers line up by their last digit).
pub fn fit_right(text: &str, width: usize) -> String {
    format!("{:>width$}", fit(text, width))
}

/// A table column whose width follows its content: the layout gives each what its widest cell
/// needs, drops optional columns when the terminal is too narrow, and only then cuts cells, always
/// with an ellipsis (see [`fit`]).
#[derive(Clone, Debug, Default)]
pub struct TextColumn {
    pub title: String,
    pub cells: Vec<String>,
    /// Right-aligned (numbers).
    pub right: bool,
    /// Takes the room the others leave, up to its need (names).
    pub flex: bool,
    /// Dropped when there is no room, highest first; 0 never.
    pub drop: u8,
    /// The widest it gets.
    pub max: usize,
}

impl TextColumn {
    pub fn new(title: impl Into<String>, cells: Vec<String>) -> TextColumn {
        TextColumn { title: title.into(), cells, max: 40, ..TextColumn::default() }
    }

    pub fn right(mut self) -> Self {
        self.right = true;
        self
    }

    pub fn flex(mut self) -> Self {
        self.flex = true;
        self
    }

    pub fn drop(mut self, order: u8) -> Self {
        self.drop = order;
        self
    }

    pub fn max(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    fn need(&self) -> usize {
        let widest = self.cells.iter().map(|c| c.chars().count()).max().unwrap_or(0);
        widest.max(self.title.chars().count()).min(self.max).max(1)
    }

    /// The cell `i` fitted to `width`.
    pub fn cell(&self, i: usize, width: usize) -> String {
        let text = self.cells.get(i).map_or("", String::as_str);
        if self.right { fit_right(text, width) } else { fit(text, width) }
    }

    pub fn header(&self, width: usize) -> String {
        if self.right { fit_right(&self.title, width) } else { fit(&self.title, width) }
    }
}

/// Widths of `columns` in `width` characters with `spacing` between them; `None` for a column
/// dropped for lack of room.
pub fn layout(columns: &[TextColumn], width: usize, spacing: usize) -> Vec<Option<usize>> {
    let mut widths: Vec<Option<usize>> = columns.iter().map(|c| Some(c.need())).collect();
    let total = |widths: &[Option<usize>]| {
        let shown: Vec<usize> = widths.iter().flatten().copied().collect();
        shown.iter().sum::<usize>() + spacing * shown.len().saturating_sub(1)
    };
    // The flex column counts at most 12 while deciding what to drop: a long name is cut before a
    // column of figures goes.
    let flex_floor = |widths: &mut Vec<Option<usize>>| {
        for (w, c) in widths.iter_mut().zip(columns) {
            if c.flex
                && let Some(w) = w
            {
                *w = (*w).min(12);
            }
        }
    };
    let mut trial = widths.clone();
    flex_floor(&mut trial);
    while total(&trial) > width {
        let victim =
            (0..columns.len()).filter(|&i| trial[i].is_some() && columns[i].drop > 0).max_by_key(|&i| columns[i].drop);
        let Some(i) = victim else { break };
        trial[i] = None;
        widths[i] = None;
    }
    // The flex column takes what is left, up to its need.
    let others: Vec<Option<usize>> = widths.iter().zip(columns).map(|(w, c)| if c.flex { None } else { *w }).collect();
    let flex_count = columns.iter().zip(&widths).filter(|(c, w)| c.flex && w.is_some()).count();
    let left = width.saturating_sub(total(&others) + spacing * flex_count);
    for (w, c) in widths.iter_mut().zip(columns) {
        if c.flex
            && let Some(w) = w
        {
            *w = (*w).min(left / flex_count.max(1)).max(1);
        }
    }
    // Still too wide (a very narrow terminal): cut the widest columns, cells get an ellipsis.
    while total(&widths) > width {
        let Some(i) = (0..columns.len()).filter(|&i| widths[i].is_some_and(|w| w > 1)).max_by_key(|&i| widths[i])
        else {
            break;
        };
        widths[i] = widths[i].map(|w| w - 1);
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_units_and_dashes() {
        assert_eq!(fixed(Some(0.12345), 3), "0.123");
        assert_eq!(fixed(None, 3), "—");
        assert_eq!(signed(Some(0.5), 1), "+0.5");
        assert_eq!(signed(Some(-0.5), 1), "-0.5");
        assert_eq!(number(Some(0.0012345), 2), "0.0012");
        assert_eq!(signed_sig(Some(0.0012345), 2), "+0.0012");
        assert_eq!(share(3, 4), "3/4 (75%)");
        assert_eq!(share(1, 0), "1/0");
        assert_eq!(si(3.2e9, "FLOP/s"), "3.200 GFLOP/s");
        assert_eq!(kwh(0.5), "0.500 kWh");
        assert_eq!(kwh(0.0012), "1.20e-3 kWh");
        assert_eq!(grams(12.0), "12.00 g");
        assert_eq!(duration(42.0), "42.0 s");
        assert_eq!(duration(754.0), "12.6 min");
        assert_eq!(duration(7200.0), "2.00 h");
        assert_eq!(clock(42.4), "42s");
        assert_eq!(clock(754.0), "12m 34s");
        assert_eq!(clock(7500.0), "2h 05m");
    }

    #[test]
    fn formats() {
        assert_eq!(sig(0.072770387, 4), "0.07277");
        assert_eq!(sig(45.46593, 4), "45.47");
        assert_eq!(sig(1234.5, 3), "1234");
        assert_eq!(human_count(1_068_440), "1.07M");
        assert_eq!(human_count(130_000_000), "130M");
        assert_eq!(human_count(950), "950");
        assert_eq!(fit("0.4270", 6), "0.4270");
        assert_eq!(fit("0.4270", 4), "0.4…");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(fit_right("7", 3), "  7");
    }

    #[test]
    fn layout_drops_optional_columns_before_cutting_numbers() {
        let name = TextColumn::new("arch", vec!["a_rather_long_architecture_name".into()]).flex();
        let p = TextColumn::new("P", vec!["0.4270".into()]).right();
        let extra = TextColumn::new("created", vec!["01-01 12:00".into()]).drop(9);
        let columns = [name, p, extra];
        assert_eq!(layout(&columns, 80, 1), [Some(31), Some(6), Some(11)]);
        assert_eq!(layout(&columns, 31, 1), [Some(12), Some(6), Some(11)]);
        assert_eq!(layout(&columns, 20, 1), [Some(13), Some(6), None], "created goes before the name is cut to 12");
        let tiny = layout(&columns, 5, 1);
        assert!(tiny.iter().flatten().sum::<usize>() < 5, "{tiny:?}");
        assert_eq!(columns[1].cell(0, tiny[1].unwrap()).chars().last(), Some('…'));
    }
}
