//! timm's MobileViT (timm/models/mobilevit.py, a ByobNet): a 3x3 stem, stages of inverted residual
//! blocks (ByobNet bottlenecks with the expansion on the input width, a depthwise 3x3 and a linear
//! 1x1 out), and in the last three stages a MobileViT block after the first inverted residual.
//!
//! A MobileViT block: a 3x3 conv, a 1x1 conv to the transformer width, then the map is cut into
//! `patch x patch` tiles and the pixels at the same place of every tile form one sequence (timm's
//! unfold), which ViT blocks (SiLU MLP, LayerNorm eps 1e-5) attend over; the tokens are folded back
//! into the map, projected to the block width and fused with the block's input by a 3x3 conv on
//! their concatenation. A map not divisible by the patch is first resized (bilinear,
//! `align_corners=False`) up to the next multiple and back after the transformer, as timm does, so
//! every input size works.
//!
//! MACs: the attention matrix products counted per sequence (fvcore with timm's fused attention off),
//! 2 x tile positions x (tiles)² x width; the bilinear resizes 4 per output element (fvcore's
//! `upsample_bilinear2d`); the unfold and fold are reshapes, free.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Interp, Result};
use crate::catalog::{Entry, Spec};

pub static ENTRIES: &[Entry] = &[
    Entry {
        name: "mobilevit_s",
        family: "mobilevit",
        kind: ModelKind::Other,
        efficient: true,
        paper: "https://arxiv.org/abs/2206.02680",
        default_size: 256,
        from_timm: true,
        build: |spec: &Spec| build(&MOBILEVIT_S, spec),
    },
    Entry {
        name: "mobilevitv2_050",
        family: "mobilevit",
        kind: ModelKind::Other,
        efficient: true,
        paper: "https://arxiv.org/abs/2206.02680",
        default_size: 256,
        from_timm: true,
        build: |spec: &Spec| build(&MOBILEVITV2_050, spec),
    },
];

/// One stage: inverted residual blocks (count, width, stride of the first, expansion), then
/// optionally a MobileViT block (transformer width and depth).
#[derive(Clone, Copy, Debug)]
pub struct Stage {
    pub depth: usize,
    pub width: usize,
    pub stride: usize,
    pub expansion: usize,
    pub transformer: Option<(usize, usize)>,
}

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub stem: usize,
    pub stages: [Stage; 5],
    pub num_features: usize,
    pub patch: usize,
    pub heads: usize,
    /// MobileViT v2 blocks (linear attention) instead of v1's.
    pub v2: bool,
}

const fn ir(depth: usize, width: usize, stride: usize) -> Stage {
    Stage { depth, width, stride, expansion: 4, transformer: None }
}

const fn mvit(width: usize, dim: usize, depth: usize) -> Stage {
    Stage { depth: 1, width, stride: 2, expansion: 4, transformer: Some((dim, depth)) }
}

/// `mobilevit_s`: stem 16, widths 32, 64, 96, 128, 160, transformer widths 144, 192, 240 and depths
/// 2, 4, 3, patch 2, 4 heads, final 1x1 conv to 640.
pub const MOBILEVIT_S: Config = Config {
    stem: 16,
    stages: [ir(1, 32, 1), ir(3, 64, 2), mvit(96, 144, 2), mvit(128, 192, 4), mvit(160, 240, 3)],
    num_features: 640,
    patch: 2,
    heads: 4,
    v2: false,
};

/// MobileViT v2 stages: expansion 2, transformer width half the block's.
const fn ir2(depth: usize, width: usize, stride: usize) -> Stage {
    Stage { depth, width, stride, expansion: 2, transformer: None }
}

const fn mvit2(width: usize, depth: usize) -> Stage {
    Stage { depth: 1, width, stride: 2, expansion: 2, transformer: Some((width / 2, depth)) }
}

/// `mobilevitv2_050`: timm's widths 64, 128, 256, 384, 512 and stem 32 times 0.5, transformer depths
/// 2, 4, 3, patch 2, no final conv.
pub const MOBILEVITV2_050: Config = Config {
    stem: 16,
    stages: [ir2(1, 32, 1), ir2(2, 64, 2), mvit2(128, 2), mvit2(192, 4), mvit2(256, 3)],
    num_features: 0,
    patch: 2,
    heads: 0,
    v2: true,
};

/// timm's ConvNormAct (`{name}.conv`, `{name}.bn`), SiLU unless `act` is false.
fn conv_norm(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv, act: bool) -> Result<Id> {
    g.conv_bn_act(&format!("{name}.conv"), &format!("{name}.bn"), x, conv, act.then_some(Act::Silu))
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let mut x = conv_norm(&mut g, "stem", x, Conv::new(config.stem, 3, 2), true)?;
    for (s, stage) in config.stages.iter().enumerate() {
        for b in 0..stage.depth {
            let stride = if b == 0 { stage.stride } else { 1 };
            x = inverted_residual(&mut g, &format!("stages.{s}.{b}"), x, stage, stride)?;
        }
        if let Some((dim, depth)) = stage.transformer {
            let name = format!("stages.{s}.{}", stage.depth);
            x = if config.v2 {
                mobilevit2_block(&mut g, &name, x, config.patch, dim, depth)?
            } else {
                mobilevit_block(&mut g, &name, x, config, dim, depth)?
            };
        }
    }
    if config.num_features > 0 {
        x = conv_norm(&mut g, "final_conv", x, Conv::new(config.num_features, 1, 1), true)?;
    }
    g.classifier("head.fc", x, "head.global_pool", spec.classes)?;
    Ok(g.finish())
}

/// ByobNet's BottleneckBlock with `bottle_in` and `linear_out`: 1x1 to `expansion` x the input
/// width, depthwise 3x3 (strided), linear 1x1 out; an identity shortcut only where the shape stays
/// (timm's `downsample=''` gives none otherwise).
fn inverted_residual(g: &mut GraphBuilder, name: &str, x: Id, stage: &Stage, stride: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let c = g.channels(x);
    let mid = c * stage.expansion;
    let y = conv_norm(g, &n("conv1_1x1"), x, Conv::new(mid, 1, 1), true)?;
    let y = conv_norm(g, &n("conv2_kxk"), y, Conv::new(mid, 3, stride).groups(mid), true)?;
    let y = conv_norm(g, &n("conv3_1x1"), y, Conv::new(stage.width, 1, 1), false)?;
    if c == stage.width && stride == 1 { g.add(&n("add"), x, y) } else { Ok(y) }
}

fn mobilevit_block(g: &mut GraphBuilder, name: &str, x: Id, config: &Config, dim: usize, depth: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let c = g.channels(x);
    let shortcut = x;
    let y = conv_norm(g, &n("conv_kxk"), x, Conv::new(c, 3, 1), true)?;
    let y = g.conv(&n("conv_1x1"), y, Conv::new(dim, 1, 1))?;
    let (h, w) = g.spatial(y);
    let p = config.patch;
    let (ph, pw) = (h.div_ceil(p) * p, w.div_ceil(p) * p);
    let resized = (ph, pw) != (h, w);
    let y = if resized { g.resize(&n("resize_up"), y, ph, pw, Interp::Bilinear)? } else { y };
    let mut t = g.unfold_patches(&n("unfold"), y, p)?;
    for i in 0..depth {
        t = transformer_block(g, &n(&format!("transformer.{i}")), t, dim, config.heads, p * p)?;
    }
    let t = g.layer_norm(&n("norm"), t, 1e-5)?;
    let y = g.fold_patches(&n("fold"), t, p, ph, pw)?;
    let y = if resized { g.resize(&n("resize_down"), y, h, w, Interp::Bilinear)? } else { y };
    let y = conv_norm(g, &n("conv_proj"), y, Conv::new(c, 1, 1), true)?;
    let y = g.concat(&n("cat"), &[shortcut, y])?;
    conv_norm(g, &n("conv_fusion"), y, Conv::new(c, 3, 1), true)
}

/// MobileViT v2's block: an input not divisible by the patch resized up (bilinear, corners
/// aligned, and not back), a depthwise 3x3, a 1x1 to the transformer width, the `c x P x N` unfold,
/// linear-attention transformer blocks (GroupNorm1, 1x1 convolutions), GroupNorm1, the fold and a
/// linear 1x1 projection; no shortcut.
fn mobilevit2_block(g: &mut GraphBuilder, name: &str, x: Id, p: usize, dim: usize, depth: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let c = g.channels(x);
    let (h, w) = g.spatial(x);
    let (ph, pw) = (h.div_ceil(p) * p, w.div_ceil(p) * p);
    let x = if (ph, pw) != (h, w) { g.resize(&n("resize"), x, ph, pw, Interp::BilinearAligned)? } else { x };
    let y = conv_norm(g, &n("conv_kxk"), x, Conv::new(c, 3, 1).groups(c), true)?;
    let y = g.conv(&n("conv_1x1"), y, Conv::new(dim, 1, 1))?;
    let mut t = g.unfold_map(&n("unfold"), y, p)?;
    for i in 0..depth {
        let b = |part: &str| n(&format!("transformer.{i}.{part}"));
        let a = g.group_norm1(&b("norm1"), t, 1e-5)?;
        let a = g.conv(&b("attn.qkv_proj"), a, Conv::new(1 + 2 * dim, 1, 1).bias(true))?;
        let a = g.linear_attention(&b("attn.core"), a)?;
        let a = g.conv(&b("attn.out_proj"), a, Conv::new(dim, 1, 1).bias(true))?;
        t = g.add(&b("add1"), t, a)?;
        let m = g.group_norm1(&b("norm2"), t, 1e-5)?;
        let m = g.conv(&b("mlp.fc1"), m, Conv::new(2 * dim, 1, 1).bias(true))?;
        let m = g.act(&b("mlp.act"), m, Act::Silu);
        let m = g.conv(&b("mlp.fc2"), m, Conv::new(dim, 1, 1).bias(true))?;
        t = g.add(&b("add2"), t, m)?;
    }
    let t = g.group_norm1(&n("norm"), t, 1e-5)?;
    let y = g.fold_map(&n("fold"), t, p, ph, pw)?;
    conv_norm(g, &n("conv_proj"), y, Conv::new(c, 1, 1), false)
}

/// timm's ViT Block with SiLU, MLP ratio 2 and LayerNorm eps 1e-5, attending within each of the
/// `groups` sequences (one per position inside a patch).
fn transformer_block(g: &mut GraphBuilder, name: &str, x: Id, dim: usize, heads: usize, groups: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let y = g.layer_norm(&n("norm1"), x, 1e-5)?;
    let y = g.linear(&n("attn.qkv"), y, 3 * dim, true)?;
    let y = g.grouped_attention(&n("attn.core"), y, heads, groups)?;
    let y = g.linear(&n("attn.proj"), y, dim, true)?;
    let x = g.add(&n("add1"), x, y)?;
    let y = g.layer_norm(&n("norm2"), x, 1e-5)?;
    let y = g.linear(&n("mlp.fc1"), y, 2 * dim, true)?;
    let y = g.act(&n("mlp.act"), y, Act::Silu);
    let y = g.linear(&n("mlp.fc2"), y, dim, true)?;
    g.add(&n("add2"), x, y)
}
