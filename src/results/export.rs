//! `pepr export FILE`: every run with its scores, as CSV, Parquet or JSON (chosen by extension).
//!
//! The CSV uses the generic import layout's column names, so an exported file imports back
//! (its derived score columns are ignored on import and the ids make it a no-op on the same store).

use std::path::Path;

use anyhow::{Result, bail};
use polars::prelude::*;

use super::rank::{Ranking, Variant};
use super::record::RunRecord;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
    Json,
}

impl ExportFormat {
    pub fn from_path(path: &Path) -> Result<ExportFormat> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        Ok(match ext.as_str() {
            "csv" => ExportFormat::Csv,
            "parquet" | "pq" => ExportFormat::Parquet,
            "json" => ExportFormat::Json,
            _ => bail!("{}: unknown export format {ext:?}: use .csv, .parquet or .json", path.display()),
        })
    }
}

/// One row per run: the record's fields, then the set, normalised resources, scores, Pareto flags and ranks.
pub fn export_frame(records: &[RunRecord], ranking: &Ranking, format: ExportFormat) -> Result<DataFrame> {
    let runs = &ranking.runs;
    let rec = |i: usize| &records[runs[i].index];
    let n = runs.len();
    let text =
        |f: &dyn Fn(&RunRecord) -> Option<String>| -> Vec<Option<String>> { (0..n).map(|i| f(rec(i))).collect() };
    let float = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> Vec<Option<f64>> { (0..n).map(|i| f(rec(i))).collect() };
    let uint = |f: &dyn Fn(&RunRecord) -> Option<u64>| -> Vec<Option<u64>> { (0..n).map(|i| f(rec(i))).collect() };

    let mut columns = vec![
        Column::new("id".into(), text(&|r| Some(r.id.clone()))),
        Column::new("created_at".into(), text(&|r| Some(r.created_at.to_rfc3339()))),
        Column::new("arch".into(), text(&|r| Some(r.arch.clone()))),
        Column::new("family".into(), text(&|r| r.family.clone())),
        Column::new("kind".into(), text(&|r| Some(r.kind.label().into()))),
        Column::new("efficient".into(), (0..n).map(|i| rec(i).efficient).collect::<Vec<_>>()),
        Column::new("params".into(), uint(&|r| r.params)),
        Column::new("macs".into(), uint(&|r| r.macs)),
        Column::new("dataset".into(), text(&|r| Some(r.dataset.clone()))),
        Column::new("group".into(), text(&|r| Some(r.group.clone()))),
        Column::new("data_fraction".into(), float(&|r| r.data_fraction)),
        Column::new("pretrained".into(), text(&|r| r.pretrained.clone())),
        Column::new("epochs".into(), uint(&|r| r.epochs.map(u64::from))),
        Column::new("batch_size".into(), uint(&|r| r.batch_size.map(u64::from))),
        Column::new("lr".into(), float(&|r| r.lr)),
        Column::new("seed".into(), uint(&|r| r.seed)),
        Column::new("backend".into(), text(&|r| r.backend.clone())),
        Column::new("device".into(), text(&|r| r.device.clone())),
        Column::new("metric".into(), text(&|r| Some(r.metric.clone()))),
    ];
    columns.push(match format {
        // CSV has no list type: the generic layout's `a;b;c`.
        ExportFormat::Csv => Column::new(
            "epoch_perf".into(),
            text(&|r| Some(r.epoch_perf.iter().map(f64::to_string).collect::<Vec<_>>().join(";"))),
        ),
        _ => {
            let lists: Vec<Series> = (0..n).map(|i| Series::new("".into(), rec(i).epoch_perf.clone())).collect();
            Column::new("epoch_perf".into(), lists)
        }
    });
    columns.extend([
        Column::new("P".into(), float(&|r| r.measured_p())),
        Column::new("energy_kwh".into(), float(&|r| r.energy_kwh)),
        Column::new("co2_g".into(), float(&|r| r.co2_g)),
        Column::new("train_time_s".into(), float(&|r| r.train_time_s)),
        Column::new("memory_gb".into(), float(&|r| r.memory_gb)),
        Column::new("memory_kind".into(), text(&|r| r.memory_kind.clone())),
        Column::new("power_source".into(), text(&|r| r.power_source.as_ref().map(|p| p.label()))),
        Column::new("carbon_intensity_g_per_kwh".into(), float(&|r| r.carbon_intensity_g_per_kwh)),
        Column::new("energy_kwh_low".into(), float(&|r| r.measurement.energy_kwh_low)),
        Column::new("energy_kwh_high".into(), float(&|r| r.measurement.energy_kwh_high)),
        Column::new("co2_g_low".into(), float(&|r| r.measurement.co2_g_low)),
        Column::new("co2_g_high".into(), float(&|r| r.measurement.co2_g_high)),
        Column::new("threads".into(), uint(&|r| r.measurement.threads.map(u64::from))),
        Column::new("time_scope".into(), text(&|r| r.measurement.time_scope.map(|t| t.label().replace(' ', "_")))),
        Column::new("energy_scope".into(), text(&|r| r.measurement.energy_scope.clone())),
        Column::new("energy_includes_pue".into(), text(&|r| r.measurement.energy_includes_pue.map(|b| b.to_string()))),
        Column::new("status".into(), text(&|r| Some(r.status.label().into()))),
        Column::new("origin".into(), text(&|r| Some(r.origin.label()))),
        Column::new("set".into(), runs.iter().map(|r| ranking.set_name(r).to_string()).collect::<Vec<_>>()),
    ]);
    for v in Variant::ALL {
        let i = v.index();
        let letter = v.letter().to_ascii_lowercase();
        columns
            .push(Column::new(format!("rn_{letter}").into(), runs.iter().map(|r| r.normalised[i]).collect::<Vec<_>>()));
        columns.push(Column::new(v.score_column().into(), runs.iter().map(|r| r.score[i]).collect::<Vec<_>>()));
        columns.push(Column::new(v.pareto_column().into(), runs.iter().map(|r| r.pareto[i]).collect::<Vec<_>>()));
        columns.push(Column::new(format!("rank_{letter}").into(), runs.iter().map(|r| r.rank[i]).collect::<Vec<_>>()));
    }
    anyhow::Context::context(DataFrame::new_infer_height(columns), "building the export table")
}

/// Writes the export to a temporary file beside `path`, then renames it over `path`, so an
/// interrupted export never leaves a half-written file where a good one was.
pub fn export(records: &[RunRecord], ranking: &Ranking, path: &Path) -> Result<usize> {
    let format = ExportFormat::from_path(path)?;
    let mut frame = export_frame(records, ranking, format)?;
    // polars' writers report their own errors; they travel through io::Error to keep the message.
    let polars = |e: PolarsError| std::io::Error::other(e.to_string());
    crate::files::write_with(path, |file| {
        match format {
            ExportFormat::Csv => CsvWriter::new(file).finish(&mut frame).map_err(polars)?,
            ExportFormat::Parquet => {
                ParquetWriter::new(file).finish(&mut frame).map_err(polars)?;
            }
            ExportFormat::Json => {
                JsonWriter::new(file).with_json_format(JsonFormat::Json).finish(&mut frame).map_err(polars)?
            }
        }
        Ok(())
    })?;
    Ok(frame.height())
}
