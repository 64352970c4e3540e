//! Helpers shared by the integration tests: one way to run the binary (`pepr`, `pepr_with`,
//! `command`), the paper's published data (`paper`), and fixtures several files use.

pub mod http;
pub mod paper;
pub mod timm_reference;
pub mod tiny_grid;

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Variables that make pepr think it runs inside a Slurm job; the tests decide that themselves.
const SLURM_JOB_VARS: [&str; 4] = ["SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURMD_NODENAME"];

/// The binary under test on `home`, with nothing from the caller's environment that would change
/// what it does: no `PEPR_HOME`, no Slurm job variables, and no stdin.
pub fn command(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pepr"));
    command.arg("--home").arg(home).env_remove("PEPR_HOME").stdin(Stdio::null());
    for var in SLURM_JOB_VARS {
        command.env_remove(var);
    }
    command
}

/// Runs `pepr --home HOME ARGS…` to the end.
pub fn pepr(home: &Path, args: &[&str]) -> Output {
    command(home).args(args).output().unwrap()
}

/// As [`pepr`], with extra environment variables.
pub fn pepr_with(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(home).args(args).envs(env.iter().copied()).output().unwrap()
}
