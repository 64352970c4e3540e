//! timm's normalisation-free networks (timm/models/nfnet.py), as the DeepMind-compatible NFNet-F
//! models (`_dm_nfnet_cfg`): no batch norm; every convolution is a scaled weight-standardised one
//! (ScaledStdConv2dSame: bias, learned gain, eps 1e-5, TensorFlow "SAME" padding, which is
//! one-sided zero padding for the strided 3x3s); activations are GELU times NFNet's gamma 1.7015;
//! a "deep quad" stem (3x3 convs to 16 s2, 32, 64, 128 s2); four stages of NormFreeBlocks
//! (pre-activation scaled by beta = 1/sqrt(expected variance), a 1x1, two grouped 3x3 of group
//! size 128 and a 1x1, squeeze-excite with ratio 1/2 times attention gain 2, the learned
//! `skipinit_gain`, alpha 0.2 on the residual, and an average-pool + 1x1 shortcut where the shape
//! changes); a 1x1 `final_conv` to 2 x the last width, gamma-GELU, and the classifier head.

use super::resnet::squeeze_excite;
use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result, Shape};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/2102.06171";
/// DeepMind's gamma for GELU (timm's `_nonlin_gamma`): keeps activations' variance near 1.
const GELU_GAMMA: f64 = 1.7015043497085571;
const ALPHA: f64 = 0.2;
const ATTN_GAIN: f64 = 2.0;
const EPS: f64 = 1e-5;
const GROUP_SIZE: usize = 128;

pub static ENTRIES: &[Entry] = &[Entry {
    name: "dm_nfnet_f0",
    family: "nfnet",
    kind: ModelKind::Cnn,
    efficient: false,
    paper: PAPER,
    default_size: 192,
    from_timm: true,
    build: |spec: &Spec| build(&[1, 2, 6, 3], spec),
}];

/// A ScaledStdConv2dSame: symmetric padding where TensorFlow's "SAME" is static (stride 1, odd
/// kernel), otherwise zero padding computed from the input size (one-sided when it is odd), as
/// timm's `pad_same`.
fn conv(
    g: &mut GraphBuilder,
    name: &str,
    x: Id,
    out: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
) -> Result<Id> {
    let conv = Conv::new(out, kernel, stride).groups(groups).bias(true);
    if stride == 1 && (kernel - 1).is_multiple_of(2) {
        return g.std_conv(name, x, conv.padding((kernel - 1) / 2), EPS);
    }
    let Shape::Map { h, w, .. } = g.shape(x) else { unreachable!("convolutions read maps") };
    let same = |size: usize| ((size.div_ceil(stride) - 1) * stride + kernel).saturating_sub(size);
    let (ph, pw) = (same(h), same(w));
    let x = if ph + pw > 0 { g.pad(&format!("{name}.pad"), x, ph / 2, ph - ph / 2, pw / 2, pw - pw / 2)? } else { x };
    g.std_conv(name, x, conv.padding(0), EPS)
}

/// GammaAct: GELU times gamma (`gamma_in_act`).
fn act(g: &mut GraphBuilder, name: &str, x: Id) -> Id {
    let x = g.act(name, x, Act::Gelu);
    g.scale(&format!("{name}.gamma"), x, GELU_GAMMA)
}

/// timm's make_divisible(v, 8) with its default round limit 0.9.
fn divisible(v: f64) -> usize {
    let mut out = (((v + 4.0) as usize) / 8 * 8).max(8);
    if (out as f64) < 0.9 * v {
        out += 8;
    }
    out
}

pub fn build(depths: &[usize; 4], spec: &Spec) -> Result<Graph> {
    let (mut builder, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let g = &mut builder;
    let stem = [(16, 2), (32, 1), (64, 1), (128, 2)];
    let mut x = x;
    for (i, (out, stride)) in stem.into_iter().enumerate() {
        x = conv(g, &format!("stem.conv{}", i + 1), x, out, 3, stride, 1)?;
        if i < 3 {
            x = act(g, &format!("stem.act{}", i + 2), x);
        }
    }
    let channels = [256, 512, 1536, 1536];
    let mut expected_var = 1.0f64;
    for (stage, (&depth, &out)) in depths.iter().zip(&channels).enumerate() {
        for index in 0..depth {
            let stride = if index == 0 && stage > 0 { 2 } else { 1 };
            let beta = 1.0 / expected_var.sqrt();
            x = block(g, &format!("stages.{stage}.{index}"), x, out, stride, beta)?;
            if index == 0 {
                expected_var = 1.0;
            }
            expected_var += ALPHA * ALPHA;
        }
    }
    let x = conv(g, "final_conv", x, 2 * channels[3], 1, 1, 1)?;
    let x = act(g, "final_act", x);
    g.classifier("head.fc", x, "head.global_pool.pool", spec.classes)?;
    Ok(builder.finish())
}

fn block(g: &mut GraphBuilder, name: &str, x: Id, out: usize, stride: usize, beta: f64) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let groups = divisible(out as f64 * 0.5) / GROUP_SIZE;
    let mid = GROUP_SIZE * groups;
    let pre = act(g, &n("act1"), x);
    let pre = g.scale(&n("beta"), pre, beta);
    let shortcut = if g.channels(x) != out || stride != 1 {
        let pooled = if stride > 1 {
            g.avg_pool(&n("downsample.pool"), pre, Pool::new(2, stride, 0).ceil_mode(true).count_include_pad(false))?
        } else {
            pre
        };
        conv(g, &n("downsample.conv"), pooled, out, 1, 1, 1)?
    } else {
        x
    };
    let y = conv(g, &n("conv1"), pre, mid, 1, 1, 1)?;
    let y = act(g, &n("act2"), y);
    let y = conv(g, &n("conv2"), y, mid, 3, stride, groups)?;
    let y = act(g, &n("act2b"), y);
    let y = conv(g, &n("conv2b"), y, mid, 3, 1, groups)?;
    let y = act(g, &n("act3"), y);
    let y = conv(g, &n("conv3"), y, out, 1, 1, 1)?;
    let y = squeeze_excite(g, &n("attn_last"), y, divisible_se(out))?;
    let y = g.scale(&n("attn_gain"), y, ATTN_GAIN);
    let y = g.scalar_gain(&n("skipinit_gain"), y);
    let y = g.scale(&n("alpha"), y, ALPHA);
    g.add(&n("add"), y, shortcut)
}

/// SE width: make_divisible(channels / 2, 8, round_limit=0).
fn divisible_se(channels: usize) -> usize {
    ((channels / 2 + 4) / 8 * 8).max(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_is_one_sided_for_even_maps() {
        let (mut g, x) = GraphBuilder::new(3, 192, 192);
        let y = conv(&mut g, "c", x, 16, 3, 2, 1).unwrap();
        assert_eq!(g.shape(y), Shape::Map { c: 16, h: 96, w: 96 });
        let graph = g.finish();
        assert_eq!(graph.nodes[1].op, crate::catalog::graph::Op::Pad { top: 0, bottom: 1, left: 0, right: 1 });
    }
}
