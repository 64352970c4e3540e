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

/// The backends compiled into this binary (`pepr doctor` lists them).
pub fn compiled() -> Vec<&'static str> {
    let mut list = vec!["cpu (burn flex, rayon threads)"];
    if cfg!(feature = "cuda") {
        list.push("cuda (burn-cuda)");
    }
    list
}

/// Why a backend cannot be chosen here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// This binary was built without the `cuda` feature.
    NotBuiltIn,
    /// No NVIDIA driver (NVML cannot be loaded or initialised); the reason NVML gave.
    NoDriver(String),
    /// The driver is there but sees no GPU.
    NoDevice,
}

impl Unavailable {
    pub fn reason(&self) -> String {
        match self {
            Unavailable::NotBuiltIn => "not built in (rebuild with `--features cuda`)".into(),
            Unavailable::NoDriver(why) => format!("no NVIDIA driver ({why})"),
            Unavailable::NoDevice => "no device (the NVIDIA driver sees no GPU)".into(),
        }
    }
}

/// Whether `backend` can train here: cpu always; cuda when built with the feature and NVML sees a
/// GPU (`gpus`: NVML's device count, or why NVML cannot answer). Pure, so it is tested on any build.
pub fn availability(backend: Backend, built_in: bool, gpus: Result<u32, String>) -> Result<(), Unavailable> {
    match backend {
        Backend::Cpu => Ok(()),
        Backend::Cuda if !built_in => Err(Unavailable::NotBuiltIn),
        Backend::Cuda => match gpus {
            Err(why) => Err(Unavailable::NoDriver(why)),
            Ok(0) => Err(Unavailable::NoDevice),
            Ok(_) => Ok(()),
        },
    }
}

/// [`availability`] on this binary and machine.
pub fn available_here(backend: Backend) -> Result<(), Unavailable> {
    let built_in = cfg!(feature = "cuda");
    // NVML is only asked when the answer matters (loading it costs a few ms).
    let gpus = if backend == Backend::Cuda && built_in { crate::meter::nvml::NvmlDevice::count() } else { Ok(0) };
    availability(backend, built_in, gpus)
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
    fn availability_names_the_reason() {
        assert_eq!(availability(Backend::Cpu, false, Err("x".into())), Ok(()));
        assert_eq!(availability(Backend::Cuda, false, Ok(2)), Err(Unavailable::NotBuiltIn));
        let no_driver = availability(Backend::Cuda, true, Err("libnvidia-ml.so not found".into())).unwrap_err();
        assert_eq!(no_driver.reason(), "no NVIDIA driver (libnvidia-ml.so not found)");
        assert_eq!(availability(Backend::Cuda, true, Ok(0)), Err(Unavailable::NoDevice));
        assert_eq!(availability(Backend::Cuda, true, Ok(1)), Ok(()));
        // This binary: cuda is unavailable here unless built with the feature on a GPU machine.
        #[cfg(not(feature = "cuda"))]
        {
            assert_eq!(available_here(Backend::Cuda), Err(Unavailable::NotBuiltIn));
            assert_eq!(compiled(), ["cpu (burn flex, rayon threads)"]);
        }
        assert_eq!(available_here(Backend::Cpu), Ok(()));
    }

    #[test]
    fn cpu_always_works_and_cuda_needs_the_feature() {
        assert!(Backend::Cpu.device().is_ok());
        #[cfg(not(feature = "cuda"))]
        assert!(Backend::Cuda.device().unwrap_err().to_string().contains("--features cuda"));
        assert_eq!(Backend::default(), Backend::Cpu);
    }
}
