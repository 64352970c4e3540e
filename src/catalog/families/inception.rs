//! timm's Inception-v3 (timm/models/inception_v3.py), without the auxiliary classifier (timm's
//! default): a stem of five conv + batch norm (eps 1e-3) + ReLU layers and two 3x3 stride-2 max
//! pools, then the Inception modules A (x3), B, C (x4), D and E (x2), each a concatenation of
//! branches of such convolutions (C, D and E factorise 7x7 and 3x3 into 1x7 / 7x1 and 1x3 / 3x1)
//! with average-pool (3x3, stride 1, padding 1) or max-pool (3x3, stride 2) branches; global
//! average pooling and `fc`.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result};
use crate::catalog::{Entry, Spec};

const PAPER: &str = "https://arxiv.org/abs/1512.00567";

macro_rules! inception {
    ($name:literal) => {
        Entry {
            name: $name,
            family: "inception",
            kind: ModelKind::Cnn,
            efficient: false,
            paper: PAPER,
            default_size: 299,
            from_timm: true,
            build,
        }
    };
}

/// The paper's two Inception-v3 checkpoints: same architecture, timm 1.0 names
/// `inception_v3.tf_adv_in1k` and `inception_v3.gluon_in1k`.
pub static ENTRIES: &[Entry] = &[inception!("adv_inception_v3"), inception!("gluon_inception_v3")];

/// BasicConv2d (timm's ConvNormAct with padding 0 by default): `{name}.conv`, `{name}.bn`, ReLU.
fn basic(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv) -> Result<Id> {
    let x = g.conv(&format!("{name}.conv"), x, conv)?;
    let x = g.batch_norm_eps(&format!("{name}.bn"), x, 1e-3)?;
    Ok(g.act(&format!("{name}.bn.act"), x, Act::Relu))
}

fn k(out: usize, kernel: usize, stride: usize, padding: usize) -> Conv {
    Conv::new(out, kernel, stride).padding(padding)
}

pub fn build(spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let x = basic(&mut g, "Conv2d_1a_3x3", x, k(32, 3, 2, 0))?;
    let x = basic(&mut g, "Conv2d_2a_3x3", x, k(32, 3, 1, 0))?;
    let x = basic(&mut g, "Conv2d_2b_3x3", x, k(64, 3, 1, 1))?;
    let x = g.max_pool("Pool1", x, Pool::new(3, 2, 0))?;
    let x = basic(&mut g, "Conv2d_3b_1x1", x, k(80, 1, 1, 0))?;
    let x = basic(&mut g, "Conv2d_4a_3x3", x, k(192, 3, 1, 0))?;
    let mut x = g.max_pool("Pool2", x, Pool::new(3, 2, 0))?;
    for (name, pool_features) in [("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)] {
        x = inception_a(&mut g, name, x, pool_features)?;
    }
    x = inception_b(&mut g, "Mixed_6a", x)?;
    for (name, c7) in [("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)] {
        x = inception_c(&mut g, name, x, c7)?;
    }
    x = inception_d(&mut g, "Mixed_7a", x)?;
    x = inception_e(&mut g, "Mixed_7b", x)?;
    x = inception_e(&mut g, "Mixed_7c", x)?;
    g.classifier("fc", x, "global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

/// A chain of convolutions from `x`, named `{module}.{name}`.
fn chain(g: &mut GraphBuilder, module: &str, x: Id, convs: &[(&str, Conv)]) -> Result<Id> {
    convs.iter().try_fold(x, |x, (name, conv)| basic(g, &format!("{module}.{name}"), x, *conv))
}

fn avg_branch(g: &mut GraphBuilder, m: &str, x: Id, out: usize) -> Result<Id> {
    let p = g.avg_pool(&format!("{m}.avg_pool"), x, Pool::new(3, 1, 1))?;
    basic(g, &format!("{m}.branch_pool"), p, k(out, 1, 1, 0))
}

fn inception_a(g: &mut GraphBuilder, m: &str, x: Id, pool_features: usize) -> Result<Id> {
    let b1 = chain(g, m, x, &[("branch1x1", k(64, 1, 1, 0))])?;
    let b5 = chain(g, m, x, &[("branch5x5_1", k(48, 1, 1, 0)), ("branch5x5_2", k(64, 5, 1, 2))])?;
    let b3 = chain(
        g,
        m,
        x,
        &[("branch3x3dbl_1", k(64, 1, 1, 0)), ("branch3x3dbl_2", k(96, 3, 1, 1)), ("branch3x3dbl_3", k(96, 3, 1, 1))],
    )?;
    let bp = avg_branch(g, m, x, pool_features)?;
    g.concat(&format!("{m}.cat"), &[b1, b5, b3, bp])
}

fn inception_b(g: &mut GraphBuilder, m: &str, x: Id) -> Result<Id> {
    let b3 = chain(g, m, x, &[("branch3x3", k(384, 3, 2, 0))])?;
    let bd = chain(
        g,
        m,
        x,
        &[("branch3x3dbl_1", k(64, 1, 1, 0)), ("branch3x3dbl_2", k(96, 3, 1, 1)), ("branch3x3dbl_3", k(96, 3, 2, 0))],
    )?;
    let bp = g.max_pool(&format!("{m}.max_pool"), x, Pool::new(3, 2, 0))?;
    g.concat(&format!("{m}.cat"), &[b3, bd, bp])
}

fn inception_c(g: &mut GraphBuilder, m: &str, x: Id, c7: usize) -> Result<Id> {
    let row = |out| Conv::rect(out, 1, 7, 0, 3);
    let col = |out| Conv::rect(out, 7, 1, 3, 0);
    let b1 = chain(g, m, x, &[("branch1x1", k(192, 1, 1, 0))])?;
    let b7 = chain(g, m, x, &[("branch7x7_1", k(c7, 1, 1, 0)), ("branch7x7_2", row(c7)), ("branch7x7_3", col(192))])?;
    let bd = chain(
        g,
        m,
        x,
        &[
            ("branch7x7dbl_1", k(c7, 1, 1, 0)),
            ("branch7x7dbl_2", col(c7)),
            ("branch7x7dbl_3", row(c7)),
            ("branch7x7dbl_4", col(c7)),
            ("branch7x7dbl_5", row(192)),
        ],
    )?;
    let bp = avg_branch(g, m, x, 192)?;
    g.concat(&format!("{m}.cat"), &[b1, b7, bd, bp])
}

fn inception_d(g: &mut GraphBuilder, m: &str, x: Id) -> Result<Id> {
    let b3 = chain(g, m, x, &[("branch3x3_1", k(192, 1, 1, 0)), ("branch3x3_2", k(320, 3, 2, 0))])?;
    let b7 = chain(
        g,
        m,
        x,
        &[
            ("branch7x7x3_1", k(192, 1, 1, 0)),
            ("branch7x7x3_2", Conv::rect(192, 1, 7, 0, 3)),
            ("branch7x7x3_3", Conv::rect(192, 7, 1, 3, 0)),
            ("branch7x7x3_4", k(192, 3, 2, 0)),
        ],
    )?;
    let bp = g.max_pool(&format!("{m}.max_pool"), x, Pool::new(3, 2, 0))?;
    g.concat(&format!("{m}.cat"), &[b3, b7, bp])
}

fn inception_e(g: &mut GraphBuilder, m: &str, x: Id) -> Result<Id> {
    let b1 = chain(g, m, x, &[("branch1x1", k(320, 1, 1, 0))])?;
    let b3 = chain(g, m, x, &[("branch3x3_1", k(384, 1, 1, 0))])?;
    let b3a = chain(g, m, b3, &[("branch3x3_2a", Conv::rect(384, 1, 3, 0, 1))])?;
    let b3b = chain(g, m, b3, &[("branch3x3_2b", Conv::rect(384, 3, 1, 1, 0))])?;
    let bd = chain(g, m, x, &[("branch3x3dbl_1", k(448, 1, 1, 0)), ("branch3x3dbl_2", k(384, 3, 1, 1))])?;
    let bda = chain(g, m, bd, &[("branch3x3dbl_3a", Conv::rect(384, 1, 3, 0, 1))])?;
    let bdb = chain(g, m, bd, &[("branch3x3dbl_3b", Conv::rect(384, 3, 1, 1, 0))])?;
    let bp = avg_branch(g, m, x, 192)?;
    g.concat(&format!("{m}.cat"), &[b1, b3a, b3b, bda, bdb, bp])
}
