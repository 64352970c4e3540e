//! What a figure shows, built from runs and analyses without drawing anything: titles, axis labels
//! with units, and series of points. `render` turns it into an SVG or PNG; tests check it directly.

use anyhow::{Result, bail};

use crate::results::analysis::{ALL_GROUPS, Analyses, fraction_label};
use crate::results::rank::{EnergyBasis, Ranking, Variant};
use crate::results::record::RunRecord;

/// The figures `pepr plot` draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// P against one resource for one comparison set: Pareto front, iso-PePR lines, efficient marked.
    Pareto,
    /// PePR against log10(parameters), efficient architectures marked (the paper's Fig. 5c/d).
    Params,
    /// Pretrained vs scratch per architecture: ΔP against the resource difference.
    Pretrained,
    /// Median P and PePR against the share of training data.
    Fraction,
    /// Test performance after each epoch of chosen runs.
    Curves,
}

impl Kind {
    pub const NAMES: &'static str = "pareto, params, pretrained, fraction, curves";

    pub fn parse(text: &str) -> Option<Kind> {
        Some(match text {
            "pareto" => Kind::Pareto,
            "params" => Kind::Params,
            "pretrained" => Kind::Pretrained,
            "fraction" => Kind::Fraction,
            "curves" => Kind::Curves,
            _ => return None,
        })
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// One circle per point (each point is a run or an architecture); `filled` sets the marked ones
    /// apart (efficient architectures).
    Markers { filled: bool },
    /// A solid line through the points (the Pareto front, a median).
    Line,
    /// A dashed reference line (iso-PePR, zero).
    Dashed,
    /// A line with a circle at each point (learning curves, medians per level).
    LineMarkers,
}

impl Style {
    pub fn has_markers(self) -> bool {
        matches!(self, Style::Markers { .. } | Style::LineMarkers)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    /// Index into the palette.
    pub color: usize,
    pub style: Style,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Named x positions (the fraction levels); numbers otherwise.
    pub x_ticks: Option<Vec<(f64, String)>>,
    pub series: Vec<Series>,
    /// A line under the title: what was left out, how lines are defined.
    pub note: Option<String>,
}

impl Figure {
    /// The circles drawn: one per run (pareto), architecture (params, pretrained) or point.
    pub fn markers(&self) -> usize {
        self.series.iter().filter(|s| s.style.has_markers()).map(|s| s.points.len()).sum()
    }
}

/// What the figure is drawn from.
pub struct Inputs<'a> {
    pub records: &'a [RunRecord],
    pub ranking: &'a Ranking,
    pub analyses: Option<&'a Analyses>,
}

/// The figure's choices: `group` selects the comparison set, group, pair or family (default: the
/// first; for `params`, all groups averaged), `runs` the runs of `curves` (default: the set's five
/// best by the variant).
#[derive(Clone, Debug, Default)]
pub struct Choice {
    pub group: Option<String>,
    pub variant: Variant,
    pub runs: Vec<String>,
}

/// Iso-PePR lines through the set's best score and at these fractions of it (as the TUI's chart).
const ISO_FRACTIONS: [f64; 3] = [1.0, 0.8, 0.6];

pub const OTHER: usize = 0;
pub const EFFICIENT: usize = 1;
pub const FRONT: usize = 2;
pub const REFERENCE: usize = 3;

pub fn build(kind: Kind, inputs: &Inputs, choice: &Choice) -> Result<Figure> {
    match kind {
        Kind::Pareto => pareto(inputs, choice),
        Kind::Curves => curves(inputs, choice),
        Kind::Params | Kind::Pretrained | Kind::Fraction => {
            let Some(analyses) = inputs.analyses else { bail!("the analyses were not computed") };
            match kind {
                Kind::Params => params(analyses, choice),
                Kind::Pretrained => pretrained(analyses, choice),
                _ => fraction(analyses, choice),
            }
        }
    }
}

/// The comparison set named `group`, or the first; an unknown name lists the sets.
fn set_index(ranking: &Ranking, group: Option<&str>) -> Result<usize> {
    if ranking.sets.is_empty() {
        bail!("no runs to plot: the store is empty (import some with `pepr import --paper` or `pepr import FILE`)");
    }
    match group {
        None => Ok(0),
        Some(name) => ranking.set_index(name).ok_or_else(|| {
            let names: Vec<&str> = ranking.sets.iter().map(|s| s.name.as_str()).collect();
            anyhow::anyhow!(
                "no comparison set named {name:?}{}; the store has: {}",
                crate::suggest::did_you_mean(name, names.iter().copied()),
                names.join(", ")
            )
        }),
    }
}

fn resource_label(v: Variant, energy: EnergyBasis) -> String {
    let name = if v == Variant::Energy && energy == EnergyBasis::Net { "net energy" } else { v.resource_name() };
    format!("{name} ({})", v.unit())
}

fn pareto(inputs: &Inputs, choice: &Choice) -> Result<Figure> {
    let ranking = inputs.ranking;
    let set = set_index(ranking, choice.group.as_deref())?;
    let v = choice.variant;
    let i = v.index();
    let mut other = Vec::new();
    let mut efficient = Vec::new();
    let mut front = Vec::new();
    let mut without = 0;
    let mut metric = None;
    let mut best = f64::NAN;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for run in ranking.runs.iter().filter(|r| r.set == set) {
        let record = &inputs.records[run.index];
        // Only scored runs: an interrupted or failed run has no place on the front.
        let (Some(x), Some(score)) = (ranking.resource(v, record), run.score[i]) else {
            without += 1;
            continue;
        };
        metric.get_or_insert_with(|| record.metric.clone());
        best = best.max(score);
        (lo, hi) = (lo.min(x), hi.max(x));
        let point = (x, record.performance);
        if record.efficient == Some(true) {
            efficient.push(point)
        } else {
            other.push(point)
        }
        if run.pareto[i] {
            front.push(point);
        }
    }
    let name = &ranking.sets[set].name;
    if other.is_empty() && efficient.is_empty() {
        bail!(
            "no run in {name:?} has a {} figure and a score, so there is no PePR-{} to plot",
            v.resource_name(),
            v.letter()
        );
    }
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut series = Vec::new();
    // P / (1 + R_n) = c is the straight line P = c (1 + (R - lo) / (hi - lo)) from lo to hi.
    if best > 0.0 {
        for (k, fraction) in ISO_FRACTIONS.iter().enumerate() {
            let c = best * fraction;
            let end = if hi > lo { 2.0 * c } else { c };
            series.push(Series {
                label: if k == 0 {
                    format!("PePR-{} = {:.3} (best), x0.8, x0.6", v.letter(), best)
                } else {
                    String::new()
                },
                color: REFERENCE,
                style: Style::Dashed,
                points: vec![(lo, c), (hi, end)],
            });
        }
    }
    series.push(Series { label: "Pareto front".into(), color: FRONT, style: Style::Line, points: front });
    let runs = other.len() + efficient.len();
    series.push(Series {
        label: "other architectures".into(),
        color: OTHER,
        style: Style::Markers { filled: false },
        points: other,
    });
    if !efficient.is_empty() {
        series.push(Series {
            label: "efficient architectures".into(),
            color: EFFICIENT,
            style: Style::Markers { filled: true },
            points: efficient,
        });
    }
    let mut note = format!("{runs} runs; dashed: equal PePR-{}", v.letter());
    if without > 0 {
        note.push_str(&format!("; {without} without a {} figure or score left out", v.resource_name()));
    }
    Ok(Figure {
        title: format!("{name}: P against {} · PePR-{}", v.resource_name(), v.letter()),
        x_label: resource_label(v, ranking.energy),
        y_label: format!("P ({})", metric.unwrap_or_default()),
        x_ticks: None,
        series,
        note: Some(note),
    })
}

fn params(analyses: &Analyses, choice: &Choice) -> Result<Figure> {
    let v = choice.variant;
    let groups = &analyses.params;
    if groups.is_empty() {
        bail!("no runs with a parameter count to plot");
    }
    let group = match choice.group.as_deref() {
        None => groups.iter().find(|g| g.group == ALL_GROUPS).unwrap_or(&groups[0]),
        Some(name) => groups.iter().find(|g| g.group == name || g.dataset == name).ok_or_else(|| {
            let names: Vec<&str> = groups.iter().map(|g| g.group.as_str()).collect();
            anyhow::anyhow!(
                "no group named {name:?}{}; the groups are: {}",
                crate::suggest::did_you_mean(name, names.iter().copied()),
                names.join(", ")
            )
        })?,
    };
    let mut other = Vec::new();
    let mut efficient = Vec::new();
    for point in &group.points {
        let Some(score) = point.score[v.index()] else { continue };
        let xy = ((point.params as f64).log10(), score);
        if point.efficient == Some(true) { efficient.push(xy) } else { other.push(xy) }
    }
    let summary = group.summary(v);
    let fmt = |x: Option<f64>| x.map_or("—".to_string(), |x| format!("{x:.3}"));
    Ok(Figure {
        title: format!("{}: PePR-{} against model size", group.group, v.letter()),
        x_label: "log10(parameters)".into(),
        y_label: format!("PePR-{}", v.letter()),
        x_ticks: None,
        series: vec![
            Series {
                label: "other architectures".into(),
                color: OTHER,
                style: Style::Markers { filled: false },
                points: other,
            },
            Series {
                label: "efficient architectures".into(),
                color: EFFICIENT,
                style: Style::Markers { filled: true },
                points: efficient,
            },
        ],
        note: Some(format!(
            "median PePR-{}: efficient {}, other {}; Spearman rho {}",
            v.letter(),
            fmt(summary.median_efficient),
            fmt(summary.median_other),
            fmt(summary.spearman)
        )),
    })
}

fn pretrained(analyses: &Analyses, choice: &Choice) -> Result<Figure> {
    let v = choice.variant;
    if analyses.paired.is_empty() {
        bail!(
            "no pair of groups to compare: it takes a scratch group and a pretrained group on the same dataset and data \
             fraction"
        );
    }
    let paired = match choice.group.as_deref() {
        None => &analyses.paired[0],
        Some(name) => analyses
            .paired
            .iter()
            .find(|p| p.pair.pretrained == name || p.pair.scratch == name || p.pair.dataset == name)
            .ok_or_else(|| {
                let names: Vec<String> = analyses.paired.iter().map(|p| p.pair.pretrained.clone()).collect();
                anyhow::anyhow!(
                    "no pair with the group or dataset {name:?}; the pretrained groups are: {}",
                    names.join(", ")
                )
            })?,
    };
    let points: Vec<(f64, f64)> = paired.rows.iter().filter_map(|row| row.dr(v).map(|dr| (dr, row.dp()))).collect();
    let summary = paired.summary(v);
    let (lo, hi) = points.iter().fold((0.0f64, 0.0f64), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    Ok(Figure {
        title: format!("{} vs {}: ΔP against Δ{}", paired.pair.pretrained, paired.pair.scratch, v.resource_name()),
        x_label: format!("Δ{} = pretrained − scratch ({})", v.resource_name(), v.unit()),
        y_label: "ΔP = P(pretrained) − P(scratch)".into(),
        x_ticks: None,
        series: vec![
            Series {
                label: "ΔP = 0".into(),
                color: REFERENCE,
                style: Style::Dashed,
                points: vec![(lo, 0.0), (hi, 0.0)],
            },
            Series { label: "architectures".into(), color: OTHER, style: Style::Markers { filled: false }, points },
        ],
        note: Some(format!(
            "{} architectures; pretrained reaches a higher P for {} of them",
            summary.archs, summary.p_wins
        )),
    })
}

fn fraction(analyses: &Analyses, choice: &Choice) -> Result<Figure> {
    let v = choice.variant;
    if analyses.families.is_empty() {
        bail!("no dataset has groups that differ only in the share of training data (e.g. derma and derma_small)");
    }
    let family = match choice.group.as_deref() {
        None => &analyses.families[0],
        Some(name) => analyses
            .families
            .iter()
            .find(|f| f.dataset == name || f.levels.iter().any(|l| l.group == name))
            .ok_or_else(|| {
                let names: Vec<String> =
                    analyses.families.iter().flat_map(|f| f.levels.iter().map(|l| l.group.clone())).collect();
                anyhow::anyhow!("no data-fraction family with {name:?}; its groups are: {}", names.join(", "))
            })?,
    };
    let summary = family.summary(v);
    let level_points = |value: &dyn Fn(usize) -> Option<f64>| -> Vec<(f64, f64)> {
        (0..family.levels.len()).filter_map(|k| value(k).map(|y| (k as f64, y))).collect()
    };
    let p = level_points(&|k| summary[k].median_p);
    let score = level_points(&|k| summary[k].median_score);
    let ticks = family
        .levels
        .iter()
        .enumerate()
        .map(|(k, l)| (k as f64, format!("{} {}", l.group, fraction_label(l.fraction))))
        .collect();
    Ok(Figure {
        title: format!("{}: P and PePR-{} against the share of training data", family.label(), v.letter()),
        x_label: "group and share of the training split (most data first)".into(),
        y_label: format!("median over architectures (P, PePR-{})", v.letter()),
        x_ticks: Some(ticks),
        series: vec![
            Series { label: "median P".into(), color: FRONT, style: Style::LineMarkers, points: p },
            Series {
                label: format!("median PePR-{}", v.letter()),
                color: EFFICIENT,
                style: Style::LineMarkers,
                points: score,
            },
        ],
        note: Some(format!(
            "over the {} architectures with runs at every level",
            summary.first().map_or(0, |s| s.archs)
        )),
    })
}

fn curves(inputs: &Inputs, choice: &Choice) -> Result<Figure> {
    let ranking = inputs.ranking;
    let v = choice.variant;
    let runs: Vec<usize> = if choice.runs.is_empty() {
        let set = set_index(ranking, choice.group.as_deref())?;
        let mut in_set: Vec<&crate::results::rank::RankedRun> =
            ranking.runs.iter().filter(|r| r.set == set && r.rank[v.index()].is_some()).collect();
        in_set.sort_by_key(|r| r.rank[v.index()]);
        in_set.iter().take(5).map(|r| r.index).collect()
    } else {
        choice
            .runs
            .iter()
            .map(|id| {
                inputs
                    .records
                    .iter()
                    .position(|r| &r.id == id)
                    .ok_or_else(|| anyhow::anyhow!("no run with the id {id:?}"))
            })
            .collect::<Result<_>>()?
    };
    let series: Vec<Series> = runs
        .iter()
        .enumerate()
        .map(|(k, &index)| {
            let record = &inputs.records[index];
            Series {
                label: format!("{} ({})", record.arch, record.group),
                color: 4 + k,
                style: Style::LineMarkers,
                points: record.epoch_perf.iter().enumerate().map(|(e, &p)| ((e + 1) as f64, p)).collect(),
            }
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.is_empty() {
        bail!("none of the chosen runs has per-epoch test figures");
    }
    let title = match (&choice.group, choice.runs.is_empty()) {
        (Some(group), true) => {
            format!("{group}: test performance per epoch, best {} by PePR-{}", series.len(), v.letter())
        }
        (None, true) => format!(
            "{}: test performance per epoch, best {} by PePR-{}",
            ranking.sets[0].name,
            series.len(),
            v.letter()
        ),
        _ => "test performance per epoch".to_string(),
    };
    let metric = inputs.records[runs[0]].metric.clone();
    Ok(Figure { title, x_label: "epoch".into(), y_label: format!("P ({metric})"), x_ticks: None, series, note: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::rank::{SetBy, rank};

    fn paper() -> (Vec<RunRecord>, Ranking, Analyses) {
        let records = crate::results::paper::records().unwrap();
        let ranking = rank(&records, SetBy::Group).unwrap();
        let analyses = crate::results::analysis::analyze(&records).unwrap();
        (records, ranking, analyses)
    }

    fn figure(kind: Kind, group: Option<&str>) -> Result<Figure> {
        let (records, ranking, analyses) = paper();
        let inputs = Inputs { records: &records, ranking: &ranking, analyses: Some(&analyses) };
        build(kind, &inputs, &Choice { group: group.map(str::to_string), ..Choice::default() })
    }

    #[test]
    fn pareto_has_one_marker_per_run_and_the_front_of_the_ranking() {
        let (records, ranking, _) = paper();
        let inputs = Inputs { records: &records, ranking: &ranking, analyses: None };
        let fig =
            build(Kind::Pareto, &inputs, &Choice { group: Some("derma_pt".into()), ..Choice::default() }).unwrap();
        assert_eq!(fig.markers(), 131);
        let set = ranking.set_index("derma_pt").unwrap();
        let on_front = ranking.runs.iter().filter(|r| r.set == set && r.pareto[0]).count();
        let front = fig.series.iter().find(|s| s.label == "Pareto front").unwrap();
        assert_eq!(front.points.len(), on_front);
        assert!(front.points.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1), "the front climbs");
        let efficient = records.iter().filter(|r| r.group == "derma_pt" && r.efficient == Some(true)).count();
        assert_eq!(fig.series.iter().find(|s| s.color == EFFICIENT).unwrap().points.len(), efficient);
        assert_eq!(fig.x_label, "energy (kWh)");
        assert_eq!(fig.y_label, "P (test accuracy)");
        assert!(fig.title.starts_with("derma_pt: P against energy"));
        // The best run lies on the first iso-line: P = best (1 + R_n).
        let iso = &fig.series[0];
        assert_eq!(iso.style, Style::Dashed);
        let best = ranking.runs.iter().filter(|r| r.set == set).filter_map(|r| r.score[0]).fold(0.0, f64::max);
        assert!((iso.points[0].1 - best).abs() < 1e-12 && (iso.points[1].1 - 2.0 * best).abs() < 1e-12);
    }

    #[test]
    fn unknown_names_are_errors_with_suggestions() {
        let err = figure(Kind::Pareto, Some("derma_tp")).unwrap_err().to_string();
        assert!(err.contains("no comparison set named \"derma_tp\"; did you mean derma_pt"), "{err}");
        assert!(figure(Kind::Params, Some("nope")).unwrap_err().to_string().contains("the groups are:"));
        assert_eq!(Kind::parse("pareto"), Some(Kind::Pareto));
        assert_eq!(Kind::parse("bars"), None);
    }

    #[test]
    fn the_analyses_figures_have_one_marker_per_architecture_or_level() {
        let params = figure(Kind::Params, None).unwrap();
        assert!(params.title.starts_with("all groups"));
        assert_eq!(params.markers(), 131);
        let pretrained = figure(Kind::Pretrained, Some("derma")).unwrap();
        assert_eq!(pretrained.markers(), 131);
        assert!(
            pretrained.note.as_deref().unwrap().contains("131 architectures; pretrained reaches a higher P for 115")
        );
        let fraction = figure(Kind::Fraction, Some("derma")).unwrap();
        let levels = fraction.x_ticks.as_ref().unwrap().len();
        assert!(levels >= 2);
        assert_eq!(fraction.markers(), 2 * levels);
        let curves = figure(Kind::Curves, Some("lidc")).unwrap();
        assert_eq!(curves.series.len(), 5);
        assert!(curves.series.iter().all(|s| s.points.len() == 10));
    }
}
