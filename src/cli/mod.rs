//! Headless commands: everything the results explorer does, for scripts and batch jobs.
//!
//! Exit codes: 0 ok, 2 usage (clap), 1 error with a one-line message on stderr.
//!
//! `args` is what a user can type (clap's types), `dispatch` hands a parsed command to its family's
//! module (runs, manage, rank, analyze, data, archs, train, estimate, grid, jobs, bench, config,
//! weights), and
//! `crate::output` writes every command's rows as a table, CSV or JSON.

mod analyze;
mod archs;
pub mod args;
mod bench;
mod config;
pub mod data;
mod dispatch;
pub mod estimate;
pub mod grid;
mod jobs;
pub mod manage;
mod rank;
mod runs;
pub mod train;
pub mod weights;

// The argument types are the CLI's interface: `crate::cli::Format`, `crate::cli::Cli`, ….
pub use args::*;
pub use dispatch::run;
pub use rank::{BAND_COLUMNS, RANK_COLUMNS};

use anyhow::{Context, Result};

use crate::home::{HOME_ENV, Home};

/// A closed pipe (`pepr rank | head`) is not an error.
fn ignore_broken_pipe(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            Ok(())
        }
        other => other,
    }
}

/// Resolves the home from the parsed arguments.
pub fn home_of(cli: &Cli) -> Result<Home> {
    Home::resolve(cli.home.as_deref()).with_context(|| format!("choosing the pepr home (--home or {HOME_ENV})"))
}
