//! The paper's SE and ECA ResNets (issue 15; the paper types them `Other`): timm's ResNet builder
//! (timm/models/resnet.py, here [`super::resnet`]) with `attn_layer='se'` (squeeze-excite, ratio
//! 1/16) or `attn_layer='eca'` (efficient channel attention) after each bottleneck's last batch norm.

use super::resnet::Block::Bottleneck;
use super::resnet::{self, Aa, Config as R, Stem};
use crate::catalog::ModelKind;
use crate::catalog::{Entry, Spec};

const SE_PAPER: &str = "https://arxiv.org/abs/1709.01507";
const ECA_PAPER: &str = "https://arxiv.org/abs/1910.03151";
const RS_PAPER: &str = "https://arxiv.org/abs/2103.07579";

/// Name, efficient flag (the paper's), [`resnet::Config`], paper, timm's default input size.
macro_rules! entry {
    ($name:literal, $efficient:literal, $config:expr, $paper:expr, $size:literal) => {
        Entry {
            name: $name,
            family: "resnet",
            kind: ModelKind::Other,
            efficient: $efficient,
            paper: $paper,
            default_size: $size,
            from_timm: true,
            build: |spec: &Spec| resnet::build(&$config, spec),
        }
    };
}

const fn se(config: R) -> R {
    R { se_divisor: Some(16), ..config }
}

const fn eca(config: R) -> R {
    R { eca: true, ..config }
}

const fn tiered(config: R) -> R {
    R { stem: Stem::DeepTiered, ..config }
}

const fn resnext(config: R, base_width: usize) -> R {
    R { cardinality: 32, base_width, ..config }
}

const R26: [usize; 4] = [2, 2, 2, 2];
const R50: [usize; 4] = [3, 4, 6, 3];
const R101: [usize; 4] = [3, 4, 23, 3];

pub static ENTRIES: &[Entry] = &[
    entry!("seresnext26d_32x4d", false, se(resnext(R::deep(Bottleneck, R26), 4)), SE_PAPER, 224),
    entry!("seresnext26t_32x4d", false, se(tiered(resnext(R::deep(Bottleneck, R26), 4))), SE_PAPER, 224),
    entry!("ecaresnet26t", true, eca(tiered(R::deep(Bottleneck, R26))), ECA_PAPER, 256),
    entry!("ecaresnet50d", true, eca(R::deep(Bottleneck, R50)), ECA_PAPER, 224),
    entry!("ecaresnet50t", true, eca(tiered(R::deep(Bottleneck, R50))), ECA_PAPER, 256),
    // The plain 7x7 stem, but average-pool shortcuts.
    entry!(
        "ecaresnetlight",
        false,
        eca(R { avg_down: true, stem_width: 32, ..R::plain(Bottleneck, [1, 1, 11, 3]) }),
        ECA_PAPER,
        224
    ),
    entry!("ecaresnet101d", true, eca(R::deep(Bottleneck, R101)), ECA_PAPER, 224),
    entry!("seresnet152d", false, se(R::deep(Bottleneck, [3, 8, 36, 3])), RS_PAPER, 256),
    entry!("seresnext101d_32x8d", false, se(resnext(R::deep(Bottleneck, R101), 8)), RS_PAPER, 224),
    entry!(
        "seresnextaa101d_32x8d",
        false,
        se(R { aa: Aa::Avg, ..resnext(R::deep(Bottleneck, R101), 8) }),
        RS_PAPER,
        288
    ),
    entry!("ecaresnet269d", true, eca(R::deep(Bottleneck, [3, 30, 48, 8])), ECA_PAPER, 320),
];
