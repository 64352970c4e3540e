//! Which cells the run store already holds. A cell is done when a completed run carries its id in
//! `grid_cell` and its group in `group`; an interrupted or failed one runs again.

use std::collections::HashMap;

use super::expand::Cell;
use crate::results::record::{RunRecord, RunStatus};

/// Where one cell stands against the store.
#[derive(Clone, Debug, PartialEq)]
pub enum CellState {
    /// Stored as completed by this run.
    Done { run_id: String },
    /// Stored, but interrupted or failed (the latest such run): it runs again.
    Retry { status: RunStatus },
    /// Not in the store.
    Missing,
}

impl CellState {
    pub fn is_done(&self) -> bool {
        matches!(self, CellState::Done { .. })
    }

    pub fn label(&self) -> &'static str {
        match self {
            CellState::Done { .. } => "done",
            CellState::Retry { status: RunStatus::Failed } => "failed",
            CellState::Retry { .. } => "interrupted",
            CellState::Missing => "to run",
        }
    }
}

/// Every cell's state, in the cells' order.
pub fn cell_states(cells: &[Cell], records: &[RunRecord]) -> Vec<CellState> {
    let mut stored: HashMap<(&str, &str), CellState> = HashMap::new();
    for record in records {
        let Some(cell) = record.grid_cell.as_deref() else { continue };
        let key = (cell, record.group.as_str());
        let state = match record.status {
            RunStatus::Completed => CellState::Done { run_id: record.id.clone() },
            status => CellState::Retry { status },
        };
        // A completed run wins over any other; otherwise the latest (the store is in append order).
        let keep_old = stored.get(&key).is_some_and(|old| old.is_done());
        if !keep_old {
            stored.insert(key, state);
        }
    }
    cells
        .iter()
        .map(|cell| stored.get(&(cell.id.as_str(), cell.group.as_str())).cloned().unwrap_or(CellState::Missing))
        .collect()
}

/// The cells still to run.
pub fn pending<'a>(cells: &'a [Cell], records: &[RunRecord]) -> Vec<&'a Cell> {
    cells.iter().zip(cell_states(cells, records)).filter(|(_, s)| !s.is_done()).map(|(c, _)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{GridSpec, expand};
    use crate::results::synthetic::runs;

    #[test]
    fn completed_cells_are_skipped_and_others_run_again() {
        let mut spec = GridSpec::new(vec!["pepr_lenet5".into()], vec!["synthetic".into()]);
        spec.seeds = vec![0, 1, 2, 3];
        let cells = expand(&spec);
        let mut records = runs(1, 5, 7);
        let mut stored = |i: usize, cell: &Cell, status: RunStatus, group: &str| {
            records[i].grid_cell = Some(cell.id.clone());
            records[i].group = group.to_string();
            records[i].status = status;
            records[i].id = format!("r{i}");
        };
        stored(0, &cells[0], RunStatus::Completed, "synthetic");
        stored(1, &cells[1], RunStatus::Interrupted, "synthetic");
        stored(2, &cells[2], RunStatus::Completed, "another_group");
        stored(3, &cells[3], RunStatus::Failed, "synthetic");
        stored(4, &cells[3], RunStatus::Completed, "synthetic");
        let states = cell_states(&cells, &records);
        assert_eq!(
            states,
            vec![
                CellState::Done { run_id: "r0".into() },
                CellState::Retry { status: RunStatus::Interrupted },
                CellState::Missing,
                CellState::Done { run_id: "r4".into() },
            ]
        );
        let ids: Vec<&str> = pending(&cells, &records).iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["synthetic/pepr_lenet5/scratch/f1/s1", "synthetic/pepr_lenet5/scratch/f1/s2"]);
    }
}
