//! The `--slurm ...` flags shared by `pepr sweep` and `pepr grid`.

use super::SlurmOptions;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct SlurmArgs {
    /// Submit the runs to Slurm as one job array (one task per run) instead of training here.
    #[arg(long)]
    pub slurm: bool,
    /// With --slurm: print the sbatch script instead of submitting it.
    #[arg(long, requires = "slurm")]
    pub dry_run: bool,
    #[command(flatten)]
    pub sbatch: SbatchArgs,
}

/// sbatch's own options (each needs `--slurm`). `pepr grid` has its own `--dry-run`, so it takes
/// these and `--slurm` without the [`SlurmArgs`] wrapper.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SbatchArgs {
    /// sbatch --job-name (default: pepr; pepr-NAME for a grid).
    #[arg(long, requires = "slurm", value_name = "NAME")]
    pub job_name: Option<String>,
    /// sbatch --partition.
    #[arg(long, requires = "slurm", value_name = "P")]
    pub partition: Option<String>,
    /// sbatch --gpus-per-task.
    #[arg(long, requires = "slurm", value_name = "N")]
    pub gpus_per_task: Option<u32>,
    /// sbatch --cpus-per-task (also the task's training threads).
    #[arg(long, requires = "slurm", value_name = "N")]
    pub cpus_per_task: Option<u32>,
    /// sbatch --time, e.g. 01:00:00.
    #[arg(long, requires = "slurm", value_name = "HH:MM:SS")]
    pub time: Option<String>,
    /// sbatch --account.
    #[arg(long, requires = "slurm", value_name = "A")]
    pub account: Option<String>,
    /// More sbatch options, passed through, e.g. --extra "--qos=short --mem=4G" (repeatable).
    #[arg(long, requires = "slurm", value_name = "OPTIONS", allow_hyphen_values = true)]
    pub extra: Vec<String>,
}

impl SlurmArgs {
    pub fn options(&self) -> SlurmOptions {
        self.sbatch.options()
    }
}

impl SbatchArgs {
    pub fn options(&self) -> SlurmOptions {
        SlurmOptions {
            job_name: self.job_name.clone(),
            partition: self.partition.clone(),
            gpus_per_task: self.gpus_per_task,
            cpus_per_task: self.cpus_per_task,
            time: self.time.clone(),
            account: self.account.clone(),
            extra: self.extra.iter().flat_map(|e| e.split_whitespace().map(str::to_string)).collect(),
            data_dir: None,
        }
    }
}
