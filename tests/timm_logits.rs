//! Every timm model in the catalog gives timm's logits (issue 18, Deliver 5): a timm state dict with 5
//! classes (not ImageNet's 1000) whose every tensor, batch-norm running statistics included, is filled from a
//! formula of its key and element index. fixtures/timm/make_logits.py fills timm's model the same way and
//! records its eval-mode logits and a checksum of the filled tensors, so no checkpoint is stored (a few KB
//! for every model) and a generation mismatch is told apart from a model mismatch.
//!
//! One test per model (`cargo test --release --test it timm_logits::resnet18`); `the_tests_cover_every_timm_model`
//! fails when a catalog model has no test or no fixture (add it here and run make_logits.py NAME).

use std::path::Path;
use std::sync::OnceLock;

use burn::tensor::{Device, Tensor as BurnTensor, TensorData};
use pepr::catalog::net::Net;
use pepr::catalog::{self, Spec};
use pepr::weights::load_into;
use pepr::weights::tensors::StateDict;
use serde_json::Value;

fn fixture() -> &'static serde_json::Map<String, Value> {
    static FIXTURE: OnceLock<serde_json::Map<String, Value>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/timm/weights/formula_logits.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            other => panic!("{}: not a JSON object: {other:?}", path.display()),
        }
    })
}

fn fnv1a32(text: &str) -> u32 {
    text.bytes().fold(0x811C_9DC5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

/// The formula's uniform numbers in [0, 1) for `key` (make_logits.py's `uniform`).
fn uniform(key: &str, n: usize) -> impl Iterator<Item = f64> {
    let h = fnv1a32(key);
    (0..n as u64).map(move |i| {
        let mut x = (i.wrapping_mul(2_654_435_761) as u32).wrapping_add(h);
        x ^= x >> 15;
        x = x.wrapping_mul(0x2C1B_3C6D);
        x ^= x >> 12;
        x as f64 / 4_294_967_296.0
    })
}

/// make_logits.py's `value`: norm scales and variances in [0.5, 1.5), means and biases in [-0.1, 0.1),
/// other weights uniform with the variance of 1 / fan_in.
fn value(key: &str, shape: &[usize]) -> pepr::weights::Tensor {
    let n: usize = shape.iter().product();
    let leaf = key.rsplit('.').next().unwrap();
    // NFNet's ScaledStdConv2d `gain` and its 0-d `skipinit_gain` are filled as norm scales.
    let scale_like = matches!(leaf, "running_var" | "gain") || (leaf == "weight" && shape.len() == 1);
    let data: Vec<f32> = if scale_like || shape.is_empty() {
        uniform(key, n).map(|u| (0.5 + u) as f32).collect()
    } else if leaf == "running_mean" || leaf == "bias" {
        uniform(key, n).map(|u| ((u - 0.5) * 0.2) as f32).collect()
    } else {
        let scale = (3.0 / (n / shape[0]) as f64).sqrt();
        uniform(key, n).map(|u| ((u - 0.5) * 2.0 * scale) as f32).collect()
    };
    pepr::weights::Tensor::new(shape.to_vec(), data)
}

/// make_logits.py's `checksum`: over keys in order, (fnv1a32(key) | 1) x (sum of the f32 bit patterns).
fn checksum<'a>(tensors: impl Iterator<Item = (&'a String, &'a [f32])>) -> String {
    let total = tensors.fold(0u64, |total, (key, data)| {
        let bits = data.iter().fold(0u64, |s, v| s.wrapping_add(v.to_bits() as u64));
        total.wrapping_add((fnv1a32(key) | 1) as u64 * bits)
    });
    format!("{total:016x}")
}

/// Largest absolute difference over the largest absolute reference value.
fn relative_error(ours: &[f32], timm: &[f32]) -> f32 {
    assert_eq!(ours.len(), timm.len());
    let scale = timm.iter().fold(0f32, |m, v| m.max(v.abs()));
    ours.iter().zip(timm).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / scale
}

fn check(name: &str) {
    let expected = fixture().get(name).unwrap_or_else(|| panic!("no fixture for {name}: run make_logits.py {name}"));
    let entry = catalog::find(name).unwrap_or_else(|| panic!("{name} is not in the catalog"));
    let size = expected["size"].as_u64().unwrap() as usize;
    let classes = expected["classes"].as_u64().unwrap() as usize;
    assert_ne!(classes, 1000, "the head must be built for the class count, not ImageNet's");
    let graph = entry.graph(&Spec::new(3, classes, size)).unwrap();
    let state: StateDict =
        pepr::weights::load::expected_keys(&graph).into_iter().map(|(k, s)| (k.clone(), value(&k, &s))).collect();
    // The generated state dict first: a mismatch here is in the keys, shapes or formula, not the network.
    let elements: usize = state.values().map(|t| t.data.len()).sum();
    let sum = checksum(state.iter().map(|(k, t)| (k, t.data.as_slice())));
    assert_eq!(
        (state.len() as u64, elements as u64, sum.as_str()),
        (
            expected["tensors"].as_u64().unwrap(),
            expected["elements"].as_u64().unwrap(),
            expected["checksum"].as_str().unwrap()
        ),
        "{name}: the generated state dict differs from timm's (tensors, elements, checksum)"
    );
    let input: Vec<f32> = uniform("input", 2 * 3 * size * size).map(|u| ((u - 0.5) * 2.0) as f32).collect();
    let key = "input".to_string();
    assert_eq!(checksum([(&key, input.as_slice())].into_iter()), expected["input_checksum"].as_str().unwrap());

    let device = Device::flex();
    let (net, report) = load_into(Net::new(graph, &device), &state, &device).unwrap();
    drop(state);
    assert_eq!(report.tensors, expected["tensors"].as_u64().unwrap() as usize, "{name}: every tensor assigned");
    assert_eq!(report.head_reinitialised, None, "{name}: the {classes}-class head is loaded, not replaced");
    let x = BurnTensor::<4>::from_data(TensorData::new(input, [2, 3, size, size]), &device);
    let ours: Vec<f32> = net.forward(x).into_data().iter::<f32>().collect();
    let timm: Vec<f32> = expected["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let err = relative_error(&ours, &timm);
    println!("{name}: relative error {err:e} against timm's logits at 2x3x{size}x{size}");
    assert!(
        err < 1e-4,
        "{name}: relative error {err:e} against timm's logits (limit 1e-4)\nours {ours:?}\ntimm {timm:?}"
    );
}

macro_rules! per_model {
    ($($name:ident),* $(,)?) => {
        const TESTED: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
    };
}

per_model!(
    adv_inception_v3,
    convmixer_768_32,
    convnext_atto,
    convnext_tiny_hnf,
    crossvit_9_240,
    cs3darknet_focus_l,
    cspresnet50,
    cspresnext50,
    darknetaa53,
    densenet121,
    densenet161,
    densenet169,
    densenet201,
    densenetblur121d,
    dla102,
    dla102x,
    dla102x2,
    dla169,
    dla34,
    dla46_c,
    dla46x_c,
    dla60,
    dla60x,
    dm_nfnet_f0,
    dpn107,
    dpn131,
    dpn68,
    dpn68b,
    dpn92,
    dpn98,
    eca_resnet33ts,
    ecaresnet101d,
    ecaresnet269d,
    ecaresnet26t,
    ecaresnet50d,
    ecaresnet50t,
    ecaresnetlight,
    efficientnet_b0,
    efficientnet_lite0,
    efficientnetv2_rw_m,
    ese_vovnet19b_dw,
    fbnetc_100,
    fbnetv3_b,
    gcresnet33ts,
    gcresnet50t,
    gcresnext26ts,
    gcresnext50ts,
    gernet_l,
    ghostnet_100,
    gluon_inception_v3,
    gluon_resnet152_v1b,
    gluon_resnet34_v1b,
    gluon_resnext101_32x4d,
    gluon_seresnext101_32x4d,
    gluon_seresnext50_32x4d,
    gluon_xception65,
    hardcorenas_a,
    hrnet_w18,
    legacy_senet154,
    legacy_seresnet50,
    mixer_s16_224,
    mnasnet_100,
    mobilenetv2_050,
    mobilenetv2_100,
    mobilenetv3_small_100,
    mobilevit_s,
    mobilevitv2_050,
    poolformer_m36,
    pvt_v2_b0,
    regnetv_040,
    repvgg_a2,
    res2net101_26w_4s,
    res2net50_14w_8s,
    res2next50,
    resnet14t,
    resnet152d,
    resnet18,
    resnet18d,
    resnet200d,
    resnet26d,
    resnet32ts,
    resnet34d,
    resnet50,
    resnet51q,
    resnet61q,
    resnetaa50,
    resnetblur50,
    resnetrs101,
    resnetrs152,
    resnetrs200,
    resnetrs270,
    resnetrs50,
    resnetv2_50,
    resnext50d_32x4d,
    selecsls42b,
    selecsls60,
    selecsls60b,
    semnasnet_075,
    seresnet152d,
    seresnet33ts,
    seresnext101d_32x8d,
    seresnext26d_32x4d,
    seresnext26t_32x4d,
    seresnext26ts,
    seresnextaa101d_32x8d,
    spnasnet_100,
    tinynet_a,
    vgg11,
    vgg13,
    vit_tiny_patch16_224,
    wide_resnet50_2,
    xception41,
    xception41p,
    xception65p,
    xception71,
    // Issue 15 (zooa): CSPNet, gc_efficientnetv2_rw_t, byoanet attention.
    cspdarknet53,
    cs3sedarknet_l,
    cs3edgenet_x,
    cs3se_edgenet_x,
    gc_efficientnetv2_rw_t,
    botnet26t_256,
    eca_botnext26ts_256,
    sebotnet33ts_256,
    halonet26t,
    sehalonet33ts,
    halonet50ts,
    halo2botnet50ts_256,
    // Issue 15 (zoof): NASNet and PNASNet.
    pnasnet5large,
    nasnetalarge,
    // Issue 15 (zooc): lambda layers and BAT.
    lambda_resnet26rpt_256,
    lamhalobotnet50ts_256,
    bat_resnext26ts,
    // Issue 15 (zood): window attention.
    maxvit_nano_rw_256,
    maxxvit_rmlp_nano_rw_256,
    swinv2_base_window8_256,
    // Issue 15 (zooe): Twins, EdgeNeXt, Sequencer2D.
    twins_pcpvt_base,
    edgenext_base,
    sequencer2d_l,
);

#[test]
fn the_tests_cover_every_timm_model() {
    let timm_models: Vec<&str> = catalog::entries().iter().filter(|e| e.from_timm).map(|e| e.name).collect();
    let untested: Vec<&&str> = timm_models.iter().filter(|n| !TESTED.contains(n)).collect();
    assert!(untested.is_empty(), "catalog models without a logits test: {untested:?}");
    let missing: Vec<&&str> = TESTED.iter().filter(|n| !fixture().contains_key(**n)).collect();
    assert!(missing.is_empty(), "no fixture (run fixtures/timm/make_logits.py NAME): {missing:?}");
    let stale: Vec<&String> =
        fixture().keys().filter(|k| !k.starts_with('_') && !TESTED.contains(&k.as_str())).collect();
    assert!(stale.is_empty(), "fixtures for models not in the catalog: {stale:?}");
}
