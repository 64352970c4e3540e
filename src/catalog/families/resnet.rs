//! timm's ResNet family (timm/models/resnet.py): basic and bottleneck blocks, the plain 7x7 stem
//! or the "deep" / "deep_tiered" 3x3 stems, and average-pool downsampling for the "d"/"t" variants.

use crate::catalog::Spec;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    Basic,
    Bottleneck,
}

impl Block {
    fn expansion(self) -> usize {
        match self {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stem {
    /// One 7x7 stride-2 convolution.
    Plain,
    /// Three 3x3 convolutions: stem_width, stem_width, 2 x stem_width.
    Deep,
    /// Three 3x3 convolutions: 3/4 x stem_width, stem_width, 2 x stem_width.
    DeepTiered,
}

/// One ResNet configuration (the arguments of timm's `_create_resnet`).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub block: Block,
    pub layers: [usize; 4],
    pub stem: Stem,
    pub stem_width: usize,
    pub avg_down: bool,
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let relu = Some(Act::Relu);
    let inplanes = if config.stem == Stem::Plain { 64 } else { config.stem_width * 2 };
    let x = match config.stem {
        Stem::Plain => g.conv("conv1", x, Conv::new(64, 7, 2))?,
        Stem::Deep | Stem::DeepTiered => {
            let w = config.stem_width;
            let first = if config.stem == Stem::DeepTiered { 3 * (w / 4) } else { w };
            let x = g.conv_bn_act("conv1.0", "conv1.1", x, Conv::new(first, 3, 2), relu)?;
            let x = g.conv_bn_act("conv1.3", "conv1.4", x, Conv::new(w, 3, 1), relu)?;
            g.conv("conv1.6", x, Conv::new(inplanes, 3, 1))?
        }
    };
    let x = g.batch_norm("bn1", x)?;
    let x = g.act("act1", x, Act::Relu);
    let mut x = g.max_pool("maxpool", x, Pool::new(3, 2, 1))?;

    for (stage, (&repeats, planes)) in config.layers.iter().zip([64, 128, 256, 512]).enumerate() {
        for index in 0..repeats {
            let stride = if stage > 0 && index == 0 { 2 } else { 1 };
            x = block(&mut g, &format!("layer{}.{index}", stage + 1), x, config, planes, stride)?;
        }
    }
    let x = g.classifier("fc", x, "global_pool.pool", spec.classes)?;
    let _ = x;
    Ok(g.finish())
}

fn block(g: &mut GraphBuilder, name: &str, x: Id, config: &Config, planes: usize, stride: usize) -> Result<Id> {
    let relu = Some(Act::Relu);
    let out = planes * config.block.expansion();
    let n = |part: &str| format!("{name}.{part}");
    let y = match config.block {
        Block::Basic => {
            let y = g.conv_bn_act(&n("conv1"), &n("bn1"), x, Conv::new(planes, 3, stride), relu)?;
            g.conv_bn_act(&n("conv2"), &n("bn2"), y, Conv::new(planes, 3, 1), None)?
        }
        Block::Bottleneck => {
            let y = g.conv_bn_act(&n("conv1"), &n("bn1"), x, Conv::new(planes, 1, 1), relu)?;
            let y = g.conv_bn_act(&n("conv2"), &n("bn2"), y, Conv::new(planes, 3, stride), relu)?;
            g.conv_bn_act(&n("conv3"), &n("bn3"), y, Conv::new(out, 1, 1), None)?
        }
    };
    // timm registers `downsample` after the main path's layers: build it second to keep its order.
    let inplanes = g.channels(x);
    let shortcut = if stride != 1 || inplanes != out {
        if config.avg_down {
            let pooled = if stride > 1 {
                g.avg_pool(
                    &format!("{name}.downsample.0"),
                    x,
                    Pool::new(2, stride, 0).ceil_mode(true).count_include_pad(false),
                )?
            } else {
                x
            };
            let s = g.conv(&format!("{name}.downsample.1"), pooled, Conv::new(out, 1, 1))?;
            g.batch_norm(&format!("{name}.downsample.2"), s)?
        } else {
            let s = g.conv(&format!("{name}.downsample.0"), x, Conv::new(out, 1, stride))?;
            g.batch_norm(&format!("{name}.downsample.1"), s)?
        }
    } else {
        x
    };
    let y = g.add(&n("add"), y, shortcut)?;
    Ok(g.act(&n("act"), y, Act::Relu))
}
