//! timm's Twins-PCPVT (timm/models/twins.py): PVT with conditional position encoding. Four stages,
//! each opened by a non-overlapping patch embedding (a `p x p` stride-`p` convolution, p = 4 then 2,
//! and a LayerNorm), of pre-norm blocks whose global sub-sampled attention takes its keys and
//! values from a spatially reduced copy of the tokens (a `sr x sr` stride-`sr` convolution and a
//! LayerNorm; none where `sr` is 1, as PVTv2's) and whose MLP is a plain two-layer GELU MLP. After
//! each stage's first block a position generator (PosConv: a depthwise 3x3 convolution on the token
//! map, added to it) stands in for position embeddings, so the network takes any input from 32 px
//! (the first reduction convolution's 8x8 window at 1/4), though timm flags it fixed-size (only its
//! patch embedding's constructor checks `img_size`). A LayerNorm on the last stage's tokens, their
//! mean and a linear head close it.
//!
//! MACs count the attention matrix products (2 x tokens x reduced tokens x width) as fvcore does
//! with timm's fused attention off.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

// PCPVT's stages and attention are PVT's (v2's config and spatial-reduction attention; v1's plain MLP).
use super::pvt_v2::{Config, spatial_reduction_attention};

pub static ENTRIES: &[Entry] = &[Entry {
    name: "twins_pcpvt_base",
    family: "twins",
    kind: ModelKind::Other,
    efficient: false,
    paper: "https://arxiv.org/abs/2104.13840",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&TWINS_PCPVT_BASE, spec),
}];

/// `twins_pcpvt_base`: depths 3, 4, 18, 3, widths 64, 128, 320, 512, heads 1, 2, 5, 8, reductions
/// 8, 4, 2, 1, MLP ratios 8, 8, 4, 4.
pub const TWINS_PCPVT_BASE: Config = Config {
    depths: [3, 4, 18, 3],
    dims: [64, 128, 320, 512],
    heads: [1, 2, 5, 8],
    sr_ratios: [8, 4, 2, 1],
    mlp_ratios: [8, 8, 4, 4],
};

/// The blocks' and the final norm's eps (`partial(nn.LayerNorm, eps=1e-6)`); `nn.LayerNorm`'s 1e-5
/// in the patch embeddings and the spatial reduction.
const EPS: f64 = 1e-6;
const TORCH_EPS: f64 = 1e-5;

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    // The image, then each stage's output: a map for the next stage's embedding, tokens after the last.
    let (mut g, mut x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    for s in 0..4 {
        let (dim, patch) = (config.dims[s], if s == 0 { 4 } else { 2 });
        let name = format!("patch_embeds.{s}");
        let m = g.conv(&format!("{name}.proj"), x, Conv::new(dim, patch, patch).padding(0).bias(true))?;
        let (h, w) = g.spatial(m);
        let t = g.map_to_tokens(&format!("{name}.flatten"), m)?;
        let mut t = g.layer_norm(&format!("{name}.norm"), t, TORCH_EPS)?;
        for b in 0..config.depths[s] {
            t = block(&mut g, &format!("blocks.{s}.{b}"), t, config, s, (h, w))?;
            if b == 0 {
                // PosConv: the depthwise convolution's output plus its input (stride 1).
                let name = format!("pos_block.{s}");
                let m = g.tokens_to_map(&format!("{name}.to_map"), t, h, w)?;
                let p = g.conv(&format!("{name}.proj.0"), m, Conv::new(dim, 3, 1).groups(dim).bias(true))?;
                let p = g.add(&format!("{name}.add"), p, m)?;
                t = g.map_to_tokens(&format!("{name}.flatten"), p)?;
            }
        }
        x = if s < 3 { g.tokens_to_map(&format!("blocks.{s}.to_map"), t, h, w)? } else { t };
    }
    let t = g.layer_norm("norm", x, EPS)?;
    let t = g.token_mean("head.mean", t)?;
    g.linear("head", t, spec.classes, true)?;
    Ok(g.finish())
}

/// Block with GlobalSubSampleAttn (`ws=1`, as every PCPVT block) and timm's Mlp.
fn block(g: &mut GraphBuilder, name: &str, x: Id, config: &Config, s: usize, (h, w): (usize, usize)) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let (dim, sr) = (config.dims[s], config.sr_ratios[s]);
    let y = g.layer_norm(&n("norm1"), x, EPS)?;
    let y = spatial_reduction_attention(g, &n("attn"), y, dim, sr, config.heads[s], (h, w))?;
    let x = g.add(&n("add1"), x, y)?;
    let y = g.layer_norm(&n("norm2"), x, EPS)?;
    let y = g.linear(&n("mlp.fc1"), y, dim * config.mlp_ratios[s], true)?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let y = g.linear(&n("mlp.fc2"), y, dim, true)?;
    g.add(&n("add2"), x, y)
}
