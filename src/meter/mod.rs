//! Live meters for a training run: power sources (NVML, RAPL, or an estimate from the CPU's TDP and
//! the process's load), a sampler thread integrating them into energy and tracking peak memory, the
//! FLOP meter, CO2 arithmetic with the carbon-intensity table, the CPU rated-power table, the
//! prediction after the first epoch, and `pepr doctor`.
//!
//! Every figure carries its source: "measured (NVML)", "measured (RAPL)" or "estimated (TDP x load)".

pub mod backend;
pub mod band;
pub mod bench;
pub mod doctor;
pub mod emissions;
pub mod estimate;
pub mod flops;
pub mod integrate;
pub mod nvml;
pub mod predict;
pub mod process;
pub mod rapl;
pub mod sampler;
pub mod session;
pub mod source;
pub mod tdp;

pub use session::{LiveMeters, MeterSettings, RunMeters};
