//! The paper's ByobNet ResNets with channel attention (issue 15; the paper types them `Other`):
//! timm's byobnet.py bottleneck networks with `attn_layer` 'se' (squeeze-excite), 'eca' (efficient
//! channel attention), 'gca' (global context, fused add) or 'bat' (bilinear attention transform) after
//! each bottleneck's 3x3 conv, built by [`super::byobnet::byob`].

use super::byobnet::BlockType::Bottle;
use super::byobnet::{Attn, Byob, Stage, Stem, byob, stage};
use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Graph, Result, ShapeError};
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
const BAT_PAPER: &str = "https://openaccess.thecvf.com/content_CVPR_2020/html/Chi_Non-Local_Neural_Networks_With_Grouped_Bilinear_Attentional_Transforms_CVPR_2020_paper.html";
const BAT_RESNEXT26TS: Byob = net(Stem::TieredPool(64), &X26, 0, Act::Silu, Attn::Bat);

/// BAT's 8x8 blocks must tile the map at every stage down to 1/32 of the input: sides that are
/// multiples of 256 (timm's min_input_size), each size with the same weights.
fn bat_resnext26ts(spec: &Spec) -> Result<Graph> {
    if !spec.height.is_multiple_of(256) || !spec.width.is_multiple_of(256) {
        return Err(ShapeError {
            message: format!(
                "its bilinear attention's 8x8 blocks must tile the 1/32 feature map, so it takes sides that are multiples of 256, not {}x{}",
                spec.height, spec.width
            ),
        });
    }
    byob(&BAT_RESNEXT26TS, spec)
}

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
    Entry {
        name: "bat_resnext26ts",
        family: "byobnet",
        kind: ModelKind::Other,
        efficient: false,
        paper: BAT_PAPER,
        default_size: 256,
        from_timm: true,
        build: bat_resnext26ts,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bat_takes_multiples_of_256_with_the_same_weights() {
        let bat = ENTRIES.iter().find(|e| e.name == "bat_resnext26ts").unwrap();
        let at = |size: usize| bat.graph(&Spec::new(1, 7, size));
        assert_eq!(at(256).unwrap().params(), at(512).unwrap().params());
        let err = at(160).unwrap_err();
        assert!(err.message.starts_with("bat_resnext26ts at 1x160x160: "), "{err}");
        assert!(err.message.contains("multiples of 256"), "{err}");
    }
}
