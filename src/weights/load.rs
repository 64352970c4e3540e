//! A state dict (timm's key names) into a catalog network: checked key by key against the graph,
//! the stem adapted to other input channels and the head re-initialised for another class count,
//! as timm does when it loads pretrained weights; and the reverse, a network out as a state dict.
//!
//! All or nothing: the new network is built in full before the caller gets it, and any problem
//! with the keys is reported before a single tensor is assigned.

use std::collections::BTreeSet;
use std::fmt;

use anyhow::{Result, bail};
use burn::module::{Param, RunningState};
use burn::tensor::{Device, Tensor as BurnTensor, TensorData};

use super::tensors::{StateDict, Tensor};
use crate::catalog::Graph;
use crate::catalog::graph::{Id, Op};
use crate::catalog::net::{Layer, Net};

/// What was changed on the way in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Stem input channels: (the checkpoint's, the model's), when they differ.
    pub stem_adapted: Option<(String, usize, usize)>,
    /// Classifier classes: (the checkpoint's, the model's), when they differ and the head was re-initialised.
    pub head_reinitialised: Option<(String, usize, usize)>,
    /// Tensors assigned.
    pub tensors: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} tensors loaded", self.tensors)?;
        if let Some((name, from, to)) = &self.stem_adapted {
            let how = if *to == 1 { "summed over its input channels" } else { "repeated and rescaled by 3/C" };
            write!(f, "; stem {name} adapted from {from} to {to} input channels ({how}, as timm does)")?;
        }
        if let Some((name, from, to)) = &self.head_reinitialised {
            write!(f, "; classifier {name} re-initialised for {to} classes (the checkpoint has {from})")?;
        }
        Ok(())
    }
}

/// Every key a state dict for `graph` holds, with its shape: the learnable tensors of
/// [`Graph::state_dict`] plus batch norm's running mean and variance.
pub fn expected_keys(graph: &Graph) -> Vec<(String, Vec<usize>)> {
    let mut keys = graph.state_dict();
    for node in &graph.nodes {
        if let Op::BatchNorm { .. } = node.op {
            let c = graph.input_of(node).features();
            keys.push((format!("{}.running_mean", node.name), vec![c]));
            keys.push((format!("{}.running_var", node.name), vec![c]));
        }
    }
    keys
}

/// The stem: the first convolution (plain or weight-standardised) reading the input image, directly
/// or through "SAME" zero padding.
pub fn stem(graph: &Graph) -> Option<&str> {
    let reads_image = |inputs: &[Id]| {
        inputs == [Id(0)]
            || inputs.len() == 1
                && matches!(graph.node(inputs[0]).op, Op::Pad { .. })
                && graph.node(inputs[0]).inputs == [Id(0)]
    };
    graph
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::Conv2d(_) | Op::StdConv2d { .. }) && reads_image(&n.inputs))
        .map(|n| n.name.as_str())
}

/// The classifier head: the linear layer producing the output, or (DLA) a 1x1 convolution followed
/// only by a flatten.
pub fn head(graph: &Graph) -> Option<&str> {
    let last = graph.nodes.last()?;
    match &last.op {
        Op::Linear { .. } => Some(last.name.as_str()),
        Op::Flatten => {
            let before = graph.node(*last.inputs.first()?);
            matches!(&before.op, Op::Conv2d(conv) if conv.kernel == 1).then_some(before.name.as_str())
        }
        _ => None,
    }
}

fn shape_text(shape: &[usize]) -> String {
    format!("[{}]", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

/// Lists at most this many keys per kind of problem, then says how many more.
const LIST_LIMIT: usize = 12;

fn list(lines: &[String]) -> String {
    let mut text = lines.iter().take(LIST_LIMIT).cloned().collect::<Vec<_>>().join(", ");
    if lines.len() > LIST_LIMIT {
        text += &format!(", and {} more", lines.len() - LIST_LIMIT);
    }
    text
}

/// timm's `adapt_input_conv`: 1 channel sums the weights over the checkpoint's channels; other
/// counts repeat the 3 RGB channels and rescale by 3/C. A 1-channel checkpoint is repeated to C
/// channels and scaled by 1/C (a grey image copied to every channel then gives the same response).
pub fn adapt_input_conv(weight: &Tensor, channels: usize) -> Option<Tensor> {
    let [o, i, kh, kw] = weight.shape[..] else { return None };
    let plane = kh * kw;
    let at = |oc: usize, ic: usize| &weight.data[(oc * i + ic) * plane..(oc * i + ic + 1) * plane];
    let mut data = Vec::with_capacity(o * channels * plane);
    if channels == i {
        return Some(weight.clone());
    } else if channels == 1 {
        for oc in 0..o {
            data.extend((0..plane).map(|p| (0..i).map(|ic| at(oc, ic)[p]).sum::<f32>()));
        }
    } else if i == 3 || i == 1 {
        let scale = i as f32 / channels as f32;
        for oc in 0..o {
            for c in 0..channels {
                data.extend(at(oc, c % i).iter().map(|v| v * scale));
            }
        }
    } else {
        return None;
    }
    Some(Tensor::new(vec![o, channels, kh, kw], data))
}

/// Checks `state` against `graph` and returns the tensors to assign, adapted: the stem's weight
/// for the model's input channels; the head left out (so it keeps its fresh initialisation) when
/// the class counts differ. Errors list every missing, unexpected and mis-shaped key.
pub fn prepare(graph: &Graph, state: &StateDict) -> Result<(StateDict, Report)> {
    let expected = expected_keys(graph);
    let stem_weight = stem(graph).map(|s| format!("{s}.weight"));
    let head_name = head(graph).map(str::to_string);
    let head_keys: Vec<String> = head_name.iter().flat_map(|h| [format!("{h}.weight"), format!("{h}.bias")]).collect();
    let mut report = Report::default();
    let mut missing = Vec::new();
    let mut misshaped = Vec::new();
    let mut out = StateDict::new();

    // A head whose input width matches but class count differs is re-initialised (both tensors).
    let head_differs = head_keys.iter().any(|key| {
        let Some((_, want)) = expected.iter().find(|(k, _)| k == key) else { return false };
        match state.get(key) {
            Some(t) if t.shape != *want => {
                let same_input = t.shape.len() == want.len() && t.shape[1..] == want[1..];
                if same_input && key.ends_with(".weight") {
                    report.head_reinitialised = Some((head_name.clone().unwrap_or_default(), t.shape[0], want[0]));
                }
                same_input
            }
            _ => false,
        }
    });

    for (key, want) in &expected {
        let Some(have) = state.get(key) else {
            missing.push(format!("{key} {}", shape_text(want)));
            continue;
        };
        if head_differs && head_keys.contains(key) {
            continue;
        }
        if have.shape == *want {
            out.insert(key.clone(), have.clone());
            continue;
        }
        if Some(key) == stem_weight.as_ref()
            && have.shape.len() == 4
            && have.shape[0] == want[0]
            && have.shape[2..] == want[2..]
            && let Some(adapted) = adapt_input_conv(have, want[1])
        {
            report.stem_adapted = Some((key.trim_end_matches(".weight").to_string(), have.shape[1], want[1]));
            out.insert(key.clone(), adapted);
            continue;
        }
        misshaped.push(format!("{key}: checkpoint {} vs model {}", shape_text(&have.shape), shape_text(want)));
    }
    let known: BTreeSet<&str> = expected.iter().map(|(k, _)| k.as_str()).collect();
    let unexpected: Vec<String> = state
        .iter()
        .filter(|(k, _)| !known.contains(k.as_str()) && !k.ends_with("num_batches_tracked"))
        .map(|(k, t)| format!("{k} {}", shape_text(&t.shape)))
        .collect();
    if !(missing.is_empty() && unexpected.is_empty() && misshaped.is_empty()) {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("{} missing keys: {}", missing.len(), list(&missing)));
        }
        if !unexpected.is_empty() {
            parts.push(format!("{} unexpected keys: {}", unexpected.len(), list(&unexpected)));
        }
        if !misshaped.is_empty() {
            parts.push(format!("{} mis-shaped keys: {}", misshaped.len(), list(&misshaped)));
        }
        bail!("the weights do not fit the model: {}", parts.join("; "));
    }
    report.tensors = out.len();
    Ok((out, report))
}

fn param<const D: usize>(t: &Tensor, device: &Device) -> Param<BurnTensor<D>> {
    Param::from_data(TensorData::new(t.data.clone(), t.shape.clone()), device)
}

fn tensor<const D: usize>(t: &Tensor, device: &Device) -> BurnTensor<D> {
    BurnTensor::from_data(TensorData::new(t.data.clone(), t.shape.clone()), device)
}

/// PyTorch keeps a linear weight as `[out, in]`; burn's default layout is `[in, out]`.
fn transpose(t: &Tensor) -> Tensor {
    let [rows, cols] = t.shape[..] else { unreachable!("a linear weight is 2-D") };
    let mut data = vec![0.0; t.data.len()];
    for r in 0..rows {
        for c in 0..cols {
            data[c * rows + r] = t.data[r * cols + c];
        }
    }
    Tensor::new(vec![cols, rows], data)
}

/// Loads `state` into `net` (a freshly initialised network of the same graph, which supplies the
/// head when it is re-initialised). Nothing is assigned when the check fails.
pub fn load_into(net: Net, state: &StateDict, device: &Device) -> Result<(Net, Report)> {
    let (tensors, report) = prepare(net.graph(), state)?;
    let mut net = net;
    let plan = net.plan.clone();
    let mut layers = std::mem::take(&mut net.layers).into_iter();
    let mut loaded = Vec::with_capacity(layers.len());
    for node in plan.graph.nodes.iter().filter(|n| n.op.has_params()) {
        let mut layer = layers.next().expect("one layer per node with parameters");
        let key = |suffix: &str| {
            let k = if suffix.is_empty() { node.name.clone() } else { format!("{}.{suffix}", node.name) };
            tensors.get(&k)
        };
        match &mut layer {
            Layer::Conv(conv) => {
                if let Some(w) = key("weight") {
                    conv.weight = param(w, device);
                }
                if let (Some(b), Some(slot)) = (key("bias"), conv.bias.as_mut()) {
                    *slot = param(b, device);
                }
            }
            Layer::BatchNorm(bn) => {
                if let Some(w) = key("weight") {
                    bn.gamma = param(w, device);
                }
                if let Some(b) = key("bias") {
                    bn.beta = param(b, device);
                }
                if let Some(m) = key("running_mean") {
                    bn.running_mean = RunningState::new(tensor(m, device));
                }
                if let Some(v) = key("running_var") {
                    bn.running_var = RunningState::new(tensor(v, device));
                }
            }
            Layer::LayerNorm(ln) => {
                if let Some(w) = key("weight") {
                    ln.gamma = param(w, device);
                }
                if let (Some(b), Some(slot)) = (key("bias"), ln.beta.as_mut()) {
                    *slot = param(b, device);
                }
            }
            Layer::Linear(linear) => {
                if let Some(w) = key("weight") {
                    linear.weight = param(&transpose(w), device);
                }
                if let (Some(b), Some(slot)) = (key("bias"), linear.bias.as_mut()) {
                    *slot = param(b, device);
                }
            }
            Layer::Vector(v) => {
                if let Some(t) = key("") {
                    *v = param(t, device);
                }
            }
            Layer::Tokens(v) => {
                if let Some(t) = key("") {
                    *v = param(t, device);
                }
            }
            Layer::StdConv(conv) => {
                if let Some(w) = key("weight") {
                    conv.weight = param(w, device);
                }
                if let Some(b) = key("bias") {
                    conv.bias = param(b, device);
                }
                if let Some(g) = key("gain") {
                    conv.gain = param(g, device);
                }
            }
            Layer::Kernel1d(v) => {
                if let Some(t) = key("weight") {
                    *v = param(t, device);
                }
            }
            Layer::RelPos(pos) => {
                if let Some(t) = key("pos_embed.height_rel") {
                    pos.height_rel = param(t, device);
                }
                if let Some(t) = key("pos_embed.width_rel") {
                    pos.width_rel = param(t, device);
                }
            }
            Layer::Scalar(v) => {
                if let Some(t) = key("") {
                    // PyTorch's 0-d tensor, held as one element.
                    *v = param(&Tensor::new(vec![1], t.data.clone()), device);
                }
            }
            Layer::LambdaTable(v) => {
                if let Some(t) = key("pos_emb") {
                    *v = param(t, device);
                }
            }
            Layer::LambdaConv(conv) => {
                if let Some(t) = key("conv_lambda.weight") {
                    // PyTorch's Conv3d weight [K, 1, r, r, 1], held without its last axis.
                    conv.weight = param(&Tensor::new(t.shape[..4].to_vec(), t.data.clone()), device);
                }
                if let Some(t) = key("conv_lambda.bias") {
                    conv.bias = param(t, device);
                }
            }
            // Window attention's own tensors, held flat in the order of `window_tensors`.
            Layer::Tensors(own) => {
                let qkv = plan.graph.input_of(node).features();
                for ((suffix, _), slot) in node.op.window_tensors(qkv).into_iter().zip(own.iter_mut()) {
                    if let Some(t) = key(suffix) {
                        *slot = param(&Tensor::new(vec![t.data.len()], t.data.clone()), device);
                    }
                }
            }
            Layer::Temperature(v) => {
                if let Some(t) = key("temperature") {
                    *v = param(t, device);
                }
            }
            Layer::Lstm2d(lstm) => {
                for (axis, dirs) in [("rnn_v", &mut lstm.rnn_v), ("rnn_h", &mut lstm.rnn_h)] {
                    for (dir, suffix) in dirs.iter_mut().zip(["", "_reverse"]) {
                        let part = |name: &str| key(&format!("{axis}.{name}_l0{suffix}"));
                        if let Some(t) = part("weight_ih") {
                            dir.weight_ih = param(t, device);
                        }
                        if let Some(t) = part("weight_hh") {
                            dir.weight_hh = param(t, device);
                        }
                        if let Some(t) = part("bias_ih") {
                            dir.bias_ih = param(t, device);
                        }
                        if let Some(t) = part("bias_hh") {
                            dir.bias_hh = param(t, device);
                        }
                    }
                }
            }
        }
        loaded.push(layer);
    }
    net.layers = loaded;
    Ok((net, report))
}

fn values<const D: usize>(t: BurnTensor<D>) -> Tensor {
    let shape = t.dims().to_vec();
    Tensor::new(shape, t.into_data().iter::<f32>().collect())
}

/// The network's weights as a state dict with timm's key names (running statistics included).
pub fn state_dict_of(net: &Net) -> StateDict {
    let mut state = StateDict::new();
    let nodes = net.graph().nodes.iter().filter(|n| n.op.has_params());
    for (node, layer) in nodes.zip(&net.layers) {
        let mut put = |suffix: &str, t: Tensor| {
            let k = if suffix.is_empty() { node.name.clone() } else { format!("{}.{suffix}", node.name) };
            state.insert(k, t);
        };
        match layer {
            Layer::Conv(conv) => {
                put("weight", values(conv.weight.val()));
                if let Some(b) = &conv.bias {
                    put("bias", values(b.val()));
                }
            }
            Layer::BatchNorm(bn) => {
                put("weight", values(bn.gamma.val()));
                put("bias", values(bn.beta.val()));
                put("running_mean", values(bn.running_mean.value()));
                put("running_var", values(bn.running_var.value()));
            }
            Layer::LayerNorm(ln) => {
                put("weight", values(ln.gamma.val()));
                if let Some(b) = &ln.beta {
                    put("bias", values(b.val()));
                }
            }
            Layer::Linear(linear) => {
                put("weight", transpose(&values(linear.weight.val())));
                if let Some(b) = &linear.bias {
                    put("bias", values(b.val()));
                }
            }
            Layer::Vector(v) => put("", values(v.val())),
            Layer::Tokens(v) => put("", values(v.val())),
            Layer::StdConv(conv) => {
                put("weight", values(conv.weight.val()));
                put("bias", values(conv.bias.val()));
                put("gain", values(conv.gain.val()));
            }
            Layer::Scalar(v) => put("", Tensor::new(vec![], values(v.val()).data)),
            Layer::Kernel1d(v) => put("weight", values(v.val())),
            Layer::RelPos(pos) => {
                put("pos_embed.height_rel", values(pos.height_rel.val()));
                put("pos_embed.width_rel", values(pos.width_rel.val()));
            }
            Layer::LambdaTable(v) => put("pos_emb", values(v.val())),
            Layer::LambdaConv(conv) => {
                let weight = values(conv.weight.val());
                put("conv_lambda.weight", Tensor::new([&weight.shape[..], &[1]].concat(), weight.data));
                put("conv_lambda.bias", values(conv.bias.val()));
            }
            Layer::Tensors(own) => {
                let qkv = net.graph().input_of(node).features();
                for ((suffix, shape), t) in node.op.window_tensors(qkv).into_iter().zip(own) {
                    put(suffix, Tensor::new(shape, values(t.val()).data));
                }
            }
            Layer::Temperature(v) => put("temperature", values(v.val())),
            Layer::Lstm2d(lstm) => {
                for (axis, dirs) in [("rnn_v", &lstm.rnn_v), ("rnn_h", &lstm.rnn_h)] {
                    for (dir, suffix) in dirs.iter().zip(["", "_reverse"]) {
                        put(&format!("{axis}.weight_ih_l0{suffix}"), values(dir.weight_ih.val()));
                        put(&format!("{axis}.weight_hh_l0{suffix}"), values(dir.weight_hh.val()));
                        put(&format!("{axis}.bias_ih_l0{suffix}"), values(dir.bias_ih.val()));
                        put(&format!("{axis}.bias_hh_l0{suffix}"), values(dir.bias_hh.val()));
                    }
                }
            }
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::graph::{Conv, GraphBuilder};

    fn tiny(channels: usize, classes: usize) -> Graph {
        let (mut g, x) = GraphBuilder::new(channels, 6, 6);
        let x = g.conv("stem", x, Conv::new(4, 3, 1)).unwrap();
        let x = g.batch_norm("bn", x).unwrap();
        g.classifier("fc", x, "pool", classes).unwrap();
        g.finish()
    }

    fn filled(graph: &Graph, start: f32) -> StateDict {
        let mut next = start;
        expected_keys(graph)
            .into_iter()
            .map(|(k, shape)| {
                let n: usize = shape.iter().product();
                let data = (0..n).map(|_| {
                    next += 0.25;
                    next
                });
                let data: Vec<f32> = data.collect();
                (k, Tensor::new(shape, data))
            })
            .collect()
    }

    #[test]
    fn input_conv_adapts_like_timm() {
        // 1 output, 3 input channels, 1x1 kernel: weights 1, 2, 3.
        let w = Tensor::new(vec![1, 3, 1, 1], vec![1.0, 2.0, 3.0]);
        assert_eq!(adapt_input_conv(&w, 1).unwrap().data, vec![6.0]);
        // 4 channels: R G B R, times 3/4.
        assert_eq!(adapt_input_conv(&w, 4).unwrap().data, vec![0.75, 1.5, 2.25, 0.75]);
        assert_eq!(adapt_input_conv(&w, 2).unwrap().data, vec![1.5, 3.0]);
        let grey = Tensor::new(vec![1, 1, 1, 1], vec![6.0]);
        assert_eq!(adapt_input_conv(&grey, 3).unwrap().data, vec![2.0, 2.0, 2.0]);
        assert!(adapt_input_conv(&Tensor::new(vec![1, 2, 1, 1], vec![1.0, 2.0]), 3).is_none());
    }

    #[test]
    fn round_trip_through_a_network_is_exact() {
        let device = Device::flex();
        let graph = tiny(3, 5);
        let state = filled(&graph, 0.0);
        let (net, report) = load_into(Net::new(graph, &device), &state, &device).unwrap();
        assert_eq!(report.tensors, state.len());
        assert_eq!((report.stem_adapted.clone(), report.head_reinitialised.clone()), (None, None));
        assert_eq!(state_dict_of(&net), state);
    }

    #[test]
    fn weight_standardised_convs_and_scalar_gains_round_trip() {
        let device = Device::flex();
        let (mut g, x) = GraphBuilder::new(3, 6, 6);
        let x = g.pad("stem.pad", x, 0, 1, 0, 1).unwrap();
        let x = g.std_conv("stem", x, Conv::new(4, 3, 2).padding(0).bias(true), 1e-5).unwrap();
        let x = g.scalar_gain("gain", x);
        g.classifier("fc", x, "pool", 5).unwrap();
        let graph = g.finish();
        assert_eq!(stem(&graph), Some("stem"));
        let state = filled(&graph, 0.0);
        assert_eq!(state["stem.gain"].shape, vec![4, 1, 1, 1]);
        assert_eq!(state["gain"].shape, Vec::<usize>::new());
        let (net, report) = load_into(Net::new(graph, &device), &state, &device).unwrap();
        assert_eq!(report.tensors, state.len());
        assert_eq!(state_dict_of(&net), state);
    }

    #[test]
    fn lambda_tables_and_local_convs_round_trip() {
        use crate::catalog::graph::LambdaPos;
        let device = Device::flex();
        let (mut g, x) = GraphBuilder::new(3, 4, 4);
        let qkv = g.conv("attn.qkv", x, Conv::new(2 * 2 + 2 + 3, 1, 1)).unwrap();
        let q = g.slice_channels("attn.split_q", qkv, 0, 4).unwrap();
        let k = g.slice_channels("attn.split_k", qkv, 4, 2).unwrap();
        let v = g.slice_channels("attn.split_v", qkv, 6, 3).unwrap();
        let rel = g.lambda("rel", q, k, v, 2, LambdaPos::Relative).unwrap();
        let local = g.lambda("local", q, k, v, 2, LambdaPos::Local { r: 3 }).unwrap();
        let y = g.add("add", rel, local).unwrap();
        g.classifier("fc", y, "pool", 5).unwrap();
        let graph = g.finish();
        let state = filled(&graph, 0.0);
        assert_eq!(state["rel.pos_emb"].shape, vec![7, 7, 2]);
        // PyTorch's Conv3d weight keeps its trailing axis of 1.
        assert_eq!(state["local.conv_lambda.weight"].shape, vec![2, 1, 3, 3, 1]);
        let (net, report) = load_into(Net::new(graph, &device), &state, &device).unwrap();
        assert_eq!(report.tensors, state.len());
        assert_eq!(state_dict_of(&net), state);
    }

    #[test]
    fn stem_and_head_adapt_and_the_rest_is_kept() {
        let device = Device::flex();
        let state = filled(&tiny(3, 5), 0.0);
        let fresh = Net::new(tiny(1, 2), &device);
        let fresh_head = state_dict_of(&fresh)["fc.weight"].clone();
        let (net, report) = load_into(fresh, &state, &device).unwrap();
        assert_eq!(report.stem_adapted, Some(("stem".into(), 3, 1)));
        assert_eq!(report.head_reinitialised, Some(("fc".into(), 5, 2)));
        let text = report.to_string();
        assert!(text.contains("re-initialised for 2 classes (the checkpoint has 5)"), "{text}");
        let loaded = state_dict_of(&net);
        assert_eq!(loaded["fc.weight"], fresh_head);
        assert_eq!(loaded["bn.running_var"], state["bn.running_var"]);
        assert_eq!(loaded["stem.weight"], adapt_input_conv(&state["stem.weight"], 1).unwrap());
    }

    #[test]
    fn bad_keys_are_all_listed_with_shapes() {
        let device = Device::flex();
        let graph = tiny(3, 5);
        let mut state = filled(&graph, 0.0);
        state.remove("bn.running_mean");
        state.insert("extra.weight".into(), Tensor::new(vec![2], vec![0.0, 1.0]));
        state.insert("bn.weight".into(), Tensor::new(vec![3], vec![0.0; 3]));
        state.insert("bn.num_batches_tracked".into(), Tensor::new(vec![], vec![0.0]));
        let err = load_into(Net::new(graph, &device), &state, &device).unwrap_err().to_string();
        assert!(err.contains("1 missing keys: bn.running_mean [4]"), "{err}");
        assert!(err.contains("1 unexpected keys: extra.weight [2]"), "{err}");
        assert!(err.contains("1 mis-shaped keys: bn.weight: checkpoint [3] vs model [4]"), "{err}");
        assert!(!err.contains("num_batches_tracked"), "{err}");
    }
}
