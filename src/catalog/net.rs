//! The burn module that executes a [`Graph`]: one layer per node with parameters, and a forward
//! pass that walks the nodes in order. Parameter counts come from this module (burn's
//! `num_params`), independently of the graph's own analytic count.

use std::sync::Arc;

use burn::module::{Initializer, Module, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::module::{adaptive_avg_pool2d, avg_pool2d, conv1d, conv2d, interpolate, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, InterpolateMode, InterpolateOptions, MaxPoolOptions, PadMode};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData, activation};

use super::graph::{Act, Graph, Id, Interp, LambdaPos, Op, Shape};

/// The parameters of one node.
#[derive(Module, Debug)]
pub enum Layer {
    Conv(Conv2d),
    BatchNorm(BatchNorm),
    LayerNorm(LayerNorm),
    Linear(Linear),
    /// A per-channel vector (layer scale).
    Vector(Param<Tensor<1>>),
    /// A `1 x n x d` token tensor (class token, position embedding).
    Tokens(Param<Tensor<3>>),
    /// A scaled weight-standardised convolution (NFNet).
    StdConv(StdConv),
    /// One learned scalar, kept as a 1-element vector (NFNet's skipinit gain; a 0-d tensor in PyTorch).
    Scalar(Param<Tensor<1>>),
    /// A `[1, 1, kernel]` 1-D convolution weight (ECA).
    Kernel1d(Param<Tensor<3>>),
    /// Relative position tables (timm's PosEmbedRel of BottleneckAttn).
    RelPos(RelPos),
    /// A lambda layer's relative position table `pos_emb` `[2H - 1, 2W - 1, dim_qk]`.
    LambdaTable(Param<Tensor<3>>),
    /// A lambda layer's local position convolution `conv_lambda`.
    LambdaConv(LambdaConv),
    /// A window attention's own tensors (relative position bias table or MLP, Swin V2's logit scale and
    /// q/v biases), flat, in the order and PyTorch shapes of [`Op::window_tensors`].
    Tensors(Vec<Param<Tensor<1>>>),
    /// Cross-covariance attention's per-head `temperature` `[heads, 1, 1]` (EdgeNeXt).
    Temperature(Param<Tensor<3>>),
    /// Sequencer2D's column and row bidirectional LSTMs.
    Lstm2d(Lstm2d),
}

/// timm's `conv_lambda`, a `Conv3d(1, dim_qk, (r, r, 1))`: its weight held as `[dim_qk, 1, r, r]` (the
/// trailing 1 dropped; PyTorch's `[dim_qk, 1, r, r, 1]` in a state dict), and its bias.
#[derive(Module, Debug)]
pub struct LambdaConv {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
}

/// One direction of a one-layer `nn.LSTM`, in PyTorch's packed layout (gates i, f, g, o stacked).
#[derive(Module, Debug)]
pub struct LstmWeights {
    /// `[4 x hidden, in]`
    pub weight_ih: Param<Tensor<2>>,
    /// `[4 x hidden, hidden]`
    pub weight_hh: Param<Tensor<2>>,
    pub bias_ih: Param<Tensor<1>>,
    pub bias_hh: Param<Tensor<1>>,
}

/// LSTM2d's two bidirectional LSTMs, each `[forward, reverse]`.
#[derive(Module, Debug)]
pub struct Lstm2d {
    pub rnn_v: Vec<LstmWeights>,
    pub rnn_h: Vec<LstmWeights>,
}

/// A bidirectional LSTM's two runs over `x`: forward, then reverse.
fn both_ways(x: Tensor<3>, dirs: &[LstmWeights]) -> Vec<(Tensor<3>, &LstmWeights, bool)> {
    vec![(x.clone(), &dirs[0], false), (x, &dirs[1], true)]
}

/// Runs several one-layer LSTMs at once (PyTorch's `nn.LSTM` recurrence, zero initial state) on
/// sequences of one shape `[S, T, C]`, each with its own weights and direction, batched so each
/// time step is one matrix product for all of them. Returns each one's hidden states `[S, T, H]` in
/// the input's time order.
fn lstms(runs: Vec<(Tensor<3>, &LstmWeights, bool)>) -> Vec<Tensor<3>> {
    let k = runs.len();
    let [s, t, c] = runs[0].0.dims();
    let hidden = runs[0].1.weight_hh.val().dims()[1];
    // The input projections of every step at once: [k, S, T, 4H], reverse runs flipped in time.
    let mut projected = Vec::with_capacity(k);
    let mut recurrent = Vec::with_capacity(k);
    for (x, weights, reverse) in &runs {
        let bias = (weights.bias_ih.val() + weights.bias_hh.val()).reshape([1, 4 * hidden]);
        let p = x.clone().reshape([s * t, c]).matmul(weights.weight_ih.val().transpose()) + bias;
        let p = p.reshape([s, t, 4 * hidden]);
        let p = if *reverse { p.flip([1]) } else { p };
        projected.push(p.unsqueeze_dim::<4>(0));
        recurrent.push(weights.weight_hh.val().transpose().unsqueeze_dim::<3>(0));
    }
    let projected = Tensor::cat(projected, 0);
    let recurrent = Tensor::cat(recurrent, 0); // [k, H, 4H]
    let device = projected.device();
    let mut h = Tensor::<3>::zeros([k, s, hidden], &device);
    let mut cell = Tensor::<3>::zeros([k, s, hidden], &device);
    let mut outputs = Vec::with_capacity(t);
    for step in 0..t {
        let gates = projected.clone().narrow(2, step, 1).reshape([k, s, 4 * hidden]) + h.matmul(recurrent.clone());
        let sig = activation::sigmoid(gates.clone());
        let (i, f, o) = (
            sig.clone().narrow(2, 0, hidden),
            sig.clone().narrow(2, hidden, hidden),
            sig.narrow(2, 3 * hidden, hidden),
        );
        let g = gates.narrow(2, 2 * hidden, hidden).tanh();
        cell = f * cell + i * g;
        h = o * cell.clone().tanh();
        outputs.push(h.clone().unsqueeze_dim::<4>(2));
    }
    let all = Tensor::cat(outputs, 2); // [k, S, T, H]
    runs.iter()
        .enumerate()
        .map(|(r, (_, _, reverse))| {
            let out = all.clone().narrow(0, r, 1).reshape([s, t, hidden]);
            if *reverse { out.flip([1]) } else { out }
        })
        .collect()
}

/// `height_rel` `[2H - 1, d]` and `width_rel` `[2W - 1, d]`.
#[derive(Module, Debug)]
pub struct RelPos {
    pub height_rel: Param<Tensor<2>>,
    pub width_rel: Param<Tensor<2>>,
}

/// Relative position logits for queries `q` `[batch, H, W, d]` over a `kh x kw` key grid: entry (y, x),
/// (y', x') of the result `[batch, H x W, kh x kw]` is q(y, x) · height_rel[y' - y + kh - 1] + q(y, x) ·
/// width_rel[x' - x + kw - 1] (timm's `rel_logits_1d` per axis, its pad-and-reshape indexing done here by
/// gathering the table).
fn rel_logits(q: Tensor<4>, height_rel: Tensor<2>, width_rel: Tensor<2>, kh: usize, kw: usize) -> Tensor<3> {
    let [b, h, w, d] = q.dims();
    let device = q.device();
    // [queries, keys, d]: row i, column j holds table[j - i + keys - 1].
    let spread = |table: Tensor<2>, queries: usize, keys: usize| -> Tensor<3> {
        let index: Vec<i64> = (0..queries).flat_map(|i| (0..keys).map(move |j| (j + keys - 1 - i) as i64)).collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [queries * keys]), &device);
        table.select(0, index).reshape([queries, keys, d])
    };
    // Along the width: per column x, [b x H, d] x [d, kw].
    let qw = q.clone().permute([2, 0, 1, 3]).reshape([w, b * h, d]);
    let lw = qw.matmul(spread(width_rel, w, kw).swap_dims(1, 2)).reshape([w, b, h, kw]).permute([1, 2, 0, 3]);
    // Along the height: per row y, [b x W, d] x [d, kh].
    let qh = q.permute([1, 0, 2, 3]).reshape([h, b * w, d]);
    let lh = qh.matmul(spread(height_rel, h, kh).swap_dims(1, 2)).reshape([h, b, w, kh]).swap_dims(0, 1);
    let lw = lw.reshape([b, h, w, 1, kw]).expand([b, h, w, kh, kw]);
    let lh = lh.reshape([b, h, w, kh, 1]).expand([b, h, w, kh, kw]);
    (lw + lh).reshape([b, h * w, kh * kw])
}

/// Rows (or columns, `dim` 3) `start + step x i + t` of a padded map, for each window i and offset t
/// < `window` (PyTorch's `unfold(dim, window, step)`, laid out windows first).
fn unfold(t: Tensor<4>, dim: usize, windows: usize, window: usize, step: usize) -> Tensor<4> {
    let index: Vec<i64> = (0..windows).flat_map(|i| (0..window).map(move |o| (i * step + o) as i64)).collect();
    let index = Tensor::<1, Int>::from_data(TensorData::new(index, [windows * window]), &t.device());
    t.select(dim, index)
}

/// timm's ScaledStdConv2d: weight `[out, in / groups, kh, kw]`, bias `[out]`, gain `[out, 1, 1, 1]`.
#[derive(Module, Debug)]
pub struct StdConv {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    pub gain: Param<Tensor<4>>,
}

impl StdConv {
    /// The weight as applied: standardised per output channel as `F.batch_norm` in training mode
    /// does it (biased variance, `eps` inside the root), times gain x fan-in^-1/2.
    pub fn standardised_weight(&self, eps: f64) -> Tensor<4> {
        let w = self.weight.val();
        let [o, i, kh, kw] = w.dims();
        let fan = i * kh * kw;
        let flat = w.reshape([o, fan]);
        let (var, mean) = flat.clone().var_mean_bias(1);
        let gain = self.gain.val().reshape([o, 1]).mul_scalar((fan as f64).powf(-0.5));
        ((flat - mean) / (var + eps).sqrt() * gain).reshape([o, i, kh, kw])
    }
}

/// What the forward pass needs besides parameters: the graph, which layer each node uses, and
/// the last node that reads each value (so it can be dropped early).
#[derive(Debug)]
pub struct Plan {
    pub graph: Graph,
    layer_of: Vec<Option<usize>>,
    last_use: Vec<usize>,
}

/// A catalog architecture as a burn module.
#[derive(Module, Debug)]
pub struct Net {
    pub layers: Vec<Layer>,
    #[module(skip)]
    pub plan: Arc<Plan>,
}

/// One value flowing through the graph (batch first).
#[derive(Clone, Debug)]
enum Value {
    Map(Tensor<4>),
    Tokens(Tensor<3>),
    Vector(Tensor<2>),
}

impl Value {
    fn map(self) -> Tensor<4> {
        match self {
            Value::Map(t) => t,
            other => panic!("expected a feature map, got {other:?}"),
        }
    }

    fn tokens(self) -> Tensor<3> {
        match self {
            Value::Tokens(t) => t,
            other => panic!("expected tokens, got {other:?}"),
        }
    }
}

fn act<const D: usize>(t: Tensor<D>, act: Act) -> Tensor<D> {
    match act {
        Act::Relu => activation::relu(t),
        Act::Relu6 => activation::relu6(t),
        Act::Silu => activation::silu(t),
        Act::Gelu => activation::gelu(t),
        Act::HardSwish => activation::hard_swish(t),
        // relu6(x + 3) / 6 == clamp(x / 6 + 1/2, 0, 1)
        Act::HardSigmoid => activation::hard_sigmoid(t, 1.0 / 6.0, 0.5),
        Act::Sigmoid => activation::sigmoid(t),
        Act::LeakyRelu => activation::leaky_relu(t, 0.01),
    }
}

/// timm's LayerNorm2d: each position's channels normalised, as burn's LayerNorm on channels-last
/// rows. In training the rows are made contiguous once (the reshape copies the permuted view):
/// burn's autodiff runs LayerNorm as several tensor ops, and on the strided view each of them,
/// forward and backward, copied it again (those copies were 15% of a convnext_atto training step).
/// In inference LayerNorm is one burn-flex kernel, which reads the view in place.
fn layer_norm_2d(ln: &LayerNorm, x: Tensor<4>) -> Tensor<4> {
    if !x.device().is_autodiff() {
        // The NHWC view as it is: burn-flex normalizes it in place and returns the same layout,
        // so the permute back is a plain NCHW tensor (no transposing copy either way).
        return ln.forward(x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2]);
    }
    let [b, c, h, w] = x.dims();
    let rows = x.permute([0, 2, 3, 1]).reshape([b * h * w, c]);
    ln.forward(rows).reshape([b, h, w, c]).permute([0, 3, 1, 2])
}

/// burn's `BatchNorm::forward`, except that training feeds the running variance the unbiased batch
/// variance (n / (n - 1) times the biased one, n = values per channel), as PyTorch's `BatchNorm2d`
/// does; burn feeds it the biased one, so eval-mode statistics drifted from timm's (most where n is
/// small: batch 32 at 1 x 1 makes the running variance 3% too small). Same momentum and output.
fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return bn.forward(x);
    }
    let [batch, _, height, width] = x.dims();
    let n = batch * height * width;
    let device = x.device();
    let out = burn::tensor::module::batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon);
    // PyTorch refuses n = 1 in training; the biased variance (0) is the least surprising stand-in.
    let unbiased = if n > 1 { n as f64 / (n - 1) as f64 } else { 1.0 };
    let m = bn.momentum;
    let mean = bn.running_mean.value_sync().to_device(&device).mul_scalar(1.0 - m);
    let var = bn.running_var.value_sync().to_device(&device).mul_scalar(1.0 - m);
    bn.running_mean.update(mean.add(out.mean.detach().mul_scalar(m)).detach());
    bn.running_var.update(var.add(out.variance.detach().mul_scalar(m * unbiased)).detach());
    out.output
}

impl Net {
    /// Creates the module with freshly initialised parameters (lazily: nothing is allocated until
    /// a parameter is first used).
    pub fn new(graph: Graph, device: &Device) -> Net {
        let mut layers = Vec::new();
        let mut layer_of = vec![None; graph.nodes.len()];
        for (i, node) in graph.nodes.iter().enumerate() {
            let input = graph.input_of(node);
            let c = input.features();
            let layer = match &node.op {
                Op::Conv2d(conv) => Layer::Conv(
                    Conv2dConfig::new([c, conv.out], [conv.kernel, conv.kernel_w])
                        .with_stride([conv.stride, conv.stride])
                        .with_dilation([conv.dilation, conv.dilation])
                        .with_groups(conv.groups)
                        .with_padding(PaddingConfig2d::Explicit(
                            conv.padding,
                            conv.padding_w,
                            conv.padding,
                            conv.padding_w,
                        ))
                        .with_bias(conv.bias)
                        .init(device),
                ),
                Op::BatchNorm { eps } => Layer::BatchNorm(BatchNormConfig::new(c).with_epsilon(*eps).init(device)),
                Op::LayerNorm { eps } => Layer::LayerNorm(LayerNormConfig::new(c).with_epsilon(*eps).init(device)),
                // A per-channel scale and shift, kept as a LayerNorm's (same keys, same loader).
                Op::GroupNorm1 { eps } => Layer::LayerNorm(LayerNormConfig::new(c).with_epsilon(*eps).init(device)),
                Op::Linear { out, bias } => Layer::Linear(LinearConfig::new(c, *out).with_bias(*bias).init(device)),
                Op::LayerScale => Layer::Vector(Initializer::Constant { value: 1e-6 }.init([c], device)),
                Op::ClassToken => Layer::Tokens(Initializer::Normal { mean: 0.0, std: 1e-6 }.init([1, 1, c], device)),
                Op::PositionEmbedding => {
                    let Shape::Tokens { n, d } = node.output else { unreachable!("checked by the builder") };
                    Layer::Tokens(Initializer::Normal { mean: 0.0, std: 0.02 }.init([1, n, d], device))
                }
                Op::StdConv2d { conv, .. } => {
                    let weight = Initializer::Normal { mean: 0.0, std: 1.0 };
                    Layer::StdConv(StdConv {
                        weight: weight.init([conv.out, c / conv.groups, conv.kernel, conv.kernel_w], device),
                        bias: Initializer::Zeros.init([conv.out], device),
                        gain: Initializer::Ones.init([conv.out, 1, 1, 1], device),
                    })
                }
                // timm starts the residual branch switched off (skipinit).
                Op::ScalarGain => Layer::Scalar(Initializer::Zeros.init([1], device)),
                // PyTorch's Conv1d default: uniform in ±1/sqrt(fan_in).
                Op::ChannelConv { kernel } => {
                    let bound = 1.0 / (*kernel as f64).sqrt();
                    Layer::Kernel1d(Initializer::Uniform { min: -bound, max: bound }.init([1, 1, *kernel], device))
                }
                // timm's reset_parameters: normal with the attention's scale, head_qk^-1/2.
                Op::RelPosAttention { head_qk, .. } | Op::HaloAttention { head_qk, .. } => {
                    let (h, w) = match (&node.op, input) {
                        (Op::HaloAttention { block, halo, .. }, _) => (block + 2 * halo, block + 2 * halo),
                        (_, Shape::Map { h, w, .. }) => (h, w),
                        _ => unreachable!("checked by the builder"),
                    };
                    let init = Initializer::Normal { mean: 0.0, std: (*head_qk as f64).powf(-0.5) };
                    Layer::RelPos(RelPos {
                        height_rel: init.init([2 * h - 1, *head_qk], device),
                        width_rel: init.init([2 * w - 1, *head_qk], device),
                    })
                }
                // LambdaLayer.reset_parameters: the table trunc-normal(0.02), the convolution's weight
                // trunc-normal(dim_qk^-1/2), its bias PyTorch's default.
                Op::Lambda { dim_qk, pos: LambdaPos::Relative, .. } => {
                    let Shape::Map { h, w, .. } = input else { unreachable!("checked by the builder") };
                    let init = Initializer::Normal { mean: 0.0, std: 0.02 };
                    Layer::LambdaTable(init.init([2 * h - 1, 2 * w - 1, *dim_qk], device))
                }
                Op::Lambda { dim_qk, pos: LambdaPos::Local { r }, .. } => {
                    let bound = 1.0 / *r as f64;
                    Layer::LambdaConv(LambdaConv {
                        weight: Initializer::Normal { mean: 0.0, std: (*dim_qk as f64).powf(-0.5) }
                            .init([*dim_qk, 1, *r, *r], device),
                        bias: Initializer::Uniform { min: -bound, max: bound }.init([*dim_qk], device),
                    })
                }
                Op::PartitionAttention { .. } | Op::SwinAttention { .. } => {
                    let tensors = node.op.window_tensors(c).into_iter().map(|(suffix, shape)| {
                        let n = shape.iter().product::<usize>();
                        let init = match suffix {
                            "logit_scale" => Initializer::Constant { value: 10f64.ln() },
                            s if s.ends_with("bias") => Initializer::Zeros,
                            _ => Initializer::Normal { mean: 0.0, std: 0.02 },
                        };
                        init.init([n], device)
                    });
                    Layer::Tensors(tensors.collect())
                }
                Op::XcaAttention { heads } => Layer::Temperature(Initializer::Ones.init([*heads, 1, 1], device)),
                // nn.LSTM's reset_parameters: every tensor uniform in ±1/sqrt(hidden).
                Op::Lstm2d { hidden, .. } => {
                    let bound = 1.0 / (*hidden as f64).sqrt();
                    let init = Initializer::Uniform { min: -bound, max: bound };
                    let dir = || LstmWeights {
                        weight_ih: init.init([4 * hidden, c], device),
                        weight_hh: init.init([4 * hidden, *hidden], device),
                        bias_ih: init.init([4 * hidden], device),
                        bias_hh: init.init([4 * hidden], device),
                    };
                    Layer::Lstm2d(Lstm2d { rnn_v: vec![dir(), dir()], rnn_h: vec![dir(), dir()] })
                }
                _ => continue,
            };
            layer_of[i] = Some(layers.len());
            layers.push(layer);
        }
        let mut last_use: Vec<usize> = (0..graph.nodes.len()).collect();
        for (i, node) in graph.nodes.iter().enumerate() {
            for input in &node.inputs {
                last_use[input.0] = i;
            }
        }
        Net { layers, plan: Arc::new(Plan { graph, layer_of, last_use }) }
    }

    /// Learnable parameters, counted by visiting the module. burn's `num_params` also counts batch
    /// norm's running mean and variance, which PyTorch (and so timm) keeps as buffers, not parameters.
    pub fn trainable_params(&self) -> u64 {
        let mut counter = TrainableCounter::default();
        self.visit(&mut counter);
        counter.count
    }

    pub fn graph(&self) -> &Graph {
        &self.plan.graph
    }

    fn layer(&self, node: usize) -> &Layer {
        &self.layers[self.plan.layer_of[node].expect("node has parameters")]
    }

    /// Logits for a batch of images `[batch, channels, height, width]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let graph = &self.plan.graph;
        let mut values: Vec<Option<Value>> = vec![None; graph.nodes.len()];
        values[0] = Some(Value::Map(images));
        for (i, node) in graph.nodes.iter().enumerate().skip(1) {
            // Take a value on its last use, clone (a cheap handle copy) otherwise.
            let mut take = |id: Id| -> Value {
                if self.plan.last_use[id.0] == i {
                    values[id.0].take().expect("value computed before use")
                } else {
                    values[id.0].clone().expect("value computed before use")
                }
            };
            let inputs: Vec<Value> = node.inputs.iter().map(|&id| take(id)).collect();
            let out = self.apply(i, &node.op, inputs);
            values[i] = Some(out);
        }
        match values.pop().flatten() {
            Some(Value::Vector(logits)) => logits,
            other => panic!("the graph must end in a vector, got {other:?}"),
        }
    }

    fn apply(&self, i: usize, op: &Op, mut inputs: Vec<Value>) -> Value {
        let x = inputs.remove(0);
        match op {
            Op::Input => x,
            Op::Conv2d(_) => match self.layer(i) {
                Layer::Conv(conv) => Value::Map(conv.forward(x.map())),
                _ => unreachable!(),
            },
            Op::BatchNorm { .. } => match self.layer(i) {
                Layer::BatchNorm(bn) => Value::Map(batch_norm(bn, x.map())),
                _ => unreachable!(),
            },
            Op::LayerNorm { .. } => {
                let Layer::LayerNorm(ln) = self.layer(i) else { unreachable!() };
                match x {
                    // timm's LayerNorm2d: normalise over channels at each position.
                    Value::Map(t) => Value::Map(layer_norm_2d(ln, t)),
                    Value::Tokens(t) => Value::Tokens(ln.forward(t)),
                    Value::Vector(t) => Value::Vector(ln.forward(t)),
                }
            }
            Op::Linear { .. } => {
                let Layer::Linear(linear) = self.layer(i) else { unreachable!() };
                match x {
                    Value::Tokens(t) => Value::Tokens(linear.forward(t)),
                    Value::Vector(t) => Value::Vector(linear.forward(t)),
                    Value::Map(_) => unreachable!("checked by the builder"),
                }
            }
            Op::Act(a) => match x {
                Value::Map(t) => Value::Map(act(t, *a)),
                Value::Tokens(t) => Value::Tokens(act(t, *a)),
                Value::Vector(t) => Value::Vector(act(t, *a)),
            },
            Op::MaxPool(p) => Value::Map(max_pool2d(
                x.map(),
                MaxPoolOptions {
                    kernel_size: [p.kernel; 2],
                    stride: [p.stride; 2],
                    padding: [(p.padding, p.padding); 2],
                    dilation: [1, 1],
                    ceil_mode: p.ceil_mode,
                },
            )),
            Op::AvgPool(p) => Value::Map(avg_pool2d(
                x.map(),
                AvgPoolOptions {
                    kernel_size: [p.kernel; 2],
                    stride: [p.stride; 2],
                    padding: [(p.padding, p.padding); 2],
                    count_include_pad: p.count_include_pad,
                    ceil_mode: p.ceil_mode,
                },
            )),
            Op::AdaptiveAvgPool { h, w } => Value::Map(adaptive_avg_pool2d(x.map(), [*h, *w])),
            Op::SpatialMean => Value::Map(x.map().mean_dims(&[2, 3])),
            Op::TokenMean => Value::Vector(x.tokens().mean_dim(1).squeeze_dim::<2>(1)),
            Op::FirstToken => Value::Vector(x.tokens().narrow(1, 0, 1).squeeze_dim::<2>(1)),
            Op::Flatten => Value::Vector(x.map().flatten::<2>(1, 3)),
            Op::MapToTokens => Value::Tokens(x.map().flatten::<3>(2, 3).swap_dims(1, 2)),
            Op::TransposeTokens => Value::Tokens(x.tokens().swap_dims(1, 2)),
            Op::ClassToken => {
                let Layer::Tokens(token) = self.layer(i) else { unreachable!() };
                let t = x.tokens();
                let [batch, _, d] = t.dims();
                let cls = token.val().expand([batch, 1, d]);
                Value::Tokens(Tensor::cat(vec![cls, t], 1))
            }
            Op::PositionEmbedding => {
                let Layer::Tokens(pos) = self.layer(i) else { unreachable!() };
                Value::Tokens(x.tokens() + pos.val())
            }
            Op::Attention { heads } => {
                let qkv = x.tokens();
                let [batch, n, d3] = qkv.dims();
                let d = d3 / 3;
                let hd = d / heads;
                // [B, N, 3, H, hd] -> [3, B, H, N, hd], as timm's Attention.
                let qkv = qkv.reshape([batch, n, 3, *heads, hd]).permute([2, 0, 3, 1, 4]);
                let part = |k: usize| qkv.clone().narrow(0, k, 1).reshape([batch, *heads, n, hd]);
                let (q, k, v) = (part(0), part(1), part(2));
                let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(1.0 / (hd as f64).sqrt());
                let out = activation::softmax(scores, 3).matmul(v);
                Value::Tokens(out.swap_dims(1, 2).reshape([batch, n, d]))
            }
            Op::LayerScale => {
                let Layer::Vector(gamma) = self.layer(i) else { unreachable!() };
                let g = gamma.val();
                let c = g.dims()[0];
                match x {
                    Value::Map(t) => Value::Map(t * g.reshape([1, c, 1, 1])),
                    Value::Tokens(t) => Value::Tokens(t * g.reshape([1, 1, c])),
                    Value::Vector(t) => Value::Vector(t * g.reshape([1, c])),
                }
            }
            Op::Add => match (x, inputs.remove(0)) {
                (Value::Map(a), Value::Map(b)) => Value::Map(a + b),
                (Value::Tokens(a), Value::Tokens(b)) => Value::Tokens(a + b),
                (Value::Vector(a), Value::Vector(b)) => Value::Vector(a + b),
                _ => unreachable!("checked by the builder"),
            },
            Op::Gate => Value::Map(x.map() * inputs.remove(0).map()),
            Op::Concat => {
                let mut maps = vec![x.map()];
                maps.extend(inputs.into_iter().map(Value::map));
                Value::Map(Tensor::cat(maps, 1))
            }
            Op::Pad { top, bottom, left, right } => {
                Value::Map(x.map().pad([(*top, *bottom), (*left, *right)], PadMode::Constant(0.0)))
            }
            Op::StdConv2d { conv, eps } => {
                let Layer::StdConv(layer) = self.layer(i) else { unreachable!() };
                let options =
                    ConvOptions::new([conv.stride; 2], [conv.padding, conv.padding_w], [conv.dilation; 2], conv.groups);
                Value::Map(conv2d(x.map(), layer.standardised_weight(*eps), Some(layer.bias.val()), options))
            }
            Op::Scale { factor } => match x {
                Value::Map(t) => Value::Map(t.mul_scalar(*factor)),
                Value::Tokens(t) => Value::Tokens(t.mul_scalar(*factor)),
                Value::Vector(t) => Value::Vector(t.mul_scalar(*factor)),
            },
            Op::ChannelConv { kernel } => {
                let Layer::Kernel1d(weight) = self.layer(i) else { unreachable!() };
                let t = x.map();
                let [b, c, _, _] = t.dims();
                let options = ConvOptions::new([1], [(kernel - 1) / 2], [1], 1);
                let y = conv1d(t.reshape([b, 1, c]), weight.val(), None, options);
                Value::Map(y.reshape([b, c, 1, 1]))
            }
            Op::ContextPool => {
                let t = x.map();
                let [b, c, h, w] = t.dims();
                let logits = inputs.remove(0).map().reshape([b, 1, h * w]);
                let attn = activation::softmax(logits, 2).swap_dims(1, 2);
                Value::Map(t.reshape([b, c, h * w]).matmul(attn).reshape([b, c, 1, 1]))
            }
            Op::AddChannels => Value::Map(x.map() + inputs.remove(0).map()),
            Op::RelPosAttention { heads, head_qk, head_v } => {
                let Layer::RelPos(pos) = self.layer(i) else { unreachable!() };
                let t = x.map();
                let [b, _, h, w] = t.dims();
                let (nh, dq, dv, n) = (*heads, *head_qk, *head_v, h * w);
                // Channels are [q heads | k heads | v heads], each head's features contiguous (timm's split).
                let q = t.clone().narrow(1, 0, nh * dq).reshape([b * nh, dq, n]).swap_dims(1, 2);
                let k = t.clone().narrow(1, nh * dq, nh * dq).reshape([b * nh, dq, n]);
                let v = t.narrow(1, 2 * nh * dq, nh * dv).reshape([b * nh, dv, n]).swap_dims(1, 2);
                let rel =
                    rel_logits(q.clone().reshape([b * nh, h, w, dq]), pos.height_rel.val(), pos.width_rel.val(), h, w);
                let scores = q.matmul(k).mul_scalar((dq as f64).powf(-0.5)) + rel;
                let out = activation::softmax(scores, 2).matmul(v);
                Value::Map(out.swap_dims(1, 2).reshape([b, nh * dv, h, w]))
            }
            Op::HaloAttention { heads, head_qk, head_v, block, halo } => {
                let Layer::RelPos(pos) = self.layer(i) else { unreachable!() };
                let q = x.map();
                let kv = inputs.remove(0).map();
                let [b, _, h, w] = kv.dims();
                let [_, _, qh, qw] = q.dims();
                let (nh, dq, dv, window) = (*heads, *head_qk, *head_v, block + 2 * halo);
                let (by, bx) = (h / block, w / block);
                let side = qh / by; // a query block's side (block / stride)
                let blocks = b * nh * by * bx;
                // [b x heads x blocks, side, side, dq], blocks in row-major order as timm's.
                let q = q
                    .reshape([b * nh, dq, by, side, bx, side])
                    .permute([0, 2, 4, 3, 5, 1])
                    .reshape([blocks, side, side, dq]);
                // Each block's window of the zero-padded keys and values: [blocks, window², dq + dv].
                let kv = kv.pad([(*halo, *halo), (*halo, *halo)], PadMode::Constant(0.0));
                let kv = unfold(unfold(kv, 2, by, window, *block), 3, bx, window, *block);
                let kv = kv.reshape([b * nh, dq + dv, by, window, bx, window]).permute([0, 2, 4, 3, 5, 1]).reshape([
                    blocks,
                    window * window,
                    dq + dv,
                ]);
                let k = kv.clone().narrow(2, 0, dq);
                let v = kv.narrow(2, dq, dv);
                let rel = rel_logits(q.clone(), pos.height_rel.val(), pos.width_rel.val(), window, window);
                let q = q.reshape([blocks, side * side, dq]);
                let scores = q.matmul(k.swap_dims(1, 2)).mul_scalar((dq as f64).powf(-0.5)) + rel;
                let out = activation::softmax(scores, 2).matmul(v); // [blocks, side², dv]
                let out = out.reshape([b, nh, by, bx, side, side, dv]).permute([0, 1, 6, 2, 4, 3, 5]);
                Value::Map(out.reshape([b, nh * dv, qh, qw]))
            }
            Op::Resize { h, w, mode } => {
                let interp = *mode;
                let mode = match mode {
                    Interp::Bilinear | Interp::BilinearAligned => InterpolateMode::Bilinear,
                    Interp::Bicubic => InterpolateMode::Bicubic,
                };
                let options = InterpolateOptions::new(mode)
                    .with_align_corners(interp == Interp::BilinearAligned)
                    .with_output_size([*h, *w]);
                Value::Map(interpolate(x.map(), options))
            }
            Op::UnfoldPatches { patch } => {
                let t = x.map();
                let [b, c, h, w] = t.dims();
                let (p, nh, nw) = (*patch, h / patch, w / patch);
                // [B, C, nh, ph, nw, pw] -> [B, ph, pw, nh, nw, C]
                let t = t.reshape([b, c, nh, p, nw, p]).permute([0, 3, 5, 2, 4, 1]);
                Value::Tokens(t.reshape([b, h * w, c]))
            }
            Op::FoldPatches { patch } => {
                let Shape::Map { h, w, .. } = self.plan.graph.nodes[i].output else { unreachable!() };
                let t = x.tokens();
                let [b, _, c] = t.dims();
                let (p, nh, nw) = (*patch, h / patch, w / patch);
                let t = t.reshape([b, p, p, nh, nw, c]).permute([0, 5, 3, 1, 4, 2]);
                Value::Map(t.reshape([b, c, h, w]))
            }
            Op::UnfoldMap { patch } => {
                let t = x.map();
                let [b, c, h, w] = t.dims();
                let (p, nh, nw) = (*patch, h / patch, w / patch);
                // [B, C, nh, ph, nw, pw] -> [B, C, ph, pw, nh, nw]
                let t = t.reshape([b, c, nh, p, nw, p]).permute([0, 1, 3, 5, 2, 4]);
                Value::Map(t.reshape([b, c, p * p, nh * nw]))
            }
            Op::FoldMap { patch } => {
                let Shape::Map { h, w, .. } = self.plan.graph.nodes[i].output else { unreachable!() };
                let t = x.map();
                let [b, c, _, _] = t.dims();
                let (p, nh, nw) = (*patch, h / patch, w / patch);
                let t = t.reshape([b, c, p, p, nh, nw]).permute([0, 1, 4, 2, 5, 3]);
                Value::Map(t.reshape([b, c, h, w]))
            }
            Op::GroupNorm1 { eps } => {
                let Layer::LayerNorm(ln) = self.layer(i) else { unreachable!() };
                let t = x.map();
                let [b, c, h, w] = t.dims();
                let flat = t.reshape([b, c * h * w]);
                let (var, mean) = flat.clone().var_mean_bias(1);
                let t = (flat - mean) / (var + *eps).sqrt();
                let gamma = ln.gamma.val().reshape([1, c, 1, 1]);
                let beta = ln.beta.as_ref().expect("group norm has a shift").val().reshape([1, c, 1, 1]);
                Value::Map(t.reshape([b, c, h, w]) * gamma + beta)
            }
            Op::LinearAttention => {
                let t = x.map();
                let [b, c, p, n] = t.dims();
                let d = (c - 1) / 2;
                let scores = activation::softmax(t.clone().narrow(1, 0, 1), 3);
                let context = (t.clone().narrow(1, 1, d) * scores).sum_dim(3);
                Value::Map(activation::relu(t.narrow(1, 1 + d, d)) * context.expand([b, d, p, n]))
            }
            Op::GroupedAttention { heads, groups } => {
                let qkv = x.tokens();
                let [b, n, d3] = qkv.dims();
                let runs = qkv.reshape([b * groups, n / groups, d3]);
                Value::Tokens(self_attention(runs, *heads).reshape([b, n, d3 / 3]))
            }
            Op::TokensToMap { h, w } => {
                let t = x.tokens();
                let [b, _, d] = t.dims();
                Value::Map(t.swap_dims(1, 2).reshape([b, d, *h, *w]))
            }
            Op::SliceFeatures { start, len } => Value::Tokens(x.tokens().narrow(2, *start, *len)),
            Op::SliceTokens { start, len } => Value::Tokens(x.tokens().narrow(1, *start, *len)),
            Op::ConcatTokens => {
                let mut all = vec![x.tokens()];
                all.extend(inputs.into_iter().map(Value::tokens));
                Value::Tokens(Tensor::cat(all, 1))
            }
            Op::CrossAttention { heads, .. } => {
                let q = x.tokens();
                let (k, v) = (inputs.remove(0).tokens(), inputs.remove(0).tokens());
                let [batch, nq, d] = q.dims();
                let nk = k.dims()[1];
                let hd = d / heads;
                // [B, N, d] -> [B, H, N, hd]
                let split = |t: Tensor<3>, n: usize| t.reshape([batch, n, *heads, hd]).swap_dims(1, 2);
                let scores = split(q, nq).matmul(split(k, nk).swap_dims(2, 3)).mul_scalar(1.0 / (hd as f64).sqrt());
                let out = activation::softmax(scores, 3).matmul(split(v, nk));
                Value::Tokens(out.swap_dims(1, 2).reshape([batch, nq, d]))
            }
            Op::PartitionAttention { heads, h, w, wh, ww, grid, mlp } => {
                let Layer::Tensors(own) = self.layer(i) else { unreachable!() };
                let qkv = x.tokens();
                let [b, n, d3] = qkv.dims();
                let (c, nh, hd) = (d3 / 3, *heads, d3 / 3 / heads);
                let windows = partition(qkv, (*h, *w), (*wh, *ww), *grid);
                let bw = windows.dims()[0];
                // head_first: each head's q, k, v side by side: [B', N, heads, 3 hd] -> [B', heads, N, 3 hd].
                let t = windows.reshape([bw, wh * ww, nh, 3 * hd]).swap_dims(1, 2);
                let (q, k, v) = (t.clone().narrow(3, 0, hd), t.clone().narrow(3, hd, hd), t.narrow(3, 2 * hd, hd));
                let table = if *mlp {
                    let coords = rel_coords(*wh, *ww, &q.device(), |d, _| d.signum() * d.abs().ln_1p());
                    bias_mlp(coords, &own[0].val(), Some(&own[1].val()), &own[2].val(), Some(&own[3].val()))
                } else {
                    own[0].val().reshape([(2 * wh - 1) * (2 * ww - 1), nh])
                };
                let bias = gather_bias(table, *wh, *ww).unsqueeze::<4>();
                let scores = q.mul_scalar((hd as f64).powf(-0.5)).matmul(k.swap_dims(2, 3)) + bias;
                let out = activation::softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([bw, wh * ww, c]);
                Value::Tokens(unpartition(out, b, (*h, *w), (*wh, *ww), *grid).reshape([b, n, c]))
            }
            Op::SwinAttention { heads, h, w, wh, ww, shift_h, shift_w } => {
                let Layer::Tensors(own) = self.layer(i) else { unreachable!() };
                let qkv = x.tokens();
                let [b, n, d3] = qkv.dims();
                let (c, nh, hd, nwin) = (d3 / 3, *heads, d3 / 3 / heads, wh * ww);
                let device = qkv.device();
                // F.linear's bias cat(q_bias, 0, v_bias), also on the padded tokens (whose input is zero).
                let qkv_bias = Tensor::cat(vec![own[1].val(), Tensor::zeros([c], &device), own[2].val()], 0);
                let windows = partition(qkv + qkv_bias.reshape([1, 1, d3]), (*h, *w), (*wh, *ww), false);
                let bw = windows.dims()[0];
                // [B', N, 3, heads, hd]: part k of q, k, v as [B', heads, N, hd].
                let t = windows.reshape([bw, nwin, 3, nh, hd]);
                let part = |k: usize| t.clone().narrow(2, k, 1).reshape([bw, nwin, nh, hd]).swap_dims(1, 2);
                // F.normalize: x / max(|x|, 1e-12) along the head width.
                let unit = |x: Tensor<4>| x.clone() / x.powi_scalar(2).sum_dim(3).sqrt().clamp_min(1e-12);
                let scale = own[0].val().clamp_max(100f64.ln()).exp().reshape([1, nh, 1, 1]);
                let mut scores = unit(part(0)).matmul(unit(part(1)).swap_dims(2, 3)) * scale;
                // Offsets scaled to [-8, 8] by the window (at least 2), then sign(x) log2(1 + |x|) / 3.
                let coords = rel_coords(*wh, *ww, &device, |d, win| {
                    let x = d * 8.0 / (win.max(2) - 1) as f64;
                    x.signum() * (x.abs() + 1.0).log2() / 3.0
                });
                let table = bias_mlp(coords, &own[3].val(), Some(&own[4].val()), &own[5].val(), None);
                scores = scores + activation::sigmoid(gather_bias(table, *wh, *ww)).mul_scalar(16.0).unsqueeze::<4>();
                if *shift_h > 0 || *shift_w > 0 {
                    let mask = shift_mask((*h, *w), (*wh, *ww), (*shift_h, *shift_w), &device);
                    let windows = mask.dims()[0];
                    let masked = scores.reshape([bw / windows, windows, nh, nwin, nwin])
                        + mask.unsqueeze_dim::<4>(1).unsqueeze::<5>();
                    scores = masked.reshape([bw, nh, nwin, nwin]);
                }
                let out = activation::softmax(scores, 3).matmul(part(2)).swap_dims(1, 2).reshape([bw, nwin, c]);
                Value::Tokens(unpartition(out, b, (*h, *w), (*wh, *ww), false).reshape([b, n, c]))
            }
            Op::ShiftPad { h, w, shift_h, shift_w, pad_h, pad_w } => {
                let t = x.tokens();
                let [b, _, c] = t.dims();
                let t = t.reshape([b, *h, *w, c]).roll(&[-(*shift_h as i64), -(*shift_w as i64)], &[1, 2]);
                let t = t.pad([(0, *pad_h), (0, *pad_w), (0, 0)], PadMode::Constant(0.0));
                Value::Tokens(t.reshape([b, (h + pad_h) * (w + pad_w), c]))
            }
            Op::UnshiftCrop { h, w, shift_h, shift_w, pad_h, pad_w } => {
                let t = x.tokens();
                let [b, _, c] = t.dims();
                let t = t.reshape([b, h + pad_h, w + pad_w, c]).narrow(1, 0, *h).narrow(2, 0, *w);
                let t = t.roll(&[*shift_h as i64, *shift_w as i64], &[1, 2]);
                Value::Tokens(t.reshape([b, h * w, c]))
            }
            Op::PatchMerge { h, w } => {
                let t = x.tokens();
                let [b, _, c] = t.dims();
                // [B, h/2, dy, w/2, dx, C] -> [B, h/2, w/2, dx, dy, C]: (0,0), (1,0), (0,1), (1,1).
                let t = t.reshape([b, h / 2, 2, w / 2, 2, c]).permute([0, 1, 3, 4, 2, 5]);
                Value::Tokens(t.reshape([b, (h / 2) * (w / 2), 4 * c]))
            }
            Op::ScalarGain => {
                let Layer::Scalar(gain) = self.layer(i) else { unreachable!() };
                Value::Map(x.map() * gain.val().reshape([1, 1, 1, 1]))
            }
            Op::SliceChannels { start, len } => Value::Map(x.map().narrow(1, *start, *len)),
            Op::UpsampleNearest { scale } => {
                // Each pixel repeated `scale` x `scale` times, as PyTorch's nearest mode does for whole factors.
                let t = x.map();
                let [b, c, h, w] = t.dims();
                let s = *scale;
                let t = t.reshape([b, c, h, 1, w, 1]).expand([b, c, h, s, w, s]);
                Value::Map(t.reshape([b, c, h * s, w * s]))
            }
            Op::FourierPosition { hidden } => {
                // Only the input's size matters (a fixed map per size, repeated over the batch).
                let t = x.map();
                let [b, _, h, w] = t.dims();
                Value::Map(fourier_position(*hidden, h, w, &t.device()).expand([b, 2 * hidden, h, w]))
            }
            Op::XcaAttention { heads } => {
                let Layer::Temperature(temperature) = self.layer(i) else { unreachable!() };
                let qkv = x.tokens();
                let [b, n, d3] = qkv.dims();
                let (d, nh) = (d3 / 3, *heads);
                let hd = d / nh;
                // [B, N, 3, H, hd] -> [3, B, H, hd, N], as timm's CrossCovarianceAttn.
                let qkv = qkv.reshape([b, n, 3, nh, hd]).permute([2, 0, 3, 4, 1]);
                let part = |k: usize| qkv.clone().narrow(0, k, 1).reshape([b, nh, hd, n]);
                // F.normalize over the tokens: x / max(||x||, 1e-12).
                let normalize = |t: Tensor<4>| {
                    let norm = t.clone().square().sum_dim(3).sqrt().clamp_min(1e-12);
                    t / norm
                };
                let (q, k, v) = (normalize(part(0)), normalize(part(1)), part(2));
                let scores = q.matmul(k.swap_dims(2, 3)) * temperature.val().reshape([1, nh, 1, 1]);
                let out = activation::softmax(scores, 3).matmul(v); // [B, H, hd, N]
                Value::Tokens(out.permute([0, 3, 1, 2]).reshape([b, n, d]))
            }
            Op::Lstm2d { h, w, .. } => {
                let Layer::Lstm2d(lstm) = self.layer(i) else { unreachable!() };
                let t = x.tokens();
                let [b, _, c] = t.dims();
                let (h, w) = (*h, *w);
                let map = t.reshape([b, h, w, c]);
                // Columns as sequences of length h, rows as sequences of length w.
                let columns = map.clone().swap_dims(1, 2).reshape([b * w, h, c]);
                let rows = map.reshape([b * h, w, c]);
                let outs = if h == w {
                    // A square map: all four recurrences in one batched loop.
                    let mut all = both_ways(columns, &lstm.rnn_v);
                    all.extend(both_ways(rows, &lstm.rnn_h));
                    lstms(all)
                } else {
                    let mut outs = lstms(both_ways(columns, &lstm.rnn_v));
                    outs.extend(lstms(both_ways(rows, &lstm.rnn_h)));
                    outs
                };
                let hidden = outs[0].dims()[2];
                let mut outs = outs.into_iter();
                let mut next = || outs.next().expect("four recurrences");
                let vertical = Tensor::cat(vec![next(), next()], 2).reshape([b, w, h, 2 * hidden]).swap_dims(1, 2);
                let horizontal = Tensor::cat(vec![next(), next()], 2).reshape([b, h, w, 2 * hidden]);
                Value::Tokens(Tensor::cat(vec![vertical, horizontal], 3).reshape([b, h * w, 4 * hidden]))
            }
            Op::BlurPool { stride } => {
                let t = x.map().pad([(1, 1), (1, 1)], PadMode::Reflect);
                let c = t.dims()[1];
                // The binomial filter [1, 2, 1] x [1, 2, 1] / 16, one copy per channel.
                let taps = [1.0f32, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0].map(|v| v / 16.0);
                let data: Vec<f32> = (0..c).flat_map(|_| taps).collect();
                let filter = Tensor::<4>::from_data(TensorData::new(data, [c, 1, 3, 3]), &t.device());
                let options = ConvOptions::new([*stride; 2], [0, 0], [1, 1], c);
                Value::Map(conv2d(t, filter, None, options))
            }
            Op::ConstantPad { top, bottom, left, right, value } => {
                let t = x.map();
                let [b, c, h, w] = t.dims();
                // Crop the negative amounts, then pad the positive ones.
                let cut = |a: i32| (-a).max(0) as usize;
                let grow = |a: i32| a.max(0) as usize;
                let (kh, kw) = (h - cut(*top) - cut(*bottom), w - cut(*left) - cut(*right));
                let padding = [(grow(*top), grow(*bottom)), (grow(*left), grow(*right))];
                if kh == 0 || kw == 0 {
                    // Everything cropped (a shift of a 1-pixel map): only the padding is left.
                    let (oh, ow) = (kh + padding[0].0 + padding[0].1, kw + padding[1].0 + padding[1].1);
                    return Value::Map(Tensor::full([b, c, oh, ow], *value, &t.device()));
                }
                let t = t.narrow(2, cut(*top), kh).narrow(3, cut(*left), kw);
                Value::Map(t.pad(padding, PadMode::Constant(*value)))
            }
            Op::Lambda { heads, dim_qk, dim_v, pos } => {
                let (q, k, v) = (x.map(), inputs.remove(0).map(), inputs.remove(0).map());
                Value::Map(self.lambda(i, q, k, v, *heads, *dim_qk, *dim_v, *pos))
            }
            Op::AdaptiveMaxPool { h, w } => {
                let t = x.map();
                let [b, c, mh, mw] = t.dims();
                // Equal windows (checked by the builder): the max over each.
                let t = t.reshape([b, c, *h, mh / h, *w, mw / w]).max_dim(5).max_dim(3);
                Value::Map(t.reshape([b, c, *h, *w]))
            }
            Op::BilinearTransform { groups, block } => {
                let (p, q) = (inputs.remove(0).map(), inputs.remove(0).map());
                Value::Map(bilinear_transform(x.map(), p, q, *groups, *block))
            }
            Op::Dropout2d { p } => {
                let t = x.map();
                // As nn.Dropout: only where a backward pass can follow (training).
                if !t.device().is_autodiff() || *p == 0.0 {
                    return Value::Map(t);
                }
                let [b, c, _, _] = t.dims();
                let keep = Tensor::<4>::random([b, c, 1, 1], Distribution::Bernoulli(1.0 - p), &t.device());
                Value::Map(t * keep.mul_scalar(1.0 / (1.0 - p)))
            }
        }
    }

    /// timm's LambdaLayer core: maps `q` `[B, heads x K, H, W]` (normed), `k` `[B, K, H, W]`, `v` `[B, V, H,
    /// W]` (normed) to `[B, heads x V, H, W]`.
    #[allow(clippy::too_many_arguments)]
    fn lambda(
        &self,
        i: usize,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        heads: usize,
        dk: usize,
        dv: usize,
        pos: LambdaPos,
    ) -> Tensor<4> {
        let [b, _, h, w] = q.dims();
        let m = h * w;
        let q = q.reshape([b, heads, dk, m]);
        let k = activation::softmax(k.reshape([b, dk, m]), 2);
        // The content lambda kᵀ v, [B, K, V], shared by every position.
        let content = k.matmul(v.clone().reshape([b, dv, m]).swap_dims(1, 2));
        let content_out =
            q.clone().swap_dims(2, 3).reshape([b, heads * m, dk]).matmul(content).reshape([b, heads, m, dv]);
        // Each position's own lambda, [B x M, K, V].
        let position = match (self.layer(i), pos) {
            (Layer::LambdaTable(table), LambdaPos::Relative) => {
                // E[i, j] = pos_emb[y_j - y_i + H - 1, x_j - x_i + W - 1]: lambda_i = Σ_j E[i, j]ᵀ v_j.
                let index: Vec<i64> = (0..m)
                    .flat_map(|i| {
                        (0..m).map(move |j| {
                            let (dy, dx) = (j / w + h - 1 - i / w, j % w + w - 1 - i % w);
                            (dy * (2 * w - 1) + dx) as i64
                        })
                    })
                    .collect();
                let index = Tensor::<1, Int>::from_data(TensorData::new(index, [m * m]), &q.device());
                let table = table.val().reshape([(2 * h - 1) * (2 * w - 1), dk]);
                let e = table.select(0, index).reshape([m, m, dk]).swap_dims(1, 2).reshape([m * dk, m]);
                let values = v.reshape([b, dv, m]).permute([2, 0, 1]).reshape([m, b * dv]);
                e.matmul(values).reshape([m, dk, b, dv]).permute([2, 0, 1, 3]).reshape([b * m, dk, dv])
            }
            (Layer::LambdaConv(conv), LambdaPos::Local { r }) => {
                // The Conv3d over (H, W, V) with a (r, r, 1) kernel is a 2-D convolution of each value
                // channel on its own.
                let options = ConvOptions::new([1, 1], [r / 2, r / 2], [1, 1], 1);
                let lambdas = conv2d(v.reshape([b * dv, 1, h, w]), conv.weight.val(), Some(conv.bias.val()), options);
                lambdas.reshape([b, dv, dk, m]).permute([0, 3, 2, 1]).reshape([b * m, dk, dv])
            }
            _ => unreachable!("the layer follows the op"),
        };
        let position_out = q.permute([0, 3, 1, 2]).reshape([b * m, heads, dk]).matmul(position);
        let position_out = position_out.reshape([b, m, heads, dv]).swap_dims(1, 2);
        (content_out + position_out).swap_dims(2, 3).reshape([b, heads * dv, h, w])
    }
}

/// BAT's bilinear transform: `x` `[B, C, H, W]`, row and column logits `p`, `q` `[B, G x n², 1, 1]` (n the
/// block). Per group: P = kron(rows-normalised sigmoid(p), I), Q = kron(columns-normalised sigmoid(q), I),
/// and each channel becomes P X Q.
fn bilinear_transform(x: Tensor<4>, p: Tensor<4>, q: Tensor<4>, groups: usize, n: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let g = groups;
    let p = activation::sigmoid(p.reshape([b, g, n, n]));
    let p = p.clone() / p.sum_dim(3);
    let q = activation::sigmoid(q.reshape([b, g, n, n]));
    let q = q.clone() / q.sum_dim(2);
    // kron(m, I_t): entry (i t + a, j t + b) is m[i, j] where a == b.
    let widen = |m: Tensor<4>, t: usize| -> Tensor<4> {
        let eye: Vec<f32> = (0..t * t).map(|e| if e / t == e % t { 1.0 } else { 0.0 }).collect();
        let eye = Tensor::<6>::from_data(TensorData::new(eye, [1, 1, 1, t, 1, t]), &m.device());
        let full = [b, g, n, t, n, t];
        (m.reshape([b, g, n, 1, n, 1]).expand(full) * eye.expand(full)).reshape([b, g, n * t, n * t])
    };
    let (p, q) = (widen(p, h / n), widen(q, w / n));
    let cg = c / g;
    // P X: rows of every channel of a group at once, [B, G, H, cg x W].
    let y = x.reshape([b, g, cg, h, w]).swap_dims(2, 3).reshape([b, g, h, cg * w]);
    let y = p.matmul(y).reshape([b, g, h, cg, w]).swap_dims(2, 3);
    // (P X) Q: [B, G, cg x H, W].
    let y = y.reshape([b, g, cg * h, w]).matmul(q);
    y.reshape([b, c, h, w])
}

/// Tokens `[B, h x w, C]` of a map cut into `[B x windows, wh x ww, C]`: windows of neighbours (timm's
/// window_partition) or, with `grid`, of tokens `h / wh` apart (grid_partition); windows in row-major order.
fn partition(t: Tensor<3>, (h, w): (usize, usize), (wh, ww): (usize, usize), grid: bool) -> Tensor<3> {
    let [b, _, c] = t.dims();
    let (nh, nw) = (h / wh, w / ww);
    let t = if grid {
        t.reshape([b, wh, nh, ww, nw, c]).permute([0, 2, 4, 1, 3, 5])
    } else {
        t.reshape([b, nh, wh, nw, ww, c]).permute([0, 1, 3, 2, 4, 5])
    };
    t.reshape([b * nh * nw, wh * ww, c])
}

/// The inverse of [`partition`]: `[B, h, w, C]` (row-major tokens once reshaped).
fn unpartition(t: Tensor<3>, b: usize, (h, w): (usize, usize), (wh, ww): (usize, usize), grid: bool) -> Tensor<4> {
    let c = t.dims()[2];
    let t = t.reshape([b, h / wh, w / ww, wh, ww, c]);
    let t = if grid { t.permute([0, 3, 1, 4, 2, 5]) } else { t.permute([0, 1, 3, 2, 4, 5]) };
    t.reshape([b, h, w, c])
}

/// The `(2wh - 1)(2ww - 1)` relative offsets (dy, dx), dy major, each mapped by `f(offset, window side)`:
/// `[offsets, 2]`, the input of a relative position bias MLP.
fn rel_coords(wh: usize, ww: usize, device: &Device, f: impl Fn(f64, usize) -> f64) -> Tensor<2> {
    let offsets = |side: usize| (0..2 * side - 1).map(move |a| a as f64 - (side as f64 - 1.0));
    let mut data: Vec<f32> = Vec::new();
    for dy in offsets(wh) {
        for dx in offsets(ww) {
            data.extend([f(dy, wh) as f32, f(dx, ww) as f32]);
        }
    }
    let n = data.len() / 2;
    Tensor::from_data(TensorData::new(data, [n, 2]), device)
}

/// A 2 -> hidden -> heads ReLU MLP over `coords` `[offsets, 2]`, weights in PyTorch's `[out, in]`
/// layout: the bias table `[offsets, heads]`.
fn bias_mlp(
    coords: Tensor<2>,
    w1: &Tensor<1>,
    b1: Option<&Tensor<1>>,
    w2: &Tensor<1>,
    b2: Option<&Tensor<1>>,
) -> Tensor<2> {
    let hidden = w1.dims()[0] / 2;
    let heads = w2.dims()[0] / hidden;
    let mut x = coords.matmul(w1.clone().reshape([hidden, 2]).transpose());
    if let Some(b1) = b1 {
        x = x + b1.clone().reshape([1, hidden]);
    }
    let mut x = activation::relu(x).matmul(w2.clone().reshape([heads, hidden]).transpose());
    if let Some(b2) = b2 {
        x = x + b2.clone().reshape([1, heads]);
    }
    x
}

/// A bias table `[offsets, heads]` spread over the pairs of a `wh x ww` window: `[heads, N, N]`, entry
/// (i, j) from offset (y_i - y_j, x_i - x_j) (timm's relative_position_index).
fn gather_bias(table: Tensor<2>, wh: usize, ww: usize) -> Tensor<3> {
    let heads = table.dims()[1];
    let n = wh * ww;
    let index: Vec<i64> = (0..n)
        .flat_map(|i| {
            (0..n).map(move |j| {
                let dy = (i / ww) as i64 - (j / ww) as i64 + wh as i64 - 1;
                let dx = (i % ww) as i64 - (j % ww) as i64 + ww as i64 - 1;
                dy * (2 * ww as i64 - 1) + dx
            })
        })
        .collect();
    let index = Tensor::<1, Int>::from_data(TensorData::new(index, [n * n]), &table.device());
    table.select(0, index).reshape([n, n, heads]).permute([2, 0, 1])
}

/// Swin's attention mask for a shifted block on an `h x w` (padded) map: per window `[windows, N, N]`,
/// -100 between tokens of different regions. The regions are timm's: each axis cut by the slices
/// [0, -window), [-window, -shift), [-shift, end) (Python's; a shift of 0 makes the last slice the whole
/// axis), labelled 3 x row region + column region.
fn shift_mask(
    (h, w): (usize, usize),
    (wh, ww): (usize, usize),
    (sh, sw): (usize, usize),
    device: &Device,
) -> Tensor<3> {
    let regions = |len: usize, win: usize, shift: usize| -> Vec<usize> {
        let at = |v: i64| if v < 0 { (len as i64 + v) as usize } else { v as usize };
        let mut label = vec![0; len];
        for (r, (start, end)) in
            [(0, at(-(win as i64))), (at(-(win as i64)), at(-(shift as i64))), (at(-(shift as i64)), len)]
                .into_iter()
                .enumerate()
        {
            for l in label.iter_mut().take(end).skip(start) {
                *l = r;
            }
        }
        label
    };
    let (rows, cols) = (regions(h, wh, sh), regions(w, ww, sw));
    let (nh, nw, n) = (h / wh, w / ww, wh * ww);
    let mut data = Vec::with_capacity(nh * nw * n * n);
    for wy in 0..nh {
        for wx in 0..nw {
            let label = |t: usize| 3 * rows[wy * wh + t / ww] + cols[wx * ww + t % ww];
            for i in 0..n {
                for j in 0..n {
                    data.push(if label(i) == label(j) { 0.0f32 } else { -100.0 });
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [nh * nw, n, n]), device)
}

/// EdgeNeXt's PositionalEncodingFourier map `[1, 2 x hidden, h, w]`, in float32 as timm computes it:
/// row y + 1 and column x + 1 over (side + 1e-6) times 2π, divided by 10000^(2 floor(j / 2) / hidden),
/// sine at even j and cosine at odd j; the rows' `hidden` channels first, then the columns'.
fn fourier_position(hidden: usize, h: usize, w: usize, device: &Device) -> Tensor<4> {
    let scale = 2.0 * std::f32::consts::PI;
    let dim_t: Vec<f32> = (0..hidden).map(|j| 10000f32.powf((2 * (j / 2)) as f32 / hidden as f32)).collect();
    let mut data = vec![0f32; 2 * hidden * h * w];
    for (axis, side) in [(0, h), (1, w)] {
        for (j, t) in dim_t.iter().enumerate() {
            for y in 0..h {
                for x in 0..w {
                    let at = if axis == 0 { y } else { x };
                    let p = (at + 1) as f32 / (side as f32 + 1e-6) * scale / t;
                    data[((axis * hidden + j) * h + y) * w + x] = if j % 2 == 0 { p.sin() } else { p.cos() };
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [1, 2 * hidden, h, w]), device)
}

/// Multi-head self-attention on a fused `[B, N, 3d]` qkv (timm's Attention without its projections).
fn self_attention(qkv: Tensor<3>, heads: usize) -> Tensor<3> {
    let [batch, n, d3] = qkv.dims();
    let (d, hd) = (d3 / 3, d3 / 3 / heads);
    let qkv = qkv.reshape([batch, n, 3, heads, hd]).permute([2, 0, 3, 1, 4]);
    let part = |k: usize| qkv.clone().narrow(0, k, 1).reshape([batch, heads, n, hd]);
    let scores = part(0).matmul(part(1).swap_dims(2, 3)).mul_scalar(1.0 / (hd as f64).sqrt());
    let out = activation::softmax(scores, 3).matmul(part(2));
    out.swap_dims(1, 2).reshape([batch, n, d])
}

/// Counts float parameters except the fields named `running_mean` / `running_var`.
#[derive(Default)]
struct TrainableCounter {
    path: Vec<String>,
    count: u64,
}

impl ModuleVisitor for TrainableCounter {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !matches!(self.path.last().map(String::as_str), Some("running_mean" | "running_var")) {
            self.count += param.lazy_shape().num_elements() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::graph::{Conv, GraphBuilder};

    #[test]
    fn trainable_parameters_leave_out_batch_norm_buffers() {
        let (mut g, x) = GraphBuilder::new(3, 8, 8);
        let x = g.conv("conv", x, Conv::new(4, 3, 1)).unwrap();
        let x = g.batch_norm("bn", x).unwrap();
        let x = g.flatten("flatten", x).unwrap();
        g.linear("fc", x, 2, true).unwrap();
        let graph = g.finish();
        let expected = graph.params();
        assert_eq!(expected, 4 * 3 * 9 + 2 * 4 + (4 * 64 * 2 + 2));
        let net = Net::new(graph, &Device::flex());
        assert_eq!(net.trainable_params(), expected);
        // burn's own count includes the running mean and variance.
        assert_eq!(net.num_params() as u64, expected + 2 * 4);
    }

    /// Window and grid partitions of a 4x4 map (token value = its row-major position), and back.
    #[test]
    fn partitions_take_neighbours_or_spread_grids_as_timm() {
        let device = Device::flex();
        let t = Tensor::<1, Int>::arange(0..16, &device).float().reshape([1, 16, 1]);
        let values = |t: Tensor<3>| t.into_data().iter::<f32>().collect::<Vec<_>>();
        let windows = partition(t.clone(), (4, 4), (2, 2), false);
        assert_eq!(values(windows.clone())[..8], [0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0]);
        let grids = partition(t.clone(), (4, 4), (2, 2), true);
        assert_eq!(values(grids.clone())[..8], [0.0, 2.0, 8.0, 10.0, 1.0, 3.0, 9.0, 11.0]);
        for (parts, grid) in [(windows, false), (grids, true)] {
            assert_eq!(values(unpartition(parts, 1, (4, 4), (2, 2), grid).reshape([1, 16, 1])), values(t.clone()));
        }
    }

    /// timm's shifted-window mask on a 4x4 map, windows of 2, shift 1: the top-left window is one
    /// region; the bottom-right one straddles both seams (four regions). A shift of 0 along an axis
    /// (Python's slice [-0:] is the whole axis) leaves that axis in one region.
    #[test]
    fn the_shift_mask_separates_the_rolled_regions() {
        let device = Device::flex();
        let mask = shift_mask((4, 4), (2, 2), (1, 1), &device).into_data().iter::<f32>().collect::<Vec<_>>();
        assert!(mask[..16].iter().all(|v| *v == 0.0));
        let last = &mask[48..];
        for i in 0..4 {
            for j in 0..4 {
                assert_eq!(last[i * 4 + j], if i == j { 0.0 } else { -100.0 });
            }
        }
        // Rows split only: in the bottom windows, tokens 0, 1 (row 2) and 2, 3 (row 3) differ.
        let rows = shift_mask((4, 4), (2, 2), (1, 0), &device).into_data().iter::<f32>().collect::<Vec<_>>();
        assert_eq!(rows[32..36], [0.0, 0.0, -100.0, -100.0]);
    }

    #[test]
    fn forward_runs_a_residual_net() {
        let (mut g, x) = GraphBuilder::new(1, 6, 6);
        let y = g.conv("conv", x, Conv::new(1, 3, 1)).unwrap();
        let y = g.add("add", y, x).unwrap();
        let y = g.spatial_mean("mean", y).unwrap();
        let y = g.flatten("flatten", y).unwrap();
        g.linear("fc", y, 3, false).unwrap();
        let device = Device::flex();
        let net = Net::new(g.finish(), &device);
        let logits = net.forward(Tensor::<4>::ones([2, 1, 6, 6], &device));
        assert_eq!(logits.dims(), [2, 3]);
    }

    /// PyTorch's LSTM equations (gates i, f, g, o; zero initial state) in plain f64 over one
    /// sequence of feature vectors; the hidden state at each step, in the sequence's order.
    fn plain_lstm(seq: &[Vec<f64>], d: &LstmWeights, reverse: bool) -> Vec<Vec<f64>> {
        let flat = |t: Tensor<2>| t.into_data().iter::<f32>().map(f64::from).collect::<Vec<f64>>();
        let (wih, whh) = (flat(d.weight_ih.val()), flat(d.weight_hh.val()));
        let bias: Vec<f64> = d.bias_ih.val().add(d.bias_hh.val()).into_data().iter::<f32>().map(f64::from).collect();
        let (hidden, input) = (bias.len() / 4, seq[0].len());
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let (mut h, mut c) = (vec![0.0; hidden], vec![0.0; hidden]);
        let mut out = vec![vec![]; seq.len()];
        let order: Vec<usize> = if reverse { (0..seq.len()).rev().collect() } else { (0..seq.len()).collect() };
        for t in order {
            let gates: Vec<f64> = (0..4 * hidden)
                .map(|k| {
                    bias[k]
                        + (0..input).map(|j| wih[k * input + j] * seq[t][j]).sum::<f64>()
                        + (0..hidden).map(|j| whh[k * hidden + j] * h[j]).sum::<f64>()
                })
                .collect();
            for u in 0..hidden {
                c[u] = sig(gates[hidden + u]) * c[u] + sig(gates[u]) * gates[2 * hidden + u].tanh();
                h[u] = sig(gates[3 * hidden + u]) * c[u].tanh();
            }
            out[t] = h.clone();
        }
        out
    }

    /// LSTM2d against [`plain_lstm`] down every column and along every row, on a non-square map (the
    /// two axes run as separate batches) and a square one (all four recurrences in one batch).
    #[test]
    fn lstm2d_is_pytorchs_lstm_down_columns_and_along_rows() {
        let (c, hidden) = (3, 2);
        for (h, w) in [(2, 3), (3, 3)] {
            let (mut g, x) = GraphBuilder::new(c, h, w);
            let t = g.map_to_tokens("tokens", x).unwrap();
            let y = g.lstm2d("rnn", t, hidden, h, w).unwrap();
            g.token_mean("mean", y).unwrap();
            let device = Device::flex();
            let net = Net::new(g.finish(), &device);
            let input: Vec<f32> = (0..c * h * w).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
            let image = Tensor::<4>::from_data(TensorData::new(input.clone(), [1, c, h, w]), &device);
            let ours: Vec<f32> = net.forward(image).into_data().iter::<f32>().collect();
            let Layer::Lstm2d(lstm) = &net.layers[0] else { panic!("the LSTM is the only layer") };
            let at = |y: usize, x: usize| (0..c).map(|ch| input[(ch * h + y) * w + x] as f64).collect::<Vec<f64>>();
            // Per position: [column forward | column reverse | row forward | row reverse].
            let mut states = vec![vec![0.0; 4 * hidden]; h * w];
            for x in 0..w {
                let column: Vec<Vec<f64>> = (0..h).map(|y| at(y, x)).collect();
                for (k, reverse) in [(0, false), (1, true)] {
                    for (y, state) in plain_lstm(&column, &lstm.rnn_v[k], reverse).into_iter().enumerate() {
                        states[y * w + x][k * hidden..(k + 1) * hidden].copy_from_slice(&state);
                    }
                }
            }
            for y in 0..h {
                let row: Vec<Vec<f64>> = (0..w).map(|x| at(y, x)).collect();
                for (k, reverse) in [(2, false), (3, true)] {
                    for (x, state) in plain_lstm(&row, &lstm.rnn_h[k - 2], reverse).into_iter().enumerate() {
                        states[y * w + x][k * hidden..(k + 1) * hidden].copy_from_slice(&state);
                    }
                }
            }
            let mean: Vec<f64> =
                (0..4 * hidden).map(|f| states.iter().map(|s| s[f]).sum::<f64>() / (h * w) as f64).collect();
            for (a, b) in ours.iter().zip(&mean) {
                assert!((*a as f64 - b).abs() < 1e-5, "{h}x{w}: ours {ours:?}, plain {mean:?}");
            }
        }
    }

    /// Running statistics after two training steps, as PyTorch 2 computes them:
    /// `bn = torch.nn.BatchNorm2d(2); bn.train(); bn(x1); bn(x2)` gives running_mean [0.47, 0.1675] and
    /// running_var [2.0966668, 2.1058333] (by hand, step 1, channel 0: values 1, 3, 2, 6, mean 3,
    /// unbiased variance 14/3, so 0.9 * 1 + 0.1 * 14/3 = 1.3667; burn's biased 3.5 would give 1.25).
    #[test]
    fn batch_norm_running_statistics_are_pytorchs() {
        let (mut g, x) = GraphBuilder::new(2, 1, 2);
        let x = g.batch_norm("bn", x).unwrap();
        let x = g.flatten("flatten", x).unwrap();
        g.linear("fc", x, 2, true).unwrap();
        let device = Device::flex().autodiff();
        let net = Net::new(g.finish(), &device);
        let x1 = [[[[1.0f32, 3.0]], [[0.0, -2.0]]], [[[2.0, 6.0]], [[4.0, 1.0]]]];
        let x2 = [[[[5.0f32, -1.0]], [[2.0, 2.0]]], [[[0.0, 4.0]], [[3.0, -3.0]]]];
        net.forward(Tensor::<4>::from_floats(x1, &device));
        net.forward(Tensor::<4>::from_floats(x2, &device));
        let Layer::BatchNorm(bn) = &net.layers[0] else { panic!("the first layer is the batch norm") };
        let mean = bn.running_mean.value_sync().into_data().try_to_vec::<f32>().unwrap();
        let var = bn.running_var.value_sync().into_data().try_to_vec::<f32>().unwrap();
        for (got, want) in mean.iter().chain(&var).zip([0.47f32, 0.1675, 2.0966668, 2.1058333]) {
            assert!((got - want).abs() < 1e-5, "running mean {mean:?}, var {var:?}: want PyTorch's");
        }
        // What the code before this fix did (burn's own forward): the biased variance, 0.9 + 0.1 * 3.5.
        let burns = BatchNormConfig::new(2).init(&device);
        burns.forward(Tensor::<4>::from_floats(x1, &device));
        let burns = burns.running_var.value_sync().into_data().try_to_vec::<f32>().unwrap();
        assert!((burns[0] - 1.25).abs() < 1e-6, "burn's BatchNorm changed: {burns:?}");
        // Evaluation (no autodiff) leaves them alone.
        let valid = net.valid();
        valid.forward(Tensor::<4>::from_floats(x1, &Device::flex()));
        let Layer::BatchNorm(bn) = &valid.layers[0] else { unreachable!() };
        assert_eq!(bn.running_var.value_sync().into_data().try_to_vec::<f32>().unwrap(), var);
    }
}
