//! `pepr runs`: listing, deleting, hiding and restoring stored runs, and compacting the store.
//! Removal is a tombstone beside the append-only store (see [`crate::results::store`]), so it is undoable
//! until `pepr runs compact`.

use std::io::Write;

use anyhow::Result;
use clap::Subcommand;

use crate::results::store::{Removal, RunStore};
use crate::text::clean;

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Every stored run: id, state (shown, hidden, deleted), status, architecture, set and P.
    List,
    /// Leave runs out of every listing and ranking; `runs compact` then drops them from the store.
    Delete {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Leave runs out of every listing and ranking, keeping them in the store for good.
    Hide {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Undo `runs delete` or `runs hide` (before `runs compact`).
    Undelete {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Rewrite the store without deleted runs and unreadable lines, atomically.
    Compact,
}

pub fn run(store: &RunStore, command: RunsCommand) -> Result<()> {
    let (ids, action) = match command {
        RunsCommand::List => return list(store, &mut std::io::stdout().lock()),
        RunsCommand::Compact => {
            let outcome = store.compact()?;
            println!(
                "{}: {} runs kept, {} deleted runs and {} unreadable lines dropped",
                store.path().display(),
                outcome.kept_lines,
                outcome.dropped_deleted,
                outcome.dropped_unreadable
            );
            return Ok(());
        }
        RunsCommand::Delete { ids } => (ids, Removal::Delete),
        RunsCommand::Hide { ids } => (ids, Removal::Hide),
        RunsCommand::Undelete { ids } => (ids, Removal::Restore),
    };
    let changed = store.mark(&ids, action)?;
    let undo = match action {
        Removal::Restore => String::new(),
        _ => format!(" (undo: pepr runs undelete {})", ids.join(" ")),
    };
    println!("{changed} of {} runs {}{undo}", ids.len(), action.verb());
    Ok(())
}

fn list(store: &RunStore, out: &mut impl Write) -> Result<()> {
    let loaded = store.load_all()?;
    let removed = store.removed()?;
    for record in &loaded.records {
        let state = match removed.get(&record.id) {
            Some(Removal::Delete) => "deleted",
            Some(Removal::Hide) => "hidden",
            _ => "shown",
        };
        let p = if record.epoch_perf.is_empty() && record.status != crate::results::record::RunStatus::Completed {
            "-".to_string()
        } else {
            format!("{:.4}", record.performance)
        };
        let line = writeln!(
            out,
            "{}  {:<7}  {:<11}  {}  {}  P {p}",
            clean(&record.id),
            state,
            record.status.label(),
            clean(&record.arch),
            clean(&record.group)
        );
        if let Err(e) = line {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e.into());
        }
    }
    Ok(())
}
