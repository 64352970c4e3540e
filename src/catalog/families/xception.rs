//! timm's aligned Xception (timm/models/xception_aligned.py): a stem of two 3x3 convolutions, then
//! Xception modules of three depthwise-separable 3x3 convolutions (the last one strided) with a
//! 1x1 projection shortcut where the shape changes, and a classifier head on global average
//! pooling. The plain variants (xception41/65/71) put ReLU before each separable conv and batch
//! norm after both its depthwise and pointwise parts; the last module runs without a skip, with
//! ReLU after each part instead. The "p" variants are pre-activation: batch norm + ReLU before a
//! module and before its second and third separable convs, no norm inside, a plain conv shortcut
//! on the normalised input, and a final ReLU before the head.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/1610.02357";

/// One Xception configuration: how many 728-wide middle modules, the xception71-style entry flow,
/// pre-activation, and the batch norm epsilon.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub middle: usize,
    /// xception71's entry flow: 64 -> 128 (s2) -> 256 -> 256 (s2) -> 728 -> 728 (s2).
    pub long_entry: bool,
    pub preact: bool,
    pub eps: f64,
}

macro_rules! xception {
    ($name:literal, $middle:literal, $long:literal, $preact:literal, $eps:literal) => {
        Entry {
            name: $name,
            family: "xception",
            kind: ModelKind::Cnn,
            efficient: false,
            paper: PAPER,
            default_size: 299,
            from_timm: true,
            build: |spec: &Spec| {
                build(&Config { middle: $middle, long_entry: $long, preact: $preact, eps: $eps }, spec)
            },
        }
    };
}

pub static ENTRIES: &[Entry] = &[
    xception!("xception41p", 8, false, true, 1e-5),
    xception!("xception41", 8, false, false, 1e-3),
    xception!("xception65p", 16, false, true, 1e-3),
    // Not a timm 1.0 model: timm 0.6's gluon_xception.py (see `gluon65`).
    Entry {
        name: "gluon_xception65",
        family: "xception",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: PAPER,
        default_size: 299,
        from_timm: true,
        build: gluon65,
    },
    xception!("xception71", 16, true, false, 1e-3),
];

/// (in, [out; 3], stride, skip) for each module.
fn modules(config: &Config) -> Vec<(usize, [usize; 3], usize, bool)> {
    let same = |c: usize| [c, c, c];
    let mut list = if config.long_entry {
        vec![
            (64, same(128), 2, true),
            (128, same(256), 1, true),
            (256, same(256), 2, true),
            (256, same(728), 1, true),
            (728, same(728), 2, true),
        ]
    } else {
        vec![(64, same(128), 2, true), (128, same(256), 2, true), (256, same(728), 2, true)]
    };
    list.extend((0..config.middle).map(|_| (728, same(728), 1, true)));
    list.push((728, [728, 1024, 1024], 2, true));
    list.push((1024, [1536, 1536, 2048], 1, false));
    list
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let relu = Some(Act::Relu);
    let x = conv_bn(&mut g, "stem.0", x, Conv::new(32, 3, 2), config.eps, relu)?;
    let mut x = if config.preact {
        g.conv("stem.1", x, Conv::new(64, 3, 1))?
    } else {
        conv_bn(&mut g, "stem.1", x, Conv::new(64, 3, 1), config.eps, relu)?
    };
    let list = modules(config);
    let last = list.len() - 1;
    for (i, (_, outs, stride, skip)) in list.into_iter().enumerate() {
        let name = format!("blocks.{i}");
        x = if config.preact {
            pre_module(&mut g, &name, x, outs, stride, skip, config.eps)?
        } else {
            module(&mut g, &name, x, outs, stride, skip, i < last, config.eps)?
        };
    }
    if config.preact {
        x = g.act("act", x, Act::Relu);
    }
    g.classifier("head.fc", x, "head.global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

/// ConvNormAct: `{name}.conv`, `{name}.bn`.
fn conv_bn(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv, eps: f64, act: Option<Act>) -> Result<Id> {
    let x = g.conv(&format!("{name}.conv"), x, conv)?;
    let x = g.batch_norm_eps(&format!("{name}.bn"), x, eps)?;
    Ok(match act {
        Some(act) => g.act(&format!("{name}.bn.act"), x, act),
        None => x,
    })
}

fn depthwise(g: &mut GraphBuilder, name: &str, x: Id, stride: usize) -> Result<Id> {
    let c = g.channels(x);
    g.conv(name, x, Conv::new(c, 3, stride).groups(c))
}

#[allow(clippy::too_many_arguments)]
fn module(
    g: &mut GraphBuilder,
    name: &str,
    input: Id,
    outs: [usize; 3],
    stride: usize,
    skip: bool,
    start_with_relu: bool,
    eps: f64,
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let mut x = input;
    for (i, &out) in outs.iter().enumerate() {
        let conv = n(&format!("stack.conv{}", i + 1));
        if start_with_relu {
            x = g.act(&n(&format!("stack.act{}", i + 1)), x, Act::Relu);
        }
        let inner = (!start_with_relu).then_some(Act::Relu);
        x = depthwise(g, &format!("{conv}.conv_dw"), x, if i == 2 { stride } else { 1 })?;
        x = g.batch_norm_eps(&format!("{conv}.bn_dw"), x, eps)?;
        if let Some(act) = inner {
            x = g.act(&format!("{conv}.act_dw"), x, act);
        }
        x = g.conv(&format!("{conv}.conv_pw"), x, Conv::new(out, 1, 1))?;
        x = g.batch_norm_eps(&format!("{conv}.bn_pw"), x, eps)?;
        if let Some(act) = inner {
            x = g.act(&format!("{conv}.act_pw"), x, act);
        }
    }
    if !skip {
        return Ok(x);
    }
    let shortcut = if outs[2] != g.channels(input) || stride != 1 {
        conv_bn(g, &n("shortcut"), input, Conv::new(outs[2], 1, stride), eps, None)?
    } else {
        input
    };
    g.add(&n("add"), x, shortcut)
}

fn pre_module(
    g: &mut GraphBuilder,
    name: &str,
    input: Id,
    outs: [usize; 3],
    stride: usize,
    skip: bool,
    eps: f64,
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let normed = g.batch_norm_eps(&n("norm"), input, eps)?;
    let normed = g.act(&n("norm.act"), normed, Act::Relu);
    let mut x = normed;
    for (i, &out) in outs.iter().enumerate() {
        let conv = n(&format!("stack.conv{}", i + 1));
        if i > 0 {
            x = g.batch_norm_eps(&format!("{conv}.norm"), x, eps)?;
            x = g.act(&format!("{conv}.norm.act"), x, Act::Relu);
        }
        x = depthwise(g, &format!("{conv}.conv_dw"), x, if i == 2 { stride } else { 1 })?;
        x = g.conv(&format!("{conv}.conv_pw"), x, Conv::new(out, 1, 1))?;
    }
    if !skip {
        return Ok(x);
    }
    let shortcut = if outs[2] != g.channels(input) || stride != 1 {
        g.conv(&n("shortcut"), normed, Conv::new(outs[2], 1, stride))?
    } else {
        normed
    };
    g.add(&n("add"), x, shortcut)
}

/// timm 0.6's Gluon Xception-65 (timm/models/gluon_xception.py, dropped in timm 0.9; the paper ran it):
/// the aligned Xception-65 with output stride 32 under its own module names. Stem `conv1`/`bn1`
/// (3x3 stride 2, 32) and `conv2`/`bn2` (64) with ReLU; `block1`..`block3` (128, 256, 728, all
/// stride 2), `mid.block4`..`mid.block19` (728), `block20` (728, 1024, 1024, stride 2), each a
/// `rep` of three separable convs (depthwise 3x3 `conv_dw`, batch norm `bn`, pointwise `conv_pw`)
/// each followed by batch norm `bnN` and preceded by ReLU (`block1`/`block2` start without it), plus
/// a `skip` 1x1 conv and batch norm where the shape changes; ReLU after `block1` and `block20`; then
/// separable convs `conv3`..`conv5` (1536, 1536, 2048) with `bn3`..`bn5` and ReLU; `fc` on global
/// average pooling. Batch norm eps 1e-5 throughout.
pub fn gluon65(spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let relu = Some(Act::Relu);
    let x = g.conv_bn_act("conv1", "bn1", x, Conv::new(32, 3, 2), relu)?;
    let x = g.conv_bn_act("conv2", "bn2", x, Conv::new(64, 3, 1), relu)?;
    let x = gluon_block(&mut g, "block1", x, [128; 3], 2, false)?;
    let x = g.act("block1_act", x, Act::Relu);
    let x = gluon_block(&mut g, "block2", x, [256; 3], 2, false)?;
    let mut x = gluon_block(&mut g, "block3", x, [728; 3], 2, true)?;
    for i in 4..20 {
        x = gluon_block(&mut g, &format!("mid.block{i}"), x, [728; 3], 1, true)?;
    }
    let x = gluon_block(&mut g, "block20", x, [728, 1024, 1024], 2, true)?;
    let mut x = g.act("block20_act", x, Act::Relu);
    for (i, out) in [(3, 1536), (4, 1536), (5, 2048)] {
        x = separable(&mut g, &format!("conv{i}"), x, out, 1)?;
        x = g.batch_norm(&format!("bn{i}"), x)?;
        x = g.act(&format!("act{i}"), x, Act::Relu);
    }
    g.classifier("fc", x, "global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

/// Gluon's SeparableConv2d: depthwise 3x3 `conv_dw`, batch norm `bn`, pointwise 1x1 `conv_pw`.
fn separable(g: &mut GraphBuilder, name: &str, x: Id, out: usize, stride: usize) -> Result<Id> {
    let x = depthwise(g, &format!("{name}.conv_dw"), x, stride)?;
    let x = g.batch_norm(&format!("{name}.bn"), x)?;
    g.conv(&format!("{name}.conv_pw"), x, Conv::new(out, 1, 1))
}

/// Gluon's Block: `rep` = [ReLU] sep conv1, bn1, ReLU, conv2, bn2, ReLU, conv3 (strided), bn3; plus
/// the skip (1x1 conv `skip.conv1` and `skip.bn1` where the shape changes). The first ReLU is not
/// in place, so an identity skip adds the block's input before activation.
fn gluon_block(
    g: &mut GraphBuilder,
    name: &str,
    input: Id,
    outs: [usize; 3],
    stride: usize,
    start_relu: bool,
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let mut x = input;
    for (i, &out) in outs.iter().enumerate() {
        if i > 0 || start_relu {
            x = g.act(&n(&format!("rep.act{}", i + 1)), x, Act::Relu);
        }
        x = separable(g, &n(&format!("rep.conv{}", i + 1)), x, out, if i == 2 { stride } else { 1 })?;
        x = g.batch_norm(&n(&format!("rep.bn{}", i + 1)), x)?;
    }
    let skip = if outs[2] != g.channels(input) || stride != 1 {
        g.conv_bn_act(&n("skip.conv1"), &n("skip.bn1"), input, Conv::new(outs[2], 1, stride), None)?
    } else {
        input
    };
    g.add(&n("add"), x, skip)
}
