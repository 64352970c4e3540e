//! timm's ResNet family (timm/models/resnet.py): basic and bottleneck blocks, the plain 7x7 stem
//! or the "deep" / "deep_tiered" 3x3 stems, average-pool downsampling for the "d"/"t" variants,
//! grouped bottlenecks (ResNeXt: `cardinality` x `base_width`), wide bottlenecks, squeeze-excite
//! after the last batch norm (SE-ResNeXt, ResNet-RS), anti-aliased downsampling (`aa_layer`:
//! average pooling or blur pooling after a stride-1 3x3 conv), and ResNet-RS's stem that replaces
//! the max pool with a strided 3x3 convolution.

use crate::catalog::Spec;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    Basic,
    Bottleneck,
    /// Res2Net's Bottle2neck: the 3x3 stage split into `scale` groups of channels, each conv
    /// seeing its group plus the previous group's output (timm/models/res2net.py).
    Res2,
}

impl Block {
    fn expansion(self) -> usize {
        match self {
            Block::Basic => 1,
            Block::Bottleneck | Block::Res2 => 4,
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

/// timm's `aa_layer`: what downsamples in place of a strided 3x3 convolution (and the stem pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aa {
    None,
    /// `nn.AvgPool2d(2)` (resnetaa*): also replaces the stem's max pool.
    Avg,
    /// `BlurPool2d` (resnetblur*): the stem's max pool runs at stride 1 and is followed by it.
    Blur,
}

/// One ResNet configuration (the arguments of timm's `_create_resnet`).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub block: Block,
    pub layers: [usize; 4],
    pub stem: Stem,
    pub stem_width: usize,
    pub avg_down: bool,
    pub cardinality: usize,
    pub base_width: usize,
    /// Squeeze-excite reduction ratio as `channels / se_divisor` (timm's `rd_ratio = 1 / se_divisor`),
    /// rounded to a multiple of 8; `None` without attention.
    pub se_divisor: Option<usize>,
    /// Efficient channel attention (timm's `attn_layer='eca'`) in place of squeeze-excite.
    pub eca: bool,
    pub aa: Aa,
    /// ResNet-RS: the stem's max pool becomes conv 3x3 stride 2, batch norm, ReLU.
    pub replace_stem_pool: bool,
    /// Res2Net's scale (groups of channels in the 3x3 stage).
    pub scale: usize,
}

impl Config {
    /// A plain-stem ResNet (timm's defaults).
    pub const fn plain(block: Block, layers: [usize; 4]) -> Config {
        Config {
            block,
            layers,
            stem: Stem::Plain,
            stem_width: 64,
            avg_down: false,
            cardinality: 1,
            base_width: 64,
            se_divisor: None,
            eca: false,
            aa: Aa::None,
            replace_stem_pool: false,
            scale: 1,
        }
    }

    /// The "d" variants: deep 3x3 stem of width 32 and average-pool shortcuts.
    pub const fn deep(block: Block, layers: [usize; 4]) -> Config {
        Config { stem: Stem::Deep, stem_width: 32, avg_down: true, ..Config::plain(block, layers) }
    }

    /// ResNet-RS: the "d" variant with SE (ratio 1/4) and a convolutional stem pool.
    pub const fn rs(layers: [usize; 4]) -> Config {
        Config { se_divisor: Some(4), replace_stem_pool: true, ..Config::deep(Block::Bottleneck, layers) }
    }

    /// Res2Net / Res2NeXt: plain stem, Bottle2neck blocks.
    pub const fn res2(layers: [usize; 4], base_width: usize, cardinality: usize, scale: usize) -> Config {
        Config { base_width, cardinality, scale, ..Config::plain(Block::Res2, layers) }
    }
}

/// timm's `make_divisible(v, 8, round_limit=0)` for the SE reduction width.
fn se_width(channels: usize, divisor: usize) -> usize {
    let v = channels as f64 / divisor as f64;
    (((v + 4.0) as usize) / 8 * 8).max(8)
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
    let mut x = if config.replace_stem_pool {
        g.conv_bn_act("maxpool.0", "maxpool.1", x, Conv::new(inplanes, 3, 2), relu)?
    } else {
        match config.aa {
            Aa::None => g.max_pool("maxpool", x, Pool::new(3, 2, 1))?,
            Aa::Avg => g.avg_pool("maxpool", x, Pool::new(2, 2, 0))?,
            Aa::Blur => {
                let x = g.max_pool("maxpool.0", x, Pool::new(3, 1, 1))?;
                g.blur_pool("maxpool.1", x, 2)?
            }
        }
    };

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
    // With anti-aliasing the 3x3 convolution runs at stride 1 and `aa` downsamples after it.
    let use_aa = config.aa != Aa::None && stride == 2;
    let conv_stride = if use_aa { 1 } else { stride };
    let aa = |g: &mut GraphBuilder, y: Id| -> Result<Id> {
        match (use_aa, config.aa) {
            (true, Aa::Avg) => g.avg_pool(&n("aa"), y, Pool::new(2, 2, 0)),
            (true, Aa::Blur) => g.blur_pool(&n("aa"), y, 2),
            _ => Ok(y),
        }
    };
    let y = match config.block {
        Block::Basic => {
            let y = g.conv_bn_act(&n("conv1"), &n("bn1"), x, Conv::new(planes, 3, conv_stride), relu)?;
            let y = aa(g, y)?;
            g.conv_bn_act(&n("conv2"), &n("bn2"), y, Conv::new(planes, 3, 1), None)?
        }
        Block::Bottleneck => {
            // int(floor(planes * base_width / 64) * cardinality)
            let width = planes * config.base_width / 64 * config.cardinality;
            let y = g.conv_bn_act(&n("conv1"), &n("bn1"), x, Conv::new(width, 1, 1), relu)?;
            let conv2 = Conv::new(width, 3, conv_stride).groups(config.cardinality);
            let y = g.conv_bn_act(&n("conv2"), &n("bn2"), y, conv2, relu)?;
            let y = aa(g, y)?;
            g.conv_bn_act(&n("conv3"), &n("bn3"), y, Conv::new(out, 1, 1), None)?
        }
        Block::Res2 => {
            let width = planes * config.base_width / 64 * config.cardinality;
            let scale = config.scale;
            let y = g.conv_bn_act(&n("conv1"), &n("bn1"), x, Conv::new(width * scale, 1, 1), relu)?;
            // The first block of a stage (strided or projected) does not chain the groups and
            // average-pools its last group.
            let is_first = stride > 1 || g.channels(x) != out;
            let parts: Vec<Id> = (0..scale)
                .map(|i| g.slice_channels(&n(&format!("split{i}")), y, i * width, width))
                .collect::<Result<_>>()?;
            let mut outputs = Vec::with_capacity(scale);
            let mut sp = parts[0];
            for (i, &part) in parts.iter().enumerate().take(scale.max(2) - 1) {
                sp = if i == 0 || is_first { part } else { g.add(&n(&format!("sum{i}")), sp, part)? };
                let conv = Conv::new(width, 3, stride).groups(config.cardinality);
                sp = g.conv_bn_act(&n(&format!("convs.{i}")), &n(&format!("bns.{i}")), sp, conv, relu)?;
                outputs.push(sp);
            }
            if scale > 1 {
                let last = parts[scale - 1];
                outputs.push(if is_first { g.avg_pool(&n("pool"), last, Pool::new(3, stride, 1))? } else { last });
            }
            let y = g.concat(&n("cat"), &outputs)?;
            g.conv_bn_act(&n("conv3"), &n("bn3"), y, Conv::new(out, 1, 1), None)?
        }
    };
    let y = match config.se_divisor {
        Some(divisor) => squeeze_excite(g, &n("se"), y, se_width(out, divisor))?,
        None if config.eca => eca(g, &n("se"), y)?,
        None => y,
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

/// timm's SEModule: spatial mean, 1x1 conv `fc1` (bias) to `reduced`, ReLU, 1x1 conv `fc2`
/// (bias) back, sigmoid, times the input.
pub fn squeeze_excite(g: &mut GraphBuilder, name: &str, x: Id, reduced: usize) -> Result<Id> {
    squeeze_excite_act(g, name, x, reduced, Act::Relu)
}

/// [`squeeze_excite`] with another activation (CSPNet passes the network's).
pub fn squeeze_excite_act(g: &mut GraphBuilder, name: &str, x: Id, reduced: usize, act: Act) -> Result<Id> {
    let channels = g.channels(x);
    let s = g.spatial_mean(&format!("{name}.mean"), x)?;
    let s = g.conv(&format!("{name}.fc1"), s, Conv::new(reduced, 1, 1).bias(true))?;
    let s = g.act(&format!("{name}.act"), s, act);
    let s = g.conv(&format!("{name}.fc2"), s, Conv::new(channels, 1, 1).bias(true))?;
    let s = g.act(&format!("{name}.gate"), s, Act::Sigmoid);
    g.gate(&format!("{name}.mul"), x, s)
}

/// timm's EcaModule: spatial mean, a 1-D convolution `conv` across channels (no bias) whose kernel
/// grows with log2(channels), sigmoid, times the input.
pub fn eca(g: &mut GraphBuilder, name: &str, x: Id) -> Result<Id> {
    let s = g.spatial_mean(&format!("{name}.mean"), x)?;
    let s = g.channel_conv(&format!("{name}.conv"), s, eca_kernel(g.channels(x)))?;
    let s = g.act(&format!("{name}.gate"), s, Act::Sigmoid);
    g.gate(&format!("{name}.mul"), x, s)
}

/// ECA's kernel size: t = int(|log2(channels) + 1| / 2), made odd, at least 3.
fn eca_kernel(channels: usize) -> usize {
    let t = (((channels as f64).log2() + 1.0).abs() / 2.0) as usize;
    (if t % 2 == 1 { t } else { t + 1 }).max(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eca_kernels_follow_timm() {
        assert_eq!([64, 256, 512, 1024, 2048].map(eca_kernel), [3, 5, 5, 5, 7]);
    }

    #[test]
    fn se_widths_follow_timms_make_divisible() {
        assert_eq!(se_width(256, 16), 16);
        assert_eq!(se_width(2048, 16), 128);
        assert_eq!(se_width(256, 4), 64);
        assert_eq!(se_width(64, 16), 8);
    }
}
