//! What a training run has to compute, from the catalog's analytic count: forward work per sample by
//! layer kind (MACs for convolution, depthwise/grouped convolution, linear, attention and
//! normalisation; tensor elements for everything else: activations, pooling, additions, the input
//! batch), and how many samples, steps and epochs it takes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::graph::{Graph, Op};
use crate::catalog::{self, Spec};
use crate::data::DatasetInfo;

/// The layer kinds the calibration measures one cost for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Convolution,
    Depthwise,
    Linear,
    Attention,
    Normalisation,
    /// Work counted in tensor elements, not MACs: activations, pooling, additions, the input batch.
    Elementwise,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::Convolution, Kind::Depthwise, Kind::Linear, Kind::Attention, Kind::Normalisation, Kind::Elementwise];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Convolution => "convolution",
            Kind::Depthwise => "depthwise",
            Kind::Linear => "linear",
            Kind::Attention => "attention",
            Kind::Normalisation => "normalisation",
            Kind::Elementwise => "elementwise",
        }
    }

    /// The unit of its work.
    pub fn unit(self) -> &'static str {
        if self == Kind::Elementwise { "elements" } else { "MACs" }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Forward work of one sample by kind, from the graph that is executed. MACs follow the catalog's
/// fvcore-convention counter; a grouped convolution counts as depthwise.
pub fn work_per_sample(graph: &Graph) -> BTreeMap<Kind, u64> {
    let mut work: BTreeMap<Kind, u64> = BTreeMap::new();
    *work.entry(Kind::Elementwise).or_default() += graph.input().elements();
    for node in &graph.nodes {
        let input = graph.input_of(node);
        let macs = catalog::count::node_macs(&node.op, input, node.output);
        let (kind, amount) = match &node.op {
            Op::Input => continue,
            Op::Conv2d(conv) if conv.groups > 1 => (Kind::Depthwise, macs),
            Op::Conv2d(_) => (Kind::Convolution, macs),
            Op::Linear { .. } => (Kind::Linear, macs),
            Op::Attention { .. } | Op::CrossAttention { .. } | Op::GroupedAttention { .. } => (Kind::Attention, macs),
            Op::Lambda { .. } | Op::BilinearTransform { .. } => (Kind::Attention, macs),
            Op::PartitionAttention { .. } | Op::SwinAttention { .. } => (Kind::Attention, macs),
            Op::BatchNorm { .. } | Op::LayerNorm { .. } | Op::GroupNorm1 { .. } => (Kind::Normalisation, macs),
            // Views cost (almost) nothing.
            Op::Flatten | Op::MapToTokens | Op::FirstToken => continue,
            Op::AdaptiveAvgPool { .. } => (Kind::Elementwise, input.elements()),
            Op::XcaAttention { .. } => (Kind::Attention, macs),
            // fvcore counts LSTMs as 0; the time they take is their real products.
            Op::Lstm2d { hidden, .. } => (Kind::Linear, catalog::count::lstm2d_macs(*hidden, input)),
            _ => (Kind::Elementwise, node.output.elements().max(input.elements())),
        };
        *work.entry(kind).or_default() += amount;
    }
    work
}

/// Everything the time model needs about one run, kept in the run's stored estimate so a later
/// calibration can re-price it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub epochs: u32,
    pub batch_size: u32,
    /// Training samples per epoch (after the data fraction).
    pub train_samples: u64,
    /// Test samples evaluated after every epoch.
    pub test_samples: u64,
    /// Parameters the optimiser updates.
    pub params: u64,
    /// Forward work per sample by kind name (MACs, or elements for `elementwise`).
    pub work: BTreeMap<String, u64>,
    /// Forward MACs of the classifier head (the last linear layer): all that trains when the
    /// backbone is frozen.
    pub head_macs: u64,
    /// Layers (graph nodes) run per step, each with a fixed cost.
    #[serde(default)]
    pub nodes: u64,
    #[serde(default)]
    pub frozen_backbone: bool,
    /// Channels, height, width of the network's input.
    pub input: [usize; 3],
}

impl Workload {
    pub fn amount(&self, kind: Kind) -> u64 {
        self.work.get(kind.name()).copied().unwrap_or(0)
    }

    pub fn steps_per_epoch(&self) -> u64 {
        self.train_samples.div_ceil(self.batch_size.max(1) as u64)
    }

    /// Forward MACs per sample, all kinds but elementwise.
    pub fn macs(&self) -> u64 {
        Kind::ALL.iter().filter(|k| **k != Kind::Elementwise).map(|k| self.amount(*k)).sum()
    }
}

/// Layers of a graph that run as ops (everything but the input).
pub fn nodes(graph: &Graph) -> u64 {
    graph.nodes.len().saturating_sub(1) as u64
}

/// The settings a workload depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct RunShape {
    pub arch: String,
    pub epochs: usize,
    pub batch_size: usize,
    pub fraction: f64,
    pub frozen_backbone: bool,
}

/// The input an architecture gets for a dataset, as training chooses it (`train::input_for`), from
/// the dataset's description alone: its own size when the architecture takes it, else the
/// architecture's default size.
pub fn graph_for(entry: &catalog::Entry, info: &DatasetInfo) -> Result<Graph, String> {
    let classes = info.classes.len();
    match entry.graph(&Spec::new(info.channels, classes, info.size)) {
        Ok(graph) => Ok(graph),
        Err(_) if entry.default_size > info.size => {
            entry.graph(&Spec::new(info.channels, classes, entry.default_size)).map_err(|e| e.message)
        }
        Err(own) => Err(own.message),
    }
}

/// Training samples after a stratified subset of `fraction`: each class keeps round(n x f), at
/// least one. `class_counts` when known (a loaded dataset), else the split size as one class.
pub fn subset_size(train: usize, class_counts: Option<&[usize]>, fraction: f64) -> u64 {
    if fraction >= 1.0 {
        return train as u64;
    }
    let keep = |n: usize| if n == 0 { 0 } else { ((n as f64 * fraction).round() as usize).clamp(1, n) };
    match class_counts {
        Some(counts) => counts.iter().map(|&n| keep(n) as u64).sum(),
        None => keep(train) as u64,
    }
}

/// The workload of training `shape.arch` on a dataset described by `info`, with `train_samples`
/// per epoch.
pub fn workload(shape: &RunShape, info: &DatasetInfo, train_samples: u64) -> Result<Workload, String> {
    let entry = catalog::find(&shape.arch).ok_or_else(|| format!("no architecture named {:?}", shape.arch))?;
    if shape.epochs == 0 || shape.batch_size == 0 {
        return Err("epochs and batch size must be at least 1".into());
    }
    let graph = graph_for(entry, info).map_err(|e| format!("{} cannot take {}: {e}", entry.name, info.name))?;
    let input = match graph.input() {
        crate::catalog::graph::Shape::Map { c, h, w } => [c, h, w],
        other => [other.features(), 1, 1],
    };
    let head_macs = graph
        .nodes
        .iter()
        .rev()
        .find(|n| matches!(n.op, Op::Linear { .. }))
        .map(|n| catalog::count::node_macs(&n.op, graph.input_of(n), n.output))
        .unwrap_or(0);
    let params = if shape.frozen_backbone {
        graph.nodes.iter().rev().find(|n| matches!(n.op, Op::Linear { .. })).map_or(0, |n| n.params(graph.input_of(n)))
    } else {
        graph.params()
    };
    Ok(Workload {
        epochs: shape.epochs as u32,
        batch_size: shape.batch_size as u32,
        train_samples,
        test_samples: info.splits[2] as u64,
        params,
        work: work_per_sample(&graph).into_iter().map(|(k, v)| (k.name().to_string(), v)).collect(),
        head_macs,
        nodes: nodes(&graph),
        frozen_backbone: shape.frozen_backbone,
        input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::graph::{Act, Conv, GraphBuilder};

    #[test]
    fn work_is_split_by_kind_and_sums_to_the_mac_count() {
        let (mut g, x) = GraphBuilder::new(8, 4, 4);
        let x = g.conv("conv", x, Conv::new(8, 3, 1)).unwrap();
        let x = g.conv("dw", x, Conv::new(8, 3, 1).groups(8)).unwrap();
        let x = g.batch_norm("bn", x).unwrap();
        let x = g.act("relu", x, Act::Relu);
        let x = g.adaptive_avg_pool("gap", x, 1, 1).unwrap();
        let x = g.flatten("flatten", x).unwrap();
        g.linear("fc", x, 10, true).unwrap();
        let graph = g.finish();
        let work = work_per_sample(&graph);
        assert_eq!(work[&Kind::Convolution], 8 * 16 * 8 * 9);
        assert_eq!(work[&Kind::Depthwise], 8 * 16 * 9);
        assert_eq!(work[&Kind::Normalisation], 2 * 8 * 16);
        assert_eq!(work[&Kind::Linear], 8 * 10);
        // input 128 + relu 128 + pooling reads 128
        assert_eq!(work[&Kind::Elementwise], 3 * 128);
        let macs: u64 = work.iter().filter(|(k, _)| **k != Kind::Elementwise).map(|(_, v)| v).sum();
        assert_eq!(macs + 128, crate::catalog::count::total_macs(&graph), "pooling MACs count as elements here");
    }

    #[test]
    fn subsets_round_per_class_and_keep_one() {
        assert_eq!(subset_size(2000, None, 1.0), 2000);
        assert_eq!(subset_size(2000, None, 0.25), 500);
        assert_eq!(subset_size(10, Some(&[3, 3, 4]), 0.1), 3, "every class keeps one");
        assert_eq!(subset_size(10, Some(&[5, 5]), 0.5), 6, "2.5 rounds to 3 per class");
    }

    #[test]
    fn workload_of_a_catalog_model_on_the_synthetic_set() {
        let info = crate::data::synthetic::info(28, 1, 0);
        let shape =
            RunShape { arch: "pepr_lenet5".into(), epochs: 2, batch_size: 32, fraction: 1.0, frozen_backbone: false };
        let w = workload(&shape, &info, 2000).unwrap();
        assert_eq!((w.steps_per_epoch(), w.test_samples, w.input), (63, info.splits[2] as u64, [1, 28, 28]));
        assert!(w.amount(Kind::Convolution) > 0 && w.amount(Kind::Linear) > 0 && w.head_macs > 0);
        let bad = RunShape { arch: "nope".into(), ..shape.clone() };
        assert!(workload(&bad, &info, 2000).unwrap_err().contains("nope"));
        let frozen = RunShape { frozen_backbone: true, ..shape };
        assert!(workload(&frozen, &info, 2000).unwrap().params < w.params);
    }
}
