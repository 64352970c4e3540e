//! The explorer's state and what keys do to it. Knows nothing of the terminal: the event loop
//! feeds it key events and worker messages, and `ui` draws it.

use std::cell::Cell;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::results::rank::{Ranking, SetBy, SetSummary, Variant};
use crate::results::record::RunRecord;
use crate::results::store::LoadWarning;
use crate::results::view::{SortKey, select};

use super::analyses::{AnalysesScreen, AnalyzeRequest};
use super::archs::ArchsScreen;
use super::datasets::{DataRequest, DatasetsScreen};
use super::jobs::{JobsRequest, JobsScreen, JobsUpdate};
use super::train::{TrainRequest, TrainScreen};
use crate::train::worker::RunMessage;

/// Loaded runs and their ranking, produced off the UI thread.
#[derive(Clone, Debug, Default)]
pub struct Data {
    pub records: Vec<RunRecord>,
    pub ranking: Ranking,
    pub warnings: Vec<LoadWarning>,
    pub set_by: SetBy,
    /// Runs that differ only by seed, one row each (mean and spread), for every set: computed with
    /// the ranking, so toggling the aggregated view costs the UI thread nothing.
    pub seed_groups: Vec<crate::results::seeds::SeedGroup>,
    /// Per variant, per ranked run (like `ranking.runs`): the ranks it could take within the
    /// energy/CO2 bands (see `results::stability`).
    pub rank_bands: [Vec<Option<crate::results::stability::RankBand>>; 4],
    /// Per set (like `ranking.sets`): a warning when its runs' figures cover different scopes.
    pub scope_warnings: Vec<Option<String>>,
}

impl Data {
    /// Ranked records plus their seed aggregation (polars: run it off the UI thread).
    pub fn new(
        records: Vec<RunRecord>,
        ranking: Ranking,
        warnings: Vec<LoadWarning>,
        set_by: SetBy,
    ) -> Result<Data, String> {
        let seed_groups = crate::results::seeds::aggregate_seeds(&records, &ranking)
            .map_err(|e| format!("aggregating seeds: {e:#}"))?;
        let rank_bands = Variant::ALL.map(|v| crate::results::stability::rank_bands(&records, &ranking, v));
        let scope_warnings = crate::results::record::scope_warnings(&records, &ranking);
        Ok(Data { records, ranking, warnings, set_by, seed_groups, rank_bands, scope_warnings })
    }
}

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

    fn step(self, forward: bool) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        let n = SortColumn::ALL.len();
        SortColumn::ALL[if forward { (i + 1) % n } else { (i + n - 1) % n }]
    }
}

/// The top-level screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Leaderboard,
    Architectures,
    Datasets,
    Train,
    /// The paper's analyses: pretrained vs scratch, data fraction, parameters.
    Analyses,
    /// Slurm arrays submitted from this home.
    Jobs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Table,
    Chart,
}

/// Something the event loop must do for the app (the app itself never does I/O).
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Load the store and rank it with this set definition, on a worker thread.
    Load(SetBy),
    /// Compute the catalog's costs at this input size (`None`: each architecture's default).
    Catalog(Option<usize>),
    /// Dataset work: list, preview, download.
    Data(DataRequest),
    /// Start, pause, resume or stop a training run.
    Train(TrainRequest),
    /// Compute the analyses of these runs on a worker thread.
    Analyze(AnalyzeRequest),
    /// Poll Slurm now, or cancel an array.
    Jobs(JobsRequest),
    /// Submit the grid form's missing cells to Slurm as one job array, on a worker thread.
    GridSlurm(super::grid_form::GridSubmit),
}

pub struct App {
    pub screen: Screen,
    pub archs: ArchsScreen,
    pub datasets: DatasetsScreen,
    pub train: TrainScreen,
    pub analyses: AnalysesScreen,
    pub jobs: JobsScreen,
    /// Where the store lives, shown on the empty screen and in details.
    pub store_label: String,
    pub data: Option<Data>,
    /// A load or rank is running on the worker.
    pub loading: bool,
    pub load_error: Option<String>,
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
    pub show_help: bool,
    pub selected: usize,
    pub quit: bool,
    /// Indices into `data.ranking.runs` of the rows shown, in display order.
    rows: Vec<usize>,
    /// First visible table row; only the renderer moves it, to keep the selection in view.
    pub scroll: Cell<usize>,
    /// Why the settings file was not used (pepr runs on the defaults), shown in the status line.
    pub settings_warning: Option<String>,
    /// The Train screen's experiment-grid form.
    pub grid_form: super::grid_form::GridForm,
    /// The leaderboard shows runs that differ only by seed as one row (mean and spread).
    pub aggregate_seeds: bool,
}

impl App {
    pub fn new(store_label: impl Into<String>) -> App {
        App {
            screen: Screen::Leaderboard,
            archs: ArchsScreen::default(),
            datasets: DatasetsScreen::default(),
            train: TrainScreen::default(),
            analyses: AnalysesScreen::default(),
            jobs: JobsScreen::default(),
            store_label: store_label.into(),
            data: None,
            loading: true,
            load_error: None,
            set_by: SetBy::Group,
            set_index: 0,
            variant: Variant::Energy,
            sort_column: SortColumn::Rank,
            reversed: false,
            filter: String::new(),
            editing_filter: false,
            view: View::Table,
            show_details: false,
            show_help: false,
            selected: 0,
            quit: false,
            rows: Vec::new(),
            scroll: Cell::new(0),
            settings_warning: None,
            grid_form: Default::default(),
            aggregate_seeds: false,
        }
    }

    /// The worker finished loading (or failed). Keeps the chosen set by name where it still exists.
    pub fn on_loaded(&mut self, result: Result<Data, String>) {
        self.loading = false;
        match result {
            Ok(data) => {
                let previous = self.current_set().map(|s| s.name.clone());
                self.set_by = data.set_by;
                self.data = Some(data);
                self.load_error = None;
                self.analyses.stale = true;
                self.set_index = previous.and_then(|name| self.sets().iter().position(|s| s.name == name)).unwrap_or(0);
                self.refresh_rows();
                self.sort_seed_groups();
            }
            Err(message) => self.load_error = Some(message),
        }
    }

    /// A training worker's report; returns what the event loop must do next: reload the store when
    /// a run was stored (so it appears on the leaderboard), start the next queued run.
    pub fn on_run_message(&mut self, message: RunMessage) -> Vec<Request> {
        let (next, stored) = self.train.on_message(message);
        let mut requests = Vec::new();
        if stored {
            self.loading = true;
            requests.push(Request::Load(self.set_by));
        }
        requests.extend(next.map(Request::Train));
        requests
    }

    /// Fresh analyses when the Analyses screen is shown and its figures are missing or stale.
    pub fn analyses_request(&mut self) -> Option<Request> {
        if self.screen != Screen::Analyses {
            return None;
        }
        let records = &self.data.as_ref()?.records;
        self.analyses.request(records).map(Request::Analyze)
    }

    /// The jobs poller's answer; reloads the leaderboard when it merged runs into the store.
    pub fn on_jobs(&mut self, update: JobsUpdate) -> Option<Request> {
        if self.jobs.on_update(update) {
            self.loading = true;
            return Some(Request::Load(self.set_by));
        }
        None
    }

    /// Queues every pair of the architectures and datasets selected on their screens.
    fn queue_selection(&mut self) -> usize {
        let archs: Vec<&str> = self.archs.chosen.iter().copied().collect();
        let datasets: Vec<&str> = self.datasets.chosen.iter().map(String::as_str).collect();
        self.train.add_pairs(archs, datasets)
    }

    pub fn sets(&self) -> &[SetSummary] {
        self.data.as_ref().map_or(&[], |d| &d.ranking.sets)
    }

    pub fn current_set(&self) -> Option<&SetSummary> {
        self.sets().get(self.set_index)
    }

    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    pub fn sort_key(&self) -> SortKey {
        self.sort_column.key(self.variant)
    }

    pub fn descending(&self) -> bool {
        self.sort_key().descending_by_default() != self.reversed
    }

    /// The selected run's record and ranking entry.
    pub fn selected_run(&self) -> Option<(&RunRecord, &crate::results::rank::RankedRun)> {
        let data = self.data.as_ref()?;
        let run = &data.ranking.runs[*self.rows.get(self.selected)?];
        Some((&data.records[run.index], run))
    }

    /// PePR-C is shown for a set where it only repeats PePR-E (one intensity x PUE for every run).
    /// The current set's mixed-scope warning, if its runs' figures cover different things.
    pub fn scope_warning(&self) -> Option<&str> {
        self.data.as_ref()?.scope_warnings.get(self.set_index)?.as_deref()
    }

    pub fn co2_mirrors_energy(&self) -> bool {
        self.variant == Variant::Co2
            && self.data.as_ref().is_some_and(|d| d.ranking.co2_mirrors_energy_in(self.set_index))
    }

    /// True once loaded with no runs at all: the UI shows how to get some.
    pub fn is_empty_store(&self) -> bool {
        self.data.as_ref().is_some_and(|d| d.records.is_empty())
    }

    /// Recomputes the visible rows after the data, set, filter or sort changed; keeps the
    /// selected run selected when it is still shown.
    fn refresh_rows(&mut self) {
        let selected_run = self.rows.get(self.selected).copied();
        let Some(data) = &self.data else {
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
        self.selected = selected_run
            .and_then(|run| self.rows.iter().position(|&r| r == run))
            .unwrap_or(0)
            .min(self.rows.len().saturating_sub(1));
    }

    /// Applies one key press; returns work for the event loop, if any.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Request> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return None;
        }
        if self.screen == Screen::Architectures && self.archs.editing_filter {
            self.archs.handle_key(key);
            return None;
        }
        if self.screen == Screen::Datasets && self.datasets.editing_filter {
            return self.datasets.handle_key(key).map(Request::Data);
        }
        if self.editing_filter {
            self.edit_filter(key);
            return None;
        }
        if self.screen == Screen::Train
            && self.grid_form.open
            && (self.grid_form.editing || key.code != KeyCode::Char('q'))
        {
            return self.grid_key(key);
        }
        if self.show_help {
            // Any key closes help; `q` still quits.
            self.show_help = false;
            if key.code == KeyCode::Char('q') {
                self.quit = true;
            }
            return None;
        }
        match key.code {
            KeyCode::Char('q') => {
                self.quit = true;
                return None;
            }
            KeyCode::Char('?') => {
                self.show_help = true;
                return None;
            }
            KeyCode::Char('1') => {
                self.screen = Screen::Leaderboard;
                return None;
            }
            KeyCode::Char('2') => {
                self.screen = Screen::Architectures;
                if self.archs.rows.is_empty() && !self.archs.loading {
                    self.archs.loading = true;
                    return Some(Request::Catalog(self.archs.input_size()));
                }
                return None;
            }
            KeyCode::Char('3') => {
                self.screen = Screen::Datasets;
                if self.datasets.entries.is_empty() && !self.datasets.loading {
                    self.datasets.loading = true;
                    return Some(Request::Data(DataRequest::List));
                }
                return None;
            }
            KeyCode::Char('4') => {
                self.screen = Screen::Train;
                if self.train.queued() == 0 {
                    self.queue_selection();
                }
                return None;
            }
            KeyCode::Char('5') => {
                self.screen = Screen::Analyses;
                return self.analyses_request();
            }
            KeyCode::Char('6') => {
                self.screen = Screen::Jobs;
                return Some(Request::Jobs(JobsRequest::Refresh));
            }
            _ => {}
        }
        if self.screen == Screen::Analyses {
            if key.code == KeyCode::Char('R') {
                self.loading = true;
                return Some(Request::Load(self.set_by));
            }
            self.analyses.handle_key(key);
            return None;
        }
        if self.screen == Screen::Jobs {
            return self.jobs.handle_key(key).map(Request::Jobs);
        }
        if self.screen == Screen::Train {
            if key.code == KeyCode::Char('E') {
                self.grid_form.open = true;
                return None;
            }
            if key.code == KeyCode::Char('a') {
                let added = self.queue_selection();
                let line = match added {
                    0 if self.archs.chosen.is_empty() || self.datasets.chosen.is_empty() => {
                        "select architectures (2, Space) and datasets (3, Space) to queue runs".to_string()
                    }
                    0 => "every selected pair is already queued".to_string(),
                    n => format!("queued {n} run{}", if n == 1 { "" } else { "s" }),
                };
                self.train.note(line);
                return None;
            }
            return self.train.handle_key(key).map(Request::Train);
        }
        if self.screen == Screen::Datasets {
            return self.datasets.handle_key(key).map(Request::Data);
        }
        if self.screen == Screen::Architectures {
            return self.archs.handle_key(key).map(Request::Catalog);
        }
        let page = 10;
        match key.code {
            KeyCode::Esc => {
                if !self.filter.is_empty() {
                    self.filter.clear();
                    self.refresh_rows();
                } else if self.show_details {
                    self.show_details = false;
                } else if self.view == View::Chart {
                    self.view = View::Table;
                }
            }
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(page),
            KeyCode::PageUp => self.move_selection(-page),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = self.rows.len().saturating_sub(1),
            KeyCode::Char('s') | KeyCode::Char('S') => {
                self.sort_column = self.sort_column.step(key.code == KeyCode::Char('s'));
                self.reversed = false;
                self.refresh_rows();
            }
            KeyCode::Char('r') => {
                self.reversed = !self.reversed;
                self.refresh_rows();
            }
            KeyCode::Char('e') => self.set_variant(Variant::Energy),
            KeyCode::Char('c') => self.set_variant(Variant::Co2),
            KeyCode::Char('t') => self.set_variant(Variant::Time),
            KeyCode::Char('m') => self.set_variant(Variant::Memory),
            KeyCode::Char('v') => self.set_variant(self.variant.next()),
            KeyCode::Char('/') => self.editing_filter = true,
            KeyCode::Char(']') | KeyCode::Char('n') => self.step_set(true),
            KeyCode::Char('[') | KeyCode::Char('p') => self.step_set(false),
            KeyCode::Char('b') => {
                let next = match self.set_by {
                    SetBy::Group => SetBy::Dataset,
                    SetBy::Dataset => SetBy::All,
                    SetBy::All => SetBy::Group,
                };
                self.loading = true;
                return Some(Request::Load(next));
            }
            KeyCode::Char('R') => {
                self.loading = true;
                return Some(Request::Load(self.set_by));
            }
            KeyCode::Enter | KeyCode::Char('d') => self.show_details = !self.show_details,
            KeyCode::Char('a') => self.aggregate_seeds = !self.aggregate_seeds,
            KeyCode::Tab | KeyCode::Char('x') => {
                self.view = if self.view == View::Table { View::Chart } else { View::Table };
            }
            _ => {}
        }
        None
    }

    fn edit_filter(&mut self, key: KeyEvent) {
        if super::text_input::edit_filter(&mut self.filter, &mut self.editing_filter, key) {
            self.refresh_rows();
        }
    }

    fn move_selection(&mut self, delta: isize) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() as isize - 1;
        self.selected = (self.selected as isize + delta).clamp(0, last) as usize;
    }

    fn set_variant(&mut self, variant: Variant) {
        self.variant = variant;
        self.refresh_rows();
        self.sort_seed_groups();
    }

    /// Orders the seed-aggregated rows by the current variant's mean PePR (a sort, no polars).
    fn sort_seed_groups(&mut self) {
        if let Some(data) = &mut self.data {
            crate::results::seeds::sort_groups(&mut data.seed_groups, self.variant);
        }
    }

    /// The seed-aggregated rows of the current set.
    pub fn current_seed_groups(&self) -> Vec<&crate::results::seeds::SeedGroup> {
        let Some(data) = &self.data else { return Vec::new() };
        data.seed_groups.iter().filter(|g| g.set == self.set_index).collect()
    }

    /// The answer to the grid form's Slurm submission (a summary naming the job, or the error);
    /// the jobs poller is woken so the Jobs screen lists the new array.
    pub fn on_grid_submitted(&mut self, result: Result<String, String>) -> Option<Request> {
        self.grid_form.on_submitted(&result);
        match result {
            Ok(summary) => {
                self.train.note(summary);
                Some(Request::Jobs(JobsRequest::Refresh))
            }
            Err(e) => {
                self.train.note(format!("grid: Slurm: {e}"));
                None
            }
        }
    }

    /// A key for the open grid form: edits it, closes it, queues its missing cells, or asks for
    /// their Slurm submission.
    fn grid_key(&mut self, key: KeyEvent) -> Option<Request> {
        use super::grid_form::GridAction;
        let form = &mut self.grid_form;
        let archs: Vec<&str> = self.archs.chosen.iter().copied().collect();
        let datasets: Vec<&str> = self.datasets.chosen.iter().map(String::as_str).collect();
        let records = self.data.as_ref().map_or(&[][..], |d| &d.records);
        match form.handle_key(key, &archs, &datasets, &self.train.settings, records) {
            Ok(GridAction::None) => {}
            Ok(GridAction::Close) => self.grid_form.open = false,
            Ok(GridAction::Queue(cells)) => {
                let added = self.train.add_cells(&cells);
                let line = if cells.is_empty() {
                    "grid: every cell is already stored as completed".to_string()
                } else if added == 0 {
                    format!("grid: its {} missing cells are already queued", cells.len())
                } else {
                    format!(
                        "grid: queued {added} missing cell{} (s starts the queue)",
                        if added == 1 { "" } else { "s" }
                    )
                };
                self.train.note(line);
                self.grid_form.open = false;
            }
            Ok(GridAction::Submit(submit)) => return Some(Request::GridSlurm(submit)),
            Err(message) => self.train.note(format!("grid: {message}")),
        }
        None
    }

    fn step_set(&mut self, forward: bool) {
        let n = self.sets().len();
        if n == 0 {
            return;
        }
        self.set_index = if forward { (self.set_index + 1) % n } else { (self.set_index + n - 1) % n };
        self.selected = 0;
        self.scroll.set(0);
        self.rows.clear();
        self.refresh_rows();
    }
}
