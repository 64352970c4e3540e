//! Group names and cell ids.
//!
//! Groups follow the paper's naming (saintslab/PePR's `all_results.csv`): the dataset's name, `_pt`
//! when the run starts from pretrained weights, and a suffix for a reduced training set. The paper's
//! code does not record its subset sizes (`num_data` is set outside the repository); its published
//! training times put `_small` near 10% and `_smallest` near 1% of the full set (derma_small /
//! derma_pt time: 0.17, derma_smallest: 0.09, about a fixed overhead plus a share of the data).
//! So pepr names fraction 0.1 `_small`, 0.01 `_smallest`, and any other fraction `_f{F}`.
//! Note that the paper's `derma_small` and `derma_smallest` runs were pretrained; pepr's
//! pretrained-and-reduced groups are `derma_pt_small` unless renamed (e.g. `dermamnist_pt_small=derma_small`).

/// The default group-name template: `{dataset}{pt}{fraction}`.
pub const DEFAULT_TEMPLATE: &str = "{dataset}{pt}{fraction}";

/// The placeholders a group-name template may use.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("{dataset}", "the dataset's name"),
    ("{pt}", "`_pt` for a pretrained start, else nothing"),
    ("{fraction}", "`_small` (0.1), `_smallest` (0.01), `_fF` (other), nothing (1)"),
    ("{f}", "the fraction as a number, e.g. 0.25"),
    ("{start}", "`scratch` or `pt`"),
];

/// A cell's group under `template` (see [`PLACEHOLDERS`]).
pub fn apply_template(template: &str, dataset: &str, pretrained: bool, fraction: f64) -> String {
    template
        .replace("{dataset}", dataset)
        .replace("{pt}", if pretrained { "_pt" } else { "" })
        .replace("{fraction}", &fraction_suffix(fraction))
        .replace("{f}", &fraction.to_string())
        .replace("{start}", if pretrained { "pt" } else { "scratch" })
}

/// Rejects a template with an unknown `{...}` placeholder or unbalanced braces.
pub fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').ok_or_else(|| format!("{template:?}: a `{{` is not closed"))?;
        let token = &rest[open..open + close + 1];
        if !PLACEHOLDERS.iter().any(|(p, _)| *p == token) {
            let known: Vec<&str> = PLACEHOLDERS.iter().map(|(p, _)| *p).collect();
            return Err(format!("{template:?}: unknown placeholder {token} (known: {})", known.join(" ")));
        }
        rest = &rest[open + close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("{template:?}: a `}}` has no `{{`"));
    }
    Ok(())
}

/// The default comparison group of a cell.
pub fn default_group(dataset: &str, pretrained: bool, fraction: f64) -> String {
    let mut name = dataset.to_string();
    if pretrained {
        name.push_str("_pt");
    }
    name.push_str(&fraction_suffix(fraction));
    name
}

/// `""` for the whole training split, `_small` for 10%, `_smallest` for 1%, else `_f{F}`.
pub fn fraction_suffix(fraction: f64) -> String {
    if fraction >= 1.0 {
        String::new()
    } else if fraction == 0.1 {
        "_small".into()
    } else if fraction == 0.01 {
        "_smallest".into()
    } else {
        format!("_f{fraction}")
    }
}

/// A cell's id, the same across runs and machines: `DATASET/ARCH/START/fF/sSEED`, START being
/// `scratch` or `pt`.
pub fn cell_id(dataset: &str, arch: &str, pretrained: bool, fraction: f64, seed: u64) -> String {
    let start = if pretrained { "pt" } else { "scratch" };
    format!("{dataset}/{arch}/{start}/f{fraction}/s{seed}")
}

/// Parses a rename `FROM=TO` (group names: no spaces, not empty).
pub fn parse_rename(text: &str) -> Result<(String, String), String> {
    let (from, to) = text.split_once('=').ok_or_else(|| format!("expected FROM=TO, got {text:?}"))?;
    let (from, to) = (from.trim(), to.trim());
    for name in [from, to] {
        check_group_name(name)?;
    }
    Ok((from.to_string(), to.to_string()))
}

/// A group name must be non-empty and printable without spaces (it is a CSV cell and a set name).
pub fn check_group_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',') {
        return Err(format!("{name:?} is not a group name (no spaces or commas, not empty)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_style_group_names() {
        assert_eq!(default_group("derma", false, 1.0), "derma");
        assert_eq!(default_group("derma", true, 1.0), "derma_pt");
        assert_eq!(default_group("derma", false, 0.1), "derma_small");
        assert_eq!(default_group("derma", false, 0.01), "derma_smallest");
        assert_eq!(default_group("derma", true, 0.1), "derma_pt_small");
        assert_eq!(default_group("derma", false, 0.25), "derma_f0.25");
    }

    #[test]
    fn templates() {
        for (pt, f) in [(false, 1.0), (true, 0.1), (false, 0.01), (true, 0.3)] {
            assert_eq!(apply_template(DEFAULT_TEMPLATE, "derma", pt, f), default_group("derma", pt, f));
        }
        assert_eq!(apply_template("{dataset}-{start}-{f}", "derma", true, 0.1), "derma-pt-0.1");
        assert_eq!(apply_template("{dataset}{fraction}", "derma", true, 0.1), "derma_small");
        assert!(check_template("{dataset}{pt}").is_ok());
        assert!(check_template("{dataset}{seed}").unwrap_err().contains("unknown placeholder {seed}"));
        assert!(check_template("{dataset").unwrap_err().contains("not closed"));
        assert!(check_template("dataset}").unwrap_err().contains("has no"));
    }

    #[test]
    fn ids_and_renames() {
        assert_eq!(cell_id("derma", "resnet18", true, 0.1, 2), "derma/resnet18/pt/f0.1/s2");
        assert_eq!(cell_id("derma", "resnet18", false, 1.0, 0), "derma/resnet18/scratch/f1/s0");
        assert_eq!(parse_rename("derma_f0.1 = derma_small"), Ok(("derma_f0.1".into(), "derma_small".into())));
        assert!(parse_rename("derma").unwrap_err().contains("FROM=TO"));
        assert!(parse_rename("derma=").is_err());
        assert!(parse_rename("a=b c").is_err());
    }
}
