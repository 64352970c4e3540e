//! What a grid is made of, as a file: `grids/NAME.json` in pepr's home (written to a temporary file
//! and renamed, so a crash never leaves half a spec). `pepr grid --resume NAME` and Slurm array
//! tasks read it back.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::home::Home;
use crate::meter::backend::Backend;
use crate::results::groups::{DEFAULT_TEMPLATE, apply_template, check_group_name, check_template};
use crate::train::{Metric, TrainConfig};

/// The spec file format this build writes and reads.
pub const SPEC_VERSION: u32 = 1;

/// Where a cell's weights start from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Start {
    Scratch,
    /// A weights source, passed unchanged as `TrainConfig::pretrained` (resolved by fine-tuning).
    Pretrained(String),
}

impl Start {
    pub fn parse(text: &str) -> Start {
        match text.trim() {
            "scratch" | "none" | "" => Start::Scratch,
            source => Start::Pretrained(source.to_string()),
        }
    }

    pub fn source(&self) -> Option<&str> {
        match self {
            Start::Scratch => None,
            Start::Pretrained(source) => Some(source),
        }
    }

    pub fn label(&self) -> &str {
        self.source().unwrap_or("scratch")
    }
}

impl From<String> for Start {
    fn from(text: String) -> Start {
        Start::parse(&text)
    }
}

impl From<Start> for String {
    fn from(start: Start) -> String {
        start.label().to_string()
    }
}

/// The training settings every cell shares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// `accuracy`, `balanced-accuracy` or `auc`.
    pub metric: String,
    /// `cpu` or `cuda`.
    pub backend: String,
    /// Pretrained cells train only the classifier head.
    pub freeze_backbone: bool,
    /// CPU threads per cell; absent: every core (a Slurm task: the cores Slurm gave it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs: TrainConfig::DEFAULT_EPOCHS,
            batch_size: TrainConfig::DEFAULT_BATCH_SIZE,
            lr: TrainConfig::DEFAULT_LR,
            metric: Metric::Accuracy.key().into(),
            backend: "cpu".into(),
            freeze_backbone: false,
            threads: None,
        }
    }
}

impl TrainSettings {
    pub fn metric(&self) -> Option<Metric> {
        Metric::parse(&self.metric)
    }

    pub fn backend(&self) -> Option<Backend> {
        match self.backend.trim().to_ascii_lowercase().as_str() {
            "cpu" => Some(Backend::Cpu),
            "cuda" => Some(Backend::Cuda),
            _ => None,
        }
    }
}

/// An experiment grid: every architecture x dataset x start x fraction x seed is one cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    pub version: u32,
    pub name: String,
    pub archs: Vec<String>,
    pub datasets: Vec<String>,
    pub starts: Vec<Start>,
    pub fractions: Vec<f64>,
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub train: TrainSettings,
    /// How group names are made (default `{dataset}{pt}{fraction}`; see `crate::results::groups::PLACEHOLDERS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_template: Option<String>,
    /// Renames of templated group names (`derma_pt_small` -> `derma_small`).
    #[serde(default)]
    pub group_names: BTreeMap<String, String>,
}

impl GridSpec {
    /// A spec with the given axes and default settings; the name is derived from the content
    /// (see [`GridSpec::derived_name`]) until set.
    pub fn new(archs: Vec<String>, datasets: Vec<String>) -> GridSpec {
        let mut spec = GridSpec {
            version: SPEC_VERSION,
            name: String::new(),
            archs,
            datasets,
            starts: vec![Start::Scratch],
            fractions: vec![1.0],
            seeds: vec![0],
            train: TrainSettings::default(),
            group_template: None,
            group_names: BTreeMap::new(),
        };
        spec.name = spec.derived_name();
        spec
    }

    /// `grid-` and 8 hex digits of a hash of everything but the name: the same arguments give the
    /// same name, so rerunning a command resumes its grid.
    pub fn derived_name(&self) -> String {
        let unnamed = GridSpec { name: String::new(), ..self.clone() };
        let json = serde_json::to_string(&unnamed).unwrap_or_default();
        let digest = Sha256::digest(json.as_bytes());
        let hex = crate::files::hex(&digest[..4]);
        format!("grid-{hex}")
    }

    /// The group names the grid's cells would get before renames, in first-seen order.
    pub fn default_groups(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut groups = Vec::new();
        for dataset in &self.datasets {
            for start in &self.starts {
                for &fraction in &self.fractions {
                    let group = self.templated_group(dataset, start.source().is_some(), fraction);
                    if seen.insert(group.clone()) {
                        groups.push(group);
                    }
                }
            }
        }
        groups
    }

    /// A cell's group under the spec's template, before renames.
    pub fn templated_group(&self, dataset: &str, pretrained: bool, fraction: f64) -> String {
        apply_template(self.group_template.as_deref().unwrap_or(DEFAULT_TEMPLATE), dataset, pretrained, fraction)
    }

    /// The group a default name becomes after the spec's renames.
    pub fn group_name(&self, default: &str) -> String {
        self.group_names.get(default).cloned().unwrap_or_else(|| default.to_string())
    }

    /// Checks everything but whether the datasets exist (that depends on the machine); the error
    /// names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != SPEC_VERSION {
            return Err(format!(
                "field `version`: {} is not supported (this build reads {SPEC_VERSION})",
                self.version
            ));
        }
        check_name(&self.name).map_err(|e| format!("field `name`: {e}"))?;
        non_empty_unique("archs", &self.archs)?;
        for arch in &self.archs {
            if crate::catalog::find(arch).is_none() {
                return Err(format!("field `archs`: {}", crate::catalog::unknown_architecture(arch)));
            }
        }
        non_empty_unique("datasets", &self.datasets)?;
        non_empty_unique("starts", &self.starts)?;
        if self.starts.iter().filter(|s| s.source().is_some()).count() > 1 {
            return Err("field `starts`: at most one pretrained source per grid (cell ids say only `pt`)".into());
        }
        let fractions: Vec<String> = self.fractions.iter().map(|f| f.to_string()).collect();
        non_empty_unique("fractions", &fractions)?;
        if let Some(f) = self.fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
            return Err(format!("field `fractions`: {f} is not in (0, 1]"));
        }
        non_empty_unique("seeds", &self.seeds)?;
        let t = &self.train;
        if t.epochs == 0 {
            return Err("field `train.epochs`: must be at least 1".into());
        }
        if t.batch_size == 0 {
            return Err("field `train.batch_size`: must be at least 1".into());
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(format!("field `train.lr`: must be a positive number, got {}", t.lr));
        }
        if t.metric().is_none() {
            return Err(format!("field `train.metric`: {:?} is not accuracy, balanced-accuracy or auc", t.metric));
        }
        if t.backend().is_none() {
            return Err(format!("field `train.backend`: {:?} is not cpu or cuda", t.backend));
        }
        if let Some(n) = t.threads
            && !(1..=crate::train::threads::MAX_THREADS).contains(&n)
        {
            return Err(format!(
                "field `train.threads`: must be from 1 to {}, got {n}",
                crate::train::threads::MAX_THREADS
            ));
        }
        if let Some(template) = &self.group_template {
            check_template(template).map_err(|e| format!("field `group_template`: {e}"))?;
        }
        let defaults = self.default_groups();
        for group in &defaults {
            check_group_name(group).map_err(|e| format!("field `group_template`: {e}"))?;
        }
        for (from, to) in &self.group_names {
            if !defaults.contains(from) {
                return Err(format!(
                    "field `group_names`: the grid has no group {from:?} to rename (its groups: {})",
                    defaults.join(", ")
                ));
            }
            check_group_name(to).map_err(|e| format!("field `group_names`: {e}"))?;
        }
        let mut finals = BTreeMap::new();
        for default in &defaults {
            if let Some(other) = finals.insert(self.group_name(default), default) {
                return Err(format!(
                    "field `group_names`: groups {other:?} and {default:?} would both be named {:?}",
                    self.group_name(default)
                ));
            }
        }
        Ok(())
    }

    /// `grids/NAME.json` in the home.
    pub fn path(home: &Home, name: &str) -> PathBuf {
        home.root().join("grids").join(format!("{name}.json"))
    }

    /// Writes the spec to its file: a temporary file in the same folder, fsync'ed, then renamed.
    pub fn save(&self, home: &Home) -> Result<PathBuf> {
        self.validate().map_err(|e| anyhow!("grid {:?}: {e}", self.name))?;
        let path = GridSpec::path(home, &self.name);
        let dir = path.parent().expect("grids folder");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let temp = dir.join(format!(".{}.json.tmp-{}", self.name, std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&temp)?;
            serde_json::to_writer_pretty(&mut file, self)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&temp, &path)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&temp);
            return Err(anyhow!("cannot write {}: {e}", path.display()));
        }
        Ok(path)
    }

    /// Reads the grid saved under `name` in the home.
    pub fn load(home: &Home, name: &str) -> Result<GridSpec> {
        check_name(name).map_err(|e| anyhow!("grid name {name:?}: {e}"))?;
        let path = GridSpec::path(home, name);
        if !path.exists() {
            let saved = saved_names(home);
            return Err(anyhow!(
                "no grid named {name:?} ({} not found); saved grids: {}",
                path.display(),
                if saved.is_empty() { "none".to_string() } else { saved.join(", ") }
            ));
        }
        GridSpec::read(&path)
    }

    /// Reads and checks a spec file; errors name the file and the line or field.
    pub fn read(path: &Path) -> Result<GridSpec> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let spec: GridSpec = serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        spec.validate().map_err(|e| anyhow!("{}: {e}", path.display()))?;
        Ok(spec)
    }
}

/// The grids saved in the home, by name.
pub fn saved_names(home: &Home) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(home.root().join("grids")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// A grid name is a file name: letters, digits, `_`, `-`, `.`; not starting with `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok { Ok(()) } else { Err(format!("{name:?} is not a grid name (letters, digits, _ - . only)")) }
}

fn non_empty_unique<T: PartialEq + std::fmt::Debug>(field: &str, values: &[T]) -> Result<(), String> {
    if values.is_empty() {
        return Err(format!("field `{field}`: must list at least one value"));
    }
    for (i, value) in values.iter().enumerate() {
        if values[..i].contains(value) {
            return Err(format!("field `{field}`: {value:?} is listed twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GridSpec {
        let mut spec = GridSpec::new(vec!["pepr_lenet5".into(), "pepr_resnet8".into()], vec!["synthetic".into()]);
        spec.starts = vec![Start::Scratch, Start::Pretrained("imagenet".into())];
        spec.fractions = vec![1.0, 0.1];
        spec.seeds = vec![0, 1, 2];
        spec.group_names.insert("synthetic_pt_small".into(), "synthetic_small_pt".into());
        spec.name = "paper".into();
        spec
    }

    #[test]
    fn the_spec_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let spec = spec();
        let path = spec.save(&home).unwrap();
        assert_eq!(path, dir.path().join("grids/paper.json"));
        assert_eq!(GridSpec::load(&home, "paper").unwrap(), spec);
        assert_eq!(saved_names(&home), vec!["paper".to_string()]);
        // Nothing temporary is left beside it.
        assert_eq!(std::fs::read_dir(dir.path().join("grids")).unwrap().count(), 1);
    }

    #[test]
    fn a_bad_spec_file_names_the_file_and_line_or_field() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let path = spec().save(&home).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();

        std::fs::write(&path, text.replace("\"seeds\"", "\"seed\"")).unwrap();
        let error = GridSpec::load(&home, "paper").unwrap_err().to_string();
        assert!(
            error.contains("paper.json") && error.contains("unknown field `seed`") && error.contains("line"),
            "{error}"
        );

        std::fs::write(&path, text.replace("0.1", "1.5")).unwrap();
        let error = GridSpec::load(&home, "paper").unwrap_err().to_string();
        assert!(error.contains("paper.json: field `fractions`: 1.5 is not in (0, 1]"), "{error}");

        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let error = GridSpec::load(&home, "paper").unwrap_err().to_string();
        assert!(error.contains("paper.json") && error.contains("EOF"), "{error}");

        let error = GridSpec::load(&home, "nothing").unwrap_err().to_string();
        assert!(error.contains("no grid named \"nothing\"") && error.contains("saved grids: paper"), "{error}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut bad = spec();
        bad.archs.push("resnet999".into());
        assert!(bad.validate().unwrap_err().contains("field `archs`: no architecture named \"resnet999\""));
        let mut bad = spec();
        bad.seeds.push(1);
        assert!(bad.validate().unwrap_err().contains("field `seeds`: 1 is listed twice"));
        let mut bad = spec();
        bad.group_names.insert("derma".into(), "x".into());
        assert!(bad.validate().unwrap_err().contains("no group \"derma\" to rename"));
        let mut bad = spec();
        bad.group_names.insert("synthetic_small".into(), "synthetic".into());
        assert!(bad.validate().unwrap_err().contains("would both be named \"synthetic\""));
        let mut bad = spec();
        bad.starts.push(Start::Pretrained("other".into()));
        assert!(bad.validate().unwrap_err().contains("at most one pretrained source"));
        let mut bad = spec();
        bad.train.metric = "f1".into();
        assert!(bad.validate().unwrap_err().contains("field `train.metric`"));
    }

    #[test]
    fn the_derived_name_follows_the_content() {
        let a = GridSpec::new(vec!["pepr_lenet5".into()], vec!["synthetic".into()]);
        let b = GridSpec::new(vec!["pepr_lenet5".into()], vec!["synthetic".into()]);
        let c = GridSpec::new(vec!["pepr_resnet8".into()], vec!["synthetic".into()]);
        assert_eq!(a.name, b.name);
        assert_ne!(a.name, c.name);
        assert!(a.name.starts_with("grid-") && a.name.len() == 13, "{}", a.name);
    }
}
