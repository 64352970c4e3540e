//! Where training runs: the CPU (burn's flex backend, the default, no set-up) or an NVIDIA GPU
//! through burn-cuda, which is compiled in only with the cargo feature `cuda` (its build downloads
//! an LLVM bundle, so the default build never pulls it). Models and the training loop are shared:
//! burn 0.22's devices are runtime values.

use anyhow::Result;
use burn::tensor::Device;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    #[default]
    Cpu,
    Cuda,
}

impl Backend {
    /// The device to train on, or why this build or machine cannot.
    pub fn device(self) -> Result<Device> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            Backend::Cuda => cuda_device(),
        }
    }

    /// What a run record's `backend` says.
    pub fn label(self) -> &'static str {
        match self {
            Backend::Cpu => "flex (CPU)",
            Backend::Cuda => "cuda",
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device> {
    Ok(Device::cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device> {
    anyhow::bail!(
        "this pepr was built without CUDA support: rebuild with `cargo build --release --features cuda` on a \
         machine with an NVIDIA driver and network access (burn-cuda downloads an LLVM bundle while it builds)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_always_works_and_cuda_needs_the_feature() {
        assert!(Backend::Cpu.device().is_ok());
        #[cfg(not(feature = "cuda"))]
        assert!(Backend::Cuda.device().unwrap_err().to_string().contains("--features cuda"));
        assert_eq!(Backend::default(), Backend::Cpu);
    }
}
