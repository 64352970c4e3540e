//! The paper's ByobNet ResNets with channel attention (issue 15; the paper types them `Other`):
//! timm's byobnet.py bottleneck networks with `attn_layer` 'se' (squeeze-excite), 'eca' (efficient
//! channel attention) or 'gca' (global context, fused add) after each bottleneck's 3x3 conv, built by
//! [`super::byobnet::byob`].

use super::byobnet::BlockType::Bottle;
use super::byobnet::{Attn, Byob, Stage, Stem, byob, stage};
use crate::catalog::ModelKind;
use crate::catalog::graph::Act;
use crate::catalog::{Entry, Spec};

const SE_PAPER: &str = "https://arxiv.org/abs/1709.01507";
const ECA_PAPER: &str = "https://arxiv.org/abs/1910.03151";
const GC_PAPER: &str = "https://arxiv.org/abs/1904.11492";

/// ResNeXt-26/50 widths with group size 32 (the "26ts" / "50ts" models): depths per stage.
const fn resnext(d: [usize; 4], group_size: usize) -> [Stage; 4] {
    [
        stage(Bottle, d[0], 256, 1, group_size, (1, 4)),
        stage(Bottle, d[1], 512, 2, group_size, (1, 4)),
        stage(Bottle, d[2], 1024, 2, group_size, (1, 4)),
        stage(Bottle, d[3], 2048, 2, group_size, (1, 4)),
    ]
}

/// The "33ts" models: widths 256, 512, 1536, 1536, no groups.
const R33: [Stage; 4] = [
    stage(Bottle, 2, 256, 1, 0, (1, 4)),
    stage(Bottle, 3, 512, 2, 0, (1, 4)),
    stage(Bottle, 3, 1536, 2, 0, (1, 4)),
    stage(Bottle, 2, 1536, 2, 0, (1, 4)),
];
const X26: [Stage; 4] = resnext([2, 2, 2, 2], 32);
const X50: [Stage; 4] = resnext([3, 4, 6, 3], 32);
const R50: [Stage; 4] = resnext([3, 4, 6, 3], 0);
/// 'tiered' without a pool: the last conv is strided.
const TIERED: Stem = Stem::Stack { widths: [24, 32, 64, 0], count: 3, strides: [2, 1, 2, 0], plain: 0 };

const fn net(stem: Stem, stages: &'static [Stage], num_features: usize, act: Act, attn: Attn) -> Byob {
    Byob { stem, stages, num_features, act, attn: Some(attn) }
}

const SERESNEXT26TS: Byob = net(Stem::TieredPool(64), &X26, 0, Act::Silu, Attn::Se);
const GCRESNEXT26TS: Byob = net(Stem::TieredPool(64), &X26, 0, Act::Silu, Attn::Gca);
const ECA_RESNET33TS: Byob = net(TIERED, &R33, 1280, Act::Silu, Attn::Eca);
const SERESNET33TS: Byob = net(TIERED, &R33, 1280, Act::Silu, Attn::Se);
const GCRESNET33TS: Byob = net(TIERED, &R33, 1280, Act::Silu, Attn::Gca);
const GCRESNEXT50TS: Byob = net(Stem::TieredPool(64), &X50, 0, Act::Silu, Attn::Gca);
const GCRESNET50T: Byob = net(TIERED, &R50, 0, Act::Relu, Attn::Gca);

/// Name, config, paper, the paper's efficient flag, timm's default input size.
macro_rules! entry {
    ($name:literal, $config:expr, $paper:expr, $efficient:literal, $size:literal) => {
        Entry {
            name: $name,
            family: "byobnet",
            kind: ModelKind::Other,
            efficient: $efficient,
            paper: $paper,
            default_size: $size,
            from_timm: true,
            build: |spec: &Spec| byob(&$config, spec),
        }
    };
}

pub static ENTRIES: &[Entry] = &[
    entry!("seresnext26ts", SERESNEXT26TS, SE_PAPER, false, 256),
    entry!("gcresnext26ts", GCRESNEXT26TS, GC_PAPER, false, 256),
    entry!("eca_resnet33ts", ECA_RESNET33TS, ECA_PAPER, true, 256),
    entry!("seresnet33ts", SERESNET33TS, SE_PAPER, false, 256),
    entry!("gcresnet33ts", GCRESNET33TS, GC_PAPER, false, 256),
    entry!("gcresnext50ts", GCRESNEXT50TS, GC_PAPER, false, 256),
    entry!("gcresnet50t", GCRESNET50T, GC_PAPER, false, 256),
];
