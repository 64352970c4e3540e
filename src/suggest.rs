//! "Did you mean …?": the known names closest to a mistyped one, for error messages.

/// Up to `max` known names close to `name`, best first: spelled nearly alike (Jaro–Winkler, as
/// clap does for subcommands), or starting with what was typed.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>, max: usize) -> Vec<&'a str> {
    let typed = name.to_lowercase();
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            let similarity = strsim::jaro_winkler(&typed, &lower);
            let prefix = typed.len() >= 3 && lower.starts_with(&typed);
            (similarity >= 0.85 || prefix).then_some((similarity, candidate))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(max).map(|(_, name)| name).collect()
}

/// "; did you mean a, b or c?", or nothing when no known name is close.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match closest(name, known, 3).as_slice() {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        [init @ .., last] => format!("; did you mean {} or {last}?", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_lists_what_it_starts_and_at_most_three() {
        let known =
            ["mobilenetv2_100", "mobilenetv3_large_100", "mobilenetv3_small_100", "mobilenetv4_conv_small", "resnet18"];
        let names = closest("mobilenet", known, 3);
        assert_eq!(names.len(), 3);
        assert!(names.iter().all(|n| n.starts_with("mobilenet")), "{names:?}");
        assert_eq!(did_you_mean("dermamnst", ["dermamnist", "pathmnist", "synthetic"]), "; did you mean dermamnist?");
        assert_eq!(did_you_mean("x", ["dermamnist"]), "");
    }
}
