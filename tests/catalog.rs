//! The catalog against timm: parameter counts from the burn modules and MAC counts against
//! fvcore, with the reference numbers measured once with timm, torch and fvcore
//! (fixtures/timm/reference.py; the numbers are in tests/common/timm_reference.rs).

#[path = "common/timm_reference.rs"]
mod timm_reference;

use burn::tensor::{Device, Tensor};
use pepr::catalog::graph::Shape;
use pepr::catalog::net::Net;
use pepr::catalog::{Spec, entries, find};
use timm_reference::{SIZES, TIMM};

#[test]
fn every_timm_entry_has_a_reference_and_every_reference_an_entry() {
    for entry in entries().iter().filter(|e| e.from_timm) {
        assert!(TIMM.iter().any(|r| r.name == entry.name), "{} has no timm reference", entry.name);
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
        // The smallest of these sizes the architecture takes keeps the test fast.
        let spec = [32, 64, 128]
            .iter()
            .map(|&s| Spec::new(1, 5, s))
            .find(|spec| entry.graph(spec).is_ok())
            .unwrap_or_else(|| panic!("{} takes none of 32, 64, 128", entry.name));
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
