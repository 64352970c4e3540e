//! `pepr import FILE`: reads the paper's published layout or pepr's generic CSV layout.
//!
//! The whole file is parsed and checked before anything is written: a bad row aborts the import
//! with `FILE:LINE:COLUMN` (COLUMN is the 1-based CSV field number) and the store is untouched.
//! Run ids are derived from the row's content (or taken from an `id` column), so importing the
//! same file twice adds nothing the second time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::record::{Origin, PowerSource, RunRecord, RunStatus, SCHEMA_VERSION, validate};
use super::store::{AppendOutcome, RunStore};
use crate::catalog::ModelKind;

/// Which CSV layout a file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// saintslab/PePR's `all_results.csv`.
    Paper,
    /// pepr's own documented layout (also what `pepr export x.csv` writes).
    Generic,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Paper => "paper",
            Layout::Generic => "generic",
        }
    }
}

/// An import failure that points at the offending place in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportError {
    pub file: PathBuf,
    pub line: u64,
    /// 1-based CSV field number, when one field is at fault.
    pub column: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Line 0 means the file as a whole (it could not be opened or read).
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": column `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ImportError {}

/// What an import did.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportSummary {
    pub file: PathBuf,
    pub layout: Layout,
    pub rows: usize,
    pub added: usize,
    pub already_present: usize,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} rows ({} layout): {} added, {} already in the store",
            self.file.display(),
            self.rows,
            self.layout.name(),
            self.added,
            self.already_present
        )
    }
}

/// Columns of the generic layout, with the accepted aliases for P.
pub const GENERIC_COLUMNS: &[&str] = &[
    "id",
    "created_at",
    "arch",
    "family",
    "kind",
    "efficient",
    "params",
    "macs",
    "dataset",
    "group",
    "data_fraction",
    "pretrained",
    "epochs",
    "batch_size",
    "lr",
    "seed",
    "backend",
    "device",
    "metric",
    "epoch_perf",
    "P",
    "energy_kwh",
    "co2_g",
    "train_time_s",
    "memory_gb",
    "memory_kind",
    "power_source",
    "carbon_intensity_g_per_kwh",
    "energy_kwh_low",
    "energy_kwh_high",
    "co2_g_low",
    "co2_g_high",
    "threads",
    "time_scope",
    "energy_scope",
    "energy_includes_pue",
    "status",
];

/// Columns pepr itself derives (scores, ranks, provenance); accepted and ignored on import so an
/// exported CSV imports back.
fn is_derived_column(name: &str) -> bool {
    name == "rank"
        || name == "set"
        || name == "origin"
        || name.starts_with("pepr_")
        || name.starts_with("pareto_")
        || name.starts_with("rank_")
        || name.starts_with("rn_")
}

const PAPER_REQUIRED: &[&str] =
    &["model", "dataset", "test_09", "energy", "co2", "train_time", "memR", "num_param", "type", "efficient"];

/// Parses FILE into records without touching the store.
pub fn read_file(path: &Path, now: DateTime<Utc>) -> Result<(Layout, Vec<RunRecord>), ImportError> {
    read_file_reporting(path, now, &mut |_, _| {})
}

/// [`read_file`], telling `progress` the bytes read so far and the file's size as it reads (the
/// CLI draws a large import's progress from it).
pub fn read_file_reporting(
    path: &Path,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(Layout, Vec<RunRecord>), ImportError> {
    let file_error =
        |message: String| ImportError { file: path.to_path_buf(), line: 0, column: None, field: None, message };
    let file = std::fs::File::open(path).map_err(|e| file_error(format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = csv::ReaderBuilder::new().from_reader(CountingReader { inner: file, read: 0, size, progress });
    let origin_file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string();
    read_csv(reader, path, &origin_file, now)
}

/// Parses CSV text already in memory (the paper's results built into pepr): `label` names it in
/// errors and summaries, `origin` is stored in each record as its source.
pub fn read_text(
    text: &str,
    label: &Path,
    origin: &str,
    now: DateTime<Utc>,
) -> Result<(Layout, Vec<RunRecord>), ImportError> {
    read_csv(csv::ReaderBuilder::new().from_reader(text.as_bytes()), label, origin, now)
}

fn read_csv<R: std::io::Read>(
    mut reader: csv::Reader<R>,
    path: &Path,
    origin_file: &str,
    now: DateTime<Utc>,
) -> Result<(Layout, Vec<RunRecord>), ImportError> {
    let file_error =
        |message: String| ImportError { file: path.to_path_buf(), line: 0, column: None, field: None, message };
    // Spreadsheets may start the file with a byte-order mark.
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let header_error = |message: String| ImportError { line: 1, ..file_error(message) };
    let layout = detect_layout(&headers).map_err(header_error)?;
    let columns = Columns::new(&headers, layout).map_err(|(column, message)| ImportError {
        column: Some(column + 1),
        field: headers.get(column).cloned(),
        ..header_error(message)
    })?;

    let mut records = Vec::new();
    let mut first_line_of_id: HashMap<String, u64> = HashMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| csv_error(path, e))?;
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let cells = Row { path, line, row: &row, columns: &columns };
        let record = match layout {
            Layout::Paper => paper_record(&cells, origin_file, now)?,
            Layout::Generic => generic_record(&cells, origin_file, now)?,
        };
        validate(&record).and_then(|()| check_names(&record)).map_err(|message| ImportError {
            file: path.to_path_buf(),
            line,
            column: None,
            field: None,
            message,
        })?;
        if let Some(first) = first_line_of_id.insert(record.id.clone(), line) {
            return Err(ImportError {
                file: path.to_path_buf(),
                line,
                column: None,
                field: None,
                message: format!("duplicate of the run on line {first} (same id {})", record.id),
            });
        }
        records.push(record);
    }
    Ok((layout, records))
}

/// Names are shown in tables and the TUI: no control characters, at most [`MAX_NAME_CHARS`].
///
/// [`MAX_NAME_CHARS`]: crate::text::MAX_NAME_CHARS
fn check_names(record: &RunRecord) -> Result<(), String> {
    let optional = |v: &Option<String>| v.clone().unwrap_or_default();
    for (field, value) in [
        ("id", record.id.clone()),
        ("arch", record.arch.clone()),
        ("dataset", record.dataset.clone()),
        ("group", record.group.clone()),
        ("metric", record.metric.clone()),
        ("family", optional(&record.family)),
        ("pretrained", optional(&record.pretrained)),
        ("backend", optional(&record.backend)),
        ("device", optional(&record.device)),
        ("memory_kind", optional(&record.memory_kind)),
    ] {
        crate::text::check_name(field, &value)?;
    }
    Ok(())
}

/// Counts the bytes read through it for a progress callback.
struct CountingReader<'a, R> {
    inner: R,
    read: u64,
    size: u64,
    progress: &'a mut dyn FnMut(u64, u64),
}

impl<R: std::io::Read> std::io::Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.progress)(self.read, self.size);
        Ok(n)
    }
}

/// Parses FILE and appends its new runs to the store in one locked write.
pub fn import_file(store: &RunStore, path: &Path) -> anyhow::Result<ImportSummary> {
    import_file_reporting(store, path, &mut |_, _| {})
}

/// [`import_file`], with the reading's progress (bytes read, file size) told to `progress`.
pub fn import_file_reporting(
    store: &RunStore,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<ImportSummary> {
    let (layout, records) = read_file_reporting(path, Utc::now(), progress)?;
    let AppendOutcome { added, already_present } = store.append_new(&records)?;
    Ok(ImportSummary { file: path.to_path_buf(), layout, rows: records.len(), added, already_present })
}

fn csv_error(path: &Path, error: csv::Error) -> ImportError {
    let line = error.position().map(|p| p.line()).unwrap_or(0);
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("not valid UTF-8 in field {}", err.field() + 1),
        _ => error.to_string(),
    };
    ImportError { file: path.to_path_buf(), line, column: None, field: None, message }
}

fn detect_layout(headers: &[String]) -> Result<Layout, String> {
    let has = |name: &str| headers.iter().any(|h| h == name);
    if has("model") && has("test_09") && has("dataset") {
        return Ok(Layout::Paper);
    }
    if has("arch") {
        return Ok(Layout::Generic);
    }
    Err(format!(
        "unrecognised layout: expected the paper's columns ({}) or pepr's generic columns (at least arch, group, P)",
        PAPER_REQUIRED.join(", ")
    ))
}

/// Header name -> field index, checked against the layout.
struct Columns {
    index: HashMap<String, usize>,
}

impl Columns {
    fn new(headers: &[String], layout: Layout) -> Result<Columns, (usize, String)> {
        let mut index = HashMap::new();
        for (i, name) in headers.iter().enumerate() {
            let name = match (layout, name.as_str()) {
                (Layout::Generic, "performance") => "P".to_string(),
                _ => name.clone(),
            };
            if layout == Layout::Generic && !GENERIC_COLUMNS.contains(&name.as_str()) && !is_derived_column(&name) {
                return Err((i, format!("unknown column; the generic layout has: {}", GENERIC_COLUMNS.join(", "))));
            }
            if index.insert(name, i).is_some() {
                return Err((i, "column appears twice in the header".into()));
            }
        }
        let required: &[&str] = match layout {
            Layout::Paper => PAPER_REQUIRED,
            Layout::Generic => &["arch", "group", "P"],
        };
        for name in required {
            if !index.contains_key(*name) {
                return Err((headers.len().saturating_sub(1), format!("missing required column `{name}`")));
            }
        }
        Ok(Columns { index })
    }
}

/// One CSV row with typed, error-reporting accessors.
struct Row<'a> {
    path: &'a Path,
    line: u64,
    row: &'a csv::StringRecord,
    columns: &'a Columns,
}

impl Row<'_> {
    fn error(&self, name: &str, message: String) -> ImportError {
        ImportError {
            file: self.path.to_path_buf(),
            line: self.line,
            column: self.columns.index.get(name).map(|i| i + 1),
            field: Some(name.to_string()),
            message,
        }
    }

    /// The trimmed cell, or `None` when the column is absent or the cell is empty.
    fn text(&self, name: &str) -> Option<&str> {
        let i = *self.columns.index.get(name)?;
        // "NA" is R's missing value; "nan" is not missing but a failed measurement, refused by `number`.
        self.row.get(i).map(str::trim).filter(|s| !s.is_empty() && *s != "NA")
    }

    fn required_text(&self, name: &str) -> Result<&str, ImportError> {
        self.text(name).ok_or_else(|| self.error(name, "empty, but required".into()))
    }

    fn parse<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, ImportError> {
        match self.text(name) {
            None => Ok(None),
            Some(text) => {
                text.parse::<T>().map(Some).map_err(|_| self.error(name, format!("expected {what}, found {text:?}")))
            }
        }
    }

    fn number(&self, name: &str) -> Result<Option<f64>, ImportError> {
        let value = self.parse::<f64>(name, "a number")?;
        match value {
            Some(v) if !v.is_finite() => Err(self.error(name, format!("expected a finite number, found {v}"))),
            _ => Ok(value),
        }
    }

    fn resource(&self, name: &str) -> Result<Option<f64>, ImportError> {
        match self.number(name)? {
            Some(v) if v < 0.0 => Err(self.error(name, format!("must not be negative, found {v}"))),
            other => Ok(other),
        }
    }

    fn unit(&self, name: &str) -> Result<Option<f64>, ImportError> {
        match self.number(name)? {
            Some(v) if !(0.0..=1.0).contains(&v) => Err(self.error(name, format!("must be in [0, 1], found {v}"))),
            other => Ok(other),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<u64>, ImportError> {
        // Accept "1.0e6"-style integers that spreadsheets write, but not fractions.
        match self.number(name)? {
            None => Ok(None),
            Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= u64::MAX as f64 => Ok(Some(v as u64)),
            Some(v) => Err(self.error(name, format!("expected a whole number >= 0, found {v}"))),
        }
    }

    fn small_integer(&self, name: &str) -> Result<Option<u32>, ImportError> {
        match self.integer(name)? {
            None => Ok(None),
            Some(v) => u32::try_from(v).map(Some).map_err(|_| self.error(name, format!("too large: {v}"))),
        }
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, ImportError> {
        match self.text(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("1" | "true" | "yes" | "y") => Ok(Some(true)),
            Some("0" | "false" | "no" | "n") => Ok(Some(false)),
            Some(other) => Err(self.error(name, format!("expected 1/0/true/false, found {other:?}"))),
        }
    }

    /// A content hash of the row, so re-importing the same row yields the same id.
    fn content_id(&self, layout: Layout) -> String {
        let mut hasher = Sha256::new();
        hasher.update(layout.name().as_bytes());
        let mut names: Vec<(&String, &usize)> = self.columns.index.iter().collect();
        names.sort();
        for (name, &i) in names {
            hasher.update([0x1e]);
            hasher.update(name.as_bytes());
            hasher.update([0x1f]);
            hasher.update(self.row.get(i).unwrap_or("").trim().as_bytes());
        }
        let digest = hasher.finalize();
        let hex = crate::files::hex(&digest[..8]);
        format!("{}-{hex}", &layout.name()[..1])
    }
}

/// Base dataset of a paper group: `derma_pt`, `derma_small` -> DermaMNIST, and so on.
fn paper_dataset(group: &str) -> String {
    let base = group.split('_').next().unwrap_or(group);
    match base {
        "derma" => "dermamnist".into(),
        "pneumonia" => "pneumoniamnist".into(),
        "lidc" => "lidc-idri".into(),
        other => other.into(),
    }
}

/// The paper's `_small` groups trained on 10% of the training split (see
/// [`crate::results::analysis::PAPER_SMALL_FRACTION`]); its code does not state `_smallest`'s share,
/// and the other groups used the whole split (left empty, which means the whole split).
fn paper_fraction(group: &str) -> Option<f64> {
    (group.ends_with("_small")).then_some(crate::results::analysis::PAPER_SMALL_FRACTION)
}

fn paper_record(row: &Row, origin_file: &str, now: DateTime<Utc>) -> Result<RunRecord, ImportError> {
    let group = row.required_text("dataset")?.to_string();
    let mut epoch_perf = Vec::new();
    for epoch in 0..100 {
        let name = format!("test_{epoch:02}");
        if !row.columns.index.contains_key(&name) {
            break;
        }
        epoch_perf.push(row.unit(&name)?.ok_or_else(|| row.error(&name, "empty, but required".into()))?);
    }
    let kind_text = row.required_text("type")?;
    let kind = ModelKind::parse(kind_text).ok_or_else(|| row.error("type", format!("unknown type {kind_text:?}")))?;
    let energy = row.resource("energy")?;
    let co2 = row.resource("co2")?;
    Ok(RunRecord {
        schema: SCHEMA_VERSION,
        id: row.content_id(Layout::Paper),
        created_at: now,
        arch: row.required_text("model")?.to_string(),
        family: None,
        kind,
        efficient: row.flag("efficient")?,
        params: row.integer("num_param")?,
        macs: None,
        dataset: paper_dataset(&group),
        pretrained: group.ends_with("_pt").then(|| "ImageNet (timm)".to_string()),
        data_fraction: paper_fraction(&group),
        group,
        epochs: Some(epoch_perf.len() as u32),
        batch_size: None,
        lr: None,
        seed: None,
        backend: None,
        device: None,
        metric: "test accuracy".into(),
        performance: row.unit("test_09")?.ok_or_else(|| row.error("test_09", "empty, but required".into()))?,
        epoch_perf,
        energy_kwh: energy,
        co2_g: co2,
        train_time_s: row.resource("train_time")?,
        memory_gb: row.resource("memR")?,
        memory_kind: Some("GPU memory reserved after epoch 2 (torch memory_reserved, memR)".into()),
        power_source: Some(PowerSource { measured: true, by: "carbontracker, as published".into() }),
        // The file has no intensity column; energy and CO2 imply the one carbontracker used.
        carbon_intensity_g_per_kwh: match (energy, co2) {
            (Some(e), Some(c)) if e > 0.0 => Some(c / e),
            _ => None,
        },
        meters: None,
        prediction: None,
        estimate: None,
        frozen_backbone: None,
        grid_cell: None,
        node: None,
        slurm: None,
        checkpoint_error: None,
        reason: None,
        epochs_requested: None,
        status: RunStatus::Completed,
        origin: Origin::Imported { file: origin_file.into(), line: row.line, layout: Layout::Paper.name().into() },
        // The paper's conventions: train_medmnist.py resets its timer every epoch (last-epoch
        // time), carbontracker's energy (GPU + CPU) is multiplied by its PUE of 1.58.
        measurement: crate::results::record::Measurement {
            time_scope: Some(crate::results::record::TimeScope::LastEpoch),
            energy_scope: Some(crate::results::record::ENERGY_SCOPE_CARBONTRACKER.into()),
            energy_includes_pue: Some(true),
            ..Default::default()
        },
    })
}

fn generic_record(row: &Row, origin_file: &str, now: DateTime<Utc>) -> Result<RunRecord, ImportError> {
    let group = row.required_text("group")?.to_string();
    let performance = row.unit("P")?.ok_or_else(|| row.error("P", "empty, but required".into()))?;
    let epoch_perf = match row.text("epoch_perf") {
        None => vec![],
        Some(text) => text
            .split(';')
            .map(|part| {
                let v: f64 = part.trim().parse().map_err(|_| {
                    row.error("epoch_perf", format!("expected numbers separated by ';', found {part:?}"))
                })?;
                if (0.0..=1.0).contains(&v) {
                    Ok(v)
                } else {
                    Err(row.error("epoch_perf", format!("must be in [0, 1], found {v}")))
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let kind = match row.text("kind") {
        None => ModelKind::Other,
        Some(text) => ModelKind::parse(text)
            .ok_or_else(|| row.error("kind", format!("expected CNN, Transformer, MLP or Other, found {text:?}")))?,
    };
    let status = match row.text("status") {
        None => RunStatus::Completed,
        Some(text) => RunStatus::parse(text)
            .ok_or_else(|| row.error("status", format!("expected completed, interrupted or failed, found {text:?}")))?,
    };
    let created_at = match row.text("created_at") {
        None => now,
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|e| {
                row.error("created_at", format!("expected an RFC 3339 time such as 2026-01-31T12:00:00Z: {e}"))
            })?
            .with_timezone(&Utc),
    };
    Ok(RunRecord {
        schema: SCHEMA_VERSION,
        id: row.text("id").map(str::to_string).unwrap_or_else(|| row.content_id(Layout::Generic)),
        created_at,
        arch: row.required_text("arch")?.to_string(),
        family: row.text("family").map(str::to_string),
        kind,
        efficient: row.flag("efficient")?,
        params: row.integer("params")?,
        macs: row.integer("macs")?,
        dataset: row.text("dataset").unwrap_or(&group).to_string(),
        group,
        data_fraction: row.unit("data_fraction")?,
        pretrained: row.text("pretrained").filter(|p| !p.eq_ignore_ascii_case("none")).map(str::to_string),
        epochs: row.small_integer("epochs")?,
        batch_size: row.small_integer("batch_size")?,
        lr: row.resource("lr")?,
        seed: row.integer("seed")?,
        backend: row.text("backend").map(str::to_string),
        device: row.text("device").map(str::to_string),
        metric: row.text("metric").unwrap_or("test accuracy").to_string(),
        epoch_perf,
        performance,
        energy_kwh: row.resource("energy_kwh")?,
        co2_g: row.resource("co2_g")?,
        train_time_s: row.resource("train_time_s")?,
        memory_gb: row.resource("memory_gb")?,
        memory_kind: row.text("memory_kind").map(str::to_string),
        power_source: row.text("power_source").and_then(PowerSource::parse),
        carbon_intensity_g_per_kwh: row.resource("carbon_intensity_g_per_kwh")?,
        meters: None,
        prediction: None,
        estimate: None,
        frozen_backbone: None,
        grid_cell: None,
        node: None,
        slurm: None,
        checkpoint_error: None,
        reason: None,
        epochs_requested: None,
        status,
        origin: Origin::Imported { file: origin_file.into(), line: row.line, layout: Layout::Generic.name().into() },
        // Optional columns, as `pepr export` writes them.
        measurement: crate::results::record::Measurement {
            energy_kwh_low: row.resource("energy_kwh_low")?,
            energy_kwh_high: row.resource("energy_kwh_high")?,
            co2_g_low: row.resource("co2_g_low")?,
            co2_g_high: row.resource("co2_g_high")?,
            threads: row.small_integer("threads")?,
            time_scope: match row.text("time_scope") {
                None => None,
                Some("whole_run") => Some(crate::results::record::TimeScope::WholeRun),
                Some("last_epoch") => Some(crate::results::record::TimeScope::LastEpoch),
                Some(other) => {
                    return Err(row.error("time_scope", format!("expected whole_run or last_epoch, found {other:?}")));
                }
            },
            energy_scope: row.text("energy_scope").map(str::to_string),
            energy_includes_pue: row.flag("energy_includes_pue")?,
            ..Default::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const PAPER_HEADER: &str = "\"model\",\"num_param\",\"memT\",\"memR\",\"energy\",\"co2\",\"train_time\",\"test_00\",\"test_01\",\"test_09\",\"type\",\"efficient\",\"dataset\"";

    #[test]
    fn reads_the_paper_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "p.csv",
            &format!(
                "{PAPER_HEADER}\n\"resnet18\",11000000,25.4,2.5,0.02,1.56,11.5,0.5,0.6,0.7,\"CNN\",0,\"derma_pt\"\n"
            ),
        );
        let (layout, records) = read_file(&path, Utc::now()).unwrap();
        assert_eq!(layout, Layout::Paper);
        let r = &records[0];
        assert_eq!((r.arch.as_str(), r.group.as_str(), r.dataset.as_str()), ("resnet18", "derma_pt", "dermamnist"));
        assert_eq!(r.performance, 0.7);
        assert_eq!(r.epoch_perf, vec![0.5, 0.6]);
        assert_eq!(r.pretrained.as_deref(), Some("ImageNet (timm)"));
        assert_eq!(r.memory_gb, Some(2.5));
        assert!((r.carbon_intensity_g_per_kwh.unwrap() - 78.0).abs() < 1e-9);
        assert_eq!(
            r.origin,
            Origin::Imported {
                file: std::fs::canonicalize(&path).unwrap().display().to_string(),
                line: 2,
                layout: "paper".into()
            }
        );
    }

    #[test]
    fn paper_small_groups_get_the_fraction_the_papers_code_states() {
        let dir = tempfile::tempdir().unwrap();
        let row =
            |group: &str| format!("\"resnet18\",11000000,25.4,2.5,0.02,1.56,11.5,0.5,0.6,0.7,\"CNN\",0,\"{group}\"\n");
        let body = ["derma", "derma_small", "derma_smallest"].map(row).concat();
        let path = write(&dir, "p.csv", &format!("{PAPER_HEADER}\n{body}"));
        let (_, records) = read_file(&path, Utc::now()).unwrap();
        let fractions: Vec<Option<f64>> = records.iter().map(|r| r.data_fraction).collect();
        assert_eq!(fractions, [None, Some(0.1), None]);
    }

    #[test]
    fn bad_cell_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "p.csv",
            &format!(
                "{PAPER_HEADER}\n\"a\",1,1,1,0.1,1,1,0.5,0.5,0.5,\"CNN\",0,\"g\"\n\"b\",1,1,1,lots,1,1,0.5,0.5,0.5,\"CNN\",0,\"g\"\n"
            ),
        );
        let err = read_file(&path, Utc::now()).unwrap_err();
        assert_eq!((err.line, err.column, err.field.as_deref()), (3, Some(5), Some("energy")));
        assert_eq!(
            err.to_string(),
            format!("{}:3:5: column `energy`: expected a number, found \"lots\"", path.display())
        );
    }

    #[test]
    fn generic_layout_with_missing_resources_and_exported_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "g.csv",
            "arch,group,P,energy_kwh,epoch_perf,pepr_e,rank\nlenet,mnist,0.9,,0.5;0.9,0.9,1\nvgg,mnist,0.95,0.2,,0.5,2\n",
        );
        let (layout, records) = read_file(&path, Utc::now()).unwrap();
        assert_eq!(layout, Layout::Generic);
        assert_eq!(records[0].energy_kwh, None);
        assert_eq!(records[0].epoch_perf, vec![0.5, 0.9]);
        assert_eq!(records[1].energy_kwh, Some(0.2));
        assert_eq!(records[1].dataset, "mnist");
        assert_ne!(records[0].id, records[1].id);
        let (_, again) = read_file(&path, Utc::now()).unwrap();
        assert_eq!(records[0].id, again[0].id, "ids are stable across imports");
    }

    #[test]
    fn generic_layout_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("arch,group,P,energy\nx,g,0.5,1\n", "1:4: column `energy`: unknown column"),
            ("arch,group\nx,g\n", "missing required column `P`"),
            ("arch,group,P\nx,g,1.5\n", "2:3: column `P`: must be in [0, 1], found 1.5"),
            ("arch,group,P\nx,g,0.5,7\n", "2: row has 4 fields, the header has 3"),
            ("arch,group,P,kind\nx,g,0.5,rnn\n", "2:4: column `kind`: expected CNN"),
            ("arch,group,P\nx,g,0.5\nx,g,0.5\n", "3: duplicate of the run on line 2"),
            ("name,score\nx,1\n", "1: unrecognised layout"),
            ("arch,group,P\nx\u{1b}[2J\u{1b}]0;t\u{7},g,0.5\n", "2: arch holds the control character \\u{1b}"),
            ("arch,group,P\nx,\"two\nlines\",0.5\n", "dataset holds the control character \\n"),
            ("arch,group,P,energy_kwh\nx,g,0.5,nan\n", "2:4: column `energy_kwh`: expected a finite number, found NaN"),
            ("arch,group,P,data_fraction\nx,g,0.5,0\n", "2: data_fraction must be above 0"),
        ];
        for (text, expected) in cases {
            let path = write(&dir, "bad.csv", text);
            let err = read_file(&path, Utc::now()).unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} should contain {expected:?}");
            assert!(err.starts_with(&path.display().to_string()));
        }
    }

    #[test]
    fn a_huge_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "huge.csv", &format!("arch,group,P\n{},g,0.5\n", "x".repeat(1_000_000)));
        let err = read_file(&path, Utc::now()).unwrap_err().to_string();
        assert!(err.contains(":2: arch is 1000000 characters long; at most 200"), "{err}");
    }

    #[test]
    fn byte_order_mark_and_unreadable_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "bom.csv", "\u{feff}arch,group,P\nx,g,0.5\n");
        assert_eq!(read_file(&path, Utc::now()).unwrap().1.len(), 1);
        let err = read_file(dir.path(), Utc::now()).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: ", dir.path().display())), "{err}");
    }

    #[test]
    fn importing_twice_adds_nothing_and_a_bad_file_imports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::new(dir.path().join("runs.jsonl"));
        let good = write(&dir, "good.csv", "arch,group,P\na,g,0.5\nb,g,0.6\n");
        assert_eq!(import_file(&store, &good).unwrap().added, 2);
        let again = import_file(&store, &good).unwrap();
        assert_eq!((again.added, again.already_present), (0, 2));
        let bad = write(&dir, "bad.csv", "arch,group,P\nc,g,0.5\nd,g,oops\n");
        assert!(import_file(&store, &bad).is_err());
        assert_eq!(store.load().unwrap().records.len(), 2);
    }
}
