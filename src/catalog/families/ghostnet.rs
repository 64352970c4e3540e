//! timm's GhostNet v1 (timm/models/ghostnet.py, `version='v1'`).
//!
//! A `GhostModule` makes `ceil(out / 2)` channels with a 1x1 "primary" convolution, as many again
//! with a cheap 3x3 depthwise convolution of those, concatenates the two and keeps the first
//! `out` channels. A `GhostBottleneck` is ghost module (ReLU) → [3x3/5x5 depthwise stride-2
//! convolution] → [squeeze-excite] → ghost module (no activation), plus the input, or a
//! depthwise + point-wise convolution of it when the shape changes. The head pools first, then a
//! 1x1 `conv_head` with bias, ReLU, and the classifier.

use super::efficientnet::make_divisible;
use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

/// One bottleneck: kernel, expansion width, output width, SE ratio, stride (`cfgs` in timm).
type Layer = (usize, usize, usize, f64, usize);

/// `_create_ghostnet`'s `cfgs`: one inner list per stage.
const CFGS: &[&[Layer]] = &[
    &[(3, 16, 16, 0.0, 1)],
    &[(3, 48, 24, 0.0, 2)],
    &[(3, 72, 24, 0.0, 1)],
    &[(5, 72, 40, 0.25, 2)],
    &[(5, 120, 40, 0.25, 1)],
    &[(3, 240, 80, 0.0, 2)],
    &[(3, 200, 80, 0.0, 1), (3, 184, 80, 0.0, 1), (3, 184, 80, 0.0, 1), (3, 480, 112, 0.25, 1), (3, 672, 112, 0.25, 1)],
    &[(5, 672, 160, 0.25, 2)],
    &[(5, 960, 160, 0.0, 1), (5, 960, 160, 0.25, 1), (5, 960, 160, 0.0, 1), (5, 960, 160, 0.25, 1)],
];

fn conv_bn(g: &mut GraphBuilder, prefix: &str, first: usize, x: Id, conv: Conv, act: Option<Act>) -> Result<Id> {
    let x = g.conv(&format!("{prefix}.{first}"), x, conv)?;
    let x = g.batch_norm(&format!("{prefix}.{}", first + 1), x)?;
    Ok(match act {
        Some(act) => g.act(&format!("{prefix}.{}", first + 2), x, act),
        None => x,
    })
}

/// `GhostModule(in, out)` with ratio 2, 1x1 primary and 3x3 cheap convolutions.
fn ghost_module(g: &mut GraphBuilder, name: &str, x: Id, out: usize, act: Option<Act>) -> Result<Id> {
    let init = out.div_ceil(2);
    let x1 = conv_bn(g, &format!("{name}.primary_conv"), 0, x, Conv::new(init, 1, 1), act)?;
    let x2 = conv_bn(g, &format!("{name}.cheap_operation"), 0, x1, Conv::new(init, 3, 1).groups(init), act)?;
    let both = g.concat(&format!("{name}.cat"), &[x1, x2])?;
    if 2 * init == out { Ok(both) } else { g.slice_channels(&format!("{name}.slice"), both, 0, out) }
}

fn bottleneck(g: &mut GraphBuilder, name: &str, x: Id, mid: usize, out: usize, layer: Layer) -> Result<Id> {
    let (kernel, _, _, se_ratio, stride) = layer;
    let n = |part: &str| format!("{name}.{part}");
    let in_chs = g.channels(x);
    let mut y = ghost_module(g, &n("ghost1"), x, mid, Some(Act::Relu))?;
    if stride > 1 {
        y = g.conv(&n("conv_dw"), y, Conv::new(mid, kernel, stride).padding((kernel - 1) / 2).groups(mid))?;
        y = g.batch_norm(&n("bn_dw"), y)?;
    }
    if se_ratio > 0.0 {
        // timm's `_SE_LAYER`: SqueezeExcite with ReLU, a hard-sigmoid gate and the reduced width
        // rounded by make_divisible(·, 4).
        let rd = make_divisible(mid as f64 * se_ratio, 4);
        let s = g.spatial_mean(&n("se.mean"), y)?;
        let s = g.conv(&n("se.conv_reduce"), s, Conv::new(rd, 1, 1).bias(true))?;
        let s = g.act(&n("se.act1"), s, Act::Relu);
        let s = g.conv(&n("se.conv_expand"), s, Conv::new(mid, 1, 1).bias(true))?;
        let s = g.act(&n("se.gate"), s, Act::HardSigmoid);
        y = g.gate(&n("se.mul"), y, s)?;
    }
    let y = ghost_module(g, &n("ghost2"), y, out, None)?;
    let shortcut = if in_chs == out && stride == 1 {
        x
    } else {
        let dw = Conv::new(in_chs, kernel, stride).padding((kernel - 1) / 2).groups(in_chs);
        let s = conv_bn(g, &n("shortcut"), 0, x, dw, None)?;
        conv_bn(g, &n("shortcut"), 2, s, Conv::new(out, 1, 1), None)?
    };
    g.add(&n("add"), y, shortcut)
}

/// GhostNet v1 at `width` (timm's `GhostNet(cfgs, width=width)`).
pub fn build(width: f64, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let stem = make_divisible(16.0 * width, 4);
    let x = g.conv("conv_stem", x, Conv::new(stem, 3, 2))?;
    let x = g.batch_norm("bn1", x)?;
    let mut x = g.act("act1", x, Act::Relu);
    let mut last_exp = 0;
    for (s, stage) in CFGS.iter().enumerate() {
        for (i, &layer) in stage.iter().enumerate() {
            let (_, exp, c, _, _) = layer;
            let out = make_divisible(c as f64 * width, 4);
            let mid = make_divisible(exp as f64 * width, 4);
            x = bottleneck(&mut g, &format!("blocks.{s}.{i}"), x, mid, out, layer)?;
            last_exp = exp;
        }
    }
    // The last stage: a ConvBnAct to the last expansion width.
    let out = make_divisible(last_exp as f64 * width, 4);
    let name = format!("blocks.{}.0", CFGS.len());
    let x = g.conv(&format!("{name}.conv"), x, Conv::new(out, 1, 1))?;
    let x = g.batch_norm(&format!("{name}.bn1"), x)?;
    let x = g.act(&format!("{name}.bn1.act"), x, Act::Relu);

    let x = g.adaptive_avg_pool("global_pool.pool", x, 1, 1)?;
    let x = g.conv("conv_head", x, Conv::new(1280, 1, 1).bias(true))?;
    let x = g.act("act2", x, Act::Relu);
    let x = g.flatten("flatten", x)?;
    g.linear("classifier", x, spec.classes, true)?;
    Ok(g.finish())
}

pub static ENTRIES: &[Entry] = &[Entry {
    name: "ghostnet_100",
    family: "ghostnet",
    kind: ModelKind::Cnn,
    efficient: true,
    paper: "https://arxiv.org/abs/1911.11907",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(1.0, spec),
}];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::count::total_macs;

    #[test]
    fn ghostnet_100_matches_timm_at_224() {
        let graph = build(1.0, &Spec::imagenet(224)).unwrap();
        assert_eq!(graph.params(), 5_182_508);
        assert_eq!(total_macs(&graph), 148_273_936);
        let se = graph.nodes.iter().find(|n| n.name == "blocks.3.0.se.conv_reduce").unwrap();
        assert_eq!(se.output.to_string(), "20x1x1");
    }
}
