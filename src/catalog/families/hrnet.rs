//! timm's HRNet (timm/models/hrnet.py) with its classification head: a stem of two 3x3 stride-2
//! convs, a stage of bottlenecks, then stages of parallel branches at 1/4, 1/8, 1/16 and 1/32 of the
//! input (basic blocks), where each module ends by fusing every branch into every other (1x1 conv +
//! batch norm + nearest upsampling from a coarser branch, chains of strided 3x3 convs from a finer
//! one, summed, ReLU). Transitions add a new branch from the coarsest one with a strided 3x3 conv.
//! The head widens each branch with a bottleneck (`incre_modules`), folds them from fine to coarse
//! with strided 3x3 convs (with bias), a 1x1 conv to 2048 (`final_layer`), pooling and `classifier`.
//! Blocks are timm's ResNet BasicBlock and Bottleneck.

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

/// (modules, blocks per branch, widths) per stage 2..4; stage 1 is four bottlenecks of width 64.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub stages: [(usize, usize, &'static [usize]); 3],
}

const HRNET_W18: Config = Config { stages: [(1, 4, &[18, 36]), (4, 4, &[18, 36, 72]), (3, 4, &[18, 36, 72, 144])] };

pub static ENTRIES: &[Entry] = &[Entry {
    name: "hrnet_w18",
    family: "hrnet",
    kind: ModelKind::Cnn,
    efficient: false,
    paper: "https://arxiv.org/abs/1908.07919",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&HRNET_W18, spec),
}];

fn conv_bn(g: &mut GraphBuilder, name: &str, x: Id, conv: Conv, relu: bool) -> Result<Id> {
    g.conv_bn_act(&format!("{name}.0"), &format!("{name}.1"), x, conv, relu.then_some(Act::Relu))
}

/// timm's ResNet BasicBlock (`expansion` 1) or Bottleneck (4) with a 1x1 conv + batch norm
/// projection where the width changes.
fn block(g: &mut GraphBuilder, name: &str, x: Id, planes: usize, bottleneck: bool) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let relu = Some(Act::Relu);
    let out = if bottleneck { planes * 4 } else { planes };
    let y = if bottleneck {
        let y = g.conv_bn_act(&n("conv1"), &n("bn1"), x, Conv::new(planes, 1, 1), relu)?;
        let y = g.conv_bn_act(&n("conv2"), &n("bn2"), y, Conv::new(planes, 3, 1), relu)?;
        g.conv_bn_act(&n("conv3"), &n("bn3"), y, Conv::new(out, 1, 1), None)?
    } else {
        let y = g.conv_bn_act(&n("conv1"), &n("bn1"), x, Conv::new(planes, 3, 1), relu)?;
        g.conv_bn_act(&n("conv2"), &n("bn2"), y, Conv::new(planes, 3, 1), None)?
    };
    let shortcut = if g.channels(x) != out {
        let s = g.conv(&n("downsample.0"), x, Conv::new(out, 1, 1))?;
        g.batch_norm(&n("downsample.1"), s)?
    } else {
        x
    };
    let y = g.add(&n("add"), y, shortcut)?;
    Ok(g.act(&n("act"), y, Act::Relu))
}

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let relu = Some(Act::Relu);
    let x = g.conv_bn_act("conv1", "bn1", x, Conv::new(64, 3, 2), relu)?;
    let mut x = g.conv_bn_act("conv2", "bn2", x, Conv::new(64, 3, 2), relu)?;
    for i in 0..4 {
        x = block(&mut g, &format!("layer1.{i}"), x, 64, true)?;
    }
    let mut branches = vec![x];
    for (s, &(modules, blocks, widths)) in config.stages.iter().enumerate() {
        // transition{s+1}: adapt existing branches, add the new one from the coarsest.
        let t = format!("transition{}", s + 1);
        let previous = branches.len();
        let mut next = Vec::with_capacity(widths.len());
        for (i, &w) in widths.iter().enumerate() {
            if i < previous {
                let b = branches[i];
                next.push(if g.channels(b) != w {
                    conv_bn(&mut g, &format!("{t}.{i}"), b, Conv::new(w, 3, 1), true)?
                } else {
                    b
                });
            } else {
                // timm's stage 1 output feeds transition1's new branch directly; later ones take the coarsest.
                let src = if s == 0 { branches[0] } else { branches[previous - 1] };
                next.push(conv_bn(&mut g, &format!("{t}.{i}.0"), src, Conv::new(w, 3, 2), true)?);
            }
        }
        branches = next;
        for m in 0..modules {
            branches = hr_module(&mut g, &format!("stage{}.{m}", s + 2), branches, blocks)?;
        }
    }
    // Classification head.
    let head = [32, 64, 128, 256];
    let mut y: Option<Id> = None;
    for (i, &b) in branches.iter().enumerate() {
        let inc = block(&mut g, &format!("incre_modules.{i}.0"), b, head[i], true)?;
        y = Some(match y {
            None => inc,
            Some(prev) => {
                let conv = Conv::new(head[i] * 4, 3, 2).bias(true);
                let down = conv_bn(&mut g, &format!("downsamp_modules.{}", i - 1), prev, conv, true)?;
                g.add(&format!("incre_modules.{i}.add"), inc, down)?
            }
        });
    }
    let y = conv_bn(&mut g, "final_layer", y.expect("four branches"), Conv::new(2048, 1, 1).bias(true), true)?;
    g.classifier("classifier", y, "global_pool.pool", spec.classes)?;
    Ok(g.finish())
}

/// HighResolutionModule: the branches' basic blocks, then every output fused from every branch.
fn hr_module(g: &mut GraphBuilder, name: &str, inputs: Vec<Id>, blocks: usize) -> Result<Vec<Id>> {
    let mut outs = Vec::with_capacity(inputs.len());
    for (b, &x) in inputs.iter().enumerate() {
        let width = g.channels(x);
        let mut x = x;
        for k in 0..blocks {
            x = block(g, &format!("{name}.branches.{b}.{k}"), x, width, false)?;
        }
        outs.push(x);
    }
    let mut fused = Vec::with_capacity(outs.len());
    for i in 0..outs.len() {
        let wi = g.channels(outs[i]);
        let mut y: Option<Id> = None;
        for (j, &xj) in outs.iter().enumerate() {
            let f = format!("{name}.fuse_layers.{i}.{j}");
            let term = if j > i {
                let t = conv_bn(g, &f, xj, Conv::new(wi, 1, 1), false)?;
                g.upsample_nearest(&format!("{f}.2"), t, 1 << (j - i))?
            } else if j == i {
                xj
            } else {
                let wj = g.channels(xj);
                let mut t = xj;
                for k in 0..i - j {
                    let last = k == i - j - 1;
                    t = conv_bn(g, &format!("{f}.{k}"), t, Conv::new(if last { wi } else { wj }, 3, 2), !last)?;
                }
                t
            };
            y = Some(match y {
                None => term,
                Some(acc) => g.add(&format!("{name}.fuse.{i}.{j}"), acc, term)?,
            });
        }
        let y = y.expect("at least one branch");
        fused.push(g.act(&format!("{name}.fuse_act.{i}"), y, Act::Relu));
    }
    Ok(fused)
}
