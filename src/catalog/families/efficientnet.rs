//! timm's EfficientNet / MobileNet family, built the way timm builds it: block strings decoded as
//! in `_efficientnet_builder.py` (`ds_r1_k3_s1_e1_c16_se0.25`, `ir_...`, `er_...`, `cn_...`), scaled
//! by a channel multiplier (`round_channels` / `make_divisible`) and a depth multiplier, and turned
//! into the blocks of `_efficientnet_blocks.py` (`DepthwiseSeparableConv`, `InvertedResidual`,
//! `EdgeResidual`, `ConvBnAct`, `SqueezeExcite`).
//!
//! Two model classes share those blocks:
//! - timm's `EfficientNet` (efficientnet.py): stem → blocks → `conv_head` → `bn2` → global pool →
//!   classifier. Used by `_gen_mobilenet_v2`, `_gen_efficientnet`, `_gen_efficientnet_lite`,
//!   `_gen_mnasnet_a1`, `_gen_mnasnet_b1`, `_gen_spnasnet`, `_gen_tinynet` and `_gen_fbnetc`.
//! - timm's `MobileNetV3` (mobilenetv3.py): stem → blocks → global pool → `conv_head` (with bias) →
//!   `act2` → flatten → classifier. Used by `_gen_mobilenet_v3` and hardcorenas.py.
//!
//! Squeeze-excite takes `x.mean((2, 3))` (a `mean`, which fvcore does not count), while the
//! classifier heads pool with `adaptive_avg_pool2d` (counted).

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result, ShapeError};
use crate::catalog::{Entry, Spec};

// ---------------------------------------------------------------------------------------------
// Channel rounding
// ---------------------------------------------------------------------------------------------

/// timm's `make_divisible(v, divisor)` (min_value = divisor, round_limit = 0.9): the nearest
/// multiple of `divisor`, at least `divisor`, and never more than 10% below `v`.
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    make_divisible_limit(v, divisor, 0.9)
}

/// `make_divisible(v, divisor, round_limit=limit)` (FBNetV3 uses 0.95).
pub fn make_divisible_limit(v: f64, divisor: usize, limit: f64) -> usize {
    let d = divisor as f64;
    // Python: max(min_value, int(v + divisor / 2) // divisor * divisor)
    let mut rounded = divisor.max(((v + d / 2.0).trunc() as usize) / divisor * divisor);
    if (rounded as f64) < limit * v {
        rounded += divisor;
    }
    rounded
}

/// timm's `round_channels(channels, multiplier, divisor)`: the builders' `round_chs_fn`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundChannels {
    pub multiplier: f64,
    pub divisor: usize,
    /// `round_limit` (0.9 but for FBNetV3's 0.95).
    pub limit: f64,
}

impl RoundChannels {
    pub const fn new(multiplier: f64) -> RoundChannels {
        RoundChannels { multiplier, divisor: 8, limit: 0.9 }
    }

    pub fn round(self, channels: usize) -> usize {
        if self.multiplier == 0.0 {
            return channels;
        }
        make_divisible_limit(channels as f64 * self.multiplier, self.divisor, self.limit)
    }
}

/// Python's `round()` on a float: halves go to the even neighbour.
fn round_half_even(v: f64) -> usize {
    v.round_ties_even() as usize
}

// ---------------------------------------------------------------------------------------------
// Block strings
// ---------------------------------------------------------------------------------------------

/// The leading token of a block string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockType {
    /// `ds` / `dsa`: `DepthwiseSeparableConv`.
    DepthwiseSeparable,
    /// `ir`: `InvertedResidual`.
    InvertedResidual,
    /// `er`: `EdgeResidual` (FusedMBConv).
    EdgeResidual,
    /// `cn`: `ConvBnAct`.
    ConvBnAct,
}

/// One decoded block string (timm's block kwargs), before channel rounding.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockArgs {
    pub block_type: BlockType,
    pub out_chs: usize,
    pub stride: usize,
    /// `n...` override of the model's activation (`nre`, `nr6`, `nhs`, `nsw`).
    pub act: Option<Act>,
    /// Depthwise kernel (`ds`, `ir`), expansion kernel (`er`) or the kernel (`cn`): option `k`.
    pub kernel: usize,
    /// `ir` only: kernel of the point-wise expansion (option `a`, default 1).
    pub exp_kernel: usize,
    /// Kernel of the point-wise projection (option `p`, default 1).
    pub pw_kernel: usize,
    /// `ir` / `er` only: option `e`.
    pub exp_ratio: Option<f64>,
    /// Option `se` (0: no squeeze-excite). Never set for `cn`.
    pub se_ratio: f64,
    /// `noskip` (always for `dsa`): no residual even where shapes allow one.
    pub noskip: bool,
    /// `cn` only: `skip` asks for a residual.
    pub skip: bool,
    /// `dsa`: an activation after the point-wise convolution.
    pub pw_act: bool,
    /// `er` only: option `fc` (channels the expansion is computed from).
    pub force_in_chs: usize,
    /// Option `gs`: channels per group (1 = depthwise); `None` keeps the block's default.
    pub group_size: Option<usize>,
}

fn bad(message: String) -> ShapeError {
    ShapeError { message }
}

fn parse_int(block: &str, key: &str, value: &str) -> Result<usize> {
    value.parse().map_err(|_| bad(format!("block {block:?}: option {key}{value} is not a whole number")))
}

fn parse_float(block: &str, key: &str, value: &str) -> Result<f64> {
    value.parse().map_err(|_| bad(format!("block {block:?}: option {key}{value} is not a number")))
}

/// `_decode_block_str`: one block string to its arguments and repeat count.
pub fn decode_block(block: &str) -> Result<(BlockArgs, usize)> {
    let mut ops = block.split('_');
    let kind = ops.next().unwrap_or_default();
    let block_type = match kind {
        "ds" | "dsa" => BlockType::DepthwiseSeparable,
        "ir" => BlockType::InvertedResidual,
        "er" => BlockType::EdgeResidual,
        "cn" => BlockType::ConvBnAct,
        other => return Err(bad(format!("block {block:?}: unsupported block type {other:?}"))),
    };
    let mut skip = None;
    let mut act = None;
    // Numeric options, the last occurrence winning as in timm's dict.
    let mut options: Vec<(&str, &str)> = Vec::new();
    for op in ops {
        if op == "noskip" {
            skip = Some(false);
        } else if op == "skip" {
            skip = Some(true);
        } else if let Some(v) = op.strip_prefix('n') {
            act = match v {
                "re" => Some(Act::Relu),
                "r6" => Some(Act::Relu6),
                "hs" => Some(Act::HardSwish),
                "sw" => Some(Act::Silu),
                "mi" => return Err(bad(format!("block {block:?}: the mish activation is not supported"))),
                // timm ignores other `n` options.
                _ => act,
            };
        } else if let Some(at) = op.find(|c: char| c.is_ascii_digit()) {
            options.retain(|(k, _)| *k != &op[..at]);
            options.push((&op[..at], &op[at..]));
        }
    }
    let get = |key: &str| options.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let need = |key: &str| get(key).ok_or_else(|| bad(format!("block {block:?}: option {key} is missing")));
    let int = |key: &str, default: usize| get(key).map_or(Ok(default), |v| parse_int(block, key, v));
    // Mixed kernels (`k3.5.7`, MixNet) and the rarer options are not supported here.
    for key in ["cc", "d"] {
        if let Some(v) = get(key)
            && parse_float(block, key, v)? > 0.0
        {
            return Err(bad(format!("block {block:?}: option {key} is not supported")));
        }
    }
    let repeats = parse_int(block, "r", need("r")?)?;
    let mut args = BlockArgs {
        block_type,
        out_chs: parse_int(block, "c", need("c")?)?,
        stride: parse_int(block, "s", need("s")?)?,
        act,
        kernel: parse_int(block, "k", need("k")?)?,
        exp_kernel: 1,
        pw_kernel: int("p", 1)?,
        exp_ratio: None,
        se_ratio: match get("se") {
            Some(v) => parse_float(block, "se", v)?,
            None => 0.0,
        },
        noskip: skip == Some(false),
        skip: false,
        pw_act: false,
        force_in_chs: 0,
        group_size: get("gs").map(|v| parse_int(block, "gs", v)).transpose()?,
    };
    match block_type {
        BlockType::DepthwiseSeparable => {
            args.pw_act = kind == "dsa";
            args.noskip = kind == "dsa" || skip == Some(false);
        }
        BlockType::InvertedResidual => {
            args.exp_kernel = int("a", 1)?;
            args.exp_ratio = Some(parse_float(block, "e", need("e")?)?);
        }
        BlockType::EdgeResidual => {
            args.exp_ratio = Some(parse_float(block, "e", need("e")?)?);
            args.force_in_chs = int("fc", 0)?;
        }
        BlockType::ConvBnAct => {
            args.skip = skip == Some(true);
            args.noskip = false;
            args.se_ratio = 0.0;
            args.pw_kernel = 1;
        }
    }
    Ok((args, repeats))
}

/// How `decode_arch_def` truncates a scaled repeat count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepthTrunc {
    /// EfficientNet's default: every multiplier above 1 deepens every stage.
    Ceil,
    /// TinyNet's: round (half to even, as Python).
    Round,
}

/// `_scale_stage_depth`: the repeats of one stage's block definitions, scaled together.
pub fn scale_stage_depth(repeats: &[usize], depth_multiplier: f64, trunc: DepthTrunc) -> Vec<usize> {
    let mut num_repeat: usize = repeats.iter().sum();
    let mut num_repeat_scaled = match trunc {
        DepthTrunc::Round => round_half_even(num_repeat as f64 * depth_multiplier).max(1),
        DepthTrunc::Ceil => (num_repeat as f64 * depth_multiplier).ceil() as usize,
    };
    // Allocated in reverse, so the first definition is the least likely to be scaled.
    let mut scaled = Vec::with_capacity(repeats.len());
    for &r in repeats.iter().rev() {
        let rs = round_half_even(r as f64 / num_repeat as f64 * num_repeat_scaled as f64).max(1);
        scaled.push(rs);
        num_repeat -= r;
        num_repeat_scaled = num_repeat_scaled.saturating_sub(rs);
    }
    scaled.reverse();
    scaled
}

/// `decode_arch_def`: stages of block strings to stages of block arguments, depth-scaled.
pub fn decode_arch_def(
    arch: &[&[&str]],
    depth_multiplier: f64,
    trunc: DepthTrunc,
    fix_first_last: bool,
) -> Result<Vec<Vec<BlockArgs>>> {
    decode_arch_def_staged(arch, depth_multiplier, &[], trunc, fix_first_last)
}

/// [`decode_arch_def`] with a depth multiplier per stage where `per_stage` is not empty.
pub fn decode_arch_def_staged(
    arch: &[&[&str]],
    depth_multiplier: f64,
    per_stage: &[f64],
    trunc: DepthTrunc,
    fix_first_last: bool,
) -> Result<Vec<Vec<BlockArgs>>> {
    let last = arch.len().saturating_sub(1);
    arch.iter()
        .enumerate()
        .map(|(stage, blocks)| {
            let decoded = blocks.iter().map(|b| decode_block(b)).collect::<Result<Vec<_>>>()?;
            let repeats: Vec<usize> = decoded.iter().map(|(_, r)| *r).collect();
            let multiplier = if fix_first_last && (stage == 0 || stage == last) {
                1.0
            } else {
                per_stage.get(stage).copied().unwrap_or(depth_multiplier)
            };
            let scaled = scale_stage_depth(&repeats, multiplier, trunc);
            Ok(decoded.into_iter().zip(scaled).flat_map(|((args, _), n)| std::iter::repeat_n(args, n)).collect())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Model configuration (the generators' keyword arguments)
// ---------------------------------------------------------------------------------------------

/// How squeeze-excite rounds its reduced width (`rd_round_fn`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RdRound {
    /// Python's `round` (the `SqueezeExcite` default).
    Round,
    /// `make_divisible(·, divisor)` (`round_channels` in MobileNetV3 and hardcorenas).
    Divisible(usize),
    /// The model's `round_chs_fn` (FBNetV3: multiplier 1, round limit 0.95).
    Channels(RoundChannels),
}

impl RdRound {
    pub fn apply(self, v: f64) -> usize {
        match self {
            RdRound::Round => round_half_even(v),
            RdRound::Divisible(divisor) => make_divisible(v, divisor),
            RdRound::Channels(round) => make_divisible_limit(v * round.multiplier, round.divisor, round.limit),
        }
    }
}

/// The model's `se_layer` and the builder's `se_from_exp`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeLayer {
    /// Gate: sigmoid (default) or hard sigmoid (MobileNetV3).
    pub gate: Act,
    /// `force_act_layer`; otherwise the block's activation.
    pub force_act: Option<Act>,
    pub rd_round: RdRound,
    /// Reduction ratio relative to the expanded (SE input) channels; otherwise relative to the
    /// block's input channels (`se_ratio / exp_ratio`).
    pub from_exp: bool,
    /// `se_layer='gc'`: timm's GlobalContext (attention pooling, a layer-normed 1x1 MLP, sigmoid scale)
    /// instead of squeeze-excite.
    pub global_context: bool,
}

/// `EfficientNet`'s SE: block activation, sigmoid gate, `round`, ratio relative to block input.
pub const EFFICIENTNET_SE: SeLayer =
    SeLayer { gate: Act::Sigmoid, force_act: None, rd_round: RdRound::Round, from_exp: false, global_context: false };

/// `MobileNetV3`'s SE: ReLU, hard-sigmoid gate, `round_channels`, ratio relative to the expansion.
pub const MOBILENETV3_SE: SeLayer = SeLayer {
    gate: Act::HardSigmoid,
    force_act: Some(Act::Relu),
    rd_round: RdRound::Divisible(8),
    from_exp: true,
    global_context: false,
};

/// Which timm class wraps the blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// conv_head → bn2 → pool → classifier.
    EfficientNet,
    /// pool → conv_head (bias) → act2 → flatten → classifier.
    MobileNetV3,
}

/// Everything the model class and its builder are given.
#[derive(Clone, Debug)]
pub struct Config {
    pub class: Class,
    pub arch: &'static [&'static [&'static str]],
    pub depth_multiplier: f64,
    /// Per-stage depth multipliers (timm's tuple `depth_multiplier`), overriding the scalar.
    pub stage_depth_multipliers: &'static [f64],
    pub depth_trunc: DepthTrunc,
    pub fix_first_last: bool,
    pub round_chs: RoundChannels,
    pub stem_size: usize,
    /// Keep the stem width as given (no channel multiplier).
    pub fix_stem: bool,
    /// Width of `conv_head`, as the generator resolved it (0: no head convolution).
    pub num_features: usize,
    /// The model's default activation.
    pub act: Act,
    pub se: SeLayer,
    pub bn_eps: f64,
    /// MobileNetV3 only: bias on `conv_head`.
    pub head_bias: bool,
}

impl Config {
    fn efficientnet(arch: &'static [&'static [&'static str]], round_chs: RoundChannels, act: Act) -> Config {
        Config {
            class: Class::EfficientNet,
            arch,
            depth_multiplier: 1.0,
            stage_depth_multipliers: &[],
            depth_trunc: DepthTrunc::Ceil,
            fix_first_last: false,
            round_chs,
            stem_size: 32,
            fix_stem: false,
            num_features: 1280,
            act,
            se: EFFICIENTNET_SE,
            bn_eps: 1e-5,
            head_bias: false,
        }
    }
}

const MOBILENET_V2: &[&[&str]] = &[
    &["ds_r1_k3_s1_c16"],
    &["ir_r2_k3_s2_e6_c24"],
    &["ir_r3_k3_s2_e6_c32"],
    &["ir_r4_k3_s2_e6_c64"],
    &["ir_r3_k3_s1_e6_c96"],
    &["ir_r3_k3_s2_e6_c160"],
    &["ir_r1_k3_s1_e6_c320"],
];

/// `_gen_mobilenet_v2` (fix_stem_head = False).
pub fn mobilenet_v2(channel_multiplier: f64, depth_multiplier: f64) -> Config {
    let round_chs = RoundChannels::new(channel_multiplier);
    Config {
        depth_multiplier,
        num_features: 1280.max(round_chs.round(1280)),
        ..Config::efficientnet(MOBILENET_V2, round_chs, Act::Relu6)
    }
}

const EFFICIENTNET: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_se0.25"],
    &["ir_r2_k3_s2_e6_c24_se0.25"],
    &["ir_r2_k5_s2_e6_c40_se0.25"],
    &["ir_r3_k3_s2_e6_c80_se0.25"],
    &["ir_r3_k5_s1_e6_c112_se0.25"],
    &["ir_r4_k5_s2_e6_c192_se0.25"],
    &["ir_r1_k3_s1_e6_c320_se0.25"],
];

/// `_gen_efficientnet` (channel_divisor 8).
pub fn efficientnet(channel_multiplier: f64, depth_multiplier: f64) -> Config {
    let round_chs = RoundChannels::new(channel_multiplier);
    Config {
        depth_multiplier,
        num_features: round_chs.round(1280),
        ..Config::efficientnet(EFFICIENTNET, round_chs, Act::Silu)
    }
}

const EFFICIENTNET_LITE: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16"],
    &["ir_r2_k3_s2_e6_c24"],
    &["ir_r2_k5_s2_e6_c40"],
    &["ir_r3_k3_s2_e6_c80"],
    &["ir_r3_k5_s1_e6_c112"],
    &["ir_r4_k5_s2_e6_c192"],
    &["ir_r1_k3_s1_e6_c320"],
];

/// `_gen_efficientnet_lite`: fixed stem and head, first and last stages never deepened.
pub fn efficientnet_lite(channel_multiplier: f64, depth_multiplier: f64) -> Config {
    Config {
        depth_multiplier,
        fix_first_last: true,
        fix_stem: true,
        ..Config::efficientnet(EFFICIENTNET_LITE, RoundChannels::new(channel_multiplier), Act::Relu6)
    }
}

const MNASNET_A1: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_noskip"],
    &["ir_r2_k3_s2_e6_c24"],
    &["ir_r3_k5_s2_e3_c40_se0.25"],
    &["ir_r4_k3_s2_e6_c80"],
    &["ir_r2_k3_s1_e6_c112_se0.25"],
    &["ir_r3_k5_s2_e6_c160_se0.25"],
    &["ir_r1_k3_s1_e6_c320"],
];

/// `_gen_mnasnet_a1` (timm's `semnasnet_*`).
pub fn mnasnet_a1(channel_multiplier: f64) -> Config {
    Config::efficientnet(MNASNET_A1, RoundChannels::new(channel_multiplier), Act::Relu)
}

const MNASNET_B1: &[&[&str]] = &[
    &["ds_r1_k3_s1_c16_noskip"],
    &["ir_r3_k3_s2_e3_c24"],
    &["ir_r3_k5_s2_e3_c40"],
    &["ir_r3_k5_s2_e6_c80"],
    &["ir_r2_k3_s1_e6_c96"],
    &["ir_r4_k5_s2_e6_c192"],
    &["ir_r1_k3_s1_e6_c320_noskip"],
];

/// `_gen_mnasnet_b1` (timm's `mnasnet_*`).
pub fn mnasnet_b1(channel_multiplier: f64) -> Config {
    Config::efficientnet(MNASNET_B1, RoundChannels::new(channel_multiplier), Act::Relu)
}

const SPNASNET: &[&[&str]] = &[
    &["ds_r1_k3_s1_c16_noskip"],
    &["ir_r3_k3_s2_e3_c24"],
    &["ir_r1_k5_s2_e6_c40", "ir_r3_k3_s1_e3_c40"],
    &["ir_r1_k5_s2_e6_c80", "ir_r3_k3_s1_e3_c80"],
    &["ir_r1_k5_s1_e6_c96", "ir_r3_k5_s1_e3_c96"],
    &["ir_r4_k5_s2_e6_c192"],
    &["ir_r1_k3_s1_e6_c320_noskip"],
];

/// `_gen_spnasnet`.
pub fn spnasnet(channel_multiplier: f64) -> Config {
    Config::efficientnet(SPNASNET, RoundChannels::new(channel_multiplier), Act::Relu)
}

/// `_gen_tinynet`: EfficientNet-B0's blocks, depth rounded rather than ceiled, fixed stem.
pub fn tinynet(model_width: f64, depth_multiplier: f64) -> Config {
    let round_chs = RoundChannels::new(model_width);
    Config {
        depth_multiplier,
        depth_trunc: DepthTrunc::Round,
        fix_stem: true,
        num_features: 1280.max(round_chs.round(1280)),
        ..Config::efficientnet(EFFICIENTNET, round_chs, Act::Silu)
    }
}

const FBNETC: &[&[&str]] = &[
    &["ir_r1_k3_s1_e1_c16"],
    &["ir_r1_k3_s2_e6_c24", "ir_r2_k3_s1_e1_c24"],
    &["ir_r1_k5_s2_e6_c32", "ir_r1_k5_s1_e3_c32", "ir_r1_k5_s1_e6_c32", "ir_r1_k3_s1_e6_c32"],
    &["ir_r1_k5_s2_e6_c64", "ir_r1_k5_s1_e3_c64", "ir_r2_k5_s1_e6_c64"],
    &["ir_r3_k5_s1_e6_c112", "ir_r1_k5_s1_e3_c112"],
    &["ir_r4_k5_s2_e6_c184"],
    &["ir_r1_k3_s1_e6_c352"],
];

/// `_gen_fbnetc`. timm builds `fbnetc_100` with its pretrained weights' BN epsilon (1e-3) only
/// when `pretrained=True`; `timm.create_model('fbnetc_100')` keeps PyTorch's 1e-5, as here.
pub fn fbnetc(channel_multiplier: f64) -> Config {
    Config {
        stem_size: 16,
        num_features: 1984,
        ..Config::efficientnet(FBNETC, RoundChannels::new(channel_multiplier), Act::Relu)
    }
}

const MOBILENETV3_SMALL: &[&[&str]] = &[
    &["ds_r1_k3_s2_e1_c16_se0.25_nre"],
    &["ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"],
    &["ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25"],
    &["ir_r2_k5_s1_e3_c48_se0.25"],
    &["ir_r3_k5_s2_e6_c96_se0.25"],
    &["cn_r1_k1_s1_c576"],
];

const MOBILENETV3_LARGE: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_nre"],
    &["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
    &["ir_r3_k5_s2_e3_c40_se0.25_nre"],
    &["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
    &["ir_r2_k3_s1_e6_c112_se0.25"],
    &["ir_r3_k5_s2_e6_c160_se0.25"],
    &["cn_r1_k1_s1_c960"],
];

const EFFICIENTNETV2_RW: &[&[&str]] = &[
    &["er_r2_k3_s1_e1_c24"],
    &["er_r4_k3_s2_e4_c48"],
    &["er_r4_k3_s2_e4_c64"],
    &["ir_r6_k3_s2_e4_c128_se0.25"],
    &["ir_r9_k3_s1_e6_c160_se0.25"],
    &["ir_r15_k3_s2_e6_c272_se0.25"],
];

/// `_gen_efficientnetv2_s(rw=True)` for efficientnetv2_rw_m: channel multiplier 1.2, depth
/// multipliers (1.2,) * 4 + (1.6,) * 2, stem 24, 1792 head features, SiLU.
pub fn efficientnetv2_rw_m() -> Config {
    let round_chs = RoundChannels::new(1.2);
    Config {
        stage_depth_multipliers: &[1.2, 1.2, 1.2, 1.2, 1.6, 1.6],
        stem_size: 24,
        num_features: round_chs.round(1792),
        ..Config::efficientnet(EFFICIENTNETV2_RW, round_chs, Act::Silu)
    }
}

const EFFICIENTNETV2_S: &[&[&str]] = &[
    &["cn_r2_k3_s1_e1_c24_skip"],
    &["er_r4_k3_s2_e4_c48"],
    &["er_r4_k3_s2_e4_c64"],
    &["ir_r6_k3_s2_e4_c128_se0.25"],
    &["ir_r9_k3_s1_e6_c160_se0.25"],
    &["ir_r15_k3_s2_e6_c256_se0.25"],
];

/// `gc_efficientnetv2_rw_t`: `_gen_efficientnetv2_s(rw=False)` at channel multiplier 0.8 and depth
/// multiplier 0.9, stem 24, 1280 head features (both scaled), SiLU, global context for SE.
pub fn gc_efficientnetv2_rw_t() -> Config {
    let round_chs = RoundChannels::new(0.8);
    Config {
        depth_multiplier: 0.9,
        stem_size: 24,
        num_features: round_chs.round(1280),
        se: SeLayer { global_context: true, ..EFFICIENTNET_SE },
        ..Config::efficientnet(EFFICIENTNETV2_S, round_chs, Act::Silu)
    }
}

const FBNETV3_B: &[&[&str]] = &[
    &["ds_r2_k3_s1_e1_c16"],
    &["ir_r1_k5_s2_e4_c24", "ir_r3_k5_s1_e2_c24"],
    &["ir_r1_k5_s2_e5_c40_se0.25", "ir_r4_k5_s1_e3_c40_se0.25"],
    &["ir_r1_k5_s2_e5_c72", "ir_r4_k3_s1_e3_c72"],
    &["ir_r1_k3_s1_e5_c120_se0.25", "ir_r5_k5_s1_e3_c120_se0.25"],
    &["ir_r1_k3_s2_e6_c184_se0.25", "ir_r5_k5_s1_e4_c184_se0.25", "ir_r1_k5_s1_e6_c224_se0.25"],
    &["cn_r1_k1_s1_c1344"],
];

/// `_gen_fbnetv3` for fbnetv3_b (MobileNetV3 class): round limit 0.95, hard-swish, SE with a
/// hard-sigmoid gate, the block's activation and the model's channel rounding, ratio relative to
/// the block input; 1984 head features without bias.
pub fn fbnetv3_b() -> Config {
    let round_chs = RoundChannels { limit: 0.95, ..RoundChannels::new(1.0) };
    Config {
        arch: FBNETV3_B,
        round_chs,
        fix_stem: false,
        num_features: 1984,
        head_bias: false,
        se: SeLayer {
            gate: Act::HardSigmoid,
            force_act: None,
            rd_round: RdRound::Channels(round_chs),
            from_exp: false,
            global_context: false,
        },
        ..mobilenet_v3(false, 1.0, 1.0)
    }
}

/// `_gen_mobilenet_v3` for the non-minimal `small` and `large` variants.
pub fn mobilenet_v3(small: bool, channel_multiplier: f64, depth_multiplier: f64) -> Config {
    Config {
        class: Class::MobileNetV3,
        arch: if small { MOBILENETV3_SMALL } else { MOBILENETV3_LARGE },
        depth_multiplier,
        stage_depth_multipliers: &[],
        depth_trunc: DepthTrunc::Ceil,
        fix_first_last: false,
        round_chs: RoundChannels::new(channel_multiplier),
        stem_size: 16,
        fix_stem: channel_multiplier < 0.75,
        num_features: if small { 1024 } else { 1280 },
        act: Act::HardSwish,
        se: MOBILENETV3_SE,
        bn_eps: 1e-5,
        head_bias: true,
    }
}

const HARDCORENAS_A: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_nre"],
    &["ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25"],
    &["ir_r1_k5_s2_e3_c40_nre", "ir_r1_k5_s1_e6_c40_nre_se0.25"],
    &["ir_r1_k5_s2_e6_c80_se0.25", "ir_r1_k5_s1_e6_c80_se0.25"],
    &["ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k5_s1_e6_c112_se0.25"],
    &["ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25"],
    &["cn_r1_k1_s1_c960"],
];

/// `_gen_hardcorenas` (hardcorenas.py), on the `MobileNetV3` class.
pub fn hardcorenas(arch: &'static [&'static [&'static str]]) -> Config {
    Config { stem_size: 32, num_features: 1280, arch, ..mobilenet_v3(false, 1.0, 1.0) }
}

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/// `num_groups(group_size, channels)`.
fn num_groups(name: &str, group_size: usize, channels: usize) -> Result<usize> {
    if group_size == 0 {
        Ok(1)
    } else if channels.is_multiple_of(group_size) {
        Ok(channels / group_size)
    } else {
        Err(bad(format!("{name}: {channels} channels do not split into groups of {group_size}")))
    }
}

fn conv_bn(
    g: &mut GraphBuilder,
    conv_name: &str,
    bn_name: &str,
    x: Id,
    conv: Conv,
    act: Option<Act>,
    eps: f64,
) -> Result<Id> {
    let x = g.conv(conv_name, x, conv)?;
    let x = g.batch_norm_eps(bn_name, x, eps)?;
    Ok(match act {
        Some(act) => g.act(&format!("{bn_name}.act"), x, act),
        None => x,
    })
}

/// timm's `SqueezeExcite` on `x` (named `{name}.se.*`).
fn squeeze_excite(g: &mut GraphBuilder, name: &str, x: Id, rd: usize, act: Act, gate: Act) -> Result<Id> {
    let c = g.channels(x);
    let s = g.spatial_mean(&format!("{name}.se.mean"), x)?;
    let s = g.conv(&format!("{name}.se.conv_reduce"), s, Conv::new(rd, 1, 1).bias(true))?;
    let s = g.act(&format!("{name}.se.act1"), s, act);
    let s = g.conv(&format!("{name}.se.conv_expand"), s, Conv::new(c, 1, 1).bias(true))?;
    let s = g.act(&format!("{name}.se.gate"), s, gate);
    g.gate(&format!("{name}.se.mul"), x, s)
}

/// timm's GlobalContext with its defaults (`fuse_scale`, no add) as an `se_layer`: softmax attention
/// pooling (`conv_attn`), `mlp_scale` (1x1 conv, LayerNorm2d, the block's activation, 1x1 conv) to
/// `make_divisible(c x ratio, 1, round_limit=0)` channels, a sigmoid gate times the input.
fn global_context(g: &mut GraphBuilder, name: &str, x: Id, ratio: f64, act: Act) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let c = g.channels(x);
    let rd = ((c as f64 * ratio + 0.5) as usize).max(1);
    let logits = g.conv(&n("conv_attn"), x, Conv::new(1, 1, 1).bias(true))?;
    let context = g.context_pool(&n("context"), x, logits)?;
    let m = g.conv(&n("mlp_scale.fc1"), context, Conv::new(rd, 1, 1).bias(true))?;
    let m = g.layer_norm(&n("mlp_scale.norm"), m, 1e-6)?;
    let m = g.act(&n("mlp_scale.act"), m, act);
    let m = g.conv(&n("mlp_scale.fc2"), m, Conv::new(c, 1, 1).bias(true))?;
    let m = g.act(&n("gate"), m, Act::Sigmoid);
    g.gate(&n("mul"), x, m)
}

/// One block, as `EfficientNetBuilder._make_block` configures it.
struct Block<'a> {
    args: &'a BlockArgs,
    in_chs: usize,
    out_chs: usize,
    stride: usize,
    act: Act,
    /// The SE reduction ratio relative to the SE's input channels, if the block has one.
    se_ratio: Option<f64>,
}

fn block(g: &mut GraphBuilder, name: &str, x: Id, b: &Block, config: &Config) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let eps = config.bn_eps;
    let a = b.args;
    let se = |g: &mut GraphBuilder, y: Id| -> Result<Id> {
        match b.se_ratio {
            Some(ratio) if config.se.global_context => global_context(g, &format!("{name}.se"), y, ratio, b.act),
            Some(ratio) => {
                let rd = config.se.rd_round.apply(g.channels(y) as f64 * ratio);
                squeeze_excite(g, name, y, rd, config.se.force_act.unwrap_or(b.act), config.se.gate)
            }
            None => Ok(y),
        }
    };
    let (y, has_skip) = match a.block_type {
        BlockType::DepthwiseSeparable => {
            let groups = num_groups(name, a.group_size.unwrap_or(1), b.in_chs)?;
            let dw = Conv::new(b.in_chs, a.kernel, b.stride).groups(groups);
            let y = conv_bn(g, &n("conv_dw"), &n("bn1"), x, dw, Some(b.act), eps)?;
            let y = se(g, y)?;
            let pw_act = a.pw_act.then_some(b.act);
            let y = conv_bn(g, &n("conv_pw"), &n("bn2"), y, Conv::new(b.out_chs, a.pw_kernel, 1), pw_act, eps)?;
            (y, b.stride == 1 && b.in_chs == b.out_chs && !a.noskip)
        }
        BlockType::InvertedResidual => {
            let mid = make_divisible(b.in_chs as f64 * a.exp_ratio.unwrap_or(1.0), 8);
            let groups = num_groups(name, a.group_size.unwrap_or(1), mid)?;
            let pw = Conv::new(mid, a.exp_kernel, 1);
            let y = conv_bn(g, &n("conv_pw"), &n("bn1"), x, pw, Some(b.act), eps)?;
            let dw = Conv::new(mid, a.kernel, b.stride).groups(groups);
            let y = conv_bn(g, &n("conv_dw"), &n("bn2"), y, dw, Some(b.act), eps)?;
            let y = se(g, y)?;
            let y = conv_bn(g, &n("conv_pwl"), &n("bn3"), y, Conv::new(b.out_chs, a.pw_kernel, 1), None, eps)?;
            (y, b.stride == 1 && b.in_chs == b.out_chs && !a.noskip)
        }
        BlockType::EdgeResidual => {
            let base = if a.force_in_chs > 0 { config.round_chs.round(a.force_in_chs) } else { b.in_chs };
            let mid = make_divisible(base as f64 * a.exp_ratio.unwrap_or(1.0), 8);
            let groups = num_groups(name, a.group_size.unwrap_or(0), mid)?;
            let exp = Conv::new(mid, a.kernel, b.stride).groups(groups);
            let y = conv_bn(g, &n("conv_exp"), &n("bn1"), x, exp, Some(b.act), eps)?;
            let y = se(g, y)?;
            let y = conv_bn(g, &n("conv_pwl"), &n("bn2"), y, Conv::new(b.out_chs, a.pw_kernel, 1), None, eps)?;
            (y, b.stride == 1 && b.in_chs == b.out_chs && !a.noskip)
        }
        BlockType::ConvBnAct => {
            let groups = num_groups(name, a.group_size.unwrap_or(0), b.in_chs)?;
            let conv = Conv::new(b.out_chs, a.kernel, b.stride).groups(groups);
            let y = conv_bn(g, &n("conv"), &n("bn1"), x, conv, Some(b.act), eps)?;
            (y, a.skip && b.stride == 1 && b.in_chs == b.out_chs)
        }
    };
    if has_skip { g.add(&n("add"), y, x) } else { Ok(y) }
}

/// The model at `spec`: stem, `EfficientNetBuilder`'s blocks, and the class's head.
pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let stages = decode_arch_def_staged(
        config.arch,
        config.depth_multiplier,
        config.stage_depth_multipliers,
        config.depth_trunc,
        config.fix_first_last,
    )?;
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let eps = config.bn_eps;

    let stem = if config.fix_stem { config.stem_size } else { config.round_chs.round(config.stem_size) };
    let mut x = conv_bn(&mut g, "conv_stem", "bn1", x, Conv::new(stem, 3, 2), Some(config.act), eps)?;

    let mut in_chs = stem;
    for (s, stage) in stages.iter().enumerate() {
        for (i, args) in stage.iter().enumerate() {
            if !matches!(args.stride, 1 | 2) {
                return Err(bad(format!("blocks.{s}.{i}: stride {} (timm allows 1 or 2)", args.stride)));
            }
            // Only the first block of a stage strides.
            let stride = if i == 0 { args.stride } else { 1 };
            let se_ratio = (args.se_ratio > 0.0).then(|| {
                if config.se.from_exp { args.se_ratio } else { args.se_ratio / args.exp_ratio.unwrap_or(1.0) }
            });
            let b = Block {
                args,
                in_chs,
                out_chs: config.round_chs.round(args.out_chs),
                stride,
                act: args.act.unwrap_or(config.act),
                se_ratio,
            };
            x = block(&mut g, &format!("blocks.{s}.{i}"), x, &b, config)?;
            in_chs = b.out_chs;
        }
    }

    match config.class {
        Class::EfficientNet => {
            if config.num_features > 0 {
                let head = Conv::new(config.num_features, 1, 1);
                x = conv_bn(&mut g, "conv_head", "bn2", x, head, Some(config.act), eps)?;
            }
            g.classifier("classifier", x, "global_pool.pool", spec.classes)?;
        }
        Class::MobileNetV3 => {
            let x = g.adaptive_avg_pool("global_pool.pool", x, 1, 1)?;
            let head = Conv::new(config.num_features, 1, 1).bias(config.head_bias);
            let x = g.conv("conv_head", x, head)?;
            let x = g.act("act2", x, config.act);
            let x = g.flatten("flatten", x)?;
            g.linear("classifier", x, spec.classes, true)?;
        }
    }
    Ok(g.finish())
}

// ---------------------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------------------

const MOBILENETV2_PAPER: &str = "https://arxiv.org/abs/1801.04381";
const EFFICIENTNET_PAPER: &str = "https://arxiv.org/abs/1905.11946";
const MNASNET_PAPER: &str = "https://arxiv.org/abs/1807.11626";
const MOBILENETV3_PAPER: &str = "https://arxiv.org/abs/1905.02244";

macro_rules! entry {
    ($name:literal, $family:literal, $kind:ident, $paper:expr, $size:literal, $config:expr) => {
        Entry {
            name: $name,
            family: $family,
            kind: ModelKind::$kind,
            efficient: true,
            paper: $paper,
            default_size: $size,
            from_timm: true,
            build: |spec: &Spec| build(&$config, spec),
        }
    };
}

/// All of these are convolutional networks (the PePR paper's `type` column files the NAS models
/// mnasnet, semnasnet, spnasnet and hardcorenas under "Other"; the catalog's kind is the
/// architecture's), and every entry here is an efficiency-designed network.
pub static ENTRIES: &[Entry] = &[
    entry!("mobilenetv2_050", "mobilenetv2", Cnn, MOBILENETV2_PAPER, 224, mobilenet_v2(0.5, 1.0)),
    entry!("mobilenetv2_100", "mobilenetv2", Cnn, MOBILENETV2_PAPER, 224, mobilenet_v2(1.0, 1.0)),
    entry!("mobilenetv3_small_100", "mobilenetv3", Cnn, MOBILENETV3_PAPER, 224, mobilenet_v3(true, 1.0, 1.0)),
    entry!("efficientnet_b0", "efficientnet", Cnn, EFFICIENTNET_PAPER, 224, efficientnet(1.0, 1.0)),
    entry!("efficientnet_lite0", "efficientnet", Cnn, EFFICIENTNET_PAPER, 224, efficientnet_lite(1.0, 1.0)),
    entry!("tinynet_a", "tinynet", Cnn, "https://arxiv.org/abs/2010.14819", 192, tinynet(1.0, 1.2)),
    entry!("mnasnet_100", "mnasnet", Cnn, MNASNET_PAPER, 224, mnasnet_b1(1.0)),
    entry!("semnasnet_075", "mnasnet", Cnn, MNASNET_PAPER, 224, mnasnet_a1(0.75)),
    entry!("spnasnet_100", "spnasnet", Cnn, "https://arxiv.org/abs/1904.02877", 224, spnasnet(1.0)),
    entry!("fbnetc_100", "fbnet", Cnn, "https://arxiv.org/abs/1812.03443", 224, fbnetc(1.0)),
    entry!("hardcorenas_a", "hardcorenas", Cnn, "https://arxiv.org/abs/2102.11646", 224, hardcorenas(HARDCORENAS_A)),
    entry!("fbnetv3_b", "fbnet", Cnn, "https://arxiv.org/abs/1812.03443", 224, fbnetv3_b()),
    entry!("efficientnetv2_rw_m", "efficientnet", Cnn, "https://arxiv.org/abs/2104.00298", 320, efficientnetv2_rw_m()),
    // The paper types it `Other` (model_names.csv) and marks it efficient.
    entry!(
        "gc_efficientnetv2_rw_t",
        "efficientnet",
        Other,
        "https://arxiv.org/abs/2104.00298",
        224,
        gc_efficientnetv2_rw_t()
    ),
];

/// Renames a state dict from efficientnet_pytorch's key names (lukemelas/EfficientNet-PyTorch and
/// forks such as EfficientNet-Lite-PyTorch: `_conv_stem`, `_blocks.N._expand_conv`, `_fc`, ...) to
/// timm's, for the EfficientNet graph `graph`. efficientnet_pytorch numbers blocks 0..N across
/// stages; timm nests them as `blocks.STAGE.INDEX`, taken here from the graph in order. Returns
/// `None` when the keys are not efficientnet_pytorch's; an unknown key is kept as it is (the
/// loader then reports it as unexpected).
pub fn from_efficientnet_pytorch<T>(
    graph: &Graph,
    state: std::collections::BTreeMap<String, T>,
) -> Option<std::collections::BTreeMap<String, T>> {
    if !state.contains_key("_conv_stem.weight") {
        return None;
    }
    // timm's blocks in execution order, and whether each has an expansion conv (conv_pwl).
    let mut blocks: Vec<(String, bool)> = Vec::new();
    for node in &graph.nodes {
        let mut parts = node.name.splitn(4, '.');
        if let (Some("blocks"), Some(stage), Some(index)) = (parts.next(), parts.next(), parts.next()) {
            let block = format!("blocks.{stage}.{index}");
            if blocks.last().map(|(b, _)| b != &block).unwrap_or(true) {
                blocks.push((block.clone(), false));
            }
            if node.name == format!("{block}.conv_pwl") {
                blocks.last_mut().expect("pushed").1 = true;
            }
        }
    }
    let rename = |key: &str| -> Option<String> {
        let (module, leaf) = key.rsplit_once('.')?;
        let top = |m: &str| match m {
            "_conv_stem" => Some("conv_stem"),
            "_bn0" => Some("bn1"),
            "_conv_head" => Some("conv_head"),
            "_bn1" => Some("bn2"),
            "_fc" => Some("classifier"),
            _ => None,
        };
        if let Some(t) = top(module) {
            return Some(format!("{t}.{leaf}"));
        }
        let rest = module.strip_prefix("_blocks.")?;
        let (n, m) = rest.split_once('.')?;
        let (block, inverted) = blocks.get(n.parse::<usize>().ok()?)?;
        let part = match (m, inverted) {
            ("_expand_conv", true) => "conv_pw",
            ("_bn0", true) => "bn1",
            ("_depthwise_conv", _) => "conv_dw",
            ("_bn1", true) => "bn2",
            ("_bn1", false) => "bn1",
            ("_project_conv", true) => "conv_pwl",
            ("_project_conv", false) => "conv_pw",
            ("_bn2", true) => "bn3",
            ("_bn2", false) => "bn2",
            ("_se_reduce", _) => "se.conv_reduce",
            ("_se_expand", _) => "se.conv_expand",
            _ => return None,
        };
        Some(format!("{block}.{part}.{leaf}"))
    };
    Some(state.into_iter().map(|(k, v)| (rename(&k).unwrap_or(k), v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::count::total_macs;

    #[test]
    fn make_divisible_follows_timm() {
        assert_eq!(make_divisible(16.0 * 0.5, 8), 8);
        assert_eq!(make_divisible(24.0 * 0.75, 8), 24); // 16 would lose more than 10%
        assert_eq!(make_divisible(40.0 * 0.75, 8), 32);
        assert_eq!(make_divisible(24.0 * 3.67, 8), 88);
        assert_eq!(make_divisible(3.0, 8), 8);
        assert_eq!(make_divisible(72.0 * 0.25, 4), 20);
        assert_eq!(RoundChannels::new(0.5).round(1280), 640);
        assert_eq!(RoundChannels::new(0.0).round(37), 37);
    }

    #[test]
    fn block_strings_decode() {
        let (a, r) = decode_block("ir_r2_k3_s2_e6_c24_se0.25").unwrap();
        assert_eq!(r, 2);
        assert_eq!(a.block_type, BlockType::InvertedResidual);
        assert_eq!((a.kernel, a.stride, a.out_chs, a.exp_ratio, a.se_ratio), (3, 2, 24, Some(6.0), 0.25));
        assert!(!a.noskip && a.act.is_none());

        let (a, _) = decode_block("ds_r1_k3_s2_e1_c16_se0.25_nre").unwrap();
        assert_eq!(a.block_type, BlockType::DepthwiseSeparable);
        assert_eq!((a.act, a.exp_ratio), (Some(Act::Relu), None)); // `e` means nothing to ds
        assert!(!a.pw_act);

        let (a, _) = decode_block("dsa_r2_k3_s2_c128").unwrap();
        assert!(a.pw_act && a.noskip);

        let (a, _) = decode_block("ir_r1_k3_s1_e3.67_c24_nhs_noskip").unwrap();
        assert_eq!((a.exp_ratio, a.act, a.noskip), (Some(3.67), Some(Act::HardSwish), true));

        let (a, _) = decode_block("er_r1_k3_s1_e4_c24_fc24_noskip").unwrap();
        assert_eq!((a.block_type, a.kernel, a.force_in_chs, a.noskip), (BlockType::EdgeResidual, 3, 24, true));

        let (a, _) = decode_block("cn_r1_k1_s1_c960_skip").unwrap();
        assert_eq!((a.block_type, a.kernel, a.skip, a.se_ratio), (BlockType::ConvBnAct, 1, true, 0.0));

        let (a, _) = decode_block("ir_r1_k3_s1_e6_c32_gs8").unwrap();
        assert_eq!(a.group_size, Some(8));

        assert!(decode_block("xx_r1_k3_s1_c16").is_err());
        assert!(decode_block("ir_r1_k3_s1_c16").is_err()); // no expansion ratio
        assert!(decode_block("ir_r1_k3.5_s1_e6_c16").is_err()); // mixed kernels
        assert!(decode_block("ir_r1_k3_s1_e6_c16_nmi").is_err());
    }

    #[test]
    fn depth_scaling_follows_timm() {
        // EfficientNet-B1 (1.1, ceil) and TinyNet-A (1.2, round) on B0's repeats.
        let b0 = [1, 2, 2, 3, 3, 4, 1];
        let b1: Vec<_> = b0.iter().map(|&r| scale_stage_depth(&[r], 1.1, DepthTrunc::Ceil)[0]).collect();
        assert_eq!(b1, [2, 3, 3, 4, 4, 5, 2]);
        let a: Vec<_> = b0.iter().map(|&r| scale_stage_depth(&[r], 1.2, DepthTrunc::Round)[0]).collect();
        assert_eq!(a, [1, 2, 2, 4, 4, 5, 1]);
        // Several definitions in one stage share the scaled total, the last scaled first.
        // 3 / 4 x 6 = 4.5 rounds to 4 (half to even), leaving 2 for the first.
        assert_eq!(scale_stage_depth(&[1, 3], 1.5, DepthTrunc::Ceil), [2, 4]);
        assert_eq!(scale_stage_depth(&[1, 3], 1.0, DepthTrunc::Ceil), [1, 3]);
        let lite = decode_arch_def(EFFICIENTNET_LITE, 1.4, DepthTrunc::Ceil, true).unwrap();
        let repeats: Vec<_> = lite.iter().map(Vec::len).collect();
        assert_eq!(repeats, [1, 3, 3, 5, 5, 6, 1]);
    }

    #[test]
    fn efficientnet_b0_layers_match_timm() {
        let graph = build(&efficientnet(1.0, 1.0), &Spec::imagenet(224)).unwrap();
        let shape = |name: &str| graph.nodes.iter().find(|n| n.name == name).map(|n| n.output.to_string());
        assert_eq!(shape("blocks.0.0.se.conv_reduce").as_deref(), Some("8x1x1"));
        assert_eq!(shape("blocks.1.0.se.conv_reduce").as_deref(), Some("4x1x1"));
        assert_eq!(shape("blocks.6.0.conv_pwl").as_deref(), Some("320x7x7"));
        assert_eq!(shape("conv_head").as_deref(), Some("1280x7x7"));
        assert_eq!(graph.params(), 5_288_548);
        assert_eq!(total_macs(&graph), 399_352_864);
    }

    #[test]
    fn mobilenetv3_small_has_the_efficient_head() {
        let graph = build(&mobilenet_v3(true, 1.0, 1.0), &Spec::imagenet(224)).unwrap();
        let names: Vec<_> = graph.nodes.iter().rev().take(5).map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["classifier", "flatten", "act2", "conv_head", "global_pool.pool"]);
        assert_eq!(graph.params(), 2_542_856);
        assert_eq!(total_macs(&graph), 59_364_160);
    }

    #[test]
    fn efficientnet_pytorch_names_map_onto_timm_keys() {
        let graph = crate::catalog::find("efficientnet_lite0").unwrap().graph(&Spec::imagenet(224)).unwrap();
        let ours: std::collections::BTreeMap<String, ()> = [
            "_conv_stem.weight",
            "_bn0.running_var",
            "_blocks.0._depthwise_conv.weight",
            "_blocks.0._project_conv.weight",
            "_blocks.0._bn2.bias",
            "_blocks.1._expand_conv.weight",
            "_blocks.1._bn0.weight",
            "_blocks.3._bn2.weight",
            "_blocks.15._project_conv.weight",
            "_conv_head.weight",
            "_bn1.weight",
            "_fc.bias",
            "_unknown.weight",
        ]
        .into_iter()
        .map(|k| (k.to_string(), ()))
        .collect();
        let mapped: Vec<String> = from_efficientnet_pytorch(&graph, ours).unwrap().into_keys().collect();
        let expected = [
            "_unknown.weight",
            "blocks.0.0.bn2.bias",
            "blocks.0.0.conv_dw.weight",
            "blocks.0.0.conv_pw.weight",
            "blocks.1.0.bn1.weight",
            "blocks.1.0.conv_pw.weight",
            "blocks.2.0.bn3.weight",
            "blocks.6.0.conv_pwl.weight",
            "bn1.running_var",
            "bn2.weight",
            "classifier.bias",
            "conv_head.weight",
            "conv_stem.weight",
        ];
        assert_eq!(mapped, expected);
        let timm_keys: std::collections::BTreeSet<String> = graph.state_dict().into_iter().map(|(k, _)| k).collect();
        assert!(
            mapped.iter().filter(|k| *k != "_unknown.weight" && !k.contains("running")).all(|k| timm_keys.contains(k))
        );
    }
}
