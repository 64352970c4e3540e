//! timm's Sequencer2D (timm/models/sequencer.py): a 7x7 stride-7 patch stem, then four stages (the
//! last three opened by a `p x p` stride-`p` convolution, p = 2, 1, 1) of pre-norm blocks whose token
//! mixer is LSTM2d: a bidirectional LSTM down every column and one along every row of the map, their
//! four hidden states per position concatenated and projected back by a linear layer; then a GELU
//! MLP (3x). A LayerNorm, the mean over positions and a linear head close it. The LSTMs hold no
//! position-sized weights, so the network takes any input from 14 px (timm flags it fixed-size, but
//! its model runs at any size).
//!
//! MACs follow fvcore, which has no handle for `aten::lstm` and counts the LSTMs as 0 (see
//! docs/catalog.md for what they would add).

use crate::catalog::ModelKind;
use crate::catalog::graph::{Act, Conv, Graph, GraphBuilder, Id, Result};
use crate::catalog::{Entry, Spec};

pub static ENTRIES: &[Entry] = &[Entry {
    name: "sequencer2d_l",
    family: "sequencer",
    kind: ModelKind::Other,
    efficient: false,
    paper: "https://arxiv.org/abs/2205.01972",
    default_size: 224,
    from_timm: true,
    build: |spec: &Spec| build(&SEQUENCER2D_L, spec),
}];

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub layers: [usize; 4],
    pub patch_sizes: [usize; 4],
    pub dims: [usize; 4],
    pub hidden: [usize; 4],
    /// The MLP's hidden width over the block's (3.0 for every Sequencer2D).
    pub mlp_ratio: usize,
}

/// `sequencer2d_l`: 8, 8, 16, 4 blocks, patches 7, 2, 1, 1, widths 192, 384, 384, 384, LSTM hidden
/// sizes 48, 96, 96, 96.
pub const SEQUENCER2D_L: Config = Config {
    layers: [8, 8, 16, 4],
    patch_sizes: [7, 2, 1, 1],
    dims: [192, 384, 384, 384],
    hidden: [48, 96, 96, 96],
    mlp_ratio: 3,
};

/// `partial(nn.LayerNorm, eps=1e-6)` everywhere.
const EPS: f64 = 1e-6;

pub fn build(config: &Config, spec: &Spec) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(spec.in_chans, spec.height, spec.width);
    let p = config.patch_sizes[0];
    let mut m = g.conv("stem.proj", x, Conv::new(config.dims[0], p, p).padding(0).bias(true))?;
    let mut t = g.map_to_tokens("stem.flatten", m)?;
    for s in 0..4 {
        if s > 0 {
            let (h, w) = g.spatial(m);
            let name = format!("stages.{s}.downsample");
            let map = g.tokens_to_map(&format!("{name}.to_map"), t, h, w)?;
            let p = config.patch_sizes[s];
            m = g.conv(&format!("{name}.down"), map, Conv::new(config.dims[s], p, p).padding(0).bias(true))?;
            t = g.map_to_tokens(&format!("{name}.flatten"), m)?;
        }
        let size = g.spatial(m);
        for b in 0..config.layers[s] {
            t = block(&mut g, &format!("stages.{s}.blocks.{b}"), t, config, s, size)?;
        }
    }
    let t = g.layer_norm("norm", t, EPS)?;
    let t = g.token_mean("head.global_pool", t)?;
    g.linear("head.fc", t, spec.classes, true)?;
    Ok(g.finish())
}

fn block(g: &mut GraphBuilder, name: &str, x: Id, config: &Config, s: usize, (h, w): (usize, usize)) -> Result<Id> {
    let n = |part: &str| format!("{name}.{part}");
    let dim = config.dims[s];
    let y = g.layer_norm(&n("norm1"), x, EPS)?;
    let y = g.lstm2d(&n("rnn_tokens"), y, config.hidden[s], h, w)?;
    let y = g.linear(&n("rnn_tokens.fc"), y, dim, true)?;
    let x = g.add(&n("add1"), x, y)?;
    let y = g.layer_norm(&n("norm2"), x, EPS)?;
    let y = g.linear(&n("mlp_channels.fc1"), y, config.mlp_ratio * dim, true)?;
    let y = g.act(&n("mlp_channels.act"), y, Act::Gelu);
    let y = g.linear(&n("mlp_channels.fc2"), y, dim, true)?;
    g.add(&n("add2"), x, y)
}
