//! MAC counting in fvcore's convention, walking the same graph the burn module executes.
//!
//! fvcore (`FlopCountAnalysis(model, input).total()`) counts one per multiply-add for convolution,
//! linear, matmul, einsum and bmm; 2 per input element for inference batch norm with affine
//! parameters; 5 per element for layer norm with affine parameters; 1 per input element for
//! adaptive average pooling; and nothing for activations, additions, max pooling, `mean` or
//! softmax. Rules for the layers added with the paper's zoo (issue 14):
//!
//! - grouped and dilated convolutions: output elements x (input channels / groups) x k², the
//!   same rule as any convolution (dilation spreads the window, it does not add taps);
//! - squeeze-excite (SE) attention: its `mean` is free, its two 1x1 convolutions count as
//!   convolutions on a 1x1 map, the sigmoid gate's multiply is free (fvcore ignores `mul`);
//! - blur pooling (timm's BlurPool2d, anti-aliased downsampling): the fixed 3x3 depthwise filter
//!   is an `F.conv2d` to fvcore, so output elements x 9; its reflect padding is free;
//! - nearest-neighbour upsampling (HRNet's fusion): one per output element, fvcore's
//!   `upsample_nearest2d` handle;
//! - leaky ReLU: free, like every activation;
//! - convolutions with `padding='same'` (ConvMixer): counted like any convolution; fvcore 0.1.5
//!   leaves them out (no handle for `aten::_convolution_mode`), so the reference numbers come from
//!   fvcore with that padding made explicit (fixtures/timm/reference_zoo.py);
//! - rectangular (1x7, 7x1) convolutions: output elements x (input channels / groups) x kh x kw;
//! - scaled weight standardisation (NFNet's ScaledStdConv2d): the convolution as above, plus 5 per
//!   weight element for the `F.batch_norm` (training mode, affine) that standardises the weight on
//!   every forward pass, as fvcore counts it; the gain's multiply is free;
//! - TensorFlow "SAME" padding (`F.pad`) and multiplications by constants or a learned scalar
//!   (NFNet's gamma, alpha, beta and skipinit gain): free;
//! - efficient channel attention (ECA): the mean and gate free, its 1-D convolution across channels
//!   counts as a convolution, channels x kernel;
//! - global context (GCNet): the 1x1 attention conv and the MLP's convs and layer norm as usual; the
//!   context's weighted sum is a `matmul` to fvcore, channels x positions; softmax and the broadcast
//!   add free;
//! - bottleneck self-attention (BoTNet, issue 15): every matrix product, as fvcore counts timm's
//!   (plain matmuls there, never the fused kernel): per head q kᵀ and attention x v, positions² x
//!   head width each, and the relative position logits, positions x head width x (2 x side - 1) per
//!   axis; the softmax, the scale, the padding and reshapes of the relative indexing free;
//! - halo attention (HaloNet): the same products per query over its block's window (the block widened
//!   by the halo on each side): window² x (q/k + v head width) for q kᵀ and attention x v, and
//!   head width x (2 x window - 1) per axis for the relative logits; the padding and unfolding free;
//! - average-pool anti-aliasing (`aa_layer=nn.AvgPool2d`) and average-pool shortcuts: free, as
//!   fvcore has no handle for `avg_pool2d`.
//!
//! Rules for the transformer and hybrid families (issue 15), with timm's fused attention off so that
//! fvcore sees the attention matrix products, as for the ViT:
//!
//! - cross-attention (CrossViT): q kᵀ and attention x v, 2 x query tokens x key tokens x width;
//!   softmax free;
//! - bicubic resizing (CrossViT's input scaling): free, as fvcore 0.1.5 has no handle for
//!   `upsample_bicubic2d`; bilinear resizing (MobileViT's map to a multiple of its patch): 4 per
//!   output element, fvcore's `upsample_bilinear2d` handle; token slicing and concatenation, and
//!   MobileViT's unfold and fold: free;
//! - group norm (MobileViT v2's GroupNorm1): 5 per element, as layer norm; its linear attention's
//!   softmax, products and sum: free (fvcore counts no `mul` or `sum`);
//! - MobileViT's attention within each position's sequence: 2 x tokens x (tokens per sequence) x
//!   width.
//! - cross-covariance attention (EdgeNeXt's XCA): per head a head-width x head-width map over
//!   channels, so 2 x tokens x width x head width for q̂ k̂ᵀ and attention x v; the L2
//!   normalisations, temperature and softmax free. Its Fourier position map (cumulative sums, sines
//!   and cosines) is free; the 1x1 projection of it counts as a convolution.
//!
//! NASNet and PNASNet (issue 15): constant padding (`F.pad` with zeros or a max pool's -inf, and the
//! crop of NASNet's one-pixel shift) is free, like every pooling but the adaptive one.
//!
//! Lambda layers and BAT (issue 15):
//!
//! - lambda layer (LambdaNetworks, timm's LambdaLayer; plain matmuls, which fvcore counts): the content
//!   lambda kᵀ v (positions x dim_qk x dim_v) and its application to the queries (heads x positions x
//!   dim_qk x dim_v); the position lambdas either from the relative table, a `matmul` of positions² x
//!   dim_qk x dim_v, or from the local `r x r` Conv3d, dim_qk x r² x positions x dim_v (fvcore's conv
//!   rule, bias free); their application to the queries, heads x positions x dim_qk x dim_v again; the
//!   key softmax and the gathering of the table free; `norm_q` and `norm_v` are batch norms (2 per element);
//! - BAT (bilinear attention transform): the two products P x X and X x Q per channel, channels x H x W
//!   x (H + W) (`matmul`s to fvcore); the row and column max pooling (`adaptive_max_pool2d`, no fvcore
//!   handle), the sigmoid, the normalisation, the Kronecker widening (a `mul` by the identity) and
//!   Dropout2d free; its convolutions and batch norms as usual.
//!
//! Window attention (MaxViT/MaxxViT, Swin V2; issue 15), fused attention off as above:
//!
//! - window and grid attention: q kᵀ and attention x v within each window, 2 x tokens x (tokens per
//!   window) x width (Swin: over the map padded to whole windows, as are its qkv and projection
//!   linears); the relative position bias MLP (MaxxViT's RelPosMlp, Swin V2's cpb_mlp) runs once per
//!   layer on the (2 wh - 1)(2 ww - 1) relative offsets, 2 x 512 + 512 x heads per offset; the bias
//!   table's gather, the cosine normalisation, the logit scale, the mask, the roll, padding, cropping and
//!   patch merging's reshape: free.
//!
//! pepr reports that total as MACs and FLOPs = 2 x MACs, per sample (batch 1).

use super::graph::{Graph, Interp, LambdaPos, Op, REL_POS_HIDDEN, Shape};

/// One row of the per-layer breakdown.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerCount {
    pub name: String,
    /// fvcore's operator name (`conv2d`, `linear`, `batch_norm`, ...).
    pub kind: &'static str,
    pub output: Shape,
    pub params: u64,
    pub macs: u64,
}

/// fvcore-convention MACs of one node, given its input shape.
pub fn node_macs(op: &Op, input: Shape, output: Shape) -> u64 {
    match op {
        Op::Conv2d(conv) => {
            let in_per_group = (input.features() / conv.groups) as u64;
            output.elements() * in_per_group * conv.taps()
        }
        Op::StdConv2d { conv, .. } => {
            let in_per_group = (input.features() / conv.groups) as u64;
            let weight = conv.out as u64 * in_per_group * conv.taps();
            output.elements() * in_per_group * conv.taps() + 5 * weight
        }
        Op::ChannelConv { kernel } => output.elements() * *kernel as u64,
        Op::ContextPool => input.elements(),
        Op::BatchNorm { .. } => 2 * input.elements(),
        Op::LayerNorm { .. } => 5 * input.elements(),
        Op::Linear { out, .. } => input.elements() * *out as u64,
        Op::AdaptiveAvgPool { .. } => input.elements(),
        // A depthwise 3x3 convolution with a fixed filter.
        Op::BlurPool { .. } => 9 * output.elements(),
        // fvcore's upsample_nearest2d handle: one per output element.
        Op::UpsampleNearest { .. } => output.elements(),
        // fvcore's matmuls of timm's BottleneckAttn, per head: q kᵀ and attention x v (positions² x
        // width each) and the relative logits q x tableᵀ (positions x head_qk x (2 x side - 1), per axis).
        Op::RelPosAttention { heads, head_qk, head_v } => match input {
            Shape::Map { h, w, .. } => {
                let n = (h * w) as u64;
                let rel = n * *head_qk as u64 * (2 * w - 1 + 2 * h - 1) as u64;
                *heads as u64 * (n * n * (*head_qk + *head_v) as u64 + rel)
            }
            _ => 0,
        },
        // timm's HaloAttn, per head and query block: q kᵀ and attention x v (block² x window² x width)
        // and the relative logits (block² x head_qk x (2 x window - 1), per axis).
        Op::HaloAttention { heads, head_qk, head_v, block, halo } => match output {
            Shape::Map { h, w, .. } => {
                let window = (block + 2 * halo) as u64;
                // The query map holds one block per key block, so its size is blocks x query block side.
                let queries = (h * w) as u64;
                let per_query = window * window * (*head_qk + *head_v) as u64 + 2 * *head_qk as u64 * (2 * window - 1);
                *heads as u64 * queries * per_query
            }
            _ => 0,
        },
        Op::Attention { .. } => match output {
            // q kᵀ and attention x v: two (n x n x d) matrix products over all heads.
            Shape::Tokens { n, d } => 2 * (n * n * d) as u64,
            _ => 0,
        },
        Op::Resize { mode: Interp::Bilinear | Interp::BilinearAligned, .. } => 4 * output.elements(),
        Op::GroupNorm1 { .. } => 5 * input.elements(),
        Op::GroupedAttention { groups, .. } => match output {
            // Per run of n / groups tokens: q kᵀ and attention x v.
            Shape::Tokens { n, d } => 2 * (n * (n / groups) * d) as u64,
            _ => 0,
        },
        Op::CrossAttention { keys, .. } => match output {
            // q kᵀ and attention x v: two (n_q x n_kv x d) matrix products over all heads.
            Shape::Tokens { n, d } => 2 * (n * keys * d) as u64,
            _ => 0,
        },
        Op::Lambda { heads, dim_qk, dim_v, pos } => {
            let m = output.elements() / (heads * dim_v) as u64;
            let (heads, kv) = (*heads as u64, (dim_qk * dim_v) as u64);
            // The content lambda, then content and position lambdas applied to the queries.
            let applied = m * kv + 2 * heads * m * kv;
            let position = match pos {
                LambdaPos::Relative => m * m * kv,
                LambdaPos::Local { r } => (r * r) as u64 * m * kv,
            };
            applied + position
        }
        Op::BilinearTransform { .. } => match output {
            Shape::Map { c, h, w } => (c * h * w * (h + w)) as u64,
            _ => 0,
        },
        // Within each window: q kᵀ and attention x v; the bias MLP once per layer.
        Op::PartitionAttention { heads, wh, ww, mlp, .. } => match output {
            Shape::Tokens { n, d } => {
                let offsets = ((2 * wh - 1) * (2 * ww - 1)) as u64;
                let mlp = if *mlp { offsets * (2 + *heads as u64) * REL_POS_HIDDEN as u64 } else { 0 };
                2 * (n * wh * ww * d) as u64 + mlp
            }
            _ => 0,
        },
        Op::SwinAttention { heads, wh, ww, .. } => match output {
            Shape::Tokens { n, d } => {
                let offsets = ((2 * wh - 1) * (2 * ww - 1)) as u64;
                2 * (n * wh * ww * d) as u64 + offsets * (2 + *heads as u64) * REL_POS_HIDDEN as u64
            }
            _ => 0,
        },
        Op::XcaAttention { heads } => match output {
            // Per head q̂ k̂ᵀ (head x tokens x head) and attention x v (head x head x tokens); the
            // normalisation, temperature and softmax free.
            Shape::Tokens { n, d } => 2 * (n * d * (d / heads)) as u64,
            _ => 0,
        },
        _ => 0,
    }
}

/// The multiply-adds of an [`Op::Lstm2d`] that fvcore leaves out (and so [`node_macs`] too): per
/// position, axis and direction, 4 x hidden x (input width + hidden). The time estimate counts them.
pub fn lstm2d_macs(hidden: usize, input: Shape) -> u64 {
    match input {
        Shape::Tokens { n, d } => (n * 2 * 2 * 4 * hidden * (d + hidden)) as u64,
        _ => 0,
    }
}

/// Every node that owns parameters or costs MACs, in execution order.
pub fn breakdown(graph: &Graph) -> Vec<LayerCount> {
    graph
        .nodes
        .iter()
        .filter_map(|node| {
            let input = graph.input_of(node);
            let macs = node_macs(&node.op, input, node.output);
            let params = node.params(input);
            (macs > 0 || params > 0).then(|| LayerCount {
                name: node.name.clone(),
                kind: node.op.kind(),
                output: node.output,
                params,
                macs,
            })
        })
        .collect()
}

/// Total MACs of one forward pass on one sample.
pub fn total_macs(graph: &Graph) -> u64 {
    graph.nodes.iter().map(|n| node_macs(&n.op, graph.input_of(n), n.output)).sum()
}

/// Summary figures for one architecture at one input size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    pub params: u64,
    /// Forward multiply-accumulates per sample (fvcore convention).
    pub macs: u64,
}

impl Cost {
    pub fn of(graph: &Graph) -> Cost {
        Cost { params: graph.params(), macs: total_macs(graph) }
    }

    /// Forward FLOPs per sample: 2 x MACs.
    pub fn flops(self) -> u64 {
        2 * self.macs
    }

    /// Training FLOPs per sample, estimated as 3 x forward (forward + backward ≈ 2 x forward).
    pub fn train_flops(self) -> u64 {
        3 * self.flops()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::graph::{Act, Conv, GraphBuilder, Pool};

    #[test]
    fn hand_computed_small_net() {
        // 1x8x8 -> conv 3x3 (4 out, pad 1, bias) -> BN -> ReLU -> maxpool 2 -> flatten -> linear 10.
        let (mut g, x) = GraphBuilder::new(1, 8, 8);
        let x = g.conv("conv", x, Conv::new(4, 3, 1).bias(true)).unwrap();
        let x = g.batch_norm("bn", x).unwrap();
        let x = g.act("relu", x, Act::Relu);
        let x = g.max_pool("pool", x, Pool::new(2, 2, 0)).unwrap();
        let x = g.flatten("flatten", x).unwrap();
        g.linear("fc", x, 10, true).unwrap();
        let graph = g.finish();
        let conv = 4 * 8 * 8 * 9; // output elements x (in channels x k x k)
        let bn = 2 * 4 * 8 * 8;
        let fc = 4 * 4 * 4 * 10;
        assert_eq!(total_macs(&graph), (conv + bn + fc) as u64);
        let params = (4 * 9 + 4) + (2 * 4) + (64 * 10 + 10);
        assert_eq!(graph.params(), params);
        let rows = breakdown(&graph);
        let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["conv", "bn", "fc"]);
        let cost = Cost::of(&graph);
        assert_eq!(cost.flops(), 2 * cost.macs);
        assert_eq!(cost.train_flops(), 6 * cost.macs);
    }

    #[test]
    fn grouped_conv_pool_norm_and_attention() {
        let (mut g, x) = GraphBuilder::new(8, 4, 4);
        let x = g.conv("dw", x, Conv::new(8, 3, 1).groups(8)).unwrap();
        g.adaptive_avg_pool("gap", x, 1, 1).unwrap();
        let graph = g.finish();
        assert_eq!(total_macs(&graph), (8 * 16 * 9 + 8 * 16) as u64);

        let (mut g, x) = GraphBuilder::new(3, 4, 4);
        let x = g.map_to_tokens("tokens", x).unwrap(); // 16 tokens x 3
        let x = g.layer_norm("ln", x, 1e-6).unwrap();
        let x = g.linear("qkv", x, 12, true).unwrap(); // width 4, fused q, k, v
        g.attention("attn", x, 2).unwrap();
        let graph = g.finish();
        let ln = 5 * 16 * 3;
        let qkv = 16 * 3 * 12;
        let attn = 2 * 16 * 16 * 4;
        assert_eq!(total_macs(&graph), (ln + qkv + attn) as u64);
    }
}
