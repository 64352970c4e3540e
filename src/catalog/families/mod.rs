//! One builder per family, and the catalog's entries.

pub mod byoanet;
pub mod byob_attn;
pub mod byobnet;
pub mod convmixer;
pub mod convnext;
pub mod crossvit;
pub mod cspnet;
pub mod densenet;
pub mod dla;
pub mod dpn;
pub mod efficientnet;
pub mod ghostnet;
pub mod hrnet;
pub mod inception;
pub mod maxxvit;
pub mod metaformer;
pub mod mixer;
pub mod mobilevit;
pub mod nasnet;
pub mod nfnet;
pub mod pvt_v2;
pub mod regnet;
pub mod resnet;
pub mod resnet_attn;
pub mod resnetv2;
pub mod selecsls;
pub mod senet;
pub mod small;
pub mod swin_v2;
pub mod vgg;
pub mod vit;
pub mod vovnet;
pub mod xception;
// The paper's zoo, part 2 (issue 15): Twins, EdgeNeXt, Sequencer2D.
pub mod edgenext;
pub mod sequencer;
pub mod twins;

use super::{Entry, Spec};
use crate::catalog::ModelKind;

const RESNET_PAPER: &str = "https://arxiv.org/abs/1512.03385";

const RESNEXT_PAPER: &str = "https://arxiv.org/abs/1611.05431";
const SE_PAPER: &str = "https://arxiv.org/abs/1709.01507";
const RS_PAPER: &str = "https://arxiv.org/abs/2103.07579";
const RES2NET_PAPER: &str = "https://arxiv.org/abs/1904.01169";

/// A ResNet entry: name, [`resnet::Config`], paper, timm's default input size.
macro_rules! resnet {
    ($name:literal, $config:expr, $paper:expr) => {
        resnet!($name, $config, $paper, 224)
    };
    ($name:literal, $config:expr, $paper:expr, $size:literal) => {
        resnet!($name, "resnet", $config, $paper, $size)
    };
    ($name:literal, $family:literal, $config:expr, $paper:expr, $size:literal) => {
        Entry {
            name: $name,
            family: $family,
            kind: ModelKind::Cnn,
            efficient: false,
            paper: $paper,
            default_size: $size,
            from_timm: true,
            build: |spec: &Spec| resnet::build(&$config, spec),
        }
    };
}

/// Every family's entries, in listing order.
pub static FAMILIES: &[&[Entry]] = &[
    efficientnet::ENTRIES,
    ghostnet::ENTRIES,
    RESNETS,
    resnet_attn::ENTRIES,
    resnetv2::ENTRIES,
    senet::ENTRIES,
    selecsls::ENTRIES,
    vovnet::ENTRIES,
    byobnet::ENTRIES,
    byob_attn::ENTRIES,
    byoanet::ENTRIES,
    regnet::ENTRIES,
    cspnet::ENTRIES,
    hrnet::ENTRIES,
    densenet::ENTRIES,
    dla::ENTRIES,
    dpn::ENTRIES,
    nfnet::ENTRIES,
    vgg::ENTRIES,
    convnext::ENTRIES,
    xception::ENTRIES,
    inception::ENTRIES,
    vit::ENTRIES,
    mixer::ENTRIES,
    convmixer::ENTRIES,
    // The paper's transformer and hybrid models (issue 15).
    crossvit::ENTRIES,
    mobilevit::ENTRIES,
    pvt_v2::ENTRIES,
    metaformer::ENTRIES,
    // NASNet and PNASNet (issue 15).
    nasnet::ENTRIES,
    // Window attention: MaxViT/MaxxViT, Swin V2 (issue 15).
    maxxvit::ENTRIES,
    swin_v2::ENTRIES,
    twins::ENTRIES,
    edgenext::ENTRIES,
    sequencer::ENTRIES,
    SMALL,
];

use resnet::Block::{Basic, Bottleneck};
use resnet::{Aa, Config as R, Stem};

const R50: [usize; 4] = [3, 4, 6, 3];
const R101: [usize; 4] = [3, 4, 23, 3];
const R152: [usize; 4] = [3, 8, 36, 3];
/// ResNeXt 32x4d.
const fn resnext(layers: [usize; 4]) -> R {
    R { cardinality: 32, base_width: 4, ..R::plain(Bottleneck, layers) }
}

// The paper's papers column (model_names.csv) for each model, and timm's default input size.
static RESNETS: &[Entry] = &[
    // timm's pretrained config trains resnet14t at 176.
    resnet!(
        "resnet14t",
        R { stem: Stem::DeepTiered, ..R::deep(Bottleneck, [1, 1, 1, 1]) },
        "https://arxiv.org/abs/2110.00476",
        176
    ),
    resnet!("resnet18", R::plain(Basic, [2, 2, 2, 2]), RESNET_PAPER),
    resnet!("resnet18d", R::deep(Basic, [2, 2, 2, 2]), RESNET_PAPER),
    resnet!("resnet26d", R::deep(Bottleneck, [2, 2, 2, 2]), RESNET_PAPER),
    resnet!("resnet34d", R::deep(Basic, R50), RESNET_PAPER),
    resnet!("resnet50", R::plain(Bottleneck, R50), RESNET_PAPER),
    resnet!("gluon_resnet34_v1b", R::plain(Basic, R50), RESNET_PAPER),
    resnet!("resnext50d_32x4d", R { stem: Stem::Deep, stem_width: 32, avg_down: true, ..resnext(R50) }, RESNEXT_PAPER),
    resnet!("resnetblur50", R { aa: Aa::Blur, ..R::plain(Bottleneck, R50) }, "https://arxiv.org/abs/1904.11486"),
    resnet!("resnetaa50", R { aa: Aa::Avg, ..R::plain(Bottleneck, R50) }, "https://arxiv.org/abs/2110.00476"),
    resnet!("gluon_seresnext50_32x4d", R { se_divisor: Some(16), ..resnext(R50) }, SE_PAPER),
    resnet!("resnetrs50", R::rs(R50), RS_PAPER, 160),
    resnet!("gluon_resnext101_32x4d", resnext(R101), RS_PAPER),
    resnet!("gluon_seresnext101_32x4d", R { se_divisor: Some(16), ..resnext(R101) }, SE_PAPER),
    resnet!("gluon_resnet152_v1b", R::plain(Bottleneck, R152), RS_PAPER),
    resnet!("resnet152d", R::deep(Bottleneck, R152), RS_PAPER, 256),
    resnet!("resnetrs101", R::rs(R101), RS_PAPER, 192),
    resnet!("resnet200d", R::deep(Bottleneck, [3, 24, 36, 3]), RS_PAPER, 256),
    resnet!("wide_resnet50_2", R { base_width: 128, ..R::plain(Bottleneck, R50) }, "https://arxiv.org/abs/1605.07146"),
    resnet!("resnetrs152", R::rs(R152), RS_PAPER, 256),
    resnet!("resnetrs200", R::rs([3, 24, 36, 3]), RS_PAPER, 256),
    resnet!("resnetrs270", R::rs([4, 29, 53, 4]), RS_PAPER, 256),
    // timm's res2net.py: ResNet with Bottle2neck blocks, listed as its own family.
    resnet!("res2next50", "res2net", R::res2(R50, 4, 8, 4), RES2NET_PAPER, 224),
    resnet!("res2net50_14w_8s", "res2net", R::res2(R50, 14, 1, 8), RES2NET_PAPER, 224),
    resnet!("res2net101_26w_4s", "res2net", R::res2(R101, 26, 1, 4), RS_PAPER, 224),
];

/// timm 1.0's current names for catalog entries that keep the paper's (deprecated) timm name.
pub static ALIASES: &[(&str, &str)] = &[
    ("resnet34.gluon_in1k", "gluon_resnet34_v1b"),
    ("resnet152.gluon_in1k", "gluon_resnet152_v1b"),
    ("resnext101_32x4d.gluon_in1k", "gluon_resnext101_32x4d"),
    ("seresnext50_32x4d.gluon_in1k", "gluon_seresnext50_32x4d"),
    ("seresnext101_32x4d.gluon_in1k", "gluon_seresnext101_32x4d"),
    ("inception_v3.tf_adv_in1k", "adv_inception_v3"),
    ("inception_v3.gluon_in1k", "gluon_inception_v3"),
];

static SMALL: &[Entry] = &[
    Entry {
        name: "pepr_lenet5",
        family: "lenet",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: "http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf",
        default_size: 28,
        from_timm: false,
        build: small::lenet5,
    },
    Entry {
        name: "pepr_resnet8",
        family: "cifar-resnet",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: RESNET_PAPER,
        default_size: 32,
        from_timm: false,
        build: |spec: &Spec| small::cifar_resnet(1, spec),
    },
    Entry {
        name: "pepr_resnet20",
        family: "cifar-resnet",
        kind: ModelKind::Cnn,
        efficient: false,
        paper: RESNET_PAPER,
        default_size: 32,
        from_timm: false,
        build: |spec: &Spec| small::cifar_resnet(3, spec),
    },
];
