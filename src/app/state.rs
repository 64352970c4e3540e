//! The explorer's state and what keys do to it. Knows nothing of the terminal: the event loop
//! feeds it key events and worker messages, and `ui` draws it.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::keys::Key;

use crate::results::rank::{Ranking, SetBy, SetSummary, Variant};

pub use super::request::Request;
pub use super::runs::{SortColumn, View};
use crate::results::record::RunRecord;
use crate::results::store::LoadWarning;

use super::analyses::AnalysesScreen;
use super::archs::ArchsScreen;
use super::datasets::{DataRequest, DatasetsScreen};
use super::jobs::{JobsRequest, JobsScreen, JobsUpdate};
use super::train::TrainScreen;
use crate::run::worker::RunMessage;

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
    /// The carbon what-if these records were re-scored with (`w`), with the records as stored.
    pub what_if: Option<super::whatif::Applied>,
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
        Ok(Data { records, ranking, warnings, set_by, seed_groups, rank_bands, scope_warnings, what_if: None })
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

/// What can lie over a screen and take its keys first (see `App::overlay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Overlay {
    Help,
    /// The Settings pane (`,`).
    Settings,
    /// The budget prompt of the leaderboard (`B`).
    BudgetPrompt,
    /// The file to import (`I` on the leaderboard).
    ImportPrompt,
    /// A filter being typed (leaderboard, Architectures, Datasets).
    Filter,
    /// The leaderboard's column chooser.
    Columns,
    /// The grid form over the Train screen.
    GridForm,
}

pub struct App {
    pub screen: Screen,
    /// The leaderboard (screen 1).
    pub runs: super::runs::RunsScreen,
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
    pub show_help: bool,
    pub quit: bool,
    /// Why the settings file was not used (pepr runs on the defaults), shown in the status line.
    pub settings_warning: Option<String>,
    /// The Train screen's experiment-grid form.
    pub grid_form: super::grid_form::GridForm,
    /// A question open over the screen (stop, quit, cancel): only y, n and Esc answer it.
    pub confirm: Option<Confirm>,
    /// What the last key did, shown in the status line until the next key.
    pub message: Option<String>,
    /// The settings in use (settings.json as read at start or saved from the Settings pane).
    pub config: crate::settings::Settings,
    /// The Settings pane (`,`).
    pub settings_form: super::settings_form::SettingsForm,
    /// The path being typed after `I` (import a CSV file).
    pub import_prompt: Option<String>,
    /// The run last deleted with X in the details pane (U restores it).
    pub removed_run: Option<String>,
    /// The empty screen's import of the paper's runs: in progress, or why it failed.
    pub paper_import: Option<String>,
    pub importing_paper: bool,
    /// Where the last exported chart went (or why it did not), shown in the status line.
    pub figure_notice: Option<String>,
    /// Estimates of the queued runs and of the grid form's cells (see `estimates`).
    pub estimates: super::estimates::Estimates,
}

impl App {
    pub fn new(store_label: impl Into<String>) -> App {
        App {
            screen: Screen::Leaderboard,
            runs: Default::default(),
            archs: ArchsScreen::default(),
            datasets: DatasetsScreen::default(),
            train: TrainScreen::default(),
            analyses: AnalysesScreen::default(),
            jobs: JobsScreen::default(),
            store_label: store_label.into(),
            data: None,
            loading: true,
            load_error: None,
            show_help: false,
            quit: false,
            settings_warning: None,
            grid_form: Default::default(),
            confirm: None,
            message: None,
            config: Default::default(),
            settings_form: Default::default(),
            import_prompt: None,
            removed_run: None,
            paper_import: None,
            importing_paper: false,
            figure_notice: None,
            estimates: Default::default(),
        }
    }

    /// The worker marked a run (deleted or restored it): note it; the caller reloads.
    pub fn on_marked(&mut self, result: Result<String, String>) -> Request {
        self.message = Some(match result {
            Ok(note) => note,
            Err(e) => format!("not changed: {e}"),
        });
        self.loading = true;
        Request::Load(self.runs.set_by)
    }

    /// The worker finished loading (or failed). Keeps the chosen set by name where it still exists.
    pub fn on_loaded(&mut self, result: Result<Data, String>) {
        self.loading = false;
        match result {
            Ok(data) => {
                if self.message.as_deref() == Some(RELOADING) {
                    let n = data.records.len();
                    self.message = Some(format!("read the store again: {n} run{}", super::plural(n)));
                }
                let previous = self.current_set().map(|s| s.name.clone());
                self.runs.set_by = data.set_by;
                self.data = Some(data);
                self.load_error = None;
                self.analyses.stale = true;
                self.runs.set_index =
                    previous.and_then(|name| self.sets().iter().position(|s| s.name == name)).unwrap_or(0);
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
            requests.push(Request::Load(self.runs.set_by));
        }
        requests.extend(next.map(Request::Train));
        requests
    }

    /// Fresh analyses when the Analyses screen is shown and its figures are missing or stale.
    pub fn analyses_request(&mut self) -> Option<Request> {
        if self.screen != Screen::Analyses {
            return None;
        }
        let data = self.data.as_ref()?;
        // The analyses are of the runs as stored, never of a carbon what-if.
        let records = data.what_if.as_ref().map_or(&data.records, |w| &w.stored);
        self.analyses.request(records, &self.runs.filter).map(Request::Analyze)
    }

    /// The jobs poller's answer; reloads the leaderboard when it merged runs into the store.
    pub fn on_jobs(&mut self, update: JobsUpdate) -> Option<Request> {
        if self.jobs.on_update(update) {
            self.loading = true;
            return Some(Request::Load(self.runs.set_by));
        }
        None
    }

    /// The paper's runs were imported (a summary) or not (why); reloads the store when they were.
    pub fn on_paper_imported(&mut self, result: Result<String, String>) -> Option<Request> {
        self.importing_paper = false;
        match result {
            Ok(summary) => {
                self.paper_import = None;
                self.message = Some(format!("the paper's runs: {summary}"));
                self.loading = true;
                Some(Request::Load(self.runs.set_by))
            }
            Err(e) => {
                self.paper_import = Some(format!("Import failed: {e}"));
                None
            }
        }
    }

    /// `P`: the current set's chart (P against the variant's resource, every run of the set) as an
    /// SVG file; the event loop writes it and [`App::on_figure_exported`] says where.
    fn export_chart(&mut self) -> Option<Request> {
        use crate::plot::{Choice, Inputs, Kind, build};
        let data = self.data.as_ref()?;
        let set = self.current_set()?.name.clone();
        let inputs = Inputs { records: &data.records, ranking: &data.ranking, analyses: None };
        let choice = Choice { group: Some(set.clone()), variant: self.runs.variant, runs: vec![] };
        match build(Kind::Pareto, &inputs, &choice) {
            Ok(figure) => {
                let safe: String =
                    set.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
                let file = format!("pareto-{safe}-pepr-{}.svg", self.runs.variant.letter().to_ascii_lowercase());
                self.figure_notice = Some(format!("saving {file}…"));
                Some(Request::ExportFigure { figure, file })
            }
            Err(e) => {
                self.figure_notice = Some(format!("no chart to save: {e}"));
                None
            }
        }
    }

    /// `P` on the Analyses screen: the analysis shown (its pair, family or group, variant and the
    /// filter's runs) as a figure by the plot code and as the CSV `pepr analyze` writes; the event
    /// loop writes both and [`App::on_analysis_exported`] names them.
    fn export_analysis(&mut self) -> Option<Request> {
        use super::analyses::AnalysisView;
        use crate::plot::{Choice, Inputs, Kind, build};
        use crate::results::analysis_report::{Which, print};
        let screen = &self.analyses;
        let (Some(data), Some(analyses)) = (self.data.as_ref(), screen.analyses()) else {
            self.message = Some("nothing to save yet: the analyses are not computed".into());
            return None;
        };
        let (kind, which, label, name) = match screen.view {
            AnalysisView::Pretrained => (
                Kind::Pretrained,
                Which::Pretrained,
                "pretrained",
                analyses.paired.get(screen.pair_index).map(|p| p.pair.pretrained.clone()),
            ),
            AnalysisView::Fraction => (
                Kind::Fraction,
                Which::Fraction,
                "fraction",
                analyses.families.get(screen.family_index).and_then(|f| f.levels.first()).map(|l| l.group.clone()),
            ),
            AnalysisView::Params => (
                Kind::Params,
                Which::Params,
                "params",
                analyses.params.get(screen.group_index).map(|g| g.group.clone()),
            ),
        };
        let Some(name) = name else {
            self.message = Some(format!("nothing to save: no {} analysis in these runs", screen.view.title()));
            return None;
        };
        let inputs = Inputs { records: &data.records, ranking: &data.ranking, analyses: Some(analyses) };
        let choice = Choice { group: Some(name.clone()), variant: screen.variant, runs: vec![] };
        let mut csv = Vec::new();
        let built = build(kind, &inputs, &choice).and_then(|figure| {
            print(&mut csv, analyses, which, Some(&name), screen.variant, crate::output::Format::Csv).map(|()| figure)
        });
        match built {
            Ok(figure) => {
                let safe: String =
                    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
                let stem = format!("{label}-{safe}-pepr-{}", screen.variant.letter().to_ascii_lowercase());
                self.message = Some(format!("saving {stem}.svg and .csv…"));
                Some(Request::ExportAnalysis { figure, csv: String::from_utf8_lossy(&csv).into_owned(), stem })
            }
            Err(e) => {
                self.message = Some(format!("nothing saved: {e:#}"));
                None
            }
        }
    }

    /// The analysis export's answer: the files written, or why not.
    pub fn on_analysis_exported(&mut self, result: Result<Vec<std::path::PathBuf>, String>) {
        self.message = Some(match result {
            Ok(paths) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                format!("analysis saved: {}", names.join(" and "))
            }
            Err(e) => format!("analysis not saved: {e}"),
        });
    }

    /// The chart export's answer: the file written, or why not.
    pub fn on_figure_exported(&mut self, result: Result<std::path::PathBuf, String>) {
        self.figure_notice = Some(match result {
            Ok(path) => format!("chart saved: {}", path.display()),
            Err(e) => format!("chart not saved: {e}"),
        });
    }

    /// A worker thread with no error answer of its own could not be started: the status line
    /// says why, and the lists that waited for it stop saying they are loading.
    pub fn on_thread_failed(&mut self, why: String) {
        self.archs.loading = false;
        self.datasets.loading = false;
        self.message = Some(why);
    }

    /// Queues every pair of the architectures and datasets selected on their screens.
    fn queue_selection(&mut self) -> usize {
        let archs: Vec<&str> = self.archs.chosen.iter().copied().collect();
        let datasets: Vec<&str> = self.datasets.chosen.iter().map(String::as_str).collect();
        self.train.add_pairs(archs, datasets)
    }

    /// The leaderboard's sets of the loaded runs.
    pub fn sets(&self) -> &[SetSummary] {
        self.runs.sets(self.data.as_ref())
    }

    pub fn current_set(&self) -> Option<&SetSummary> {
        self.runs.current_set(self.data.as_ref())
    }

    /// The leaderboard's rows: indices into `data.ranking.runs`, in display order.
    pub fn rows(&self) -> &[usize] {
        self.runs.rows()
    }

    /// The selected run's record and ranking entry.
    pub fn selected_run(&self) -> Option<(&RunRecord, &crate::results::rank::RankedRun)> {
        self.runs.selected_run(self.data.as_ref())
    }

    pub fn current_seed_groups(&self) -> Vec<&crate::results::seeds::SeedGroup> {
        self.runs.current_seed_groups(self.data.as_ref())
    }

    /// PePR-C is shown for a set where it only repeats PePR-E (one intensity x PUE for every run).
    pub fn co2_mirrors_energy(&self) -> bool {
        self.runs.co2_mirrors_energy(self.data.as_ref())
    }

    /// Recomputes the leaderboard's rows from the loaded runs.
    pub(super) fn refresh_rows(&mut self) {
        self.runs.refresh_rows(self.data.as_ref());
    }

    /// True once loaded with no runs at all: the UI shows how to get some.
    pub fn is_empty_store(&self) -> bool {
        self.data.as_ref().is_some_and(|d| d.records.is_empty())
    }

    /// Applies one key press; returns work for the event loop, if any. Keys are looked up in the
    /// key tables of `keys` (the help is drawn from the same tables): a question first, then the
    /// help overlay, text being typed, the grid form, the keys of every screen, the current screen's.
    pub fn handle_key(&mut self, event: KeyEvent) -> Option<Request> {
        let request = self.key(event);
        // The screens' own answers go to the status line too.
        if let Some(note) = self.archs.note.take().or_else(|| self.datasets.note.take()) {
            self.message = Some(note);
        }
        request
    }

    fn key(&mut self, event: KeyEvent) -> Option<Request> {
        use super::keys::{GLOBAL, GlobalAction, lookup};
        if event.kind == KeyEventKind::Release {
            return None;
        }
        let key = Key::of(event);
        if let Some(confirm) = self.confirm.take() {
            return self.answer(confirm, key);
        }
        self.message = None;
        // Ctrl-C quits from anywhere, even while typing (asking first while a run trains).
        if key == Key::ctrl('c') {
            return self.quit_or_ask();
        }
        match self.overlay() {
            Some(Overlay::Help) => {
                // Any key closes help; `q` still quits.
                self.show_help = false;
                if key == Key::ch('q') {
                    return self.quit_or_ask();
                }
                return None;
            }
            Some(Overlay::Settings) => {
                if self.settings_form.editing.is_some() || lookup(super::keys::SETTINGS, key).is_some() {
                    return self.settings_key(event);
                }
                // Over any screen only the keys of every screen pass the pane.
                lookup(GLOBAL, key)?;
            }
            Some(Overlay::BudgetPrompt) => {
                self.budget_prompt_key(event);
                return None;
            }
            Some(Overlay::ImportPrompt) => return self.import_prompt_key(event),
            // Text being typed takes every key (but Ctrl-C).
            Some(Overlay::Filter) => {
                return match self.screen {
                    Screen::Architectures => self.archs.handle_key(event),
                    Screen::Datasets => self.datasets.handle_key(event),
                    _ => {
                        self.edit_filter(event);
                        None
                    }
                };
            }
            Some(Overlay::Columns) => {
                use super::keys::{COLUMNS, ColumnsAction};
                match lookup(COLUMNS, key) {
                    Some(ColumnsAction::Move(m)) => {
                        self.runs.columns.cursor.apply(m, super::columns::RunColumn::ALL.len());
                        return None;
                    }
                    Some(ColumnsAction::Toggle) => {
                        self.message = Some(self.runs.columns.toggle());
                        return None;
                    }
                    Some(ColumnsAction::Close) => {
                        self.runs.columns.open = false;
                        return None;
                    }
                    // Over the leaderboard only the keys of every screen pass the chooser.
                    None => {
                        lookup(GLOBAL, key)?;
                    }
                }
            }
            Some(Overlay::GridForm) => {
                if self.grid_form.editing || lookup(super::keys::GRID, key).is_some() {
                    return self.grid_key(event);
                }
                // Over the Train screen only the keys of every screen pass the form.
                lookup(GLOBAL, key)?;
            }
            None => {}
        }
        if let Some(action) = lookup(GLOBAL, key) {
            return match action {
                GlobalAction::Quit => self.quit_or_ask(),
                GlobalAction::Help => {
                    self.show_help = true;
                    None
                }
                GlobalAction::Settings => {
                    self.settings_form.open = true;
                    None
                }
                GlobalAction::GoTo => self.go_to(key),
            };
        }
        match self.screen {
            Screen::Analyses => {
                if lookup(super::keys::ANALYSES, key) == Some(super::keys::AnalysesAction::Reload) {
                    self.loading = true;
                    self.message = Some(RELOADING.into());
                    return Some(Request::Load(self.runs.set_by));
                }
                if lookup(super::keys::ANALYSES, key) == Some(super::keys::AnalysesAction::Export) {
                    return self.export_analysis();
                }
                self.analyses.handle_key(event)
            }
            Screen::Jobs => {
                if lookup(super::keys::JOBS, key) == Some(super::keys::JobsAction::Cancel) {
                    match self.jobs.cancel_target() {
                        Some((job, open)) => self.confirm = Some(Confirm::CancelJob { job, open }),
                        None => self.message = Some("no Slurm array to cancel".into()),
                    }
                    return None;
                }
                self.jobs.handle_key(event)
            }
            Screen::Train => self.train_key(event),
            Screen::Datasets => self.datasets.handle_key(event),
            Screen::Architectures => self.archs.handle_key(event),
            Screen::Leaderboard => self.runs_key(event),
        }
    }

    /// What takes the keys before the screen does: the topmost open overlay. The list is the
    /// stacking order (help over the Settings pane over a prompt over text being typed over the
    /// column chooser or the grid form); a global key that passes an overlay goes to the global
    /// actions, as no two overlays share a key.
    fn overlay(&self) -> Option<Overlay> {
        let filtering = match self.screen {
            Screen::Architectures => self.archs.editing_filter,
            Screen::Datasets => self.datasets.editing_filter,
            Screen::Leaderboard => self.runs.editing_filter,
            _ => false,
        };
        [
            (self.show_help, Overlay::Help),
            (self.settings_form.open, Overlay::Settings),
            (self.runs.scenario.prompt.is_some(), Overlay::BudgetPrompt),
            (self.import_prompt.is_some(), Overlay::ImportPrompt),
            (filtering, Overlay::Filter),
            (self.screen == Screen::Leaderboard && self.runs.columns.open, Overlay::Columns),
            (self.screen == Screen::Train && self.grid_form.open, Overlay::GridForm),
        ]
        .into_iter()
        .find_map(|(open, overlay)| open.then_some(overlay))
    }

    /// A key in the import prompt (a file to import, typed on the leaderboard).
    fn import_prompt_key(&mut self, event: KeyEvent) -> Option<Request> {
        let text = self.import_prompt.as_mut()?;
        match event.code {
            KeyCode::Esc => self.import_prompt = None,
            KeyCode::Enter => {
                let path = self.import_prompt.take().unwrap_or_default();
                let path = path.trim();
                if path.is_empty() {
                    self.message = Some("nothing imported: no file named".into());
                    return None;
                }
                self.message = Some(format!("importing {path}…"));
                return Some(Request::Import(path.into()));
            }
            _ => {
                super::text_input::edit_text(text, event);
            }
        }
        None
    }

    /// `1`..`6`: shows that screen and asks for what it needs to show. Never adds, starts, stops or
    /// deletes anything (issue 21: `4` used to queue the selection).
    fn go_to(&mut self, key: Key) -> Option<Request> {
        match key.code {
            KeyCode::Char('1') => self.screen = Screen::Leaderboard,
            KeyCode::Char('2') => {
                self.screen = Screen::Architectures;
                if self.archs.rows.is_empty() && !self.archs.loading {
                    self.archs.loading = true;
                    return Some(Request::Catalog(self.archs.input_size()));
                }
            }
            KeyCode::Char('3') => {
                self.screen = Screen::Datasets;
                if self.datasets.entries.is_empty() && !self.datasets.loading {
                    self.datasets.loading = true;
                    return Some(Request::Data(DataRequest::List));
                }
            }
            KeyCode::Char('4') => self.screen = Screen::Train,
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
        None
    }

    /// A key in the Settings pane; a changed value goes to the event loop to be saved.
    fn settings_key(&mut self, event: KeyEvent) -> Option<Request> {
        use super::settings_form::SettingsAction;
        match self.settings_form.handle_key(event, &self.config) {
            SettingsAction::None => None,
            SettingsAction::Refused(why) => {
                self.message = Some(why);
                None
            }
            SettingsAction::Save(next, what) => {
                if let Some(warning) = &self.settings_warning {
                    // Never written over: the user's file may hold what pepr could not read.
                    self.message = Some(format!("not saved: {warning}; fix or remove the file first"));
                    return None;
                }
                self.message = Some(format!("{what}: saving…"));
                Some(Request::SaveSettings(next, what))
            }
        }
    }

    /// The settings were saved (or not): from now on runs are metered with them, and the store is
    /// ranked again when PePR-E's energy basis changed.
    pub fn on_settings_saved(
        &mut self,
        result: Result<(crate::settings::Settings, String), String>,
    ) -> Option<Request> {
        match result {
            Ok((settings, what)) => {
                self.train.settings.meter = settings.meter_settings();
                let basis_changed = settings.rank_energy() != self.config.rank_energy();
                self.config = settings;
                self.message = Some(format!("{what}: saved; the next run uses it"));
                if basis_changed {
                    self.loading = true;
                    self.message = Some(format!("{what}: saved; ranking again"));
                    return Some(Request::Load(self.runs.set_by));
                }
                None
            }
            Err(e) => {
                self.message = Some(format!("settings not saved: {e}"));
                None
            }
        }
    }

    /// An import ended: its summary or the error (naming file and line); the store is read again.
    pub fn on_imported(&mut self, result: Result<String, String>) -> Option<Request> {
        match result {
            Ok(summary) => {
                self.message = Some(summary);
                self.loading = true;
                Some(Request::Load(self.runs.set_by))
            }
            Err(e) => {
                self.message = Some(format!("import failed: {e}"));
                None
            }
        }
    }

    /// `q` / Ctrl-C: quits at once, or asks first while a run trains (quitting stops it).
    fn quit_or_ask(&mut self) -> Option<Request> {
        if self.train.current.is_some() {
            self.confirm = Some(Confirm::Quit);
        } else {
            self.quit = true;
        }
        None
    }

    /// The answer to an open question: `y` does it, `n` or Esc does nothing; another key leaves the
    /// question open (a second Ctrl-C while asked to quit quits).
    fn answer(&mut self, confirm: Confirm, key: Key) -> Option<Request> {
        use super::keys::{CONFIRM, ConfirmAction};
        let action = match super::keys::lookup(CONFIRM, key) {
            Some(action) => action,
            None if key == Key::ctrl('c') && confirm == Confirm::Quit => ConfirmAction::Yes,
            None => {
                self.confirm = Some(confirm);
                return None;
            }
        };
        if action == ConfirmAction::No {
            self.message = Some(confirm.declined().into());
            return None;
        }
        match confirm {
            Confirm::Quit => {
                self.quit = true;
                None
            }
            Confirm::StopRun => {
                let request = self.train.stop().map(Request::Train);
                if request.is_none() {
                    self.message = Some("the run had already ended".into());
                } else {
                    self.message = Some("stopping the run; it is stored as interrupted".into());
                }
                request
            }
            Confirm::CancelJob { job, .. } => {
                self.jobs.note = Some(format!("cancelling job {job}…"));
                self.message = Some(format!("cancelling Slurm job {job}…"));
                Some(Request::Jobs(JobsRequest::Cancel(job)))
            }
        }
    }

    /// A key of the Train screen: queueing, the grid form and stopping are the app's (they need the
    /// selections, the store or a question), the rest is the screen's.
    fn train_key(&mut self, event: KeyEvent) -> Option<Request> {
        use super::keys::{TRAIN, TrainAction};
        match super::keys::lookup(TRAIN, Key::of(event)) {
            Some(TrainAction::Grid) => {
                self.grid_form.open = true;
                None
            }
            Some(TrainAction::Queue) => {
                let added = self.queue_selection();
                let line = match added {
                    0 if self.archs.chosen.is_empty() || self.datasets.chosen.is_empty() => {
                        "select architectures (2, Space) and datasets (3, Space) to queue runs".to_string()
                    }
                    0 => "every selected pair is already queued".to_string(),
                    n => format!("queued {n} run{} (s starts the queue)", super::plural(n)),
                };
                self.message = Some(line.clone());
                self.train.note(line);
                None
            }
            Some(TrainAction::Stop) => {
                if self.train.can_stop() {
                    self.confirm = Some(Confirm::StopRun);
                } else {
                    self.message = Some("no run is training".into());
                }
                None
            }
            _ => self.train.handle_key(event),
        }
    }

    /// A key of the leaderboard (see `keys::RUNS`): the keys that load, import, delete, export or
    /// re-score need the app and are answered here; the others are the screen's own
    /// (`RunsScreen::handle_key`).
    fn runs_key(&mut self, event: KeyEvent) -> Option<Request> {
        use super::keys::{RUNS, RunsAction as A};
        let action = super::keys::lookup(RUNS, Key::of(event))?;
        match action {
            A::SetBy => {
                let next = match self.runs.set_by {
                    SetBy::Group => SetBy::Dataset,
                    SetBy::Dataset => SetBy::All,
                    SetBy::All => SetBy::Group,
                };
                self.loading = true;
                Some(Request::Load(next))
            }
            A::Reload => {
                self.loading = true;
                self.message = Some(RELOADING.into());
                Some(Request::Load(self.runs.set_by))
            }
            A::Import => {
                self.import_prompt = Some(String::new());
                None
            }
            // Idempotent like every import; a second press while it runs does nothing.
            A::ImportPaper if !self.importing_paper => {
                self.importing_paper = true;
                self.paper_import = Some("Importing the paper's 1048 runs…".into());
                Some(Request::ImportPaper)
            }
            A::ImportPaper => {
                self.message = Some("the paper's runs are being imported".into());
                None
            }
            A::ExportChart => self.export_chart(),
            // A tombstone, not an erasure: U brings the run back (`pepr runs compact` drops it for good).
            A::Delete if self.runs.show_details => {
                let (record, _) = self.selected_run()?;
                let id = record.id.clone();
                self.removed_run = Some(id.clone());
                Some(Request::MarkRun(id, crate::results::store::Removal::Delete))
            }
            A::Delete => {
                self.message = Some("X deletes the run shown in the details pane: Enter opens it".into());
                None
            }
            A::Restore => match self.removed_run.take() {
                Some(id) => Some(Request::MarkRun(id, crate::results::store::Removal::Restore)),
                None => {
                    self.message = Some("nothing to restore: no run was deleted in this session".into());
                    None
                }
            },
            A::WhatIf => self.step_what_if(true),
            A::WhatIfOff => self.step_what_if(false),
            _ => {
                let filter_was_set = !self.runs.filter.is_empty();
                let request = self.runs.handle_key(event, self.data.as_mut());
                // The analyses follow the filter too (Esc clears it).
                if filter_was_set && self.runs.filter.is_empty() {
                    self.analyses.stale = true;
                }
                request
            }
        }
    }

    fn edit_filter(&mut self, key: KeyEvent) {
        if super::text_input::edit_filter(&mut self.runs.filter, &mut self.runs.editing_filter, key) {
            self.refresh_rows();
            // The analyses follow the filter too.
            self.analyses.stale = true;
        }
    }

    /// Orders the seed-aggregated rows by the current variant's mean PePR (a sort, no polars).
    fn sort_seed_groups(&mut self) {
        if let Some(data) = &mut self.data {
            crate::results::seeds::sort_groups(&mut data.seed_groups, self.runs.variant);
        }
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
                    format!("grid: queued {added} missing cell{} (s starts the queue)", super::plural(added))
                };
                self.message = Some(line.clone());
                self.train.note(line);
                self.grid_form.open = false;
            }
            Ok(GridAction::Submit(submit)) => {
                self.message = self.grid_form.slurm_note.clone();
                return Some(Request::GridSlurm(submit));
            }
            Err(message) => {
                self.message = Some(format!("grid: {message}"));
                self.train.note(format!("grid: {message}"));
            }
        }
        None
    }
}

/// The status line while `R` reloads the store (replaced by the count when it arrives).
const RELOADING: &str = "reading the store again…";

/// A question the app asks before a key ends or loses work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirm {
    /// Stop the running training (stored as interrupted).
    StopRun,
    /// Quit while a run trains (it stops and is stored as interrupted).
    Quit,
    /// scancel a Slurm array; `open` of its cells have not ended.
    CancelJob { job: String, open: usize },
}

impl Confirm {
    /// The question, naming what is lost.
    pub fn question(&self, app: &App) -> String {
        match self {
            Confirm::StopRun => format!(
                "Stop the running training ({})? It is stored as interrupted; the rest of the queue waits.",
                app.train.current_label()
            ),
            Confirm::Quit => format!(
                "Quit? The running training ({}) stops and is stored as interrupted.",
                app.train.current_label()
            ),
            Confirm::CancelJob { job, open } => format!(
                "Cancel Slurm job {job}? Its {open} unfinished cell{} stop and are stored as interrupted.",
                super::plural(*open)
            ),
        }
    }

    /// What `y` does, for the modal's keys line.
    pub fn yes(&self) -> &'static str {
        match self {
            Confirm::StopRun => "stop it",
            Confirm::Quit => "quit",
            Confirm::CancelJob { .. } => "cancel the job",
        }
    }

    /// What `n` does.
    pub fn no(&self) -> &'static str {
        match self {
            Confirm::StopRun | Confirm::Quit => "keep training",
            Confirm::CancelJob { .. } => "keep the job",
        }
    }

    fn declined(&self) -> &'static str {
        match self {
            Confirm::StopRun | Confirm::Quit => "the run goes on",
            Confirm::CancelJob { .. } => "the job goes on",
        }
    }
}
