//! timm's Vision Transformer (timm/models/vision_transformer.py): a patch-embedding convolution,
//! a class token, a learned position embedding sized for the input (as timm's
//! `create_model(..., img_size=S)`), pre-norm blocks of multi-head self-attention and a GELU MLP,
//! a final LayerNorm, class-token pooling and a linear head.
//!
//! MACs count the two attention matrix products (q kᵀ and attention x v), as fvcore does when timm's
//! fused attention is off (`timm.layers.set_fused_attn(False)`). With timm's default fused
//! `scaled_dot_product_attention`, fvcore skips that op as unsupported and counts 0 for it, so the
//! tests compare with fvcore's non-fused numbers.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result, ShapeError};
use crate::catalog::{Entry, Spec};

/// timm's LayerNorm epsilon for ViTs.
const EPS: f64 = 1e-6;

pub static ENTRIES: &[Entry] = &[Entry {
    name: "vit_tiny_patch16_224",
    family: "vit",
    kind: ModelKind::Transformer,
    efficient: false,
    paper: "https://arxiv.org/abs/2010.11929",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&TINY_PATCH16, spec),
}];

/// One ViT configuration (the model function's arguments; mlp_ratio is timm's default 4).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub patch_size: usize,
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
}

/// `vit_tiny_patch16_224`: patch 16, width 192, 12 blocks, 3 heads.
pub const TINY_PATCH16: Config = Config { patch_size: 16, embed_dim: 192, depth: 12, num_heads: 3 };

/// Checks that a patch embedding of `patch x patch` tiles the input exactly (timm's PatchEmbed
/// with `img_size` set asserts the grid; a strided convolution would silently drop pixels).
pub(crate) fn check_patches(spec: &Spec, patch: usize) -> Result<()> {
    if !spec.height.is_multiple_of(patch) || !spec.width.is_multiple_of(patch) {
        return Err(ShapeError {
            message: format!(
                "the input size {}x{} is not divisible by the {patch}x{patch} patch size",
                spec.height, spec.width
            ),
        });
    }
    Ok(())
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    check_patches(spec, config.patch_size)?;
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let p = config.patch_size;
    let x = g.conv("patch_embed.proj", x, Conv::new(config.embed_dim, p, p).padding(0).bias(true))?;
    let x = g.map_to_tokens("patch_embed.flatten", x)?;
    let x = g.class_token("cls_token", x)?;
    let mut x = g.position_embedding("pos_embed", x)?;
    for index in 0..config.depth {
        x = block(&mut g, &format!("blocks.{index}"), x, config)?;
    }
    let x = g.layer_norm("norm", x, EPS)?;
    let x = g.first_token("pool", x)?;
    g.linear("head", x, spec.classes, true)?;
    Ok(g.finish())
}

fn block(g: &mut GraphBuilder, name: &str, x: Id, config: &Config) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let dim = config.embed_dim;
    let y = g.layer_norm(&n("norm1"), x, EPS)?;
    let y = g.linear(&n("attn.qkv"), y, 3 * dim, true)?;
    let y = g.attention(&n("attn.core"), y, config.num_heads)?;
    let y = g.linear(&n("attn.proj"), y, dim, true)?;
    let x = g.add(&n("add1"), x, y)?;
    let y = g.layer_norm(&n("norm2"), x, EPS)?;
    let y = g.linear(&n("mlp.fc1"), y, 4 * dim, true)?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let y = g.linear(&n("mlp.fc2"), y, dim, true)?;
    g.add(&n("add2"), x, y)
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::tensor::Device;

    use super::*;
    use crate::catalog::families::convnext::checks::{assert_forward, assert_macs_match, implied_keys, timm_keys};
    use crate::catalog::net::Net;

    fn entry() -> &'static Entry {
        &ENTRIES[0]
    }

    #[test]
    fn state_dict_keys_match_timm() {
        let keys = implied_keys(&entry().graph(&Spec::imagenet(224)).unwrap());
        // timm 1.0.31: 152 state-dict keys, no buffers.
        assert_eq!(keys.len(), 152);
        for key in ["cls_token", "pos_embed", "patch_embed.proj.bias", "blocks.0.attn.qkv.weight"] {
            assert!(keys.contains(key), "{key}");
        }
        for key in ["blocks.11.mlp.fc2.bias", "norm.weight", "head.weight", "head.bias"] {
            assert!(keys.contains(key), "{key}");
        }
        if let Some(timm) = timm_keys("vit_tiny_patch16_224") {
            assert_eq!(keys, timm);
        }
    }

    #[test]
    fn params_match_timm() {
        // timm 1.0.31 (fixtures/timm/reference.json): params_1000x3 and params_7x1 at the default 224.
        for (spec, expected) in [(Spec::imagenet(224), 5_717_416), (Spec::new(1, 7, 224), 5_427_463)] {
            let graph = entry().graph(&spec).unwrap();
            assert_eq!(graph.params(), expected);
            assert_eq!(Net::new(graph, &Device::flex()).num_params() as u64, expected);
        }
        // The position embedding follows the input: 1 + (64 / 16)² tokens instead of 1 + 14².
        let graph = entry().graph(&Spec::imagenet(64)).unwrap();
        assert_eq!(graph.params(), 5_717_416 - (197 - 17) * 192);
    }

    #[test]
    fn macs_match_fvcore_without_fused_attention() {
        // fvcore totals for timm 1.0.31 with timm.layers.set_fused_attn(False), so that the
        // attention matrix products are counted (fixtures/timm/reference.json: flops_nonfused_attn,
        // built with img_size=S). With fused attention fvcore counts 0 for them.
        let cases = [
            (Spec::imagenet(224), 1_258_411_200u64),
            (Spec::imagenet(128), 375_705_024),
            (Spec::imagenet(64), 94_534_080),
            (Spec::imagenet(32), 27_559_104),
            (Spec::new(1, 7, 64), 92_770_560),
        ];
        for (spec, fvcore) in cases {
            assert_macs_match(entry(), spec, fvcore);
        }
    }

    #[test]
    fn sizes_not_divisible_by_the_patch_are_shape_errors() {
        let err = entry().graph(&Spec::imagenet(28)).unwrap_err();
        assert!(err.message.contains("not divisible by the 16x16 patch size"), "{err}");
        let spec = Spec { in_chans: 3, classes: 10, height: 32, width: 40 };
        assert!(entry().graph(&spec).is_err());
        assert!(entry().graph(&Spec::imagenet(16)).is_ok());
    }

    #[test]
    fn forward_gives_finite_logits() {
        assert_forward(entry(), Spec::new(1, 5, 32));
    }
}
