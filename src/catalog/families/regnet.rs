//! timm's RegNet (timm/models/regnet.py), in its pre-activation "V" form (regnetv_040): a plain
//! 3x3 stride-2 stem conv, four stages `s1`..`s4` of pre-activation bottlenecks (batch norm + SiLU
//! before the 1x1, the grouped 3x3 and the last 1x1 convs, squeeze-excite after the 3x3 with
//! `round(in_chs / 4)` reduced channels and SiLU, a plain strided 1x1 conv shortcut from the
//! pre-activated input where the shape changes), a final SiLU and a classifier head.
//!
//! The per-stage widths, depths and groups are timm's `generate_regnet` output for the model's
//! (w0, wa, wm, depth, group size), written out as a table rather than recomputed.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

/// (depth, width, groups) per stage.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub stem: usize,
    pub stages: [(usize, usize, usize); 4],
}

/// regnetv_040: w0 96, wa 31.41, wm 2.24, group size 64, depth 22, SE 0.25, pre-activation, SiLU.
const REGNETV_040: Config = Config { stem: 32, stages: [(2, 128, 2), (6, 192, 3), (12, 512, 8), (2, 1088, 17)] };

pub static ENTRIES: &[Entry] = &[Entry {
    name: "regnetv_040",
    family: "regnet",
    kind: ModelKind::Cnn,
    efficient: false,
    paper: "https://arxiv.org/abs/2003.13678",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&REGNETV_040, spec),
}];

/// Python's `int(round(c * 0.25))` (ties to even).
fn round_quarter(c: usize) -> usize {
    let (q, r) = (c / 4, c % 4);
    if r < 2 || (r == 2 && q % 2 == 0) { q } else { q + 1 }
}

fn norm_act(g: &mut GraphBuilder, name: &str, x: Id) -> Result<Id> {
    let x = g.batch_norm(name, x)?;
    Ok(g.act(&format!("{name}.act"), x, Act::Silu))
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let mut x = g.conv("stem", x, Conv::new(config.stem, 3, 2))?;
    for (s, &(depth, width, groups)) in config.stages.iter().enumerate() {
        for b in 0..depth {
            let n = |part: &str| format!("s{}.b{}.{part}", s + 1, b + 1);
            let stride = if b == 0 { 2 } else { 1 };
            let in_chs = g.channels(x);
            let pre = norm_act(&mut g, &n("norm1"), x)?;
            let y = g.conv(&n("conv1"), pre, Conv::new(width, 1, 1))?;
            let y = norm_act(&mut g, &n("norm2"), y)?;
            let y = g.conv(&n("conv2"), y, Conv::new(width, 3, stride).groups(groups))?;
            // SEModule with rd_channels = round(in_chs * 0.25) and SiLU.
            let se = g.spatial_mean(&n("se.mean"), y)?;
            let se = g.conv(&n("se.fc1"), se, Conv::new(round_quarter(in_chs), 1, 1).bias(true))?;
            let se = g.act(&n("se.act"), se, Act::Silu);
            let se = g.conv(&n("se.fc2"), se, Conv::new(width, 1, 1).bias(true))?;
            let se = g.act(&n("se.gate"), se, Act::Sigmoid);
            let y = g.gate(&n("se.mul"), y, se)?;
            let y = norm_act(&mut g, &n("norm3"), y)?;
            let y = g.conv(&n("conv3"), y, Conv::new(width, 1, 1))?;
            let shortcut = if in_chs != width || stride != 1 {
                g.conv(&n("downsample"), pre, Conv::new(width, 1, stride))?
            } else {
                pre
            };
            x = g.add(&n("add"), y, shortcut)?;
        }
    }
    let x = g.act("final_conv", x, Act::Silu);
    g.classifier("head.fc", x, "head.global_pool.pool", spec.classes)?;
    Ok(g.finish())
}
