//! pepr's own small-input families for fast CPU runs on 28x28 and 64x64 images. Not from timm:
//! their names start with `pepr_` and their entries say `from_timm: false`.
//!
//! - `pepr_lenet5`: LeCun et al. 1998's LeNet-5 layout (two 5x5 convolutions with 2x2 max pooling,
//!   then 120-84-classes fully connected), with ReLU instead of tanh and a padded first convolution
//!   so 28x28 inputs work as 32x32 did.
//! - `pepr_resnet8` / `pepr_resnet20`: He et al. 2016's CIFAR ResNets (§4.2): a 16-channel 3x3 stem,
//!   three stages of n basic blocks at 16, 32, 64 channels, global average pooling and one linear
//!   layer; n = 1 and 3. Shortcuts that change shape are 1x1 convolutions with batch norm (the
//!   paper's option B).

use crate::catalog::Spec;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};

pub fn lenet5(spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let x = g.conv("conv1", x, Conv::new(6, 5, 1).padding(2).bias(true))?;
    let x = g.act("act1", x, Act::Relu);
    let x = g.max_pool("pool1", x, Pool::new(2, 2, 0))?;
    let x = g.conv("conv2", x, Conv::new(16, 5, 1).padding(0).bias(true))?;
    let x = g.act("act2", x, Act::Relu);
    let x = g.max_pool("pool2", x, Pool::new(2, 2, 0))?;
    let x = g.flatten("flatten", x)?;
    let x = g.linear("fc1", x, 120, true)?;
    let x = g.act("act3", x, Act::Relu);
    let x = g.linear("fc2", x, 84, true)?;
    let x = g.act("act4", x, Act::Relu);
    g.linear("fc3", x, spec.classes, true)?;
    Ok(g.finish())
}

pub fn cifar_resnet(blocks_per_stage: usize, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let mut x = g.conv_bn_act("conv1", "bn1", x, Conv::new(16, 3, 1), Some(Act::Relu))?;
    for (stage, channels) in [16, 32, 64].into_iter().enumerate() {
        for index in 0..blocks_per_stage {
            let stride = if stage > 0 && index == 0 { 2 } else { 1 };
            x = basic_block(&mut g, &format!("layer{}.{index}", stage + 1), x, channels, stride)?;
        }
    }
    g.classifier("fc", x, "global_pool", spec.classes)?;
    Ok(g.finish())
}

fn basic_block(g: &mut GraphBuilder, name: &str, x: Id, channels: usize, stride: usize) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let shortcut = if stride != 1 || g.channels(x) != channels {
        let s = g.conv(&n("downsample.0"), x, Conv::new(channels, 1, stride))?;
        g.batch_norm(&n("downsample.1"), s)?
    } else {
        x
    };
    let y = g.conv_bn_act(&n("conv1"), &n("bn1"), x, Conv::new(channels, 3, stride), Some(Act::Relu))?;
    let y = g.conv_bn_act(&n("conv2"), &n("bn2"), y, Conv::new(channels, 3, 1), None)?;
    let y = g.add(&n("add"), y, shortcut)?;
    Ok(g.act(&n("act"), y, Act::Relu))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::count::total_macs;

    #[test]
    fn lenet5_on_28x28_has_the_classic_shape() {
        let graph = lenet5(&Spec::new(1, 10, 28)).unwrap();
        // conv1 156, conv2 2416, fc1 48120, fc2 10164, fc3 850: LeNet-5's 61,706.
        assert_eq!(graph.params(), 61_706);
        let macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10;
        assert_eq!(total_macs(&graph), macs as u64);
    }

    #[test]
    fn cifar_resnet20_has_the_papers_size() {
        // He et al. report 0.27M parameters for ResNet-20 (269,722 with option A shortcuts, which have
        // none); option B adds two 1x1 projections with batch norm: 16*32 + 64 and 32*64 + 128.
        let graph = cifar_resnet(3, &Spec::new(3, 10, 32)).unwrap();
        let projections = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64);
        assert_eq!(graph.params(), 269_722 + projections as u64);
    }
}
