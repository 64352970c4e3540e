//! timm's pre-activation ResNet v2 (timm/models/resnetv2.py) with plain convolutions and batch
//! norm (resnetv2_50): a 7x7 stride-2 conv and 3x3 max pool stem without norm, stages of
//! pre-activation bottlenecks (batch norm + ReLU before each of the 1x1, 3x3 and 1x1 convs; the
//! first block of a stage projects the pre-activated input with a strided 1x1 conv, the others add
//! their raw input), a final batch norm + ReLU `norm`, and a classifier head.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};
use crate::catalog::{Entry, Spec};

pub static ENTRIES: &[Entry] = &[Entry {
    name: "resnetv2_50",
    family: "resnetv2",
    kind: ModelKind::Cnn,
    efficient: false,
    paper: "https://arxiv.org/abs/2110.00476",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build([3, 4, 6, 3], spec),
}];

/// BatchNormAct2d under `name`.
fn norm_act(g: &mut GraphBuilder, name: &str, x: Id) -> Result<Id> {
    let x = g.batch_norm(name, x)?;
    Ok(g.act(&format!("{name}.act"), x, Act::Relu))
}

pub fn build(layers: [usize; 4], spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let x = g.conv("stem.conv", x, Conv::new(64, 7, 2))?;
    let mut x = g.max_pool("stem.pool", x, Pool::new(3, 2, 1))?;
    for (stage, (&depth, out)) in layers.iter().zip([256, 512, 1024, 2048]).enumerate() {
        for block in 0..depth {
            let n = |part: &str| format!("stages.{stage}.blocks.{block}.{part}");
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let mid = out / 4;
            let preact = norm_act(&mut g, &n("norm1"), x)?;
            let shortcut =
                if block == 0 { g.conv(&n("downsample.conv"), preact, Conv::new(out, 1, stride))? } else { x };
            let y = g.conv(&n("conv1"), preact, Conv::new(mid, 1, 1))?;
            let y = norm_act(&mut g, &n("norm2"), y)?;
            let y = g.conv(&n("conv2"), y, Conv::new(mid, 3, stride))?;
            let y = norm_act(&mut g, &n("norm3"), y)?;
            let y = g.conv(&n("conv3"), y, Conv::new(out, 1, 1))?;
            x = g.add(&n("add"), y, shortcut)?;
        }
    }
    let x = norm_act(&mut g, "norm", x)?;
    // ClassifierHead with use_conv: pool, 1x1 conv `head.fc` (bias), flatten.
    let x = g.adaptive_avg_pool("head.global_pool.pool", x, 1, 1)?;
    let x = g.conv("head.fc", x, Conv::new(spec.classes, 1, 1).bias(true))?;
    g.flatten("head.flatten", x)?;
    Ok(g.finish())
}
