//! timm's CSPNet family (timm/models/cspnet.py): a stem of ConvNormAct layers (optionally a 3x3
//! stride-2 max pool), then stages of one of three kinds, every convolution a ConvNormAct
//! (`conv`, `bn`, activation):
//! - cross stage ("csp", CSPResNeXt): optional strided grouped 3x3 `conv_down`, a 1x1 `conv_exp`
//!   (linear for `cross_linear`), split in halves, the blocks on the second half, a 1x1
//!   `conv_transition_b` on it, concatenation with the first half, a 1x1 `conv_transition`;
//! - cross stage 3 ("cs3", CS3DarkNet): the same with the blocks on the first half and no
//!   `conv_transition_b`;
//! - dark stage (DarkNet): `conv_down` (a strided 3x3, or a 2x2 average pool and a 1x1 for
//!   `avg_down`), then the blocks.
//!
//! Blocks are residual: bottleneck (1x1, grouped 3x3, linear 1x1, add, activation) or dark (1x1,
//! 3x3, add). The head is global average pooling and `head.fc`.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};
use crate::catalog::{Entry, Spec};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageType {
    Csp,
    Cs3,
    Dark,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockType {
    Bottle,
    Dark,
}

#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Stem conv: width, kernel, stride, padding; then whether a max pool follows.
    pub stem: (usize, usize, usize, usize),
    pub stem_pool: bool,
    pub depths: &'static [usize],
    pub widths: &'static [usize],
    /// Stride of the first stage (the others are 2).
    pub first_stride: usize,
    pub groups: usize,
    /// expand_ratio, block_ratio and bottle_ratio as halves: 1 = 0.5, 2 = 1.0, 4 = 2.0.
    pub expand_halves: usize,
    pub block_halves: usize,
    pub bottle_halves: usize,
    pub avg_down: bool,
    pub cross_linear: bool,
    pub stage: StageType,
    pub block: BlockType,
    pub act: Act,
}

const CSPRESNEXT50: Config = Config {
    stem: (64, 7, 2, 3),
    stem_pool: true,
    depths: &[3, 3, 5, 2],
    widths: &[256, 512, 1024, 2048],
    first_stride: 1,
    groups: 32,
    expand_halves: 2,
    block_halves: 1,
    bottle_halves: 2,
    avg_down: false,
    cross_linear: true,
    stage: StageType::Csp,
    block: BlockType::Bottle,
    act: Act::LeakyRelu,
};

const CS3DARKNET_FOCUS_L: Config = Config {
    stem: (64, 6, 2, 2),
    stem_pool: false,
    depths: &[3, 6, 9, 3],
    widths: &[128, 256, 512, 1024],
    first_stride: 2,
    groups: 1,
    expand_halves: 2,
    block_halves: 1,
    bottle_halves: 2,
    avg_down: false,
    cross_linear: false,
    stage: StageType::Cs3,
    block: BlockType::Dark,
    act: Act::Silu,
};

const DARKNETAA53: Config = Config {
    stem: (32, 3, 1, 1),
    stem_pool: false,
    depths: &[1, 2, 8, 8, 4],
    widths: &[64, 128, 256, 512, 1024],
    first_stride: 2,
    groups: 1,
    expand_halves: 2,
    block_halves: 2,
    bottle_halves: 1,
    avg_down: true,
    cross_linear: false,
    stage: StageType::Dark,
    block: BlockType::Dark,
    act: Act::LeakyRelu,
};

/// CSPResNet-50 (the paper types it `Other`): as CSPResNeXt-50 without groups, conv_exp doubling the
/// stage width, blocks at the stage width with half-width bottlenecks.
const CSPRESNET50: Config = Config {
    widths: &[128, 256, 512, 1024],
    groups: 1,
    expand_halves: 4,
    block_halves: 2,
    bottle_halves: 1,
    ..CSPRESNEXT50
};

macro_rules! csp {
    ($name:literal, $config:expr, $paper:literal) => {
        Entry {
            name: $name,
            family: "cspnet",
            kind: ModelKind::Cnn,
            efficient: false,
            paper: $paper,
            default_size: 256,
            from_timm: true,
            build: |spec: &Spec| build(&$config, spec),
        }
    };
}

pub static ENTRIES: &[Entry] = &[
    csp!("cspresnext50", CSPRESNEXT50, "https://arxiv.org/abs/1911.11929"),
    csp!("cs3darknet_focus_l", CS3DARKNET_FOCUS_L, "https://arxiv.org/abs/1911.11929"),
    csp!("darknetaa53", DARKNETAA53, "https://arxiv.org/abs/1804.02767"),
    Entry {
        kind: ModelKind::Other,
        efficient: true,
        ..csp!("cspresnet50", CSPRESNET50, "https://arxiv.org/abs/1911.11929")
    },
];

/// ConvNormAct: `{name}.conv`, `{name}.bn`, then the activation unless `linear`.
fn cna(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv, act: Act, linear: bool) -> Result<Id> {
    g.conv_bn_act(&format!("{name}.conv"), &format!("{name}.bn"), x, conv, (!linear).then_some(act))
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let act = config.act;
    let (width, kernel, stride, padding) = config.stem;
    let x = cna(&mut g, "stem.conv1", x, Conv::new(width, kernel, stride).padding(padding), act, false)?;
    let mut x = if config.stem_pool { g.max_pool("stem.pool", x, Pool::new(3, 2, 1))? } else { x };
    for (s, (&depth, &out)) in config.depths.iter().zip(config.widths).enumerate() {
        let n = |part: &str| format!("stages.{s}.{part}");
        let stride = if s == 0 { config.first_stride } else { 2 };
        let block_out = out * config.block_halves / 2;
        let in_chs = g.channels(x);
        let down = |g: &mut GraphBuilder, x: Id, width: usize| -> Result<Id> {
            if config.avg_down {
                let p = if stride == 2 { g.avg_pool(&n("conv_down.0"), x, Pool::new(2, 2, 0))? } else { x };
                cna(g, &n("conv_down.1"), p, Conv::new(width, 1, 1).groups(config.groups), act, false)
            } else {
                cna(g, &n("conv_down"), x, Conv::new(width, 3, stride).groups(config.groups), act, false)
            }
        };
        match config.stage {
            StageType::Dark => {
                x = down(&mut g, x, out)?;
                for b in 0..depth {
                    x = block(&mut g, &n(&format!("blocks.{b}")), x, config, block_out)?;
                }
            }
            StageType::Csp | StageType::Cs3 => {
                // down_growth is off: conv_down keeps the input width.
                let y = if stride != 1 { down(&mut g, x, in_chs)? } else { x };
                let exp = out * config.expand_halves / 2;
                let y = cna(&mut g, &n("conv_exp"), y, Conv::new(exp, 1, 1), act, config.cross_linear)?;
                let half = exp / 2;
                let first = g.slice_channels(&n("split0"), y, 0, half)?;
                let second = g.slice_channels(&n("split1"), y, half, half)?;
                let (mut through, other) =
                    if config.stage == StageType::Csp { (second, first) } else { (first, second) };
                for b in 0..depth {
                    through = block(&mut g, &n(&format!("blocks.{b}")), through, config, block_out)?;
                }
                let cat = if config.stage == StageType::Csp {
                    let t = cna(&mut g, &n("conv_transition_b"), through, Conv::new(half, 1, 1), act, false)?;
                    g.concat(&n("cat"), &[other, t])?
                } else {
                    g.concat(&n("cat"), &[through, other])?
                };
                x = cna(&mut g, &n("conv_transition"), cat, Conv::new(out, 1, 1), act, false)?;
            }
        }
    }
    g.classifier("head.fc", x, "head.global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

fn block(g: &mut GraphBuilder, name: &str, x: Id, config: &Config, out: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let act = config.act;
    let mid = out * config.bottle_halves / 2;
    match config.block {
        BlockType::Bottle => {
            let y = cna(g, &n("conv1"), x, Conv::new(mid, 1, 1), act, false)?;
            let y = cna(g, &n("conv2"), y, Conv::new(mid, 3, 1).groups(config.groups), act, false)?;
            let y = cna(g, &n("conv3"), y, Conv::new(out, 1, 1), act, true)?;
            let y = g.add(&n("add"), y, x)?;
            Ok(g.act(&n("act3"), y, act))
        }
        BlockType::Dark => {
            let y = cna(g, &n("conv1"), x, Conv::new(mid, 1, 1), act, false)?;
            let y = cna(g, &n("conv2"), y, Conv::new(out, 3, 1), act, false)?;
            g.add(&n("add"), y, x)
        }
    }
}
