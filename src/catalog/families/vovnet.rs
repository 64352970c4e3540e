//! timm's VoVNet family (timm/models/vovnet.py), as ese_vovnet19b_dw: a stem of a 3x3 stride-2
//! conv and two depthwise-separable convs (the second strided), then four one-shot-aggregation
//! stages. Each stage max-pools (3x3, stride 2, ceil mode; not the first), then runs OSA blocks: an
//! optional 1x1 reduction, `layer_per_block` depthwise-separable 3x3 convs each feeding the next,
//! a concatenation of the block's input with every conv's output, a 1x1 conv, and effective
//! squeeze-excite (mean, one 1x1 conv with bias, hard sigmoid gate). Every conv has batch norm and
//! ReLU (timm's ConvNormAct / SeparableConvNormAct). The head is global average pooling and `head.fc`.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/1904.09730";

/// One VoVNet configuration (timm's `model_cfgs` entry; all stages downsample but the first).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub stem_chs: [usize; 3],
    pub stage_conv_chs: [usize; 4],
    pub stage_out_chs: [usize; 4],
    pub layer_per_block: usize,
    pub block_per_stage: [usize; 4],
    pub residual: bool,
}

const ESE_VOVNET19B_DW: Config = Config {
    stem_chs: [64, 64, 64],
    stage_conv_chs: [128, 160, 192, 224],
    stage_out_chs: [256, 512, 768, 1024],
    layer_per_block: 3,
    block_per_stage: [1, 1, 1, 1],
    residual: true,
};

pub static ENTRIES: &[Entry] = &[Entry {
    name: "ese_vovnet19b_dw",
    family: "vovnet",
    kind: ModelKind::Cnn,
    efficient: true,
    paper: PAPER,
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&ESE_VOVNET19B_DW, spec),
}];

/// ConvNormAct: conv, batch norm `bn`, ReLU.
fn conv_norm_act(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv) -> Result<Id> {
    g.conv_bn_act(&format!("{name}.conv"), &format!("{name}.bn"), x, conv, Some(Act::Relu))
}

/// SeparableConvNormAct: depthwise 3x3 `conv_dw`, pointwise `conv_pw`, batch norm `bn`, ReLU.
fn separable(g: &mut GraphBuilder, name: &str, x: Id, out: usize, stride: usize) -> Result<Id> {
    let c = g.channels(x);
    let x = g.conv(&format!("{name}.conv_dw"), x, Conv::new(c, 3, stride).groups(c))?;
    g.conv_bn_act(&format!("{name}.conv_pw"), &format!("{name}.bn"), x, Conv::new(out, 1, 1), Some(Act::Relu))
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let [s0, s1, s2] = config.stem_chs;
    let x = conv_norm_act(&mut g, "stem.0", x, Conv::new(s0, 3, 2))?;
    let x = separable(&mut g, "stem.1", x, s1, 1)?;
    let mut x = separable(&mut g, "stem.2", x, s2, 2)?;
    for stage in 0..4 {
        let name = format!("stages.{stage}");
        if stage > 0 {
            x = g.max_pool(&format!("{name}.pool"), x, Pool::new(3, 2, 0).ceil_mode(true))?;
        }
        let blocks = config.block_per_stage[stage];
        for b in 0..blocks {
            let residual = config.residual && b > 0;
            let attn = b + 1 == blocks;
            x = osa_block(&mut g, &format!("{name}.blocks.{b}"), x, config, stage, residual, attn)?;
        }
    }
    g.classifier("head.fc", x, "head.global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

fn osa_block(
    g: &mut GraphBuilder,
    name: &str,
    input: Id,
    config: &Config,
    stage: usize,
    residual: bool,
    attn: bool,
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let mid = config.stage_conv_chs[stage];
    let out = config.stage_out_chs[stage];
    let mut x = input;
    if g.channels(x) != mid {
        x = conv_norm_act(g, &n("conv_reduction"), x, Conv::new(mid, 1, 1))?;
    }
    let mut outputs = vec![input];
    for i in 0..config.layer_per_block {
        x = separable(g, &n(&format!("conv_mid.{i}")), x, mid, 1)?;
        outputs.push(x);
    }
    let x = g.concat(&n("cat"), &outputs)?;
    let mut x = conv_norm_act(g, &n("conv_concat"), x, Conv::new(out, 1, 1))?;
    if attn {
        // EffectiveSEModule: one 1x1 conv with bias, hard-sigmoid gate.
        let s = g.spatial_mean(&n("attn.mean"), x)?;
        let s = g.conv(&n("attn.fc"), s, Conv::new(out, 1, 1).bias(true))?;
        let s = g.act(&n("attn.gate"), s, Act::HardSigmoid);
        x = g.gate(&n("attn.mul"), x, s)?;
    }
    if residual {
        x = g.add(&n("add"), x, input)?;
    }
    Ok(x)
}
