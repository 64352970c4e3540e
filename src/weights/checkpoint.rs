//! Checkpoints: a trained network's weights in burn's burnpack format (`model.bpk`) beside a small
//! `meta.json` that says how to rebuild the architecture, in `<home>/checkpoints/<run id>/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::catalog::net::Net;
use crate::catalog::{self, Spec};
use crate::data::Input;

/// The weights file inside a checkpoint directory.
pub const WEIGHTS_FILE: &str = "model.bpk";
pub const META_FILE: &str = "meta.json";

/// What a checkpoint holds, besides the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub run_id: String,
    pub arch: String,
    pub input: Input,
    pub classes: usize,
    pub dataset: String,
    /// Always "burnpack" for now.
    pub format: String,
}

/// Writes `net`'s weights and `meta` into `dir` (created if needed; an older checkpoint there is
/// replaced). Returns the directory.
pub fn save_checkpoint(dir: &Path, net: &Net, meta: &Meta) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create checkpoint directory {}", dir.display()))?;
    let weights = dir.join(WEIGHTS_FILE);
    let mut store = BurnpackStore::from_file(&weights)
        .auto_extension(false)
        .overwrite(true)
        .metadata("pepr_arch", meta.arch.clone())
        .metadata("pepr_run_id", meta.run_id.clone());
    net.save_into(&mut store).map_err(|e| anyhow!("cannot write {}: {e}", weights.display()))?;
    let meta_path = dir.join(META_FILE);
    let text = serde_json::to_string_pretty(meta)?;
    std::fs::write(&meta_path, text + "\n").with_context(|| format!("cannot write {}", meta_path.display()))?;
    Ok(dir.to_path_buf())
}

/// Rebuilds the network of a checkpoint directory on the CPU (flex), in inference mode.
pub fn load_checkpoint(dir: &Path) -> Result<(Net, Meta)> {
    load_checkpoint_on(dir, &Device::flex())
}

pub fn load_checkpoint_on(dir: &Path, device: &Device) -> Result<(Net, Meta)> {
    let meta_path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&meta_path).with_context(|| format!("cannot read {}", meta_path.display()))?;
    let meta: Meta =
        serde_json::from_str(&text).with_context(|| format!("{}: not a pepr checkpoint", meta_path.display()))?;
    let entry = catalog::find(&meta.arch)
        .ok_or_else(|| anyhow!("{}: unknown architecture {:?}", meta_path.display(), meta.arch))?;
    let spec = Spec {
        in_chans: meta.input.channels,
        classes: meta.classes,
        height: meta.input.height,
        width: meta.input.width,
    };
    let graph = entry.graph(&spec).map_err(|e| anyhow!("{}: {}", meta_path.display(), e.message))?;
    let mut net = Net::new(graph, device);
    let weights = dir.join(WEIGHTS_FILE);
    let mut store = BurnpackStore::from_file(&weights).auto_extension(false);
    let result = net.load_from(&mut store).map_err(|e| anyhow!("cannot load {}: {e}", weights.display()))?;
    if !result.unused.is_empty() {
        bail!("{}: tensors not in {}: {:?}", weights.display(), meta.arch, result.unused);
    }
    Ok((net, meta))
}
