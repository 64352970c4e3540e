//! `pepr rank`: the ranking as a table (one block per comparison set), CSV or JSON.

use std::io::Write;

use anyhow::{Result, bail};

use super::args::{Format, RankArgs, SortBy};
use super::{ignore_broken_pipe, stored_settings};
use crate::format::fixed;
use crate::home::Home;
use crate::output::{self, Cell, Table};
use crate::results::rank::{EnergyBasis, RankedRun, Ranking, SetBy, Variant, rank_with};
use crate::results::record::RunRecord;
use crate::results::store::RunStore;
use crate::results::view::select;

/// `pepr rank`: the runs of each comparison set, ranked (or sorted by a column), as a table, CSV or
/// JSON; with a budget, a carbon what-if, seed aggregation or uncertainty bands.
pub(super) fn run(home: &Home, store: &RunStore, args: RankArgs) -> Result<()> {
    let RankArgs { by, group, top, format, reverse, set_by, energy, aggregate_seeds, budget, bands } = args;
    let energy = match energy {
        Some(energy) => energy.into(),
        None => stored_settings(home).rank_energy(),
    };
    let (limits, what_if) =
        (budget.budget(), crate::results::whatif::WhatIf::parse(budget.intensity.as_deref(), budget.pue));
    limits.check().map_err(|e| anyhow::anyhow!(e))?;
    let what_if = what_if.map_err(|e| anyhow::anyhow!(e))?;
    if aggregate_seeds && !limits.is_empty() {
        bail!("budget flags filter runs, not seed groups: drop --aggregate-seeds or the budget");
    }
    let (stored, records, ranking) = match &what_if {
        None => {
            let (records, ranking) = load_and_rank(store, set_by.into(), energy)?;
            (None, records, ranking)
        }
        Some(what_if) => {
            let loaded = store.load()?;
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            let rescored = what_if.apply(&loaded.records);
            let ranking = rank_with(&rescored, set_by.into(), energy)?;
            (Some(loaded.records), rescored, ranking)
        }
    };
    if let Some(what_if) = &what_if {
        // Tables carry the banner in their own output; CSV and JSON keep their shape.
        if format == Format::Table {
            let _ = writeln!(std::io::stdout(), "{}\n", what_if.banner());
        } else {
            eprintln!("{}", what_if.banner());
        }
    }
    if let Some(group) = &group
        && !ranking.sets.iter().any(|s| &s.name == group)
    {
        let names: Vec<&str> = ranking.sets.iter().map(|s| s.name.as_str()).collect();
        bail!(
            "no comparison set named {group:?}; the store has: {}",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    }
    if aggregate_seeds {
        return ignore_broken_pipe(print_aggregated(&records, &ranking, group.as_deref(), top, by, reverse, format));
    }
    let descending = by.key.descending_by_default() != reverse;
    let mut rows = select(&records, &ranking, group.as_deref(), "", by.key, descending, by.variant);
    let before_budget = rows.len();
    rows.retain(|&row| limits.fits(&records[ranking.runs[row].index]));
    if let Some(top) = top {
        rows = first_n_per_set(&ranking, rows, top);
    }
    // Sets whose runs' figures cover different scopes (e.g. the paper's last-epoch time).
    let warnings = crate::results::record::scope_warnings(&records, &ranking);
    let shown: std::collections::BTreeSet<usize> = rows.iter().map(|&r| ranking.runs[r].set).collect();
    for set in shown {
        if let Some(w) = &warnings[set] {
            eprintln!("warning: {}: {w}", ranking.sets[set].name);
        }
    }
    let band = bands.then(|| crate::results::stability::rank_bands(&records, &ranking, by.variant));
    let out = std::io::stdout();
    let mut out = out.lock();
    let result = print_ranking(&mut out, &records, &ranking, &rows, by.variant, format, band.as_deref());
    let mut notes = Vec::new();
    if !limits.is_empty() {
        notes.push(format!(
            "budget {}: {} of {before_budget} runs fit (scores as ranked among all runs of each set)",
            limits.describe(),
            rows.len()
        ));
    }
    if let Some(stored) = &stored {
        let indices: Vec<usize> = rows.iter().map(|&row| ranking.runs[row].index).collect();
        notes.push(crate::results::whatif::WhatIf::totals(stored, &records, &indices).line());
    }
    for note in notes {
        if format == Format::Table {
            let _ = writeln!(out, "{note}");
        } else {
            eprintln!("{note}");
        }
    }
    ignore_broken_pipe(result)
}

/// `pepr rank --aggregate-seeds`: rows sorted by the mean of the chosen PePR variant within each set.
fn print_aggregated(
    records: &[RunRecord],
    ranking: &Ranking,
    group: Option<&str>,
    top: Option<usize>,
    by: SortBy,
    reverse: bool,
    format: Format,
) -> Result<()> {
    use crate::results::seeds;
    let mut groups = seeds::aggregate_seeds(records, ranking)?;
    seeds::sort_groups(&mut groups, by.variant);
    let mut rows: Vec<&seeds::SeedGroup> =
        groups.iter().filter(|g| group.is_none_or(|name| ranking.sets[g.set].name == name)).collect();
    if reverse {
        rows.reverse();
        rows.sort_by_key(|g| g.set);
    }
    if let Some(top) = top {
        let mut count = std::collections::HashMap::new();
        rows.retain(|g| {
            let n = count.entry(g.set).or_insert(0usize);
            *n += 1;
            *n <= top
        });
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    match format {
        Format::Csv => seeds::write_csv(&mut out, ranking, &rows),
        Format::Table => seeds::write_table(&mut out, ranking, &rows, by.variant),
        Format::Json => seeds::write_json(&mut out, ranking, &rows),
    }
}

pub(super) fn load_and_rank(store: &RunStore, set_by: SetBy, energy: EnergyBasis) -> Result<(Vec<RunRecord>, Ranking)> {
    let loaded = store.load()?;
    for line in loaded.warning_lines() {
        eprintln!("{line}");
    }
    let ranking = rank_with(&loaded.records, set_by, energy)?;
    Ok((loaded.records, ranking))
}

fn first_n_per_set(ranking: &Ranking, rows: Vec<usize>, n: usize) -> Vec<usize> {
    let mut kept = Vec::new();
    let mut current: Option<usize> = None;
    let mut count = 0;
    for row in rows {
        let set = ranking.runs[row].set;
        if current != Some(set) {
            current = Some(set);
            count = 0;
        }
        if count < n {
            kept.push(row);
        }
        count += 1;
    }
    kept
}

/// The columns of `pepr rank --format csv|json`.
pub const RANK_COLUMNS: &[&str] = &[
    "id",
    "arch",
    "group",
    "dataset",
    "kind",
    "params",
    "P",
    "energy_kwh",
    "co2_g",
    "train_time_s",
    "memory_gb",
    "pepr_e",
    "pepr_c",
    "pepr_t",
    "pepr_m",
    "pareto_e",
    "pareto_c",
    "pareto_t",
    "pareto_m",
    "rank",
];

fn rank_cells(record: &RunRecord, run: &RankedRun, variant: Variant) -> Vec<Cell> {
    let mut cells = vec![
        Cell::Text(record.id.clone()),
        Cell::Text(record.arch.clone()),
        Cell::Text(record.group.clone()),
        Cell::Text(record.dataset.clone()),
        Cell::Text(record.kind.label().into()),
        Cell::Number(record.params.map(|p| p as f64)),
        Cell::Number(record.measured_p()),
    ];
    cells.extend(Variant::ALL.iter().map(|v| Cell::Number(v.resource(record))));
    cells.extend(Variant::ALL.iter().map(|v| Cell::Number(run.score[v.index()])));
    cells.extend(Variant::ALL.iter().map(|v| Cell::Flag(run.pareto[v.index()])));
    cells.push(Cell::Number(run.rank[variant.index()].map(f64::from)));
    cells
}

fn print_ranking(
    out: &mut impl Write,
    records: &[RunRecord],
    ranking: &Ranking,
    rows: &[usize],
    variant: Variant,
    format: Format,
    bands: Option<&[Option<crate::results::stability::RankBand>]>,
) -> Result<()> {
    let columns: Vec<&str> =
        RANK_COLUMNS.iter().chain(if bands.is_some() { BAND_COLUMNS } else { &[] }).copied().collect();
    let row_cells = |row: usize| {
        let run = &ranking.runs[row];
        let record = &records[run.index];
        let mut cells = rank_cells(record, run, variant);
        if let Some(bands) = bands {
            let m = &record.measurement;
            let band = bands.get(row).copied().flatten();
            cells.extend([
                Cell::Number(m.energy_kwh_low),
                Cell::Number(m.energy_kwh_high),
                Cell::Number(m.co2_g_low),
                Cell::Number(m.co2_g_high),
                Cell::Number(band.map(|b| b.score_low)),
                Cell::Number(band.map(|b| b.score_high)),
                Cell::Number(band.map(|b| b.best as f64)),
                Cell::Number(band.map(|b| b.worst as f64)),
                match band {
                    Some(b) => Cell::Flag(b.certain()),
                    None => Cell::Number(None),
                },
            ]);
        }
        cells
    };
    match format {
        Format::Csv => output::write_csv(out, &columns, rows.iter().map(|&row| row_cells(row))),
        Format::Json => output::write_json(out, &columns, rows.iter().map(|&row| row_cells(row))),
        Format::Table => print_table(out, records, ranking, rows, variant, bands),
    }
}

/// `pepr rank --bands`'s extra csv/json columns.
pub const BAND_COLUMNS: &[&str] = &[
    "energy_kwh_low",
    "energy_kwh_high",
    "co2_g_low",
    "co2_g_high",
    "score_low",
    "score_high",
    "rank_best",
    "rank_worst",
    "rank_certain",
];

/// A human-readable table: one block per comparison set.
fn print_table(
    out: &mut impl Write,
    records: &[RunRecord],
    ranking: &Ranking,
    rows: &[usize],
    variant: Variant,
    bands: Option<&[Option<crate::results::stability::RankBand>]>,
) -> Result<()> {
    if rows.is_empty() {
        writeln!(out, "no runs to show (import some with `pepr import FILE`)")?;
        return Ok(());
    }
    let energy_header = if ranking.energy == EnergyBasis::Net { "net kWh" } else { "energy kWh" };
    let table = Table::new("  ")
        .right("rank")
        .left("arch")
        .right("P")
        .right(energy_header)
        .right("CO2 g")
        .right("time s")
        .right("mem GB")
        .right(format!("PePR-{}", variant.letter()))
        .right("front");
    let v = variant.index();
    // One block per comparison set, in the rows' order.
    let mut start = 0;
    while start < rows.len() {
        let set = ranking.runs[rows[start]].set;
        let end = rows[start..].iter().position(|&r| ranking.runs[r].set != set).map_or(rows.len(), |i| start + i);
        let block: Vec<Vec<String>> = rows[start..end]
            .iter()
            .map(|&row| {
                let run = &ranking.runs[row];
                let record = &records[run.index];
                let band = bands.and_then(|b| b.get(row).copied().flatten());
                let m = &record.measurement;
                // With --bands: "0.01200 (0.005-0.035)" and "3?" for a rank that could change within them.
                let with_band =
                    |text: String, low: Option<f64>, high: Option<f64>, decimals: usize| match (bands, low, high) {
                        (Some(_), Some(l), Some(h)) => format!("{text} ({l:.decimals$}-{h:.decimals$})"),
                        _ => text,
                    };
                let energy_band = if ranking.energy == EnergyBasis::Gross {
                    (m.energy_kwh_low, m.energy_kwh_high)
                } else {
                    (None, None)
                };
                vec![
                    run.rank[v].map_or("—".into(), |r| match band {
                        Some(b) if !b.certain() => format!("{r}? (#{}-#{})", b.best, b.worst),
                        _ => r.to_string(),
                    }),
                    crate::text::clean(&record.arch).into_owned(),
                    fixed(record.measured_p(), 4),
                    with_band(fixed(ranking.resource(Variant::Energy, record), 5), energy_band.0, energy_band.1, 5),
                    with_band(fixed(record.co2_g, 3), m.co2_g_low, m.co2_g_high, 3),
                    fixed(record.train_time_s, 1),
                    fixed(record.memory_gb, 2),
                    fixed(run.score[v], 4),
                    if run.pareto[v] { "*".into() } else { String::new() },
                ]
            })
            .collect();
        writeln!(out, "== {} ==", crate::text::clean(&ranking.sets[set].name))?;
        if variant == Variant::Co2 && ranking.co2_mirrors_energy_in(set) {
            writeln!(out, "{}", crate::results::rank::CO2_MIRRORS_ENERGY)?;
        }
        table.write(out, &block)?;
        writeln!(out)?;
        start = end;
    }
    Ok(())
}
