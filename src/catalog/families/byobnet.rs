//! timm's "bring your own blocks" networks (timm/models/byobnet.py).
//!
//! RepVGG in its training form (not re-parameterised): a RepVGG-block stem at stride 2, then four
//! stages of RepVGG blocks (the first of each at stride 2). A RepVGG block sums a 3x3 conv + batch
//! norm (`conv_kxk`), a 1x1 conv + batch norm (`conv_1x1`) and, where the shape allows, a
//! batch-norm-only identity branch (`identity`), then applies ReLU.
//!
//! The general ByobNet (GENet `gernet_l`, `resnet32ts`, `resnet51q`, `resnet61q`): a stem (one 3x3
//! conv, a tiered 3-conv stack or a 4-conv "quad" stack, every conv timm's ConvNormAct or, for the
//! first convs of "quad2", a plain conv), stages of basic (3x3, 3x3), bottleneck (1x1, grouped 3x3,
//! optional second 3x3, 1x1) or edge (3x3, 1x1) blocks with a 1x1 conv + batch norm shortcut where
//! the shape changes and the activation after the sum, an optional 1x1 `final_conv`, and the head.
//! Group size 1 makes a convolution depthwise.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};
use crate::catalog::{Entry, Spec};

const REPVGG_PAPER: &str = "https://arxiv.org/abs/2101.03697";

/// A RepVGG configuration: blocks per stage and stage widths (64, 128, 256, 512 times timm's `wf`).
#[derive(Clone, Copy, Debug)]
pub struct RepVgg {
    pub depths: [usize; 4],
    pub widths: [usize; 4],
    pub stem: usize,
}

const REPVGG_A2: RepVgg = RepVgg { depths: [2, 4, 14, 1], widths: [96, 192, 384, 1408], stem: 64 };

/// A ByobNet stem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stem {
    /// ConvNormAct 3x3 stride 2 named `stem`.
    Conv3x3(usize),
    /// timm's `Stem` stack: widths, the strides, and how many of the first convs are plain
    /// (no norm, no activation: "quad2").
    Stack { widths: [usize; 4], count: usize, strides: [usize; 4], plain: usize },
    /// 'tiered' with `stem_pool='maxpool'`: 3x3 convs to 3/8, 1/2 and all of the width (the first
    /// at stride 2), then a 3x3 stride-2 max pool `stem.pool`.
    TieredPool(usize),
}

/// Channel attention after a bottleneck's 3x3 conv (timm's `attn_layer`), on its middle width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attn {
    /// Squeeze-excite, ratio 1/16 (rounded to a multiple of 8), ReLU.
    Se,
    /// Efficient channel attention.
    Eca,
    /// Global context, fused add ('gca'): softmax attention pooling, then a 1x1 conv MLP (ratio
    /// 1/8, layer norm, ReLU) added to every position.
    Gca,
    /// BAT (timm's BatNonLocalAttn, block 8, 2 groups): a 1x1 ConvNormAct to a quarter of the width,
    /// the bilinear attention transform, a 1x1 ConvNormAct back, Dropout2d(0.2), plus the input; its
    /// convs use ReLU whatever the network's activation.
    Bat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockType {
    Basic,
    Bottle,
    Edge,
}

/// One stage: block type, depth, output width, stride, group size (0: no groups), bottleneck
/// ratio as (numerator, denominator), and the bottleneck's `extra_conv`.
#[derive(Clone, Copy, Debug)]
pub struct Stage {
    pub block: BlockType,
    pub depth: usize,
    pub width: usize,
    pub stride: usize,
    pub group_size: usize,
    pub ratio: (usize, usize),
    pub extra_conv: bool,
    /// Self-attention blocks (byoanet.py, timm's `interleave_blocks`): the layer, and a bit per block
    /// index that is a `self_attn` block rather than `block`.
    pub self_attn: Option<(super::byoanet::SelfAttn, u32)>,
}

pub const fn stage(
    block: BlockType,
    depth: usize,
    width: usize,
    stride: usize,
    group_size: usize,
    ratio: (usize, usize),
) -> Stage {
    Stage { block, depth, width, stride, group_size, ratio, extra_conv: false, self_attn: None }
}

#[derive(Clone, Copy, Debug)]
pub struct Byob {
    pub stem: Stem,
    pub stages: &'static [Stage],
    /// Width of `final_conv` (0: none).
    pub num_features: usize,
    pub act: Act,
    pub attn: Option<Attn>,
}

use BlockType::{Basic, Bottle, Edge};

const GERNET_L: Byob = Byob {
    stem: Stem::Conv3x3(32),
    stages: &[
        stage(Basic, 1, 128, 2, 0, (1, 1)),
        stage(Basic, 2, 192, 2, 0, (1, 1)),
        stage(Bottle, 6, 640, 2, 0, (1, 4)),
        stage(Bottle, 5, 640, 2, 1, (3, 1)),
        stage(Bottle, 4, 640, 1, 1, (3, 1)),
    ],
    num_features: 2560,
    act: Act::Relu,
    attn: None,
};

const RESNET32TS: Byob = Byob {
    // 'tiered': (3 * 64 // 8, 64 // 2, 64), no pool, so the last conv is strided.
    stem: Stem::Stack { widths: [24, 32, 64, 0], count: 3, strides: [2, 1, 2, 0], plain: 0 },
    stages: &[
        stage(Bottle, 2, 256, 1, 0, (1, 4)),
        stage(Bottle, 3, 512, 2, 0, (1, 4)),
        stage(Bottle, 3, 1536, 2, 0, (1, 4)),
        stage(Bottle, 2, 1536, 2, 0, (1, 4)),
    ],
    num_features: 0,
    act: Act::Silu,
    attn: None,
};

const RESNET51Q: Byob = Byob {
    // 'quad2': widths 128 / 8, / 4, / 2, 128; the first two convs plain.
    stem: Stem::Stack { widths: [16, 32, 64, 128], count: 4, strides: [2, 1, 1, 2], plain: 2 },
    stages: &[
        stage(Bottle, 2, 256, 1, 32, (1, 4)),
        stage(Bottle, 4, 512, 2, 32, (1, 4)),
        stage(Bottle, 6, 1536, 2, 32, (1, 4)),
        stage(Bottle, 4, 1536, 2, 1, (1, 1)),
    ],
    num_features: 2048,
    act: Act::Silu,
    attn: None,
};

const RESNET61Q: Byob = Byob {
    stem: Stem::Stack { widths: [16, 32, 64, 128], count: 4, strides: [2, 1, 1, 2], plain: 0 },
    // The model-level `extra_conv=True` reaches the bottlenecks; the edge stage's empty
    // block_kwargs replaces it.
    stages: &[
        stage(Edge, 1, 256, 1, 0, (1, 1)),
        Stage { extra_conv: true, ..stage(Bottle, 4, 512, 2, 32, (1, 4)) },
        Stage { extra_conv: true, ..stage(Bottle, 6, 1536, 2, 32, (1, 4)) },
        Stage { extra_conv: true, ..stage(Bottle, 4, 1536, 2, 1, (1, 1)) },
    ],
    num_features: 2048,
    act: Act::Silu,
    attn: None,
};

macro_rules! byob {
    ($name:literal, $config:expr, $paper:expr, $efficient:literal) => {
        Entry {
            name: $name,
            family: "byobnet",
            kind: ModelKind::Cnn,
            efficient: $efficient,
            paper: $paper,
            default_size: 256,
            from_timm: true,
            build: |spec: &Spec| byob(&$config, spec),
        }
    };
}

pub static ENTRIES: &[Entry] = &[
    Entry {
        name: "repvgg_a2",
        family: "repvgg",
        kind: ModelKind::Cnn,
        efficient: true,
        paper: REPVGG_PAPER,
        default_size: 224,
        from_timm: true,
        build: |spec: &Spec| repvgg(&REPVGG_A2, spec),
    },
    // model_names.csv marks GENet efficient.
    byob!("gernet_l", GERNET_L, "https://arxiv.org/abs/2006.14090", true),
    byob!("resnet32ts", RESNET32TS, "https://arxiv.org/abs/1512.03385", false),
    byob!("resnet51q", RESNET51Q, "https://arxiv.org/abs/2103.07579", false),
    byob!("resnet61q", RESNET61Q, "https://arxiv.org/abs/2103.07579", false),
];

/// ConvNormAct: `{name}.conv`, `{name}.bn`, optional activation.
pub(crate) fn conv_norm_act(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv, act: Option<Act>) -> Result<Id> {
    g.conv_bn_act(&format!("{name}.conv"), &format!("{name}.bn"), x, conv, act)
}

fn groups(group_size: usize, channels: usize) -> usize {
    channels.checked_div(group_size).unwrap_or(1)
}

pub fn byob(config: &Byob, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let act = Some(config.act);
    let mut x = match config.stem {
        Stem::Conv3x3(width) => conv_norm_act(&mut g, "stem", x, Conv::new(width, 3, 2), act)?,
        Stem::Stack { widths, count, strides, plain } => {
            let mut x = x;
            for i in 0..count {
                let name = format!("stem.conv{}", i + 1);
                let conv = Conv::new(widths[i], 3, strides[i]);
                x = if i < plain { g.conv(&name, x, conv)? } else { conv_norm_act(&mut g, &name, x, conv, act)? };
            }
            x
        }
        Stem::TieredPool(width) => {
            let x = conv_norm_act(&mut g, "stem.conv1", x, Conv::new(3 * width / 8, 3, 2), act)?;
            let x = conv_norm_act(&mut g, "stem.conv2", x, Conv::new(width / 2, 3, 1), act)?;
            let x = conv_norm_act(&mut g, "stem.conv3", x, Conv::new(width, 3, 1), act)?;
            g.max_pool("stem.pool", x, Pool::new(3, 2, 1))?
        }
    };
    for (s, st) in config.stages.iter().enumerate() {
        for b in 0..st.depth {
            let name = format!("stages.{s}.{b}");
            let stride = if b == 0 { st.stride } else { 1 };
            x = match st.self_attn {
                Some((layer, blocks)) if blocks & (1 << b) != 0 => {
                    super::byoanet::self_attn_block(&mut g, &name, x, st, stride, config.act, layer)?
                }
                _ => byob_block(&mut g, &name, x, st, stride, config.act, config.attn)?,
            };
        }
    }
    if config.num_features > 0 {
        x = conv_norm_act(&mut g, "final_conv", x, Conv::new(config.num_features, 1, 1), act)?;
    }
    g.classifier("head.fc", x, "head.global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

fn byob_block(
    g: &mut GraphBuilder,
    name: &str,
    x: Id,
    st: &Stage,
    stride: usize,
    act: Act,
    attn: Option<Attn>,
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let out = st.width;
    // make_divisible(out * ratio, 8); every width here is already a multiple of 8.
    let mid = out * st.ratio.0 / st.ratio.1;
    let grouped = |k: usize, s: usize| Conv::new(mid, k, s).groups(groups(st.group_size, mid));
    let a = Some(act);
    let y = match st.block {
        BlockType::Basic => {
            let y = conv_norm_act(g, &n("conv1_kxk"), x, Conv::new(mid, 3, stride), a)?;
            conv_norm_act(g, &n("conv2_kxk"), y, Conv::new(out, 3, 1).groups(groups(st.group_size, mid)), None)?
        }
        BlockType::Bottle => {
            let y = conv_norm_act(g, &n("conv1_1x1"), x, Conv::new(mid, 1, 1), a)?;
            let mut y = conv_norm_act(g, &n("conv2_kxk"), y, grouped(3, stride), a)?;
            if st.extra_conv {
                y = conv_norm_act(g, &n("conv2b_kxk"), y, grouped(3, 1), a)?;
            }
            let y = match attn {
                Some(attn) => channel_attention(g, &n("attn"), y, attn)?,
                None => y,
            };
            conv_norm_act(g, &n("conv3_1x1"), y, Conv::new(out, 1, 1), None)?
        }
        BlockType::Edge => {
            let y = conv_norm_act(g, &n("conv1_kxk"), x, grouped(3, stride), a)?;
            conv_norm_act(g, &n("conv2_1x1"), y, Conv::new(out, 1, 1), None)?
        }
    };
    let shortcut = if g.channels(x) != out || stride != 1 {
        conv_norm_act(g, &n("shortcut"), x, Conv::new(out, 1, stride), None)?
    } else {
        x
    };
    let y = g.add(&n("add"), y, shortcut)?;
    Ok(g.act(&n("act"), y, act))
}

/// timm's SEModule / EcaModule / GlobalContext(fuse_add) on `x`, named `{name}.*`.
fn channel_attention(g: &mut GraphBuilder, name: &str, x: Id, attn: Attn) -> Result<Id> {
    let c = g.channels(x);
    let n = |part: &str| format!("{name}.{part}");
    match attn {
        // make_divisible(c / 16, 8, round_limit=0)
        Attn::Se => super::resnet::squeeze_excite(g, name, x, ((c / 16 + 4) / 8 * 8).max(8)),
        Attn::Eca => super::resnet::eca(g, name, x),
        Attn::Gca => {
            let logits = g.conv(&n("conv_attn"), x, Conv::new(1, 1, 1).bias(true))?;
            let context = g.context_pool(&n("context"), x, logits)?;
            // make_divisible(c / 8, 1, round_limit=0): c / 8 rounded.
            let reduced = ((c as f64 / 8.0 + 0.5) as usize).max(1);
            let m = g.conv(&n("mlp_add.fc1"), context, Conv::new(reduced, 1, 1).bias(true))?;
            let m = g.layer_norm(&n("mlp_add.norm"), m, 1e-6)?;
            let m = g.act(&n("mlp_add.act"), m, Act::Relu);
            let m = g.conv(&n("mlp_add.fc2"), m, Conv::new(c, 1, 1).bias(true))?;
            g.add_channels(&n("add"), x, m)
        }
        Attn::Bat => bat(g, name, x),
    }
}

/// timm's BatNonLocalAttn(c, block_size=8, groups=2) with its BilinearAttnTransform `ba`.
fn bat(g: &mut GraphBuilder, name: &str, x: Id) -> Result<Id> {
    const BLOCK: usize = 8;
    const GROUPS: usize = 2;
    let n = |part: &str| format!("{name}.{part}");
    let c = g.channels(x);
    // make_divisible(c / 4, 8)
    let rd = (c / 4 + 4) / 8 * 8;
    let relu = Some(Act::Relu);
    let xl = conv_norm_act(g, &n("conv1"), x, Conv::new(rd, 1, 1), relu)?;
    let o = conv_norm_act(g, &n("ba.conv1"), xl, Conv::new(GROUPS, 1, 1), relu)?;
    let rows = g.adaptive_max_pool(&n("ba.row_pool"), o, BLOCK, 1)?;
    let cols = g.adaptive_max_pool(&n("ba.col_pool"), o, 1, BLOCK)?;
    let logits = GROUPS * BLOCK * BLOCK;
    let p = g.conv(&n("ba.conv_p"), rows, Conv::rect(logits, BLOCK, 1, 0, 0).bias(true))?;
    let q = g.conv(&n("ba.conv_q"), cols, Conv::rect(logits, 1, BLOCK, 0, 0).bias(true))?;
    let y = g.bilinear_transform(&n("ba.transform"), xl, p, q, GROUPS, BLOCK)?;
    let y = conv_norm_act(g, &n("ba.conv2"), y, Conv::new(rd, 1, 1), relu)?;
    let y = conv_norm_act(g, &n("conv2"), y, Conv::new(c, 1, 1), relu)?;
    let y = g.dropout2d(&n("dropout"), y, 0.2);
    g.add(&n("add"), y, x)
}

pub fn repvgg(config: &RepVgg, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let mut x = rep_block(&mut g, "stem", x, config.stem, 2)?;
    for (stage, (&depth, &width)) in config.depths.iter().zip(&config.widths).enumerate() {
        for index in 0..depth {
            x = rep_block(&mut g, &format!("stages.{stage}.{index}"), x, width, if index == 0 { 2 } else { 1 })?;
        }
    }
    g.classifier("head.fc", x, "head.global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

/// RepVggBlock (training form): conv_kxk + conv_1x1 (+ identity batch norm), ReLU.
fn rep_block(g: &mut GraphBuilder, name: &str, x: Id, out: usize, stride: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let kxk = g.conv_bn_act(&n("conv_kxk.conv"), &n("conv_kxk.bn"), x, Conv::new(out, 3, stride), None)?;
    let one = g.conv_bn_act(&n("conv_1x1.conv"), &n("conv_1x1.bn"), x, Conv::new(out, 1, stride), None)?;
    let mut y = g.add(&n("add"), one, kxk)?;
    if g.channels(x) == out && stride == 1 {
        let identity = g.batch_norm(&n("identity"), x)?;
        y = g.add(&n("add_identity"), y, identity)?;
    }
    Ok(g.act(&n("act"), y, Act::Relu))
}
