//! Pretrained weights: timm checkpoints read from `.safetensors` / `.pth` files ([`tensors`]), checked
//! against and loaded into catalog networks with timm's stem and head adaptation ([`load`]), kept
//! in the home ([`store`]), used to classify images ([`predict`]) and as the start of a run
//! ([`start`]).

pub mod checkpoint;
pub mod init;
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
    if graph.nodes.iter().any(|n| n.name == "conv_stem")
        && let Some(renamed) = catalog::families::efficientnet::from_efficientnet_pytorch(&graph, state.clone())
    {
        return Ok((renamed, Naming::EfficientnetPytorch));
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
        // A linear layer [classes, features], or DLA's 1x1 convolution [classes, features, 1, 1].
        Some(t) if t.shape.len() == 2 || (t.shape.len() == 4 && t.shape[2..] == [1, 1]) => t.shape[0],
        Some(t) => {
            return Err(anyhow!(
                "key {head_key}: expected a 2-D linear or 1x1 convolution weight, got shape {:?}",
                t.shape
            ));
        }
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

    /// DLA's classifier is a 1x1 convolution `fc` (then a flatten): a 10-class timm state dict is
    /// read as 10 classes and loads into a 10-class model, or has its head re-initialised for 7.
    #[test]
    fn dla_heads_are_one_by_one_convolutions() {
        let entry = catalog::find("dla46_c").unwrap();
        let graph = entry.graph(&Spec::new(3, 10, entry.default_size)).unwrap();
        assert_eq!(load::head(&graph), Some("fc"));
        let state: StateDict = load::expected_keys(&graph)
            .into_iter()
            .map(|(key, shape)| {
                let n = shape.iter().product();
                (key, Tensor::new(shape, vec![0.01; n]))
            })
            .collect();
        assert_eq!(state["fc.weight"].shape.len(), 4);
        assert_eq!(spec_of(entry, &state).unwrap(), (3, 10));
        let (_, report) = load::prepare(&graph, &state).unwrap();
        assert!(report.head_reinitialised.is_none());
        let seven = entry.graph(&Spec::new(3, 7, entry.default_size)).unwrap();
        let (_, report) = load::prepare(&seven, &state).unwrap();
        assert_eq!(report.head_reinitialised, Some(("fc".to_string(), 10, 7)));
    }
}
