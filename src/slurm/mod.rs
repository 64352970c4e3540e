//! Running sweeps and grids on a Slurm cluster as job arrays, and bringing the results back.
//!
//! - [`submit`]: writes the sbatch script and the cells file under the home's `slurm/` folder,
//!   submits with `sbatch --parsable`, and remembers the job id in `slurm/jobs.json` ([`jobs`]).
//! - Each array task runs `pepr train --incoming` on its cell ([`script`]); the record goes to the
//!   home's `incoming/` folder with the Slurm ids and node ([`task`]), never straight into the store.
//! - [`watch`]: per-cell state from `squeue`/`scontrol` (sacct when it has a database), merging,
//!   records for cells Slurm cancelled before they started, and `scancel`.

pub mod args;
pub mod jobs;
pub mod query;
pub mod script;
pub mod submit;
pub mod task;
pub mod watch;

pub use submit::{Submission, submit};

/// How the array is submitted: sbatch's own options, passed through.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SlurmOptions {
    /// `--job-name` (default `pepr`).
    pub job_name: Option<String>,
    pub partition: Option<String>,
    pub gpus_per_task: Option<u32>,
    pub cpus_per_task: Option<u32>,
    /// `--time`, e.g. `01:00:00`.
    pub time: Option<String>,
    pub account: Option<String>,
    /// Further sbatch options, one per element (e.g. `--qos=short`), written as `#SBATCH` lines.
    pub extra: Vec<String>,
    /// `--data-dir` for every task, when datasets are not in the home's `datasets/` folder.
    pub data_dir: Option<std::path::PathBuf>,
}
