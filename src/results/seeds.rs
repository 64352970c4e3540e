//! Seed aggregation: runs that differ only by seed (same comparison set, group, architecture, start,
//! frozen backbone, data fraction, epochs, batch size, learning rate, metric and backend) collapse to one row with the mean and spread of P, each resource and each PePR
//! score. Only completed runs count (the ones the ranking scores). The spread is the sample standard
//! deviation (n - 1; none for a single seed) together with the minimum and maximum.
//!
//! A row's PePR is the mean of its runs' own scores, each run normalised within its set as usual,
//! not a score computed from mean resources. Computed in polars.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Result;
use polars::prelude::*;

use super::rank::{Ranking, Variant, cmp_missing_last};
use super::record::{RunRecord, RunStatus};
use crate::output::{self, Cell, Table};

/// Mean and spread of one quantity over a cell's seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub mean: f64,
    /// Sample standard deviation (n - 1); `None` with fewer than two values.
    pub std: Option<f64>,
    pub min: f64,
    pub max: f64,
    /// How many runs had the quantity.
    pub n: usize,
}

/// One row of the aggregated leaderboard.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedGroup {
    /// Index into [`Ranking::sets`].
    pub set: usize,
    pub group: String,
    pub arch: String,
    pub pretrained: Option<String>,
    pub fraction: Option<f64>,
    /// The settings the runs share besides the above (a 1-epoch and a 2-epoch run are never merged).
    pub epochs: Option<u32>,
    pub batch_size: Option<u32>,
    pub lr: Option<f64>,
    pub metric: String,
    pub frozen: bool,
    pub backend: Option<String>,
    /// Indices of the aggregated records, in store order.
    pub runs: Vec<usize>,
    /// Their seeds (a run without one is left out here).
    pub seeds: Vec<u64>,
    pub performance: Spread,
    /// Indexed by [`Variant::index`]; `None` when no run has the resource (or score).
    pub resource: [Option<Spread>; 4],
    pub score: [Option<Spread>; 4],
}

impl SeedGroup {
    /// `scratch` or the pretrained source.
    pub fn start(&self) -> &str {
        self.pretrained.as_deref().unwrap_or("scratch")
    }
}

/// Everything a row's runs share: set, group, arch, start, fraction, then the training settings
/// (epochs, batch, lr, metric, frozen backbone, backend); only the seed may differ.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key<'a> {
    set: usize,
    group: &'a str,
    arch: &'a str,
    pretrained: Option<&'a str>,
    fraction: Option<u64>,
    epochs: Option<u32>,
    batch_size: Option<u32>,
    lr: Option<u64>,
    metric: &'a str,
    frozen: bool,
    backend: Option<&'a str>,
}

/// Aggregates the completed runs of `records` over seeds, using `ranking`'s scores. Rows come in set
/// order, then best mean PePR-E first.
pub fn aggregate_seeds(records: &[RunRecord], ranking: &Ranking) -> Result<Vec<SeedGroup>> {
    let mut keys: Vec<Key> = Vec::new();
    let mut key_ids: HashMap<Key, u32> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut key_of = Vec::new();
    let mut rows = Vec::new();
    for run in &ranking.runs {
        let record = &records[run.index];
        if record.status != RunStatus::Completed {
            continue;
        }
        let key = Key {
            set: run.set,
            group: record.group.as_str(),
            arch: record.arch.as_str(),
            pretrained: record.pretrained.as_deref(),
            fraction: record.data_fraction.map(f64::to_bits),
            epochs: record.epochs,
            batch_size: record.batch_size,
            lr: record.lr.map(f64::to_bits),
            metric: record.metric.as_str(),
            frozen: record.frozen_backbone == Some(true),
            backend: record.backend.as_deref(),
        };
        let id = *key_ids.entry(key).or_insert_with(|| {
            keys.push(key);
            members.push(Vec::new());
            (keys.len() - 1) as u32
        });
        members[id as usize].push(run.index);
        key_of.push(id);
        rows.push(run);
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut columns = vec![
        Column::new("key".into(), key_of.as_slice()),
        Column::new("P".into(), rows.iter().map(|r| records[r.index].performance).collect::<Vec<f64>>()),
    ];
    for v in Variant::ALL {
        let resource: Vec<Option<f64>> = rows.iter().map(|r| v.resource(&records[r.index])).collect();
        let score: Vec<Option<f64>> = rows.iter().map(|r| r.score[v.index()]).collect();
        columns.push(Column::new(v.resource_column().into(), resource));
        columns.push(Column::new(v.score_column().into(), score));
    }
    let mut quantities = vec!["P".to_string()];
    for v in Variant::ALL {
        quantities.push(v.resource_column().to_string());
        quantities.push(v.score_column().to_string());
    }
    let mut aggs = Vec::new();
    for q in &quantities {
        let c = || col(q.as_str());
        aggs.push(c().mean().alias(format!("{q}__mean").as_str()));
        aggs.push(c().std(1).alias(format!("{q}__std").as_str()));
        aggs.push(c().min().alias(format!("{q}__min").as_str()));
        aggs.push(c().max().alias(format!("{q}__max").as_str()));
        aggs.push(c().is_not_null().sum().cast(DataType::UInt32).alias(format!("{q}__n").as_str()));
    }
    let frame = anyhow::Context::context(DataFrame::new_infer_height(columns), "building the seed frame")?;
    let frame = anyhow::Context::context(
        frame.lazy().group_by([col("key")]).agg(aggs).sort(["key"], Default::default()).collect(),
        "aggregating seeds",
    )?;
    let key_column: Vec<Option<u32>> = frame.column("key")?.u32()?.iter().collect();
    let f64s = |name: &str| -> Result<Vec<Option<f64>>> { Ok(frame.column(name)?.f64()?.iter().collect()) };
    let spread_of = |q: &str| -> Result<Vec<Option<Spread>>> {
        let (mean, std, min, max) = (
            f64s(&format!("{q}__mean"))?,
            f64s(&format!("{q}__std"))?,
            f64s(&format!("{q}__min"))?,
            f64s(&format!("{q}__max"))?,
        );
        let n: Vec<Option<u32>> = frame.column(&format!("{q}__n"))?.u32()?.iter().collect();
        Ok((0..frame.height())
            .map(|i| {
                let n = n[i].unwrap_or(0) as usize;
                (n > 0).then(|| Spread {
                    mean: mean[i].unwrap_or(f64::NAN),
                    std: if n >= 2 { std[i] } else { None },
                    min: min[i].unwrap_or(f64::NAN),
                    max: max[i].unwrap_or(f64::NAN),
                    n,
                })
            })
            .collect())
    };
    let performance = spread_of("P")?;
    let resources: Vec<Vec<Option<Spread>>> =
        Variant::ALL.iter().map(|v| spread_of(v.resource_column())).collect::<Result<_>>()?;
    let scores: Vec<Vec<Option<Spread>>> =
        Variant::ALL.iter().map(|v| spread_of(v.score_column())).collect::<Result<_>>()?;
    let mut groups: Vec<SeedGroup> = key_column
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let id = key.expect("group keys are never null") as usize;
            let key = keys[id];
            let runs = members[id].clone();
            SeedGroup {
                set: key.set,
                group: key.group.to_string(),
                arch: key.arch.to_string(),
                pretrained: key.pretrained.map(str::to_string),
                fraction: key.fraction.map(f64::from_bits),
                epochs: key.epochs,
                batch_size: key.batch_size,
                lr: key.lr.map(f64::from_bits),
                metric: key.metric.to_string(),
                frozen: key.frozen,
                backend: key.backend.map(str::to_string),
                seeds: runs.iter().filter_map(|&r| records[r].seed).collect(),
                runs,
                performance: performance[i].expect("every run has P"),
                resource: std::array::from_fn(|v| resources[v][i]),
                score: std::array::from_fn(|v| scores[v][i]),
            }
        })
        .collect();
    sort_groups(&mut groups, Variant::Energy);
    Ok(groups)
}

/// Set order, then best mean score of `variant` first (rows without one last), then architecture.
pub fn sort_groups(groups: &mut [SeedGroup], variant: Variant) {
    groups.sort_by(|a, b| {
        a.set
            .cmp(&b.set)
            .then_with(|| {
                let (x, y) = (a.score[variant.index()].map(|s| s.mean), b.score[variant.index()].map(|s| s.mean));
                cmp_missing_last(x, y, true)
            })
            .then_with(|| a.arch.cmp(&b.arch))
            .then_with(|| a.group.cmp(&b.group))
    });
}

/// `mean ± std` (or just the mean for one seed) with fixed decimals; an em dash when missing.
pub fn format_spread(spread: Option<Spread>, decimals: usize) -> String {
    match spread {
        None => "—".into(),
        Some(Spread { mean, std: Some(std), .. }) => format!("{mean:.decimals$}±{std:.decimals$}"),
        Some(Spread { mean, .. }) => format!("{mean:.decimals$}"),
    }
}

/// The columns of `pepr rank --aggregate-seeds --format csv`: per quantity its mean, std, min and max.
pub fn csv_header() -> Vec<String> {
    let mut header: Vec<String> = ["set", "group", "arch", "pretrained", "data_fraction", "runs", "seeds"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for q in quantity_names() {
        for stat in ["mean", "std", "min", "max"] {
            header.push(format!("{q}_{stat}"));
        }
    }
    header
}

fn quantity_names() -> Vec<&'static str> {
    let mut names = vec!["P"];
    names.extend(Variant::ALL.iter().map(|v| v.resource_column()));
    names.extend(Variant::ALL.iter().map(|v| v.score_column()));
    names
}

/// The cells of one group for CSV and JSON: `seeds` is "0;1;2" in CSV and an array in JSON.
fn cells(ranking: &Ranking, g: &SeedGroup) -> Vec<Cell> {
    let mut row = vec![
        Cell::Text(ranking.sets[g.set].name.clone()),
        Cell::Text(g.group.clone()),
        Cell::Text(g.arch.clone()),
        Cell::MaybeText(g.pretrained.clone()),
        Cell::Number(g.fraction),
        Cell::Count(g.runs.len() as u64),
        Cell::Both {
            csv: g.seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(";"),
            json: serde_json::json!(g.seeds),
        },
    ];
    for spread in std::iter::once(Some(g.performance)).chain(g.resource).chain(g.score) {
        row.push(Cell::Number(spread.map(|s| s.mean)));
        row.push(Cell::Number(spread.and_then(|s| s.std)));
        row.push(Cell::Number(spread.map(|s| s.min)));
        row.push(Cell::Number(spread.map(|s| s.max)));
    }
    row
}

/// Writes the rows as CSV (empty cells for missing values).
pub fn write_csv(out: &mut dyn Write, ranking: &Ranking, groups: &[&SeedGroup]) -> Result<()> {
    output::write_csv(out, &csv_header(), groups.iter().map(|g| cells(ranking, g)))
}

/// Writes the rows as a JSON array of objects with the CSV's columns (`null` when missing; `seeds`
/// an array).
pub fn write_json(out: &mut dyn Write, ranking: &Ranking, groups: &[&SeedGroup]) -> Result<()> {
    output::write_json(out, &csv_header(), groups.iter().map(|g| cells(ranking, g)))
}

/// A human-readable table, one block per comparison set: each quantity as `mean±std`, and the
/// chosen PePR variant's min–max.
pub fn write_table(out: &mut dyn Write, ranking: &Ranking, groups: &[&SeedGroup], variant: Variant) -> Result<()> {
    if groups.is_empty() {
        writeln!(out, "no completed runs to aggregate")?;
        return Ok(());
    }
    let v = variant.index();
    let mut table = Table::new("  ").left("arch").left("start");
    for title in ["fraction", "seeds", "P mean±std", "energy kWh", "CO2 g", "time s", "mem GB"] {
        table = table.right(title);
    }
    let table = table.right(format!("PePR-{} mean±std", variant.letter())).right("min–max");
    let mut start = 0;
    while start < groups.len() {
        let set = groups[start].set;
        let end = groups[start..].iter().position(|g| g.set != set).map_or(groups.len(), |i| start + i);
        let rows: Vec<Vec<String>> = groups[start..end]
            .iter()
            .map(|g| {
                vec![
                    g.arch.clone(),
                    g.start().to_string(),
                    g.fraction.map_or("—".into(), |f| f.to_string()),
                    g.runs.len().to_string(),
                    format_spread(Some(g.performance), 4),
                    format_spread(g.resource[0], 5),
                    format_spread(g.resource[1], 3),
                    format_spread(g.resource[2], 1),
                    format_spread(g.resource[3], 2),
                    format_spread(g.score[v], 4),
                    g.score[v].map_or("—".into(), |s| format!("{:.4}–{:.4}", s.min, s.max)),
                ]
            })
            .collect();
        writeln!(out, "== {} (seeds aggregated) ==", ranking.sets[set].name)?;
        table.write(out, &rows)?;
        writeln!(out)?;
        start = end;
    }
    writeln!(out, "mean±std over seeds (sample std, n-1); PePR is the mean of each run's own score in its set")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::rank::{SetBy, rank};
    use crate::results::synthetic::runs;

    /// Four runs in one group: resnet at seeds 0, 1, 2 and lenet at seed 0; plus an interrupted
    /// resnet seed that must not count.
    fn records() -> Vec<RunRecord> {
        let mut records = runs(1, 5, 3);
        let setup = [
            ("resnet18", 0, 0.60, 1.0, RunStatus::Completed),
            ("resnet18", 1, 0.70, 3.0, RunStatus::Completed),
            ("resnet18", 2, 0.80, 2.0, RunStatus::Completed),
            ("pepr_lenet5", 0, 0.50, 0.0, RunStatus::Completed),
            ("resnet18", 3, 0.10, 9.0, RunStatus::Interrupted),
        ];
        for (record, (arch, seed, p, energy, status)) in records.iter_mut().zip(setup) {
            record.group = "derma".into();
            record.arch = arch.into();
            record.seed = Some(seed);
            record.performance = p;
            record.energy_kwh = Some(energy);
            record.co2_g = None;
            record.pretrained = None;
            record.data_fraction = Some(1.0);
            record.status = status;
        }
        records
    }

    #[test]
    fn seeds_collapse_to_mean_and_spread() {
        let records = records();
        let ranking = rank(&records, SetBy::Group).unwrap();
        let groups = aggregate_seeds(&records, &ranking).unwrap();
        assert_eq!(groups.len(), 2);
        let resnet = groups.iter().find(|g| g.arch == "resnet18").unwrap();
        assert_eq!(resnet.runs, vec![0, 1, 2]);
        assert_eq!(resnet.seeds, vec![0, 1, 2]);
        let p = resnet.performance;
        assert!((p.mean - 0.7).abs() < 1e-12 && (p.min - 0.6).abs() < 1e-12 && (p.max - 0.8).abs() < 1e-12);
        assert!((p.std.unwrap() - 0.1).abs() < 1e-12, "sample std of 0.6, 0.7, 0.8 is 0.1: {p:?}");
        let e = resnet.resource[Variant::Energy.index()].unwrap();
        assert!((e.mean - 2.0).abs() < 1e-12 && (e.std.unwrap() - 1.0).abs() < 1e-12 && e.n == 3);
        // Energy 0..3 over the completed runs: R_n = E / 3, so the scores are P / (1 + E/3).
        let expected = [0.6 / (1.0 + 1.0 / 3.0), 0.7 / 2.0, 0.8 / (1.0 + 2.0 / 3.0)];
        let mean = expected.iter().sum::<f64>() / 3.0;
        let score = resnet.score[Variant::Energy.index()].unwrap();
        assert!((score.mean - mean).abs() < 1e-12, "{score:?}");
        assert!((score.min - 0.35).abs() < 1e-12 && (score.max - 0.48).abs() < 1e-12, "{score:?}");
        assert_eq!(resnet.resource[Variant::Co2.index()], None);
        assert_eq!(resnet.score[Variant::Co2.index()], None);
        // One seed: a mean and no standard deviation.
        let lenet = groups.iter().find(|g| g.arch == "pepr_lenet5").unwrap();
        assert_eq!(lenet.performance.std, None);
        assert_eq!(lenet.performance.n, 1);
        assert_eq!(format_spread(Some(lenet.performance), 2), "0.50");
        assert_eq!(format_spread(Some(p), 2), "0.70±0.10");
        // Best mean PePR-E first: lenet scores 0.5 (no energy), resnet about 0.41.
        assert_eq!(groups[0].arch, "pepr_lenet5");
    }

    /// Issue 22: a 1-epoch and a 2-epoch run of resnet were merged into one row.
    #[test]
    fn runs_that_differ_by_more_than_the_seed_stay_apart() {
        let base = records();
        let ranking = rank(&base, SetBy::Group).unwrap();
        assert_eq!(aggregate_seeds(&base, &ranking).unwrap().len(), 2);
        type Change = fn(&mut RunRecord);
        let changes: [(&str, Change); 6] = [
            ("epochs", |r| r.epochs = Some(99)),
            ("batch", |r| r.batch_size = Some(7)),
            ("lr", |r| r.lr = Some(0.123)),
            ("metric", |r| r.metric = "balanced accuracy".into()),
            ("frozen", |r| r.frozen_backbone = Some(true)),
            ("backend", |r| r.backend = Some("wgpu".into())),
        ];
        for (what, change) in changes {
            let mut records = base.clone();
            change(&mut records[1]);
            let ranking = rank(&records, SetBy::Group).unwrap();
            let groups = aggregate_seeds(&records, &ranking).unwrap();
            assert_eq!(groups.len(), 3, "{what}: resnet seed 1 is a row of its own");
        }
    }

    #[test]
    fn different_starts_and_fractions_stay_apart() {
        let mut records = records();
        records[1].pretrained = Some("imagenet".into());
        records[2].data_fraction = Some(0.1);
        let ranking = rank(&records, SetBy::Group).unwrap();
        let groups = aggregate_seeds(&records, &ranking).unwrap();
        assert_eq!(groups.len(), 4);
        assert!(groups.iter().all(|g| g.runs.len() == 1));
        let mut out = Vec::new();
        write_csv(&mut out, &ranking, &groups.iter().collect::<Vec<_>>()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 5);
        assert!(text.lines().next().unwrap().starts_with("set,group,arch,pretrained,data_fraction,runs,seeds,P_mean"));
        let mut out = Vec::new();
        write_json(&mut out, &ranking, &groups.iter().collect::<Vec<_>>()).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let rows = value.as_array().unwrap();
        assert_eq!(rows.len(), 4);
        let resnet = rows.iter().find(|r| r["pretrained"] == "imagenet").unwrap();
        assert_eq!(resnet["seeds"], serde_json::json!([1]));
        assert_eq!(resnet["P_mean"], serde_json::json!(0.7));
        assert_eq!(resnet["P_std"], serde_json::Value::Null);
        assert_eq!(resnet["co2_g_mean"], serde_json::Value::Null);
    }
}
