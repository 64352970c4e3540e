//! A run's memory, estimated before it starts: running out of memory aborts a Rust process, so a
//! run that cannot fit is refused with a clear message instead.
//!
//! Estimate (f32): parameters x 4 (weights, gradients, Adam's two moments) plus, per sample in the
//! batch, every layer output twice (the activation kept for the backward pass and its gradient).
//! An estimate, not a measurement: the backend's workspace and allocator overhead come on top.

use crate::catalog::Graph;

/// Estimated peak bytes of one training step.
pub fn estimate_bytes(graph: &Graph, batch_size: usize) -> u64 {
    let params = graph.params();
    let activations: u64 = graph.nodes.iter().map(|n| n.output.elements()).sum();
    4 * (4 * params + 2 * activations * batch_size as u64)
}

/// Memory the system reports available (`MemAvailable` in /proc/meminfo), when it reports it.
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a run whose estimate exceeds 90% of the available memory.
pub fn check(graph: &Graph, batch_size: usize, available: Option<u64>) -> Result<(), String> {
    let Some(available) = available else { return Ok(()) };
    let needed = estimate_bytes(graph, batch_size);
    if needed as f64 > 0.9 * available as f64 {
        let gb = |b: u64| b as f64 / 1e9;
        return Err(format!(
            "not enough memory: this run needs about {:.1} GB (estimated: parameters, Adam state and activations at \
             batch {batch_size}) and {:.1} GB is available; try a smaller --batch-size or input size",
            gb(needed),
            gb(available)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Spec, find};

    #[test]
    fn estimate_grows_with_batch_and_refuses_what_cannot_fit() {
        let graph = find("pepr_lenet5").unwrap().graph(&Spec::new(1, 10, 28)).unwrap();
        let one = estimate_bytes(&graph, 1);
        let many = estimate_bytes(&graph, 100);
        assert!(many > one);
        assert_eq!(many - one, 99 * 2 * 4 * graph.nodes.iter().map(|n| n.output.elements()).sum::<u64>());
        assert!(check(&graph, 32, Some(u64::MAX)).is_ok());
        assert!(check(&graph, 32, None).is_ok(), "unknown availability never blocks a run");
        let err = check(&graph, 32, Some(1_000_000)).unwrap_err();
        assert!(err.contains("not enough memory") && err.contains("--batch-size"), "{err}");
    }
}
