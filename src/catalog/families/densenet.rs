//! timm's DenseNet family (timm/models/densenet.py), DenseNet-BC: a 7x7 stride-2 stem with batch
//! norm + ReLU and a 3x3 max pool, dense blocks whose layers each see the concatenation of every
//! earlier feature map (batch norm + ReLU, 1x1 conv to `bn_size x growth`, batch norm + ReLU,
//! 3x3 conv to `growth`), transitions (batch norm + ReLU, 1x1 conv halving the channels, 2x2
//! average pool), a final `norm5` with ReLU, then global average pooling and a linear classifier.
//!
//! timm concatenates all earlier outputs afresh in every layer; here each layer appends its output
//! to a running concatenation, which is the same tensor (concatenation costs nothing in fvcore).

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/1608.06993";

/// One DenseNet configuration (the arguments of timm's `_create_densenet`).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub growth_rate: usize,
    pub block_config: &'static [usize],
    pub bn_size: usize,
    /// timm's `stem_type='deep'`: three 3x3 convolutions (growth, growth, 2 x growth) for the 7x7.
    pub deep_stem: bool,
    /// timm's `aa_layer=BlurPool2d` (stem only): a stride-1 max pool then blur pooling.
    pub blur: bool,
}

const fn densenet(growth_rate: usize, block_config: &'static [usize]) -> Config {
    Config { growth_rate, block_config, bn_size: 4, deep_stem: false, blur: false }
}

macro_rules! densenet {
    ($name:literal, $config:expr) => {
        Entry {
            name: $name,
            family: "densenet",
            kind: ModelKind::Cnn,
            efficient: false,
            paper: PAPER,
            default_size: 224,
            from_timm: true,
            build: |spec: &Spec| build(&$config, spec),
        }
    };
}

pub static ENTRIES: &[Entry] = &[
    densenet!("densenet121", densenet(32, &[6, 12, 24, 16])),
    densenet!("densenet169", densenet(32, &[6, 12, 32, 32])),
    densenet!("densenetblur121d", Config { deep_stem: true, blur: true, ..densenet(32, &[6, 12, 24, 16]) }),
    densenet!("densenet201", densenet(32, &[6, 12, 48, 32])),
    densenet!("densenet161", densenet(48, &[6, 12, 36, 24])),
];

/// timm's BatchNormAct2d: batch norm then ReLU, both under the norm's name.
fn norm_act(g: &mut GraphBuilder, name: &str, x: Id) -> Result<Id> {
    let x = g.batch_norm(name, x)?;
    Ok(g.act(&format!("{name}.act"), x, Act::Relu))
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let init_features = 2 * config.growth_rate;
    let x = if config.deep_stem {
        let growth = config.growth_rate;
        let x = g.conv("features.conv0", x, Conv::new(growth, 3, 2))?;
        let x = norm_act(&mut g, "features.norm0", x)?;
        let x = g.conv("features.conv1", x, Conv::new(growth, 3, 1))?;
        let x = norm_act(&mut g, "features.norm1", x)?;
        let x = g.conv("features.conv2", x, Conv::new(init_features, 3, 1))?;
        norm_act(&mut g, "features.norm2", x)?
    } else {
        let x = g.conv("features.conv0", x, Conv::new(init_features, 7, 2))?;
        norm_act(&mut g, "features.norm0", x)?
    };
    let mut x = if config.blur {
        let x = g.max_pool("features.pool0.0", x, Pool::new(3, 1, 1))?;
        g.blur_pool("features.pool0.1", x, 2)?
    } else {
        g.max_pool("features.pool0", x, Pool::new(3, 2, 1))?
    };

    let blocks = config.block_config.len();
    for (i, &layers) in config.block_config.iter().enumerate() {
        let block = format!("features.denseblock{}", i + 1);
        for l in 1..=layers {
            let n = |part: &str| format!("{block}.denselayer{l}.{part}");
            let y = norm_act(&mut g, &n("norm1"), x)?;
            let y = g.conv(&n("conv1"), y, Conv::new(config.bn_size * config.growth_rate, 1, 1))?;
            let y = norm_act(&mut g, &n("norm2"), y)?;
            let y = g.conv(&n("conv2"), y, Conv::new(config.growth_rate, 3, 1))?;
            x = g.concat(&n("cat"), &[x, y])?;
        }
        if i + 1 < blocks {
            let n = |part: &str| format!("features.transition{}.{part}", i + 1);
            let out = g.channels(x) / 2;
            let y = norm_act(&mut g, &n("norm"), x)?;
            let y = g.conv(&n("conv"), y, Conv::new(out, 1, 1))?;
            x = g.avg_pool(&n("pool"), y, Pool::new(2, 2, 0))?;
        }
    }
    let x = norm_act(&mut g, "features.norm5", x)?;
    g.classifier("classifier", x, "global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

/// Checks shared by the dense, DLA and VGG families' tests: timm's state-dict keys and shapes,
/// parameter counts (graph and burn module), fvcore MACs, failures, and a small forward pass.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeSet;

    use burn::module::Module;
    use burn::tensor::{Device, Distribution, Tensor};

    use crate::catalog::count::total_macs;
    use crate::catalog::graph::Graph;
    use crate::catalog::net::{Layer, Net};
    use crate::catalog::{Entry, Spec};

    /// The parameter keys and shapes the graph implies ([`Graph::state_dict`]), as `key [d1, d2]`.
    pub fn param_keys(graph: &Graph) -> BTreeSet<String> {
        graph.state_dict().into_iter().map(|(key, shape)| format!("{key} {shape:?}")).collect()
    }

    /// Compares with timm's state-dict keys file from the reference run (timm 1.0.31), minus batch
    /// norm buffers, when that file is on this machine; the key count is checked regardless.
    pub fn check_keys(entry: &Entry, expected_count: usize) {
        let graph = entry.graph(&Spec::imagenet(224)).unwrap();
        let ours = param_keys(&graph);
        assert_eq!(ours.len(), expected_count, "{}: number of parameter keys", entry.name);
        let path = format!("{}/fixtures/timm/keys/{}.txt", env!("CARGO_MANIFEST_DIR"), entry.name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("{path} not found: key names checked by count only");
            return;
        };
        let timm: BTreeSet<String> = text
            .lines()
            .filter(|l| !l.is_empty())
            .filter(|l| !["running_mean ", "running_var ", "num_batches_tracked "].iter().any(|b| l.contains(b)))
            .map(str::to_owned)
            .collect();
        let missing: Vec<_> = timm.difference(&ours).collect();
        let extra: Vec<_> = ours.difference(&timm).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{}: missing {missing:?}, extra {extra:?}", entry.name);
    }

    /// The burn module's trainable parameters. burn's `num_params` also counts batch norm's running
    /// mean and variance (they are `RunningState`s, visited like parameters), which timm counts as
    /// buffers, so batch norm layers count only their `gamma` and `beta` here.
    pub fn trainable_params(net: &Net) -> u64 {
        let count = |layer: &Layer| match layer {
            Layer::BatchNorm(bn) => bn.gamma.num_params() + bn.beta.num_params(),
            other => other.num_params(),
        };
        net.layers.iter().map(count).sum::<usize>() as u64
    }

    /// Parameters for 1000 classes x 3 channels and 7 classes x 1 channel, from the graph and from
    /// the burn module.
    pub fn check_params(entry: &Entry, params_1000x3: u64, params_7x1: u64) {
        for (spec, expected) in [(Spec::new(3, 1000, 224), params_1000x3), (Spec::new(1, 7, 224), params_7x1)] {
            let graph = entry.graph(&spec).unwrap();
            assert_eq!(graph.params(), expected, "{} graph params at {spec:?}", entry.name);
            let net = Net::new(graph, &Device::flex());
            assert_eq!(trainable_params(&net), expected, "{} module params at {spec:?}", entry.name);
        }
    }

    /// fvcore's totals at 224, 128, 64, 32 and 28 (None where timm fails: ours must fail too).
    pub fn check_macs(entry: &Entry, expected: [(usize, Option<u64>); 5]) {
        for (size, expected) in expected {
            let built = entry.graph(&Spec::imagenet(size));
            match (built, expected) {
                (Ok(graph), Some(macs)) => {
                    let ours = total_macs(&graph);
                    let error = (ours as f64 - macs as f64).abs() / macs as f64;
                    assert!(error < 0.005, "{} at {size}: {ours} MACs, fvcore {macs}", entry.name);
                    assert_eq!(ours, macs, "{} at {size}", entry.name);
                }
                (Err(e), None) => assert!(!e.message.is_empty()),
                (Ok(_), None) => panic!("{} builds at {size}, where timm fails", entry.name),
                (Err(e), Some(_)) => panic!("{} fails at {size}, where timm works: {e}", entry.name),
            }
        }
    }

    /// Logits `[2, classes]`, finite, for a small random input.
    pub fn check_forward(entry: &Entry, spec: Spec) {
        let device = Device::flex();
        let net = Net::new(entry.graph(&spec).unwrap(), &device);
        let images =
            Tensor::<4>::random([2, spec.in_chans, spec.height, spec.width], Distribution::Normal(0.0, 1.0), &device);
        let logits = net.forward(images);
        assert_eq!(logits.dims(), [2, spec.classes], "{}", entry.name);
        let finite: Vec<bool> = logits.is_finite().into_data().try_to_vec::<bool>().unwrap();
        assert!(finite.iter().all(|&f| f), "{}: non-finite logits", entry.name);
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    fn entry(name: &str) -> &'static Entry {
        ENTRIES.iter().find(|e| e.name == name).unwrap()
    }

    // Expected numbers: timm 1.0.31 + fvcore (fixtures/timm/reference.json); key counts are the
    // state-dict keys minus batch norm buffers.

    #[test]
    fn densenet121_matches_timm() {
        let e = entry("densenet121");
        check_keys(e, 364);
        check_params(e, 7_978_856, 6_954_759);
        check_macs(
            e,
            [
                (224, Some(2_865_546_752)),
                (128, Some(936_378_368)),
                (64, Some(234_862_592)),
                (32, Some(59_483_648)),
                (28, None),
            ],
        );
        // fvcore at 64x64, 1 channel, 7 classes.
        assert_eq!(crate::catalog::count::total_macs(&e.graph(&Spec::new(1, 7, 64)).unwrap()), 227_423_232);
    }

    #[test]
    fn densenet169_matches_timm() {
        let e = entry("densenet169");
        check_keys(e, 508);
        check_params(e, 14_149_480, 12_489_863);
        check_macs(
            e,
            [
                (224, Some(3_397_970_816)),
                (128, Some(1_110_662_144)),
                (64, Some(278_913_536)),
                (32, Some(70_976_384)),
                (28, None),
            ],
        );
        assert_eq!(crate::catalog::count::total_macs(&e.graph(&Spec::new(1, 7, 64)).unwrap()), 270_838_656);
    }

    #[test]
    fn densenet121_runs_on_a_small_input() {
        check_forward(entry("densenet121"), Spec::new(1, 5, 32));
    }

    #[test]
    fn too_small_inputs_fail_like_timm() {
        // timm: "Given input size: (512x1x1). Calculated output size: (512x0x0)" in transition3's pool.
        let err = entry("densenet121").graph(&Spec::imagenet(28)).unwrap_err();
        assert!(err.message.contains("features.transition3.pool"), "{err}");
    }
}
