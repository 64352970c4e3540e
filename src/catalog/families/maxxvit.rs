//! timm's MaxViT and MaxxViT (timm/models/maxxvit.py, issue 15): a two-convolution stem, then four
//! stages of MaxxVitBlocks, each a convolution block followed by two transformer layers over the
//! tokens of the map: block attention (within windows of neighbouring positions) and grid attention
//! (within grids of positions spread over the whole map), each with a learned relative position bias
//! and an MLP, pre-norm; a channel LayerNorm, average pooling and a linear head close the network.
//!
//! - `maxvit_nano_rw_256` (timm's "rw" configuration): MBConv convolution blocks (a batch-norm
//!   pre-norm, 1x1 expansion of the input width x 4, strided depthwise 3x3, squeeze-excite of 1/16,
//!   linear 1x1; a 2x2 average pool and 1x1 convolution as the strided shortcut), SiLU, and a table of
//!   relative position biases per head (RelPosBias).
//! - `maxxvit_rmlp_nano_rw_256`: ConvNeXt convolution blocks (a strided depthwise-style 7x7, channel
//!   LayerNorm, 1x1 MLP, layer scale), GELU, layer scales in the transformer layers, and the bias from
//!   an MLP over log-spaced relative coordinates ("rmlp", RelPosMlp).
//!
//! The windows and grids are `input / 32` on a side (timm's partition_ratio), so the network is built
//! for its input size (timm's `img_size`) and takes sides that are multiples of 32.
//!
//! MACs count the attention matrix products within each window (2 x tokens x window tokens x width)
//! and the relative position MLP, as fvcore does with timm's fused attention off.

use super::efficientnet::make_divisible;
use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result, ShapeError};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/2204.01697";

pub static ENTRIES: &[Entry] = &[
    Entry {
        name: "maxvit_nano_rw_256",
        family: "maxvit",
        kind: ModelKind::Other,
        efficient: false,
        paper: PAPER,
        default_size: 256,
        from_timm: true,
        build: |spec: &Spec| build(&MAXVIT_NANO_RW, spec),
    },
    Entry {
        name: "maxxvit_rmlp_nano_rw_256",
        family: "maxxvit",
        kind: ModelKind::Other,
        efficient: false,
        paper: PAPER,
        default_size: 256,
        from_timm: true,
        build: |spec: &Spec| build(&MAXXVIT_RMLP_NANO_RW, spec),
    },
];

/// The convolution block of each MaxxVitBlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvBlock {
    /// timm's MbConvBlock in the "rw" configuration (batch norm, SiLU).
    MbConv,
    /// timm's ConvNeXtBlock with a 1x1-convolution MLP (LayerNorm2d, GELU).
    ConvNext,
}

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub dims: [usize; 4],
    pub depths: [usize; 4],
    pub stem: (usize, usize),
    pub conv: ConvBlock,
    /// The relative position bias from RelPosMlp (else a RelPosBias table).
    pub rel_mlp: bool,
    /// Layer scales (1e-6) on the transformer layers' branches.
    pub layer_scale: bool,
}

/// `maxvit_nano_rw`: widths 64, 128, 256, 512, depths 1, 2, 3, 1, stem 32, 64.
pub const MAXVIT_NANO_RW: Config = Config {
    dims: [64, 128, 256, 512],
    depths: [1, 2, 3, 1],
    stem: (32, 64),
    conv: ConvBlock::MbConv,
    rel_mlp: false,
    layer_scale: false,
};

/// `maxxvit_rmlp_nano_rw`: as the MaxViT nano, with ConvNeXt blocks and the MLP bias (`_next_cfg`).
pub const MAXXVIT_RMLP_NANO_RW: Config =
    Config { conv: ConvBlock::ConvNext, rel_mlp: true, layer_scale: true, ..MAXVIT_NANO_RW };

/// Head width of the attention (timm's `dim_head`).
const DIM_HEAD: usize = 32;
/// The transformer layers' LayerNorm epsilon; ConvNeXt blocks use it too.
const LN_EPS: f64 = 1e-6;

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    if !spec.height.is_multiple_of(32) || !spec.width.is_multiple_of(32) {
        return Err(ShapeError {
            message: format!(
                "its attention windows are built for the input size (timm's img_size, windows of side / 32) and it takes sides that are multiples of 32, not {}x{}",
                spec.height, spec.width
            ),
        });
    }
    let window = (spec.height / 32, spec.width / 32);
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let x = g.conv("stem.conv1", x, Conv::new(config.stem.0, 3, 2))?;
    let x = norm_act(&mut g, config.conv, "stem.norm1", x)?;
    let mut x = g.conv("stem.conv2", x, Conv::new(config.stem.1, 3, 1))?;
    for s in 0..4 {
        for b in 0..config.depths[s] {
            let stride = if b == 0 { 2 } else { 1 };
            x = maxxvit_block(&mut g, &format!("stages.{s}.blocks.{b}"), x, config, config.dims[s], stride, window)?;
        }
    }
    let x = g.layer_norm("norm", x, LN_EPS)?;
    g.classifier("head.fc", x, "head.global_pool", spec.classes)?;
    Ok(g.finish())
}

/// The stem's norm and activation (the convolution blocks' kind).
fn norm_act(g: &mut GraphBuilder, conv: ConvBlock, name: &str, x: Id) -> Result<Id> {
    Ok(match conv {
        ConvBlock::MbConv => {
            let x = g.batch_norm(name, x)?;
            g.act(&format!("{name}.act"), x, Act::Silu)
        }
        ConvBlock::ConvNext => {
            let x = g.layer_norm(name, x, LN_EPS)?;
            g.act(&format!("{name}.act"), x, Act::Gelu)
        }
    })
}

/// timm's MaxxVitBlock: the convolution block, then block and grid attention over the tokens.
fn maxxvit_block(
    g: &mut GraphBuilder,
    name: &str,
    x: Id,
    config: &Config,
    out: usize,
    stride: usize,
    window: (usize, usize),
) -> Result<Id> {
    let conv_name = format!("{name}.conv");
    let x = match config.conv {
        ConvBlock::MbConv => mbconv(g, &conv_name, x, out, stride)?,
        ConvBlock::ConvNext => convnext(g, &conv_name, x, out, stride)?,
    };
    let size = g.spatial(x);
    let t = g.map_to_tokens(&format!("{name}.to_tokens"), x)?;
    let t = partition_layer(g, &format!("{name}.attn_block"), t, config, size, window, false)?;
    let t = partition_layer(g, &format!("{name}.attn_grid"), t, config, size, window, true)?;
    g.tokens_to_map(&format!("{name}.to_map"), t, size.0, size.1)
}

/// The strided shortcut: a 2x2 average pool (`avg2`) and, where the width changes, a 1x1 `expand`.
fn downsample(g: &mut GraphBuilder, name: &str, x: Id, out: usize, bias: bool) -> Result<Id> {
    let y = g.avg_pool(&format!("{name}.pool"), x, Pool::new(2, 2, 0))?;
    if g.channels(x) == out { Ok(y) } else { g.conv(&format!("{name}.expand"), y, Conv::new(out, 1, 1).bias(bias)) }
}

/// timm's MbConvBlock ("rw": expansion from the input width, no output bias, SiLU, SE of 1/16 after norm2).
fn mbconv(g: &mut GraphBuilder, name: &str, x: Id, out: usize, stride: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let mid = make_divisible(g.channels(x) as f64 * 4.0, 8);
    let shortcut = if stride == 2 { downsample(g, &n("shortcut"), x, out, false)? } else { x };
    let y = g.batch_norm(&n("pre_norm"), x)?;
    let y = g.conv(&n("conv1_1x1"), y, Conv::new(mid, 1, 1))?;
    let y = g.batch_norm(&n("norm1"), y)?;
    let y = g.act(&n("norm1.act"), y, Act::Silu);
    let y = g.conv(&n("conv2_kxk"), y, Conv::new(mid, 3, stride).groups(mid))?;
    let y = g.batch_norm(&n("norm2"), y)?;
    let y = g.act(&n("norm2.act"), y, Act::Silu);
    let y = super::resnet::squeeze_excite_act(g, &n("se"), y, mid / 16, Act::Silu)?;
    let y = g.conv(&n("conv3_1x1"), y, Conv::new(out, 1, 1))?;
    g.add(&n("add"), y, shortcut)
}

/// timm's ConvNeXtBlock with `conv_mlp`: a 7x7 convolution of `in` groups to the output width (at the
/// block's stride), LayerNorm2d, a 1x1-convolution MLP (x 4, GELU), layer scale, plus the shortcut.
fn convnext(g: &mut GraphBuilder, name: &str, x: Id, out: usize, stride: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let c = g.channels(x);
    let shortcut = if stride == 2 {
        downsample(g, &n("shortcut"), x, out, true)?
    } else if c != out {
        g.conv(&n("shortcut"), x, Conv::new(out, 1, 1).bias(true))?
    } else {
        x
    };
    let y = g.conv(&n("conv_dw"), x, Conv::new(out, 7, stride).groups(c).bias(true))?;
    let y = g.layer_norm(&n("norm"), y, LN_EPS)?;
    let y = g.conv(&n("mlp.fc1"), y, Conv::new(4 * out, 1, 1).bias(true))?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let y = g.conv(&n("mlp.fc2"), y, Conv::new(out, 1, 1).bias(true))?;
    let y = g.layer_scale(&n("ls.gamma"), y);
    g.add(&n("add"), y, shortcut)
}

/// timm's PartitionAttentionCl: pre-norm partition attention and MLP over channels-last tokens.
fn partition_layer(
    g: &mut GraphBuilder,
    name: &str,
    x: Id,
    config: &Config,
    size: (usize, usize),
    window: (usize, usize),
    grid: bool,
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let dim = g.channels(x);
    let y = g.layer_norm(&n("norm1"), x, LN_EPS)?;
    let y = g.linear(&n("attn.qkv"), y, 3 * dim, true)?;
    let y = g.partition_attention(&n("attn"), y, dim / DIM_HEAD, size, window, grid, config.rel_mlp)?;
    let mut y = g.linear(&n("attn.proj"), y, dim, true)?;
    if config.layer_scale {
        y = g.layer_scale(&n("ls1.gamma"), y);
    }
    let x = g.add(&n("add1"), x, y)?;
    let y = g.layer_norm(&n("norm2"), x, LN_EPS)?;
    let y = g.linear(&n("mlp.fc1"), y, 4 * dim, true)?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let mut y = g.linear(&n("mlp.fc2"), y, dim, true)?;
    if config.layer_scale {
        y = g.layer_scale(&n("ls2.gamma"), y);
    }
    g.add(&n("add2"), x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::count::total_macs;

    #[test]
    fn sizes_other_than_multiples_of_32_are_refused_naming_the_sizes_taken() {
        for entry in ENTRIES {
            let err = entry.graph(&Spec::imagenet(224 + 16)).unwrap_err();
            assert!(err.message.starts_with(entry.name), "{err}");
            assert!(err.message.contains("multiples of 32, not 240x240"), "{err}");
            assert!(entry.graph(&Spec::new(1, 7, 32)).is_ok(), "{}", entry.name);
            assert!(entry.graph(&Spec { in_chans: 3, classes: 5, height: 64, width: 96 }).is_ok());
        }
    }

    #[test]
    fn macs_equal_fvcores_at_256_and_160() {
        // fvcore 0.1.5 on timm 1.0.31 built with img_size = the input, fused attention off
        // (fixtures/timm/reference_zoo.json).
        let cases = [(&ENTRIES[0], 4_456_124_416, 1_691_153_920), (&ENTRIES[1], 4_366_192_640, 1_655_283_200)];
        for (entry, at_256, at_160) in cases {
            assert_eq!(total_macs(&entry.graph(&Spec::imagenet(256)).unwrap()), at_256, "{}", entry.name);
            assert_eq!(total_macs(&entry.graph(&Spec::new(1, 7, 160)).unwrap()), at_160, "{}", entry.name);
        }
    }

    #[test]
    fn the_bias_table_follows_the_window() {
        // timm 1.0.31: 15,451,148 parameters at 256 (windows of 8: 225-row tables); at 160 the
        // windows are 5 (81 rows), 144 rows fewer for each of the 14 attention layers' heads.
        let at = |size| ENTRIES[0].graph(&Spec::imagenet(size)).unwrap().params();
        assert_eq!(at(256), 15_451_148);
        let heads: u64 = 2 * (2 + 2 * 4 + 3 * 8 + 16);
        assert_eq!(at(256) - at(160), 144 * heads);
    }
}
