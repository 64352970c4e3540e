//! Printing the catalog for `pepr archs` (table, CSV, JSON) and `pepr archs show NAME`.

use std::io::Write;

use anyhow::{Result, anyhow};
use burn::tensor::Device;

use super::count::breakdown;
use super::listing::{ArchRow, rows};
use super::net::Net;
use super::{Graph, Spec, find, names};
use crate::format::human_count;
use crate::output::{self, Cell, Table};

/// The convention behind every MAC/FLOP figure pepr prints.
pub const CONVENTION: &str = "MACs follow fvcore's FlopCountAnalysis: 1 per multiply-add in conv/linear/matmul, \
batch norm 2 and layer norm 5 per element, adaptive average pooling 1 per element, activations and additions 0, \
LSTMs 0 (fvcore has no handle for them; see docs/catalog.md). FLOPs = 2 x MACs, forward, per sample. \
Training FLOPs per sample are estimated as 3 x forward.";

/// Parameters counted from the burn module built from the graph (lazily initialised, so cheap).
pub fn module_params(graph: &Graph) -> u64 {
    Net::new(graph.clone(), &Device::flex()).trainable_params()
}

fn giga(n: u64) -> String {
    human_count(n)
}

pub fn print_table(out: &mut impl Write, input: Option<(usize, usize, usize)>, classes: usize) -> Result<()> {
    let rows = rows(input, classes);
    // The widths of the layout before the writer; a longer cell widens its column.
    let table = Table::new(" ")
        .left("arch")
        .min_width(24)
        .left("family")
        .min_width(28)
        .left("kind")
        .min_width(11)
        .right("eff")
        .min_width(3)
        .right("input")
        .min_width(10)
        .right("params")
        .min_width(8)
        .right("MACs")
        .min_width(8)
        .right("FLOPs")
        .min_width(8)
        .right("train FLOPs")
        .min_width(11);
    let mut failures = Vec::new();
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let e = row.entry;
            let input = format!("{}x{}x{}", row.spec.in_chans, row.spec.height, row.spec.width);
            let (params, macs, flops, train) = match &row.cost {
                Ok(cost) => (human_count(cost.params), giga(cost.macs), giga(cost.flops()), giga(cost.train_flops())),
                Err(message) => {
                    failures.push(message.clone());
                    ("—".into(), "—".into(), "—".into(), "—".into())
                }
            };
            let efficient = if e.efficient { "yes" } else { "" };
            vec![
                e.name.into(),
                e.family.into(),
                e.kind.label().into(),
                efficient.into(),
                input,
                params,
                macs,
                flops,
                train,
            ]
        })
        .collect();
    table.write(out, &lines)?;
    writeln!(out, "\n{} architectures, {classes} classes. {CONVENTION}", rows.len())?;
    for message in failures {
        writeln!(out, "not at this input: {message}")?;
    }
    Ok(())
}

const CSV_COLUMNS: &[&str] = &[
    "arch",
    "family",
    "kind",
    "efficient",
    "from_timm",
    "paper",
    "input",
    "classes",
    "params",
    "macs",
    "flops",
    "train_flops_per_sample",
    "error",
];

/// The CSV's cells: figures empty and the error given when the architecture cannot take the input.
fn cells(row: &ArchRow) -> Vec<Cell> {
    let e = row.entry;
    let (params, macs, flops, train, error) = match &row.cost {
        Ok(c) => (Some(c.params), Some(c.macs), Some(c.flops()), Some(c.train_flops()), String::new()),
        Err(m) => (None, None, None, None, m.clone()),
    };
    let count = |n: Option<u64>| n.map_or(Cell::MaybeText(None), Cell::Count);
    vec![
        Cell::Text(e.name.into()),
        Cell::Text(e.family.into()),
        Cell::Text(e.kind.label().into()),
        Cell::Flag(e.efficient),
        Cell::Flag(e.from_timm),
        Cell::Text(e.paper.into()),
        Cell::Text(format!("{}x{}x{}", row.spec.in_chans, row.spec.height, row.spec.width)),
        Cell::Count(row.spec.classes as u64),
        count(params),
        count(macs),
        count(flops),
        count(train),
        Cell::Text(error),
    ]
}

pub fn print_csv(out: &mut impl Write, input: Option<(usize, usize, usize)>, classes: usize) -> Result<()> {
    output::write_csv(out, CSV_COLUMNS, rows(input, classes).iter().map(cells))
}

/// The JSON's keys: the input as `[C, H, W]`, the counting convention named, and either the figures
/// or the error.
const JSON_KEYS: &[&str] = &[
    "arch",
    "family",
    "kind",
    "efficient",
    "from_timm",
    "paper",
    "input",
    "classes",
    "convention",
    "params",
    "macs",
    "flops",
    "train_flops_per_sample",
    "error",
];

pub fn print_json(out: &mut impl Write, input: Option<(usize, usize, usize)>, classes: usize) -> Result<()> {
    let objects = rows(input, classes).into_iter().map(|row| {
        let e = row.entry;
        let (figures, error) = match &row.cost {
            Ok(c) => (Some([c.params, c.macs, c.flops(), c.train_flops()]), None),
            Err(m) => (None, Some(Cell::Text(m.clone()))),
        };
        let mut cells = vec![
            Some(Cell::Text(e.name.into())),
            Some(Cell::Text(e.family.into())),
            Some(Cell::Text(e.kind.label().into())),
            Some(Cell::Flag(e.efficient)),
            Some(Cell::Flag(e.from_timm)),
            Some(Cell::Text(e.paper.into())),
            Some(Cell::Both {
                csv: String::new(),
                json: serde_json::json!([row.spec.in_chans, row.spec.height, row.spec.width]),
            }),
            Some(Cell::Count(row.spec.classes as u64)),
            Some(Cell::Text("fvcore".into())),
        ];
        cells.extend((0..4).map(|i| figures.map(|f| Cell::Count(f[i]))));
        cells.push(error);
        cells
    });
    output::write_json_sparse(out, JSON_KEYS, objects)
}

pub fn print_breakdown(
    out: &mut impl Write,
    name: &str,
    input: Option<(usize, usize, usize)>,
    classes: usize,
) -> Result<()> {
    let entry = find(name).ok_or_else(|| {
        // The nearest names when there are some, else the whole catalog.
        if crate::suggest::closest(name, names(), 3).is_empty() {
            anyhow!("no architecture named {name:?}; the catalog has: {}", names().join(", "))
        } else {
            anyhow!(super::unknown_architecture(name))
        }
    })?;
    let (c, h, w) = input.unwrap_or((3, entry.default_size, entry.default_size));
    let spec = Spec { in_chans: c, classes, height: h, width: w };
    let graph = entry.graph(&spec)?;
    let params = module_params(&graph);
    let layers = breakdown(&graph);
    let total: u64 = layers.iter().map(|l| l.macs).sum();
    let origin = if entry.from_timm { "timm" } else { "pepr's own, not timm" };
    writeln!(
        out,
        "{} ({origin}; family {}, {}) at {c}x{h}x{w}, {classes} classes",
        entry.name,
        entry.family,
        entry.kind.label()
    )?;
    writeln!(out, "paper: {}", entry.paper)?;
    writeln!(out, "params: {params} (counted from the burn module)")?;
    writeln!(
        out,
        "MACs: {total} ({}); FLOPs: {} forward per sample; training ≈ {} FLOPs per sample (3 x forward, estimated)",
        giga(total),
        giga(2 * total),
        giga(6 * total)
    )?;
    writeln!(out, "{CONVENTION}\n")?;
    let width = layers.iter().map(|l| l.name.len()).max().unwrap_or(4).max(5);
    writeln!(out, "{:<width$}  {:<20} {:>16} {:>10} {:>14} {:>6}", "layer", "op", "output", "params", "MACs", "share")?;
    for layer in &layers {
        let share = if total > 0 { 100.0 * layer.macs as f64 / total as f64 } else { 0.0 };
        writeln!(
            out,
            "{:<width$}  {:<20} {:>16} {:>10} {:>14} {:>5.1}%",
            layer.name,
            layer.kind,
            layer.output.to_string(),
            layer.params,
            layer.macs,
            share
        )?;
    }
    Ok(())
}
