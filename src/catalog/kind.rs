//! What kind of network an architecture is (CNN, transformer, MLP), as the catalog and the records name it.

use serde::{Deserialize, Serialize};

/// Broad architecture type, as the paper groups its models (it used CNN / Other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Cnn,
    Transformer,
    Mlp,
    #[default]
    Other,
}

impl ModelKind {
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::Cnn => "CNN",
            ModelKind::Transformer => "Transformer",
            ModelKind::Mlp => "MLP",
            ModelKind::Other => "Other",
        }
    }

    /// Parses the labels used in CSV files (case-insensitive).
    pub fn parse(text: &str) -> Option<ModelKind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cnn" => Some(ModelKind::Cnn),
            "transformer" | "vit" => Some(ModelKind::Transformer),
            "mlp" => Some(ModelKind::Mlp),
            "other" | "" => Some(ModelKind::Other),
            _ => None,
        }
    }
}
