//! The architecture catalog: timm-faithful architectures described as layer graphs (same layers,
//! same order and same module names as timm 1.0), buildable as burn modules for any channel
//! count, class count and input size the architecture allows, with exact parameter counts and
//! fvcore-convention MAC counts.

pub mod count;
pub mod families;
pub mod graph;
pub mod kind;
pub mod listing;
pub mod net;
pub mod report;

pub use kind::ModelKind;

pub use count::{Cost, LayerCount};
pub use graph::{Graph, ShapeError};

/// What to build: input channels, classes and input size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub in_chans: usize,
    pub classes: usize,
    pub height: usize,
    pub width: usize,
}

impl Spec {
    pub fn new(in_chans: usize, classes: usize, size: usize) -> Spec {
        Spec { in_chans, classes, height: size, width: size }
    }

    /// timm's defaults: 3 channels, 1000 ImageNet classes, at `size`.
    pub fn imagenet(size: usize) -> Spec {
        Spec::new(3, 1000, size)
    }
}

/// One catalog entry.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// timm's model name (or our own, for entries not from timm).
    pub name: &'static str,
    pub family: &'static str,
    pub kind: ModelKind,
    /// Designed for efficiency (the PePR paper's `efficient` flag where the paper has the model).
    pub efficient: bool,
    /// The paper that introduced the architecture.
    pub paper: &'static str,
    /// timm's default input size (square).
    pub default_size: usize,
    /// False for pepr's own small-input families.
    pub from_timm: bool,
    pub(crate) build: fn(&Spec) -> graph::Result<Graph>,
}

impl Entry {
    /// The architecture at `spec`, or why it cannot take that input.
    pub fn graph(&self, spec: &Spec) -> Result<Graph, ShapeError> {
        if spec.in_chans == 0 || spec.classes == 0 || spec.height == 0 || spec.width == 0 {
            return Err(ShapeError {
                message: format!("{}: channels, classes and input size must be positive", self.name),
            });
        }
        (self.build)(spec).map_err(|e| ShapeError {
            message: format!("{} at {}x{}x{}: {}", self.name, spec.in_chans, spec.height, spec.width, e.message),
        })
    }

    pub fn cost(&self, spec: &Spec) -> Result<Cost, ShapeError> {
        Ok(Cost::of(&self.graph(spec)?))
    }
}

/// Every entry, timm's first, in the order of the catalog listing.
pub fn entries() -> &'static [Entry] {
    static ALL: std::sync::OnceLock<Vec<Entry>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| families::FAMILIES.iter().flat_map(|family| family.iter().copied()).collect())
}

/// The entry named `name`, or whose timm 1.0 name `name` is (the paper's `gluon_*` names are
/// deprecated aliases in timm 1.0, mapped to an architecture with a pretrained tag).
pub fn find(name: &str) -> Option<&'static Entry> {
    let name = families::ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, entry)| *entry);
    entries().iter().find(|e| e.name == name)
}

/// timm 1.0's name for an entry, where it differs from the catalog's (the paper's) name.
pub fn timm_name(name: &str) -> Option<&'static str> {
    families::ALIASES.iter().find(|(_, entry)| *entry == name).map(|(alias, _)| *alias)
}

/// The names, for error messages.
pub fn names() -> Vec<&'static str> {
    entries().iter().map(|e| e.name).collect()
}

/// The error for an architecture the catalog does not have, with the nearest names.
pub fn unknown_architecture(name: &str) -> String {
    format!("no architecture named {name:?}{} (see `pepr archs`)", crate::suggest::did_you_mean(name, names()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_nearest_names() {
        let message = unknown_architecture("resnet18e");
        assert!(message.starts_with("no architecture named \"resnet18e\"; did you mean "), "{message}");
        assert!(
            message.contains("resnet18d") && message.contains("resnet18,") && message.ends_with("? (see `pepr archs`)")
        );
        assert!(unknown_architecture("ResNet50").contains("did you mean resnet50"));
        assert!(unknown_architecture("efficientnet_lite").contains("efficientnet_lite0"));
        assert_eq!(unknown_architecture("transformer"), "no architecture named \"transformer\" (see `pepr archs`)");
    }
}
