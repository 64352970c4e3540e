//! timm's MetaFormer baselines (timm/models/metaformer.py), here PoolFormer v1: a 7x7 stride-4
//! stem, four stages (the last three open with a 3x3 stride-2 convolution) of MetaFormer blocks
//! whose token mixer is pooling (3x3 average pooling without padded zeros, minus its input), each
//! half pre-normed by GroupNorm(1) and scaled by a learned layer scale, with a 1x1-convolution GELU
//! MLP; the head pools, applies a channel LayerNorm and a linear layer.
//!
//! MACs: fvcore has no handle for average pooling, and counts GroupNorm(1) and the head's LayerNorm
//! at 5 per element; the pooling's subtraction and the layer scales are free.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};
use crate::catalog::{Entry, Spec};

pub static ENTRIES: &[Entry] = &[Entry {
    name: "poolformer_m36",
    family: "metaformer",
    kind: ModelKind::Other,
    efficient: false,
    paper: "https://arxiv.org/abs/2210.13452",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&POOLFORMER_M36, spec),
}];

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub depths: [usize; 4],
    pub dims: [usize; 4],
}

/// `poolformer_m36`: depths 6, 6, 18, 6, widths 96, 192, 384, 768 (MLP ratio 4, layer scale 1e-6).
pub const POOLFORMER_M36: Config = Config { depths: [6, 6, 18, 6], dims: [96, 192, 384, 768] };

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let mut x = g.conv("stem.conv", x, Conv::new(config.dims[0], 7, 4).padding(2).bias(true))?;
    for s in 0..4 {
        let dim = config.dims[s];
        if s > 0 {
            x = g.conv(&format!("stages.{s}.downsample.conv"), x, Conv::new(dim, 3, 2).padding(1).bias(true))?;
        }
        for b in 0..config.depths[s] {
            x = block(&mut g, &format!("stages.{s}.blocks.{b}"), x, dim)?;
        }
    }
    let x = g.adaptive_avg_pool("head.global_pool", x, 1, 1)?;
    // timm's LayerNorm2d (eps 1e-6) on the pooled map.
    let x = g.layer_norm("head.norm", x, 1e-6)?;
    let x = g.flatten("head.flatten", x)?;
    g.linear("head.fc", x, spec.classes, true)?;
    Ok(g.finish())
}

fn block(g: &mut GraphBuilder, name: &str, x: Id, dim: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let y = g.group_norm1(&n("norm1"), x, 1e-5)?;
    let pooled = g.avg_pool(&n("token_mixer.pool"), y, Pool::new(3, 1, 1).count_include_pad(false))?;
    let negated = g.scale(&n("token_mixer.neg"), y, -1.0);
    let y = g.add(&n("token_mixer.sub"), pooled, negated)?;
    let y = g.layer_scale(&n("layer_scale1.scale"), y);
    let x = g.add(&n("add1"), x, y)?;
    let y = g.group_norm1(&n("norm2"), x, 1e-5)?;
    let y = g.conv(&n("mlp.fc1"), y, Conv::new(4 * dim, 1, 1).bias(true))?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let y = g.conv(&n("mlp.fc2"), y, Conv::new(dim, 1, 1).bias(true))?;
    let y = g.layer_scale(&n("layer_scale2.scale"), y);
    g.add(&n("add2"), x, y)
}
