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
//! Blocks are residual: bottleneck (1x1, grouped 3x3, linear 1x1, add, activation), dark (1x1,
//! optional squeeze-excite, 3x3, add) or edge (3x3, optional squeeze-excite, 1x1, add). The head is
//! global average pooling and `head.fc`. Ratios may differ per stage (timm pads a shorter tuple with
//! its last value, as [`per_stage`] does).

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
    Edge,
}

#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Stem conv: width, kernel, stride, padding; then whether a max pool follows.
    pub stem: (usize, usize, usize, usize),
    /// A second stem conv (3x3, stride 1) to this width (0: none), as the CS3 models' (32, 64) stem.
    pub stem2: usize,
    pub stem_pool: bool,
    pub depths: &'static [usize],
    pub widths: &'static [usize],
    /// Stride of the first stage (the others are 2).
    pub first_stride: usize,
    pub groups: usize,
    /// expand_ratio, block_ratio and bottle_ratio per stage as halves: 1 = 0.5, 2 = 1.0, 3 = 1.5,
    /// 4 = 2.0 (the last value repeats for later stages).
    pub expand_halves: &'static [usize],
    pub block_halves: &'static [usize],
    pub bottle_halves: &'static [usize],
    pub avg_down: bool,
    /// A cross stage's strided `conv_down` grows to the stage width (else keeps the input width).
    pub down_growth: bool,
    /// Squeeze-excite in dark/edge blocks on their middle width, reduction `1 / se_divisor` (0: none).
    pub se_divisor: usize,
    pub cross_linear: bool,
    pub stage: StageType,
    pub block: BlockType,
    pub act: Act,
}

const CSPRESNEXT50: Config = Config {
    stem: (64, 7, 2, 3),
    stem2: 0,
    stem_pool: true,
    depths: &[3, 3, 5, 2],
    widths: &[256, 512, 1024, 2048],
    first_stride: 1,
    groups: 32,
    expand_halves: &[2],
    block_halves: &[1],
    bottle_halves: &[2],
    avg_down: false,
    down_growth: false,
    se_divisor: 0,
    cross_linear: true,
    stage: StageType::Csp,
    block: BlockType::Bottle,
    act: Act::LeakyRelu,
};

const CS3DARKNET_FOCUS_L: Config = Config {
    stem: (64, 6, 2, 2),
    stem2: 0,
    stem_pool: false,
    depths: &[3, 6, 9, 3],
    widths: &[128, 256, 512, 1024],
    first_stride: 2,
    groups: 1,
    expand_halves: &[2],
    block_halves: &[1],
    bottle_halves: &[2],
    avg_down: false,
    down_growth: false,
    se_divisor: 0,
    cross_linear: false,
    stage: StageType::Cs3,
    block: BlockType::Dark,
    act: Act::Silu,
};

const DARKNETAA53: Config = Config {
    stem: (32, 3, 1, 1),
    stem2: 0,
    stem_pool: false,
    depths: &[1, 2, 8, 8, 4],
    widths: &[64, 128, 256, 512, 1024],
    first_stride: 2,
    groups: 1,
    expand_halves: &[2],
    block_halves: &[2],
    bottle_halves: &[1],
    avg_down: true,
    down_growth: false,
    se_divisor: 0,
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
    expand_halves: &[4],
    block_halves: &[2],
    bottle_halves: &[1],
    ..CSPRESNEXT50
};

/// CSPDarkNet-53: a 3x3 stride-1 stem, cross stages whose `conv_down` grows to the stage width, dark
/// blocks; the first stage expands to 2x with full-width blocks and half-width bottlenecks.
const CSPDARKNET53: Config = Config {
    stem: (32, 3, 1, 1),
    stem_pool: false,
    depths: &[1, 2, 8, 8, 4],
    widths: &[64, 128, 256, 512, 1024],
    first_stride: 2,
    groups: 1,
    expand_halves: &[4, 2],
    block_halves: &[2, 1],
    bottle_halves: &[1, 2],
    down_growth: true,
    cross_linear: false,
    block: BlockType::Dark,
    ..CSPRESNEXT50
};

/// timm's `_cs3_cfg` without focus: a (32, 64) x `width` stem, stages (128 .. 1024) x `width`, depths
/// (3, 6, 9, 3) x `depth`, half-width blocks, SiLU.
const CS3_L: Config = Config {
    stem: (32, 3, 2, 1),
    stem2: 64,
    expand_halves: &[2],
    block_halves: &[1],
    bottle_halves: &[2],
    ..CS3DARKNET_FOCUS_L
};
const CS3SEDARKNET_L: Config = Config { se_divisor: 4, ..CS3_L };
/// Width x1.25, depth x1.33, edge blocks with 1.5x bottlenecks.
const CS3EDGENET_X: Config = Config {
    stem: (40, 3, 2, 1),
    stem2: 80,
    depths: &[3, 7, 11, 3],
    widths: &[160, 320, 640, 1280],
    bottle_halves: &[3],
    block: BlockType::Edge,
    ..CS3_L
};
const CS3SE_EDGENET_X: Config = Config { se_divisor: 4, ..CS3EDGENET_X };

macro_rules! csp {
    ($name:literal, $config:expr, $paper:expr) => {
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
    // The paper types these `Other` and marks them efficient.
    Entry { kind: ModelKind::Other, efficient: true, ..csp!("cspdarknet53", CSPDARKNET53, CSP_PAPER) },
    Entry { kind: ModelKind::Other, efficient: true, ..csp!("cs3sedarknet_l", CS3SEDARKNET_L, CSP_PAPER) },
    Entry { kind: ModelKind::Other, efficient: true, ..csp!("cs3edgenet_x", CS3EDGENET_X, CSP_PAPER) },
    Entry { kind: ModelKind::Other, efficient: true, ..csp!("cs3se_edgenet_x", CS3SE_EDGENET_X, CSP_PAPER) },
];

const CSP_PAPER: &str = "https://arxiv.org/abs/1911.11929";

/// A per-stage setting: timm pads a shorter tuple with its last value.
fn per_stage(values: &[usize], stage: usize) -> usize {
    values[stage.min(values.len() - 1)]
}

/// ConvNormAct: `{name}.conv`, `{name}.bn`, then the activation unless `linear`.
fn cna(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv, act: Act, linear: bool) -> Result<Id> {
    g.conv_bn_act(&format!("{name}.conv"), &format!("{name}.bn"), x, conv, (!linear).then_some(act))
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let act = config.act;
    let (width, kernel, stride, padding) = config.stem;
    let x = cna(&mut g, "stem.conv1", x, Conv::new(width, kernel, stride).padding(padding), act, false)?;
    let x = if config.stem2 > 0 { cna(&mut g, "stem.conv2", x, Conv::new(config.stem2, 3, 1), act, false)? } else { x };
    let mut x = if config.stem_pool { g.max_pool("stem.pool", x, Pool::new(3, 2, 1))? } else { x };
    for (s, (&depth, &out)) in config.depths.iter().zip(config.widths).enumerate() {
        let n = |part: &str| format!("stages.{s}.{part}");
        let stride = if s == 0 { config.first_stride } else { 2 };
        let block_out = out * per_stage(config.block_halves, s) / 2;
        let bottle = per_stage(config.bottle_halves, s);
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
                    x = block(&mut g, &n(&format!("blocks.{b}")), x, config, block_out, bottle)?;
                }
            }
            StageType::Csp | StageType::Cs3 => {
                let down_width = if config.down_growth { out } else { in_chs };
                let y = if stride != 1 { down(&mut g, x, down_width)? } else { x };
                let exp = out * per_stage(config.expand_halves, s) / 2;
                let y = cna(&mut g, &n("conv_exp"), y, Conv::new(exp, 1, 1), act, config.cross_linear)?;
                let half = exp / 2;
                let first = g.slice_channels(&n("split0"), y, 0, half)?;
                let second = g.slice_channels(&n("split1"), y, half, half)?;
                let (mut through, other) =
                    if config.stage == StageType::Csp { (second, first) } else { (first, second) };
                for b in 0..depth {
                    through = block(&mut g, &n(&format!("blocks.{b}")), through, config, block_out, bottle)?;
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

fn block(g: &mut GraphBuilder, name: &str, x: Id, config: &Config, out: usize, bottle_halves: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let act = config.act;
    let mid = out * bottle_halves / 2;
    // SEModule(mid, rd_ratio=1/se_divisor, act_layer=the network's): make_divisible(mid / d, 8, round_limit=0).
    let se = |g: &mut GraphBuilder, y: Id| -> Result<Id> {
        if config.se_divisor == 0 {
            return Ok(y);
        }
        let reduced = ((mid as f64 / config.se_divisor as f64 + 4.0) as usize / 8 * 8).max(8);
        super::resnet::squeeze_excite_act(g, &n("attn"), y, reduced, act)
    };
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
            let y = se(g, y)?;
            let y = cna(g, &n("conv2"), y, Conv::new(out, 3, 1), act, false)?;
            g.add(&n("add"), y, x)
        }
        BlockType::Edge => {
            let y = cna(g, &n("conv1"), x, Conv::new(mid, 3, 1).groups(config.groups), act, false)?;
            let y = se(g, y)?;
            let y = cna(g, &n("conv2"), y, Conv::new(out, 1, 1), act, false)?;
            g.add(&n("add"), y, x)
        }
    }
}
