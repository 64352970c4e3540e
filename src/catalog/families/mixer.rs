//! timm's MLP-Mixer (timm/models/mlp_mixer.py): a patch-embedding convolution, blocks that mix
//! across tokens (LayerNorm, transpose, a GELU MLP over the token dimension, transpose back, residual)
//! then across channels (LayerNorm, GELU MLP, residual), a final LayerNorm, the mean over tokens and
//! a linear head. The token MLP's width follows the input, as timm's `create_model(..., img_size=S)`.

use crate::catalog::ModelKind;
use crate::catalog::families::vit::check_patches;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

/// timm's LayerNorm epsilon for Mixers.
const EPS: f64 = 1e-6;

pub static ENTRIES: &[Entry] = &[Entry {
    name: "mixer_s16_224",
    family: "mlp-mixer",
    kind: ModelKind::Mlp,
    efficient: false,
    paper: "https://arxiv.org/abs/2105.01601",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&S16, spec),
}];

/// One Mixer configuration (mlp_ratio is timm's default (0.5, 4.0)).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub patch_size: usize,
    pub num_blocks: usize,
    pub embed_dim: usize,
}

/// `mixer_s16_224`: patch 16, 8 blocks, width 512.
pub const S16: Config = Config { patch_size: 16, num_blocks: 8, embed_dim: 512 };

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    check_patches(spec, config.patch_size)?;
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let p = config.patch_size;
    let x = g.conv("stem.proj", x, Conv::new(config.embed_dim, p, p).padding(0).bias(true))?;
    let mut x = g.map_to_tokens("stem.flatten", x)?;
    for index in 0..config.num_blocks {
        x = block(&mut g, &format!("blocks.{index}"), x)?;
    }
    let x = g.layer_norm("norm", x, EPS)?;
    let x = g.token_mean("pool", x)?;
    g.linear("head", x, spec.classes, true)?;
    Ok(g.finish())
}

fn block(g: &mut GraphBuilder, name: &str, x: Id) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let dim = g.channels(x);
    // mlp_ratio (0.5, 4.0): int(0.5 * dim) hidden units over tokens, int(4.0 * dim) over channels.
    let (tokens_dim, channels_dim) = (dim / 2, 4 * dim);
    let y = g.layer_norm(&n("norm1"), x, EPS)?;
    let y = g.transpose_tokens(&n("mlp_tokens.transpose_in"), y)?;
    let seq_len = g.channels(y);
    let y = g.linear(&n("mlp_tokens.fc1"), y, tokens_dim, true)?;
    let y = g.act(&n("mlp_tokens.act"), y, Act::Gelu);
    let y = g.linear(&n("mlp_tokens.fc2"), y, seq_len, true)?;
    let y = g.transpose_tokens(&n("mlp_tokens.transpose_out"), y)?;
    let x = g.add(&n("add1"), x, y)?;
    let y = g.layer_norm(&n("norm2"), x, EPS)?;
    let y = g.linear(&n("mlp_channels.fc1"), y, channels_dim, true)?;
    let y = g.act(&n("mlp_channels.act"), y, Act::Gelu);
    let y = g.linear(&n("mlp_channels.fc2"), y, dim, true)?;
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
        // timm 1.0.31: 102 state-dict keys, no buffers.
        assert_eq!(keys.len(), 102);
        for key in ["stem.proj.weight", "blocks.0.mlp_tokens.fc1.weight", "blocks.7.mlp_channels.fc2.bias"] {
            assert!(keys.contains(key), "{key}");
        }
        for key in ["norm.bias", "head.weight", "head.bias"] {
            assert!(keys.contains(key), "{key}");
        }
        if let Some(timm) = timm_keys("mixer_s16_224") {
            assert_eq!(keys, timm);
        }
    }

    #[test]
    fn params_match_timm() {
        // timm 1.0.31 (fixtures/timm/reference.json): params_1000x3 and params_7x1 at the default 224.
        for (spec, expected) in [(Spec::imagenet(224), 18_528_264), (Spec::new(1, 7, 224), 17_756_711)] {
            let graph = entry().graph(&spec).unwrap();
            assert_eq!(graph.params(), expected);
            assert_eq!(Net::new(graph, &Device::flex()).num_params() as u64, expected);
        }
    }

    #[test]
    fn macs_match_fvcore() {
        // fvcore totals for timm 1.0.31 built with img_size=S (fixtures/timm/reference.json:
        // flops[S].total with 3 channels and 1000 classes, then flops_64_c1_nc7).
        let cases = [
            (Spec::imagenet(224), 3_785_488_384u64),
            (Spec::imagenet(128), 1_236_422_656),
            (Spec::imagenet(64), 309_489_664),
            (Spec::imagenet(32), 77_756_416),
            (Spec::new(1, 7, 64), 304_786_944),
        ];
        for (spec, fvcore) in cases {
            assert_macs_match(entry(), spec, fvcore);
        }
    }

    #[test]
    fn sizes_not_divisible_by_the_patch_are_shape_errors() {
        let err = entry().graph(&Spec::imagenet(28)).unwrap_err();
        assert!(err.message.contains("not divisible by the 16x16 patch size"), "{err}");
        assert!(entry().graph(&Spec::imagenet(16)).is_ok());
    }

    #[test]
    fn forward_gives_finite_logits() {
        assert_forward(entry(), Spec::new(1, 5, 32));
    }
}
