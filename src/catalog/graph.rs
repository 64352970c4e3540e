//! The architecture description every catalog entry is built as: a graph of layers in timm's
//! order, with timm's module names, and the shape of every intermediate value.
//!
//! The same description is (1) turned into a burn module by [`super::net::Net`] and (2) walked by
//! the MAC counter in [`super::count`], so the counted network is the executed network.

use std::fmt;

/// Shape of one sample (the batch dimension is implicit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A feature map, channels first.
    Map { c: usize, h: usize, w: usize },
    /// A sequence of `n` tokens of width `d`.
    Tokens { n: usize, d: usize },
    /// A flat feature vector.
    Vector { d: usize },
}

impl Shape {
    pub fn elements(self) -> u64 {
        match self {
            Shape::Map { c, h, w } => (c * h * w) as u64,
            Shape::Tokens { n, d } => (n * d) as u64,
            Shape::Vector { d } => d as u64,
        }
    }

    /// The width of the last (feature) dimension: channels of a map, token width, vector length.
    pub fn features(self) -> usize {
        match self {
            Shape::Map { c, .. } => c,
            Shape::Tokens { d, .. } => d,
            Shape::Vector { d } => d,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Map { c, h, w } => write!(f, "{c}x{h}x{w}"),
            Shape::Tokens { n, d } => write!(f, "{n}x{d} tokens"),
            Shape::Vector { d } => write!(f, "{d}"),
        }
    }
}

/// Activations (none of them counts in fvcore's convention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Relu,
    Relu6,
    Silu,
    Gelu,
    HardSwish,
    /// timm's hard_sigmoid: relu6(x + 3) / 6.
    HardSigmoid,
    Sigmoid,
    /// Leaky ReLU with PyTorch's default slope 0.01 (CSPNet, DarkNet).
    LeakyRelu,
}

/// A 2D convolution. Padding is symmetric on each axis; `kernel` and `padding` are the height's,
/// `kernel_w` and `padding_w` the width's (equal but for Inception's 1x7 / 7x1 convolutions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    pub out: usize,
    pub kernel: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub padding: usize,
    pub padding_w: usize,
    pub dilation: usize,
    pub groups: usize,
    pub bias: bool,
}

impl Conv {
    /// A bias-free convolution with timm's default symmetric padding
    /// (`((stride - 1) + dilation * (kernel - 1)) / 2`).
    pub fn new(out: usize, kernel: usize, stride: usize) -> Conv {
        let padding = (stride - 1 + (kernel - 1)) / 2;
        Conv { out, kernel, kernel_w: kernel, stride, padding, padding_w: padding, dilation: 1, groups: 1, bias: false }
    }

    /// A `kh x kw` stride-1 convolution with padding `ph`, `pw` (Inception's factorised convs).
    pub fn rect(out: usize, kh: usize, kw: usize, ph: usize, pw: usize) -> Conv {
        Conv { kernel: kh, kernel_w: kw, padding: ph, padding_w: pw, ..Conv::new(out, 1, 1) }
    }

    pub fn padding(mut self, padding: usize) -> Conv {
        self.padding = padding;
        self.padding_w = padding;
        self
    }

    /// Taps per output position and input channel.
    pub fn taps(&self) -> u64 {
        (self.kernel * self.kernel_w) as u64
    }

    pub fn groups(mut self, groups: usize) -> Conv {
        self.groups = groups;
        self
    }

    pub fn bias(mut self, bias: bool) -> Conv {
        self.bias = bias;
        self
    }
}

/// Interpolation of [`Op::Resize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interp {
    Bilinear,
    /// Bilinear with `align_corners=True` (MobileViT v2).
    BilinearAligned,
    Bicubic,
}

/// Where a lambda layer's position lambdas come from (timm's LambdaLayer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LambdaPos {
    /// A learned table `pos_emb` `[2H - 1, 2W - 1, dim_qk]` of relative positions, sized for the map
    /// (`r=None`, the "rpt" models).
    Relative,
    /// A local `r x r` convolution `conv_lambda` over each value channel (a `Conv3d(1, dim_qk, (r, r, 1))`
    /// with bias, padding r / 2).
    Local { r: usize },
}

/// Max or average pooling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub ceil_mode: bool,
    /// Average pooling only: whether padded zeros count in the mean.
    pub count_include_pad: bool,
}

impl Pool {
    pub fn new(kernel: usize, stride: usize, padding: usize) -> Pool {
        Pool { kernel, stride, padding, ceil_mode: false, count_include_pad: true }
    }

    pub fn ceil_mode(mut self, ceil_mode: bool) -> Pool {
        self.ceil_mode = ceil_mode;
        self
    }

    pub fn count_include_pad(mut self, include: bool) -> Pool {
        self.count_include_pad = include;
        self
    }
}

/// What a node computes.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Input,
    Conv2d(Conv),
    /// Inference-mode batch norm over channels, with affine weight and bias.
    BatchNorm {
        eps: f64,
    },
    /// Layer norm over the feature dimension (the channels of a map, as timm's LayerNorm2d).
    LayerNorm {
        eps: f64,
    },
    /// A linear layer over the feature dimension.
    Linear {
        out: usize,
        bias: bool,
    },
    Act(Act),
    MaxPool(Pool),
    AvgPool(Pool),
    /// `adaptive_avg_pool2d` to `h x w` (timm's classifier heads use it with 1x1).
    AdaptiveAvgPool {
        h: usize,
        w: usize,
    },
    /// `x.mean((2, 3), keepdim=True)`, as in squeeze-excite (fvcore does not count `mean`).
    SpatialMean,
    /// `x.mean(dim=1)` over tokens (mlp-mixer's pooling; not counted).
    TokenMean,
    /// The first token (a ViT's class token).
    FirstToken,
    /// `flatten(1)`: a map to a vector.
    Flatten,
    /// `flatten(2).transpose(1, 2)`: a map to tokens, one per position.
    MapToTokens,
    /// Swaps tokens and features (mlp-mixer's token mixing).
    TransposeTokens,
    /// Prepends a learned class token.
    ClassToken,
    /// Adds a learned position embedding.
    PositionEmbedding,
    /// Multi-head self-attention core on a fused `qkv` input (3 x width): per head softmax(q kᵀ / √d) v.
    Attention {
        heads: usize,
    },
    /// Multiplies each channel by a learned factor (ConvNeXt's layer scale `gamma`).
    LayerScale,
    /// Element-wise sum of the inputs.
    Add,
    /// Element-wise product of a map and a per-channel gate (squeeze-excite).
    Gate,
    /// Concatenation along channels.
    Concat,
    /// Channels `start..start + len` (GhostNet keeps the first `out` of its concatenation).
    SliceChannels {
        start: usize,
        len: usize,
    },
    /// timm's BlurPool2d: reflect padding by 1, then a fixed depthwise 3x3 binomial filter
    /// ([1, 2, 1] x [1, 2, 1] / 16) at `stride` (anti-aliased downsampling; no parameters).
    BlurPool {
        stride: usize,
    },
    /// `nn.Upsample(scale_factor=scale, mode='nearest')` by a whole factor (HRNet's fusion).
    UpsampleNearest {
        scale: usize,
    },
    /// Zero padding (TensorFlow's "SAME" padding of a strided convolution, which may be one-sided).
    Pad {
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    },
    /// timm's ScaledStdConv2d (NFNet): a biased convolution whose weight is standardised per output
    /// channel (zero mean, unit variance over its fan-in, with `eps`) and scaled by a learned `gain`
    /// ([out, 1, 1, 1]) times fan-in^-1/2 before it is applied.
    StdConv2d {
        conv: Conv,
        eps: f64,
    },
    /// Multiplies by a constant (NFNet's activation gamma, residual alpha and beta).
    Scale {
        factor: f64,
    },
    /// Multiplies by one learned scalar (NFNet's `skipinit_gain`).
    ScalarGain,
    /// ECA's `nn.Conv1d(1, 1, kernel, padding=(kernel - 1) / 2, bias=False)` across the channels of a
    /// `c x 1 x 1` map (efficient channel attention, timm's EcaModule).
    ChannelConv {
        kernel: usize,
    },
    /// Global-context pooling (GCNet, timm's GlobalContext): inputs a `c x h x w` map and `1 x h x w`
    /// attention logits; softmax over positions, then the map's weighted sum per channel (`c x 1 x 1`).
    ContextPool,
    /// A map plus a per-channel `c x 1 x 1` vector, broadcast over positions.
    AddChannels,
    /// Bottleneck self-attention (timm's BottleneckAttn core) on a fused `qkv` map of `heads x (2 x
    /// head_qk + head_v)` channels: per head softmax(q kᵀ / √head_qk + relative logits) v over all
    /// positions, where the relative logits of query (y, x) and key (y', x') are q · height_rel[y' - y +
    /// H - 1] + q · width_rel[x' - x + W - 1] (learned `pos_embed.height_rel` [2H - 1, head_qk] and
    /// `pos_embed.width_rel` [2W - 1, head_qk], sized for the map). Output: `heads x head_v` channels.
    RelPosAttention {
        heads: usize,
        head_qk: usize,
        head_v: usize,
    },
    /// Halo attention (timm's HaloAttn core): inputs the queries (`heads x head_qk` channels, one
    /// `block / stride` square per `block` square of the map) and the fused keys and values (`heads x
    /// (head_qk + head_v)`, each head's k then v). Each query block attends to its block of the
    /// key map widened by `halo` on every side (zeros outside), with relative logits as
    /// [`Op::RelPosAttention`] over that window (tables of 2 x window - 1 rows).
    HaloAttention {
        heads: usize,
        head_qk: usize,
        head_v: usize,
        block: usize,
        halo: usize,
    },
    // Transformer and hybrid families of the paper's zoo (issue 15).
    /// `F.interpolate(x, size=(h, w), mode=..., align_corners=False)` (CrossViT resizes its input to
    /// each branch's image size, bicubic; MobileViT a map to a multiple of its patch, bilinear).
    Resize {
        h: usize,
        w: usize,
        mode: Interp,
    },
    /// MobileViT's unfold: a map cut into `patch x patch` tiles becomes `patch²` sequences (one per
    /// position inside a tile) of one token per tile, laid end to end: token (i * tiles + t) is
    /// position i of tile t.
    UnfoldPatches {
        patch: usize,
    },
    /// The inverse of [`Op::UnfoldPatches`], back to a `h x w` map.
    FoldPatches {
        patch: usize,
    },
    /// MobileViT v2's unfold: a `c x h x w` map cut into `patch x patch` tiles becomes a `c x P x N`
    /// map (P = patch² positions inside a tile, N tiles), so 1x1 convolutions act per token.
    UnfoldMap {
        patch: usize,
    },
    /// The inverse of [`Op::UnfoldMap`], back to the node's `h x w`.
    FoldMap {
        patch: usize,
    },
    /// Group norm with one group (timm's GroupNorm1): normalised over all of a sample's values,
    /// then a per-channel scale and shift.
    GroupNorm1 {
        eps: f64,
    },
    /// MobileViT v2's linear self-attention core on a `(1 + 2d) x P x N` map (query, keys,
    /// values): softmax of the query over N, the keys' weighted sum over N (one context per
    /// channel and P), times ReLU of the values.
    LinearAttention,
    /// Tokens back to a `d x h x w` map (`transpose(1, 2).reshape(B, C, H, W)`; PVTv2).
    TokensToMap {
        h: usize,
        w: usize,
    },
    /// Features `start..start + len` of every token (PVTv2's fused `kv` split into k and v).
    SliceFeatures {
        start: usize,
        len: usize,
    },
    /// [`Op::Attention`] within each of `groups` equal runs of tokens (MobileViT's per-position
    /// sequences).
    GroupedAttention {
        heads: usize,
        groups: usize,
    },
    /// Tokens `start..start + len` (`x[:, 0:1]`, `x[:, 1:]`).
    SliceTokens {
        start: usize,
        len: usize,
    },
    /// Concatenation along the token axis.
    ConcatTokens,
    /// Multi-head attention of separate `q` (n_q tokens), `k` and `v` (n_kv tokens) inputs, all of
    /// one width: per head softmax(q kᵀ / √d) v, n_q tokens out (CrossViT's cross-attention).
    CrossAttention {
        heads: usize,
        /// The key (and value) token count.
        keys: usize,
    },
    // NASNet and PNASNet (issue 15).
    /// `F.pad(x, (left, right, top, bottom), value=value)`, where a negative amount crops: timm's
    /// MaxPool2dSame pads with -inf (one-sided on even maps), and NASNet's factorised reduction
    /// shifts its second path by a pixel with `ZeroPad2d((-1, 1, -1, 1))`.
    ConstantPad {
        top: i32,
        bottom: i32,
        left: i32,
        right: i32,
        value: f32,
    },
    // Lambda layers and BAT (issue 15, zooc).
    /// The core of timm's LambdaLayer on three maps: queries `q` (`heads x dim_qk` channels, after
    /// `norm_q`), keys `k` (`dim_qk`) and values `v` (`dim_v`, after `norm_v`), all `h x w`. Keys are
    /// softmaxed over positions; each position's output (`heads x dim_v` channels) is its queries times
    /// the content lambda (kᵀ v, `dim_qk x dim_v`) plus its own position lambda (see [`LambdaPos`]).
    Lambda {
        heads: usize,
        dim_qk: usize,
        dim_v: usize,
        pos: LambdaPos,
    },
    /// `adaptive_max_pool2d` to `h x w`, only where the map divides evenly (BAT's row and column pooling).
    AdaptiveMaxPool {
        h: usize,
        w: usize,
    },
    /// BAT's bilinear attention transform (timm's BilinearAttnTransform after its 1x1 convs): inputs the
    /// map `x` (`c x H x W`) and the row and column logits (`groups x block² x 1 x 1` each); per group of
    /// channels, the sigmoid of each is normalised (rows of p, columns of q sum to 1), widened to `H x H`
    /// and `W x W` by a Kronecker product with the identity, and the output is P x X x Q per channel.
    BilinearTransform {
        groups: usize,
        block: usize,
    },
    /// `nn.Dropout2d(p)`: whole channels zeroed (and the rest scaled by 1 / (1 - p)) in training only.
    Dropout2d {
        p: f64,
    },
    // Window attention of the paper's zoo (issue 15): MaxViT/MaxxViT and Swin V2.
    /// MaxViT's partition attention (timm's PartitionAttentionCl core) on fused `qkv` tokens of an
    /// `h x w` map (row-major), each head's q, k and v side by side (`head_first`). The map is cut into
    /// windows of `wh x ww` neighbours (`grid: false`, timm's window_partition) or into `wh x ww` grids of
    /// tokens `h / wh` (`w / ww`) apart (`grid: true`, grid_partition); per window and head
    /// softmax(q kᵀ / √d + bias) v, the bias learned per relative position: a table
    /// `rel_pos.relative_position_bias_table` [(2wh - 1)(2ww - 1), heads] (`mlp: false`, RelPosBias) or
    /// timm's RelPosMlp (`mlp: true`: log-spaced coordinates sign(d) ln(1 + |d|) through a
    /// 2 -> 512 -> heads ReLU MLP, `rel_pos.mlp.fc1`, `rel_pos.mlp.fc2`). Tokens out in place.
    PartitionAttention {
        heads: usize,
        h: usize,
        w: usize,
        wh: usize,
        ww: usize,
        grid: bool,
        mlp: bool,
    },
    /// Swin V2's window attention (timm's WindowAttention) on `qkv` tokens (a bias-free linear) of an
    /// `h x w` map already rolled and padded to whole `wh x ww` windows ([`Op::ShiftPad`]): `q_bias`
    /// and `v_bias` added, per window and head the cosine similarity of q and k times a learned
    /// `logit_scale` ([heads, 1, 1], exponentiated after a clamp at ln 100), plus 16 sigmoid of a
    /// continuous position bias (`cpb_mlp`: 2 -> 512 -> heads, ReLU, log-spaced coordinates), minus 100
    /// across the roll's seams where the block shifts (`shift_h`, `shift_w` > 0; timm's attn_mask);
    /// softmax, times v.
    SwinAttention {
        heads: usize,
        h: usize,
        w: usize,
        wh: usize,
        ww: usize,
        shift_h: usize,
        shift_w: usize,
    },
    /// Swin's cyclic shift and padding: tokens of an `h x w` map rolled by (-shift_h, -shift_w), then
    /// zero-padded at the bottom and right to `(h + pad_h) x (w + pad_w)` (whole windows).
    ShiftPad {
        h: usize,
        w: usize,
        shift_h: usize,
        shift_w: usize,
        pad_h: usize,
        pad_w: usize,
    },
    /// The inverse of [`Op::ShiftPad`]: tokens of the padded map cropped to `h x w`, rolled back.
    UnshiftCrop {
        h: usize,
        w: usize,
        shift_h: usize,
        shift_w: usize,
        pad_h: usize,
        pad_w: usize,
    },
    /// Swin's patch merging: the tokens of each 2x2 square of an `h x w` map (even sides) side by side
    /// in timm's order (top-left, bottom-left, top-right, bottom-right), `(h / 2) x (w / 2)` tokens of 4 x
    /// the width.
    PatchMerge {
        h: usize,
        w: usize,
    },
    // EdgeNeXt and Sequencer2D (issue 15, zooe).
    /// EdgeNeXt's PositionalEncodingFourier before its projection: a fixed `2 x hidden x h x w` map of
    /// sines and cosines of each position's row (first `hidden` channels) and column (normalised to
    /// (0, 2π]) over the temperature 10000's powers, for the input map's `h x w` (no parameters).
    FourierPosition {
        hidden: usize,
    },
    /// Cross-covariance attention (EdgeNeXt's XCA core) on fused `qkv` tokens (3 x width): per head, q
    /// and k L2-normalised over the tokens, softmax(q̂ k̂ᵀ x temperature) a `head x head` map over
    /// channels, applied to v. The learned `temperature` is `[heads, 1, 1]`.
    XcaAttention {
        heads: usize,
    },
    /// Sequencer2D's LSTM2d core on the tokens of an `h x w` map (row-major): a bidirectional LSTM
    /// (PyTorch's `nn.LSTM`, one layer, gates i, f, g, o, zero initial state) down every column
    /// (`rnn_v`) and one along every row (`rnn_h`); out, per position, [v forward | v reverse | h
    /// forward | h reverse] (4 x hidden features). Parameters under `{name}.rnn_v` / `.rnn_h`:
    /// `weight_ih_l0` [4 x hidden, in], `weight_hh_l0` [4 x hidden, hidden], `bias_ih_l0`,
    /// `bias_hh_l0` [4 x hidden], and the same with `_reverse`.
    Lstm2d {
        hidden: usize,
        h: usize,
        w: usize,
    },
}

/// Hidden width of the relative position MLPs (timm's RelPosMlp `rel_pos_dim`, Swin V2's `cpb_mlp`).
pub const REL_POS_HIDDEN: usize = 512;

impl Op {
    /// Whether the op owns parameters (and so a layer in the burn module).
    pub fn has_params(&self) -> bool {
        matches!(
            self,
            Op::Conv2d(_)
                | Op::BatchNorm { .. }
                | Op::LayerNorm { .. }
                | Op::Linear { .. }
                | Op::ClassToken
                | Op::PositionEmbedding
                | Op::LayerScale
                | Op::StdConv2d { .. }
                | Op::ScalarGain
                | Op::ChannelConv { .. }
                | Op::RelPosAttention { .. }
                | Op::HaloAttention { .. }
                | Op::GroupNorm1 { .. }
                | Op::Lambda { .. }
                | Op::PartitionAttention { .. }
                | Op::SwinAttention { .. }
                | Op::XcaAttention { .. }
                | Op::Lstm2d { .. }
        )
    }

    /// The tensors a window attention op owns: key suffix and PyTorch shape, for an input of `qkv`
    /// features (3 x the width). Empty for every other op.
    pub fn window_tensors(&self, qkv: usize) -> Vec<(&'static str, Vec<usize>)> {
        let hidden = REL_POS_HIDDEN;
        match *self {
            Op::PartitionAttention { heads, wh, ww, mlp: false, .. } => {
                vec![("rel_pos.relative_position_bias_table", vec![(2 * wh - 1) * (2 * ww - 1), heads])]
            }
            Op::PartitionAttention { heads, mlp: true, .. } => vec![
                ("rel_pos.mlp.fc1.weight", vec![hidden, 2]),
                ("rel_pos.mlp.fc1.bias", vec![hidden]),
                ("rel_pos.mlp.fc2.weight", vec![heads, hidden]),
                ("rel_pos.mlp.fc2.bias", vec![heads]),
            ],
            Op::SwinAttention { heads, .. } => vec![
                ("logit_scale", vec![heads, 1, 1]),
                ("q_bias", vec![qkv / 3]),
                ("v_bias", vec![qkv / 3]),
                ("cpb_mlp.0.weight", vec![hidden, 2]),
                ("cpb_mlp.0.bias", vec![hidden]),
                ("cpb_mlp.2.weight", vec![heads, hidden]),
            ],
            _ => vec![],
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Conv2d(_) => "conv2d",
            Op::BatchNorm { .. } => "batch_norm",
            Op::LayerNorm { .. } => "layer_norm",
            Op::Linear { .. } => "linear",
            Op::Act(_) => "activation",
            Op::MaxPool(_) => "max_pool2d",
            Op::AvgPool(_) => "avg_pool2d",
            Op::AdaptiveAvgPool { .. } => "adaptive_avg_pool2d",
            Op::SpatialMean | Op::TokenMean => "mean",
            Op::FirstToken => "select",
            Op::Flatten | Op::MapToTokens | Op::TransposeTokens => "reshape",
            Op::ClassToken => "cat",
            Op::PositionEmbedding => "add",
            Op::Attention { .. } => "matmul",
            Op::LayerScale | Op::Gate => "mul",
            Op::Add => "add",
            Op::Concat => "cat",
            Op::SliceChannels { .. } => "slice",
            // fvcore sees the F.conv2d the filter is applied with.
            Op::BlurPool { .. } => "conv2d",
            Op::UpsampleNearest { .. } => "upsample_nearest2d",
            Op::Pad { .. } => "pad",
            // fvcore sees the weight's batch_norm and the conv2d; the row shows both summed.
            Op::StdConv2d { .. } => "conv2d",
            Op::Scale { .. } | Op::ScalarGain => "mul",
            Op::ChannelConv { .. } => "conv1d",
            Op::ContextPool => "matmul",
            Op::AddChannels => "add",
            Op::RelPosAttention { .. } | Op::HaloAttention { .. } => "matmul",
            Op::Resize { mode: Interp::Bicubic, .. } => "upsample_bicubic2d",
            Op::Resize { mode: Interp::Bilinear | Interp::BilinearAligned, .. } => "upsample_bilinear2d",
            Op::UnfoldMap { .. } | Op::FoldMap { .. } | Op::TokensToMap { .. } => "reshape",
            Op::SliceFeatures { .. } => "slice",
            Op::GroupNorm1 { .. } => "group_norm",
            Op::LinearAttention => "mul",
            Op::UnfoldPatches { .. } | Op::FoldPatches { .. } => "reshape",
            Op::GroupedAttention { .. } => "matmul",
            Op::SliceTokens { .. } => "slice",
            Op::ConcatTokens => "cat",
            Op::CrossAttention { .. } => "matmul",
            Op::ConstantPad { .. } => "constant_pad_nd",
            Op::Lambda { pos: LambdaPos::Relative, .. } | Op::BilinearTransform { .. } => "matmul",
            // fvcore sees the position lambdas' Conv3d beside the matmuls; the row shows both summed.
            Op::Lambda { pos: LambdaPos::Local { .. }, .. } => "conv3d",
            Op::AdaptiveMaxPool { .. } => "adaptive_max_pool2d",
            Op::Dropout2d { .. } => "dropout",
            Op::PartitionAttention { .. } | Op::SwinAttention { .. } => "matmul",
            Op::ShiftPad { .. } | Op::UnshiftCrop { .. } => "roll",
            Op::PatchMerge { .. } => "reshape",
            Op::FourierPosition { .. } => "cumsum",
            Op::XcaAttention { .. } => "matmul",
            Op::Lstm2d { .. } => "lstm",
        }
    }
}

/// Index of a node in its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub usize);

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// timm's module path for layers with parameters (`layer1.0.conv1`), a descriptive path otherwise.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<Id>,
    pub output: Shape,
}

impl Node {
    /// Parameters this node owns, from its op and shapes.
    pub fn params(&self, input: Shape) -> u64 {
        let c = input.features() as u64;
        match &self.op {
            Op::Conv2d(conv) => {
                let weight = conv.out as u64 * (c / conv.groups as u64) * conv.taps();
                weight + if conv.bias { conv.out as u64 } else { 0 }
            }
            Op::BatchNorm { .. } | Op::LayerNorm { .. } | Op::GroupNorm1 { .. } => 2 * c,
            Op::Linear { out, bias } => c * *out as u64 + if *bias { *out as u64 } else { 0 },
            Op::ClassToken => c,
            Op::PositionEmbedding => self.output.elements(),
            Op::LayerScale => c,
            Op::StdConv2d { conv, .. } => {
                let weight = conv.out as u64 * (c / conv.groups as u64) * conv.taps();
                weight + if conv.bias { conv.out as u64 } else { 0 } + conv.out as u64
            }
            Op::ScalarGain => 1,
            Op::ChannelConv { kernel } => *kernel as u64,
            Op::RelPosAttention { head_qk, .. } => match input {
                Shape::Map { h, w, .. } => ((2 * h - 1 + 2 * w - 1) * head_qk) as u64,
                _ => 0,
            },
            Op::HaloAttention { head_qk, block, halo, .. } => (2 * (2 * (block + 2 * halo) - 1) * head_qk) as u64,
            Op::Lambda { dim_qk, pos, .. } => match (pos, input) {
                (LambdaPos::Relative, Shape::Map { h, w, .. }) => ((2 * h - 1) * (2 * w - 1) * dim_qk) as u64,
                (LambdaPos::Local { r }, _) => (dim_qk * r * r + dim_qk) as u64,
                _ => 0,
            },
            Op::PartitionAttention { .. } | Op::SwinAttention { .. } => {
                self.op.window_tensors(c as usize).iter().map(|(_, s)| s.iter().product::<usize>() as u64).sum()
            }
            Op::XcaAttention { heads } => *heads as u64,
            // Per axis and direction: weight_ih, weight_hh and the two biases.
            Op::Lstm2d { hidden, .. } => (2 * 2 * 4 * hidden * (c as usize + hidden + 2)) as u64,
            _ => 0,
        }
    }
}

/// A finished architecture: nodes in execution order, the last one is the output.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
}

impl Graph {
    pub fn input(&self) -> Shape {
        self.nodes[0].output
    }

    pub fn output(&self) -> Shape {
        self.nodes.last().expect("a graph has an input node").output
    }

    pub fn node(&self, id: Id) -> &Node {
        &self.nodes[id.0]
    }

    /// Shape of a node's first input.
    pub fn input_of(&self, node: &Node) -> Shape {
        node.inputs.first().map_or(node.output, |id| self.nodes[id.0].output)
    }

    /// The PyTorch state-dict keys (learnable tensors only; batch-norm buffers left out) and shapes
    /// this graph implies: `{node}.weight` / `{node}.bias` for layers, the node name itself for the
    /// class token, position embedding and layer scale. Equal to timm's for every timm entry, so a
    /// timm checkpoint maps onto the graph by name.
    pub fn state_dict(&self) -> Vec<(String, Vec<usize>)> {
        let mut keys = Vec::new();
        for node in &self.nodes {
            let c = self.input_of(node).features();
            let name = &node.name;
            let mut add = |suffix: &str, shape: Vec<usize>| {
                keys.push((if suffix.is_empty() { name.clone() } else { format!("{name}.{suffix}") }, shape))
            };
            match &node.op {
                Op::Conv2d(conv) => {
                    add("weight", vec![conv.out, c / conv.groups, conv.kernel, conv.kernel_w]);
                    if conv.bias {
                        add("bias", vec![conv.out]);
                    }
                }
                Op::BatchNorm { .. } | Op::LayerNorm { .. } | Op::GroupNorm1 { .. } => {
                    add("weight", vec![c]);
                    add("bias", vec![c]);
                }
                Op::Linear { out, bias } => {
                    add("weight", vec![*out, c]);
                    if *bias {
                        add("bias", vec![*out]);
                    }
                }
                Op::StdConv2d { conv, .. } => {
                    add("weight", vec![conv.out, c / conv.groups, conv.kernel, conv.kernel_w]);
                    if conv.bias {
                        add("bias", vec![conv.out]);
                    }
                    add("gain", vec![conv.out, 1, 1, 1]);
                }
                Op::ScalarGain => add("", vec![]),
                Op::ChannelConv { kernel } => add("weight", vec![1, 1, *kernel]),
                Op::RelPosAttention { head_qk, .. } => {
                    let Shape::Map { h, w, .. } = self.input_of(node) else { unreachable!("checked by the builder") };
                    add("pos_embed.height_rel", vec![2 * h - 1, *head_qk]);
                    add("pos_embed.width_rel", vec![2 * w - 1, *head_qk]);
                }
                Op::HaloAttention { head_qk, block, halo, .. } => {
                    let window = block + 2 * halo;
                    add("pos_embed.height_rel", vec![2 * window - 1, *head_qk]);
                    add("pos_embed.width_rel", vec![2 * window - 1, *head_qk]);
                }
                Op::Lambda { dim_qk, pos: LambdaPos::Relative, .. } => {
                    let Shape::Map { h, w, .. } = self.input_of(node) else { unreachable!("checked by the builder") };
                    add("pos_emb", vec![2 * h - 1, 2 * w - 1, *dim_qk]);
                }
                Op::Lambda { dim_qk, pos: LambdaPos::Local { r }, .. } => {
                    add("conv_lambda.weight", vec![*dim_qk, 1, *r, *r, 1]);
                    add("conv_lambda.bias", vec![*dim_qk]);
                }
                Op::PartitionAttention { .. } | Op::SwinAttention { .. } => {
                    for (suffix, shape) in node.op.window_tensors(c) {
                        add(suffix, shape);
                    }
                }
                Op::LayerScale => add("", vec![c]),
                Op::ClassToken => add("", vec![1, 1, c]),
                Op::PositionEmbedding => match node.output {
                    Shape::Tokens { n, d } => add("", vec![1, n, d]),
                    _ => unreachable!("checked by the builder"),
                },
                Op::XcaAttention { heads } => add("temperature", vec![*heads, 1, 1]),
                Op::Lstm2d { hidden, .. } => {
                    for (key, shape) in lstm2d_keys(c, *hidden) {
                        add(&key, shape);
                    }
                }
                op => debug_assert!(!op.has_params(), "{name}: no state-dict rule for {op:?}"),
            }
        }
        keys
    }

    /// Parameters counted from the description (the burn module's own count must agree).
    pub fn params(&self) -> u64 {
        self.nodes.iter().map(|n| n.params(self.input_of(n))).sum()
    }
}

/// The state-dict keys (below the node) and shapes of an [`Op::Lstm2d`] with `c` input features, in
/// `nn.LSTM`'s order per axis: forward weights and biases, then the reverse direction's.
pub fn lstm2d_keys(c: usize, hidden: usize) -> Vec<(String, Vec<usize>)> {
    let mut keys = Vec::new();
    for axis in ["rnn_v", "rnn_h"] {
        for dir in ["", "_reverse"] {
            keys.push((format!("{axis}.weight_ih_l0{dir}"), vec![4 * hidden, c]));
            keys.push((format!("{axis}.weight_hh_l0{dir}"), vec![4 * hidden, hidden]));
            keys.push((format!("{axis}.bias_ih_l0{dir}"), vec![4 * hidden]));
            keys.push((format!("{axis}.bias_hh_l0{dir}"), vec![4 * hidden]));
        }
    }
    keys
}

/// Why an architecture cannot be built as asked.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeError {
    pub message: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ShapeError {}

pub type Result<T> = std::result::Result<T, ShapeError>;

fn fail<T>(message: String) -> Result<T> {
    Err(ShapeError { message })
}

/// Output size of a convolution or pooling window along one axis (PyTorch's formula).
pub fn window_out(
    size: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    ceil: bool,
) -> Option<usize> {
    // PyTorch's pooling_output_shape: floor division (towards negative infinity), so a ceil-mode
    // window may be wider than the padded input (a 2x2 ceil-mode pool takes a 1x1 map).
    let span = (dilation * (kernel - 1) + 1) as i64;
    let (size, padding, stride) = (size as i64, padding as i64, stride as i64);
    let numerator = size + 2 * padding - span + if ceil { stride - 1 } else { 0 };
    let mut out = numerator.div_euclid(stride) + 1;
    // PyTorch: the last window must start inside the input or its left padding.
    if ceil && (out - 1) * stride >= size + padding {
        out -= 1;
    }
    (out >= 1).then_some(out as usize)
}

/// Builds a [`Graph`] node by node, checking shapes as it goes.
pub struct GraphBuilder {
    nodes: Vec<Node>,
}

impl GraphBuilder {
    /// Starts a graph on a `channels x size x size` image.
    pub fn new(channels: usize, height: usize, width: usize) -> (GraphBuilder, Id) {
        let input = Node {
            name: "input".into(),
            op: Op::Input,
            inputs: vec![],
            output: Shape::Map { c: channels, h: height, w: width },
        };
        (GraphBuilder { nodes: vec![input] }, Id(0))
    }

    pub fn shape(&self, id: Id) -> Shape {
        self.nodes[id.0].output
    }

    /// Channels of a feature map (or width of tokens).
    pub fn channels(&self, id: Id) -> usize {
        self.shape(id).features()
    }

    pub fn finish(self) -> Graph {
        Graph { nodes: self.nodes }
    }

    fn push(&mut self, name: impl Into<String>, op: Op, inputs: Vec<Id>, output: Shape) -> Id {
        self.nodes.push(Node { name: name.into(), op, inputs, output });
        Id(self.nodes.len() - 1)
    }

    fn map(&self, name: &str, x: Id) -> Result<(usize, usize, usize)> {
        match self.shape(x) {
            Shape::Map { c, h, w } => Ok((c, h, w)),
            other => fail(format!("{name}: expects a feature map, got {other}")),
        }
    }

    fn tokens(&self, name: &str, x: Id) -> Result<(usize, usize)> {
        match self.shape(x) {
            Shape::Tokens { n, d } => Ok((n, d)),
            other => fail(format!("{name}: expects tokens, got {other}")),
        }
    }

    pub fn conv(&mut self, name: &str, x: Id, conv: Conv) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        if !c.is_multiple_of(conv.groups) || !conv.out.is_multiple_of(conv.groups) {
            return fail(format!("{name}: {c} -> {} channels do not split into {} groups", conv.out, conv.groups));
        }
        let oh = window_out(h, conv.kernel, conv.stride, conv.padding, conv.dilation, false);
        let ow = window_out(w, conv.kernel_w, conv.stride, conv.padding_w, conv.dilation, false);
        match (oh, ow) {
            (Some(oh), Some(ow)) => {
                Ok(self.push(name, Op::Conv2d(conv), vec![x], Shape::Map { c: conv.out, h: oh, w: ow }))
            }
            _ => fail(format!(
                "{name}: a {k}x{kw} convolution does not fit the {h}x{w} feature map here: the input image is too small for this architecture",
                k = conv.kernel,
                kw = conv.kernel_w
            )),
        }
    }

    pub fn batch_norm(&mut self, name: &str, x: Id) -> Result<Id> {
        self.batch_norm_eps(name, x, 1e-5)
    }

    pub fn batch_norm_eps(&mut self, name: &str, x: Id, eps: f64) -> Result<Id> {
        let shape = self.shape(x);
        self.map(name, x)?;
        Ok(self.push(name, Op::BatchNorm { eps }, vec![x], shape))
    }

    pub fn layer_norm(&mut self, name: &str, x: Id, eps: f64) -> Result<Id> {
        let shape = self.shape(x);
        Ok(self.push(name, Op::LayerNorm { eps }, vec![x], shape))
    }

    pub fn linear(&mut self, name: &str, x: Id, out: usize, bias: bool) -> Result<Id> {
        let shape = match self.shape(x) {
            Shape::Vector { .. } => Shape::Vector { d: out },
            Shape::Tokens { n, .. } => Shape::Tokens { n, d: out },
            Shape::Map { .. } => {
                return fail(format!("{name}: a linear layer needs a vector or tokens, got a feature map"));
            }
        };
        Ok(self.push(name, Op::Linear { out, bias }, vec![x], shape))
    }

    pub fn act(&mut self, name: &str, x: Id, act: Act) -> Id {
        let shape = self.shape(x);
        self.push(name, Op::Act(act), vec![x], shape)
    }

    fn pool(&mut self, name: &str, x: Id, pool: Pool, max: bool) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        let out = |size| window_out(size, pool.kernel, pool.stride, pool.padding, 1, pool.ceil_mode);
        let op = if max { Op::MaxPool(pool) } else { Op::AvgPool(pool) };
        match (out(h), out(w)) {
            (Some(oh), Some(ow)) => Ok(self.push(name, op, vec![x], Shape::Map { c, h: oh, w: ow })),
            _ => fail(format!(
                "{name}: a {k}x{k} pooling window does not fit the {h}x{w} feature map here: the input image is too small for this architecture",
                k = pool.kernel
            )),
        }
    }

    pub fn max_pool(&mut self, name: &str, x: Id, pool: Pool) -> Result<Id> {
        self.pool(name, x, pool, true)
    }

    pub fn avg_pool(&mut self, name: &str, x: Id, pool: Pool) -> Result<Id> {
        self.pool(name, x, pool, false)
    }

    pub fn adaptive_avg_pool(&mut self, name: &str, x: Id, h: usize, w: usize) -> Result<Id> {
        let (c, ..) = self.map(name, x)?;
        Ok(self.push(name, Op::AdaptiveAvgPool { h, w }, vec![x], Shape::Map { c, h, w }))
    }

    pub fn spatial_mean(&mut self, name: &str, x: Id) -> Result<Id> {
        let (c, ..) = self.map(name, x)?;
        Ok(self.push(name, Op::SpatialMean, vec![x], Shape::Map { c, h: 1, w: 1 }))
    }

    pub fn flatten(&mut self, name: &str, x: Id) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        Ok(self.push(name, Op::Flatten, vec![x], Shape::Vector { d: c * h * w }))
    }

    /// timm's classifier head: global average pool, flatten, linear.
    pub fn classifier(&mut self, prefix: &str, x: Id, pool_name: &str, classes: usize) -> Result<Id> {
        let pooled = self.adaptive_avg_pool(pool_name, x, 1, 1)?;
        let flat = self.flatten(&format!("{prefix}.flatten"), pooled)?;
        self.linear(prefix, flat, classes, true)
    }

    pub fn map_to_tokens(&mut self, name: &str, x: Id) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        Ok(self.push(name, Op::MapToTokens, vec![x], Shape::Tokens { n: h * w, d: c }))
    }

    pub fn transpose_tokens(&mut self, name: &str, x: Id) -> Result<Id> {
        let (n, d) = self.tokens(name, x)?;
        Ok(self.push(name, Op::TransposeTokens, vec![x], Shape::Tokens { n: d, d: n }))
    }

    pub fn class_token(&mut self, name: &str, x: Id) -> Result<Id> {
        let (n, d) = self.tokens(name, x)?;
        Ok(self.push(name, Op::ClassToken, vec![x], Shape::Tokens { n: n + 1, d }))
    }

    pub fn position_embedding(&mut self, name: &str, x: Id) -> Result<Id> {
        let shape = self.shape(x);
        self.tokens(name, x)?;
        Ok(self.push(name, Op::PositionEmbedding, vec![x], shape))
    }

    pub fn attention(&mut self, name: &str, qkv: Id, heads: usize) -> Result<Id> {
        let (n, d3) = self.tokens(name, qkv)?;
        if d3 % 3 != 0 || (d3 / 3) % heads != 0 {
            return fail(format!("{name}: width {} does not split into {heads} heads", d3 / 3));
        }
        Ok(self.push(name, Op::Attention { heads }, vec![qkv], Shape::Tokens { n, d: d3 / 3 }))
    }

    pub fn token_mean(&mut self, name: &str, x: Id) -> Result<Id> {
        let (_, d) = self.tokens(name, x)?;
        Ok(self.push(name, Op::TokenMean, vec![x], Shape::Vector { d }))
    }

    pub fn first_token(&mut self, name: &str, x: Id) -> Result<Id> {
        let (_, d) = self.tokens(name, x)?;
        Ok(self.push(name, Op::FirstToken, vec![x], Shape::Vector { d }))
    }

    pub fn layer_scale(&mut self, name: &str, x: Id) -> Id {
        let shape = self.shape(x);
        self.push(name, Op::LayerScale, vec![x], shape)
    }

    pub fn add(&mut self, name: &str, a: Id, b: Id) -> Result<Id> {
        let (sa, sb) = (self.shape(a), self.shape(b));
        if sa != sb {
            return fail(format!(
                "{name}: cannot add {sa} and {sb}: the input size does not divide evenly through this architecture's strides (try a multiple of 32)"
            ));
        }
        Ok(self.push(name, Op::Add, vec![a, b], sa))
    }

    /// `x * gate`, with `gate` of shape `c x 1 x 1`.
    pub fn gate(&mut self, name: &str, x: Id, gate: Id) -> Result<Id> {
        let (c, ..) = self.map(name, x)?;
        match self.shape(gate) {
            Shape::Map { c: gc, h: 1, w: 1 } if gc == c => {}
            other => return fail(format!("{name}: gate {other} does not match {c} channels")),
        }
        let shape = self.shape(x);
        Ok(self.push(name, Op::Gate, vec![x, gate], shape))
    }

    pub fn concat(&mut self, name: &str, inputs: &[Id]) -> Result<Id> {
        let (_, h, w) = self.map(name, inputs[0])?;
        let mut channels = 0;
        for &id in inputs {
            let (c, ih, iw) = self.map(name, id)?;
            if (ih, iw) != (h, w) {
                return fail(format!("{name}: cannot concatenate {ih}x{iw} with {h}x{w} maps"));
            }
            channels += c;
        }
        Ok(self.push(name, Op::Concat, inputs.to_vec(), Shape::Map { c: channels, h, w }))
    }

    /// timm's BlurPool2d (filter size 3, reflect padding 1). Reflect padding needs at least 2
    /// pixels each way, as in PyTorch.
    pub fn blur_pool(&mut self, name: &str, x: Id, stride: usize) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        if h < 2 || w < 2 {
            return fail(format!(
                "{name}: blur pooling's reflect padding needs a map of at least 2x2, got {h}x{w}: the input image is too small for this architecture"
            ));
        }
        let out = |size| window_out(size, 3, stride, 1, 1, false).expect("padded size >= 3");
        Ok(self.push(name, Op::BlurPool { stride }, vec![x], Shape::Map { c, h: out(h), w: out(w) }))
    }

    pub fn upsample_nearest(&mut self, name: &str, x: Id, scale: usize) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        Ok(self.push(name, Op::UpsampleNearest { scale }, vec![x], Shape::Map { c, h: h * scale, w: w * scale }))
    }

    /// Zero padding, possibly one-sided.
    pub fn pad(&mut self, name: &str, x: Id, top: usize, bottom: usize, left: usize, right: usize) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        let shape = Shape::Map { c, h: h + top + bottom, w: w + left + right };
        Ok(self.push(name, Op::Pad { top, bottom, left, right }, vec![x], shape))
    }

    /// A scaled weight-standardised convolution (see [`Op::StdConv2d`]); shapes as [`Self::conv`].
    pub fn std_conv(&mut self, name: &str, x: Id, conv: Conv, eps: f64) -> Result<Id> {
        let id = self.conv(name, x, conv)?;
        self.nodes[id.0].op = Op::StdConv2d { conv, eps };
        Ok(id)
    }

    /// ECA's 1-D convolution across channels of a `c x 1 x 1` map (odd `kernel`, same size out).
    pub fn channel_conv(&mut self, name: &str, x: Id, kernel: usize) -> Result<Id> {
        match self.map(name, x)? {
            (_, 1, 1) => {}
            (c, h, w) => return fail(format!("{name}: expects a {c}x1x1 map, got {c}x{h}x{w}")),
        }
        let shape = self.shape(x);
        Ok(self.push(name, Op::ChannelConv { kernel }, vec![x], shape))
    }

    /// GCNet's context: softmax(`logits`) over positions, weighted sum of `x`'s positions.
    pub fn context_pool(&mut self, name: &str, x: Id, logits: Id) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        match self.shape(logits) {
            Shape::Map { c: 1, h: lh, w: lw } if (lh, lw) == (h, w) => {}
            other => return fail(format!("{name}: attention logits {other} do not match {h}x{w}")),
        }
        Ok(self.push(name, Op::ContextPool, vec![x, logits], Shape::Map { c, h: 1, w: 1 }))
    }

    /// Bottleneck self-attention with relative position logits (see [`Op::RelPosAttention`]).
    pub fn rel_pos_attention(
        &mut self,
        name: &str,
        qkv: Id,
        heads: usize,
        head_qk: usize,
        head_v: usize,
    ) -> Result<Id> {
        let (c, h, w) = self.map(name, qkv)?;
        if c != heads * (2 * head_qk + head_v) {
            return fail(format!("{name}: {c} channels are not {heads} heads of q, k ({head_qk}) and v ({head_v})"));
        }
        Ok(self.push(
            name,
            Op::RelPosAttention { heads, head_qk, head_v },
            vec![qkv],
            Shape::Map { c: heads * head_v, h, w },
        ))
    }

    /// Halo attention (see [`Op::HaloAttention`]) of queries `q` over keys and values `kv`.
    #[allow(clippy::too_many_arguments)]
    pub fn halo_attention(
        &mut self,
        name: &str,
        q: Id,
        kv: Id,
        heads: usize,
        head_qk: usize,
        head_v: usize,
        block: usize,
        halo: usize,
    ) -> Result<Id> {
        let (qc, qh, qw) = self.map(name, q)?;
        let (kc, h, w) = self.map(name, kv)?;
        if !h.is_multiple_of(block) || !w.is_multiple_of(block) {
            return fail(format!(
                "{name}: the {h}x{w} feature map here is not a whole number of {block}x{block} halo blocks"
            ));
        }
        let (bh, bw) = (h / block, w / block);
        if qc != heads * head_qk || kc != heads * (head_qk + head_v) || !qh.is_multiple_of(bh) || qh / bh != qw / bw {
            return fail(format!("{name}: queries {qc}x{qh}x{qw} do not match keys and values {kc}x{h}x{w}"));
        }
        let op = Op::HaloAttention { heads, head_qk, head_v, block, halo };
        Ok(self.push(name, op, vec![q, kv], Shape::Map { c: heads * head_v, h: qh, w: qw }))
    }

    /// `x + v` with `v` of shape `c x 1 x 1`.
    pub fn add_channels(&mut self, name: &str, x: Id, v: Id) -> Result<Id> {
        let (c, ..) = self.map(name, x)?;
        match self.shape(v) {
            Shape::Map { c: vc, h: 1, w: 1 } if vc == c => {}
            other => return fail(format!("{name}: {other} does not match {c} channels")),
        }
        let shape = self.shape(x);
        Ok(self.push(name, Op::AddChannels, vec![x, v], shape))
    }

    /// Resizes a map to `h x w`.
    pub fn resize(&mut self, name: &str, x: Id, h: usize, w: usize, mode: Interp) -> Result<Id> {
        let (c, ..) = self.map(name, x)?;
        Ok(self.push(name, Op::Resize { h, w, mode }, vec![x], Shape::Map { c, h, w }))
    }

    /// Height and width of a map (0 x 0 for tokens and vectors).
    pub fn spatial(&self, x: Id) -> (usize, usize) {
        match self.shape(x) {
            Shape::Map { h, w, .. } => (h, w),
            _ => (0, 0),
        }
    }

    pub fn unfold_patches(&mut self, name: &str, x: Id, patch: usize) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        if h % patch != 0 || w % patch != 0 {
            return fail(format!("{name}: a {h}x{w} map does not tile into {patch}x{patch} patches"));
        }
        Ok(self.push(name, Op::UnfoldPatches { patch }, vec![x], Shape::Tokens { n: h * w, d: c }))
    }

    pub fn fold_patches(&mut self, name: &str, x: Id, patch: usize, h: usize, w: usize) -> Result<Id> {
        let (n, c) = self.tokens(name, x)?;
        if n != h * w || !h.is_multiple_of(patch) || !w.is_multiple_of(patch) {
            return fail(format!("{name}: {n} tokens do not fold into a {h}x{w} map of {patch}x{patch} patches"));
        }
        Ok(self.push(name, Op::FoldPatches { patch }, vec![x], Shape::Map { c, h, w }))
    }

    pub fn unfold_map(&mut self, name: &str, x: Id, patch: usize) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        if h % patch != 0 || w % patch != 0 {
            return fail(format!("{name}: a {h}x{w} map does not tile into {patch}x{patch} patches"));
        }
        let shape = Shape::Map { c, h: patch * patch, w: (h / patch) * (w / patch) };
        Ok(self.push(name, Op::UnfoldMap { patch }, vec![x], shape))
    }

    pub fn fold_map(&mut self, name: &str, x: Id, patch: usize, h: usize, w: usize) -> Result<Id> {
        let (c, p, n) = self.map(name, x)?;
        if p != patch * patch || n * p != h * w || !h.is_multiple_of(patch) || !w.is_multiple_of(patch) {
            return fail(format!("{name}: a {p}x{n} patch map does not fold into {h}x{w}"));
        }
        Ok(self.push(name, Op::FoldMap { patch }, vec![x], Shape::Map { c, h, w }))
    }

    pub fn group_norm1(&mut self, name: &str, x: Id, eps: f64) -> Result<Id> {
        let shape = self.shape(x);
        self.map(name, x)?;
        Ok(self.push(name, Op::GroupNorm1 { eps }, vec![x], shape))
    }

    pub fn linear_attention(&mut self, name: &str, qkv: Id) -> Result<Id> {
        let (c, h, w) = self.map(name, qkv)?;
        if c < 3 || (c - 1) % 2 != 0 {
            return fail(format!("{name}: {c} channels are not 1 query + keys + values"));
        }
        Ok(self.push(name, Op::LinearAttention, vec![qkv], Shape::Map { c: (c - 1) / 2, h, w }))
    }

    pub fn tokens_to_map(&mut self, name: &str, x: Id, h: usize, w: usize) -> Result<Id> {
        let (n, d) = self.tokens(name, x)?;
        if n != h * w {
            return fail(format!("{name}: {n} tokens are not a {h}x{w} map"));
        }
        Ok(self.push(name, Op::TokensToMap { h, w }, vec![x], Shape::Map { c: d, h, w }))
    }

    pub fn slice_features(&mut self, name: &str, x: Id, start: usize, len: usize) -> Result<Id> {
        let (n, d) = self.tokens(name, x)?;
        if len == 0 || start + len > d {
            return fail(format!("{name}: features {start}..{} out of {d}", start + len));
        }
        Ok(self.push(name, Op::SliceFeatures { start, len }, vec![x], Shape::Tokens { n, d: len }))
    }

    pub fn grouped_attention(&mut self, name: &str, qkv: Id, heads: usize, groups: usize) -> Result<Id> {
        let (n, d3) = self.tokens(name, qkv)?;
        if d3 % 3 != 0 || (d3 / 3) % heads != 0 || n % groups != 0 {
            return fail(format!(
                "{name}: {n} tokens of width {} do not split into {groups} runs of {heads} heads",
                d3 / 3
            ));
        }
        Ok(self.push(name, Op::GroupedAttention { heads, groups }, vec![qkv], Shape::Tokens { n, d: d3 / 3 }))
    }

    pub fn slice_tokens(&mut self, name: &str, x: Id, start: usize, len: usize) -> Result<Id> {
        let (n, d) = self.tokens(name, x)?;
        if len == 0 || start + len > n {
            return fail(format!("{name}: tokens {start}..{} out of {n}", start + len));
        }
        Ok(self.push(name, Op::SliceTokens { start, len }, vec![x], Shape::Tokens { n: len, d }))
    }

    pub fn concat_tokens(&mut self, name: &str, inputs: &[Id]) -> Result<Id> {
        let (_, d) = self.tokens(name, inputs[0])?;
        let mut n = 0;
        for &id in inputs {
            let (ni, di) = self.tokens(name, id)?;
            if di != d {
                return fail(format!("{name}: cannot concatenate tokens of width {di} with width {d}"));
            }
            n += ni;
        }
        Ok(self.push(name, Op::ConcatTokens, inputs.to_vec(), Shape::Tokens { n, d }))
    }

    /// Attention of `q` over `k`, `v` (see [`Op::CrossAttention`]).
    pub fn cross_attention(&mut self, name: &str, q: Id, k: Id, v: Id, heads: usize) -> Result<Id> {
        let (nq, d) = self.tokens(name, q)?;
        let (nk, dk) = self.tokens(name, k)?;
        if self.shape(v) != (Shape::Tokens { n: nk, d: dk }) || dk != d || d % heads != 0 {
            return fail(format!("{name}: q, k and v of width {d} do not split into {heads} heads"));
        }
        Ok(self.push(name, Op::CrossAttention { heads, keys: nk }, vec![q, k, v], Shape::Tokens { n: nq, d }))
    }

    /// A lambda layer's core (see [`Op::Lambda`]) on queries `q`, keys `k` and values `v`.
    pub fn lambda(&mut self, name: &str, q: Id, k: Id, v: Id, heads: usize, pos: LambdaPos) -> Result<Id> {
        let (qc, h, w) = self.map(name, q)?;
        let (dim_qk, kh, kw) = self.map(name, k)?;
        let (dim_v, vh, vw) = self.map(name, v)?;
        if qc != heads * dim_qk || (kh, kw) != (h, w) || (vh, vw) != (h, w) {
            return fail(format!(
                "{name}: queries {qc}x{h}x{w}, keys {dim_qk}x{kh}x{kw} and values {dim_v}x{vh}x{vw} do not match {heads} heads"
            ));
        }
        let op = Op::Lambda { heads, dim_qk, dim_v, pos };
        Ok(self.push(name, op, vec![q, k, v], Shape::Map { c: heads * dim_v, h, w }))
    }

    /// `adaptive_max_pool2d` to `h x w`; the map must divide evenly (so the windows are PyTorch's).
    pub fn adaptive_max_pool(&mut self, name: &str, x: Id, h: usize, w: usize) -> Result<Id> {
        let (c, mh, mw) = self.map(name, x)?;
        if !mh.is_multiple_of(h) || !mw.is_multiple_of(w) {
            return fail(format!("{name}: the {mh}x{mw} feature map here does not split into {h}x{w} equal windows"));
        }
        Ok(self.push(name, Op::AdaptiveMaxPool { h, w }, vec![x], Shape::Map { c, h, w }))
    }

    /// BAT's bilinear transform of `x` by row logits `p` and column logits `q` (see [`Op::BilinearTransform`]).
    pub fn bilinear_transform(&mut self, name: &str, x: Id, p: Id, q: Id, groups: usize, block: usize) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        let logits = Shape::Map { c: groups * block * block, h: 1, w: 1 };
        if self.shape(p) != logits || self.shape(q) != logits || !c.is_multiple_of(groups) {
            return fail(format!("{name}: the row and column logits do not match {groups} groups of {block}x{block}"));
        }
        if !h.is_multiple_of(block) || !w.is_multiple_of(block) {
            return fail(format!(
                "{name}: the {h}x{w} feature map here is not a whole number of {block}x{block} blocks"
            ));
        }
        let shape = self.shape(x);
        Ok(self.push(name, Op::BilinearTransform { groups, block }, vec![x, p, q], shape))
    }

    pub fn dropout2d(&mut self, name: &str, x: Id, p: f64) -> Id {
        let shape = self.shape(x);
        self.push(name, Op::Dropout2d { p }, vec![x], shape)
    }

    /// MaxViT's block (`grid: false`) or grid attention over `qkv` tokens of an `h x w` map in `wh x ww`
    /// partitions (see [`Op::PartitionAttention`]).
    #[allow(clippy::too_many_arguments)]
    pub fn partition_attention(
        &mut self,
        name: &str,
        qkv: Id,
        heads: usize,
        (h, w): (usize, usize),
        (wh, ww): (usize, usize),
        grid: bool,
        mlp: bool,
    ) -> Result<Id> {
        let (n, d3) = self.tokens(name, qkv)?;
        let kind = if grid { "grid" } else { "window" };
        if n != h * w || wh == 0 || ww == 0 || !h.is_multiple_of(wh) || !w.is_multiple_of(ww) {
            return fail(format!("{name}: the {h}x{w} map here is not a whole number of {wh}x{ww} {kind} partitions"));
        }
        if d3 % 3 != 0 || (d3 / 3) % heads != 0 {
            return fail(format!("{name}: width {} does not split into {heads} heads", d3 / 3));
        }
        let op = Op::PartitionAttention { heads, h, w, wh, ww, grid, mlp };
        Ok(self.push(name, op, vec![qkv], Shape::Tokens { n, d: d3 / 3 }))
    }

    /// Swin V2's window attention over `qkv` tokens of an `h x w` (padded) map (see [`Op::SwinAttention`]).
    pub fn swin_attention(
        &mut self,
        name: &str,
        qkv: Id,
        heads: usize,
        (h, w): (usize, usize),
        (wh, ww): (usize, usize),
        (shift_h, shift_w): (usize, usize),
    ) -> Result<Id> {
        let (n, d3) = self.tokens(name, qkv)?;
        if n != h * w || wh == 0 || ww == 0 || !h.is_multiple_of(wh) || !w.is_multiple_of(ww) {
            return fail(format!("{name}: the {h}x{w} map here is not a whole number of {wh}x{ww} windows"));
        }
        if d3 % 3 != 0 || (d3 / 3) % heads != 0 {
            return fail(format!("{name}: width {} does not split into {heads} heads", d3 / 3));
        }
        if shift_h >= wh || shift_w >= ww {
            return fail(format!("{name}: a shift of {shift_h}x{shift_w} is not inside a {wh}x{ww} window"));
        }
        let op = Op::SwinAttention { heads, h, w, wh, ww, shift_h, shift_w };
        Ok(self.push(name, op, vec![qkv], Shape::Tokens { n, d: d3 / 3 }))
    }

    /// Swin's roll by (-shift) and zero padding of `h x w` tokens (see [`Op::ShiftPad`]).
    pub fn shift_pad(
        &mut self,
        name: &str,
        x: Id,
        (h, w): (usize, usize),
        shift: (usize, usize),
        pad: (usize, usize),
    ) -> Result<Id> {
        let (n, d) = self.tokens(name, x)?;
        if n != h * w {
            return fail(format!("{name}: {n} tokens are not a {h}x{w} map"));
        }
        let op = Op::ShiftPad { h, w, shift_h: shift.0, shift_w: shift.1, pad_h: pad.0, pad_w: pad.1 };
        Ok(self.push(name, op, vec![x], Shape::Tokens { n: (h + pad.0) * (w + pad.1), d }))
    }

    /// The inverse of [`Self::shift_pad`] with the same arguments.
    pub fn unshift_crop(
        &mut self,
        name: &str,
        x: Id,
        (h, w): (usize, usize),
        shift: (usize, usize),
        pad: (usize, usize),
    ) -> Result<Id> {
        let (n, d) = self.tokens(name, x)?;
        if n != (h + pad.0) * (w + pad.1) {
            return fail(format!("{name}: {n} tokens are not a padded {h}x{w} map"));
        }
        let op = Op::UnshiftCrop { h, w, shift_h: shift.0, shift_w: shift.1, pad_h: pad.0, pad_w: pad.1 };
        Ok(self.push(name, op, vec![x], Shape::Tokens { n: h * w, d }))
    }

    /// Swin's patch merging of `h x w` tokens (see [`Op::PatchMerge`]).
    pub fn patch_merge(&mut self, name: &str, x: Id, h: usize, w: usize) -> Result<Id> {
        let (n, d) = self.tokens(name, x)?;
        if n != h * w || !h.is_multiple_of(2) || !w.is_multiple_of(2) {
            return fail(format!("{name}: {n} tokens are not a {h}x{w} map of even sides"));
        }
        Ok(self.push(name, Op::PatchMerge { h, w }, vec![x], Shape::Tokens { n: n / 4, d: 4 * d }))
    }

    /// EdgeNeXt's Fourier position map for `x`'s size (see [`Op::FourierPosition`]).
    pub fn fourier_position(&mut self, name: &str, x: Id, hidden: usize) -> Result<Id> {
        let (_, h, w) = self.map(name, x)?;
        Ok(self.push(name, Op::FourierPosition { hidden }, vec![x], Shape::Map { c: 2 * hidden, h, w }))
    }

    /// Cross-covariance attention (see [`Op::XcaAttention`]) on fused `qkv` tokens.
    pub fn xca_attention(&mut self, name: &str, qkv: Id, heads: usize) -> Result<Id> {
        let (n, d3) = self.tokens(name, qkv)?;
        if d3 % 3 != 0 || (d3 / 3) % heads != 0 {
            return fail(format!("{name}: width {} does not split into {heads} heads", d3 / 3));
        }
        Ok(self.push(name, Op::XcaAttention { heads }, vec![qkv], Shape::Tokens { n, d: d3 / 3 }))
    }

    /// Sequencer2D's bidirectional LSTMs along the columns and rows of tokens laid out as an `h x w`
    /// map (see [`Op::Lstm2d`]).
    pub fn lstm2d(&mut self, name: &str, x: Id, hidden: usize, h: usize, w: usize) -> Result<Id> {
        let (n, _) = self.tokens(name, x)?;
        if n != h * w {
            return fail(format!("{name}: {n} tokens are not a {h}x{w} map"));
        }
        Ok(self.push(name, Op::Lstm2d { hidden, h, w }, vec![x], Shape::Tokens { n, d: 4 * hidden }))
    }

    pub fn scale(&mut self, name: &str, x: Id, factor: f64) -> Id {
        let shape = self.shape(x);
        self.push(name, Op::Scale { factor }, vec![x], shape)
    }

    pub fn scalar_gain(&mut self, name: &str, x: Id) -> Id {
        let shape = self.shape(x);
        self.push(name, Op::ScalarGain, vec![x], shape)
    }

    pub fn slice_channels(&mut self, name: &str, x: Id, start: usize, len: usize) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        if start + len > c {
            return fail(format!("{name}: channels {start}..{} out of {c}", start + len));
        }
        Ok(self.push(name, Op::SliceChannels { start, len }, vec![x], Shape::Map { c: len, h, w }))
    }

    /// Convolution, batch norm and (optionally) activation, named `{conv}`, `{bn}`.
    pub fn conv_bn_act(&mut self, conv_name: &str, bn_name: &str, x: Id, conv: Conv, act: Option<Act>) -> Result<Id> {
        let x = self.conv(conv_name, x, conv)?;
        let x = self.batch_norm(bn_name, x)?;
        Ok(match act {
            Some(act) => self.act(&format!("{bn_name}.act"), x, act),
            None => x,
        })
    }

    /// Constant padding by signed amounts, a negative one cropping (see [`Op::ConstantPad`]).
    pub fn constant_pad(&mut self, name: &str, x: Id, [top, bottom, left, right]: [i32; 4], value: f32) -> Result<Id> {
        let (c, h, w) = self.map(name, x)?;
        let size = |n: usize, a: i32, b: i32| {
            let n = n as i64;
            let fits = -(a.min(0) as i64) <= n && -(b.min(0) as i64) <= n && n + a as i64 + b as i64 >= 1;
            fits.then(|| (n + a as i64 + b as i64) as usize)
        };
        match (size(h, top, bottom), size(w, left, right)) {
            (Some(oh), Some(ow)) => {
                let op = Op::ConstantPad { top, bottom, left, right, value };
                Ok(self.push(name, op, vec![x], Shape::Map { c, h: oh, w: ow }))
            }
            _ => fail(format!("{name}: cannot pad the {h}x{w} feature map here by ({top}, {bottom}, {left}, {right})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_sizes_follow_pytorch() {
        assert_eq!(window_out(224, 7, 2, 3, 1, false), Some(112));
        assert_eq!(window_out(112, 3, 2, 1, 1, false), Some(56));
        assert_eq!(window_out(7, 2, 2, 0, 1, true), Some(4));
        assert_eq!(window_out(7, 2, 2, 0, 1, false), Some(3));
        assert_eq!(window_out(1, 3, 1, 0, 1, false), None);
        // ceil mode never starts a window in the right padding.
        assert_eq!(window_out(5, 3, 2, 1, 1, true), Some(3));
        // A ceil-mode window wider than the input still gives one output (ResNet-D's shortcut pool).
        assert_eq!(window_out(1, 2, 2, 0, 1, true), Some(1));
        assert_eq!(window_out(1, 2, 2, 0, 1, false), None);
    }

    #[test]
    fn too_small_inputs_say_so() {
        let (mut g, x) = GraphBuilder::new(3, 4, 4);
        let x = g.conv("a", x, Conv::new(8, 3, 2)).unwrap();
        let x = g.conv("b", x, Conv::new(8, 3, 2)).unwrap();
        let err = g.conv("c", x, Conv::new(8, 3, 1).padding(0)).unwrap_err();
        assert!(err.message.contains("c: a 3x3 convolution does not fit the 1x1 feature map"), "{err}");
    }
}
