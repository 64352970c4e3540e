//! Sorting and filtering ranked runs: shared by `pepr rank` and the TUI leaderboard.

use std::cmp::Ordering;

use super::rank::{Ranking, Variant, cmp_missing_last};
use super::record::RunRecord;

/// What a leaderboard can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Rank by the given PePR variant (best first).
    Rank(Variant),
    Arch,
    Group,
    Kind,
    Params,
    Macs,
    Performance,
    Resource(Variant),
    Score(Variant),
    Created,
}

impl SortKey {
    /// Names accepted by `pepr rank --by`.
    pub const NAMES: &str = "pepr-e, pepr-c, pepr-t, pepr-m, rank, arch, group, kind, params, macs, P, energy_kwh, co2_g, train_time_s, memory_gb, created_at";

    pub fn parse(text: &str, variant: Variant) -> Option<SortKey> {
        if text.to_ascii_lowercase().starts_with("pepr")
            && let Some(v) = Variant::parse(text)
        {
            return Some(SortKey::Rank(v));
        }
        Some(match text {
            "rank" => SortKey::Rank(variant),
            "arch" => SortKey::Arch,
            "group" => SortKey::Group,
            "kind" => SortKey::Kind,
            "params" => SortKey::Params,
            "macs" => SortKey::Macs,
            "P" | "p" | "performance" => SortKey::Performance,
            "energy_kwh" => SortKey::Resource(Variant::Energy),
            "co2_g" => SortKey::Resource(Variant::Co2),
            "train_time_s" => SortKey::Resource(Variant::Time),
            "memory_gb" => SortKey::Resource(Variant::Memory),
            "created_at" => SortKey::Created,
            _ => return None,
        })
    }

    /// The natural direction: best first for scores and P, smallest first otherwise.
    pub fn descending_by_default(self) -> bool {
        matches!(self, SortKey::Performance | SortKey::Score(_) | SortKey::Created)
    }

    fn compare(
        self,
        ranking: &Ranking,
        a: (&RunRecord, &super::rank::RankedRun),
        b: (&RunRecord, &super::rank::RankedRun),
        descending: bool,
    ) -> Ordering {
        let (ra, ka) = a;
        let (rb, kb) = b;
        let text = |x: &str, y: &str| if descending { y.cmp(x) } else { x.cmp(y) };
        match self {
            // Rank ascending means best first; `descending` flips to worst first.
            SortKey::Rank(v) => cmp_missing_last(ka.rank[v.index()], kb.rank[v.index()], descending),
            SortKey::Arch => text(&ra.arch, &rb.arch),
            SortKey::Group => text(&ra.group, &rb.group),
            SortKey::Kind => text(ra.kind.label(), rb.kind.label()),
            SortKey::Params => cmp_missing_last(ra.params, rb.params, descending),
            SortKey::Macs => cmp_missing_last(ra.macs, rb.macs, descending),
            SortKey::Performance => cmp_missing_last(ra.measured_p(), rb.measured_p(), descending),
            // Energy on the ranking's basis (gross or net), as shown.
            SortKey::Resource(v) => cmp_missing_last(ranking.resource(v, ra), ranking.resource(v, rb), descending),
            SortKey::Score(v) => cmp_missing_last(ka.score[v.index()], kb.score[v.index()], descending),
            SortKey::Created => cmp_missing_last(Some(ra.created_at), Some(rb.created_at), descending),
        }
    }
}

/// Indices into `ranking.runs` of the runs in `set` (all sets when `None`) whose text matches
/// `filter`, sorted by `key`. Ties fall back to rank, then arch, then id, so the order is stable.
pub fn select(
    records: &[RunRecord],
    ranking: &Ranking,
    set: Option<&str>,
    filter: &str,
    key: SortKey,
    descending: bool,
    tie_variant: Variant,
) -> Vec<usize> {
    let needle = filter.trim().to_lowercase();
    let set = match set.map(|name| ranking.set_index(name)) {
        Some(None) => return Vec::new(),
        Some(Some(index)) => Some(index),
        None => None,
    };
    let mut rows: Vec<usize> = ranking
        .runs
        .iter()
        .enumerate()
        .filter(|(_, run)| set.is_none_or(|s| run.set == s))
        .filter(|(_, run)| needle.is_empty() || matches_filter(&records[run.index], &needle))
        .map(|(i, _)| i)
        .collect();
    rows.sort_by(|&a, &b| {
        let (ka, kb) = (&ranking.runs[a], &ranking.runs[b]);
        let (ra, rb) = (&records[ka.index], &records[kb.index]);
        ka.set
            .cmp(&kb.set)
            .then_with(|| key.compare(ranking, (ra, ka), (rb, kb), descending))
            .then_with(|| cmp_missing_last(ka.rank[tie_variant.index()], kb.rank[tie_variant.index()], false))
            .then_with(|| ra.arch.cmp(&rb.arch))
            .then_with(|| ra.id.cmp(&rb.id))
    });
    rows
}

/// Case-insensitive substring match over the fields a user would search for.
pub fn matches_filter(record: &RunRecord, needle_lowercase: &str) -> bool {
    [
        record.arch.as_str(),
        record.group.as_str(),
        record.dataset.as_str(),
        record.kind.label(),
        record.family.as_deref().unwrap_or(""),
        record.pretrained.as_deref().unwrap_or(""),
        record.status.label(),
        record.id.as_str(),
    ]
    .iter()
    .any(|field| field.to_lowercase().contains(needle_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::rank::{SetBy, rank};
    use crate::results::record::sample;

    #[test]
    fn sorts_within_sets_with_missing_values_last_both_ways() {
        let records = vec![
            sample("a", "g", 0.8, Some(1.0)),
            sample("b", "g", 0.9, None),
            sample("c", "g", 0.6, Some(3.0)),
            sample("d", "h", 0.1, Some(0.1)),
        ];
        let ranking = rank(&records, SetBy::Group).unwrap();
        let ids = |rows: Vec<usize>| -> Vec<&str> {
            rows.iter().map(|&i| records[ranking.runs[i].index].id.as_str()).collect()
        };
        let key = SortKey::Resource(Variant::Energy);
        assert_eq!(ids(select(&records, &ranking, Some("g"), "", key, false, Variant::Energy)), ["a", "c", "b"]);
        assert_eq!(ids(select(&records, &ranking, Some("g"), "", key, true, Variant::Energy)), ["c", "a", "b"]);
        assert_eq!(
            ids(select(&records, &ranking, None, "", SortKey::Rank(Variant::Energy), false, Variant::Energy)),
            ["a", "c", "b", "d"]
        );
        assert_eq!(ids(select(&records, &ranking, None, "ARCH-C", SortKey::Arch, false, Variant::Energy)), ["c"]);
    }

    #[test]
    fn sorting_by_energy_follows_the_rankings_basis() {
        let mut records = vec![sample("a", "g", 0.8, Some(1.0)), sample("b", "g", 0.8, Some(2.0))];
        for (record, net) in records.iter_mut().zip([0.9, 0.2]) {
            record.meters =
                Some(crate::results::record::MeterDetail { energy_net_kwh: Some(net), ..Default::default() });
        }
        let key = SortKey::Resource(Variant::Energy);
        let order = |energy| {
            let ranking = crate::results::rank::rank_with(&records, SetBy::Group, energy).unwrap();
            let rows = select(&records, &ranking, None, "", key, false, Variant::Energy);
            rows.iter().map(|&i| records[ranking.runs[i].index].id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(order(crate::results::rank::EnergyBasis::Gross), ["a", "b"]);
        assert_eq!(order(crate::results::rank::EnergyBasis::Net), ["b", "a"]);
    }

    #[test]
    fn sort_key_names_parse() {
        assert_eq!(SortKey::parse("pepr-t", Variant::Energy), Some(SortKey::Rank(Variant::Time)));
        assert_eq!(SortKey::parse("rank", Variant::Co2), Some(SortKey::Rank(Variant::Co2)));
        assert_eq!(SortKey::parse("memory_gb", Variant::Energy), Some(SortKey::Resource(Variant::Memory)));
        assert_eq!(SortKey::parse("bogus", Variant::Energy), None);
    }
}
