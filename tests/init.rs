//! From-scratch networks start as timm's do (issue 18, Deliver 6): for one or more models of every timm
//! family, each tensor of pepr's initial state dict (src/weights/init.rs) has the mean and standard
//! deviation of timm's freshly built model, within sampling tolerance. The numbers are timm's, written
//! down by fixtures/timm/make_init.py (fixtures/timm/init_stats.json).

use std::path::Path;

use pepr::catalog::{self, Spec};
use pepr::weights::init::{Scheme, timm_state};
use serde_json::Value;

fn fnv1a32(text: &str) -> u32 {
    text.bytes().fold(0x811C_9DC5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

#[test]
fn every_layer_starts_with_timms_mean_and_spread() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/timm/init_stats.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fixture: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    let mut families = std::collections::BTreeSet::new();
    let mut checked = 0;
    for (name, expected) in fixture.iter().filter(|(k, _)| !k.starts_with('_')) {
        let entry = catalog::find(name).unwrap_or_else(|| panic!("{name} is not in the catalog"));
        // make_init.py builds ViT and Mixer at 64 (their shapes follow the input); the rest at any size.
        let size = if name.starts_with("vit_") || name.starts_with("mixer_") { 64 } else { entry.default_size };
        let classes = expected["classes"].as_u64().unwrap() as usize;
        let graph = entry.graph(&Spec::new(3, classes, size)).unwrap();
        let mut state = timm_state(&graph, Scheme::of_family(entry.family), 0);
        state.retain(|k, _| !k.ends_with(".running_mean") && !k.ends_with(".running_var"));
        let keys: Vec<&str> = state.keys().map(String::as_str).collect();
        assert_eq!(keys.len() as u64, expected["keys"].as_u64().unwrap(), "{name}: tensor count");
        assert_eq!(
            format!("{:08x}", fnv1a32(&keys.join("\n"))),
            expected["keys_fnv"].as_str().unwrap(),
            "{name}: keys"
        );
        let stds = expected["std"].as_array().unwrap();
        let means = expected["mean"].as_array().unwrap();
        for ((key, tensor), (std_t, mean_t)) in state.iter().zip(stds.iter().zip(means)) {
            let (std_t, mean_t) = (std_t.as_f64().unwrap(), mean_t.as_f64().unwrap());
            let n = tensor.data.len() as f64;
            let mean = tensor.data.iter().map(|v| *v as f64).sum::<f64>() / n;
            let std = (tensor.data.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
            // Six standard errors of the sample statistics, plus the fixture's 4-digit rounding.
            let tol_std = 6.0 * std_t / (2.0 * n).sqrt() + 1e-3 * std_t + 1e-7;
            let tol_mean = 6.0 * std_t / n.sqrt() + 1e-3 * mean_t.abs() + 1e-7;
            if (std - std_t).abs() > tol_std || (mean - mean_t).abs() > tol_mean {
                failures.push(format!(
                    "{name} {key} {:?}: std {std:.4e} mean {mean:.3e}, timm std {std_t:.4e} mean {mean_t:.3e}",
                    tensor.shape
                ));
            }
            checked += 1;
        }
        families.insert(entry.family);
    }
    println!("{checked} tensors of {} families", families.len());
    assert!(
        failures.is_empty(),
        "{} of {checked} tensors differ from timm's:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every timm family of the catalog is covered.
    for entry in catalog::entries().iter().filter(|e| e.from_timm) {
        assert!(families.contains(entry.family), "no initialisation check for the {} family", entry.family);
    }
}
