//! The leaderboard's state (screen 1): the comparison set shown, the PePR variant, sort, filter,
//! the rows they select from the loaded runs, the cursor, the details pane, the optional columns
//! and the what-ifs. The loaded runs themselves ([`Data`]) are the app's: the Analyses screen uses
//! them too, so the methods that need them take them.

use crossterm::event::{KeyCode, KeyEvent};

use crate::results::rank::{SetBy, SetSummary, Variant};
use crate::results::record::RunRecord;
use crate::results::view::{SortKey, select};

use super::columns::Columns;
use super::keys::{Key, Move, RUNS, RunsAction as A, lookup};
use super::list::ListCursor;
use super::request::Request;
use super::state::Data;
use super::whatif::Scenario;

/// Leaderboard columns a user can sort by (resource and score follow the current variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    Rank,
    Arch,
    Kind,
    Params,
    Performance,
    Resource,
    Score,
}

impl SortColumn {
    pub const ALL: [SortColumn; 7] = [
        SortColumn::Rank,
        SortColumn::Arch,
        SortColumn::Kind,
        SortColumn::Params,
        SortColumn::Performance,
        SortColumn::Resource,
        SortColumn::Score,
    ];

    pub fn key(self, variant: Variant) -> SortKey {
        match self {
            SortColumn::Rank => SortKey::Rank(variant),
            SortColumn::Arch => SortKey::Arch,
            SortColumn::Kind => SortKey::Kind,
            SortColumn::Params => SortKey::Params,
            SortColumn::Performance => SortKey::Performance,
            SortColumn::Resource => SortKey::Resource(variant),
            SortColumn::Score => SortKey::Score(variant),
        }
    }

    pub fn step(self, forward: bool) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        let n = SortColumn::ALL.len();
        SortColumn::ALL[if forward { (i + 1) % n } else { (i + n - 1) % n }]
    }
}

/// The leaderboard as a table or as a chart of P against the resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Table,
    Chart,
}

pub struct RunsScreen {
    /// How runs are grouped into comparison sets, and the set shown.
    pub set_by: SetBy,
    pub set_index: usize,
    pub variant: Variant,
    pub sort_column: SortColumn,
    /// Flips the column's natural direction.
    pub reversed: bool,
    pub filter: String,
    pub editing_filter: bool,
    pub view: View,
    pub show_details: bool,
    /// First line of the details pane shown (PgUp/PgDn scroll it).
    pub details_scroll: usize,
    /// Runs that differ only by seed show as one row (mean and spread).
    pub aggregate_seeds: bool,
    /// The selected row of `rows` and the first one shown.
    pub cursor: ListCursor,
    /// Indices into `data.ranking.runs` of the rows shown, in display order.
    rows: Vec<usize>,
    /// The optional columns and their chooser (`o`).
    pub columns: Columns,
    /// The budget filter and carbon what-if (`B`, `w`).
    pub scenario: Scenario,
}

impl Default for RunsScreen {
    fn default() -> Self {
        RunsScreen {
            set_by: SetBy::Group,
            set_index: 0,
            variant: Variant::Energy,
            sort_column: SortColumn::Rank,
            reversed: false,
            filter: String::new(),
            editing_filter: false,
            view: View::Table,
            show_details: false,
            details_scroll: 0,
            aggregate_seeds: false,
            cursor: ListCursor::default(),
            rows: Vec::new(),
            columns: Columns::default(),
            scenario: Scenario::default(),
        }
    }
}

impl RunsScreen {
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    pub fn sort_key(&self) -> SortKey {
        self.sort_column.key(self.variant)
    }

    pub fn descending(&self) -> bool {
        self.sort_key().descending_by_default() != self.reversed
    }

    /// The comparison sets of the loaded runs.
    pub fn sets<'a>(&self, data: Option<&'a Data>) -> &'a [SetSummary] {
        data.map_or(&[], |d| &d.ranking.sets)
    }

    pub fn current_set<'a>(&self, data: Option<&'a Data>) -> Option<&'a SetSummary> {
        self.sets(data).get(self.set_index)
    }

    /// The selected run's record and ranking entry.
    pub fn selected_run<'a>(
        &self,
        data: Option<&'a Data>,
    ) -> Option<(&'a RunRecord, &'a crate::results::rank::RankedRun)> {
        let data = data?;
        let run = &data.ranking.runs[*self.rows.get(self.cursor.selected())?];
        Some((&data.records[run.index], run))
    }

    /// Recomputes the visible rows after the data, set, filter or sort changed; keeps the
    /// selected run selected when it is still shown.
    pub fn refresh_rows(&mut self, data: Option<&Data>) {
        let selected_run = self.rows.get(self.cursor.selected()).copied();
        let Some(data) = data else {
            self.rows.clear();
            return;
        };
        let set = data.ranking.sets.get(self.set_index).map(|s| s.name.as_str());
        self.rows = match set {
            Some(set) => select(
                &data.records,
                &data.ranking,
                Some(set),
                &self.filter,
                self.sort_key(),
                self.descending(),
                self.variant,
            ),
            None => Vec::new(),
        };
        // The budget filter (`B`): scores stay those of the full ranking.
        self.scenario.before_budget = self.rows.len();
        let budget = self.scenario.budget;
        if !budget.is_empty() {
            self.rows.retain(|&r| budget.fits(&data.records[data.ranking.runs[r].index]));
        }
        let at = selected_run.and_then(|run| self.rows.iter().position(|&r| r == run)).unwrap_or(0);
        self.cursor.select(at, self.rows.len());
    }

    /// A key of the leaderboard (see `keys::RUNS`) that changes only what it shows: moves, sorting,
    /// the PePR variant, the filter, the comparison set, the views and the budget prompt. (`data`:
    /// the loaded runs; a new variant re-sorts their seed groups.) The keys that load, import,
    /// delete, export or re-score go through `App::runs_key`, which answers them and hands the
    /// others here.
    pub fn handle_key(&mut self, event: KeyEvent, data: Option<&mut Data>) -> Option<Request> {
        let action = lookup(RUNS, Key::of(event))?;
        match action {
            A::Back => {
                if !self.filter.is_empty() {
                    self.filter.clear();
                    self.refresh_rows(data.as_deref());
                } else if self.show_details {
                    self.show_details = false;
                } else if self.view == View::Chart {
                    self.view = View::Table;
                }
            }
            A::Move(m) => {
                if self.show_details && matches!(m, Move::By(10) | Move::By(-10)) {
                    // PgUp/PgDn scroll the details pane while it shows.
                    let d = if m == Move::By(10) { 10 } else { -10 };
                    self.details_scroll = (self.details_scroll as isize + d).max(0) as usize;
                } else {
                    self.cursor.apply(m, self.rows.len());
                    self.details_scroll = 0;
                }
            }
            A::SortNext | A::SortPrev => {
                self.sort_column = self.sort_column.step(action == A::SortNext);
                self.reversed = false;
                self.refresh_rows(data.as_deref());
            }
            A::Reverse => {
                self.reversed = !self.reversed;
                self.refresh_rows(data.as_deref());
            }
            A::Variant => {
                let variant = match event.code {
                    KeyCode::Char('c') => Variant::Co2,
                    KeyCode::Char('t') => Variant::Time,
                    KeyCode::Char('m') => Variant::Memory,
                    _ => Variant::Energy,
                };
                self.set_variant(variant, data);
            }
            A::NextVariant => self.set_variant(self.variant.next(), data),
            A::Filter => self.editing_filter = true,
            A::NextSet => self.step_set(true, data.as_deref()),
            A::PrevSet => self.step_set(false, data.as_deref()),
            A::Details => {
                self.show_details = !self.show_details;
                self.details_scroll = 0;
            }
            A::Seeds => self.aggregate_seeds = !self.aggregate_seeds,
            A::Columns => self.columns.open = true,
            A::Chart => self.view = if self.view == View::Table { View::Chart } else { View::Table },
            A::Budget => self.scenario.open_prompt(),
            // The app's keys (see `App::runs_key`).
            A::SetBy
            | A::Reload
            | A::Import
            | A::ImportPaper
            | A::ExportChart
            | A::Delete
            | A::Restore
            | A::WhatIf
            | A::WhatIfOff => {}
        }
        None
    }

    /// Ranks and sorts by `variant`; the seed groups (`a`) follow it (a sort, no polars).
    fn set_variant(&mut self, variant: Variant, data: Option<&mut Data>) {
        self.variant = variant;
        self.refresh_rows(data.as_deref());
        if let Some(data) = data {
            crate::results::seeds::sort_groups(&mut data.seed_groups, variant);
        }
    }

    /// The next or previous comparison set, from its first row.
    pub fn step_set(&mut self, forward: bool, data: Option<&Data>) {
        let n = self.sets(data).len();
        if n == 0 {
            return;
        }
        self.set_index = if forward { (self.set_index + 1) % n } else { (self.set_index + n - 1) % n };
        self.cursor.reset();
        self.rows.clear();
        self.refresh_rows(data);
    }

    /// Indices into the records of the runs shown.
    fn shown_records(&self, data: &Data) -> std::collections::HashSet<usize> {
        self.rows.iter().map(|&r| data.ranking.runs[r].index).collect()
    }

    /// The seed-aggregated rows of the current set that the filter keeps: a row shows when one of
    /// its runs is shown (see [`RunsScreen::seed_group_matches`] for how many).
    pub fn current_seed_groups<'a>(&self, data: Option<&'a Data>) -> Vec<&'a crate::results::seeds::SeedGroup> {
        let Some(data) = data else { return Vec::new() };
        let shown = self.shown_records(data);
        data.seed_groups
            .iter()
            .filter(|g| g.set == self.set_index && g.runs.iter().any(|r| shown.contains(r)))
            .collect()
    }

    /// How many of a seed row's runs the filter keeps (all of them unless it names ids or seeds).
    pub fn seed_group_matches(&self, group: &crate::results::seeds::SeedGroup, data: Option<&Data>) -> usize {
        let Some(data) = data else { return 0 };
        let shown = self.shown_records(data);
        group.runs.iter().filter(|r| shown.contains(r)).count()
    }

    /// The current set's mixed-scope warning, if its runs' figures cover different things.
    pub fn scope_warning<'a>(&self, data: Option<&'a Data>) -> Option<&'a str> {
        data?.scope_warnings.get(self.set_index)?.as_deref()
    }

    /// PePR-C is shown for a set where it only repeats PePR-E (one intensity x PUE for every run).
    pub fn co2_mirrors_energy(&self, data: Option<&Data>) -> bool {
        self.variant == Variant::Co2 && data.is_some_and(|d| d.ranking.co2_mirrors_energy_in(self.set_index))
    }
}
