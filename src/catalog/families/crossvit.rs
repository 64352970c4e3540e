//! timm's CrossViT (timm/models/crossvit.py): two ViT branches on the same image at two patch sizes,
//! fused by cross-attention of each branch's class token over the other branch's patch tokens.
//!
//! Each branch first resizes the image (bicubic, `align_corners=False`) to its own fixed image size
//! (`img_size x img_scale`), unless it has that size already, so the model takes any input size and
//! its position embeddings never change. A multi-scale block runs each branch's ViT blocks, projects
//! each class token to the other branch's width (LayerNorm, GELU, linear), lets it attend over the
//! other branch's patch tokens (a pre-norm cross-attention with its own residual), projects it back,
//! and puts it in front of its own branch's patch tokens again. The logits are the mean of the two
//! branches' heads on their class tokens.
//!
//! MACs count the attention matrix products (self- and cross-attention) as fvcore does with timm's
//! fused attention off; fvcore has no handle for the bicubic resize, so it is free.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Interp, Result};
use crate::catalog::{Entry, Spec};

/// timm's LayerNorm epsilon for CrossViT.
const EPS: f64 = 1e-6;

pub static ENTRIES: &[Entry] = &[Entry {
    name: "crossvit_9_240",
    family: "crossvit",
    kind: ModelKind::Other,
    efficient: true,
    paper: "https://arxiv.org/abs/2103.14899",
    default_size: 240,
    from_timm: true,
    build: |spec: &Spec| build(&CROSSVIT_9_240, spec),
}];

/// One branch: its image side after resizing, patch size, width, heads, ViT blocks per multi-scale
/// block and MLP ratio.
#[derive(Clone, Copy, Debug)]
pub struct Branch {
    pub image: usize,
    pub patch: usize,
    pub dim: usize,
    pub heads: usize,
    pub depth: usize,
    pub mlp_ratio: usize,
}

/// A CrossViT configuration (two branches; timm's `depth[-1] == 0` form: one cross-attention per
/// branch and multi-scale block).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub branches: [Branch; 2],
    pub blocks: usize,
}

/// `crossvit_9_240`: 240 px / patch 12 / width 128 and 224 px (240 x 224/240) / patch 16 / width 256,
/// 4 heads, depths 1 and 3, MLP ratio 3, three multi-scale blocks.
pub const CROSSVIT_9_240: Config = Config {
    branches: [
        Branch { image: 240, patch: 12, dim: 128, heads: 4, depth: 1, mlp_ratio: 3 },
        Branch { image: 224, patch: 16, dim: 256, heads: 4, depth: 3, mlp_ratio: 3 },
    ],
    blocks: 3,
};

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, image) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let mut xs = Vec::new();
    for (i, branch) in config.branches.iter().enumerate() {
        let s = branch.image;
        let x = if (spec.height, spec.width) == (s, s) {
            image
        } else {
            g.resize(&format!("patch_embed.{i}.scale_image"), image, s, s, Interp::Bicubic)?
        };
        let p = branch.patch;
        let x = g.conv(&format!("patch_embed.{i}.proj"), x, Conv::new(branch.dim, p, p).padding(0).bias(true))?;
        let x = g.map_to_tokens(&format!("patch_embed.{i}.flatten"), x)?;
        let x = g.class_token(&format!("cls_token_{i}"), x)?;
        xs.push(g.position_embedding(&format!("pos_embed_{i}"), x)?);
    }
    for b in 0..config.blocks {
        xs = multi_scale_block(&mut g, &format!("blocks.{b}"), &xs, config)?;
    }
    let mut logits = Vec::new();
    for (i, &x) in xs.iter().enumerate() {
        let x = g.layer_norm(&format!("norm.{i}"), x, EPS)?;
        let x = g.first_token(&format!("pool.{i}"), x)?;
        logits.push(g.linear(&format!("head.{i}"), x, spec.classes, true)?);
    }
    // torch.mean(torch.stack(heads), 0) for two heads.
    let sum = g.add("head.sum", logits[0], logits[1])?;
    Ok({
        g.scale("head.mean", sum, 0.5);
        g.finish()
    })
}

fn multi_scale_block(g: &mut GraphBuilder, name: &str, xs: &[Id], config: &Config) -> Result<Vec<Id>> {
    let n = |part: String| format!("{name}.{part}");
    let mut outs = Vec::new();
    for (d, (branch, &x)) in config.branches.iter().zip(xs).enumerate() {
        let mut x = x;
        for i in 0..branch.depth {
            x = vit_block(g, &n(format!("blocks.{d}.{i}")), x, branch)?;
        }
        outs.push(x);
    }
    let mut fused = Vec::new();
    for (d, branch) in config.branches.iter().enumerate() {
        let other = &config.branches[(d + 1) % 2];
        let (own, theirs) = (outs[d], outs[(d + 1) % 2]);
        // The class token, in the other branch's width.
        let cls = g.slice_tokens(&n(format!("projs.{d}.cls")), own, 0, 1)?;
        let cls = projection(g, &n(format!("projs.{d}")), cls, other.dim)?;
        let (count, _) = tokens(g, theirs);
        let patches = g.slice_tokens(&n(format!("fusion.{d}.patches")), theirs, 1, count - 1)?;
        let joined = g.concat_tokens(&n(format!("fusion.{d}.cat")), &[cls, patches])?;
        let cls = cross_attention_block(g, &n(format!("fusion.{d}")), joined, other.heads)?;
        // Back to this branch's width, in front of its own patch tokens.
        let cls = projection(g, &n(format!("revert_projs.{d}")), cls, branch.dim)?;
        let (count, _) = tokens(g, own);
        let patches = g.slice_tokens(&n(format!("revert_projs.{d}.patches")), own, 1, count - 1)?;
        fused.push(g.concat_tokens(&n(format!("revert_projs.{d}.cat")), &[cls, patches])?);
    }
    Ok(fused)
}

fn tokens(g: &GraphBuilder, x: Id) -> (usize, usize) {
    match g.shape(x) {
        crate::catalog::graph::Shape::Tokens { n, d } => (n, d),
        other => unreachable!("CrossViT's branches are tokens, got {other}"),
    }
}

/// LayerNorm, GELU, linear to `out` (timm's `projs` / `revert_projs` Sequential: `.0`, `.1`, `.2`).
fn projection(g: &mut GraphBuilder, name: &str, x: Id, out: usize) -> Result<Id> {
    let x = g.layer_norm(&format!("{name}.0"), x, EPS)?;
    let x = g.act(&format!("{name}.1"), x, Act::Gelu);
    g.linear(&format!("{name}.2"), x, out, true)
}

/// timm's CrossAttentionBlock: `x[:, 0:1] + proj(attention of wq(norm(x)[:, 0:1]) over wk, wv(norm(x)))`.
fn cross_attention_block(g: &mut GraphBuilder, name: &str, x: Id, heads: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let (_, dim) = tokens(g, x);
    let y = g.layer_norm(&n("norm1"), x, EPS)?;
    let first = g.slice_tokens(&n("attn.cls"), y, 0, 1)?;
    let q = g.linear(&n("attn.wq"), first, dim, true)?;
    let k = g.linear(&n("attn.wk"), y, dim, true)?;
    let v = g.linear(&n("attn.wv"), y, dim, true)?;
    let y = g.cross_attention(&n("attn.core"), q, k, v, heads)?;
    let y = g.linear(&n("attn.proj"), y, dim, true)?;
    let cls = g.slice_tokens(&n("cls"), x, 0, 1)?;
    g.add(&n("add"), cls, y)
}

/// timm's ViT Block (pre-norm attention and MLP, qkv bias) at the branch's width and MLP ratio.
fn vit_block(g: &mut GraphBuilder, name: &str, x: Id, branch: &Branch) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let dim = branch.dim;
    let y = g.layer_norm(&n("norm1"), x, EPS)?;
    let y = g.linear(&n("attn.qkv"), y, 3 * dim, true)?;
    let y = g.attention(&n("attn.core"), y, branch.heads)?;
    let y = g.linear(&n("attn.proj"), y, dim, true)?;
    let x = g.add(&n("add1"), x, y)?;
    let y = g.layer_norm(&n("norm2"), x, EPS)?;
    let y = g.linear(&n("mlp.fc1"), y, branch.mlp_ratio * dim, true)?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let y = g.linear(&n("mlp.fc2"), y, dim, true)?;
    g.add(&n("add2"), x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::count::total_macs;

    #[test]
    fn any_input_size_is_resized_to_the_branches_images() {
        let entry = &ENTRIES[0];
        // timm 1.0.31 + fvcore (fused attention off): 1,848,921,600 at 3x240x240; the blocks do not
        // depend on the input size, only the patch embeddings' input channels do.
        let at_240 = entry.graph(&Spec::imagenet(240)).unwrap();
        assert_eq!(at_240.params(), 8_553_296);
        assert_eq!(total_macs(&at_240), 1_848_921_600);
        // No resize where the input already has the branch's size.
        assert_eq!(at_240.nodes.iter().filter(|n| n.name.ends_with("scale_image")).count(), 1);
        for size in [1, 28, 241] {
            let graph = entry.graph(&Spec::new(1, 7, size)).unwrap();
            assert_eq!(graph.params(), 8_002_062, "{size}");
        }
    }
}
