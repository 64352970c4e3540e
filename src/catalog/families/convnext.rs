//! timm's ConvNeXt family (timm/models/convnext.py), in its `conv_mlp=True` form: a 4x4 stride-4
//! "patch" stem with LayerNorm2d, four stages (the first without downsampling, the others opening
//! with LayerNorm2d and a 2x2 stride-2 convolution), blocks of 7x7 depthwise convolution (with bias),
//! LayerNorm2d, a 1x1-convolution MLP with GELU and layer scale `gamma`, added to the block input,
//! and timm's NormMlpClassifierHead (global average pool, LayerNorm2d, flatten, fc).

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

const CONVNEXT_PAPER: &str = "https://arxiv.org/abs/2201.03545";

/// timm's LayerNorm2d epsilon.
const EPS: f64 = 1e-6;

pub static ENTRIES: &[Entry] = &[
    Entry {
        name: "convnext_atto",
        family: "convnext",
        kind: ModelKind::Cnn,
        // model_names.csv: convnext_atto, CNN, efficient 0.
        efficient: false,
        paper: CONVNEXT_PAPER,
        default_size: 224,
        from_timm: true,
        build: |spec: &Spec| build(&ATTO, spec),
    },
    Entry {
        name: "convnext_tiny_hnf",
        family: "convnext",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: CONVNEXT_PAPER,
        default_size: 224,
        from_timm: true,
        build: |spec: &Spec| build(&TINY_HNF, spec),
    },
];

/// One ConvNeXt configuration (the `depths` and `dims` of timm's model functions).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub depths: [usize; 4],
    pub dims: [usize; 4],
    /// timm's `head_norm_first`: LayerNorm2d `norm_pre` on the map, then pool and `head.fc`.
    pub head_norm_first: bool,
}

/// `convnext_atto`: depths (2, 2, 6, 2), dims (40, 80, 160, 320), conv_mlp=True.
pub const ATTO: Config = Config { depths: [2, 2, 6, 2], dims: [40, 80, 160, 320], head_norm_first: false };

/// `convnext_tiny_hnf`: depths (3, 3, 9, 3), dims (96, 192, 384, 768), head norm first, conv_mlp=True.
pub const TINY_HNF: Config = Config { depths: [3, 3, 9, 3], dims: [96, 192, 384, 768], head_norm_first: true };

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let x = g.conv("stem.0", x, Conv::new(config.dims[0], 4, 4).padding(0).bias(true))?;
    let mut x = g.layer_norm("stem.1", x, EPS)?;
    for (stage, (&depth, &dim)) in config.depths.iter().zip(&config.dims).enumerate() {
        let name = format!("stages.{stage}");
        if stage > 0 {
            x = g.layer_norm(&format!("{name}.downsample.0"), x, EPS)?;
            x = g.conv(&format!("{name}.downsample.1"), x, Conv::new(dim, 2, 2).padding(0).bias(true))?;
        }
        for index in 0..depth {
            x = block(&mut g, &format!("{name}.blocks.{index}"), x)?;
        }
    }
    if config.head_norm_first {
        // norm_pre, then ClassifierHead: pool, flatten, fc.
        let x = g.layer_norm("norm_pre", x, EPS)?;
        g.classifier("head.fc", x, "head.global_pool.pool", spec.classes)?;
        return Ok(g.finish());
    }
    // NormMlpClassifierHead: pool, norm, flatten, (identity pre_logits), fc.
    let x = g.adaptive_avg_pool("head.global_pool.pool", x, 1, 1)?;
    let x = g.layer_norm("head.norm", x, EPS)?;
    let x = g.flatten("head.flatten", x)?;
    g.linear("head.fc", x, spec.classes, true)?;
    Ok(g.finish())
}

fn block(g: &mut GraphBuilder, name: &str, x: Id) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let dim = g.channels(x);
    let y = g.conv(&n("conv_dw"), x, Conv::new(dim, 7, 1).groups(dim).bias(true))?;
    let y = g.layer_norm(&n("norm"), y, EPS)?;
    let y = g.conv(&n("mlp.fc1"), y, Conv::new(4 * dim, 1, 1).bias(true))?;
    let y = g.act(&n("mlp.act"), y, Act::Gelu);
    let y = g.conv(&n("mlp.fc2"), y, Conv::new(dim, 1, 1).bias(true))?;
    let y = g.layer_scale(&n("gamma"), y);
    g.add(&n("add"), y, x)
}

/// Checks shared by the convnext, vit and mixer tests.
#[cfg(test)]
pub(crate) mod checks {
    use std::collections::BTreeSet;

    use burn::tensor::{Device, Distribution, Tensor};

    use crate::catalog::graph::Graph;
    use crate::catalog::net::Net;
    use crate::catalog::{Entry, Spec};

    /// The state-dict key names the graph implies ([`Graph::state_dict`]).
    pub fn implied_keys(graph: &Graph) -> BTreeSet<String> {
        graph.state_dict().into_iter().map(|(key, _)| key).collect()
    }

    /// timm's state-dict keys less BatchNorm buffers, from the reference dump where this machine
    /// has it (`fixtures/timm/keys/NAME.txt`, written by timm 1.0.31).
    pub fn timm_keys(model: &str) -> Option<BTreeSet<String>> {
        let text =
            std::fs::read_to_string(format!("{}/fixtures/timm/keys/{model}.txt", env!("CARGO_MANIFEST_DIR"))).ok()?;
        let buffer = |k: &str| ["running_mean", "running_var", "num_batches_tracked"].iter().any(|b| k.ends_with(b));
        Some(
            text.lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|k| !buffer(k))
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Asserts the MACs equal fvcore's total (the brief allows 0.5%; these families match exactly).
    pub fn assert_macs_match(entry: &Entry, spec: Spec, fvcore: u64) {
        let macs = crate::catalog::count::total_macs(&entry.graph(&spec).unwrap());
        assert_eq!(macs, fvcore, "{} {spec:?}: our MACs vs fvcore's", entry.name);
    }

    /// Runs a burn forward pass on a batch of two random images and checks the logits.
    pub fn assert_forward(entry: &Entry, spec: Spec) {
        let device = Device::flex();
        let net = Net::new(entry.graph(&spec).unwrap(), &device);
        let shape = [2, spec.in_chans, spec.height, spec.width];
        let logits = net.forward(Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device));
        assert_eq!(logits.dims(), [2, spec.classes]);
        let values = logits.into_data().try_to_vec::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{}: {values:?}", entry.name);
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::tensor::Device;

    use super::checks::{assert_forward, assert_macs_match, implied_keys, timm_keys};
    use super::*;
    use crate::catalog::net::Net;

    fn entry() -> &'static Entry {
        &ENTRIES[0]
    }

    #[test]
    fn state_dict_keys_match_timm() {
        let keys = implied_keys(&entry().graph(&Spec::imagenet(224)).unwrap());
        // timm 1.0.31: 128 state-dict keys, no buffers.
        assert_eq!(keys.len(), 128);
        for key in ["stem.0.bias", "stem.1.weight", "stages.0.blocks.0.gamma", "stages.3.downsample.1.weight"] {
            assert!(keys.contains(key), "{key}");
        }
        for key in ["stages.2.blocks.5.mlp.fc2.bias", "head.norm.bias", "head.fc.weight"] {
            assert!(keys.contains(key), "{key}");
        }
        if let Some(timm) = timm_keys("convnext_atto") {
            assert_eq!(keys, timm);
        }
    }

    #[test]
    fn params_match_timm() {
        // timm 1.0.31 (fixtures/timm/reference.json): params_1000x3 and params_7x1.
        for (spec, expected) in [(Spec::imagenet(224), 3_695_520), (Spec::new(1, 7, 224), 3_375_487)] {
            let graph = entry().graph(&spec).unwrap();
            assert_eq!(graph.params(), expected);
            assert_eq!(Net::new(graph, &Device::flex()).num_params() as u64, expected);
        }
    }

    #[test]
    fn macs_match_fvcore() {
        // fvcore totals for timm 1.0.31 (fixtures/timm/reference.json: flops[S].total with 3 channels
        // and 1000 classes, then flops_64_c1_nc7).
        let cases = [
            (Spec::imagenet(224), 552_053_760u64),
            (Spec::imagenet(128), 180_479_040),
            (Spec::imagenet(64), 45_360_960),
            (Spec::imagenet(32), 11_581_440),
            (Spec::new(1, 7, 64), 44_715_520),
        ];
        for (spec, fvcore) in cases {
            assert_macs_match(entry(), spec, fvcore);
        }
    }

    #[test]
    fn too_small_inputs_are_shape_errors() {
        // timm fails at 28 too: the last downsample's 2x2 convolution meets a 1x1 map.
        let err = entry().graph(&Spec::imagenet(28)).unwrap_err();
        assert!(err.message.contains("stages.3.downsample.1"), "{err}");
    }

    #[test]
    fn forward_gives_finite_logits() {
        assert_forward(entry(), Spec::new(1, 5, 32));
    }
}
