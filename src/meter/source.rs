//! A power source: something that tells how much power the run draws and says how it knows.

/// One reading of a source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// Power now (or averaged since the previous reading), watts.
    pub power_w: Option<f64>,
    /// A cumulative energy counter in joules (from any origin): preferred over integrating power.
    pub energy_j: Option<f64>,
    /// Device memory in use, bytes (GPU sources).
    pub memory_bytes: Option<u64>,
}

/// A source of power readings. Implementations: [`super::nvml::NvmlSource`], [`super::rapl::Rapl`],
/// [`super::estimate::LoadEstimate`], and [`FakeSource`] for tests.
pub trait EnergySource: Send {
    /// Short name as it appears in labels: "NVML", "RAPL", "TDP x load".
    fn name(&self) -> &str;
    /// Measured by a counter or sensor (`true`), or estimated by a model (`false`).
    fn measured(&self) -> bool;
    /// One reading. An error skips this sample: the integrator bridges the gap to the next one.
    fn read(&mut self) -> Result<Reading, String>;
    /// What stands behind the figures, e.g. "TDP 65 W (set by the user) x process CPU share".
    fn detail(&self) -> String {
        self.name().to_string()
    }
    /// The most this source can report (a TDP), for the full scale of a gauge.
    fn full_scale_w(&self) -> Option<f64> {
        None
    }
    /// Low and high factors on this source's energy (see [`super::band`]): a counter's by default,
    /// an estimate's when the source is not measured.
    fn band(&self) -> (f64, f64) {
        if self.measured() { super::band::COUNTER } else { super::band::TDP_MODEL }
    }
}

/// A scripted source for tests: returns its readings in turn, then repeats the last one.
pub struct FakeSource {
    pub name: String,
    pub measured: bool,
    pub readings: Vec<Result<Reading, String>>,
    next: usize,
}

impl FakeSource {
    pub fn new(name: &str, measured: bool, readings: Vec<Result<Reading, String>>) -> FakeSource {
        FakeSource { name: name.to_string(), measured, readings, next: 0 }
    }
}

impl EnergySource for FakeSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn measured(&self) -> bool {
        self.measured
    }

    fn read(&mut self) -> Result<Reading, String> {
        let i = self.next.min(self.readings.len().saturating_sub(1));
        self.next += 1;
        self.readings.get(i).cloned().unwrap_or_else(|| Err("no readings scripted".into()))
    }
}
