//! timm's Pyramid Vision Transformer v2 (timm/models/pvt_v2.py): an overlapping 7x7 stride-4 patch
//! embedding, then four stages (the last three open with an overlapping 3x3 stride-2 embedding) of
//! pre-norm blocks whose attention takes its keys and values from a spatially reduced copy of the
//! tokens (a `sr x sr` stride-`sr` convolution and a LayerNorm; none where `sr` is 1), and whose MLP
//! runs a depthwise 3x3 convolution between its two linear layers; a LayerNorm closes each stage,
//! and the head averages the last map.
//!
//! MACs count the attention matrix products (2 x tokens x reduced tokens x width) as fvcore does
//! with timm's fused attention off.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

pub static ENTRIES: &[Entry] = &[Entry {
    name: "pvt_v2_b0",
    family: "pvt_v2",
    kind: ModelKind::Other,
    efficient: true,
    paper: "https://arxiv.org/abs/2106.13797",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&PVT_V2_B0, spec),
}];

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub depths: [usize; 4],
    pub dims: [usize; 4],
    pub heads: [usize; 4],
    pub sr_ratios: [usize; 4],
    pub mlp_ratios: [usize; 4],
}

/// `pvt_v2_b0`: depths 2, 2, 2, 2, widths 32, 64, 160, 256, heads 1, 2, 5, 8, reductions 8, 4, 2, 1,
/// MLP ratios 8, 8, 4, 4.
pub const PVT_V2_B0: Config = Config {
    depths: [2, 2, 2, 2],
    dims: [32, 64, 160, 256],
    heads: [1, 2, 5, 8],
    sr_ratios: [8, 4, 2, 1],
    mlp_ratios: [8, 8, 4, 4],
};

/// timm's `LayerNorm` (blocks and stage norms); `nn.LayerNorm`'s 1e-5 in the embeddings and the
/// spatial reduction.
const EPS: f64 = 1e-6;
const TORCH_EPS: f64 = 1e-5;

fn map_size(g: &GraphBuilder, x: Id) -> (usize, usize) {
    g.spatial(x)
}

/// OverlapPatchEmbed: conv (padding k/2, bias), channels-last LayerNorm; returns tokens and the map size.
fn embed(g: &mut GraphBuilder, name: &str, x: Id, dim: usize, k: usize, stride: usize) -> Result<(Id, (usize, usize))> {
    let x = g.conv(&format!("{name}.proj"), x, Conv::new(dim, k, stride).padding(k / 2).bias(true))?;
    let size = map_size(g, x);
    let x = g.map_to_tokens(&format!("{name}.flatten"), x)?;
    Ok((g.layer_norm(&format!("{name}.norm"), x, TORCH_EPS)?, size))
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, mut x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    for s in 0..4 {
        let dim = config.dims[s];
        let (mut t, (h, w)) = if s == 0 {
            embed(&mut g, "patch_embed", x, dim, 7, 4)?
        } else {
            embed(&mut g, &format!("stages.{s}.downsample"), x, dim, 3, 2)?
        };
        for b in 0..config.depths[s] {
            t = block(&mut g, &format!("stages.{s}.blocks.{b}"), t, config, s, (h, w))?;
        }
        let t = g.layer_norm(&format!("stages.{s}.norm"), t, EPS)?;
        x = g.tokens_to_map(&format!("stages.{s}.to_map"), t, h, w)?;
    }
    let x = g.spatial_mean("head.mean", x)?;
    let x = g.flatten("head.flatten", x)?;
    g.linear("head", x, spec.classes, true)?;
    Ok(g.finish())
}

/// Spatial-reduction attention (timm's pvt_v2 `Attention` with `linear=False`, and Twins'
/// GlobalSubSampleAttn): queries from every token, keys and values from the map reduced `sr` times by a
/// strided convolution and a LayerNorm (none when `sr` is 1).
pub(super) fn spatial_reduction_attention(
    g: &mut GraphBuilder,
    name: &str,
    y: Id,
    dim: usize,
    sr: usize,
    heads: usize,
    (h, w): (usize, usize),
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let q = g.linear(&n("q"), y, dim, true)?;
    let source = if sr > 1 {
        let m = g.tokens_to_map(&n("to_map"), y, h, w)?;
        let m = g.conv(&n("sr"), m, Conv::new(dim, sr, sr).padding(0).bias(true))?;
        let t = g.map_to_tokens(&n("flatten"), m)?;
        g.layer_norm(&n("norm"), t, TORCH_EPS)?
    } else {
        y
    };
    let kv = g.linear(&n("kv"), source, 2 * dim, true)?;
    let k = g.slice_features(&n("k"), kv, 0, dim)?;
    let v = g.slice_features(&n("v"), kv, dim, dim)?;
    let y = g.cross_attention(&n("core"), q, k, v, heads)?;
    g.linear(&n("proj"), y, dim, true)
}

fn block(g: &mut GraphBuilder, name: &str, x: Id, config: &Config, s: usize, (h, w): (usize, usize)) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let (dim, sr) = (config.dims[s], config.sr_ratios[s]);
    let y = g.layer_norm(&n("norm1"), x, EPS)?;
    let y = spatial_reduction_attention(g, &n("attn"), y, dim, sr, config.heads[s], (h, w))?;
    let x = g.add(&n("add1"), x, y)?;
    let hidden = dim * config.mlp_ratios[s];
    let y = g.layer_norm(&n("norm2"), x, EPS)?;
    let y = g.linear(&n("mlp.fc1"), y, hidden, true)?;
    let m = g.tokens_to_map(&n("mlp.to_map"), y, h, w)?;
    let m = g.conv(&n("mlp.dwconv"), m, Conv::new(hidden, 3, 1).groups(hidden).bias(true))?;
    let y = g.map_to_tokens(&n("mlp.flatten"), m)?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let y = g.linear(&n("mlp.fc2"), y, dim, true)?;
    g.add(&n("add2"), x, y)
}
