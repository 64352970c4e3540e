//! timm's Dual Path Networks (timm/models/dpn.py): a conv + batch norm + ReLU stem (7x7, or 3x3
//! for the "small" DPN-68) and a 3x3 stride-2 max pool, then four stages of dual path blocks on one
//! tensor whose first `bw` channels are the residual path and the rest the dense path. A block
//! runs pre-activation (batch norm, ReLU, conv) 1x1, grouped 3x3 and 1x1 convolutions; the first
//! block of a stage projects its input (pre-activated 1x1, strided from the second stage on). The
//! output is `cat[residual + new residual, dense, new dense]`. The "b" variants split the last 1x1
//! into two convolutions. The classifier is a 1x1 convolution on the pooled features. Every batch
//! norm has eps 1e-3 and ReLU, the last one (`conv5_bn_ac`) too: timm asks for ELU there
//! (`fc_act_layer='elu'`), but its nested norm-act partial keeps ReLU, and the catalog follows what
//! timm 1.0.31 computes.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/1707.01629";
const EPS: f64 = 1e-3;

/// One DPN configuration (the arguments of timm's `DPN`).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub small: bool,
    pub num_init_features: usize,
    pub k_r: usize,
    pub groups: usize,
    pub b: bool,
    pub k_sec: [usize; 4],
    pub inc_sec: [usize; 4],
}

const DPN68: Config = Config {
    small: true,
    num_init_features: 10,
    k_r: 128,
    groups: 32,
    b: false,
    k_sec: [3, 4, 12, 3],
    inc_sec: [16, 32, 32, 64],
};
const DPN92: Config = Config {
    small: false,
    num_init_features: 64,
    k_r: 96,
    groups: 32,
    b: false,
    k_sec: [3, 4, 20, 3],
    inc_sec: [16, 32, 24, 128],
};
const DPN98: Config = Config {
    small: false,
    num_init_features: 96,
    k_r: 160,
    groups: 40,
    b: false,
    k_sec: [3, 6, 20, 3],
    inc_sec: [16, 32, 32, 128],
};
const DPN131: Config = Config { num_init_features: 128, k_sec: [4, 8, 28, 3], ..DPN98 };
const DPN107: Config =
    Config { num_init_features: 128, k_r: 200, groups: 50, k_sec: [4, 8, 20, 3], inc_sec: [20, 64, 64, 128], ..DPN98 };

macro_rules! dpn {
    ($name:literal, $config:expr) => {
        Entry {
            name: $name,
            family: "dpn",
            kind: ModelKind::Cnn,
            efficient: false,
            paper: PAPER,
            default_size: 224,
            from_timm: true,
            build: |spec: &Spec| build(&$config, spec),
        }
    };
}

pub static ENTRIES: &[Entry] = &[
    dpn!("dpn68", DPN68),
    dpn!("dpn68b", Config { b: true, ..DPN68 }),
    dpn!("dpn92", DPN92),
    dpn!("dpn98", DPN98),
    dpn!("dpn107", DPN107),
    dpn!("dpn131", DPN131),
];

/// timm's BatchNormAct2d (eps 1e-3), named `{name}`.
fn bn_act(g: &mut GraphBuilder, name: &str, x: Id, act: Act) -> Result<Id> {
    let x = g.batch_norm_eps(name, x, EPS)?;
    Ok(g.act(&format!("{name}.act"), x, act))
}

/// BnActConv2d: batch norm `{name}.bn`, ReLU, conv `{name}.conv`.
fn bn_act_conv(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv) -> Result<Id> {
    let x = bn_act(g, &format!("{name}.bn"), x, Act::Relu)?;
    g.conv(&format!("{name}.conv"), x, conv)
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let kernel = if config.small { 3 } else { 7 };
    let x = g.conv("features.conv1_1.conv", x, Conv::new(config.num_init_features, kernel, 2))?;
    let x = bn_act(&mut g, "features.conv1_1.bn", x, Act::Relu)?;
    let mut x = g.max_pool("features.conv1_pool", x, Pool::new(3, 2, 1))?;
    let bw_factor = if config.small { 1 } else { 4 };
    for (i, ((bw_base, &depth), &inc)) in [64, 128, 256, 512].iter().zip(&config.k_sec).zip(&config.inc_sec).enumerate()
    {
        let bw = bw_base * bw_factor;
        let r = config.k_r * bw_base / 64;
        for j in 1..=depth {
            let kind = match (j, i) {
                (1, 0) => Proj::Stride1,
                (1, _) => Proj::Stride2,
                _ => Proj::None,
            };
            x = dual_path_block(&mut g, &format!("features.conv{}_{j}", i + 2), x, config, r, bw, inc, kind)?;
        }
    }
    let x = bn_act(&mut g, "features.conv5_bn_ac.bn", x, Act::Relu)?;
    let x = g.adaptive_avg_pool("global_pool.pool", x, 1, 1)?;
    let x = g.conv("classifier", x, Conv::new(spec.classes, 1, 1).bias(true))?;
    g.flatten("flatten", x)?;
    Ok(g.finish())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proj {
    None,
    Stride1,
    Stride2,
}

#[allow(clippy::too_many_arguments)]
fn dual_path_block(
    g: &mut GraphBuilder,
    name: &str,
    x: Id,
    config: &Config,
    r: usize,
    bw: usize,
    inc: usize,
    proj: Proj,
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let stride = if proj == Proj::Stride2 { 2 } else { 1 };
    let x_s = match proj {
        Proj::None => x,
        Proj::Stride1 => bn_act_conv(g, &n("c1x1_w_s1"), x, Conv::new(bw + 2 * inc, 1, 1))?,
        Proj::Stride2 => bn_act_conv(g, &n("c1x1_w_s2"), x, Conv::new(bw + 2 * inc, 1, 2))?,
    };
    let dense_width = g.channels(x_s) - bw;
    let x_s1 = g.slice_channels(&n("residual"), x_s, 0, bw)?;
    let x_s2 = g.slice_channels(&n("dense"), x_s, bw, dense_width)?;
    let y = bn_act_conv(g, &n("c1x1_a"), x, Conv::new(r, 1, 1))?;
    let y = bn_act_conv(g, &n("c3x3_b"), y, Conv::new(r, 3, stride).groups(config.groups))?;
    let (out1, out2) = if config.b {
        let y = bn_act(g, &n("c1x1_c.bn"), y, Act::Relu)?;
        let out1 = g.conv(&n("c1x1_c1"), y, Conv::new(bw, 1, 1))?;
        let out2 = g.conv(&n("c1x1_c2"), y, Conv::new(inc, 1, 1))?;
        (out1, out2)
    } else {
        let y = bn_act_conv(g, &n("c1x1_c"), y, Conv::new(bw + inc, 1, 1))?;
        let out1 = g.slice_channels(&n("c1x1_c.residual"), y, 0, bw)?;
        let out2 = g.slice_channels(&n("c1x1_c.dense"), y, bw, inc)?;
        (out1, out2)
    };
    let resid = g.add(&n("add"), x_s1, out1)?;
    g.concat(&n("cat"), &[resid, x_s2, out2])
}
