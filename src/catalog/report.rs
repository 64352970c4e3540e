//! Printing the catalog for `pepr archs` (table, CSV, JSON) and `pepr archs show NAME`.

use std::io::Write;

use anyhow::{Result, anyhow};
use burn::tensor::Device;

use super::count::breakdown;
use super::listing::{ArchRow, rows};
use super::net::Net;
use super::{Graph, Spec, find, names};
use crate::format::human_count;

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
    writeln!(
        out,
        "{:<24} {:<28} {:<11} {:>3} {:>10} {:>8} {:>8} {:>8} {:>11}",
        "arch", "family", "kind", "eff", "input", "params", "MACs", "FLOPs", "train FLOPs"
    )?;
    let mut failures = Vec::new();
    for row in &rows {
        let e = row.entry;
        let input = format!("{}x{}x{}", row.spec.in_chans, row.spec.height, row.spec.width);
        let (params, macs, flops, train) = match &row.cost {
            Ok(cost) => (human_count(cost.params), giga(cost.macs), giga(cost.flops()), giga(cost.train_flops())),
            Err(message) => {
                failures.push(message.clone());
                ("—".into(), "—".into(), "—".into(), "—".into())
            }
        };
        writeln!(
            out,
            "{:<24} {:<28} {:<11} {:>3} {:>10} {:>8} {:>8} {:>8} {:>11}",
            e.name,
            e.family,
            e.kind.label(),
            if e.efficient { "yes" } else { "" },
            input,
            params,
            macs,
            flops,
            train
        )?;
    }
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

fn cells(row: &ArchRow) -> Vec<String> {
    let e = row.entry;
    let (params, macs, flops, train, error) = match &row.cost {
        Ok(c) => (
            c.params.to_string(),
            c.macs.to_string(),
            c.flops().to_string(),
            c.train_flops().to_string(),
            String::new(),
        ),
        Err(m) => (String::new(), String::new(), String::new(), String::new(), m.clone()),
    };
    vec![
        e.name.into(),
        e.family.into(),
        e.kind.label().into(),
        e.efficient.to_string(),
        e.from_timm.to_string(),
        e.paper.into(),
        format!("{}x{}x{}", row.spec.in_chans, row.spec.height, row.spec.width),
        row.spec.classes.to_string(),
        params,
        macs,
        flops,
        train,
        error,
    ]
}

pub fn print_csv(out: &mut impl Write, input: Option<(usize, usize, usize)>, classes: usize) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_COLUMNS)?;
    for row in rows(input, classes) {
        writer.write_record(cells(&row))?;
    }
    writer.flush()?;
    Ok(())
}

pub fn print_json(out: &mut impl Write, input: Option<(usize, usize, usize)>, classes: usize) -> Result<()> {
    let objects: Vec<serde_json::Value> = rows(input, classes)
        .iter()
        .map(|row| {
            let e = row.entry;
            let mut object = serde_json::json!({
                "arch": e.name,
                "family": e.family,
                "kind": e.kind.label(),
                "efficient": e.efficient,
                "from_timm": e.from_timm,
                "paper": e.paper,
                "input": [row.spec.in_chans, row.spec.height, row.spec.width],
                "classes": row.spec.classes,
                "convention": "fvcore",
            });
            match &row.cost {
                Ok(c) => {
                    object["params"] = c.params.into();
                    object["macs"] = c.macs.into();
                    object["flops"] = c.flops().into();
                    object["train_flops_per_sample"] = c.train_flops().into();
                }
                Err(m) => object["error"] = m.clone().into(),
            }
            object
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &objects)?;
    writeln!(out)?;
    Ok(())
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
