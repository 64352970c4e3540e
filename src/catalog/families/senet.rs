//! timm's legacy SENet family (timm/models/senet.py, the original Caffe-style SE-ResNets):
//! `layer0` (a 7x7 stride-2 conv, or three 3x3 convs for SENet-154) with batch norm and ReLU, a
//! 3x3 stride-2 ceil-mode max pool `pool0`, four stages of SE bottlenecks, global average pooling
//! and `last_linear`. SE-ResNet bottlenecks stride their first 1x1 conv (not the 3x3); SENet-154's
//! bottleneck widens to 2 x then 4 x planes with a grouped 3x3. Squeeze-excite (`se_module`) is
//! mean, 1x1 conv `fc1` (bias) to channels / 16, ReLU, 1x1 conv `fc2` (bias), sigmoid gate.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/1709.01507";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// SEResNetBottleneck: stride on conv1, planes / planes / 4 x planes.
    SeResNet,
    /// SEBottleneck (SENet-154): 2 x planes, grouped 4 x planes, 4 x planes.
    SeNet,
}

/// One SENet configuration (the arguments of timm's `SENet`).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub block: Block,
    pub layers: [usize; 4],
    pub groups: usize,
    pub inplanes: usize,
    pub input_3x3: bool,
    pub downsample_kernel: usize,
}

const SERESNET50: Config = Config {
    block: Block::SeResNet,
    layers: [3, 4, 6, 3],
    groups: 1,
    inplanes: 64,
    input_3x3: false,
    downsample_kernel: 1,
};
const SENET154: Config = Config {
    block: Block::SeNet,
    layers: [3, 8, 36, 3],
    groups: 64,
    inplanes: 128,
    input_3x3: true,
    downsample_kernel: 3,
};

macro_rules! senet {
    ($name:literal, $config:expr) => {
        Entry {
            name: $name,
            family: "senet",
            kind: ModelKind::Cnn,
            efficient: false,
            paper: PAPER,
            default_size: 224,
            from_timm: true,
            build: |spec: &Spec| build(&$config, spec),
        }
    };
}

pub static ENTRIES: &[Entry] = &[senet!("legacy_seresnet50", SERESNET50), senet!("legacy_senet154", SENET154)];

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let relu = Some(Act::Relu);
    let x = if config.input_3x3 {
        let x = g.conv_bn_act("layer0.conv1", "layer0.bn1", x, Conv::new(64, 3, 2), relu)?;
        let x = g.conv_bn_act("layer0.conv2", "layer0.bn2", x, Conv::new(64, 3, 1), relu)?;
        g.conv_bn_act("layer0.conv3", "layer0.bn3", x, Conv::new(config.inplanes, 3, 1), relu)?
    } else {
        g.conv_bn_act("layer0.conv1", "layer0.bn1", x, Conv::new(config.inplanes, 7, 2), relu)?
    };
    let mut x = g.max_pool("pool0", x, Pool::new(3, 2, 0).ceil_mode(true))?;
    for (stage, (&repeats, planes)) in config.layers.iter().zip([64, 128, 256, 512]).enumerate() {
        for index in 0..repeats {
            let stride = if stage > 0 && index == 0 { 2 } else { 1 };
            // layer1 always projects with a 1x1 conv; later stages with `downsample_kernel`.
            let kernel = if stage == 0 { 1 } else { config.downsample_kernel };
            x = block(&mut g, &format!("layer{}.{index}", stage + 1), x, config, planes, stride, kernel)?;
        }
    }
    g.classifier("last_linear", x, "global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

fn block(
    g: &mut GraphBuilder,
    name: &str,
    x: Id,
    config: &Config,
    planes: usize,
    stride: usize,
    down_kernel: usize,
) -> Result<Id> {
    let relu = Some(Act::Relu);
    let n = |part: &str| format!("{name}.{part}");
    let out = planes * 4;
    let (c1, c2, s1, s2) = match config.block {
        Block::SeResNet => (planes, planes, stride, 1),
        Block::SeNet => (planes * 2, planes * 4, 1, stride),
    };
    let y = g.conv_bn_act(&n("conv1"), &n("bn1"), x, Conv::new(c1, 1, s1), relu)?;
    let y = g.conv_bn_act(&n("conv2"), &n("bn2"), y, Conv::new(c2, 3, s2).padding(1).groups(config.groups), relu)?;
    let y = g.conv_bn_act(&n("conv3"), &n("bn3"), y, Conv::new(out, 1, 1), None)?;
    let s = g.spatial_mean(&n("se_module.mean"), y)?;
    let s = g.conv(&n("se_module.fc1"), s, Conv::new(out / 16, 1, 1).bias(true))?;
    let s = g.act(&n("se_module.relu"), s, Act::Relu);
    let s = g.conv(&n("se_module.fc2"), s, Conv::new(out, 1, 1).bias(true))?;
    let s = g.act(&n("se_module.sigmoid"), s, Act::Sigmoid);
    let y = g.gate(&n("se_module.mul"), y, s)?;
    let shortcut = if stride != 1 || g.channels(x) != out {
        let conv = Conv::new(out, down_kernel, stride).padding(down_kernel / 2);
        let s = g.conv(&n("downsample.0"), x, conv)?;
        g.batch_norm(&n("downsample.1"), s)?
    } else {
        x
    };
    let y = g.add(&n("add"), y, shortcut)?;
    Ok(g.act(&n("relu"), y, Act::Relu))
}
