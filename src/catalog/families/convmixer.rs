//! timm's ConvMixer (timm/models/convmixer.py): a patch-embedding convolution (kernel = stride =
//! patch size, with bias) + activation + batch norm, then `depth` blocks of a residual depthwise
//! convolution ("same" padding, bias) + activation + batch norm, and a pointwise convolution (bias)
//! + activation + batch norm; global average pooling and a linear `head`.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Result};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/2201.09792";

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub dim: usize,
    pub depth: usize,
    pub kernel: usize,
    pub patch: usize,
    pub act: Act,
}

pub static ENTRIES: &[Entry] = &[Entry {
    name: "convmixer_768_32",
    family: "convmixer",
    kind: ModelKind::Cnn,
    efficient: false,
    paper: PAPER,
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&Config { dim: 768, depth: 32, kernel: 7, patch: 7, act: Act::Relu }, spec),
}];

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let dim = config.dim;
    let x = g.conv("stem.0", x, Conv::new(dim, config.patch, config.patch).padding(0).bias(true))?;
    let x = g.act("stem.1", x, config.act);
    let mut x = g.batch_norm("stem.2", x)?;
    for i in 0..config.depth {
        let n = |part: &str| format!("blocks.{i}.{part}");
        let same = (config.kernel - 1) / 2;
        let y = g.conv(&n("0.fn.0"), x, Conv::new(dim, config.kernel, 1).padding(same).groups(dim).bias(true))?;
        let y = g.act(&n("0.fn.1"), y, config.act);
        let y = g.batch_norm(&n("0.fn.2"), y)?;
        let y = g.add(&n("0.add"), y, x)?;
        let y = g.conv(&n("1"), y, Conv::new(dim, 1, 1).bias(true))?;
        let y = g.act(&n("2"), y, config.act);
        x = g.batch_norm(&n("3"), y)?;
    }
    g.classifier("head", x, "global_pool.pool", spec.classes)?;
    Ok(g.finish())
}
