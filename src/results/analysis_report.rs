//! `pepr analyze pretrained|fraction|params`: the analyses as a table, CSV or JSON.

use std::io::Write;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::analysis::{Analyses, Family, Paired, ParamsGroup, arch_label, fraction_label};
use super::rank::Variant;
use crate::format::{fixed, share, signed};
use crate::output::{self, Cell, Format, Table};

/// Which analysis to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Pretrained,
    Fraction,
    Params,
}

/// Prints one analysis, keeping only what matches `only` (a dataset or a group name).
pub fn print(
    out: &mut impl Write,
    analyses: &Analyses,
    which: Which,
    only: Option<&str>,
    v: Variant,
    format: Format,
) -> Result<()> {
    let matches = |names: &[&str]| only.is_none_or(|d| names.contains(&d));
    match which {
        Which::Pretrained => {
            let shown: Vec<&Paired> = analyses
                .paired
                .iter()
                .filter(|p| matches(&[&p.pair.dataset, &p.pair.scratch, &p.pair.pretrained]))
                .collect();
            if shown.is_empty() {
                let names: Vec<String> = analyses
                    .paired
                    .iter()
                    .map(|p| format!("{} ({} vs {})", p.pair.dataset, p.pair.scratch, p.pair.pretrained))
                    .collect();
                return nothing(
                    out,
                    only,
                    "pair of a scratch and a pretrained group on the same dataset and fraction",
                    &names,
                    format,
                );
            }
            print_paired(out, &shown, v, format)
        }
        Which::Fraction => {
            let shown: Vec<&Family> = analyses
                .families
                .iter()
                .filter(|f| {
                    let mut names = vec![f.dataset.as_str()];
                    names.extend(f.levels.iter().map(|l| l.group.as_str()));
                    matches(&names)
                })
                .collect();
            if shown.is_empty() {
                let names: Vec<String> = analyses.families.iter().map(Family::label).collect();
                return nothing(
                    out,
                    only,
                    "dataset with groups that differ in the share of training data",
                    &names,
                    format,
                );
            }
            print_fraction(out, &shown, v, format)
        }
        Which::Params => {
            let shown: Vec<&ParamsGroup> =
                analyses.params.iter().filter(|g| matches(&[&g.dataset, &g.group])).collect();
            if shown.is_empty() {
                let names: Vec<String> = analyses.params.iter().map(|g| g.group.clone()).collect();
                return nothing(out, only, "group with parameter counts", &names, format);
            }
            print_params(out, &shown, v, format)
        }
    }
}

/// Nothing to show: an error when a filter matched nothing, else an empty result.
fn nothing(out: &mut impl Write, only: Option<&str>, what: &str, names: &[String], format: Format) -> Result<()> {
    if let Some(name) = only {
        bail!(
            "no {what} matches {name:?}; the store has: {}",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    }
    match format {
        Format::Json => writeln!(out, "[]")?,
        Format::Csv => {}
        Format::Table => writeln!(out, "no {what} in the store")?,
    }
    Ok(())
}

fn print_paired(out: &mut impl Write, shown: &[&Paired], v: Variant, format: Format) -> Result<()> {
    let i = v.index();
    let r = v.resource_column();
    match format {
        Format::Csv => {
            let header = [
                "dataset".to_string(),
                "fraction".into(),
                "scratch_group".into(),
                "pretrained_group".into(),
                "arch".into(),
                "runs_scratch".into(),
                "runs_pretrained".into(),
                "P_scratch".into(),
                "P_pretrained".into(),
                "dP".into(),
                "P_ratio".into(),
                format!("{r}_scratch"),
                format!("{r}_pretrained"),
                format!("d_{r}"),
                format!("{r}_ratio"),
            ];
            let rows = shown.iter().flat_map(|paired| {
                let pair = &paired.pair;
                paired.rows.iter().map(move |row| {
                    vec![
                        Cell::Text(pair.dataset.clone()),
                        Cell::Number(pair.fraction),
                        Cell::Text(pair.scratch.clone()),
                        Cell::Text(pair.pretrained.clone()),
                        Cell::Text(row.name()),
                        Cell::Count(row.runs.0 as u64),
                        Cell::Count(row.runs.1 as u64),
                        Cell::Number(Some(row.p_scratch)),
                        Cell::Number(Some(row.p_pretrained)),
                        Cell::Number(Some(row.dp())),
                        Cell::Number(row.p_ratio()),
                        Cell::Number(row.r_scratch[i]),
                        Cell::Number(row.r_pretrained[i]),
                        Cell::Number(row.dr(v)),
                        Cell::Number(row.r_ratio(v)),
                    ]
                })
            });
            output::write_csv(out, &header, rows)?;
        }
        Format::Json => {
            let value: Vec<Value> = shown
                .iter()
                .map(|paired| {
                    let pair = &paired.pair;
                    let s = paired.summary(v);
                    json!({
                        "dataset": pair.dataset, "fraction": pair.fraction, "scratch_group": pair.scratch,
                        "pretrained_group": pair.pretrained, "source": pair.source, "resource": r,
                        "summary": {
                            "archs": s.archs, "mean_dP": s.mean_dp, "median_dP": s.median_dp, "pretrained_higher_P": s.p_wins,
                            "with_resource": s.with_resource, "mean_dR": s.mean_dr, "median_dR": s.median_dr,
                            "median_R_ratio": s.median_r_ratio, "pretrained_less_resource": s.r_wins,
                        },
                        "rows": paired.rows.iter().map(|row| json!({
                            "arch": row.arch, "settings": row.setting, "runs_scratch": row.runs.0, "runs_pretrained": row.runs.1,
                            "P_scratch": row.p_scratch, "P_pretrained": row.p_pretrained, "dP": row.dp(), "P_ratio": row.p_ratio(),
                            "R_scratch": row.r_scratch[i], "R_pretrained": row.r_pretrained[i], "dR": row.dr(v), "R_ratio": row.r_ratio(v),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            output::write_value(out, &value)?;
        }
        Format::Table => {
            for paired in shown {
                let pair = &paired.pair;
                let s = paired.summary(v);
                writeln!(
                    out,
                    "== {} (scratch) vs {} (pretrained: {}) on {}, {} of the training data ==",
                    pair.scratch,
                    pair.pretrained,
                    pair.source,
                    pair.dataset,
                    fraction_label(pair.fraction)
                )?;
                writeln!(out, "{} architectures in both groups (each value: the mean over a cell's seeds)", s.archs)?;
                writeln!(
                    out,
                    "dP = P(pretrained) - P(scratch): mean {}, median {}; pretrained reached higher P: {}",
                    signed(s.mean_dp, 4),
                    signed(s.median_dp, 4),
                    share(s.p_wins, s.archs)
                )?;
                writeln!(
                    out,
                    "dR = R(pretrained) - R(scratch), R = {} ({}): mean {}, median {}; median ratio {}; pretrained used less: {}",
                    v.resource_name(),
                    v.unit(),
                    signed(s.mean_dr, 5),
                    signed(s.median_dr, 5),
                    fixed(s.median_r_ratio, 3),
                    share(s.r_wins, s.with_resource)
                )?;
                let headers = ["arch", "P_scratch", "P_pretr", "dP", "R_scratch", "R_pretr", "dR", "R_ratio"];
                let rows: Vec<Vec<String>> = paired
                    .rows
                    .iter()
                    .map(|row| {
                        vec![
                            row.name(),
                            format!("{:.4}", row.p_scratch),
                            format!("{:.4}", row.p_pretrained),
                            format!("{:+.4}", row.dp()),
                            fixed(row.r_scratch[i], 5),
                            fixed(row.r_pretrained[i], 5),
                            signed(row.dr(v), 5),
                            fixed(row.r_ratio(v), 3),
                        ]
                    })
                    .collect();
                table(out, &headers, &rows)?;
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

fn print_fraction(out: &mut impl Write, shown: &[&Family], v: Variant, format: Format) -> Result<()> {
    let i = v.index();
    let score = v.score_column();
    match format {
        Format::Csv => {
            let header = ["dataset", "pretrained", "group", "fraction", "arch", "P", score, "at_every_level", "runs"];
            let mut rows = Vec::new();
            for family in shown {
                for arch in &family.archs {
                    let complete = arch.points.iter().all(Option::is_some);
                    for ((level, point), runs) in family.levels.iter().zip(&arch.points).zip(&arch.runs) {
                        let Some((p, scores)) = point else { continue };
                        rows.push(vec![
                            Cell::Text(family.dataset.clone()),
                            Cell::Text(family.pretrained.clone().unwrap_or_default()),
                            Cell::Text(level.group.clone()),
                            Cell::Number(level.fraction),
                            Cell::Text(arch.name()),
                            Cell::Number(Some(*p)),
                            Cell::Number(scores[i]),
                            Cell::Flag(complete),
                            Cell::Count(*runs as u64),
                        ]);
                    }
                }
            }
            output::write_csv(out, &header, rows)?;
        }
        Format::Json => {
            let value: Vec<Value> = shown
                .iter()
                .map(|family| {
                    let summary = family.summary(v);
                    json!({
                        "dataset": family.dataset, "pretrained": family.pretrained, "variant": score,
                        "levels": family.levels.iter().zip(&summary).map(|(l, s)| json!({
                            "group": l.group, "fraction": l.fraction, "archs_at_every_level": s.archs,
                            "median_P": s.median_p, "median_pepr": s.median_score,
                        })).collect::<Vec<_>>(),
                        "archs": family.archs.iter().map(|a| json!({
                            "arch": a.arch, "settings": a.setting, "runs": a.runs,
                            "points": a.points.iter().map(|p| p.map(|(p, s)| json!({"P": p, "pepr": s[i]}))).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            output::write_value(out, &value)?;
        }
        Format::Table => {
            for family in shown {
                let summary = family.summary(v);
                writeln!(out, "== {} ==", family.label())?;
                writeln!(
                    out,
                    "medians over the {} of {} architectures with runs at every level (each value: the mean over a cell's seeds)",
                    summary.first().map_or(0, |s| s.archs),
                    family.archs.len()
                )?;
                let median_score = format!("median_PePR-{}", v.letter());
                let headers = ["group", "fraction", "archs", "median_P", median_score.as_str()];
                let rows: Vec<Vec<String>> = family
                    .levels
                    .iter()
                    .zip(&summary)
                    .map(|(l, s)| {
                        vec![
                            l.group.clone(),
                            fraction_label(l.fraction),
                            s.archs.to_string(),
                            fixed(s.median_p, 4),
                            fixed(s.median_score, 4),
                        ]
                    })
                    .collect();
                table(out, &headers, &rows)?;
                if family.levels.iter().any(|l| l.fraction.is_none()) {
                    writeln!(out, "? = share of the training data not known (listed after the known ones)")?;
                }
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

fn print_params(out: &mut impl Write, shown: &[&ParamsGroup], v: Variant, format: Format) -> Result<()> {
    let i = v.index();
    let score = v.score_column();
    let efficient = |e: Option<bool>| e.map(|e| e.to_string()).unwrap_or_default();
    match format {
        Format::Csv => {
            let header = ["group", "dataset", "arch", "params", "log10_params", "efficient", "P", score, "runs"];
            let rows = shown.iter().flat_map(|group| {
                group.points.iter().map(move |p| {
                    vec![
                        Cell::Text(group.group.clone()),
                        Cell::Text(group.dataset.clone()),
                        Cell::Text(arch_label(&p.arch, &p.setting)),
                        Cell::Count(p.params),
                        Cell::Number(Some((p.params.max(1) as f64).log10())),
                        Cell::Text(efficient(p.efficient)),
                        Cell::Number(Some(p.performance)),
                        Cell::Number(p.score[i]),
                        Cell::Count(p.runs as u64),
                    ]
                })
            });
            output::write_csv(out, &header, rows)?;
        }
        Format::Json => {
            let value: Vec<Value> = shown
                .iter()
                .map(|group| {
                    let s = group.summary(v);
                    json!({
                        "group": group.group, "dataset": group.dataset, "variant": score,
                        "summary": {
                            "points": s.points, "efficient": s.efficient, "other": s.other,
                            "median_pepr_efficient": s.median_efficient, "median_pepr_other": s.median_other,
                            "spearman_pepr_log10_params": s.spearman,
                        },
                        "points": group.points.iter().map(|p| json!({
                            "arch": p.arch, "settings": p.setting, "runs": p.runs, "params": p.params, "efficient": p.efficient, "P": p.performance, "pepr": p.score[i],
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            output::write_value(out, &value)?;
        }
        Format::Table => {
            for group in shown {
                let s = group.summary(v);
                writeln!(out, "== {} ({}) ==", group.group, group.dataset)?;
                writeln!(
                    out,
                    "{} architectures; median PePR-{}: efficient {} (n={}), other {} (n={}); Spearman rho(PePR-{}, log10 params) = {}",
                    s.points,
                    v.letter(),
                    fixed(s.median_efficient, 4),
                    s.efficient,
                    fixed(s.median_other, 4),
                    s.other,
                    v.letter(),
                    signed(s.spearman, 3)
                )?;
                let mut points: Vec<_> = group.points.iter().collect();
                points.sort_by(|a, b| a.params.cmp(&b.params).then_with(|| a.arch.cmp(&b.arch)));
                let pepr = format!("PePR-{}", v.letter());
                let headers = ["arch", "params", "efficient", "P", pepr.as_str()];
                let rows: Vec<Vec<String>> = points
                    .iter()
                    .map(|p| {
                        vec![
                            arch_label(&p.arch, &p.setting),
                            p.params.to_string(),
                            p.efficient.map_or("—".into(), |e| if e { "yes".into() } else { "no".into() }),
                            format!("{:.4}", p.performance),
                            fixed(p.score[i], 4),
                        ]
                    })
                    .collect();
                table(out, &headers, &rows)?;
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// Columns padded to their widest cell; the first left-aligned, the rest right-aligned.
fn table(out: &mut impl Write, headers: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut table = Table::new("  ");
    for (k, title) in headers.iter().enumerate() {
        table = if k == 0 { table.left(*title) } else { table.right(*title) };
    }
    table.write(out, rows)
}
