//! The array task's side: which Slurm task this process is, and which node it runs on.

use crate::results::record::SlurmTask;

/// The array task this process runs as (`SLURM_ARRAY_JOB_ID`, `SLURM_ARRAY_TASK_ID`), if any.
pub fn from_env() -> Option<SlurmTask> {
    let job_id = std::env::var("SLURM_ARRAY_JOB_ID").ok().filter(|v| !v.is_empty())?;
    let array_task_id = std::env::var("SLURM_ARRAY_TASK_ID").ok()?.trim().parse().ok()?;
    Some(SlurmTask { job_id, array_task_id })
}

/// Whether this process runs inside any Slurm job (`SLURM_JOB_ID`): its runs then go to `incoming/`.
pub fn in_slurm_job() -> bool {
    std::env::var_os("SLURM_JOB_ID").is_some_and(|v| !v.is_empty())
}

/// The machine's name: Slurm's node name inside a job, else the kernel's host name.
pub fn node_name() -> Option<String> {
    let from_env = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    from_env("SLURMD_NODENAME")
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
        .or_else(|| from_env("HOSTNAME"))
        .or_else(|| from_env("COMPUTERNAME"))
}
