//! timm's SelecSLS (timm/models/selecsls.py): a 3x3 stride-2 stem, then SelecSLS blocks of six
//! conv + batch norm + ReLU layers (3x3 strided, 1x1, 3x3 to half width, 1x1, 3x3 to half width,
//! and a 1x1 over the concatenation of the three intermediate outputs plus, except in a stage's
//! first block, the stage's first output carried along as a skip), a head of four more conv layers
//! and a linear classifier on global average pooling. Every conv is `nn.Sequential(conv, bn, relu)`.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/1907.00837";

/// (mid, out, is_first, stride) per block; (out, kernel, stride) per head conv.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub features: &'static [(usize, usize, bool, usize)],
    pub head: [(usize, usize, usize); 4],
}

const FEATURES_42: &[(usize, usize, bool, usize)] = &[
    (64, 64, true, 2),
    (64, 128, false, 1),
    (144, 144, true, 2),
    (144, 288, false, 1),
    (304, 304, true, 2),
    (304, 480, false, 1),
];
const FEATURES_60: &[(usize, usize, bool, usize)] = &[
    (64, 64, true, 2),
    (64, 128, false, 1),
    (128, 128, true, 2),
    (128, 128, false, 1),
    (128, 288, false, 1),
    (288, 288, true, 2),
    (288, 288, false, 1),
    (288, 288, false, 1),
    (288, 416, false, 1),
];

macro_rules! selecsls {
    ($name:literal, $features:expr, $head:expr) => {
        Entry {
            name: $name,
            family: "selecsls",
            kind: ModelKind::Cnn,
            efficient: false,
            paper: PAPER,
            default_size: 224,
            from_timm: true,
            build: |spec: &Spec| build(&Config { features: $features, head: $head }, spec),
        }
    };
}

pub static ENTRIES: &[Entry] = &[
    selecsls!("selecsls42b", FEATURES_42, [(960, 3, 2), (1024, 3, 1), (1280, 3, 2), (1024, 1, 1)]),
    selecsls!("selecsls60", FEATURES_60, [(756, 3, 2), (1024, 3, 1), (1024, 3, 2), (1280, 1, 1)]),
    selecsls!("selecsls60b", FEATURES_60, [(756, 3, 2), (1024, 3, 1), (1280, 3, 2), (1024, 1, 1)]),
];

/// `conv_bn`: `{name}.0` conv, `{name}.1` batch norm, ReLU.
fn conv_bn(g: &mut GraphBuilder, name: &str, x: Id, out: usize, kernel: usize, stride: usize) -> Result<Id> {
    g.conv_bn_act(&format!("{name}.0"), &format!("{name}.1"), x, Conv::new(out, kernel, stride), Some(Act::Relu))
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let mut x = conv_bn(&mut g, "stem", x, 32, 3, 2)?;
    let mut skip = x;
    for (i, &(mid, out, is_first, stride)) in config.features.iter().enumerate() {
        let n = |part: &str| format!("features.{i}.{part}");
        let d1 = conv_bn(&mut g, &n("conv1"), x, mid, 3, stride)?;
        let d2 = conv_bn(&mut g, &n("conv2"), d1, mid, 1, 1)?;
        let d2 = conv_bn(&mut g, &n("conv3"), d2, mid / 2, 3, 1)?;
        let d3 = conv_bn(&mut g, &n("conv4"), d2, mid, 1, 1)?;
        let d3 = conv_bn(&mut g, &n("conv5"), d3, mid / 2, 3, 1)?;
        let mut parts = vec![d1, d2, d3];
        if !is_first {
            parts.push(skip);
        }
        let cat = g.concat(&n("cat"), &parts)?;
        x = conv_bn(&mut g, &n("conv6"), cat, out, 1, 1)?;
        if is_first {
            skip = x;
        }
    }
    for (i, &(out, kernel, stride)) in config.head.iter().enumerate() {
        x = conv_bn(&mut g, &format!("head.{i}"), x, out, kernel, stride)?;
    }
    g.classifier("fc", x, "global_pool.pool", spec.classes)?;
    Ok(g.finish())
}
