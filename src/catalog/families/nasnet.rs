//! timm's NASNet-A Large (timm/models/nasnet.py) and PNASNet-5 Large (timm/models/pnasnet.py): the
//! cell graphs found by neural architecture search. A 3x3 stride-2 stem convolution (no padding,
//! batch norm, no activation), two stem cells that each halve the map, then stacks of cells; each
//! cell reads the outputs of the two cells before it (`prev`, `cur`), brings both to the cell's width
//! (a ReLU-1x1-BN, or a factorised reduction where `prev` is at twice the resolution), adds pairs
//! of branches in five combinations and concatenates some of them. ReLU, global average pool,
//! linear head.
//!
//! The branches: separable stacks (ReLU, depthwise k x k, pointwise 1x1, BN, twice), 3x3 max and
//! average pools, ReLU-1x1-BN, identity. Both models use TensorFlow's "SAME" padding: symmetric
//! where it is static (stride 1), else zero padding computed from the map (one-sided on even maps)
//! for convolutions and average pools, -inf padding for max pools; a stride-1 average pool leaves
//! the padding out of its mean. The factorised reduction averages two half-width 1x1 paths of
//! every other pixel, the second shifted by one (`ZeroPad2d((-1, 1, -1, 1))`), concatenated and
//! batch-normed.
//!
//! Each cell type is a table ([`CellKind`]): which branch each combination adds, from which input.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Pool, Result, Shape};
use crate::catalog::{Entry, Spec};

pub static ENTRIES: &[Entry] = &[
    Entry {
        name: "pnasnet5large",
        family: "pnasnet",
        kind: ModelKind::Other,
        efficient: false,
        paper: "https://arxiv.org/abs/1712.00559",
        default_size: 331,
        from_timm: true,
        build: pnasnet,
    },
    Entry {
        name: "nasnetalarge",
        family: "nasnet",
        kind: ModelKind::Other,
        efficient: false,
        paper: "https://arxiv.org/abs/1707.07012",
        default_size: 331,
        from_timm: true,
        build: nasnet,
    },
];

/// Both files' batch norms.
const EPS: f64 = 1e-3;
const STEM_WIDTH: usize = 96;

/// What one side of a combination does to its input.
#[derive(Clone, Copy, Debug)]
enum Branch {
    /// timm's BranchSeparables: ReLU, separable k x k at `stride`, BN, ReLU, separable k x k, BN. The
    /// first separable keeps its input's width, or (`stem`, timm's `stem_cell`) goes straight to the
    /// cell's width.
    Sep { k: usize, stride: usize, stem: bool },
    /// 3x3 max pooling.
    Max(usize),
    /// 3x3 average pooling.
    Avg(usize),
    /// ActConvBn: ReLU, 1x1 convolution at `stride`, BN.
    ReluConvBn(usize),
    /// PNASNet's first stem branch: 3x3 max pooling at stride 2, 1x1 convolution, BN.
    MaxConvBn,
    /// The input as it is (no module).
    Identity,
}

/// Where a branch reads: the cell's prepared inputs or an earlier combination.
#[derive(Clone, Copy, Debug)]
enum Src {
    Prev,
    Cur,
    Comb(usize),
}

/// A cell type: five combinations `comb_iter_i = left + right`, and what the cell concatenates.
struct CellKind {
    combs: [[(Branch, Src); 2]; 5],
    out: &'static [Src],
}

use Branch::{Avg, Identity, Max, MaxConvBn, ReluConvBn, Sep};
use Src::{Comb, Cur, Prev};

const fn sep(k: usize, stride: usize) -> Branch {
    Sep { k, stride, stem: false }
}

/// `sep` whose first separable goes straight to the cell's width (the stem cells read the 96-wide stem).
const fn sep_stem(k: usize, stride: usize) -> Branch {
    Sep { k, stride, stem: true }
}

/// NASNet's reduction cells (CellStem0, CellStem1, ReductionCell0/1 are this table). `prev` is as wide
/// as the cell in all but CellStem0, so marking its branches `stem` changes only that cell.
const NAS_REDUCTION: CellKind = CellKind {
    combs: [
        [(sep(5, 2), Cur), (sep_stem(7, 2), Prev)],
        [(Max(2), Cur), (sep_stem(7, 2), Prev)],
        [(Avg(2), Cur), (sep_stem(5, 2), Prev)],
        [(Identity, Comb(1)), (Avg(1), Comb(0))],
        [(sep(3, 1), Comb(0)), (Max(2), Cur)],
    ],
    out: &[Comb(1), Comb(2), Comb(3), Comb(4)],
};

/// NASNet's normal cells (FirstCell and NormalCell differ only in how `prev` is prepared).
const NAS_NORMAL: CellKind = CellKind {
    combs: [
        [(sep(5, 1), Cur), (sep(3, 1), Prev)],
        [(sep(5, 1), Prev), (sep(3, 1), Prev)],
        [(Avg(1), Cur), (Identity, Prev)],
        [(Avg(1), Prev), (Avg(1), Prev)],
        [(sep(3, 1), Cur), (Identity, Cur)],
    ],
    out: &[Prev, Comb(0), Comb(1), Comb(2), Comb(3), Comb(4)],
};

/// PNASNet's cells: `PNAS_STEM` (CellStem0), reduction (`is_reduction`) and normal cells.
const PNAS_STEM: CellKind = CellKind {
    combs: [
        [(sep_stem(5, 2), Prev), (MaxConvBn, Prev)],
        [(sep(7, 2), Cur), (Max(2), Cur)],
        [(sep(5, 2), Cur), (sep(3, 2), Cur)],
        [(sep(3, 1), Comb(2)), (Max(2), Cur)],
        [(sep_stem(3, 2), Prev), (ReluConvBn(2), Cur)],
    ],
    out: &[Comb(0), Comb(1), Comb(2), Comb(3), Comb(4)],
};

const PNAS_REDUCTION: CellKind = CellKind {
    combs: [
        [(sep(5, 2), Prev), (Max(2), Prev)],
        [(sep(7, 2), Cur), (Max(2), Cur)],
        [(sep(5, 2), Cur), (sep(3, 2), Cur)],
        [(sep(3, 1), Comb(2)), (Max(2), Cur)],
        [(sep(3, 2), Prev), (ReluConvBn(2), Cur)],
    ],
    out: &[Comb(0), Comb(1), Comb(2), Comb(3), Comb(4)],
};

const PNAS_NORMAL: CellKind = CellKind {
    combs: [
        [(sep(5, 1), Prev), (Max(1), Prev)],
        [(sep(7, 1), Cur), (Max(1), Cur)],
        [(sep(5, 1), Cur), (sep(3, 1), Cur)],
        [(sep(3, 1), Comb(2)), (Max(1), Cur)],
        [(sep(3, 1), Prev), (Identity, Cur)],
    ],
    out: &[Comb(0), Comb(1), Comb(2), Comb(3), Comb(4)],
};

/// How a cell brings its `prev` input to its width.
#[derive(Clone, Copy, Debug)]
enum Prep {
    /// Used as it is (the stem cells' `prev` is the stem convolution's output).
    Raw,
    /// ReLU-1x1-BN named `conv_prev_1x1`.
    ReluConvBn,
    /// The factorised reduction, its modules named under this prefix of the cell's name (NASNet:
    /// none, `{cell}.path_1.conv`; PNASNet: `conv_prev_1x1.`).
    Factorized(&'static str),
}

/// Zero padding (TensorFlow's "SAME") for a `kernel` window at `stride` along a side of `size`:
/// (before, after).
fn same(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let total = ((size.div_ceil(stride) - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}

/// The "SAME" padding of `x` for a `kernel` window at `stride`, per axis.
fn same_padding(g: &GraphBuilder, x: Id, kernel: usize, stride: usize) -> [(usize, usize); 2] {
    let Shape::Map { h, w, .. } = g.shape(x) else { unreachable!("cells read maps") };
    [same(h, kernel, stride), same(w, kernel, stride)]
}

/// timm's `create_conv2d(padding='same')`: symmetric padding at stride 1, otherwise the input padded
/// with zeros first.
fn conv_same(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv) -> Result<Id> {
    if conv.stride == 1 {
        return g.conv(name, x, conv.padding((conv.kernel - 1) / 2));
    }
    let [(top, bottom), (left, right)] = same_padding(g, x, conv.kernel, conv.stride);
    let x =
        if top + bottom + left + right > 0 { g.pad(&format!("{name}.pad"), x, top, bottom, left, right)? } else { x };
    g.conv(name, x, conv.padding(0))
}

/// timm's `create_pool2d(.., padding='same')` for a 3x3 window: at stride 1 a pool padded by 1 (an
/// average leaving the padding out, `count_include_pad=False`); at stride 2 MaxPool2dSame (-inf
/// padding) or AvgPool2dSame (zero padding, counted in the mean).
fn pool_same(g: &mut GraphBuilder, name: &str, x: Id, stride: usize, max: bool) -> Result<Id> {
    if stride == 1 {
        let pool = Pool::new(3, 1, 1).count_include_pad(false);
        return if max { g.max_pool(name, x, pool) } else { g.avg_pool(name, x, pool) };
    }
    let [(top, bottom), (left, right)] = same_padding(g, x, 3, stride);
    let amounts = [top, bottom, left, right].map(|a| a as i32);
    let pool = Pool::new(3, stride, 0).count_include_pad(false);
    let pad = format!("{name}.pad");
    if max {
        let x = g.constant_pad(&pad, x, amounts, f32::NEG_INFINITY)?;
        g.max_pool(name, x, pool)
    } else {
        let x = g.pad(&pad, x, top, bottom, left, right)?;
        g.avg_pool(name, x, pool)
    }
}

/// SeparableConv2d: depthwise k x k at `stride`, pointwise 1x1 to `out` (neither with a bias).
fn separable(g: &mut GraphBuilder, name: &str, x: Id, out: usize, k: usize, stride: usize) -> Result<Id> {
    let c = g.channels(x);
    let x = conv_same(g, &format!("{name}.depthwise_conv2d"), x, Conv::new(c, k, stride).groups(c))?;
    g.conv(&format!("{name}.pointwise_conv2d"), x, Conv::new(out, 1, 1))
}

/// ActConvBn: ReLU (`act`), 1x1 convolution (`conv`), BN (`bn`).
fn relu_conv_bn(g: &mut GraphBuilder, name: &str, x: Id, out: usize, stride: usize) -> Result<Id> {
    let x = g.act(&format!("{name}.act"), x, Act::Relu);
    let x = conv_same(g, &format!("{name}.conv"), x, Conv::new(out, 1, stride))?;
    g.batch_norm_eps(&format!("{name}.bn"), x, EPS)
}

/// timm's factorised reduction to `width` (`prefix` ends in a dot or is empty).
fn factorized(g: &mut GraphBuilder, prefix: &str, x: Id, width: usize) -> Result<Id> {
    let x = g.act(&format!("{prefix}act"), x, Act::Relu);
    let every_other = Pool::new(1, 2, 0).count_include_pad(false);
    let p1 = g.avg_pool(&format!("{prefix}path_1.avgpool"), x, every_other)?;
    let p1 = g.conv(&format!("{prefix}path_1.conv"), p1, Conv::new(width / 2, 1, 1))?;
    let p2 = g.constant_pad(&format!("{prefix}path_2.pad"), x, [-1, 1, -1, 1], 0.0)?;
    let p2 = g.avg_pool(&format!("{prefix}path_2.avgpool"), p2, every_other)?;
    let p2 = g.conv(&format!("{prefix}path_2.conv"), p2, Conv::new(width / 2, 1, 1))?;
    let x = g.concat(&format!("{prefix}paths"), &[p1, p2])?;
    g.batch_norm_eps(&format!("{prefix}final_path_bn"), x, EPS)
}

fn branch(g: &mut GraphBuilder, name: &str, branch: Branch, x: Id, width: usize) -> Result<Id> {
    let p = |s: &str| format!("{name}.{s}");
    match branch {
        Sep { k, stride, stem } => {
            let middle = if stem { width } else { g.channels(x) };
            let x = g.act(&p("act_1"), x, Act::Relu);
            let x = separable(g, &p("separable_1"), x, middle, k, stride)?;
            let x = g.batch_norm_eps(&p("bn_sep_1"), x, EPS)?;
            let x = g.act(&p("act_2"), x, Act::Relu);
            let x = separable(g, &p("separable_2"), x, width, k, 1)?;
            g.batch_norm_eps(&p("bn_sep_2"), x, EPS)
        }
        Max(stride) => pool_same(g, name, x, stride, true),
        Avg(stride) => pool_same(g, name, x, stride, false),
        ReluConvBn(stride) => relu_conv_bn(g, name, x, width, stride),
        MaxConvBn => {
            let x = pool_same(g, &p("max_pool"), x, 2, true)?;
            let x = g.conv(&p("conv"), x, Conv::new(width, 1, 1))?;
            g.batch_norm_eps(&p("bn"), x, EPS)
        }
        Identity => Ok(x),
    }
}

/// One cell of `kind` at `width` on the outputs `prev` and `cur` of the two layers before it.
fn cell(g: &mut GraphBuilder, name: &str, kind: &CellKind, width: usize, prep: Prep, prev: Id, cur: Id) -> Result<Id> {
    let p = |s: &str| format!("{name}.{s}");
    let prev = match prep {
        Prep::Raw => prev,
        Prep::ReluConvBn => relu_conv_bn(g, &p("conv_prev_1x1"), prev, width, 1)?,
        Prep::Factorized(prefix) => factorized(g, &p(prefix), prev, width)?,
    };
    let cur = relu_conv_bn(g, &p("conv_1x1"), cur, width, 1)?;
    let mut combs = Vec::with_capacity(5);
    let input = |from: Src, combs: &[Id]| match from {
        Prev => prev,
        Cur => cur,
        Comb(j) => combs[j],
    };
    for (i, sides) in kind.combs.iter().enumerate() {
        let [(l, lf), (r, rf)] = *sides;
        let left = branch(g, &p(&format!("comb_iter_{i}_left")), l, input(lf, &combs), width)?;
        let right = branch(g, &p(&format!("comb_iter_{i}_right")), r, input(rf, &combs), width)?;
        combs.push(g.add(&p(&format!("comb_iter_{i}")), left, right)?);
    }
    let outs: Vec<Id> = kind.out.iter().map(|&from| input(from, &combs)).collect();
    g.concat(&p("cat"), &outs)
}

/// ConvNormAct without the activation: 3x3 stride 2, no padding, BN.
fn stem(g: &mut GraphBuilder, name: &str, x: Id) -> Result<Id> {
    let x = g.conv(&format!("{name}.conv"), x, Conv::new(STEM_WIDTH, 3, 2).padding(0))?;
    g.batch_norm_eps(&format!("{name}.bn"), x, EPS)
}

fn head(g: &mut GraphBuilder, x: Id, classes: usize) -> Result<Id> {
    let x = g.act("act", x, Act::Relu);
    g.classifier("last_linear", x, "global_pool", classes)
}

/// `nasnetalarge`: stem cells at widths 42 and 84, then three stacks of six normal cells at 168,
/// 336 and 672 (6 x width out), the second and third opened by a reduction cell. A cell takes
/// (`cur`, `prev`) = (the last output, the one before), except that the cell after a reduction
/// takes the reduction's `prev` (timm's forward), through a factorised reduction.
fn nasnet(spec: &Spec) -> Result<Graph> {
    let (mut builder, input) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let g = &mut builder;
    let conv0 = stem(g, "conv0", input)?;
    let stem0 = cell(g, "cell_stem_0", &NAS_REDUCTION, 42, Prep::Raw, conv0, conv0)?;
    let stem1 = cell(g, "cell_stem_1", &NAS_REDUCTION, 84, Prep::Factorized(""), conv0, stem0)?;
    let (mut prev, mut x) = (stem0, stem1);
    for (stage, width) in [168, 336, 672].into_iter().enumerate() {
        if stage > 0 {
            x = cell(g, &format!("reduction_cell_{}", stage - 1), &NAS_REDUCTION, width, Prep::ReluConvBn, prev, x)?;
        }
        for i in 0..6 {
            let prep = if i == 0 { Prep::Factorized("") } else { Prep::ReluConvBn };
            let out = cell(g, &format!("cell_{}", 6 * stage + i), &NAS_NORMAL, width, prep, prev, x)?;
            (prev, x) = (x, out);
        }
    }
    head(g, x, spec.classes)?;
    Ok(builder.finish())
}

/// `pnasnet5large`: stem cells at widths 54 and 108, then three stacks of four cells at 216, 432
/// and 864 (5 x width out), the second and third opened by a reduction cell. A cell reads the two
/// outputs before it; the one right after a reduction brings `prev` down by a factorised reduction.
fn pnasnet(spec: &Spec) -> Result<Graph> {
    let (mut builder, input) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let g = &mut builder;
    let conv0 = stem(g, "conv_0", input)?;
    let factorized = Prep::Factorized("conv_prev_1x1.");
    let stem0 = cell(g, "cell_stem_0", &PNAS_STEM, 54, Prep::Raw, conv0, conv0)?;
    let stem1 = cell(g, "cell_stem_1", &PNAS_REDUCTION, 108, factorized, conv0, stem0)?;
    let (mut prev, mut x) = (stem0, stem1);
    let mut after_reduction = true;
    for (stage, width) in [216, 432, 864].into_iter().enumerate() {
        for i in 0..4 {
            let reduction = stage > 0 && i == 0;
            let kind = if reduction { &PNAS_REDUCTION } else { &PNAS_NORMAL };
            let prep = if after_reduction { factorized } else { Prep::ReluConvBn };
            let out = cell(g, &format!("cell_{}", 4 * stage + i), kind, width, prep, prev, x)?;
            (prev, x, after_reduction) = (x, out, reduction);
        }
    }
    head(g, x, spec.classes)?;
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::count::total_macs;

    #[test]
    fn same_padding_is_tensorflows() {
        // Odd maps pad evenly, even maps one more after; a 1x1 stride-2 window needs none.
        assert_eq!(same(165, 3, 2), (1, 1));
        assert_eq!(same(42, 3, 2), (0, 1));
        assert_eq!(same(42, 7, 2), (2, 3));
        assert_eq!(same(83, 5, 2), (2, 2));
        assert_eq!(same(42, 1, 2), (0, 0));
        assert_eq!(same(1, 7, 2), (3, 3));
    }

    /// Both models at timm's default 331 (165, 83, 42, 21, 11 after each halving): the parameters of
    /// timm 1.0.31 and fvcore's MACs (fixtures/timm/reference_zoo.json; every op is a convolution,
    /// batch norm, the pool or the linear layer, so the count is exact).
    #[test]
    fn the_default_models_are_timms() {
        for (name, params, macs) in
            [("pnasnet5large", 86_057_668, 25_044_134_676), ("nasnetalarge", 88_753_150, 23_886_348_558)]
        {
            let graph = crate::catalog::find(name).unwrap().graph(&Spec::imagenet(331)).unwrap();
            assert_eq!(graph.params(), params, "{name}");
            assert_eq!(total_macs(&graph), macs, "{name}");
        }
    }

    /// NASNet's shift (`ZeroPad2d((-1, 1, -1, 1))`) crops the first row and column and appends zeros,
    /// also on a 1x1 map (all cropped); a SAME max pool's -inf padding never wins.
    #[test]
    fn constant_padding_crops_and_pads_as_pytorch() {
        use crate::catalog::net::Net;
        use burn::tensor::{Device, Tensor, TensorData};
        let run = |size: usize, amounts: [i32; 4], value: f32, data: Vec<f32>| -> Vec<f32> {
            let (mut g, x) = GraphBuilder::new(1, size, size);
            let y = g.constant_pad("pad", x, amounts, value).unwrap();
            let y = g.max_pool("pool", y, Pool::new(1, 1, 0)).unwrap();
            g.flatten("flatten", y).unwrap();
            let device = Device::flex();
            let net = Net::new(g.finish(), &device);
            let x = Tensor::<4>::from_data(TensorData::new(data, [1, 1, size, size]), &device);
            net.forward(x).into_data().iter::<f32>().collect()
        };
        let nine: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        assert_eq!(run(3, [-1, 1, -1, 1], 0.0, nine.clone()), [5.0, 6.0, 0.0, 8.0, 9.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(run(1, [-1, 1, -1, 1], 0.0, vec![7.0]), [0.0]);
        let padded = run(2, [0, 1, 0, 1], f32::NEG_INFINITY, vec![-1.0, -2.0, -3.0, -4.0]);
        assert_eq!(padded[..2], [-1.0, -2.0]);
        assert!(padded[2] == f32::NEG_INFINITY && padded[8] == f32::NEG_INFINITY, "{padded:?}");
        // A SAME max pool over negative values: the -inf padding is never the maximum.
        let (mut g, x) = GraphBuilder::new(1, 2, 2);
        let y = pool_same(&mut g, "pool", x, 2, true).unwrap();
        g.flatten("flatten", y).unwrap();
        let device = Device::flex();
        let net = Net::new(g.finish(), &device);
        let x = Tensor::<4>::from_data(TensorData::new(vec![-1.0f32, -2.0, -3.0, -4.0], [1, 1, 2, 2]), &device);
        assert_eq!(net.forward(x).into_data().iter::<f32>().collect::<Vec<_>>(), [-1.0]);
        // Too much cropped is a clear error.
        let (mut g, x) = GraphBuilder::new(1, 1, 1);
        assert!(g.constant_pad("shift", x, [-2, 1, 0, 0], 0.0).unwrap_err().message.starts_with("shift: cannot pad"));
    }

    #[test]
    fn the_smallest_input_is_3() {
        for name in ["pnasnet5large", "nasnetalarge"] {
            let entry = crate::catalog::find(name).unwrap();
            let err = entry.graph(&Spec::new(1, 7, 2)).unwrap_err();
            assert!(err.message.starts_with(&format!("{name} at 1x2x2: conv")), "{err}");
            assert_eq!(entry.graph(&Spec::new(1, 7, 3)).unwrap().output(), Shape::Vector { d: 7 });
        }
    }
}
