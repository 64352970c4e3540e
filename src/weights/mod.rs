//! Pretrained weights: timm checkpoints read from `.safetensors` / `.pth` files ([`tensors`]), checked
//! against and loaded into catalog networks with timm's stem and head adaptation ([`load`]), kept
//! in the home ([`store`]), used to classify images ([`predict`]) and as the start of a run
//! ([`start`]).

pub mod cli;
pub mod load;
pub mod predict;
pub mod start;
pub mod store;
pub mod tensors;

use anyhow::{Result, anyhow};

use crate::catalog::{self, Entry, Graph, Spec};
pub use load::{Report, load_into, state_dict_of};
pub use tensors::{StateDict, Tensor};

/// The key naming a checkpoint came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    Timm,
    /// lukemelas/EfficientNet-PyTorch and its forks (EfficientNet-Lite-PyTorch).
    EfficientnetPytorch,
}

impl Naming {
    pub fn name(self) -> &'static str {
        match self {
            Naming::Timm => "timm",
            Naming::EfficientnetPytorch => "efficientnet_pytorch",
        }
    }
}

/// Renames a state dict to timm's key names for `entry`, trying each family's other namings.
pub fn to_timm_names(entry: &Entry, state: StateDict) -> Result<(StateDict, Naming)> {
    let graph = reference_graph(entry)?;
    // Only the EfficientNet builder names its stem `conv_stem`.
    if graph.nodes.iter().any(|n| n.name == "conv_stem") {
        if let Some(renamed) = catalog::families::efficientnet::from_efficientnet_pytorch(&graph, state.clone()) {
            return Ok((renamed, Naming::EfficientnetPytorch));
        }
    }
    Ok((state, Naming::Timm))
}

/// The architecture at its default size with 3 channels and 1000 classes: enough to know its key names.
fn reference_graph(entry: &Entry) -> Result<Graph> {
    entry.graph(&Spec::imagenet(entry.default_size)).map_err(|e| anyhow!("{e}"))
}

/// The input channels and classes a state dict (with timm's names) was trained for, read off its
/// stem and classifier weights.
pub fn spec_of(entry: &Entry, state: &StateDict) -> Result<(usize, usize)> {
    let graph = reference_graph(entry)?;
    let stem = load::stem(&graph).ok_or_else(|| anyhow!("{}: no stem convolution found", entry.name))?;
    let head = load::head(&graph).ok_or_else(|| anyhow!("{}: no classifier head found", entry.name))?;
    let stem_key = format!("{stem}.weight");
    let head_key = format!("{head}.weight");
    let channels = match state.get(&stem_key) {
        Some(t) if t.shape.len() == 4 => t.shape[1],
        Some(t) => return Err(anyhow!("key {stem_key}: expected a 4-D convolution weight, got shape {:?}", t.shape)),
        None => return Err(anyhow!("key {stem_key} (the stem of {}) is missing", entry.name)),
    };
    let classes = match state.get(&head_key) {
        Some(t) if t.shape.len() == 2 => t.shape[0],
        Some(t) => return Err(anyhow!("key {head_key}: expected a 2-D linear weight, got shape {:?}", t.shape)),
        None => return Err(anyhow!("key {head_key} (the classifier of {}) is missing", entry.name)),
    };
    Ok((channels, classes))
}

/// The ImageNet-1k class names, index order (see assets/README.md).
pub fn imagenet_classes() -> Vec<String> {
    include_str!("../../assets/imagenet_classes.txt").lines().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagenet_class_names_are_complete() {
        let names = imagenet_classes();
        assert_eq!(names.len(), 1000);
        assert_eq!(names[0], "tench, Tinca tinca");
        assert_eq!(names[985], "daisy");
    }
}
