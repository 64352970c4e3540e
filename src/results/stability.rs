//! Rank stability: whether a run's PePR rank could change when its energy (or CO2) and every other
//! run's lie anywhere within their uncertainty bands (`energy_kwh_low..high`, `co2_g_low..high`).
//!
//! Definition. In one comparison set and for one variant, each scored run i has a resource interval
//! [L_i, H_i] (its band; a run without a band, and every time or memory figure, is the point
//! [R_i, R_i]). R_n,i = (R_i - min) / (max - min) grows with R_i and never grows when another run's
//! resource grows (the min and max only move away from it), so over all choices within the bands
//! R_n,i is smallest with R_i = L_i and every other run at its H_j, and largest with R_i = H_i and
//! every other run at its L_j. That gives run i's exact score interval
//! [P_i / (1 + R_n,i max), P_i / (1 + R_n,i min)]. A run's rank is **certain** when no other scored
//! run's score interval overlaps its own (intervals that only touch, or two equal points, do not
//! overlap: a tie stays a tie); otherwise it **could change**, between `best` = 1 + the runs whose
//! lowest score is above its highest, and `worst` = 1 + the runs whose highest score is above its
//! lowest. The intervals are each run's extremes on its own; the runs' scores move together through
//! the set's min and max, so an overlap says the order may change, not that it must.

use super::rank::{EnergyBasis, Ranking, Variant};
use super::record::RunRecord;

/// A run's score interval and the ranks it could take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RankBand {
    pub score_low: f64,
    pub score_high: f64,
    /// Best (smallest) and worst rank within the bands.
    pub best: u32,
    pub worst: u32,
}

impl RankBand {
    /// No other run's interval overlaps this one's.
    pub fn certain(&self) -> bool {
        self.best == self.worst
    }
}

/// The resource interval a run is ranked on for `variant` (a point where no band is stored).
pub fn interval(variant: Variant, basis: EnergyBasis, record: &RunRecord, value: f64) -> (f64, f64) {
    let m = &record.measurement;
    let (low, high) = match variant {
        // Net energy carries the gross band's relative width.
        Variant::Energy => match (m.energy_kwh_low, m.energy_kwh_high, record.energy_kwh, basis) {
            (Some(l), Some(h), _, EnergyBasis::Gross) => (l, h),
            (Some(l), Some(h), Some(e), EnergyBasis::Net) if e > 0.0 => (value * l / e, value * h / e),
            _ => (value, value),
        },
        Variant::Co2 => (m.co2_g_low.unwrap_or(value), m.co2_g_high.unwrap_or(value)),
        Variant::Time | Variant::Memory => (value, value),
    };
    (low.min(value), high.max(value))
}

/// Every run's [`RankBand`] for `variant`, indexed like `ranking.runs`; `None` for a run without a
/// rank for it.
pub fn rank_bands(records: &[RunRecord], ranking: &Ranking, variant: Variant) -> Vec<Option<RankBand>> {
    let v = variant.index();
    let mut bands = vec![None; ranking.runs.len()];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); ranking.sets.len()];
    for (k, run) in ranking.runs.iter().enumerate() {
        if run.rank[v].is_some() && ranking.resource(variant, &records[run.index]).is_some() {
            members[run.set].push(k);
        }
    }
    for set in &members {
        // (k, P, L, H) for each scored run.
        let runs: Vec<(usize, f64, f64, f64)> = set
            .iter()
            .map(|&k| {
                let record = &records[ranking.runs[k].index];
                let value = ranking.resource(variant, record).expect("filtered");
                let (l, h) = interval(variant, ranking.energy, record, value);
                (k, record.performance, l, h)
            })
            .collect();
        let scores: Vec<(f64, f64)> = (0..runs.len()).map(|i| score_interval(&runs, i)).collect();
        for (i, &(k, ..)) in runs.iter().enumerate() {
            let (lo, hi) = scores[i];
            let others = scores.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, s)| *s);
            let above = others.clone().filter(|&(olo, _)| olo > hi).count() as u32;
            let maybe_above = others.filter(|&(_, ohi)| ohi > lo).count() as u32;
            // Equal points (ties) and touching ends are not overlaps.
            let overlapping = scores.iter().enumerate().any(|(j, &(olo, ohi))| j != i && olo.max(lo) < ohi.min(hi));
            // A certain rank is the ranking's own (ties share the lower rank, as there).
            let own = ranking.runs[k].rank[v].unwrap_or(1 + above);
            let (best, worst) =
                if overlapping { ((1 + above).min(own), (1 + maybe_above).max(own)) } else { (own, own) };
            bands[k] = Some(RankBand { score_low: lo, score_high: hi, best, worst });
        }
    }
    bands
}

/// Run `i`'s score interval given everyone's resource intervals (see the module's definition).
fn score_interval(runs: &[(usize, f64, f64, f64)], i: usize) -> (f64, f64) {
    let (_, p, li, hi) = runs[i];
    let rn = |own: f64, others_at_high: bool| {
        let values = runs.iter().enumerate().map(|(j, &(_, _, l, h))| {
            if j == i {
                own
            } else if others_at_high {
                h
            } else {
                l
            }
        });
        let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        if max > min { (own - min) / (max - min) } else { 0.0 }
    };
    let rn_min = rn(li, true);
    let rn_max = rn(hi, false);
    (p / (1.0 + rn_max), p / (1.0 + rn_min))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::rank::{SetBy, rank};
    use crate::results::record::sample;

    fn banded(id: &str, p: f64, e: f64, low: f64, high: f64) -> RunRecord {
        let mut r = sample(id, "g", p, Some(e));
        r.measurement.energy_kwh_low = Some(low);
        r.measurement.energy_kwh_high = Some(high);
        r
    }

    fn bands_of(records: &[RunRecord]) -> Vec<RankBand> {
        let ranking = rank(records, SetBy::Group).unwrap();
        rank_bands(records, &ranking, Variant::Energy).into_iter().map(Option::unwrap).collect()
    }

    #[test]
    fn points_are_certain_and_ties_stay_ties() {
        let records =
            vec![sample("a", "g", 0.9, Some(1.0)), sample("b", "g", 0.8, Some(2.0)), sample("c", "g", 0.8, Some(2.0))];
        let bands = bands_of(&records);
        assert!(bands.iter().all(RankBand::certain), "{bands:?}");
        assert_eq!(bands[0].score_low, bands[0].score_high);
        assert_eq!((bands[1].best, bands[2].best), (2, 2), "a tie shares its rank");
    }

    #[test]
    fn wide_bands_make_close_runs_uncertain_and_far_runs_certain() {
        // a and b are close in P and energy; c is far worse in P.
        let records = vec![
            banded("a", 0.90, 1.0, 0.6, 1.4),
            banded("b", 0.88, 1.1, 0.66, 1.54),
            banded("c", 0.30, 1.05, 0.63, 1.47),
        ];
        let bands = bands_of(&records);
        assert!(!bands[0].certain() && !bands[1].certain(), "{bands:?}");
        assert_eq!((bands[0].best, bands[0].worst), (1, 2));
        assert_eq!((bands[1].best, bands[1].worst), (1, 2));
        assert!(bands[2].certain() && bands[2].best == 3, "{:?}", bands[2]);
        // The interval contains the point score.
        let ranking = rank(&records, SetBy::Group).unwrap();
        for (k, b) in bands.iter().enumerate() {
            let s = ranking.runs[k].score[0].unwrap();
            assert!(b.score_low <= s + 1e-12 && s <= b.score_high + 1e-12, "{s} in {b:?}");
        }
    }

    #[test]
    fn narrow_counter_bands_keep_ranks_certain() {
        let records = vec![banded("a", 0.9, 1.0, 0.9, 1.1), banded("b", 0.7, 3.0, 2.7, 3.3)];
        assert!(bands_of(&records).iter().all(RankBand::certain));
    }

    #[test]
    fn the_interval_is_exact_at_its_extremes() {
        // Two runs: a's lowest score is with a at its high and b at its low.
        let records = vec![banded("a", 1.0, 2.0, 1.0, 3.0), banded("b", 1.0, 4.0, 3.0, 5.0)];
        let bands = bands_of(&records);
        // a at 3 vs b at 3: R_n = 0 (all equal) -> 1.0; a at 1 vs b at 5: R_n = 0 -> 1.0.
        assert_eq!((bands[0].score_low, bands[0].score_high), (1.0, 1.0));
        // b: at 5 with a at 1 -> R_n 1 -> 0.5; at 3 with a at 3 -> 0 -> 1.0.
        assert_eq!((bands[1].score_low, bands[1].score_high), (0.5, 1.0));
        // b's best only touches a's score (a tie at best): touching is not an overlap.
        assert!(bands[1].certain() && bands[1].best == 2, "{:?}", bands[1]);
    }
}
