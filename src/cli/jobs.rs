//! `pepr jobs [cancel | resubmit]`: the Slurm arrays submitted from this home.

use std::io::Write;

use anyhow::Result;

use super::args::JobsCommand;
use super::ignore_broken_pipe;
use crate::home::Home;

pub(super) fn run(home: &Home, command: Option<JobsCommand>, json: bool) -> Result<()> {
    match command {
        Some(JobsCommand::Cancel { job_id }) => {
            crate::slurm::watch::cancel(home, &job_id)?;
            println!("cancelled job {job_id}; `pepr jobs` shows its cells as they stop");
            Ok(())
        }
        Some(JobsCommand::Resubmit { job_id, dry_run }) => {
            let submission = crate::slurm::watch::resubmit(home, &job_id, dry_run)?;
            crate::slurm::submit::print_submission(&submission);
            Ok(())
        }
        None => {
            let (report, statuses) = crate::slurm::watch::refresh(home)?;
            for (path, why) in &report.bad {
                eprintln!("warning: {}: not merged: {why}", path.display());
            }
            let mut out = std::io::stdout().lock();
            let result = if json {
                serde_json::to_writer_pretty(&mut out, &crate::slurm::watch::to_json(&statuses))
                    .map_err(anyhow::Error::from)
                    .and_then(|()| writeln!(out).map_err(anyhow::Error::from))
            } else {
                crate::slurm::watch::print(&mut out, &report, &statuses).map_err(anyhow::Error::from)
            };
            ignore_broken_pipe(result)
        }
    }
}
