//! timm's "bring your own attention" networks (timm/models/byoanet.py, issue 15): ByobNet ResNets whose
//! later stages hold `self_attn` blocks, built by [`super::byobnet::byob`]. A self-attention block is
//! timm's SelfAttnBlock: a 1x1 ConvNormAct to the middle width, the attention layer (at the block's
//! stride), a batch norm + activation `post_attn`, a linear 1x1 ConvNormAct, the shortcut (1x1 conv +
//! batch norm where the shape changes) and the activation. The attention layers:
//! - bottleneck self-attention (BoTNet, timm's BottleneckAttn): a 1x1 `qkv` conv, 4 heads of
//!   softmax(q kᵀ / √d + relative position logits) v over every position of the map, then a 2x2 average
//!   pool where the block strides. The relative position tables are sized for the feature map, so the
//!   network is built for its input size (timm: `img_size`) and takes sides that are multiples of 32.
//! - lambda layers (LambdaNetworks, timm's LambdaLayer): a 1x1 `qkv` conv to 4 x 16 queries, 16 keys
//!   and dim / 4 values, batch norms on queries and values, keys softmaxed over positions; each
//!   position's output is its queries times the content lambda kᵀ v plus its position lambda, from a
//!   relative position table sized for the map (lambda_resnet26rpt_256, multiples of 32) or a local
//!   13x13 convolution over the values (lamhalobotnet50ts_256, whose halo and bottleneck attention
//!   make it take multiples of 128).
//!
//! MACs count every matrix product, as fvcore does (timm's attention layers here are plain matmuls,
//! never the fused kernel): q kᵀ, attention x v and the relative logits q x tableᵀ
//! (positions x head width x (2 x side - 1) per axis and head).

use super::byobnet::BlockType::Bottle;
use super::byobnet::{Attn, Byob, Stage, Stem, byob, conv_norm_act, stage};
use super::efficientnet::make_divisible;
use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, LambdaPos, Pool, Result, ShapeError};
use crate::catalog::{Entry, Spec};

/// The attention layer of a `self_attn` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfAttn {
    /// BottleneckAttn with 4 heads; `dim_head` is the q/k head width (0: the block's middle width / 4).
    Bottleneck { dim_head: usize },
    /// HaloAttn: `heads` heads over `block` x `block` query blocks widened by `halo` for the keys.
    Halo { block: usize, halo: usize, heads: usize },
    /// LambdaLayer with 4 heads of q/k width 16 and its position lambdas from `pos`.
    Lambda { pos: LambdaPos },
}

/// A byoanet model: the ByobNet description and the multiple its input sides must be.
#[derive(Clone, Copy, Debug)]
pub struct ByoaNet {
    pub byob: Byob,
    pub multiple: usize,
}

/// Builds the network after checking the input size (the attention layers are built for it).
pub fn build(config: &ByoaNet, spec: &Spec) -> Result<Graph> {
    let m = config.multiple;
    if !spec.height.is_multiple_of(m) || !spec.width.is_multiple_of(m) {
        return Err(ShapeError {
            message: format!(
                "its attention is built for the input size (timm's img_size) and takes sides that are multiples of {m}, not {}x{}",
                spec.height, spec.width
            ),
        });
    }
    byob(&config.byob, spec)
}

/// timm's SelfAttnBlock (no extra conv, conv1x1 downsampling, activation after the sum).
pub fn self_attn_block(
    g: &mut GraphBuilder,
    name: &str,
    x: Id,
    st: &Stage,
    stride: usize,
    act: Act,
    layer: SelfAttn,
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let out = st.width;
    let mid = make_divisible(out as f64 * st.ratio.0 as f64 / st.ratio.1 as f64, 8);
    let y = conv_norm_act(g, &n("conv1_1x1"), x, Conv::new(mid, 1, 1), Some(act))?;
    let y = match layer {
        SelfAttn::Bottleneck { dim_head } => bottleneck_attn(g, &n("self_attn"), y, stride, dim_head)?,
        SelfAttn::Halo { block, halo, heads } => halo_attn(g, &n("self_attn"), y, stride, block, halo, heads)?,
        SelfAttn::Lambda { pos } => lambda_layer(g, &n("self_attn"), y, stride, pos)?,
    };
    let y = g.batch_norm(&n("post_attn"), y)?;
    let y = g.act(&n("post_attn.act"), y, act);
    let y = conv_norm_act(g, &n("conv3_1x1"), y, Conv::new(out, 1, 1), None)?;
    let shortcut = if g.channels(x) != out || stride != 1 {
        conv_norm_act(g, &n("shortcut"), x, Conv::new(out, 1, stride), None)?
    } else {
        x
    };
    let y = g.add(&n("add"), y, shortcut)?;
    Ok(g.act(&n("act"), y, act))
}

/// BottleneckAttn(dim, stride, num_heads=4, dim_head): `qkv` (no bias) to 2 x 4 x q/k width + the
/// value width (dim), the attention with relative position logits, a 2x2 average pool at stride 2.
fn bottleneck_attn(g: &mut GraphBuilder, name: &str, x: Id, stride: usize, dim_head: usize) -> Result<Id> {
    const HEADS: usize = 4;
    let dim = g.channels(x);
    let head_qk = if dim_head > 0 { dim_head } else { make_divisible(dim as f64, 8) / HEADS };
    let head_v = dim / HEADS;
    let qkv = g.conv(&format!("{name}.qkv"), x, Conv::new(HEADS * (2 * head_qk + head_v), 1, 1))?;
    let y = g.rel_pos_attention(name, qkv, HEADS, head_qk, head_v)?;
    if stride == 2 { g.avg_pool(&format!("{name}.pool"), y, Pool::new(2, 2, 0)) } else { Ok(y) }
}

/// HaloAttn(dim, stride, num_heads, block_size, halo_size): queries `q` (a 1x1 conv at the block's
/// stride, which divides every block size here, so no pool), keys and values `kv`, no biases.
fn halo_attn(
    g: &mut GraphBuilder,
    name: &str,
    x: Id,
    stride: usize,
    block: usize,
    halo: usize,
    heads: usize,
) -> Result<Id> {
    let dim = g.channels(x);
    let head_qk = make_divisible(dim as f64, 8) / heads;
    let head_v = dim / heads;
    let q = g.conv(&format!("{name}.q"), x, Conv::new(heads * head_qk, 1, stride))?;
    let kv = g.conv(&format!("{name}.kv"), x, Conv::new(heads * (head_qk + head_v), 1, 1))?;
    g.halo_attention(name, q, kv, heads, head_qk, head_v, block, halo)
}

/// LambdaLayer(dim, stride, num_heads=4, dim_head=16): `qkv` (no bias) to 4 x 16 queries, 16 keys and
/// dim / 4 values; batch norms `norm_q` and `norm_v`; the lambda core; a 2x2 average pool at stride 2.
fn lambda_layer(g: &mut GraphBuilder, name: &str, x: Id, stride: usize, pos: LambdaPos) -> Result<Id> {
    const HEADS: usize = 4;
    const DIM_QK: usize = 16;
    let n = |part: &str| format!("{name}.{part}");
    let dim_v = g.channels(x) / HEADS;
    let qkv = g.conv(&n("qkv"), x, Conv::new(HEADS * DIM_QK + DIM_QK + dim_v, 1, 1))?;
    let q = g.slice_channels(&n("split_q"), qkv, 0, HEADS * DIM_QK)?;
    let q = g.batch_norm(&n("norm_q"), q)?;
    let k = g.slice_channels(&n("split_k"), qkv, HEADS * DIM_QK, DIM_QK)?;
    let v = g.slice_channels(&n("split_v"), qkv, (HEADS + 1) * DIM_QK, dim_v)?;
    let v = g.batch_norm(&n("norm_v"), v)?;
    let y = g.lambda(name, q, k, v, HEADS, pos)?;
    if stride == 2 { g.avg_pool(&n("pool"), y, Pool::new(2, 2, 0)) } else { Ok(y) }
}

const BOT_PAPER: &str = "https://arxiv.org/abs/2101.11605";

/// The "26t" layout: bottleneck stages at 256 and 512, one self-attention block after a bottleneck at
/// 1024, two self-attention blocks at 2048.
const fn t26(group_size: usize, layer: SelfAttn) -> [Stage; 4] {
    [
        stage(Bottle, 2, 256, 1, group_size, (1, 4)),
        stage(Bottle, 2, 512, 2, group_size, (1, 4)),
        Stage { self_attn: Some((layer, 0b10)), ..stage(Bottle, 2, 1024, 2, group_size, (1, 4)) },
        Stage { self_attn: Some((layer, 0b11)), ..stage(Bottle, 2, 2048, 2, group_size, (1, 4)) },
    ]
}

/// The "33ts" layout: the third block of the 512 and 1024 stages and both 1536 blocks attend.
const fn ts33(layer: SelfAttn) -> [Stage; 4] {
    [
        stage(Bottle, 2, 256, 1, 0, (1, 4)),
        Stage { self_attn: Some((layer, 0b100)), ..stage(Bottle, 3, 512, 2, 0, (1, 4)) },
        Stage { self_attn: Some((layer, 0b100)), ..stage(Bottle, 3, 1024, 2, 0, (1, 4)) },
        Stage { self_attn: Some((layer, 0b11)), ..stage(Bottle, 2, 1536, 2, 0, (333, 1000)) },
    ]
}

const BOT: SelfAttn = SelfAttn::Bottleneck { dim_head: 0 };
const HALO_PAPER: &str = "https://arxiv.org/abs/2103.12731";
const fn halo(halo: usize, heads: usize) -> SelfAttn {
    SelfAttn::Halo { block: 8, halo, heads }
}
const HALONET26T: [Stage; 4] = t26(0, halo(2, 8));
const SEHALONET33TS: [Stage; 4] = ts33(halo(3, 8));
/// The "50ts" layout: 3, 4, 6, 3 blocks; `every` self-attention blocks per stage as bit masks.
const fn ts50(layers: [SelfAttn; 3], masks: [u32; 3]) -> [Stage; 4] {
    [
        stage(Bottle, 3, 256, 1, 0, (1, 4)),
        Stage { self_attn: Some((layers[0], masks[0])), ..stage(Bottle, 4, 512, 2, 0, (1, 4)) },
        Stage { self_attn: Some((layers[1], masks[1])), ..stage(Bottle, 6, 1024, 2, 0, (1, 4)) },
        Stage { self_attn: Some((layers[2], masks[2])), ..stage(Bottle, 3, 2048, 2, 0, (1, 4)) },
    ]
}
/// interleave_blocks(every=4) on 4 blocks attends in the last; every=1 in blocks 1, 3, 5.
const HALONET50TS: [Stage; 4] = ts50([halo(3, 4), halo(3, 8), halo(3, 8)], [0b1000, 0b101010, 0b10]);
const HALO2BOTNET50TS: [Stage; 4] = ts50([halo(3, 8), halo(3, 8), BOT], [0b1010, 0b101010, 0b10]);
const BOTNET26T: [Stage; 4] = t26(0, BOT);
const LAMBDA_PAPER: &str = "https://arxiv.org/abs/2102.08602";
const LAMBDA_RESNET26RPT: [Stage; 4] = t26(0, SelfAttn::Lambda { pos: LambdaPos::Relative });
/// Lambda layers (local 13x13 position lambdas) at 1/8, halo at 1/16, bottleneck attention at 1/32.
const LAMHALOBOTNET50TS: [Stage; 4] =
    ts50([SelfAttn::Lambda { pos: LambdaPos::Local { r: 13 } }, halo(3, 8), BOT], [0b1010, 0b101010, 0b10]);
const ECA_BOTNEXT26TS: [Stage; 4] = t26(16, SelfAttn::Bottleneck { dim_head: 16 });
const SEBOTNET33TS: [Stage; 4] = ts33(BOT);
/// 'tiered' without a pool: the last stem conv is strided.
const TIERED: Stem = Stem::Stack { widths: [24, 32, 64, 0], count: 3, strides: [2, 1, 2, 0], plain: 0 };

const fn net(stem: Stem, stages: &'static [Stage], num_features: usize, act: Act, attn: Option<Attn>) -> Byob {
    Byob { stem, stages, num_features, act, attn }
}

/// Name, config, multiple of the input sides, paper.
macro_rules! entry {
    ($name:literal, $config:expr, $multiple:literal, $paper:expr) => {
        Entry {
            name: $name,
            family: "byoanet",
            kind: ModelKind::Other,
            efficient: false,
            paper: $paper,
            default_size: 256,
            from_timm: true,
            build: |spec: &Spec| build(&ByoaNet { byob: $config, multiple: $multiple }, spec),
        }
    };
}

// The paper types them `Other`, none efficient (model_names.csv); timm's default input is 256.
pub static ENTRIES: &[Entry] = &[
    entry!("botnet26t_256", net(Stem::TieredPool(64), &BOTNET26T, 0, Act::Relu, None), 32, BOT_PAPER),
    entry!(
        "eca_botnext26ts_256",
        net(Stem::TieredPool(64), &ECA_BOTNEXT26TS, 0, Act::Silu, Some(Attn::Eca)),
        32,
        BOT_PAPER
    ),
    entry!("sebotnet33ts_256", net(TIERED, &SEBOTNET33TS, 1280, Act::Silu, Some(Attn::Se)), 32, BOT_PAPER),
    // Halo blocks of 8 at a 1/32 feature map: sides that are multiples of 256 (timm's min_input_size).
    entry!("halonet26t", net(Stem::TieredPool(64), &HALONET26T, 0, Act::Relu, None), 256, HALO_PAPER),
    entry!("sehalonet33ts", net(TIERED, &SEHALONET33TS, 1280, Act::Silu, Some(Attn::Se)), 256, HALO_PAPER),
    entry!("halonet50ts", net(Stem::TieredPool(64), &HALONET50TS, 0, Act::Silu, None), 256, HALO_PAPER),
    // Halo at 1/8 and 1/16, bottleneck attention at 1/32: multiples of 128.
    entry!("halo2botnet50ts_256", net(TIERED, &HALO2BOTNET50TS, 0, Act::Silu, None), 128, HALO_PAPER),
    // The lambda layers' relative position tables are sized for the map, as bottleneck attention's.
    entry!(
        "lambda_resnet26rpt_256",
        net(Stem::TieredPool(64), &LAMBDA_RESNET26RPT, 0, Act::Relu, None),
        32,
        LAMBDA_PAPER
    ),
    entry!("lamhalobotnet50ts_256", net(TIERED, &LAMHALOBOTNET50TS, 0, Act::Silu, None), 128, LAMBDA_PAPER),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bottleneck_models_take_multiples_of_32_only() {
        let botnet = &ENTRIES[0];
        assert!(botnet.graph(&Spec::new(1, 7, 160)).is_ok());
        assert!(botnet.graph(&Spec::new(1, 7, 32)).is_ok());
        let err = botnet.graph(&Spec::new(1, 7, 240)).unwrap_err();
        assert!(err.message.starts_with("botnet26t_256 at 1x240x240: "), "{err}");
        assert!(err.message.contains("multiples of 32"), "{err}");
    }

    #[test]
    fn relative_position_tables_follow_the_feature_map() {
        // At 256 the 1024 stage's attention sees 16x16 (tables of 31 rows), the 2048 stage's first
        // block 16x16 too (it pools after attending) and its second 8x8 (15 rows).
        let graph = ENTRIES[0].graph(&Spec::imagenet(256)).unwrap();
        let keys: std::collections::BTreeMap<_, _> = graph.state_dict().into_iter().collect();
        assert_eq!(keys["stages.2.1.self_attn.pos_embed.height_rel"], vec![31, 64]);
        assert_eq!(keys["stages.3.0.self_attn.pos_embed.width_rel"], vec![31, 128]);
        assert_eq!(keys["stages.3.1.self_attn.pos_embed.width_rel"], vec![15, 128]);
    }

    #[test]
    fn lambda_position_tables_follow_the_map_and_local_lambdas_do_not() {
        let table = |name: &str, size: usize, key: &str| {
            let entry = ENTRIES.iter().find(|e| e.name == name).unwrap();
            let graph = entry.graph(&Spec::imagenet(size)).unwrap();
            graph.state_dict().into_iter().find(|(k, _)| k == key).map(|(_, shape)| shape)
        };
        // lambda_resnet26rpt_256 at 256: 16x16 in the 1024 stage and the 2048 stage's first block, 8x8 after.
        let rpt = "lambda_resnet26rpt_256";
        assert_eq!(table(rpt, 256, "stages.2.1.self_attn.pos_emb"), Some(vec![31, 31, 16]));
        assert_eq!(table(rpt, 256, "stages.3.1.self_attn.pos_emb"), Some(vec![15, 15, 16]));
        assert_eq!(table(rpt, 160, "stages.2.1.self_attn.pos_emb"), Some(vec![19, 19, 16]));
        // lamhalobotnet50ts_256's 13x13 convolution is the same at every size; its halo blocks want 128.
        let lam = "lamhalobotnet50ts_256";
        for size in [128, 256] {
            assert_eq!(table(lam, size, "stages.1.1.self_attn.conv_lambda.weight"), Some(vec![16, 1, 13, 13, 1]));
        }
        let err = ENTRIES.iter().find(|e| e.name == lam).unwrap().graph(&Spec::new(1, 7, 160)).unwrap_err();
        assert!(err.message.starts_with("lamhalobotnet50ts_256 at 1x160x160: "), "{err}");
        assert!(err.message.contains("multiples of 128"), "{err}");
    }
}
