//! The paper's analyses over stored runs (Selvan et al., arXiv 2403.12562, Fig. 5):
//! - pretrained vs scratch, paired by architecture: the difference in P and in a resource;
//! - P and PePR against the share of training data used;
//! - PePR against parameter count, efficient architectures marked.
//!
//! Everything starts from cells: the completed runs that share a group, architecture, start
//! (scratch or a pretrained source), data fraction and every training setting but the seed
//! (epochs, batch size, learning rate, metric, frozen backbone, backend: as seed aggregation
//! groups). Several runs in one cell (seeds) are averaged: P, each resource and each PePR score are the means over the cell's runs. PePR is
//! scored within each run's group, exactly as the leaderboard does with sets by group.
//! Interrupted and failed runs are left out.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use super::rank::{EnergyBasis, SetBy, Variant, rank_with};
use super::record::{Origin, RunRecord, RunStatus};

/// The share of the training data in the paper's `_small` groups: saintslab/PePR's paper_plots.py
/// labels them "10%" (`tmp10`, `train_10`) against the full groups' "100%". The paper's code does
/// not state the share of `derma_smallest`, so pepr leaves it unknown.
pub const PAPER_SMALL_FRACTION: f64 = 0.1;

/// The share of the training split a run used; `None` when it is not known. A run without a
/// recorded fraction used the whole split, except the paper's `_small` / `_smallest` groups
/// imported before pepr filled their fraction in.
pub fn data_fraction(record: &RunRecord) -> Option<f64> {
    if let Some(fraction) = record.data_fraction {
        return Some(fraction);
    }
    let from_paper = matches!(&record.origin, Origin::Imported { layout, .. } if layout == "paper");
    if from_paper && record.group.ends_with("_smallest") {
        return None;
    }
    if from_paper && record.group.ends_with("_small") {
        return Some(PAPER_SMALL_FRACTION);
    }
    Some(1.0)
}

/// The training settings the runs of one cell share besides group, arch, start and fraction:
/// only the seed may differ between them (a 1-epoch and a 2-epoch run are two cells).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Settings {
    pub epochs: Option<u32>,
    pub batch_size: Option<u32>,
    /// The learning rate's bits (so settings can be ordered and hashed); see [`Settings::lr`].
    lr_bits: Option<u64>,
    pub metric: String,
    pub frozen: bool,
    pub backend: Option<String>,
}

impl Settings {
    pub fn of(record: &RunRecord) -> Settings {
        Settings {
            epochs: record.epochs,
            batch_size: record.batch_size,
            lr_bits: record.lr.map(f64::to_bits),
            metric: record.metric.clone(),
            frozen: record.frozen_backbone == Some(true),
            backend: record.backend.clone(),
        }
    }

    pub fn lr(&self) -> Option<f64> {
        self.lr_bits.map(f64::from_bits)
    }

    /// What a scratch and a pretrained cell must share to be compared: everything but the frozen
    /// backbone (a scratch run cannot freeze one).
    fn for_pairing(&self) -> Settings {
        Settings { frozen: false, ..self.clone() }
    }

    /// A short label of the settings in which `self` differs from any of `others` ("ep2",
    /// "ep1 bs64", "frozen"); empty when it differs from none.
    pub fn label_among<'a>(&self, others: impl IntoIterator<Item = &'a Settings> + Clone) -> String {
        let differs = |f: &dyn Fn(&Settings) -> String| others.clone().into_iter().any(|o| f(o) != f(self));
        // Each field: the text compared, then its label.
        type Show = dyn Fn(&Settings) -> String;
        let fields: [(&Show, &Show); 6] = [
            (&|s| format!("{:?}", s.epochs), &|s| s.epochs.map_or("ep?".into(), |e| format!("ep{e}"))),
            (&|s| format!("{:?}", s.batch_size), &|s| s.batch_size.map_or("bs?".into(), |b| format!("bs{b}"))),
            (&|s| format!("{:?}", s.lr_bits), &|s| s.lr().map_or("lr?".into(), |l| format!("lr{l}"))),
            (&|s| s.metric.clone(), &|s| s.metric.clone()),
            (&|s| s.frozen.to_string(), &|s| if s.frozen { "frozen".into() } else { "full".into() }),
            (&|s| format!("{:?}", s.backend), &|s| s.backend.clone().unwrap_or_else(|| "backend?".into())),
        ];
        fields.iter().filter(|(key, _)| differs(*key)).map(|(_, label)| label(self)).collect::<Vec<_>>().join(" ")
    }
}

/// `arch`, followed by `setting` when there is one ("resnet8 ep2").
pub fn arch_label(arch: &str, setting: &str) -> String {
    if setting.is_empty() { arch.to_string() } else { format!("{arch} {setting}") }
}

/// The means of the completed runs that share a group, architecture, start, fraction and
/// training settings (all but the seed).
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub group: String,
    pub dataset: String,
    pub arch: String,
    /// `None`: trained from scratch.
    pub pretrained: Option<String>,
    pub fraction: Option<f64>,
    pub settings: Settings,
    /// How many runs (seeds) the means are over.
    pub runs: usize,
    pub params: Option<u64>,
    pub efficient: Option<bool>,
    pub performance: f64,
    /// Mean of each resource over the runs that have it, by [`Variant::index`].
    pub resource: [Option<f64>; 4],
    /// Mean PePR score (scored within the group) over the runs that have it.
    pub score: [Option<f64>; 4],
}

#[derive(Default)]
struct Sums {
    runs: usize,
    performance: f64,
    resource: [(f64, usize); 4],
    score: [(f64, usize); 4],
}

fn mean_of((sum, n): (f64, usize)) -> Option<f64> {
    (n > 0).then(|| sum / n as f64)
}

/// Every cell of the completed runs, in (group, arch, start, fraction, settings) order, energy
/// gross.
pub fn cells(records: &[RunRecord]) -> Result<Vec<Cell>> {
    cells_on(records, EnergyBasis::Gross)
}

/// [`cells`] with energy (its resource and PePR-E) on `energy`'s basis, as the leaderboard ranks.
pub fn cells_on(records: &[RunRecord], energy: EnergyBasis) -> Result<Vec<Cell>> {
    cells_where(records, energy, &|_| true)
}

/// [`cells_on`] over the runs `keep` accepts (the TUI's filter). Each run keeps the PePR it has
/// on the leaderboard: it is scored against every run of its group, as a filtered row is.
pub fn cells_where(records: &[RunRecord], energy: EnergyBasis, keep: &dyn Fn(&RunRecord) -> bool) -> Result<Vec<Cell>> {
    let ranking = rank_with(records, SetBy::Group, energy)?;
    type Key = (String, String, Option<String>, Option<u64>, Settings);
    let mut sums: BTreeMap<Key, (usize, Sums)> = BTreeMap::new();
    for run in &ranking.runs {
        let record = &records[run.index];
        if record.status != RunStatus::Completed || !keep(record) {
            continue;
        }
        let key = (
            record.group.clone(),
            record.arch.clone(),
            record.pretrained.clone(),
            data_fraction(record).map(f64::to_bits),
            Settings::of(record),
        );
        let (_, sum) = sums.entry(key).or_insert_with(|| (run.index, Sums::default()));
        sum.runs += 1;
        sum.performance += record.performance;
        for v in Variant::ALL {
            if let Some(r) = ranking.resource(v, record) {
                sum.resource[v.index()].0 += r;
                sum.resource[v.index()].1 += 1;
            }
            if let Some(s) = run.score[v.index()] {
                sum.score[v.index()].0 += s;
                sum.score[v.index()].1 += 1;
            }
        }
    }
    Ok(sums
        .into_iter()
        .map(|((group, arch, pretrained, fraction, settings), (first, sum))| {
            let record = &records[first];
            Cell {
                group,
                dataset: record.dataset.clone(),
                arch,
                pretrained,
                fraction: fraction.map(f64::from_bits),
                settings,
                runs: sum.runs,
                params: record.params,
                efficient: record.efficient,
                performance: sum.performance / sum.runs as f64,
                resource: sum.resource.map(mean_of),
                score: sum.score.map(mean_of),
            }
        })
        .collect())
}

/// What a group's cells have in common; `None` when they differ (such a group is not paired).
#[derive(Clone, Debug, PartialEq)]
struct GroupKind {
    dataset: String,
    pretrained: Option<String>,
    fraction: Option<f64>,
}

fn group_kinds(cells: &[Cell]) -> BTreeMap<&str, Option<GroupKind>> {
    let mut kinds: BTreeMap<&str, Option<GroupKind>> = BTreeMap::new();
    for cell in cells {
        let kind =
            GroupKind { dataset: cell.dataset.clone(), pretrained: cell.pretrained.clone(), fraction: cell.fraction };
        kinds
            .entry(&cell.group)
            .and_modify(|k| {
                if k.as_ref() != Some(&kind) {
                    *k = None
                }
            })
            .or_insert(Some(kind));
    }
    kinds
}

/// A scratch group and a pretrained group on the same dataset and data fraction.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupPair {
    pub dataset: String,
    pub fraction: Option<f64>,
    pub scratch: String,
    pub pretrained: String,
    /// The pretrained group's weights source, e.g. "ImageNet (timm)".
    pub source: String,
}

/// Pairs every pretrained group with the scratch group on the same dataset and fraction. When
/// several scratch groups qualify, the one named like the pretrained group without `_pt` wins
/// (the paper's `derma` for `derma_pt`), else the one sharing the longest name prefix.
pub fn group_pairs(cells: &[Cell]) -> Vec<GroupPair> {
    let kinds = group_kinds(cells);
    let same_fraction = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        (None, None) => true,
        _ => false,
    };
    let mut pairs = Vec::new();
    for (pretrained, kind) in &kinds {
        let Some(GroupKind { dataset, pretrained: Some(source), fraction }) = kind else { continue };
        let stem = pretrained.replace("_pt", "");
        let common = |name: &str| name.chars().zip(pretrained.chars()).take_while(|(a, b)| a == b).count();
        let best = kinds
            .iter()
            .filter_map(|(name, k)| match k {
                Some(k) if k.pretrained.is_none() && &k.dataset == dataset && same_fraction(k.fraction, *fraction) => {
                    Some(*name)
                }
                _ => None,
            })
            .max_by(|a, b| {
                ((*a == stem), common(a)).cmp(&((*b == stem), common(b))).then_with(|| b.cmp(a)) // ties: first name
            });
        if let Some(scratch) = best {
            pairs.push(GroupPair {
                dataset: dataset.clone(),
                fraction: *fraction,
                scratch: scratch.to_string(),
                pretrained: pretrained.to_string(),
                source: source.clone(),
            });
        }
    }
    pairs.sort_by(|a, b| (&a.dataset, &a.scratch, &a.pretrained).cmp(&(&b.dataset, &b.scratch, &b.pretrained)));
    pairs
}

/// One architecture in both groups of a pair.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedRow {
    pub arch: String,
    /// The settings that set this row apart from the arch's other rows in the pair ("ep2"); empty
    /// when the arch has one row.
    pub setting: String,
    pub p_scratch: f64,
    pub p_pretrained: f64,
    pub r_scratch: [Option<f64>; 4],
    pub r_pretrained: [Option<f64>; 4],
    pub runs: (usize, usize),
}

impl PairedRow {
    /// The arch with its distinguishing settings, if any ("resnet8 ep2").
    pub fn name(&self) -> String {
        arch_label(&self.arch, &self.setting)
    }

    /// P(pretrained) - P(scratch).
    pub fn dp(&self) -> f64 {
        self.p_pretrained - self.p_scratch
    }

    /// P(pretrained) / P(scratch); `None` when the scratch P is 0.
    pub fn p_ratio(&self) -> Option<f64> {
        (self.p_scratch > 0.0).then(|| self.p_pretrained / self.p_scratch)
    }

    /// Resource(pretrained) - resource(scratch).
    pub fn dr(&self, v: Variant) -> Option<f64> {
        Some(self.r_pretrained[v.index()]? - self.r_scratch[v.index()]?)
    }

    /// Resource(pretrained) / resource(scratch); `None` when either is missing or the scratch one is 0.
    pub fn r_ratio(&self, v: Variant) -> Option<f64> {
        let (s, p) = (self.r_scratch[v.index()]?, self.r_pretrained[v.index()]?);
        (s > 0.0).then(|| p / s)
    }
}

/// A pair of groups and the architectures found in both.
#[derive(Clone, Debug, PartialEq)]
pub struct Paired {
    pub pair: GroupPair,
    /// In architecture order.
    pub rows: Vec<PairedRow>,
}

/// The summary line of a paired comparison for one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedSummary {
    pub archs: usize,
    pub mean_dp: Option<f64>,
    pub median_dp: Option<f64>,
    /// Architectures where pretrained reached a strictly higher P.
    pub p_wins: usize,
    /// Architectures with the resource on both sides.
    pub with_resource: usize,
    pub mean_dr: Option<f64>,
    pub median_dr: Option<f64>,
    pub median_r_ratio: Option<f64>,
    /// Architectures where pretrained used strictly less of the resource.
    pub r_wins: usize,
}

impl Paired {
    pub fn summary(&self, v: Variant) -> PairedSummary {
        let dp: Vec<f64> = self.rows.iter().map(PairedRow::dp).collect();
        let dr: Vec<f64> = self.rows.iter().filter_map(|r| r.dr(v)).collect();
        let ratios: Vec<f64> = self.rows.iter().filter_map(|r| r.r_ratio(v)).collect();
        PairedSummary {
            archs: self.rows.len(),
            mean_dp: mean(&dp),
            median_dp: median(&dp),
            p_wins: dp.iter().filter(|d| **d > 0.0).count(),
            with_resource: dr.len(),
            mean_dr: mean(&dr),
            median_dr: median(&dr),
            median_r_ratio: median(&ratios),
            r_wins: dr.iter().filter(|d| **d < 0.0).count(),
        }
    }
}

/// Pretrained vs scratch for one pair of groups, paired by architecture and training settings
/// (a 2-epoch scratch run is compared with a 2-epoch pretrained run only).
pub fn paired(cells: &[Cell], pair: &GroupPair) -> Paired {
    let in_group = |group: &str| -> Vec<&Cell> { cells.iter().filter(|c| c.group == group).collect() };
    let scratch = in_group(&pair.scratch);
    let pretrained = in_group(&pair.pretrained);
    let mut matched: Vec<(&Cell, &Cell)> = Vec::new();
    for s in &scratch {
        let key = s.settings.for_pairing();
        for p in pretrained.iter().filter(|p| p.arch == s.arch && p.settings.for_pairing() == key) {
            matched.push((s, p));
        }
    }
    let rows = matched
        .iter()
        .map(|(s, p)| {
            let same_arch = matched.iter().filter(|(_, o)| o.arch == p.arch).map(|(_, o)| &o.settings);
            PairedRow {
                arch: s.arch.clone(),
                setting: p.settings.label_among(same_arch),
                p_scratch: s.performance,
                p_pretrained: p.performance,
                r_scratch: s.resource,
                r_pretrained: p.resource,
                runs: (s.runs, p.runs),
            }
        })
        .collect();
    Paired { pair: pair.clone(), rows }
}

/// One group in a fraction family.
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    pub group: String,
    /// `None`: not known (drawn after the smallest known fraction).
    pub fraction: Option<f64>,
}

/// One architecture's means at each level of a family (`None` where it has no cell).
#[derive(Clone, Debug, PartialEq)]
pub struct ArchSeries {
    pub arch: String,
    /// The settings that set this series apart from the arch's others ("ep2"); usually empty.
    pub setting: String,
    /// (P, PePR by variant) per level.
    pub points: Vec<Option<(f64, [Option<f64>; 4])>>,
    /// How many runs each level's point is the mean of (0 where there is none).
    pub runs: Vec<usize>,
}

impl ArchSeries {
    pub fn name(&self) -> String {
        arch_label(&self.arch, &self.setting)
    }
}

/// The groups of one dataset and one start (scratch, or one pretrained source) that differ in
/// the share of training data, from the most data to the least.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    pub dataset: String,
    pub pretrained: Option<String>,
    pub levels: Vec<Level>,
    pub archs: Vec<ArchSeries>,
}

/// The medians at one level of a family.
#[derive(Clone, Debug, PartialEq)]
pub struct LevelSummary {
    /// Architectures with a cell at every level of the family: the medians are over these, so
    /// a level is never moved by architectures missing from the others.
    pub archs: usize,
    /// The runs behind those architectures' points at this level.
    pub runs: usize,
    pub median_p: Option<f64>,
    pub median_score: Option<f64>,
}

impl Family {
    pub fn label(&self) -> String {
        match &self.pretrained {
            None => format!("{} from scratch", self.dataset),
            Some(source) => format!("{} pretrained ({source})", self.dataset),
        }
    }

    /// The architectures present at every level.
    pub fn complete(&self) -> impl Iterator<Item = &ArchSeries> {
        self.archs.iter().filter(|a| a.points.iter().all(Option::is_some))
    }

    pub fn summary(&self, v: Variant) -> Vec<LevelSummary> {
        (0..self.levels.len())
            .map(|level| {
                let points: Vec<(f64, Option<f64>)> =
                    self.complete().filter_map(|a| a.points[level]).map(|(p, s)| (p, s[v.index()])).collect();
                let ps: Vec<f64> = points.iter().map(|p| p.0).collect();
                let scores: Vec<f64> = points.iter().filter_map(|p| p.1).collect();
                let runs = self.complete().map(|a| a.runs[level]).sum();
                LevelSummary { archs: points.len(), runs, median_p: median(&ps), median_score: median(&scores) }
            })
            .collect()
    }
}

/// Fraction label: "100%", "10%", "?" when unknown.
pub fn fraction_label(fraction: Option<f64>) -> String {
    match fraction {
        Some(f) => {
            let percent = f * 100.0;
            if (percent - percent.round()).abs() < 1e-9 { format!("{percent:.0}%") } else { format!("{percent}%") }
        }
        None => "?".into(),
    }
}

/// Every family with at least two levels, in (dataset, start) order.
pub fn families(cells: &[Cell]) -> Vec<Family> {
    let kinds = group_kinds(cells);
    // (group, arch, settings) -> cell; a group in a family has one start and fraction, so one
    // cell per arch and settings (runs that differ in epochs are separate series).
    let by_group_arch: std::collections::HashMap<(&str, &str, &Settings), &Cell> =
        cells.iter().map(|c| ((c.group.as_str(), c.arch.as_str(), &c.settings), c)).collect();
    let mut by_family: BTreeMap<(String, Option<String>), Vec<Level>> = BTreeMap::new();
    for (group, kind) in &kinds {
        let Some(kind) = kind else { continue };
        by_family
            .entry((kind.dataset.clone(), kind.pretrained.clone()))
            .or_default()
            .push(Level { group: group.to_string(), fraction: kind.fraction });
    }
    by_family
        .into_iter()
        .filter(|(_, levels)| levels.len() >= 2)
        .map(|((dataset, pretrained), mut levels)| {
            // Most data first; unknown fractions last (the paper's `_smallest`), then by name.
            levels.sort_by(|a, b| match (a.fraction, b.fraction) {
                (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.group.cmp(&b.group)),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.group.cmp(&b.group),
            });
            let archs: BTreeSet<(&str, &Settings)> = cells
                .iter()
                .filter(|c| levels.iter().any(|l| l.group == c.group))
                .map(|c| (c.arch.as_str(), &c.settings))
                .collect();
            let archs = archs
                .iter()
                .map(|&(arch, settings)| {
                    let cell = |l: &Level| by_group_arch.get(&(l.group.as_str(), arch, settings)).copied();
                    ArchSeries {
                        arch: arch.to_string(),
                        setting: settings.label_among(archs.iter().filter(|(a, _)| *a == arch).map(|(_, s)| *s)),
                        points: levels.iter().map(|l| cell(l).map(|c| (c.performance, c.score))).collect(),
                        runs: levels.iter().map(|l| cell(l).map_or(0, |c| c.runs)).collect(),
                    }
                })
                .collect();
            Family { dataset, pretrained, levels, archs }
        })
        .collect()
}

/// One architecture's point in a group: parameters against P and PePR.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamsPoint {
    pub arch: String,
    /// The settings that set this point apart from the arch's others in the group; usually empty.
    pub setting: String,
    /// How many runs the point is the mean of.
    pub runs: usize,
    pub params: u64,
    pub efficient: Option<bool>,
    pub performance: f64,
    pub score: [Option<f64>; 4],
}

/// The cells of one group that have a parameter count.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamsGroup {
    pub group: String,
    pub dataset: String,
    /// In architecture order.
    pub points: Vec<ParamsPoint>,
}

/// Efficient vs not, and the rank correlation of PePR with size, for one variant.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamsSummary {
    /// Points with a score for the variant.
    pub points: usize,
    pub efficient: usize,
    pub other: usize,
    pub median_efficient: Option<f64>,
    pub median_other: Option<f64>,
    /// Spearman's rank correlation of PePR with log10(params) (the same as with params: ranks do
    /// not change under a monotone map); ties get average ranks.
    pub spearman: Option<f64>,
}

impl ParamsGroup {
    pub fn summary(&self, v: Variant) -> ParamsSummary {
        let scored: Vec<(&ParamsPoint, f64)> =
            self.points.iter().filter_map(|p| p.score[v.index()].map(|s| (p, s))).collect();
        let efficient: Vec<f64> = scored.iter().filter(|(p, _)| p.efficient == Some(true)).map(|(_, s)| *s).collect();
        let other: Vec<f64> = scored.iter().filter(|(p, _)| p.efficient == Some(false)).map(|(_, s)| *s).collect();
        let xs: Vec<f64> = scored.iter().map(|(p, _)| (p.params as f64).log10()).collect();
        let ys: Vec<f64> = scored.iter().map(|(_, s)| *s).collect();
        ParamsSummary {
            points: scored.len(),
            efficient: efficient.len(),
            other: other.len(),
            median_efficient: median(&efficient),
            median_other: median(&other),
            spearman: spearman(&xs, &ys),
        }
    }
}

/// The name of the entry that averages every group, as the paper's Fig. 5c/d does
/// (`allDf.groupby('model').mean()` in paper_plots.py).
pub const ALL_GROUPS: &str = "all groups";

/// One entry per group with at least one parameter count, in group order; then, when there are
/// several groups, [`ALL_GROUPS`]: per architecture, the mean over the groups of its cells' P and
/// PePR (each scored within its own group).
pub fn params_groups(cells: &[Cell]) -> Vec<ParamsGroup> {
    let mut groups: BTreeMap<&str, ParamsGroup> = BTreeMap::new();
    for cell in cells {
        let Some(params) = cell.params else { continue };
        let same_arch = cells.iter().filter(|c| c.group == cell.group && c.arch == cell.arch).map(|c| &c.settings);
        groups
            .entry(&cell.group)
            .or_insert_with(|| ParamsGroup { group: cell.group.clone(), dataset: cell.dataset.clone(), points: vec![] })
            .points
            .push(ParamsPoint {
                arch: cell.arch.clone(),
                setting: cell.settings.label_among(same_arch),
                runs: cell.runs,
                params,
                efficient: cell.efficient,
                performance: cell.performance,
                score: cell.score,
            });
    }
    let mut groups: Vec<ParamsGroup> = groups.into_values().collect();
    if groups.len() > 1 {
        groups.push(mean_over_groups(&groups));
    }
    groups
}

fn mean_over_groups(groups: &[ParamsGroup]) -> ParamsGroup {
    // Per architecture and settings label: a 1-epoch and a 2-epoch point stay apart.
    let mut by_arch: BTreeMap<(&str, &str), (&ParamsPoint, Sums, usize)> = BTreeMap::new();
    for point in groups.iter().flat_map(|g| &g.points) {
        let (_, sum, runs) =
            by_arch.entry((point.arch.as_str(), point.setting.as_str())).or_insert_with(|| (point, Sums::default(), 0));
        *runs += point.runs;
        sum.runs += 1;
        sum.performance += point.performance;
        for (k, score) in point.score.iter().enumerate() {
            if let Some(score) = score {
                sum.score[k].0 += score;
                sum.score[k].1 += 1;
            }
        }
    }
    let points = by_arch
        .into_values()
        .map(|(first, sum, runs)| ParamsPoint {
            arch: first.arch.clone(),
            setting: first.setting.clone(),
            runs,
            params: first.params,
            efficient: first.efficient,
            performance: sum.performance / sum.runs as f64,
            score: sum.score.map(mean_of),
        })
        .collect();
    ParamsGroup { group: ALL_GROUPS.into(), dataset: "mean per architecture".into(), points }
}

/// All three analyses of a set of runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Analyses {
    pub paired: Vec<Paired>,
    pub families: Vec<Family>,
    pub params: Vec<ParamsGroup>,
    /// How many runs the cells hold (completed runs the filter kept).
    pub runs: usize,
}

pub fn analyze(records: &[RunRecord]) -> Result<Analyses> {
    analyze_on(records, EnergyBasis::Gross)
}

/// [`analyze`] with energy on `energy`'s basis (the `rank_energy` setting).
pub fn analyze_on(records: &[RunRecord], energy: EnergyBasis) -> Result<Analyses> {
    analyze_where(records, energy, &|_| true)
}

/// [`analyze_on`] over the runs `keep` accepts (see [`cells_where`]).
pub fn analyze_where(
    records: &[RunRecord],
    energy: EnergyBasis,
    keep: &dyn Fn(&RunRecord) -> bool,
) -> Result<Analyses> {
    let cells = cells_where(records, energy, keep)?;
    Ok(Analyses {
        runs: cells.iter().map(|c| c.runs).sum(),
        paired: group_pairs(&cells).iter().map(|pair| paired(&cells, pair)).collect(),
        families: families(&cells),
        params: params_groups(&cells),
    })
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    Some(if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 })
}

/// Ranks 1..n, ties sharing the average of their positions.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let end = start + order[start..].iter().take_while(|&&i| values[i] == values[order[start]]).count();
        let rank = (start + end + 1) as f64 / 2.0; // mean of positions start+1 ..= end
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman's rho: Pearson's correlation of the average ranks. `None` for fewer than 3 points or
/// a constant variable.
pub fn spearman(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() != ys.len() || xs.len() < 3 {
        return None;
    }
    let (rx, ry) = (average_ranks(xs), average_ranks(ys));
    let (mx, my) = (mean(&rx)?, mean(&ry)?);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::record::sample;

    fn run(id: &str, group: &str, arch: &str, p: f64, energy: f64, pretrained: bool) -> RunRecord {
        let mut r = sample(id, group, p, Some(energy));
        r.arch = arch.into();
        r.dataset = "d".into();
        r.data_fraction = Some(1.0);
        r.pretrained = pretrained.then(|| "ImageNet".to_string());
        r
    }

    #[test]
    fn seeds_of_one_cell_are_averaged_and_unfinished_runs_left_out() {
        let mut stopped = run("c", "g", "a", 0.1, 9.0, false);
        stopped.status = RunStatus::Interrupted;
        let records = vec![run("a", "g", "a", 0.6, 1.0, false), run("b", "g", "a", 0.8, 3.0, false), stopped];
        let cells = cells(&records).unwrap();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].runs, 2);
        assert!((cells[0].performance - 0.7).abs() < 1e-12);
        assert_eq!(cells[0].resource[0], Some(2.0));
        // Scores within the group: 0.6/(1+0) and 0.8/(1+1), averaged.
        assert!((cells[0].score[0].unwrap() - (0.6 + 0.4) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn net_energy_basis_uses_the_meters_net_figure() {
        let mut records = vec![run("a", "g", "a", 0.6, 4.0, false), run("b", "g", "b", 0.8, 5.0, false)];
        for (r, net) in records.iter_mut().zip([3.0, 1.0]) {
            r.meters = Some(crate::results::record::MeterDetail { energy_net_kwh: Some(net), ..Default::default() });
        }
        let gross = cells_on(&records, EnergyBasis::Gross).unwrap();
        let net = cells_on(&records, EnergyBasis::Net).unwrap();
        assert_eq!((gross[0].resource[0], gross[1].resource[0]), (Some(4.0), Some(5.0)));
        assert_eq!((net[0].resource[0], net[1].resource[0]), (Some(3.0), Some(1.0)));
        // Net: b uses least energy, so it scores its full P; a is the most (R_n = 1).
        assert!((net[1].score[0].unwrap() - 0.8).abs() < 1e-12);
        assert!((net[0].score[0].unwrap() - 0.3).abs() < 1e-12);
        assert!((gross[0].score[0].unwrap() - 0.6).abs() < 1e-12);
    }

    #[test]
    fn pairs_by_dataset_and_fraction_and_prefers_the_pt_stem() {
        let mut records = vec![
            run("1", "derma", "x", 0.5, 2.0, false),
            run("2", "derma_pt", "x", 0.7, 1.0, true),
            run("3", "derma_v2", "x", 0.4, 2.0, false),
            run("4", "derma_pt", "y", 0.9, 1.0, true), // y has no scratch run: not paired
        ];
        let mut small = run("5", "derma_small", "x", 0.3, 1.0, false);
        small.data_fraction = Some(0.1);
        records.push(small);
        let cells = cells(&records).unwrap();
        let pairs = group_pairs(&cells);
        assert_eq!(pairs.len(), 1);
        assert_eq!((pairs[0].scratch.as_str(), pairs[0].pretrained.as_str()), ("derma", "derma_pt"));
        let paired = paired(&cells, &pairs[0]);
        assert_eq!(paired.rows.len(), 1);
        let s = paired.summary(Variant::Energy);
        assert!((s.mean_dp.unwrap() - 0.2).abs() < 1e-12);
        assert_eq!((s.p_wins, s.r_wins, s.with_resource), (1, 1, 1));
        assert_eq!(s.median_r_ratio, Some(0.5));
    }

    #[test]
    fn families_order_levels_by_fraction_with_unknown_last() {
        let mut records = Vec::new();
        for (i, (group, fraction)) in [("f_small", Some(0.1)), ("f", Some(1.0)), ("f_tiny", None)].iter().enumerate() {
            for arch in ["a", "b"] {
                let mut r = run(&format!("{i}{arch}"), group, arch, 0.5 + i as f64 / 10.0, 1.0, false);
                r.data_fraction = *fraction;
                if fraction.is_none() {
                    // An imported paper run: a missing fraction stays unknown only for `_smallest`.
                    r.group = "f_smallest".into();
                    r.origin = Origin::Imported { file: "x".into(), line: 2, layout: "paper".into() };
                }
                records.push(r);
            }
        }
        records.retain(|r| !(r.group == "f_small" && r.arch == "b")); // b misses one level
        let families = families(&cells(&records).unwrap());
        assert_eq!(families.len(), 1);
        let groups: Vec<&str> = families[0].levels.iter().map(|l| l.group.as_str()).collect();
        assert_eq!(groups, ["f", "f_small", "f_smallest"]);
        let summary = families[0].summary(Variant::Energy);
        assert!(summary.iter().all(|s| s.archs == 1), "only a is at every level");
        assert_eq!(summary[1].median_p, Some(0.5));
        assert_eq!(fraction_label(Some(0.1)), "10%");
        assert_eq!(fraction_label(Some(0.025)), "2.5%");
        assert_eq!(fraction_label(None), "?");
    }

    #[test]
    fn runs_that_differ_by_more_than_the_seed_are_separate_cells_and_pairs() {
        // resnet8 trained for 1 and for 2 epochs, from scratch and pretrained, two seeds of each 2-epoch
        // run: four cells, two paired rows (1 epoch with 1 epoch, 2 with 2), each with its run counts.
        let mut records = Vec::new();
        for (k, (group, pretrained, epochs, seed, p)) in [
            ("g", false, 1, 1, 0.40),
            ("g", false, 2, 1, 0.50),
            ("g", false, 2, 2, 0.60),
            ("g_pt", true, 1, 1, 0.70),
            ("g_pt", true, 2, 1, 0.80),
            ("g_pt", true, 2, 2, 0.90),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = run(&k.to_string(), group, "resnet8", p, 1.0, pretrained);
            r.epochs = Some(epochs);
            r.seed = Some(seed);
            records.push(r);
        }
        let cells = cells(&records).unwrap();
        assert_eq!(cells.len(), 4, "{cells:#?}");
        let runs: Vec<(Option<u32>, usize)> = cells.iter().map(|c| (c.settings.epochs, c.runs)).collect();
        assert_eq!(runs, [(Some(1), 1), (Some(2), 2), (Some(1), 1), (Some(2), 2)]);
        let pairs = group_pairs(&cells);
        let paired = paired(&cells, &pairs[0]);
        let rows: Vec<(String, f64, (usize, usize))> =
            paired.rows.iter().map(|r| (r.name(), (r.dp() * 100.0).round() / 100.0, r.runs)).collect();
        assert_eq!(rows, [("resnet8 ep1".into(), 0.3, (1, 1)), ("resnet8 ep2".into(), 0.3, (2, 2))]);
        // Another setting (the batch size) splits too, and a lone arch gets no label.
        let mut other = records[0].clone();
        other.id = "x".into();
        other.batch_size = Some(999);
        records.push(other);
        let cells = super::cells(&records).unwrap();
        assert_eq!(cells.len(), 5);
        let labels: Vec<String> = cells
            .iter()
            .filter(|c| c.group == "g")
            .map(|c| c.settings.label_among(cells.iter().map(|c| &c.settings)))
            .collect();
        assert_eq!(labels.len(), 3);
        assert!(labels.iter().any(|l| l.contains("bs999")), "{labels:?}");
        let one = super::cells(&records[..1]).unwrap();
        assert_eq!(one[0].settings.label_among(one.iter().map(|c| &c.settings)), "");
    }

    #[test]
    fn spearman_handles_ties_and_monotone_maps() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(average_ranks(&[5.0, 1.0, 5.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
