//! Imported weights in the home: `weights/<arch>/<name>/weights.safetensors` (timm's key names,
//! float32, only the tensors the catalog model uses) beside `meta.json`. An import is written into a
//! temporary folder and renamed into place, so a crash never leaves a half-written entry.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::load::{Report, prepare};
use super::tensors::{StateDict, read_file, read_safetensors, write_safetensors};
use super::{imagenet_classes, spec_of, to_timm_names};
use crate::catalog::{self, Spec};
use crate::home::Home;

pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const META_FILE: &str = "meta.json";

/// How images are scaled before the network sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Normalisation {
    /// timm's ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) on [0, 1] pixels.
    Imagenet,
    /// (x - 0.5) / 0.5 on [0, 1] pixels, i.e. [-1, 1]: pepr's own training pipeline, and the
    /// TensorFlow EfficientNet-Lite checkpoints' (x - 127) / 128.
    Symmetric,
}

impl Normalisation {
    /// Per-channel (mean, std) on [0, 1] pixels, for channel `c`.
    pub fn mean_std(self, c: usize) -> (f32, f32) {
        match self {
            Normalisation::Imagenet => ([0.485, 0.456, 0.406][c % 3], [0.229, 0.224, 0.225][c % 3]),
            Normalisation::Symmetric => (0.5, 0.5),
        }
    }
}

/// What an imported weights entry holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightsMeta {
    pub name: String,
    pub arch: String,
    /// The file it was imported from, as given.
    pub source_file: String,
    /// SHA-256 of that file, hex.
    pub sha256: String,
    /// The key naming the file used (`timm` or `efficientnet_pytorch`).
    pub naming: String,
    pub in_chans: usize,
    pub classes: usize,
    /// The input size the checkpoint's family was trained at (the catalog's default for it).
    pub input_size: usize,
    pub normalisation: Normalisation,
    /// Class names in index order, when known (ImageNet's for a 1000-class head).
    pub class_names: Option<Vec<String>>,
    pub imported_at: DateTime<Utc>,
}

/// `<home>/weights`.
pub fn weights_dir(home: &Home) -> PathBuf {
    home.root().join("weights")
}

pub fn entry_dir(home: &Home, arch: &str, name: &str) -> PathBuf {
    weights_dir(home).join(arch).join(name)
}

/// Names are folder names and must not look like a run (`run:ID`) or a path.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        bail!("weights name {name:?}: use letters, digits, '_', '-' and '.', not starting with '.'");
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::files::hex(&hasher.finalize()))
}

/// The normalisation a checkpoint expects unless told: timm's ImageNet statistics, except for
/// EfficientNet-Lite weights in efficientnet_pytorch naming, which are converted TensorFlow Lite
/// checkpoints trained on (x - 127) / 128.
pub fn default_normalisation(arch: &str, naming: super::Naming) -> Normalisation {
    if naming == super::Naming::EfficientnetPytorch && arch.contains("lite") {
        Normalisation::Symmetric
    } else {
        Normalisation::Imagenet
    }
}

/// Reads, checks and stores a checkpoint file as weights `name` (default: the file's stem) of `arch`.
pub fn import(
    home: &Home,
    file: &Path,
    arch: &str,
    name: Option<&str>,
    normalisation: Option<Normalisation>,
) -> Result<(WeightsMeta, Report)> {
    let entry = catalog::find(arch).ok_or_else(|| anyhow!(crate::catalog::unknown_architecture(arch)))?;
    let name = match name {
        Some(n) => n.to_string(),
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("weights")
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "_"),
    };
    check_name(&name)?;
    let dir = entry_dir(home, arch, &name);
    if dir.exists() {
        bail!("weights {name:?} for {arch} already exist in {}: pick another --name", dir.display());
    }
    let (state, naming) = to_timm_names(entry, read_file(file)?)?;
    let (in_chans, classes) = spec_of(entry, &state).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let spec = Spec::new(in_chans, classes, entry.default_size);
    let graph = entry.graph(&spec).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let (checked, report) =
        prepare(&graph, &state).map_err(|e| anyhow!("{} as {arch} ({} naming): {e}", file.display(), naming.name()))?;
    let meta = WeightsMeta {
        name: name.clone(),
        arch: arch.to_string(),
        source_file: file.display().to_string(),
        sha256: sha256_file(file)?,
        naming: naming.name().to_string(),
        in_chans,
        classes,
        input_size: entry.default_size,
        normalisation: normalisation.unwrap_or_else(|| default_normalisation(arch, naming)),
        class_names: (classes == 1000).then(imagenet_classes),
        imported_at: Utc::now(),
    };
    let parent = dir.parent().expect("inside weights/<arch>");
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    // A uniquely named folder beside the target, deleted on drop unless renamed into place.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}{}", crate::files::TEMP_MARK))
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a folder in {}", parent.display()))?;
    let tmp = staging.path().to_path_buf();
    let written = (|| -> Result<()> {
        write_safetensors(&tmp.join(WEIGHTS_FILE), &checked)?;
        let meta_path = tmp.join(META_FILE);
        std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)? + "\n")
            .with_context(|| format!("cannot write {}", meta_path.display()))?;
        std::fs::rename(&tmp, &dir).with_context(|| format!("cannot rename {} to {}", tmp.display(), dir.display()))?;
        crate::files::sync_dir(parent);
        Ok(())
    })();
    // Renamed: nothing left to delete; failed: the drop deletes the staging folder.
    if written.is_ok() {
        let _ = staging.keep();
    }
    written?;
    Ok((meta, report))
}

fn read_meta(dir: &Path) -> Result<WeightsMeta> {
    let path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a pepr weights entry", path.display()))
}

/// Every imported weights entry (of `arch`, when given), by architecture then name; entries that
/// cannot be read come back as warnings naming their file.
pub fn list(home: &Home, arch: Option<&str>) -> (Vec<WeightsMeta>, Vec<String>) {
    let mut found = Vec::new();
    let mut warnings = Vec::new();
    let Ok(archs) = std::fs::read_dir(weights_dir(home)) else { return (found, warnings) };
    let mut arch_dirs: Vec<PathBuf> = archs.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    arch_dirs.sort();
    for arch_dir in arch_dirs {
        if arch.is_some_and(|a| arch_dir.file_name().and_then(|n| n.to_str()) != Some(a)) {
            continue;
        }
        let Ok(names) = std::fs::read_dir(&arch_dir) else { continue };
        let mut dirs: Vec<PathBuf> = names
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir() && !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
            .collect();
        dirs.sort();
        for dir in dirs {
            match read_meta(&dir) {
                Ok(meta) => found.push(meta),
                Err(e) => warnings.push(format!("{e:#}")),
            }
        }
    }
    (found, warnings)
}

/// An imported entry's meta and tensors.
pub fn load(home: &Home, arch: &str, name: &str) -> Result<(WeightsMeta, StateDict)> {
    check_name(name)?;
    let dir = entry_dir(home, arch, name);
    if !dir.is_dir() {
        let known: Vec<String> = list(home, Some(arch)).0.into_iter().map(|m| m.name).collect();
        bail!(
            "no imported weights {name:?} for {arch} (imported: {}; see `pepr weights import`)",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        );
    }
    let meta = read_meta(&dir)?;
    let state = read_safetensors(&dir.join(WEIGHTS_FILE))?;
    Ok((meta, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_folder_names() {
        assert!(check_name("lite0-imagenet_v1.2").is_ok());
        for bad in ["", ".hidden", "a/b", "run:x", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
