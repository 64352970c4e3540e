//! timm's Swin Transformer V2 (timm/models/swin_transformer_v2.py, issue 15): a 4x4 patch embedding
//! with LayerNorm, then four stages (the last three open with patch merging: each 2x2 square's tokens
//! side by side, a bias-free linear to twice the width, LayerNorm) of blocks with window attention,
//! every second block's windows shifted by half a window (a cyclic roll, with a mask across the seams).
//! V2's attention is cosine attention with a learned per-head logit scale and a continuous position
//! bias from an MLP over log-spaced relative coordinates; its blocks normalise the residual branch after
//! it ("res-post-norm"). A LayerNorm, the mean over tokens and a linear head close the network.
//!
//! A stage whose map is no larger than the window (8) uses the whole map as its window and does not
//! shift; a map that is not a whole number of windows is padded with zeros at the bottom and right
//! (after the roll), as timm does. The network is built for its input size (timm's `img_size`) and
//! takes sides that are multiples of 32 (so every patch merging halves an even map).
//!
//! MACs count the attention matrix products within each (padded) window, the qkv and projection
//! linears on the padded map, and the position bias MLP once per block, as fvcore does with timm's fused
//! attention off.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result, ShapeError};
use crate::catalog::{Entry, Spec};

pub static ENTRIES: &[Entry] = &[Entry {
    name: "swinv2_base_window8_256",
    family: "swinv2",
    kind: ModelKind::Other,
    efficient: false,
    paper: "https://arxiv.org/abs/2111.09883",
    default_size: 256,
    from_timm: true,
    build: |spec: &Spec| build(&BASE_WINDOW8, spec),
}];

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub embed_dim: usize,
    pub depths: [usize; 4],
    pub heads: [usize; 4],
    pub window: usize,
}

/// `swinv2_base_window8_256`: width 128 (doubling per stage), depths 2, 2, 18, 2, heads 4, 8, 16, 32,
/// windows of 8.
pub const BASE_WINDOW8: Config = Config { embed_dim: 128, depths: [2, 2, 18, 2], heads: [4, 8, 16, 32], window: 8 };

/// nn.LayerNorm's default epsilon (timm's Swin V2 uses it throughout).
const EPS: f64 = 1e-5;

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    if !spec.height.is_multiple_of(32) || !spec.width.is_multiple_of(32) {
        return Err(ShapeError {
            message: format!(
                "its windows are built for the input size (timm's img_size) and it takes sides that are multiples of 32, not {}x{}",
                spec.height, spec.width
            ),
        });
    }
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let dim = config.embed_dim;
    let x = g.conv("patch_embed.proj", x, Conv::new(dim, 4, 4).padding(0).bias(true))?;
    let (mut h, mut w) = g.spatial(x);
    let x = g.map_to_tokens("patch_embed.flatten", x)?;
    let mut x = g.layer_norm("patch_embed.norm", x, EPS)?;
    for s in 0..4 {
        let dim = config.embed_dim << s;
        if s > 0 {
            let name = format!("layers.{s}.downsample");
            let y = g.patch_merge(&format!("{name}.merge"), x, h, w)?;
            let y = g.linear(&format!("{name}.reduction"), y, dim, false)?;
            x = g.layer_norm(&format!("{name}.norm"), y, EPS)?;
            (h, w) = (h / 2, w / 2);
        }
        for b in 0..config.depths[s] {
            x = block(&mut g, &format!("layers.{s}.blocks.{b}"), x, config, s, (h, w), b % 2 == 1)?;
        }
    }
    let x = g.layer_norm("norm", x, EPS)?;
    let x = g.token_mean("head.global_pool", x)?;
    g.linear("head.fc", x, spec.classes, true)?;
    Ok(g.finish())
}

/// SwinTransformerV2Block: x + norm1(attention(x)), then x + norm2(mlp(x)).
fn block(
    g: &mut GraphBuilder,
    name: &str,
    x: Id,
    config: &Config,
    s: usize,
    (h, w): (usize, usize),
    shifted: bool,
) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let dim = g.channels(x);
    // timm's _calc_window_shift: a map no larger than the window is one window, never shifted.
    let (wh, ww) = (h.min(config.window), w.min(config.window));
    let shift_of = |side: usize, win: usize| if shifted && side > win { config.window / 2 } else { 0 };
    let shift = (shift_of(h, wh), shift_of(w, ww));
    let pad = ((wh - h % wh) % wh, (ww - w % ww) % ww);
    let moved = shift != (0, 0) || pad != (0, 0);
    let y = if moved { g.shift_pad(&n("attn.shift"), x, (h, w), shift, pad)? } else { x };
    let y = g.linear(&n("attn.qkv"), y, 3 * dim, false)?;
    let y = g.swin_attention(&n("attn"), y, config.heads[s], (h + pad.0, w + pad.1), (wh, ww), shift)?;
    let y = g.linear(&n("attn.proj"), y, dim, true)?;
    let y = if moved { g.unshift_crop(&n("attn.unshift"), y, (h, w), shift, pad)? } else { y };
    let y = g.layer_norm(&n("norm1"), y, EPS)?;
    let x = g.add(&n("add1"), x, y)?;
    let y = g.linear(&n("mlp.fc1"), x, 4 * dim, true)?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let y = g.linear(&n("mlp.fc2"), y, dim, true)?;
    let y = g.layer_norm(&n("norm2"), y, EPS)?;
    g.add(&n("add2"), x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::count::total_macs;
    use crate::catalog::graph::Op;

    #[test]
    fn windows_shift_pad_and_shrink_as_timms() {
        let graph = ENTRIES[0].graph(&Spec::new(1, 7, 160)).unwrap();
        let attn = |name: &str| graph.nodes.iter().find(|n| n.name == name).unwrap().op.clone();
        // 160: maps of 40, 20, 10, 5; 20 and 10 are padded to 24 and 16, 5 is one unshifted window.
        assert_eq!(
            attn("layers.1.blocks.1.attn"),
            Op::SwinAttention { heads: 8, h: 24, w: 24, wh: 8, ww: 8, shift_h: 4, shift_w: 4 }
        );
        assert_eq!(
            attn("layers.2.blocks.0.attn"),
            Op::SwinAttention { heads: 16, h: 16, w: 16, wh: 8, ww: 8, shift_h: 0, shift_w: 0 }
        );
        assert_eq!(
            attn("layers.3.blocks.1.attn"),
            Op::SwinAttention { heads: 32, h: 5, w: 5, wh: 5, ww: 5, shift_h: 0, shift_w: 0 }
        );
        // fvcore 0.1.5 on timm 1.0.31 (img_size=160, fused attention off), fixtures/timm/reference_zoo.json.
        assert_eq!(total_macs(&graph), 11_203_472_384);
        let err = ENTRIES[0].graph(&Spec::imagenet(250)).unwrap_err();
        assert!(err.message.contains("multiples of 32, not 250x250"), "{err}");
    }
}
