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

/// What device resolution needs to know of the GPUs NVML sees (the real NVML, or a fake in tests).
pub trait GpuInventory {
    fn count(&self) -> Result<u32, String>;
    /// The device's UUID, e.g. "GPU-5d2f...".
    fn uuid(&self, index: u32) -> Result<String, String>;
}

/// The real inventory: NVML.
pub struct NvmlInventory(Nvml);

impl NvmlInventory {
    pub fn open() -> Result<NvmlInventory, String> {
        Nvml::init().map(NvmlInventory).map_err(|e| explain(&e))
    }
}

impl GpuInventory for NvmlInventory {
    fn count(&self) -> Result<u32, String> {
        self.0.device_count().map_err(|e| explain(&e))
    }

    fn uuid(&self, index: u32) -> Result<String, String> {
        self.0.device_by_index(index).and_then(|d| d.uuid()).map_err(|e| explain(&e))
    }
}

/// The environment variables that bind a process to GPUs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuBinding {
    /// CUDA_VISIBLE_DEVICES: indices ("2,3") or UUIDs ("GPU-...", also a unique prefix).
    pub cuda_visible_devices: Option<String>,
    /// Slurm's binding of the step or job (SLURM_STEP_GPUS, else SLURM_JOB_GPUS): physical indices.
    pub slurm_gpus: Option<String>,
}

impl GpuBinding {
    pub fn from_env() -> GpuBinding {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        GpuBinding {
            cuda_visible_devices: var("CUDA_VISIBLE_DEVICES"),
            slurm_gpus: var("SLURM_STEP_GPUS").or_else(|| var("SLURM_JOB_GPUS")),
        }
    }
}

/// The NVML index of CUDA device `cuda_index` (what the run trains on), and how it was found.
/// NVML numbers every GPU of the machine and ignores CUDA_VISIBLE_DEVICES, so device 0 of a task
/// bound to GPU 3 is NVML's 3. When NVML itself sees only as many GPUs as are bound (a Slurm
/// cgroup that hides the others), the position in the list is the index.
pub fn resolve_device(cuda_index: u32, binding: &GpuBinding, gpus: &dyn GpuInventory) -> Result<(u32, String), String> {
    let count = gpus.count()?;
    let (list, from) = match (&binding.cuda_visible_devices, &binding.slurm_gpus) {
        (Some(list), _) => (list.as_str(), "CUDA_VISIBLE_DEVICES"),
        (None, Some(list)) => (list.as_str(), "Slurm's GPU binding (SLURM_STEP_GPUS/SLURM_JOB_GPUS)"),
        (None, None) => {
            return if cuda_index < count {
                Ok((cuda_index, format!("NVML device {cuda_index} (no CUDA_VISIBLE_DEVICES)")))
            } else {
                Err(format!("NVML sees {count} GPU(s); device {cuda_index} is not one of them"))
            };
        }
    };
    let entries: Vec<&str> = list.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
    let entry = *entries
        .get(cuda_index as usize)
        .ok_or_else(|| format!("{from}={list:?} has no device {cuda_index} for this run"))?;
    if entries.len() as u32 == count && from != "CUDA_VISIBLE_DEVICES" {
        return Ok((cuda_index, format!("NVML device {cuda_index}: NVML sees only the {count} GPU(s) {from} binds")));
    }
    if let Ok(index) = entry.parse::<u32>() {
        if index < count {
            return Ok((index, format!("NVML device {index} ({from}={list}, device {cuda_index} of the run)")));
        }
        if (cuda_index) < count && entries.len() as u32 == count {
            return Ok((cuda_index, format!("NVML device {cuda_index}: NVML sees only the bound GPU(s)")));
        }
        return Err(format!("{from}={list}: GPU {index} is not one of the {count} NVML sees"));
    }
    // A UUID (or a unique prefix of one, as CUDA accepts); MIG instances ("MIG-...") are not NVML devices.
    let mut found = Vec::new();
    for i in 0..count {
        if gpus.uuid(i).is_ok_and(|u| u.starts_with(entry)) {
            found.push(i);
        }
    }
    match found[..] {
        [index] => Ok((index, format!("NVML device {index} (UUID {entry} from {from})"))),
        [] => Err(format!("{from}: no GPU NVML sees has UUID {entry}")),
        _ => Err(format!("{from}: UUID prefix {entry} matches {} GPUs", found.len())),
    }
}

impl NvmlDevice {
    /// Opens the NVML device of CUDA device `cuda_index` as this process's binding names it.
    pub fn open_for_cuda(cuda_index: u32) -> Result<(NvmlDevice, String), String> {
        let inventory = NvmlInventory::open()?;
        let (index, how) = resolve_device(cuda_index, &GpuBinding::from_env(), &inventory)?;
        Ok((NvmlDevice { nvml: inventory.0, index }, how))
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

    fn band(&self) -> (f64, f64) {
        if self.counter { super::band::COUNTER } else { super::band::NVML_POWER }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Power (mW), energy counter (mJ), memory used (bytes); `None`: not supported.
    type Figures = (Option<u32>, Option<u64>, u64);

    /// A GPU whose figures the test sets.
    #[derive(Clone, Default)]
    pub struct FakeGpu {
        pub state: Arc<Mutex<Figures>>,
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

    /// Four GPUs with made-up UUIDs.
    struct FakeInventory(u32);

    impl GpuInventory for FakeInventory {
        fn count(&self) -> Result<u32, String> {
            Ok(self.0)
        }
        fn uuid(&self, index: u32) -> Result<String, String> {
            Ok(format!("GPU-{index}a{index}b-0000"))
        }
    }

    #[test]
    fn cuda_visible_devices_and_slurm_pick_the_nvml_device() {
        let four = FakeInventory(4);
        let bind = |cvd: Option<&str>, slurm: Option<&str>| GpuBinding {
            cuda_visible_devices: cvd.map(str::to_string),
            slurm_gpus: slurm.map(str::to_string),
        };
        assert_eq!(resolve_device(0, &bind(None, None), &four).unwrap().0, 0);
        assert_eq!(resolve_device(0, &bind(Some("2,3"), None), &four).unwrap().0, 2);
        assert_eq!(resolve_device(1, &bind(Some("2, 3"), None), &four).unwrap().0, 3);
        let (index, how) = resolve_device(0, &bind(Some("GPU-3a3b-0000"), None), &four).unwrap();
        assert_eq!(index, 3);
        assert!(how.contains("UUID"), "{how}");
        assert_eq!(resolve_device(0, &bind(Some("GPU-1a1b"), None), &four).unwrap().0, 1, "a unique prefix");
        assert!(resolve_device(0, &bind(Some("GPU-"), None), &four).unwrap_err().contains("matches 4"));
        assert!(resolve_device(0, &bind(Some("GPU-ffff"), None), &four).is_err());
        assert!(resolve_device(1, &bind(Some("2"), None), &four).unwrap_err().contains("no device 1"));
        assert!(resolve_device(0, &bind(Some("7"), None), &four).unwrap_err().contains("not one of the 4"));
        // Slurm's binding when CUDA_VISIBLE_DEVICES is not set; CUDA_VISIBLE_DEVICES wins when both are.
        assert_eq!(resolve_device(0, &bind(None, Some("1")), &four).unwrap().0, 1);
        assert_eq!(resolve_device(0, &bind(Some("3"), Some("1")), &four).unwrap().0, 3);
        // A cgroup that lets NVML see only the bound GPU: it is NVML's device 0.
        let one = FakeInventory(1);
        assert_eq!(resolve_device(0, &bind(None, Some("3")), &one).unwrap().0, 0);
        assert_eq!(resolve_device(0, &bind(Some("3"), None), &one).unwrap().0, 0);
        assert!(resolve_device(4, &bind(None, None), &four).is_err());
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
