//! Where a run's (or a prediction's) weights come from: `run:ID` (an earlier run's checkpoint), an
//! imported weights name, or a checkpoint file path.

use std::path::Path;

use anyhow::{Result, anyhow, bail};

use super::load::state_dict_of;
use super::store::{self, Normalisation};
use super::tensors::{StateDict, read_file};
use super::{spec_of, to_timm_names};
use crate::catalog;
use crate::data::registry;
use crate::home::Home;
use crate::weights::checkpoint::load_checkpoint;

/// Resolved weights, with timm's key names.
#[derive(Debug)]
pub struct Source {
    /// The source as the user named it (what a run's record stores).
    pub label: String,
    pub state: StateDict,
    pub in_chans: usize,
    pub classes: usize,
    /// The input size the weights were trained at.
    pub input_size: usize,
    pub normalisation: Normalisation,
    pub class_names: Option<Vec<String>>,
}

/// Resolves `source` for architecture `arch`. A run checkpoint of another architecture is refused.
pub fn resolve(home: &Home, arch: &str, source: &str) -> Result<Source> {
    let entry = catalog::find(arch).ok_or_else(|| anyhow!(crate::catalog::unknown_architecture(arch)))?;
    if let Some(id) = source.strip_prefix("run:") {
        let dir = home.checkpoints_dir().join(id);
        if id.is_empty() || !dir.join(crate::weights::checkpoint::META_FILE).is_file() {
            bail!("no checkpoint for run {id:?} in {}", home.checkpoints_dir().display());
        }
        let (net, meta) = load_checkpoint(&dir)?;
        if meta.arch != arch {
            bail!("run {id} is a {} checkpoint; a {arch} run can only start from {arch} weights", meta.arch);
        }
        let class_names = registry::list(&home.datasets_dir())
            .into_iter()
            .find(|d| d.info.name == meta.dataset)
            .map(|d| d.info.classes)
            .filter(|names| names.len() == meta.classes);
        return Ok(Source {
            label: source.to_string(),
            state: state_dict_of(&net),
            in_chans: meta.input.channels,
            classes: meta.classes,
            input_size: meta.input.height,
            normalisation: Normalisation::Symmetric,
            class_names,
        });
    }
    let path = Path::new(source);
    if path.is_file() {
        let (state, naming) = to_timm_names(entry, read_file(path)?)?;
        let (in_chans, classes) = spec_of(entry, &state).map_err(|e| anyhow!("{source}: {e}"))?;
        return Ok(Source {
            label: source.to_string(),
            state,
            in_chans,
            classes,
            input_size: entry.default_size,
            normalisation: store::default_normalisation(arch, naming),
            class_names: (classes == 1000).then(super::imagenet_classes),
        });
    }
    if source.contains('/') || source.contains('\\') {
        bail!("weights file {source} not found");
    }
    let (meta, state) = store::load(home, arch, source)?;
    Ok(Source {
        label: source.to_string(),
        state,
        in_chans: meta.in_chans,
        classes: meta.classes,
        input_size: meta.input_size,
        normalisation: meta.normalisation,
        class_names: meta.class_names,
    })
}

/// The starts a run of `arch` can take besides scratch: imported weights of that architecture by name,
/// then earlier runs' checkpoints of it as `run:ID` (oldest first).
pub fn choices(home: &Home, arch: &str) -> Vec<String> {
    let mut out: Vec<String> = store::list(home, Some(arch)).0.into_iter().map(|m| m.name).collect();
    let Ok(dirs) = std::fs::read_dir(home.checkpoints_dir()) else { return out };
    let mut runs: Vec<String> = dirs
        .flatten()
        .filter_map(|d| {
            let text = std::fs::read_to_string(d.path().join(crate::weights::checkpoint::META_FILE)).ok()?;
            let meta: crate::weights::checkpoint::Meta = serde_json::from_str(&text).ok()?;
            (meta.arch == arch).then(|| format!("run:{}", meta.run_id))
        })
        .collect();
    runs.sort();
    out.extend(runs);
    out
}
