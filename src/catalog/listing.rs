//! The catalog as a table: one row per entry at a chosen input, for `pepr archs` and the TUI.

use super::{Cost, Entry, Spec, entries};

/// One entry at one input: its cost, or why it cannot take that input.
#[derive(Clone, Debug)]
pub struct ArchRow {
    pub entry: &'static Entry,
    pub spec: Spec,
    pub cost: Result<Cost, String>,
}

/// Every entry at `input` (channels, height, width), or at its own default size when `None`.
pub fn rows(input: Option<(usize, usize, usize)>, classes: usize) -> Vec<ArchRow> {
    entries()
        .iter()
        .map(|entry| {
            let spec = match input {
                Some((c, h, w)) => Spec { in_chans: c, classes, height: h, width: w },
                None => Spec { in_chans: 3, classes, height: entry.default_size, width: entry.default_size },
            };
            ArchRow { entry, spec, cost: entry.cost(&spec).map_err(|e| e.message) }
        })
        .collect()
}

/// Parses `CxHxW` (e.g. `3x224x224`) or `CxS` (`1x28`).
pub fn parse_input(text: &str) -> Result<(usize, usize, usize), String> {
    let parts: Vec<&str> = text.split(['x', 'X']).collect();
    let numbers: Result<Vec<usize>, _> = parts.iter().map(|p| p.trim().parse::<usize>()).collect();
    match numbers.as_deref() {
        Ok([c, h, w]) if *c > 0 && *h > 0 && *w > 0 => Ok((*c, *h, *w)),
        Ok([c, s]) if *c > 0 && *s > 0 => Ok((*c, *s, *s)),
        _ => Err(format!("expected CxHxW such as 3x224x224 or 1x28x28, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_parses() {
        assert_eq!(parse_input("3x224x224"), Ok((3, 224, 224)));
        assert_eq!(parse_input("1x28"), Ok((1, 28, 28)));
        assert!(parse_input("3x0x4").is_err());
        assert!(parse_input("rgb").is_err());
    }
}
