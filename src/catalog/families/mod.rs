//! One builder per family, and the catalog's entries.

pub mod convnext;
pub mod densenet;
pub mod dla;
pub mod efficientnet;
pub mod ghostnet;
pub mod mixer;
pub mod resnet;
pub mod small;
pub mod vgg;
pub mod vit;

use super::{Entry, Spec};
use crate::results::record::ModelKind;

const RESNET_PAPER: &str = "https://arxiv.org/abs/1512.03385";

macro_rules! resnet {
    ($name:literal, $block:ident, $layers:expr, $stem:ident, $avg_down:expr, $paper:expr) => {
        resnet!($name, $block, $layers, $stem, $avg_down, $paper, 224)
    };
    ($name:literal, $block:ident, $layers:expr, $stem:ident, $avg_down:expr, $paper:expr, $size:literal) => {
        Entry {
            name: $name,
            family: "resnet",
            kind: ModelKind::Cnn,
            efficient: false,
            paper: $paper,
            default_size: $size,
            from_timm: true,
            build: |spec: &Spec| {
                resnet::build(
                    &resnet::Config {
                        block: resnet::Block::$block,
                        layers: $layers,
                        stem: resnet::Stem::$stem,
                        stem_width: if matches!(resnet::Stem::$stem, resnet::Stem::Plain) { 64 } else { 32 },
                        avg_down: $avg_down,
                    },
                    spec,
                )
            },
        }
    };
}

/// Every family's entries, in listing order.
pub static FAMILIES: &[&[Entry]] = &[
    efficientnet::ENTRIES,
    ghostnet::ENTRIES,
    RESNETS,
    densenet::ENTRIES,
    dla::ENTRIES,
    vgg::ENTRIES,
    convnext::ENTRIES,
    vit::ENTRIES,
    mixer::ENTRIES,
    SMALL,
];

static RESNETS: &[Entry] = &[
    // timm's pretrained config trains resnet14t at 176.
    resnet!("resnet14t", Bottleneck, [1, 1, 1, 1], DeepTiered, true, "https://arxiv.org/abs/2110.00476", 176),
    resnet!("resnet18", Basic, [2, 2, 2, 2], Plain, false, RESNET_PAPER),
    resnet!("resnet18d", Basic, [2, 2, 2, 2], Deep, true, RESNET_PAPER),
    resnet!("resnet26d", Bottleneck, [2, 2, 2, 2], Deep, true, RESNET_PAPER),
    resnet!("resnet34d", Basic, [3, 4, 6, 3], Deep, true, RESNET_PAPER),
    resnet!("resnet50", Bottleneck, [3, 4, 6, 3], Plain, false, RESNET_PAPER),
];

static SMALL: &[Entry] = &[
    Entry {
        name: "pepr_lenet5",
        family: "lenet",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: "http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf",
        default_size: 28,
        from_timm: false,
        build: small::lenet5,
    },
    Entry {
        name: "pepr_resnet8",
        family: "cifar-resnet",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: RESNET_PAPER,
        default_size: 32,
        from_timm: false,
        build: |spec: &Spec| small::cifar_resnet(1, spec),
    },
    Entry {
        name: "pepr_resnet20",
        family: "cifar-resnet",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: RESNET_PAPER,
        default_size: 32,
        from_timm: false,
        build: |spec: &Spec| small::cifar_resnet(3, spec),
    },
];
