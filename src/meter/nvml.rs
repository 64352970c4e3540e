//! NVIDIA GPUs through NVML (nvml-wrapper loads libnvidia-ml at run time: a machine without the
//! driver just has no NVML source). Only the device the run uses is read. The cumulative energy
//! counter (`total_energy_consumption`, mJ, Volta and newer) is preferred; otherwise the power draw
//! (mW) is integrated.

use nvml_wrapper::Nvml;

use super::source::{EnergySource, Reading};

/// What the source needs from one GPU; the real one is NVML, tests use a fake.
pub trait GpuDevice: Send {
    fn power_mw(&self) -> Result<u32, String>;
    fn energy_mj(&self) -> Result<u64, String>;
    fn memory_used_bytes(&self) -> Result<u64, String>;
    fn name(&self) -> String;
}

/// One NVML device by index (looked up on each call: `nvml_wrapper::Device` borrows the library).
pub struct NvmlDevice {
    nvml: Nvml,
    index: u32,
}

/// Why NVML cannot be used, in words ("libnvidia-ml.so not found").
pub fn explain(e: &nvml_wrapper::error::NvmlError) -> String {
    use nvml_wrapper::error::NvmlError;
    match e {
        NvmlError::LibloadingError(_) => "libnvidia-ml.so not found (no NVIDIA driver)".into(),
        NvmlError::DriverNotLoaded => "the NVIDIA driver is not loaded".into(),
        NvmlError::NoPermission => "no permission to query the GPU".into(),
        other => other.to_string(),
    }
}

impl NvmlDevice {
    /// Opens NVML and device `index`, or says why not.
    pub fn open(index: u32) -> Result<NvmlDevice, String> {
        let nvml = Nvml::init().map_err(|e| explain(&e))?;
        let count = nvml.device_count().map_err(|e| explain(&e))?;
        if index >= count {
            return Err(format!("NVML sees {count} GPU(s); device {index} is not one of them"));
        }
        Ok(NvmlDevice { nvml, index })
    }

    /// How many GPUs NVML sees, or why none.
    pub fn count() -> Result<u32, String> {
        let nvml = Nvml::init().map_err(|e| explain(&e))?;
        nvml.device_count().map_err(|e| explain(&e))
    }
}

impl GpuDevice for NvmlDevice {
    fn power_mw(&self) -> Result<u32, String> {
        let d = self.nvml.device_by_index(self.index).map_err(|e| explain(&e))?;
        d.power_usage().map_err(|e| explain(&e))
    }

    fn energy_mj(&self) -> Result<u64, String> {
        let d = self.nvml.device_by_index(self.index).map_err(|e| explain(&e))?;
        d.total_energy_consumption().map_err(|e| explain(&e))
    }

    fn memory_used_bytes(&self) -> Result<u64, String> {
        let d = self.nvml.device_by_index(self.index).map_err(|e| explain(&e))?;
        d.memory_info().map(|m| m.used).map_err(|e| explain(&e))
    }

    fn name(&self) -> String {
        self.nvml.device_by_index(self.index).and_then(|d| d.name()).unwrap_or_else(|_| format!("GPU {}", self.index))
    }
}

/// A GPU as a power source.
pub struct NvmlSource<D: GpuDevice> {
    device: D,
    /// Whether the energy counter answered when the source was opened.
    counter: bool,
    first_mj: Option<u64>,
}

impl<D: GpuDevice> NvmlSource<D> {
    pub fn new(device: D) -> NvmlSource<D> {
        let first_mj = device.energy_mj().ok();
        NvmlSource { device, counter: first_mj.is_some(), first_mj }
    }

    /// The device has the cumulative energy counter (preferred over integrating power).
    pub fn has_counter(&self) -> bool {
        self.counter
    }
}

impl<D: GpuDevice> EnergySource for NvmlSource<D> {
    fn name(&self) -> &str {
        "NVML"
    }

    fn measured(&self) -> bool {
        true
    }

    fn read(&mut self) -> Result<Reading, String> {
        let power_w = self.device.power_mw().ok().map(|mw| mw as f64 / 1000.0);
        let energy_j = match (self.counter, self.first_mj) {
            (true, Some(first)) => Some(self.device.energy_mj()?.saturating_sub(first) as f64 / 1000.0),
            _ => None,
        };
        if power_w.is_none() && energy_j.is_none() {
            return Err("NVML gave neither power nor energy".into());
        }
        Ok(Reading { power_w, energy_j, memory_bytes: self.device.memory_used_bytes().ok() })
    }

    fn detail(&self) -> String {
        let how = if self.counter { "energy counter" } else { "power draw, integrated" };
        format!("NVML {how}: {}", self.device.name())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A GPU whose figures the test sets.
    #[derive(Clone, Default)]
    pub struct FakeGpu {
        pub state: Arc<Mutex<(Option<u32>, Option<u64>, u64)>>,
    }

    impl GpuDevice for FakeGpu {
        fn power_mw(&self) -> Result<u32, String> {
            self.state.lock().unwrap().0.ok_or_else(|| "not supported".into())
        }
        fn energy_mj(&self) -> Result<u64, String> {
            self.state.lock().unwrap().1.ok_or_else(|| "not supported".into())
        }
        fn memory_used_bytes(&self) -> Result<u64, String> {
            Ok(self.state.lock().unwrap().2)
        }
        fn name(&self) -> String {
            "Fake GPU".into()
        }
    }

    #[test]
    fn prefers_the_energy_counter_and_reports_memory() {
        let gpu = FakeGpu::default();
        *gpu.state.lock().unwrap() = (Some(150_000), Some(1_000_000), 2_000_000_000);
        let mut source = NvmlSource::new(gpu.clone());
        assert!(source.has_counter());
        gpu.state.lock().unwrap().1 = Some(1_004_500);
        let r = source.read().unwrap();
        assert_eq!(r.power_w, Some(150.0));
        assert_eq!(r.energy_j, Some(4.5), "joules since the source opened");
        assert_eq!(r.memory_bytes, Some(2_000_000_000));
        assert!(source.detail().contains("energy counter"));
    }

    #[test]
    fn without_a_counter_power_is_integrated() {
        let gpu = FakeGpu::default();
        *gpu.state.lock().unwrap() = (Some(80_000), None, 0);
        let mut source = NvmlSource::new(gpu.clone());
        assert!(!source.has_counter());
        let r = source.read().unwrap();
        assert_eq!((r.power_w, r.energy_j), (Some(80.0), None));
        gpu.state.lock().unwrap().0 = None;
        assert!(source.read().is_err());
    }

    #[test]
    fn a_machine_without_the_driver_has_no_nvml_source() {
        // Here (no NVIDIA driver) this says why; on a GPU machine it opens device 0.
        match NvmlDevice::open(0) {
            Ok(device) => assert!(!device.name().is_empty()),
            Err(why) => assert!(!why.is_empty()),
        }
    }
}
