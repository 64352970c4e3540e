//! timm's VGG family (timm/models/vgg.py), without batch norm: `features` is a stack of 3x3
//! convolutions (with bias) and ReLU, with 2x2 max pools, numbered as timm's `nn.Sequential`;
//! `pre_logits` is timm's ConvMlp, a 7x7 convolution 512 -> 4096 and a 1x1 convolution
//! 4096 -> 4096, each with ReLU, which first average-pools maps smaller than 7x7 up to 7x7
//! (`adaptive_avg_pool2d`, counted by fvcore); `head` is global average pooling and a linear layer.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Pool, Result, Shape};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/1409.1556";

/// A `features` layout: output channels of a 3x3 convolution, or `M` for a max pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    C(usize),
    M,
}

use Layer::{C, M};

const VGG11: &[Layer] = &[C(64), M, C(128), M, C(256), C(256), M, C(512), C(512), M, C(512), C(512), M];
const VGG13: &[Layer] = &[C(64), C(64), M, C(128), C(128), M, C(256), C(256), M, C(512), C(512), M, C(512), C(512), M];

pub static ENTRIES: &[Entry] = &[
    Entry {
        name: "vgg11",
        family: "vgg",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: PAPER,
        default_size: 224,
        from_timm: true,
        build: |spec: &Spec| build(VGG11, spec),
    },
    Entry {
        name: "vgg13",
        family: "vgg",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: PAPER,
        default_size: 224,
        from_timm: true,
        build: |spec: &Spec| build(VGG13, spec),
    },
];

/// ConvMlp's first kernel size, and the smallest map it accepts without pooling up.
const MLP_KERNEL: usize = 7;
const HIDDEN: usize = 4096;

pub fn build(layers: &[Layer], spec: &Spec) -> Result<Graph> {
    let (mut g, mut x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    // Index in timm's `features` Sequential: a convolution and its ReLU take two slots, a pool one.
    let mut index = 0;
    for &layer in layers {
        match layer {
            C(out) => {
                x = g.conv(&format!("features.{index}"), x, Conv::new(out, 3, 1).bias(true))?;
                x = g.act(&format!("features.{}", index + 1), x, Act::Relu);
                index += 2;
            }
            M => {
                x = g.max_pool(&format!("features.{index}"), x, Pool::new(2, 2, 0))?;
                index += 1;
            }
        }
    }
    if let Shape::Map { h, w, .. } = g.shape(x)
        && (h < MLP_KERNEL || w < MLP_KERNEL)
    {
        x = g.adaptive_avg_pool("pre_logits.pool", x, h.max(MLP_KERNEL), w.max(MLP_KERNEL))?;
    }
    let x = g.conv("pre_logits.fc1", x, Conv::new(HIDDEN, MLP_KERNEL, 1).padding(0).bias(true))?;
    let x = g.act("pre_logits.act1", x, Act::Relu);
    let x = g.conv("pre_logits.fc2", x, Conv::new(HIDDEN, 1, 1).bias(true))?;
    let x = g.act("pre_logits.act2", x, Act::Relu);
    g.classifier("head.fc", x, "head.global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::count::total_macs;
    use crate::catalog::families::densenet::testing::*;

    fn entry(name: &str) -> &'static Entry {
        ENTRIES.iter().find(|e| e.name == name).unwrap()
    }

    // Expected numbers: timm 1.0.31 + fvcore (fixtures/timm/reference.json). Below 224 fvcore counts
    // ConvMlp's pooling up to 7x7 (e.g. 512 x 2 x 2 = 2048 at 64, plus the head's 4096).

    #[test]
    fn vgg11_matches_timm() {
        let e = entry("vgg11");
        check_keys(e, 22);
        check_params(e, 132_863_336, 128_793_863);
        check_macs(
            e,
            [
                (224, Some(7_609_094_144)),
                (128, Some(2_567_876_608)),
                (64, Some(734_697_472)),
                (32, Some(276_402_688)),
                (28, None),
            ],
        );
        assert_eq!(total_macs(&e.graph(&Spec::new(1, 7, 64)).unwrap()), 725_911_552);
    }

    #[test]
    fn vgg13_matches_timm() {
        let e = entry("vgg13");
        check_keys(e, 26);
        check_params(e, 133_047_848, 128_978_375);
        check_macs(
            e,
            [
                (224, Some(11_308_470_272)),
                (128, Some(3_775_836_160)),
                (64, Some(1_036_687_360)),
                (32, Some(351_900_160)),
                (28, None),
            ],
        );
        assert_eq!(total_macs(&e.graph(&Spec::new(1, 7, 64)).unwrap()), 1_027_901_440);
    }

    #[test]
    fn vgg11_runs_on_a_small_input() {
        // 32x32 ends the features at 1x1, so ConvMlp pools up to 7x7 first.
        check_forward(entry("vgg11"), Spec::new(1, 5, 32));
    }

    #[test]
    fn too_small_inputs_fail_like_timm() {
        // timm: "Given input size: (512x1x1). Calculated output size: (512x0x0)" in the last pool.
        let err = entry("vgg11").graph(&Spec::imagenet(28)).unwrap_err();
        assert!(err.message.contains("features.20"), "{err}");
        let err = entry("vgg13").graph(&Spec::imagenet(28)).unwrap_err();
        assert!(err.message.contains("features.24"), "{err}");
    }
}
