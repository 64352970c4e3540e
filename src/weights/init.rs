//! A from-scratch network's first weights, drawn as timm draws them for its family (issue 18): a run
//! started from scratch in pepr starts where the same run in timm + PyTorch would (in distribution).
//!
//! Every catalog graph already names its layers as timm does, so the weights are made as a timm state
//! dict (PyTorch layouts: a convolution `[out, in / groups, kh, kw]`, a linear layer `[out, in]`) and
//! loaded like a checkpoint. Each family has a [`Scheme`], the rule of its timm model file (its
//! `_init_weights` / `init_weights`); where timm leaves a layer alone, PyTorch's default
//! (`kaiming_uniform_(a=sqrt(5))`: uniform with bound `1 / sqrt(fan_in)`, also for the bias) applies.
//! Each tensor gets its own generator, seeded by the run seed and its key, so the same seed gives the
//! same weights whatever the order or the thread.

use std::collections::BTreeMap;

use anyhow::Result;
use burn::tensor::{Device, Distribution, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::tensors::{StateDict, Tensor};
use crate::catalog::graph::{Graph, LambdaPos, Node, Op, Shape};
use crate::catalog::net::Net;

/// How one tensor's values are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    Const(f64),
    Normal {
        mean: f64,
        std: f64,
    },
    /// Uniform on `[-bound, bound)`.
    Uniform(f64),
    /// timm's `trunc_normal_(std)`: its cut-off at plus or minus 2 (absolute) is 100 standard deviations
    /// away for the widths used (0.02, 0.1), so the draw is normal.
    TruncNormal(f64),
    /// timm's `lecun_normal_`: a normal with standard deviation `sqrt(1 / fan_in)` after truncation at 2 of
    /// its own standard deviations (as `variance_scaling_` draws it).
    LecunNormal {
        fan_in: usize,
    },
    /// timm's `trunc_normal_tf_(std)`: a standard normal cut at plus or minus 2, times `std` (so its
    /// standard deviation is 0.88 x `std`).
    TruncNormalTf(f64),
}

/// A family's initialisation, named by the timm code it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// PyTorch's defaults everywhere (models whose timm file sets nothing: DPN, Xception, ConvMixer,
    /// GhostNet; pepr's own small models).
    PyTorch,
    /// `_init_weight_goog` (EfficientNet, MobileNet, MnasNet, FBNet, ...): convolutions normal with
    /// `sqrt(2 / fan_out)` (fan-out per group), zero biases, linear layers uniform with bound
    /// `1 / sqrt(out)`.
    Goog,
    /// resnet.py: convolutions Kaiming-normal fan-out; the last batch norm of every residual block starts
    /// at gamma 0 (`zero_init_last`); the rest PyTorch's.
    ResNet,
    /// resnetv2.py: Kaiming fan-out convolutions with zero bias, linear (and the 1x1 convolution head)
    /// normal(0.01) with zero bias.
    ResNetV2,
    /// Convolutions Kaiming-normal fan-out, the rest PyTorch's (legacy SENet, SelecSLS, HRNet, DLA).
    KaimingConvs,
    /// vovnet.py: as [`Scheme::KaimingConvs`], and the classifier's bias zero.
    VovNet,
    /// byobnet.py and regnet.py: convolutions normal `sqrt(2 / fan_out)` per group with zero bias, linear
    /// normal(0.01) with zero bias, last batch norm of each residual block at zero (RepVGG: batch-norm
    /// gammas normal(0.1, 0.1), betas normal(0, 0.1)).
    Byob,
    /// cspnet.py: Kaiming fan-out convolutions with zero bias, linear normal(0.01) with zero bias, last
    /// batch norm of each residual block at zero.
    Csp,
    /// densenet.py: Kaiming-normal fan-in convolutions, the classifier's bias zero.
    DenseNet,
    /// vgg.py: Kaiming fan-out convolutions with zero bias, linear normal(0.01) with zero bias.
    Vgg,
    /// convnext.py: convolutions and linear layers trunc-normal(0.02) with zero bias.
    ConvNext,
    /// inception_v3.py: convolutions and linear layers trunc-normal(0.1), biases PyTorch's.
    Inception,
    /// vision_transformer.py (`init_weights('')`): linear layers trunc-normal(0.02) with zero bias,
    /// position embedding trunc-normal(0.02), class token normal(1e-6), patch embedding PyTorch's.
    Vit,
    /// mlp_mixer.py: linear layers Xavier-uniform, biases zero (normal(1e-6) inside the MLPs), the head
    /// zero, the stem Lecun-normal with zero bias.
    Mixer,
    /// nfnet.py: every convolution (weight-standardised ones included) Kaiming-normal fan-in with gain 1
    /// (`nonlinearity='linear'`) and zero bias, the classifier normal(0.01) with zero bias; the
    /// standardised convolutions' `gain` starts at 1 and `skipinit_gain` at 0.
    NfNet,
    /// crossvit.py: linear layers trunc-normal(0.02) with zero bias, layer norms 1 and 0, class tokens
    /// and position embeddings trunc-normal(0.02), patch embeddings PyTorch's.
    CrossVit,
    /// mobilevit.py builds a ByobNet: [`Scheme::Byob`]'s rules (its transformers' linear layers
    /// included), but the last batch norm is zeroed only in blocks with a shortcut, as
    /// `BottleneckBlock.init_weights` does (timm's `downsample=''` leaves blocks that change shape
    /// without one).
    MobileVit,
    /// pvt_v2.py: convolutions normal `sqrt(2 / fan_out)` per group with zero bias, linear layers
    /// trunc-normal(0.02) with zero bias, layer norms 1 and 0.
    PvtV2,
    /// maxxvit.py with `weight_init='vit_eff'` (MaxViT "rw"): convolutions normal `sqrt(2 / fan_out)`
    /// per group with zero bias, the transformer layers' linear layers Xavier-uniform with zero bias
    /// (normal(1e-6) in the MLPs), relative position bias tables trunc-normal(0.02), the head PyTorch's.
    MaxVit,
    /// maxxvit.py with `weight_init='normal'` (MaxxViT rmlp): convolutions and linear layers (the
    /// relative position MLP's included) normal(0.02) with zero bias, layer scales 1e-6, the head
    /// PyTorch's.
    MaxxVit,
    /// swin_transformer_v2.py: linear layers (the position bias MLP's included) trunc-normal(0.02) with
    /// zero bias, the blocks' post-norms (`norm1`, `norm2`) zero, `logit_scale` ln 10, q and v biases
    /// zero, the patch embedding PyTorch's.
    SwinV2,
    /// edgenext.py: convolutions and linear layers `trunc_normal_tf_(0.02)` (cut at two standard
    /// deviations) with zero biases, layer scales at 1e-6, XCA temperatures at 1.
    EdgeNeXt,
}

impl Scheme {
    /// The scheme of a catalog family (the `family` of its entry).
    pub fn of_family(family: &str) -> Scheme {
        match family {
            "mobilenetv2" | "mobilenetv3" | "efficientnet" | "tinynet" | "mnasnet" | "spnasnet" | "fbnet"
            | "hardcorenas" => Scheme::Goog,
            "resnet" | "res2net" => Scheme::ResNet,
            "resnetv2" => Scheme::ResNetV2,
            "senet" | "selecsls" | "hrnet" | "dla" => Scheme::KaimingConvs,
            "vovnet" => Scheme::VovNet,
            "repvgg" | "byobnet" | "regnet" => Scheme::Byob,
            "cspnet" => Scheme::Csp,
            "densenet" => Scheme::DenseNet,
            "vgg" => Scheme::Vgg,
            "convnext" => Scheme::ConvNext,
            "inception" => Scheme::Inception,
            "vit" => Scheme::Vit,
            "mlp-mixer" => Scheme::Mixer,
            "nfnet" => Scheme::NfNet,
            // byoanet.py builds ByobNet (its attention layers keep their own reset_parameters, below).
            "byoanet" => Scheme::Byob,
            "crossvit" => Scheme::CrossVit,
            "mobilevit" => Scheme::MobileVit,
            "pvt_v2" => Scheme::PvtV2,
            // metaformer.py's `_init_weights` is ConvNeXt's: convolutions and linear layers
            // trunc-normal(0.02) with zero bias, layer scales at their init value (1e-6).
            "metaformer" => Scheme::ConvNext,
            // nasnet.py and pnasnet.py set no init of their own: PyTorch's defaults throughout.
            "nasnet" | "pnasnet" => Scheme::PyTorch,
            "maxvit" => Scheme::MaxVit,
            "maxxvit" => Scheme::MaxxVit,
            "swinv2" => Scheme::SwinV2,
            // twins.py's `_init_weights` is pvt_v2.py's (fan-out normal convolutions per group,
            // trunc-normal(0.02) linear layers, zero biases).
            "twins" => Scheme::PvtV2,
            "edgenext" => Scheme::EdgeNeXt,
            // sequencer.py's `_init_weights` is mlp_mixer.py's (zero head, Xavier-uniform linear
            // layers with normal(1e-6) MLP biases, Lecun-normal convolutions); its LSTMs below.
            "sequencer" => Scheme::Mixer,
            _ => Scheme::PyTorch,
        }
    }
}

/// What a tensor is to its layer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    Weight,
    Bias,
    /// A batch-norm running statistic: starts at this value.
    Stat(f64),
    /// A weight-standardised convolution's per-channel `gain`.
    Gain,
    /// One of a window attention's own tensors, by key suffix ([`Op::window_tensors`]).
    Own(&'static str),
}

/// PyTorch's default for a weight or bias with `fan_in` inputs.
fn pytorch(fan_in: usize) -> Dist {
    Dist::Uniform(1.0 / (fan_in.max(1) as f64).sqrt())
}

fn kaiming_fan_out(shape: &[usize]) -> Dist {
    let fan_out = shape[0] * shape[2] * shape[3];
    Dist::Normal { mean: 0.0, std: (2.0 / fan_out as f64).sqrt() }
}

/// `sqrt(2 / fan_out)` with the fan-out counted per group (TensorFlow's, as timm's goog/byob inits).
fn fan_out_per_group(shape: &[usize], groups: usize) -> Dist {
    let fan_out = (shape[0] * shape[2] * shape[3] / groups).max(1);
    Dist::Normal { mean: 0.0, std: (2.0 / fan_out as f64).sqrt() }
}

const ZERO: Dist = Dist::Const(0.0);
const ONE: Dist = Dist::Const(1.0);

/// The distribution of one tensor of `node` under `scheme`; `weight` is the shape of the node's weight in
/// PyTorch's layout (a bias's bound depends on it). `last_norm` marks the batch norm closing a residual
/// block (zeroed where timm's `zero_init_last` does).
fn rule(scheme: Scheme, node: &Node, part: Part, weight: &[usize], last_norm: bool) -> Dist {
    use Scheme::*;
    let normal = |std: f64| Dist::Normal { mean: 0.0, std };
    // Which norms close a block was decided with the shortcut (`last_norm`); the rest is ByobNet's,
    // but for RepVGG's branch norms (a MobileViT block's `conv_kxk.bn` is a plain ConvNormAct's).
    let repvgg = scheme == Byob;
    let scheme = if scheme == MobileVit { Byob } else { scheme };
    if let Part::Stat(value) = part {
        return Dist::Const(value);
    }
    if let Part::Own(suffix) = part {
        return match (scheme, suffix) {
            (_, "logit_scale") => Dist::Const(10f64.ln()),
            (_, s) if s.ends_with("bias") => ZERO,
            (_, "rel_pos.relative_position_bias_table") => Dist::TruncNormal(0.02),
            (MaxxVit, _) => normal(0.02),
            _ => Dist::TruncNormal(0.02),
        };
    }
    match &node.op {
        // A weight-standardised convolution is an nn.Conv2d to timm's init loops; its gain starts at 1.
        Op::StdConv2d { .. } if part == Part::Gain => ONE,
        Op::Conv2d(conv) | Op::StdConv2d { conv, .. } => {
            let fan_in = weight[1] * weight[2] * weight[3];
            // Global context attention keeps its own `reset_parameters` (the family's init passes it by):
            // the attention map Kaiming-normal fan-in, the added MLP's last layer zero.
            if part == Part::Weight && node.name.ends_with("attn.conv_attn") {
                return normal((2.0 / fan_in as f64).sqrt());
            }
            if part == Part::Weight && node.name.ends_with("attn.mlp_add.fc2") {
                return ZERO;
            }
            // Self-attention's projections (byoanet): their reset_parameters runs after the family's
            // init, trunc-normal with std fan_in^-1/2.
            if part == Part::Weight
                && ["self_attn.qkv", "self_attn.q", "self_attn.kv"].iter().any(|s| node.name.ends_with(s))
            {
                return Dist::TruncNormal((fan_in as f64).powf(-0.5));
            }
            match (scheme, part) {
                (ResNetV2, Part::Weight) if node.name.starts_with("head.fc") => normal(0.01),
                (Goog | Byob | PvtV2, Part::Weight) => fan_out_per_group(weight, conv.groups),
                (ResNet | ResNetV2 | KaimingConvs | VovNet | Csp | Vgg, Part::Weight) => kaiming_fan_out(weight),
                // kaiming_normal_ with its defaults: fan-in, gain sqrt(2).
                (DenseNet, Part::Weight) => normal((2.0 / fan_in as f64).sqrt()),
                (ConvNext, Part::Weight) => Dist::TruncNormal(0.02),
                (Inception, Part::Weight) => Dist::TruncNormal(0.1),
                (Mixer, Part::Weight) => Dist::LecunNormal { fan_in },
                (NfNet, Part::Weight) => normal((1.0 / fan_in as f64).sqrt()),
                (Goog | ResNetV2 | Byob | Csp | Vgg | ConvNext | Mixer | NfNet | PvtV2 | EdgeNeXt, Part::Bias) => ZERO,
                (MaxVit, Part::Weight) => fan_out_per_group(weight, conv.groups),
                (MaxxVit, Part::Weight) => normal(0.02),
                (MaxVit | MaxxVit, Part::Bias) => ZERO,
                (EdgeNeXt, Part::Weight) => Dist::TruncNormalTf(0.02),
                _ => pytorch(fan_in),
            }
        }
        Op::Linear { .. } => {
            let (out, fan_in) = (weight[0], weight[1]);
            match (scheme, part) {
                (Mixer, _) if node.name.starts_with("head") => ZERO,
                (Goog, Part::Weight) => Dist::Uniform(1.0 / (out as f64).sqrt()),
                (ResNetV2 | Byob | Csp | Vgg | NfNet, Part::Weight) => normal(0.01),
                (ConvNext | Vit | CrossVit | PvtV2, Part::Weight) => Dist::TruncNormal(0.02),
                (Inception, Part::Weight) => Dist::TruncNormal(0.1),
                (EdgeNeXt, Part::Weight) => Dist::TruncNormalTf(0.02),
                (EdgeNeXt, Part::Bias) => ZERO,
                (Mixer, Part::Weight) => Dist::Uniform((6.0 / (fan_in + out) as f64).sqrt()),
                (Mixer, Part::Bias) if node.name.contains("mlp") => normal(1e-6),
                (MaxVit | MaxxVit, _) if node.name.starts_with("head") => pytorch(fan_in),
                (MaxVit, Part::Weight) => Dist::Uniform((6.0 / (fan_in + out) as f64).sqrt()),
                (MaxVit, Part::Bias) if node.name.contains(".mlp.") => normal(1e-6),
                (MaxxVit, Part::Weight) => normal(0.02),
                (SwinV2, Part::Weight) => Dist::TruncNormal(0.02),
                (MaxVit | MaxxVit | SwinV2, Part::Bias) => ZERO,
                (
                    Goog | ResNetV2 | VovNet | Byob | Csp | DenseNet | Vgg | ConvNext | Vit | Mixer | NfNet | CrossVit
                    | PvtV2,
                    Part::Bias,
                ) => ZERO,
                _ => pytorch(fan_in),
            }
        }
        Op::BatchNorm { .. } => match (scheme, part) {
            // RepVggBlock.init_weights draws every batch norm of the block.
            (Byob, Part::Weight) if repvgg && is_repvgg_norm(&node.name) => Dist::Normal { mean: 0.1, std: 0.1 },
            (Byob, Part::Bias) if repvgg && is_repvgg_norm(&node.name) => normal(0.1),
            (ResNet | Byob | Csp, Part::Weight) if last_norm => ZERO,
            (_, Part::Weight) => ONE,
            _ => ZERO,
        },
        // Swin V2's res-post-norms start at zero (`_init_respostnorm`), so each block starts as the identity.
        Op::LayerNorm { .. }
            if scheme == SwinV2 && (node.name.ends_with(".norm1") || node.name.ends_with(".norm2")) =>
        {
            ZERO
        }
        Op::LayerNorm { .. } | Op::GroupNorm1 { .. } => {
            if part == Part::Weight {
                ONE
            } else {
                ZERO
            }
        }
        // ConvNeXt's layer scale starts at 1e-6 (ls_init_value), as the module builds it.
        Op::LayerScale => Dist::Const(1e-6),
        // ECA's nn.Conv1d: no timm init loop touches it (they match nn.Conv2d), so PyTorch's default.
        Op::ChannelConv { kernel } => pytorch(*kernel),
        // BottleneckAttn.reset_parameters: trunc-normal with the attention scale head_qk^-1/2.
        Op::RelPosAttention { head_qk, .. } | Op::HaloAttention { head_qk, .. } => {
            Dist::TruncNormal((*head_qk as f64).powf(-0.5))
        }
        // LambdaLayer.reset_parameters: the relative table trunc-normal(0.02); the local Conv3d's weight
        // trunc-normal(dim_qk^-1/2), its bias left at PyTorch's default (fan-in r²).
        Op::Lambda { pos: LambdaPos::Relative, .. } => Dist::TruncNormal(0.02),
        Op::Lambda { dim_qk, pos: LambdaPos::Local { r }, .. } => match part {
            Part::Bias => pytorch(r * r),
            _ => Dist::TruncNormal((*dim_qk as f64).powf(-0.5)),
        },
        // NFNet's skipinit: the residual branch starts switched off.
        Op::ScalarGain => ZERO,
        Op::ClassToken if scheme == CrossVit => Dist::TruncNormal(0.02),
        Op::ClassToken => normal(1e-6),
        Op::PositionEmbedding => Dist::TruncNormal(0.02),
        // CrossCovarianceAttn's `temperature` starts at ones.
        Op::XcaAttention { .. } => ONE,
        // Sequencer's init (as nn.LSTM's own): every weight and bias uniform in ±1/sqrt(hidden).
        Op::Lstm2d { hidden, .. } => Dist::Uniform(1.0 / (*hidden as f64).sqrt()),
        _ => ZERO,
    }
}

/// RepVGG's block: a 3x3 and a 1x1 branch and an identity batch norm.
fn is_repvgg_norm(name: &str) -> bool {
    name.ends_with("conv_kxk.bn") || name.ends_with("conv_1x1.bn") || name.ends_with("identity")
}

/// SplitMix64's finaliser: spreads a seed over all 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The values of one tensor: its own generator, seeded by the run's seed and the key.
fn draw(dist: Dist, shape: &[usize], seed: u64, key: &str) -> Tensor {
    let n: usize = shape.iter().product();
    let key_hash = key.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01B3));
    let mut rng = StdRng::seed_from_u64(mix(seed ^ mix(key_hash)));
    let mut sample = |d: Distribution, count: usize| -> Vec<f64> {
        TensorData::random::<f64, _, _>([count], d, &mut rng).try_into_vec::<f64>().expect("f64 data")
    };
    let data: Vec<f64> = match dist {
        Dist::Const(v) => vec![v; n],
        Dist::Normal { mean, std } => sample(Distribution::Normal(mean, std), n),
        Dist::TruncNormal(std) => sample(Distribution::Normal(0.0, std), n),
        Dist::Uniform(bound) => sample(Distribution::Uniform(-bound, bound), n),
        // A standard normal cut at +-2 (values outside redrawn), times `std`.
        Dist::LecunNormal { .. } | Dist::TruncNormalTf(_) => {
            let std = match dist {
                // variance_scaling_: rescaled so the cut variable has standard deviation
                // sqrt(1 / fan_in) (0.8796 is the cut normal's standard deviation).
                Dist::LecunNormal { fan_in } => (1.0 / fan_in.max(1) as f64).sqrt() / 0.879_625_661_034_239_8,
                Dist::TruncNormalTf(std) => std,
                _ => unreachable!(),
            };
            let mut values = sample(Distribution::Normal(0.0, 1.0), n);
            for v in values.iter_mut() {
                while v.abs() > 2.0 {
                    *v = sample(Distribution::Normal(0.0, 1.0), 1)[0];
                }
                *v *= std;
            }
            values
        }
    };
    Tensor::new(shape.to_vec(), data.into_iter().map(|v| v as f32).collect())
}

/// Batch norms closing a residual block, which timm's `zero_init_last` zeroes: per block (the
/// family's block path), the batch norm of the block's last main-branch layer.
fn last_norms(scheme: Scheme, graph: &Graph) -> Vec<String> {
    // Per block: the rank of its latest layer so far and that batch norm's node name.
    let mut last: BTreeMap<String, (u32, String)> = BTreeMap::new();
    let with_shortcut = |block: &str| graph.nodes.iter().any(|n| n.name == format!("{block}.add"));
    for node in graph.nodes.iter().filter(|n| matches!(n.op, Op::BatchNorm { .. })) {
        let found = match scheme {
            Scheme::MobileVit => block_and_layer(Scheme::Byob, &node.name).filter(|(block, _)| with_shortcut(block)),
            _ => block_and_layer(scheme, &node.name),
        };
        let Some((block, layer)) = found else { continue };
        let scheme = if scheme == Scheme::MobileVit { Scheme::Byob } else { scheme };
        let Some(rank) = layer_rank(scheme, &layer) else { continue };
        if last.get(&block).is_none_or(|(best, _)| rank > *best) {
            last.insert(block, (rank, node.name.clone()));
        }
    }
    last.into_values().map(|(_, name)| name).collect()
}

/// A batch norm's residual block and its layer in the block (`layer1.0` and `bn3`; `stages.1.0` and
/// `conv3_1x1`), for the families that zero a block's last norm.
fn block_and_layer(scheme: Scheme, name: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = name.split('.').collect();
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let found = match (scheme, parts.as_slice()) {
        // resnet.py: layerN.M.bnK (Res2Net's per-scale norms sit under `bns`).
        (Scheme::ResNet, [stage, block, bn]) if stage.starts_with("layer") && number(block) && bn.starts_with("bn") => {
            Some((2, *bn))
        }
        // byobnet.py: stages.S.B.convK_*.bn; regnet.py: sS.bB.convK.bn.
        (Scheme::Byob, ["stages", s, b, conv, "bn"]) if number(s) && number(b) => Some((3, *conv)),
        (Scheme::Byob, [s, b, conv, "bn"])
            if s.starts_with('s') && b.starts_with('b') && number(&s[1..]) && number(&b[1..]) =>
        {
            Some((2, *conv))
        }
        // cspnet.py: stages.S.blocks.B.convK.bn.
        (Scheme::Csp, ["stages", s, "blocks", b, conv, "bn"]) if number(s) && number(b) => Some((4, *conv)),
        _ => None,
    };
    found.map(|(depth, layer)| (parts[..depth].join("."), layer.to_string()))
}

/// Order of a block's layers: `bn3`/`conv3`/`conv3_1x1` is 3 (x 2), `conv2b_kxk` comes after `conv2_kxk`;
/// other layers (attention, squeeze-excite, RepVGG branches) never close a block.
fn layer_rank(scheme: Scheme, layer: &str) -> Option<u32> {
    let rest = layer.strip_prefix(if scheme == Scheme::ResNet { "bn" } else { "conv" })?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let k: u32 = digits.parse().ok()?;
    let tail = &rest[digits.len()..];
    match tail {
        "" | "_kxk" | "_1x1" => Some(2 * k),
        "b_kxk" => Some(2 * k + 1),
        _ => None,
    }
}

/// timm's initial state dict for `graph` under `scheme` (batch-norm running statistics at 0 and 1).
pub fn timm_state(graph: &Graph, scheme: Scheme, seed: u64) -> StateDict {
    let last = last_norms(scheme, graph);
    let mut state = StateDict::new();
    for node in &graph.nodes {
        let c = graph.input_of(node).features();
        let weight: Vec<usize> = match &node.op {
            Op::Conv2d(conv) | Op::StdConv2d { conv, .. } => {
                vec![conv.out, c / conv.groups, conv.kernel, conv.kernel_w]
            }
            Op::ChannelConv { kernel } => vec![1, 1, *kernel],
            Op::ScalarGain => vec![],
            Op::RelPosAttention { head_qk, .. } | Op::HaloAttention { head_qk, .. } => vec![*head_qk],
            Op::Lambda { dim_qk, .. } => vec![*dim_qk],
            Op::Linear { out, .. } => vec![*out, c],
            Op::BatchNorm { .. } | Op::LayerNorm { .. } | Op::GroupNorm1 { .. } | Op::LayerScale => vec![c],
            Op::ClassToken => vec![1, 1, c],
            Op::PositionEmbedding => match node.output {
                Shape::Tokens { n, d } => vec![1, n, d],
                _ => unreachable!("checked by the builder"),
            },
            Op::PartitionAttention { .. } | Op::SwinAttention { .. } => vec![],
            Op::XcaAttention { heads } => vec![*heads, 1, 1],
            Op::Lstm2d { hidden, .. } => vec![*hidden],
            _ => continue,
        };
        let is_last = last.contains(&node.name);
        let mut put = |suffix: &str, part: Part, shape: Vec<usize>| {
            let key = if suffix.is_empty() { node.name.clone() } else { format!("{}.{suffix}", node.name) };
            let dist = rule(scheme, node, part, &weight, is_last);
            state.insert(key.clone(), draw(dist, &shape, seed, &key));
        };
        match &node.op {
            Op::Conv2d(conv) => {
                put("weight", Part::Weight, weight.clone());
                if conv.bias {
                    put("bias", Part::Bias, vec![conv.out]);
                }
            }
            Op::StdConv2d { conv, .. } => {
                put("weight", Part::Weight, weight.clone());
                if conv.bias {
                    put("bias", Part::Bias, vec![conv.out]);
                }
                put("gain", Part::Gain, vec![conv.out, 1, 1, 1]);
            }
            Op::ChannelConv { .. } => put("weight", Part::Weight, weight.clone()),
            Op::RelPosAttention { head_qk, .. } => {
                let Shape::Map { h, w, .. } = graph.input_of(node) else { unreachable!("checked by the builder") };
                put("pos_embed.height_rel", Part::Weight, vec![2 * h - 1, *head_qk]);
                put("pos_embed.width_rel", Part::Weight, vec![2 * w - 1, *head_qk]);
            }
            Op::HaloAttention { head_qk, block, halo, .. } => {
                let rows = 2 * (block + 2 * halo) - 1;
                put("pos_embed.height_rel", Part::Weight, vec![rows, *head_qk]);
                put("pos_embed.width_rel", Part::Weight, vec![rows, *head_qk]);
            }
            Op::Lambda { dim_qk, pos: LambdaPos::Relative, .. } => {
                let Shape::Map { h, w, .. } = graph.input_of(node) else { unreachable!("checked by the builder") };
                put("pos_emb", Part::Weight, vec![2 * h - 1, 2 * w - 1, *dim_qk]);
            }
            Op::Lambda { dim_qk, pos: LambdaPos::Local { r }, .. } => {
                put("conv_lambda.weight", Part::Weight, vec![*dim_qk, 1, *r, *r, 1]);
                put("conv_lambda.bias", Part::Bias, vec![*dim_qk]);
            }
            Op::Linear { out, bias } => {
                put("weight", Part::Weight, weight.clone());
                if *bias {
                    put("bias", Part::Bias, vec![*out]);
                }
            }
            Op::BatchNorm { .. } | Op::LayerNorm { .. } | Op::GroupNorm1 { .. } => {
                put("weight", Part::Weight, vec![c]);
                put("bias", Part::Bias, vec![c]);
                if matches!(node.op, Op::BatchNorm { .. }) {
                    put("running_mean", Part::Stat(0.0), vec![c]);
                    put("running_var", Part::Stat(1.0), vec![c]);
                }
            }
            Op::PartitionAttention { .. } | Op::SwinAttention { .. } => {
                for (suffix, shape) in node.op.window_tensors(c) {
                    put(suffix, Part::Own(suffix), shape);
                }
            }
            Op::XcaAttention { .. } => put("temperature", Part::Weight, weight.clone()),
            Op::Lstm2d { hidden, .. } => {
                for (key, shape) in crate::catalog::graph::lstm2d_keys(c, *hidden) {
                    put(&key, Part::Weight, shape);
                }
            }
            _ => put("", Part::Weight, weight.clone()),
        }
    }
    state
}

/// A network of `graph` with timm's initial weights for `family`.
pub fn timm_net(graph: Graph, family: &str, seed: u64, device: &Device) -> Result<Net> {
    let state = timm_state(&graph, Scheme::of_family(family), seed);
    Ok(super::load_into(Net::new(graph, device), &state, device)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{self, Spec};

    /// Every parameter the loader expects is drawn (else `train::init_net` panics): the ops only the
    /// newer families have (weight-standardised convolutions, scalar gains, ECA's 1-D convolution).
    #[test]
    fn the_initial_state_is_complete_for_every_kind_of_layer() {
        for arch in ["dm_nfnet_f0", "ecaresnet26t", "eca_resnet33ts", "gcresnet33ts", "gluon_xception65", "cspresnet50"]
        {
            let entry = catalog::find(arch).unwrap();
            let graph = entry.graph(&Spec::new(3, 10, 32)).unwrap();
            let state = timm_state(&graph, Scheme::of_family(entry.family), 0);
            let mut want: Vec<String> =
                crate::weights::load::expected_keys(&graph).into_iter().map(|(k, _)| k).collect();
            let mut have: Vec<String> = state.keys().cloned().collect();
            want.sort();
            have.sort();
            assert_eq!(have, want, "{arch}");
            if arch == "dm_nfnet_f0" {
                assert!(state.iter().any(|(k, t)| k.ends_with("skipinit_gain") && t.data.iter().all(|v| *v == 0.0)));
                assert!(
                    state.iter().filter(|(k, _)| k.ends_with(".gain")).all(|(_, t)| t.data.iter().all(|v| *v == 1.0))
                );
            }
        }
    }

    fn names_zeroed(arch: &str) -> Vec<String> {
        let entry = catalog::find(arch).unwrap();
        let graph = entry.graph(&Spec::new(3, 10, 64)).unwrap();
        let state = timm_state(&graph, Scheme::of_family(entry.family), 0);
        state
            .iter()
            .filter(|(k, t)| k.ends_with(".weight") && t.shape.len() == 1 && t.data.iter().all(|v| *v == 0.0))
            .map(|(k, _)| k.clone())
            .collect()
    }

    #[test]
    fn the_last_norm_of_each_residual_block_starts_at_zero_where_timm_zeroes_it() {
        let basic = names_zeroed("resnet18");
        assert_eq!(basic.len(), 8, "{basic:?}");
        assert!(basic.contains(&"layer1.0.bn2.weight".to_string()), "{basic:?}");
        let bottleneck = names_zeroed("resnet50");
        assert_eq!(bottleneck.len(), 16, "{bottleneck:?}");
        assert!(bottleneck.iter().all(|k| k.ends_with("bn3.weight")), "{bottleneck:?}");
        assert!(names_zeroed("mobilenetv2_050").is_empty());
    }

    #[test]
    fn the_same_seed_gives_the_same_weights_and_another_seed_others() {
        let graph = catalog::find("resnet18").unwrap().graph(&Spec::new(1, 10, 32)).unwrap();
        let a = timm_state(&graph, Scheme::ResNet, 7);
        let b = timm_state(&graph, Scheme::ResNet, 7);
        let c = timm_state(&graph, Scheme::ResNet, 8);
        assert_eq!(a, b);
        assert_ne!(a["conv1.weight"], c["conv1.weight"]);
    }

    #[test]
    fn draws_have_the_asked_spread() {
        let t = draw(Dist::Normal { mean: 0.0, std: 0.5 }, &[100_000], 1, "k");
        let n = t.data.len() as f64;
        let mean = t.data.iter().map(|v| *v as f64).sum::<f64>() / n;
        let std = (t.data.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 0.01 && (std - 0.5).abs() < 0.01, "{mean} {std}");
        let lecun = draw(Dist::LecunNormal { fan_in: 4 }, &[100_000], 1, "k");
        let std = (lecun.data.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / n).sqrt();
        assert!((std - 0.5).abs() < 0.01 && lecun.data.iter().all(|v| v.abs() <= 2.0 * 0.5 / 0.8796 + 1e-4), "{std}");
    }
}
