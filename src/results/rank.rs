//! The PePR engine: min-max normalise each resource within a comparison set and score
//! `P / (1 + R_n)`, in polars; rank within each set; flag the Pareto front.
//!
//! Rules (the paper's, plus what it left open):
//! - R_n = (R - min) / (max - min) over the runs in the set that have R;
//! - a set with one such run, or all of them equal, gives R_n = 0;
//! - a run without R gets no R_n and no score for that variant (never 0), and no rank for it.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use polars::prelude::*;

use super::record::{RunRecord, RunStatus};

/// The four PePR variants, one per resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Variant {
    #[default]
    Energy,
    Co2,
    Time,
    Memory,
}

impl Variant {
    pub const ALL: [Variant; 4] = [Variant::Energy, Variant::Co2, Variant::Time, Variant::Memory];

    pub fn index(self) -> usize {
        self as usize
    }

    /// "E", "C", "T", "M".
    pub fn letter(self) -> char {
        ['E', 'C', 'T', 'M'][self.index()]
    }

    /// "pepr_e" etc.: the score's column name.
    pub fn score_column(self) -> &'static str {
        ["pepr_e", "pepr_c", "pepr_t", "pepr_m"][self.index()]
    }

    pub fn pareto_column(self) -> &'static str {
        ["pareto_e", "pareto_c", "pareto_t", "pareto_m"][self.index()]
    }

    /// The record field this variant normalises.
    pub fn resource_column(self) -> &'static str {
        ["energy_kwh", "co2_g", "train_time_s", "memory_gb"][self.index()]
    }

    pub fn resource_name(self) -> &'static str {
        ["energy", "CO2", "training time", "memory"][self.index()]
    }

    pub fn unit(self) -> &'static str {
        ["kWh", "g CO2-eq", "s", "GB"][self.index()]
    }

    pub fn resource(self, record: &RunRecord) -> Option<f64> {
        match self {
            Variant::Energy => record.energy_kwh,
            Variant::Co2 => record.co2_g,
            Variant::Time => record.train_time_s,
            Variant::Memory => record.memory_gb,
        }
    }

    pub fn next(self) -> Variant {
        Variant::ALL[(self.index() + 1) % 4]
    }

    /// Parses `pepr-e`, `pepr_e`, `e`, `energy` and the like.
    pub fn parse(text: &str) -> Option<Variant> {
        let t = text.trim().to_ascii_lowercase().replace('_', "-");
        let t = t.strip_prefix("pepr-").unwrap_or(&t);
        match t {
            "e" | "energy" => Some(Variant::Energy),
            "c" | "co2" => Some(Variant::Co2),
            "t" | "time" => Some(Variant::Time),
            "m" | "memory" | "mem" => Some(Variant::Memory),
            _ => None,
        }
    }
}

/// How runs are split into comparison sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SetBy {
    /// One set per `group` (the paper's experiment groups).
    #[default]
    Group,
    /// One set per base dataset, mixing groups (e.g. scratch and pretrained runs together).
    Dataset,
    /// Every run in one set.
    All,
}

impl SetBy {
    pub fn parse(text: &str) -> Option<SetBy> {
        match text {
            "group" => Some(SetBy::Group),
            "dataset" => Some(SetBy::Dataset),
            "all" => Some(SetBy::All),
            _ => None,
        }
    }

    pub fn set_of(self, record: &RunRecord) -> &str {
        match self {
            SetBy::Group => &record.group,
            SetBy::Dataset => &record.dataset,
            SetBy::All => ALL_RUNS,
        }
    }
}

/// Which energy PePR-E normalises: gross (everything measured, as the paper did) or net of the
/// idle baseline (`meters.energy_net_kwh`; a run without it gets no PePR-E score).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnergyBasis {
    #[default]
    Gross,
    Net,
}

impl EnergyBasis {
    pub fn parse(text: &str) -> Option<EnergyBasis> {
        match text.trim().to_ascii_lowercase().as_str() {
            "gross" => Some(EnergyBasis::Gross),
            "net" => Some(EnergyBasis::Net),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EnergyBasis::Gross => "gross",
            EnergyBasis::Net => "net",
        }
    }

    /// The energy this basis ranks on.
    pub fn energy(self, record: &RunRecord) -> Option<f64> {
        match self {
            EnergyBasis::Gross => record.energy_kwh,
            EnergyBasis::Net => record.meters.as_ref().and_then(|m| m.energy_net_kwh),
        }
    }
}

/// The set name used by [`SetBy::All`].
pub const ALL_RUNS: &str = "all runs";

/// One run's scores. Arrays are indexed by [`Variant::index`].
#[derive(Clone, Debug, PartialEq)]
pub struct RankedRun {
    /// Index into the records the ranking was computed from.
    pub index: usize,
    /// Index into [`Ranking::sets`].
    pub set: usize,
    pub normalised: [Option<f64>; 4],
    pub score: [Option<f64>; 4],
    /// 1 = best score in its set; ties share the lower rank.
    pub rank: [Option<u32>; 4],
    /// On the set's Pareto front of (P up, resource down); false when the resource is missing.
    pub pareto: [bool; 4],
}

/// A comparison set and its size.
#[derive(Clone, Debug, PartialEq)]
pub struct SetSummary {
    pub name: String,
    pub runs: usize,
}

/// Scores for every run, in the order of the input records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ranking {
    pub runs: Vec<RankedRun>,
    /// Sets in name order.
    pub sets: Vec<SetSummary>,
    /// The energy PePR-E was computed on.
    pub energy: EnergyBasis,
    /// Per set (indexed like `sets`): PePR-C orders the set exactly as PePR-E does, because every
    /// run's CO2 is its energy times one intensity x PUE (see [`co2_mirrors_energy`]).
    pub co2_mirrors_energy: Vec<bool>,
}

impl Ranking {
    /// The resource a variant normalises for this ranking: energy on its basis, the others as stored.
    pub fn resource(&self, variant: Variant, record: &RunRecord) -> Option<f64> {
        match variant {
            Variant::Energy => self.energy.energy(record),
            _ => variant.resource(record),
        }
    }

    /// Whether PePR-C merely repeats PePR-E in this set.
    pub fn co2_mirrors_energy_in(&self, set: usize) -> bool {
        self.co2_mirrors_energy.get(set).copied().unwrap_or(false)
    }

    pub fn set_name(&self, run: &RankedRun) -> &str {
        &self.sets[run.set].name
    }

    pub fn set_index(&self, name: &str) -> Option<usize> {
        self.sets.iter().position(|s| s.name == name)
    }
}

/// Scores, ranks and Pareto flags for all runs, PePR-E on gross energy (as the paper).
pub fn rank(records: &[RunRecord], set_by: SetBy) -> Result<Ranking> {
    rank_with(records, set_by, EnergyBasis::Gross)
}

/// Scores, ranks and Pareto flags for all runs, PePR-E on the given energy basis.
pub fn rank_with(records: &[RunRecord], set_by: SetBy, energy: EnergyBasis) -> Result<Ranking> {
    if records.is_empty() {
        return Ok(Ranking { energy, ..Ranking::default() });
    }
    // Sets are numbered in name order, so polars partitions on integers, not strings.
    let names: BTreeSet<&str> = records.iter().map(|r| set_by.set_of(r)).collect();
    let ids: HashMap<&str, u32> = names.iter().enumerate().map(|(i, name)| (*name, i as u32)).collect();
    let mut previous: Option<(&str, u32)> = None; // runs of one set usually sit together
    let set_of: Vec<u32> = records
        .iter()
        .map(|r| {
            let name = set_by.set_of(r);
            match previous {
                Some((p, id)) if p == name => id,
                _ => {
                    let id = ids[name];
                    previous = Some((name, id));
                    id
                }
            }
        })
        .collect();
    let frame = scores_frame(records, &set_of, energy)?;
    let get_f64 = |name: &str| -> Result<Vec<Option<f64>>> { Ok(frame.column(name)?.f64()?.iter().collect()) };
    let get_u32 = |name: &str| -> Result<Vec<Option<u32>>> {
        Ok(frame.column(name)?.cast(&DataType::UInt32)?.u32()?.iter().collect())
    };
    let mut normalised = Vec::new();
    let mut scores = Vec::new();
    let mut ranks = Vec::new();
    for v in Variant::ALL {
        normalised.push(get_f64(&format!("rn_{}", v.letter()))?);
        scores.push(get_f64(v.score_column())?);
        ranks.push(get_u32(&format!("rank_{}", v.letter()))?);
    }
    let mut runs: Vec<RankedRun> = records
        .iter()
        .enumerate()
        .map(|(i, _)| RankedRun {
            index: i,
            set: set_of[i] as usize,
            normalised: std::array::from_fn(|v| normalised[v][i]),
            score: std::array::from_fn(|v| scores[v][i]),
            rank: std::array::from_fn(|v| ranks[v][i]),
            pareto: [false; 4],
        })
        .collect();

    let mut members: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for run in &runs {
        members[run.set].push(run.index);
    }
    for indices in &members {
        for v in Variant::ALL {
            let points: Vec<(usize, f64, f64)> = indices
                .iter()
                .filter_map(|&i| compared_resource(v, energy, &records[i]).map(|r| (i, records[i].performance, r)))
                .collect();
            for i in pareto_front(&points) {
                runs[i].pareto[v.index()] = true;
            }
        }
    }
    let sets = names
        .iter()
        .zip(&members)
        .map(|(name, indices)| SetSummary { name: name.to_string(), runs: indices.len() })
        .collect();
    let co2_mirrors_energy = members.iter().map(|indices| co2_mirrors_energy(records, indices, energy)).collect();
    Ok(Ranking { runs, sets, energy, co2_mirrors_energy })
}

/// True when PePR-C must order the runs `indices` exactly as PePR-E does: the same completed runs
/// have CO2 and (ranked) energy, at least two of them, and every CO2 figure came from one carbon
/// intensity x PUE (the record's `carbon_intensity_g_per_kwh` and `meters.pue`, missing PUE = 1.0).
/// Then CO2 = k x energy for one k, which min-max normalisation cancels. Net energy never
/// qualifies: CO2 is charged on gross energy.
pub fn co2_mirrors_energy(records: &[RunRecord], indices: &[usize], energy: EnergyBasis) -> bool {
    if energy != EnergyBasis::Gross {
        return false;
    }
    let mut factor: Option<f64> = None;
    let mut with_co2 = 0;
    for &i in indices {
        let record = &records[i];
        let co2 = compared_resource(Variant::Co2, energy, record);
        let kwh = compared_resource(Variant::Energy, energy, record);
        match (co2, kwh) {
            (None, None) => continue,
            (Some(_), Some(_)) => {}
            _ => return false, // one variant scores a run the other does not
        }
        let Some(intensity) = record.carbon_intensity_g_per_kwh else { return false };
        let pue = record.meters.as_ref().and_then(|m| m.pue).unwrap_or(crate::carbon::DEFAULT_PUE);
        let k = intensity * pue;
        match factor {
            None => factor = Some(k),
            // Exact for runs trained here; imported runs carry an intensity implied by co2 / energy.
            Some(f) if (k - f).abs() <= 1e-9 * f.abs().max(k.abs()) => {}
            Some(_) => return false,
        }
        with_co2 += 1;
    }
    with_co2 >= 2
}

/// The resource a run is compared on: only completed runs are scored. An interrupted or failed run
/// keeps its record (and shows in listings) but gets no score and does not move the set's min-max.
fn compared_resource(v: Variant, energy: EnergyBasis, record: &RunRecord) -> Option<f64> {
    if record.status != RunStatus::Completed {
        return None;
    }
    match v {
        Variant::Energy => energy.energy(record),
        _ => v.resource(record),
    }
}

/// The polars part: one row per run with `rn_X`, `pepr_x` and `rank_X` for every variant.
fn scores_frame(records: &[RunRecord], set_of: &[u32], energy: EnergyBasis) -> Result<DataFrame> {
    let performance: Vec<f64> = records.iter().map(|r| r.performance).collect();
    let mut columns = vec![Column::new("set".into(), set_of), Column::new("P".into(), performance)];
    for v in Variant::ALL {
        let values: Vec<Option<f64>> = records.iter().map(|r| compared_resource(v, energy, r)).collect();
        columns.push(Column::new(v.resource_column().into(), values));
    }
    let frame = anyhow::Context::context(DataFrame::new_infer_height(columns), "building the ranking frame")?;

    let mut exprs = Vec::new();
    for v in Variant::ALL {
        let r = col(v.resource_column());
        let lo = r.clone().min().over([col("set")])?;
        let hi = r.clone().max().over([col("set")])?;
        let rn = when(r.clone().is_null())
            .then(lit(NULL).cast(DataType::Float64))
            .when(hi.clone().eq(lo.clone()))
            .then(lit(0.0))
            .otherwise((r - lo.clone()) / (hi - lo));
        let name = format!("rn_{}", v.letter());
        exprs.push(rn.alias(name.as_str()));
    }
    let with_rn = frame.lazy().with_columns(exprs);
    let scores: Vec<Expr> = Variant::ALL
        .iter()
        .map(|v| (col("P") / (lit(1.0) + col(format!("rn_{}", v.letter()).as_str()))).alias(v.score_column()))
        .collect();
    let ranks = Variant::ALL
        .iter()
        .map(|v| {
            Ok(col(v.score_column())
                .rank(RankOptions { method: RankMethod::Min, descending: true }, None)
                .over([col("set")])?
                .alias(format!("rank_{}", v.letter()).as_str()))
        })
        .collect::<PolarsResult<Vec<Expr>>>()?;
    let frame = with_rn.with_columns(scores).with_columns(ranks).collect();
    anyhow::Context::context(frame, "computing PePR scores")
}

/// Indices of the points (index, P, R) that no other point dominates: none has P at least as high
/// and R at most as high with one of them strictly better.
pub fn pareto_front(points: &[(usize, f64, f64)]) -> Vec<usize> {
    let mut sorted: Vec<&(usize, f64, f64)> = points.iter().collect();
    sorted.sort_by(|a, b| a.2.total_cmp(&b.2).then(b.1.total_cmp(&a.1)));
    let mut front = Vec::new();
    let mut best_cheaper = f64::NEG_INFINITY; // best P among points with strictly smaller R
    let mut start = 0;
    while start < sorted.len() {
        let r = sorted[start].2;
        let end = start + sorted[start..].iter().take_while(|p| p.2 == r).count();
        let best_here = sorted[start].1; // sorted by P descending within equal R
        for p in &sorted[start..end] {
            if p.1 > best_cheaper && p.1 >= best_here {
                front.push(p.0);
            }
        }
        best_cheaper = best_cheaper.max(best_here);
        start = end;
    }
    front.sort_unstable();
    front
}

/// Orders for a missing value: after every present one, whatever the direction.
pub fn cmp_missing_last<T: PartialOrd>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => {
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if descending { o.reverse() } else { o }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Said instead of presenting PePR-C as a finding of its own when it only repeats PePR-E.
pub const CO2_MIRRORS_ENERGY: &str = "PePR-C orders these runs exactly as PePR-E (one intensity x PUE for the set)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::record::sample;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn scores_follow_the_formula() {
        let records =
            vec![sample("a", "g", 0.8, Some(1.0)), sample("b", "g", 0.9, Some(3.0)), sample("c", "g", 0.6, Some(2.0))];
        let ranking = rank(&records, SetBy::Group).unwrap();
        let e = Variant::Energy.index();
        assert!(close(ranking.runs[0].normalised[e], 0.0));
        assert!(close(ranking.runs[1].normalised[e], 1.0));
        assert!(close(ranking.runs[2].normalised[e], 0.5));
        assert!(close(ranking.runs[0].score[e], 0.8));
        assert!(close(ranking.runs[1].score[e], 0.45));
        assert!(close(ranking.runs[2].score[e], 0.4));
        let ranks: Vec<_> = ranking.runs.iter().map(|r| r.rank[e]).collect();
        assert_eq!(ranks, [Some(1), Some(2), Some(3)]);
        let pareto: Vec<_> = ranking.runs.iter().map(|r| r.pareto[e]).collect();
        assert_eq!(pareto, [true, true, false]);
    }

    #[test]
    fn single_run_and_equal_resources_give_zero() {
        let records = vec![
            sample("a", "solo", 0.7, Some(5.0)),
            sample("b", "flat", 0.5, Some(2.0)),
            sample("c", "flat", 0.6, Some(2.0)),
        ];
        let ranking = rank(&records, SetBy::Group).unwrap();
        for run in &ranking.runs {
            assert!(close(run.normalised[0], 0.0));
            assert!(close(run.score[0], records[run.index].performance));
        }
        assert_eq!(
            ranking.sets,
            vec![SetSummary { name: "flat".into(), runs: 2 }, SetSummary { name: "solo".into(), runs: 1 }]
        );
    }

    #[test]
    fn missing_resource_gets_no_score_and_does_not_count_in_min_max() {
        let records =
            vec![sample("a", "g", 0.8, Some(1.0)), sample("b", "g", 0.9, None), sample("c", "g", 0.6, Some(3.0))];
        let ranking = rank(&records, SetBy::Group).unwrap();
        let b = &ranking.runs[1];
        assert_eq!((b.normalised[0], b.score[0], b.rank[0], b.pareto[0]), (None, None, None, false));
        assert!(close(ranking.runs[2].normalised[0], 1.0));
        assert_eq!(ranking.runs[2].rank[0], Some(2));
        // The other variants still score b.
        assert!(b.score[Variant::Time.index()].is_some());
    }

    #[test]
    fn sets_are_normalised_separately_and_set_by_all_mixes_them() {
        let records = vec![
            sample("a", "g1", 0.5, Some(1.0)),
            sample("b", "g1", 0.5, Some(2.0)),
            sample("c", "g2", 0.5, Some(10.0)),
            sample("d", "g2", 0.5, Some(20.0)),
        ];
        let by_group = rank(&records, SetBy::Group).unwrap();
        assert!(close(by_group.runs[1].normalised[0], 1.0));
        assert!(close(by_group.runs[2].normalised[0], 0.0));
        let all = rank(&records, SetBy::All).unwrap();
        assert!(close(all.runs[1].normalised[0], 1.0 / 19.0));
        assert_eq!(all.sets.len(), 1);
    }

    #[test]
    fn only_completed_runs_are_scored_and_normalised() {
        let mut failed = sample("f", "g", 0.0, Some(100.0));
        failed.status = RunStatus::Failed;
        let mut stopped = sample("s", "g", 0.9, Some(0.01));
        stopped.status = RunStatus::Interrupted;
        let records = vec![sample("a", "g", 0.8, Some(1.0)), sample("b", "g", 0.6, Some(3.0)), failed, stopped];
        let ranking = rank(&records, SetBy::Group).unwrap();
        assert!(close(ranking.runs[1].normalised[0], 1.0), "the failed run's 100 kWh is not the max");
        for run in &ranking.runs[2..] {
            assert_eq!((run.score, run.rank, run.pareto), ([None; 4], [None; 4], [false; 4]));
        }
        assert_eq!(ranking.runs[0].rank[0], Some(1));
        assert_eq!(ranking.sets[0].runs, 4, "they are still listed in their set");
    }

    #[test]
    fn ties_share_a_rank() {
        let records =
            vec![sample("a", "g", 0.5, Some(1.0)), sample("b", "g", 0.5, Some(1.0)), sample("c", "g", 0.4, Some(1.0))];
        let ranking = rank(&records, SetBy::Group).unwrap();
        let ranks: Vec<_> = ranking.runs.iter().map(|r| r.rank[0]).collect();
        assert_eq!(ranks, [Some(1), Some(1), Some(3)]);
    }

    #[test]
    fn pareto_front_edge_cases() {
        assert!(pareto_front(&[]).is_empty());
        assert_eq!(pareto_front(&[(7, 0.5, 1.0)]), [7]);
        // Identical points do not dominate each other.
        assert_eq!(pareto_front(&[(0, 0.5, 1.0), (1, 0.5, 1.0)]), [0, 1]);
        // Same R, lower P is dominated; same P, higher R is dominated.
        assert_eq!(pareto_front(&[(0, 0.5, 1.0), (1, 0.4, 1.0), (2, 0.5, 2.0)]), [0]);
        // A staircase.
        let points = [(0, 0.9, 3.0), (1, 0.7, 1.0), (2, 0.8, 2.0), (3, 0.6, 2.5), (4, 0.95, 5.0)];
        assert_eq!(pareto_front(&points), [0, 1, 2, 4]);
    }

    #[test]
    fn pareto_front_matches_brute_force() {
        // Deterministic pseudo-random points with many ties.
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % 7) as f64
        };
        for _ in 0..50 {
            let points: Vec<(usize, f64, f64)> = (0..30).map(|i| (i, next(), next())).collect();
            let brute: Vec<usize> = points
                .iter()
                .filter(|p| !points.iter().any(|q| q.1 >= p.1 && q.2 <= p.2 && (q.1 > p.1 || q.2 < p.2)))
                .map(|p| p.0)
                .collect();
            assert_eq!(pareto_front(&points), brute);
        }
    }

    fn metered(id: &str, p: f64, gross: f64, net: f64, intensity: f64, pue: Option<f64>) -> RunRecord {
        let mut r = sample(id, "g", p, Some(gross));
        r.carbon_intensity_g_per_kwh = Some(intensity);
        r.co2_g = Some(gross * intensity * pue.unwrap_or(1.0));
        r.meters = Some(crate::results::record::MeterDetail { energy_net_kwh: Some(net), pue, ..Default::default() });
        r
    }

    #[test]
    fn net_energy_ranks_on_the_meters_net_figure_and_skips_runs_without_it() {
        // Gross order: a < b < c; net order: c < a < b.
        let mut records = vec![
            metered("a", 0.8, 1.0, 0.6, 100.0, None),
            metered("b", 0.8, 2.0, 0.9, 100.0, None),
            metered("c", 0.8, 3.0, 0.3, 100.0, None),
            sample("imported", "g", 0.9, Some(0.5)),
        ];
        records[3].meters = None;
        let gross = rank_with(&records, SetBy::Group, EnergyBasis::Gross).unwrap();
        assert_eq!(gross.runs.iter().map(|r| r.rank[0]).collect::<Vec<_>>(), [Some(2), Some(3), Some(4), Some(1)]);
        let net = rank_with(&records, SetBy::Group, EnergyBasis::Net).unwrap();
        assert_eq!(net.energy, EnergyBasis::Net);
        assert_eq!(net.runs.iter().map(|r| r.rank[0]).collect::<Vec<_>>(), [Some(2), Some(3), Some(1), None]);
        assert!(close(net.runs[0].normalised[0], 0.5));
        assert_eq!(net.resource(Variant::Energy, &records[2]), Some(0.3));
        assert_eq!(gross.resource(Variant::Energy, &records[2]), Some(3.0));
        // The other variants do not change.
        assert_eq!(net.runs[3].score[Variant::Time.index()], gross.runs[3].score[Variant::Time.index()]);
        assert_eq!(EnergyBasis::parse("NET"), Some(EnergyBasis::Net));
        assert_eq!(EnergyBasis::parse("both"), None);
    }

    #[test]
    fn co2_mirrors_energy_when_one_intensity_and_pue_cover_the_set() {
        let same = vec![
            metered("a", 0.8, 1.0, 0.5, 143.3, None),
            metered("b", 0.9, 3.0, 1.0, 143.3, Some(1.0)), // missing PUE counts as 1.0
            metered("c", 0.6, 2.0, 1.0, 143.3, None),
        ];
        let ranking = rank(&same, SetBy::Group).unwrap();
        assert_eq!(ranking.co2_mirrors_energy, [true]);
        assert!(ranking.co2_mirrors_energy_in(0));
        // What the flag claims: the scores are the same (up to rounding).
        for run in &ranking.runs {
            let (e, c) = (run.score[0].unwrap(), run.score[1].unwrap());
            assert!((e - c).abs() < 1e-12, "{e} vs {c}");
            assert_eq!(run.rank[0], run.rank[1]);
        }
        // Net energy: CO2 is charged on gross, so PePR-C is its own ordering.
        assert_eq!(rank_with(&same, SetBy::Group, EnergyBasis::Net).unwrap().co2_mirrors_energy, [false]);

        let mut different = same.clone();
        different[2] = metered("c", 0.6, 2.0, 1.0, 708.3, None);
        assert_eq!(rank(&different, SetBy::Group).unwrap().co2_mirrors_energy, [false]);
        let mut other_pue = same.clone();
        other_pue[1] = metered("b", 0.9, 3.0, 1.0, 143.3, Some(1.58));
        assert_eq!(rank(&other_pue, SetBy::Group).unwrap().co2_mirrors_energy, [false]);
        // A run with CO2 but no intensity on record: nothing can be claimed.
        let mut unknown = same.clone();
        unknown[0].carbon_intensity_g_per_kwh = None;
        assert_eq!(rank(&unknown, SetBy::Group).unwrap().co2_mirrors_energy, [false]);
        // A run with energy but no CO2 is scored by PePR-E only.
        let mut partial = same.clone();
        partial[0].co2_g = None;
        assert_eq!(rank(&partial, SetBy::Group).unwrap().co2_mirrors_energy, [false]);
        // One run alone, or none with CO2, is no finding either way.
        assert_eq!(rank(&same[..1], SetBy::Group).unwrap().co2_mirrors_energy, [false]);
        // Failed runs are not scored, so their intensity does not matter.
        let mut failed = same.clone();
        failed.push(metered("f", 0.1, 9.0, 9.0, 999.0, None));
        failed[3].status = RunStatus::Failed;
        assert_eq!(rank(&failed, SetBy::Group).unwrap().co2_mirrors_energy, [true]);
    }

    #[test]
    fn the_flag_is_per_set() {
        let mut records = vec![
            metered("a", 0.8, 1.0, 0.5, 100.0, None),
            metered("b", 0.9, 3.0, 1.0, 100.0, None),
            metered("c", 0.8, 1.0, 0.5, 100.0, None),
            metered("d", 0.9, 3.0, 1.0, 400.0, None),
        ];
        records[2].group = "h".into();
        records[3].group = "h".into();
        let ranking = rank(&records, SetBy::Group).unwrap();
        assert_eq!(ranking.co2_mirrors_energy, [true, false]);
        assert!(!ranking.co2_mirrors_energy_in(7));
    }

    #[test]
    fn variant_names_parse() {
        assert_eq!(Variant::parse("pepr-e"), Some(Variant::Energy));
        assert_eq!(Variant::parse("PePR_M"), Some(Variant::Memory));
        assert_eq!(Variant::parse("t"), Some(Variant::Time));
        assert_eq!(Variant::parse("x"), None);
    }
}
