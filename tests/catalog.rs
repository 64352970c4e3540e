//! The catalog against timm: parameter counts from the burn modules and MAC counts against
//! fvcore, with the reference numbers measured once with timm, torch and fvcore
//! (fixtures/timm/reference.py; the numbers are in tests/common/timm_reference.rs).

use crate::common::timm_reference::{SIZES, TIMM, ZOO};
use burn::tensor::{Device, Tensor};
use pepr::catalog::graph::Shape;
use pepr::catalog::net::Net;
use pepr::catalog::{Spec, entries, find};

#[test]
fn every_timm_entry_has_a_reference_and_every_reference_an_entry() {
    for entry in entries().iter().filter(|e| e.from_timm) {
        let referenced = TIMM.iter().any(|r| r.name == entry.name) || ZOO.iter().any(|r| r.name == entry.name);
        assert!(referenced, "{} has no timm reference", entry.name);
    }
    for reference in ZOO {
        assert!(find(reference.name).is_some(), "the catalog lacks {}", reference.name);
    }
    let required = [
        "mobilenetv2_050",
        "efficientnet_b0",
        "mnasnet_100",
        "semnasnet_075",
        "spnasnet_100",
        "ghostnet_100",
        "tinynet_a",
        "fbnetc_100",
        "hardcorenas_a",
        "densenet121",
        "densenet169",
        "dla34",
        "dla46_c",
        "dla46x_c",
        "dla60",
        "resnet14t",
        "resnet18d",
        "resnet26d",
        "resnet34d",
        "convnext_atto",
        "vgg11",
        "vgg13",
        "resnet18",
        "resnet50",
        "mobilenetv2_100",
        "mobilenetv3_small_100",
        "efficientnet_lite0",
        "vit_tiny_patch16_224",
        "mixer_s16_224",
    ];
    for name in required {
        assert!(find(name).is_some(), "the catalog lacks {name}");
    }
}

/// Issue 15's end: every one of the 131 models of the paper's model_names.csv is in the catalog,
/// under the paper's name.
#[test]
fn every_model_of_the_paper_is_in_the_catalog() {
    let models = pepr::results::paper::models().expect("the embedded model_names.csv parses");
    assert_eq!(models.len(), 131, "the paper lists 131 models");
    let missing: Vec<&str> = models.iter().filter(|m| find(&m.name).is_none()).map(|m| m.name.as_str()).collect();
    assert!(missing.is_empty(), "the paper's models not in the catalog: {missing:?}");
}

#[test]
fn parameter_counts_equal_timms_and_the_graphs() {
    let device = Device::flex();
    for reference in TIMM {
        let Some(entry) = find(reference.name) else { continue };
        for (spec, expected) in [
            (Spec::new(3, 1000, entry.default_size), reference.params_1000x3),
            (Spec::new(1, 7, entry.default_size), reference.params_7x1),
        ] {
            let graph = entry.graph(&spec).unwrap();
            let counted = graph.params();
            let module = Net::new(graph, &device).trainable_params();
            assert_eq!(
                module, expected,
                "{} {:?}: burn module has {module} parameters, timm {expected}",
                entry.name, spec
            );
            assert_eq!(counted, module, "{} {:?}: the graph counts {counted}, the module {module}", entry.name, spec);
        }
    }
}

#[test]
fn mac_counts_match_fvcore_within_half_a_percent() {
    let mut compared = 0;
    for reference in TIMM {
        let Some(entry) = find(reference.name) else { continue };
        for (size, expected) in SIZES.iter().zip(reference.macs) {
            let result = entry.cost(&Spec::imagenet(*size));
            match (expected, result) {
                (Some(expected), Ok(cost)) => {
                    let error = (cost.macs as f64 - expected as f64).abs() / expected as f64;
                    assert!(
                        error <= 0.005,
                        "{} at {size}: {} MACs, fvcore {expected} ({:.3}% off)",
                        entry.name,
                        cost.macs,
                        100.0 * error
                    );
                    compared += 1;
                }
                (Some(_), Err(e)) => panic!("{} at {size}: timm works but pepr says {e}", entry.name),
                (None, Ok(_)) => panic!("{} at {size}: timm cannot take this input but pepr builds it", entry.name),
                (None, Err(e)) => assert!(e.message.contains(entry.name), "{e}"),
            }
        }
        if let Some(expected) = reference.macs_64_7x1 {
            let cost = entry.cost(&Spec::new(1, 7, 64)).unwrap();
            let error = (cost.macs as f64 - expected as f64).abs() / expected as f64;
            assert!(error <= 0.005, "{} at 1x64x64, 7 classes: {} MACs, fvcore {expected}", entry.name, cost.macs);
        }
    }
    assert!(compared >= 3 * TIMM.len(), "compared {compared}");
}

#[test]
fn forward_passes_give_one_logit_per_class() {
    let device = Device::flex();
    for entry in entries() {
        // The smallest of these sizes the architecture takes keeps the test fast (halo attention: 256).
        let spec = [32, 64, 128, 256]
            .iter()
            .map(|&s| Spec::new(1, 5, s))
            .find(|spec| entry.graph(spec).is_ok())
            .unwrap_or_else(|| panic!("{} takes none of 32, 64, 128, 256", entry.name));
        let net = Net::new(entry.graph(&spec).unwrap(), &device);
        let input = Tensor::<4>::ones([2, 1, spec.height, spec.width], &device);
        let logits = net.forward(input);
        assert_eq!(logits.dims(), [2, 5], "{}", entry.name);
        let values: Vec<f32> = logits.into_data().try_into_vec::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{}: non-finite logits", entry.name);
    }
}

#[test]
fn inputs_an_architecture_cannot_take_are_clear_errors_not_panics() {
    for entry in entries() {
        for size in 0..=40 {
            match entry.graph(&Spec::new(3, 10, size)) {
                Ok(graph) => assert_eq!(graph.output(), Shape::Vector { d: 10 }, "{} at {size}", entry.name),
                Err(e) => assert!(e.message.starts_with(entry.name), "{e}"),
            }
        }
    }
    let err = find("densenet121").unwrap().graph(&Spec::imagenet(28)).unwrap_err();
    assert!(err.message.contains("too small"), "{err}");
}

/// timm's state-dict keys and shapes (fixtures/timm/keys/NAME.txt, dumped from timm 1.0.31) less
/// batch-norm buffers.
fn timm_state_dict(name: &str) -> Vec<(String, Vec<usize>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/timm/keys/{name}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.is_empty())
        .filter_map(|line| {
            let (key, shape) = line.split_once(' ')?;
            if ["running_mean", "running_var", "num_batches_tracked"].iter().any(|b| key.ends_with(b)) {
                return None;
            }
            let dims =
                shape.trim_matches(|c| c == '[' || c == ']').split(',').filter_map(|d| d.trim().parse().ok()).collect();
            Some((key.to_string(), dims))
        })
        .collect()
}

/// Same keys with the same shapes. (Not the same order: PyTorch lists a module's own parameters,
/// such as ConvNeXt's `gamma`, before its children's, whatever the order they run in.)
#[test]
fn every_timm_entry_has_timms_state_dict_keys_and_shapes() {
    use std::collections::BTreeMap;
    for entry in entries().iter().filter(|e| e.from_timm) {
        let graph = entry.graph(&Spec::new(3, 1000, entry.default_size)).unwrap();
        let ours: BTreeMap<String, Vec<usize>> = graph.state_dict().into_iter().collect();
        assert_eq!(ours.len(), graph.state_dict().len(), "{}: duplicate keys", entry.name);
        let timm: BTreeMap<String, Vec<usize>> = timm_state_dict(entry.name).into_iter().collect();
        let missing: Vec<_> = timm.iter().filter(|(k, v)| ours.get(*k) != Some(v)).collect();
        let extra: Vec<_> = ours.iter().filter(|(k, v)| timm.get(*k) != Some(v)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: timm's not ours {missing:?}; ours not timm's {extra:?}",
            entry.name
        );
    }
}

/// The paper's zoo (issue 14): parameters at 3 channels x 1000 classes and 1 channel x 7 classes
/// (graph and burn module), timm's default input size, fvcore's MACs at the default input and at
/// 1 x 160 x 160 with 7 classes, and the smallest input timm's model takes.
#[test]
fn zoo_models_match_timm_and_fvcore() {
    let device = Device::flex();
    let mut failures = Vec::new();
    let mut check = |ok: bool, message: String| {
        if !ok {
            failures.push(message);
        }
    };
    for reference in ZOO {
        let entry = find(reference.name).unwrap();
        check(
            entry.default_size == reference.default_size,
            format!("{}: default size {}, timm's {}", entry.name, entry.default_size, reference.default_size),
        );
        for (spec, expected) in [
            (Spec::new(3, 1000, entry.default_size), reference.params_1000x3),
            (Spec::new(1, 7, entry.default_size), reference.params_7x1),
        ] {
            let graph = match entry.graph(&spec) {
                Ok(graph) => graph,
                Err(e) => {
                    check(false, format!("{} {spec:?}: {e}", entry.name));
                    continue;
                }
            };
            let counted = graph.params();
            check(
                counted == expected,
                format!("{} {spec:?}: the graph has {counted} parameters, timm {expected}", entry.name),
            );
            let module = Net::new(graph, &device).trainable_params();
            check(
                module == expected,
                format!("{} {spec:?}: the module has {module} parameters, timm {expected}", entry.name),
            );
        }
        for (spec, expected) in [
            (Spec::imagenet(entry.default_size), Some(reference.macs_default)),
            (Spec::new(1, 7, 160), reference.macs_160_7x1),
        ] {
            // timm's model cannot take this input (halo attention's blocks): neither may pepr's.
            let Some(expected) = expected else {
                match entry.cost(&spec) {
                    Ok(_) => {
                        check(false, format!("{} {spec:?}: timm cannot take this input but pepr builds it", entry.name))
                    }
                    Err(e) => check(e.message.starts_with(entry.name), format!("{}: unclear error {e}", entry.name)),
                }
                continue;
            };
            match entry.cost(&spec) {
                Ok(cost) => {
                    let error = (cost.macs as f64 - expected as f64).abs() / expected as f64;
                    check(
                        error <= 0.005,
                        format!(
                            "{} {spec:?}: {} MACs, fvcore {expected} ({:.3}% off)",
                            entry.name,
                            cost.macs,
                            100.0 * error
                        ),
                    );
                }
                Err(e) => check(false, format!("{} {spec:?}: {e}", entry.name)),
            }
        }
        if let Some(min) = reference.min_size {
            let ours = (1..=160).find(|&s| entry.graph(&Spec::new(1, 7, s)).is_ok());
            check(ours == Some(min), format!("{}: smallest input {ours:?}, timm's {min}", entry.name));
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// One Adam step on two 1-channel images at the smallest input each zoo model takes, after the
/// memory check that would refuse a run that cannot fit.
#[test]
fn zoo_models_train_one_step_at_their_smallest_input() {
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::{Distribution, Int, TensorData};
    let device = Device::flex().autodiff();
    // PEPR_ZOO_MODELS=a,b limits the run to those models (while working on them; CI runs all).
    let only = std::env::var("PEPR_ZOO_MODELS").ok();
    let selected = |name: &str| only.as_ref().is_none_or(|list| list.split(',').any(|n| n == name));
    for reference in ZOO.iter().filter(|r| selected(r.name)) {
        let entry = find(reference.name).unwrap();
        // Halo attention's networks take nothing under 256.
        let size = (1..=256)
            .find(|&s| entry.graph(&Spec::new(1, 3, s)).is_ok())
            .unwrap_or_else(|| panic!("{} takes no input up to 256", entry.name));
        let graph = entry.graph(&Spec::new(1, 3, size)).unwrap();
        pepr::train::memory::check(&graph, 2, pepr::train::memory::available_bytes())
            .unwrap_or_else(|e| panic!("{} at {size}: {e}", entry.name));
        let net = Net::new(graph, &device);
        let images = Tensor::<4>::random([2, 1, size, size], Distribution::Normal(0.0, 1.0), &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &device);
        let loss = CrossEntropyLossConfig::new().init(&device).forward(net.forward(images), labels);
        let value = loss.clone().into_scalar::<f32>();
        assert!(value.is_finite(), "{} at {size}: loss {value}", entry.name);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let _stepped = AdamConfig::new().init().step(1e-3, net, grads);
        println!("{} trained one step at 1x{size}x{size}", entry.name);
    }
}
