//! timm's EdgeNeXt (timm/models/edgenext.py): a 4x4 stride-4 patch stem, then four stages (the last
//! three opened by a LayerNorm2d and a 2x2 stride-2 convolution) of ConvNeXt-like conv encoder
//! blocks (a depthwise `k x k` convolution, a channels-last LayerNorm, a 4x GELU MLP, a layer scale,
//! a shortcut) closed, in stages 2-4, by one split depth-wise transpose attention block: the
//! channels are cut into `s` chunks, the first `s - 1` run through depthwise 3x3 convolutions in a
//! cascade (each adds the previous output), then the map's tokens (plus, in stage 2, a projected
//! Fourier position map) go through cross-covariance attention (attention across channels, not
//! positions) and an MLP, each with a layer scale. The head pools, normalises (LayerNorm2d) and
//! classifies.
//!
//! MACs: cross-covariance attention's two products, 2 x tokens x width x head width (fvcore counts
//! its matmuls; timm has no fused kernel for it); the position map's sines and cosines are free.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

pub static ENTRIES: &[Entry] = &[Entry {
    name: "edgenext_base",
    family: "edgenext",
    kind: ModelKind::Other,
    efficient: true,
    paper: "https://arxiv.org/abs/2206.10589",
    default_size: 256,
    from_timm: true,
    build: |spec: &Spec| build(&EDGENEXT_BASE, spec),
}];

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub depths: [usize; 4],
    pub dims: [usize; 4],
    /// Attention blocks closing each stage (`global_block_counts`).
    pub global_blocks: [usize; 4],
    pub kernels: [usize; 4],
    pub heads: [usize; 4],
    /// Channel chunks of the split blocks (`d2_scales`).
    pub scales: [usize; 4],
    pub pos_emb: [bool; 4],
}

/// `edgenext_base`: depths 3, 3, 9, 3, widths 80, 160, 288, 584, and timm's defaults for the rest.
pub const EDGENEXT_BASE: Config = Config {
    depths: [3, 3, 9, 3],
    dims: [80, 160, 288, 584],
    global_blocks: [0, 1, 1, 1],
    kernels: [3, 5, 7, 9],
    heads: [8, 8, 8, 8],
    scales: [2, 2, 3, 4],
    pos_emb: [false, true, false, false],
};

/// Every norm's eps (`LayerNorm2d` and `nn.LayerNorm` with eps=1e-6).
const EPS: f64 = 1e-6;
/// PositionalEncodingFourier's `hidden_dim`.
const FOURIER_HIDDEN: usize = 32;

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let x = g.conv("stem.0", x, Conv::new(config.dims[0], 4, 4).padding(0).bias(true))?;
    let mut x = g.layer_norm("stem.1", x, EPS)?;
    for s in 0..4 {
        let dim = config.dims[s];
        if s > 0 {
            let y = g.layer_norm(&format!("stages.{s}.downsample.0"), x, EPS)?;
            x = g.conv(&format!("stages.{s}.downsample.1"), y, Conv::new(dim, 2, 2).padding(0).bias(true))?;
        }
        let depth = config.depths[s];
        for b in 0..depth {
            let name = format!("stages.{s}.blocks.{b}");
            x = if b < depth - config.global_blocks[s] {
                conv_block(&mut g, &name, x, dim, config.kernels[s])?
            } else {
                split_transpose_block(&mut g, &name, x, dim, config, s)?
            };
        }
    }
    let x = g.adaptive_avg_pool("head.global_pool", x, 1, 1)?;
    let x = g.layer_norm("head.norm", x, EPS)?;
    let x = g.flatten("head.flatten", x)?;
    g.linear("head.fc", x, spec.classes, true)?;
    Ok(g.finish())
}

/// The channels-last half every block ends with: LayerNorm, fc1 (4x), GELU, fc2, layer scale `gamma`.
fn mlp(g: &mut GraphBuilder, name: &str, t: Id, dim: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let y = g.layer_norm(&n("norm"), t, EPS)?;
    let y = g.linear(&n("mlp.fc1"), y, 4 * dim, true)?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let y = g.linear(&n("mlp.fc2"), y, dim, true)?;
    Ok(g.layer_scale(&n("gamma"), y))
}

/// ConvBlock (stride 1, same width: the shortcut is the block's input).
fn conv_block(g: &mut GraphBuilder, name: &str, x: Id, dim: usize, kernel: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let (h, w) = g.spatial(x);
    let y = g.conv(&n("conv_dw"), x, Conv::new(dim, kernel, 1).groups(dim).bias(true))?;
    let t = g.map_to_tokens(&n("to_tokens"), y)?;
    let t = mlp(g, name, t, dim)?;
    let y = g.tokens_to_map(&n("to_map"), t, h, w)?;
    g.add(&n("add"), x, y)
}

/// SplitTransposeBlock: cascaded depthwise convolutions over channel chunks, then XCA and the MLP.
fn split_transpose_block(g: &mut GraphBuilder, name: &str, x: Id, dim: usize, config: &Config, s: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let (h, w) = g.spatial(x);
    // torch.chunk into `scales` pieces of ceil(dim / scales) channels (the last may be smaller).
    let chunks = config.scales[s].max(2);
    let width = dim.div_ceil(chunks);
    let slices: Vec<Id> = (0..chunks)
        .map(|i| {
            let start = (i * width).min(dim);
            g.slice_channels(&n(&format!("chunk{i}")), x, start, width.min(dim - start))
        })
        .collect::<Result<_>>()?;
    let mut outs = Vec::with_capacity(chunks);
    let mut sp = slices[0];
    for (i, &chunk) in slices.iter().enumerate().take(chunks - 1) {
        if i > 0 {
            sp = g.add(&n(&format!("convs.{i}.add")), sp, chunk)?;
        }
        sp = g.conv(&n(&format!("convs.{i}")), sp, Conv::new(width, 3, 1).groups(width).bias(true))?;
        outs.push(sp);
    }
    outs.push(slices[chunks - 1]);
    let m = g.concat(&n("cat"), &outs)?;
    let mut t = g.map_to_tokens(&n("to_tokens"), m)?;
    if config.pos_emb[s] {
        let p = g.fourier_position(&n("pos_embd"), m, FOURIER_HIDDEN)?;
        let p = g.conv(&n("pos_embd.token_projection"), p, Conv::new(dim, 1, 1).bias(true))?;
        let p = g.map_to_tokens(&n("pos_embd.flatten"), p)?;
        t = g.add(&n("pos_embd.add"), t, p)?;
    }
    let y = g.layer_norm(&n("norm_xca"), t, EPS)?;
    let y = g.linear(&n("xca.qkv"), y, 3 * dim, true)?;
    let y = g.xca_attention(&n("xca"), y, config.heads[s])?;
    let y = g.linear(&n("xca.proj"), y, dim, true)?;
    let y = g.layer_scale(&n("gamma_xca"), y);
    let t = g.add(&n("add_xca"), t, y)?;
    let t = mlp(g, name, t, dim)?;
    let y = g.tokens_to_map(&n("to_map"), t, h, w)?;
    g.add(&n("add"), x, y)
}
