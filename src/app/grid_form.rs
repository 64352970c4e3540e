//! The Train screen's experiment-grid form (`E`): the architectures and datasets selected on their
//! screens, crossed with starts, data fractions and seeds, with group renames. It shows how many
//! cells the grid has and how many the run store already holds as completed, and queues the
//! missing ones (`a`). When `sbatch` is on the PATH (found once at start), it also offers a
//! partition and a time limit and submits the missing cells to Slurm as one job array (`S`; a
//! worker thread submits, the answer comes back to [`GridForm::on_submitted`]). Pure state: the app
//! hands it the selections, settings and stored runs.

use crossterm::event::{KeyCode, KeyEvent};

use super::train::Settings;
use crate::grid::{Cell, GridSpec, Start, cell_states, expand};
use crate::results::groups::parse_rename;
use crate::results::record::RunRecord;

/// The form's rows, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GridField {
    #[default]
    Start,
    Source,
    Fractions,
    Seeds,
    Renames,
    /// sbatch --partition (empty: the cluster's default); shown when Slurm is available.
    Partition,
    /// sbatch --time (empty: the partition's default); shown when Slurm is available.
    Time,
}

impl GridField {
    pub const ALL: [GridField; 5] =
        [GridField::Start, GridField::Source, GridField::Fractions, GridField::Seeds, GridField::Renames];

    pub fn title(self) -> &'static str {
        match self {
            GridField::Start => "start",
            GridField::Source => "source",
            GridField::Fractions => "fractions",
            GridField::Seeds => "seeds",
            GridField::Renames => "renames",
            GridField::Partition => "partition",
            GridField::Time => "time",
        }
    }
}

/// Scratch, pretrained from the source, or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartChoice {
    #[default]
    Scratch,
    Pretrained,
    Both,
}

impl StartChoice {
    pub fn label(self) -> &'static str {
        match self {
            StartChoice::Scratch => "scratch",
            StartChoice::Pretrained => "pretrained",
            StartChoice::Both => "both",
        }
    }

    fn next(self, forward: bool) -> StartChoice {
        let all = [StartChoice::Scratch, StartChoice::Pretrained, StartChoice::Both];
        let i = all.iter().position(|c| *c == self).unwrap_or(0);
        all[if forward { (i + 1) % 3 } else { (i + 2) % 3 }]
    }
}

/// What a key asked of the app.
#[derive(Clone, Debug, PartialEq)]
pub enum GridAction {
    None,
    Close,
    /// Queue these cells (the missing ones).
    Queue(Vec<Cell>),
    /// Submit the grid's missing cells to Slurm (the worker decides which are missing, after
    /// merging incoming records).
    Submit(GridSubmit),
}

/// A Slurm submission of the form's grid.
#[derive(Clone, Debug, PartialEq)]
pub struct GridSubmit {
    pub spec: GridSpec,
    pub options: crate::slurm::SlurmOptions,
    /// The meters' settings of this machine's home, which every task uses on its own node.
    pub meter: crate::meter::MeterSettings,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GridForm {
    /// Shown over the Train screen; closing keeps the values for the next time.
    pub open: bool,
    pub field: GridField,
    pub start: StartChoice,
    /// The pretrained weights source (passed unchanged to fine-tuning).
    pub source: String,
    /// Comma-separated, e.g. `1,0.1`.
    pub fractions: String,
    /// Comma-separated, e.g. `0,1,2`.
    pub seeds: String,
    /// Comma-separated `FROM=TO`.
    pub renames: String,
    /// A text field is being typed into.
    pub editing: bool,
    /// `sbatch` is on the PATH: the form offers Slurm (set once at start).
    pub slurm: bool,
    pub partition: String,
    pub time: String,
    /// A submission is on its way (one at a time).
    pub submitting: bool,
    /// The last submission's outcome or problem, shown in the form.
    pub slurm_note: Option<String>,
}

impl Default for GridForm {
    fn default() -> Self {
        GridForm {
            open: false,
            field: GridField::Start,
            start: StartChoice::Scratch,
            source: "imagenet".into(),
            fractions: "1,0.1".into(),
            seeds: "0,1,2".into(),
            renames: String::new(),
            editing: false,
            slurm: false,
            partition: String::new(),
            time: String::new(),
            submitting: false,
            slurm_note: None,
        }
    }
}

/// The grid as the form describes it, its cells, and how many are done.
#[derive(Clone, Debug, PartialEq)]
pub struct GridPreview {
    pub spec: GridSpec,
    pub cells: Vec<Cell>,
    pub done: usize,
    /// Distinct groups, in cell order.
    pub groups: Vec<String>,
}

impl GridForm {
    pub fn value(&self, field: GridField) -> String {
        match field {
            GridField::Start => self.start.label().to_string(),
            GridField::Source => self.source.clone(),
            GridField::Fractions => self.fractions.clone(),
            GridField::Seeds => self.seeds.clone(),
            GridField::Renames => self.renames.clone(),
            GridField::Partition => self.partition.clone(),
            GridField::Time => self.time.clone(),
        }
    }

    /// The rows shown: the Slurm ones only when Slurm is available.
    pub fn fields(&self) -> Vec<GridField> {
        let mut fields = GridField::ALL.to_vec();
        if self.slurm {
            fields.extend([GridField::Partition, GridField::Time]);
        }
        fields
    }

    /// The sbatch options the form sets; empty rows leave Slurm's defaults.
    pub fn slurm_options(&self) -> crate::slurm::SlurmOptions {
        let word = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
        crate::slurm::SlurmOptions { partition: word(&self.partition), time: word(&self.time), ..Default::default() }
    }

    /// The worker's answer to a submission: its summary (job id) or what went wrong.
    pub fn on_submitted(&mut self, result: &Result<String, String>) {
        self.submitting = false;
        self.slurm_note = Some(match result {
            Ok(summary) => summary.clone(),
            Err(e) => format!("Slurm: {e}"),
        });
    }

    fn text_mut(&mut self) -> Option<&mut String> {
        match self.field {
            GridField::Start => None,
            GridField::Source => Some(&mut self.source),
            GridField::Fractions => Some(&mut self.fractions),
            GridField::Seeds => Some(&mut self.seeds),
            GridField::Renames => Some(&mut self.renames),
            GridField::Partition => Some(&mut self.partition),
            GridField::Time => Some(&mut self.time),
        }
    }

    /// The spec of this form for the given selections and settings, or what is wrong with it.
    pub fn spec(&self, archs: &[&str], datasets: &[&str], settings: &Settings) -> Result<GridSpec, String> {
        if archs.is_empty() {
            return Err("select architectures first (2, Space)".into());
        }
        if datasets.is_empty() {
            return Err("select datasets first (3, Space)".into());
        }
        let mut spec = GridSpec::new(
            archs.iter().map(|s| s.to_string()).collect(),
            datasets.iter().map(|s| s.to_string()).collect(),
        );
        let source = self.source.trim();
        if self.start != StartChoice::Scratch && (source.is_empty() || source == "scratch") {
            return Err("source: name the pretrained weights".into());
        }
        spec.starts = match self.start {
            StartChoice::Scratch => vec![Start::Scratch],
            StartChoice::Pretrained => vec![Start::Pretrained(source.into())],
            StartChoice::Both => vec![Start::Scratch, Start::Pretrained(source.into())],
        };
        spec.fractions = list(&self.fractions, "fractions", |t| t.parse::<f64>().ok())?;
        spec.seeds = list(&self.seeds, "seeds", |t| t.parse::<u64>().ok())?;
        for item in self.renames.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (from, to) = parse_rename(item).map_err(|e| format!("renames: {e}"))?;
            spec.group_names.insert(from, to);
        }
        spec.train.epochs = settings.epochs;
        spec.train.batch_size = settings.batch_size;
        spec.train.lr = settings.lr;
        spec.train.metric = settings.metric.key().to_string();
        // The Train screen's backend and threads go with the grid (and its Slurm tasks).
        spec.train.backend = match settings.backend {
            crate::meter::backend::Backend::Cpu => "cpu".into(),
            crate::meter::backend::Backend::Cuda => "cuda".into(),
        };
        spec.train.threads = settings.threads;
        spec.name = spec.derived_name();
        spec.validate().map_err(|e| {
            e.replace("field `group_names`", "renames")
                .replace("field `fractions`", "fractions")
                .replace("field `seeds`", "seeds")
                .replace("field `", "")
                .replace('`', "")
        })?;
        Ok(spec)
    }

    /// The cells and how many of them `records` already holds as completed.
    pub fn preview(
        &self,
        archs: &[&str],
        datasets: &[&str],
        settings: &Settings,
        records: &[RunRecord],
    ) -> Result<GridPreview, String> {
        let spec = self.spec(archs, datasets, settings)?;
        let cells = expand(&spec);
        let done = cell_states(&cells, records).iter().filter(|s| s.is_done()).count();
        let mut groups: Vec<String> = Vec::new();
        for cell in &cells {
            if !groups.contains(&cell.group) {
                groups.push(cell.group.clone());
            }
        }
        Ok(GridPreview { spec, cells, done, groups })
    }

    /// A key while the form is open.
    pub fn handle_key(
        &mut self,
        key: KeyEvent,
        archs: &[&str],
        datasets: &[&str],
        settings: &Settings,
        records: &[RunRecord],
    ) -> Result<GridAction, String> {
        if self.editing {
            match key.code {
                KeyCode::Enter | KeyCode::Esc | KeyCode::Tab => self.editing = false,
                _ => {
                    if let Some(text) = self.text_mut() {
                        super::text_input::edit_text(text, key);
                    }
                }
            }
            return Ok(GridAction::None);
        }
        use super::keys::{GRID, GridAction as K, Key, lookup};
        let fields = self.fields();
        let i = fields.iter().position(|f| *f == self.field).unwrap_or(0);
        let n = fields.len();
        let on_start = self.field == GridField::Start;
        let Some(action) = lookup(GRID, Key::of(key)) else { return Ok(GridAction::None) };
        match action {
            K::Close => return Ok(GridAction::Close),
            K::NextField => self.field = fields[(i + 1) % n],
            K::PrevField => self.field = fields[(i + n - 1) % n],
            K::PrevChoice if on_start => self.start = self.start.next(false),
            // Enter on the start field picks the next choice: it has no text to edit.
            K::NextChoice | K::Edit if on_start => self.start = self.start.next(true),
            K::Edit => self.editing = true,
            K::NextChoice | K::PrevChoice => {}
            K::Queue => {
                let preview = self.preview(archs, datasets, settings, records)?;
                let states = cell_states(&preview.cells, records);
                let missing = preview.cells.into_iter().zip(states).filter(|(_, s)| !s.is_done()).map(|(c, _)| c);
                return Ok(GridAction::Queue(missing.collect()));
            }
            K::Submit => return self.submit(archs, datasets, settings, records),
        }
        Ok(GridAction::None)
    }
}

impl GridForm {
    /// `S`: the grid's missing cells to Slurm, when it is available and nothing is being submitted.
    fn submit(
        &mut self,
        archs: &[&str],
        datasets: &[&str],
        settings: &Settings,
        records: &[RunRecord],
    ) -> Result<GridAction, String> {
        let problem = if !self.slurm {
            Some("Slurm: sbatch is not on the PATH".to_string())
        } else if self.submitting {
            Some("Slurm: a submission is already on its way".to_string())
        } else {
            None
        };
        if let Some(problem) = problem {
            self.slurm_note = Some(problem.clone());
            return Err(problem);
        }
        let preview = self.preview(archs, datasets, settings, records).inspect_err(|e| {
            self.slurm_note = Some(e.clone());
        })?;
        let missing = preview.cells.len() - preview.done;
        if missing == 0 {
            self.slurm_note = Some("every cell is already stored as completed: nothing to submit".into());
            return Ok(GridAction::None);
        }
        self.submitting = true;
        self.slurm_note =
            Some(format!("submitting {missing} missing cell{} to Slurm…", if missing == 1 { "" } else { "s" }));
        let options = self.slurm_options();
        Ok(GridAction::Submit(GridSubmit { spec: preview.spec, options, meter: settings.meter.clone() }))
    }
}

/// A comma-separated list of values, or which item is wrong.
fn list<T>(text: &str, field: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| parse(t).ok_or_else(|| format!("{field}: {t:?} is not a number")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_form_builds_the_grid_and_queues_only_missing_cells() {
        let mut form = GridForm::default();
        let settings = Settings { epochs: 2, ..Settings::default() };
        let (archs, datasets) = (["pepr_lenet5", "pepr_resnet8"], ["synthetic"]);
        let preview = form.preview(&archs, &datasets, &settings, &[]).unwrap();
        assert_eq!(preview.cells.len(), 2 * 2 * 3);
        assert_eq!(preview.groups, ["synthetic", "synthetic_small"]);
        assert!(preview.cells.iter().all(|c| c.config.epochs == 2));

        // One cell already completed in the store.
        let mut records = crate::results::synthetic::runs(1, 1, 0);
        records[0].grid_cell = Some("synthetic/pepr_resnet8/scratch/f0.1/s2".into());
        records[0].group = "synthetic_small".into();
        assert_eq!(form.preview(&archs, &datasets, &settings, &records).unwrap().done, 1);

        // Type seeds 0,1 and a rename; switch the start to both.
        let press = |form: &mut GridForm, code| form.handle_key(key(code), &archs, &datasets, &settings, &records);
        press(&mut form, KeyCode::Right).unwrap();
        press(&mut form, KeyCode::Right).unwrap();
        assert_eq!(form.start, StartChoice::Both);
        for code in [KeyCode::Down, KeyCode::Down, KeyCode::Down, KeyCode::Enter] {
            press(&mut form, code).unwrap();
        }
        assert!(form.editing && form.field == GridField::Seeds);
        for code in [KeyCode::Backspace, KeyCode::Backspace, KeyCode::Enter] {
            press(&mut form, code).unwrap();
        }
        assert_eq!(form.seeds, "0,1");
        press(&mut form, KeyCode::Down).unwrap();
        press(&mut form, KeyCode::Enter).unwrap();
        for c in "synthetic_pt=syn_pt".chars() {
            press(&mut form, KeyCode::Char(c)).unwrap();
        }
        press(&mut form, KeyCode::Enter).unwrap();
        let preview = form.preview(&archs, &datasets, &settings, &records).unwrap();
        assert_eq!(preview.cells.len(), 2 * 2 * 2 * 2);
        assert_eq!(preview.groups, ["synthetic", "synthetic_small", "syn_pt", "synthetic_pt_small"]);
        let GridAction::Queue(cells) = press(&mut form, KeyCode::Char('a')).unwrap() else { panic!() };
        assert_eq!(cells.len(), 16, "seed 2's done cell is no longer part of the grid");

        form.seeds = "0,1,2".into();
        let GridAction::Queue(cells) =
            form.handle_key(key(KeyCode::Char('a')), &archs, &datasets, &settings, &records).unwrap()
        else {
            panic!()
        };
        assert_eq!(cells.len(), 23);
        assert!(!cells.iter().any(|c| c.id == "synthetic/pepr_resnet8/scratch/f0.1/s2"));
    }

    #[test]
    fn slurm_rows_and_s_only_when_sbatch_is_on_the_path() {
        let settings = Settings { epochs: 1, threads: Some(2), ..Settings::default() };
        let (archs, datasets) = (["pepr_lenet5"], ["synthetic"]);
        let mut form = GridForm { seeds: "0,1,2".into(), fractions: "0.1".into(), ..GridForm::default() };
        let press = |form: &mut GridForm, code| form.handle_key(key(code), &archs, &datasets, &settings, &[]);
        assert_eq!(form.fields().len(), 5);
        assert_eq!(press(&mut form, KeyCode::Char('B')), Err("Slurm: sbatch is not on the PATH".into()));
        assert_eq!(form.slurm_note.as_deref(), Some("Slurm: sbatch is not on the PATH"));
        for _ in 0..5 {
            press(&mut form, KeyCode::Down).unwrap();
        }
        assert_eq!(form.field, GridField::Start, "without Slurm the rows wrap after renames");

        form.slurm = true;
        assert_eq!(form.fields().len(), 7);
        for code in [KeyCode::Up, KeyCode::Up, KeyCode::Enter] {
            press(&mut form, code).unwrap();
        }
        assert_eq!(form.field, GridField::Partition);
        for c in "debug".chars() {
            press(&mut form, KeyCode::Char(c)).unwrap();
        }
        for code in [KeyCode::Enter, KeyCode::Down, KeyCode::Enter] {
            press(&mut form, code).unwrap();
        }
        for c in "00:10:00".chars() {
            press(&mut form, KeyCode::Char(c)).unwrap();
        }
        press(&mut form, KeyCode::Enter).unwrap();
        let GridAction::Submit(submit) = press(&mut form, KeyCode::Char('B')).unwrap() else { panic!() };
        assert_eq!(submit.options.partition.as_deref(), Some("debug"));
        assert_eq!(submit.options.time.as_deref(), Some("00:10:00"));
        assert_eq!(expand(&submit.spec).len(), 3);
        assert_eq!(submit.spec.train.epochs, 1);
        assert_eq!(
            (submit.spec.train.threads, submit.spec.train.backend.as_str()),
            (Some(2), "cpu"),
            "the Train screen's"
        );
        assert!(form.submitting);
        assert_eq!(form.slurm_note.as_deref(), Some("submitting 3 missing cells to Slurm…"));
        assert!(press(&mut form, KeyCode::Char('B')).unwrap_err().contains("already on its way"));

        form.on_submitted(&Ok("grid g: 3 cells, 0 done: submitted job 12 with 3 array task(s)".into()));
        assert!(!form.submitting);
        assert!(form.slurm_note.as_deref().unwrap().contains("submitted job 12"));
        form.on_submitted(&Err("sbatch refused x".into()));
        assert_eq!(form.slurm_note.as_deref(), Some("Slurm: sbatch refused x"));
        // An empty row leaves Slurm's default.
        form.partition = "  ".into();
        assert_eq!(form.slurm_options().partition, None);
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let settings = Settings::default();
        let form = GridForm { fractions: "1,x".into(), ..GridForm::default() };
        assert_eq!(
            form.spec(&["pepr_lenet5"], &["synthetic"], &settings).unwrap_err(),
            "fractions: \"x\" is not a number"
        );
        let form = GridForm { fractions: "2".into(), ..GridForm::default() };
        assert_eq!(
            form.spec(&["pepr_lenet5"], &["synthetic"], &settings).unwrap_err(),
            "fractions: 2 is not in (0, 1]"
        );
        let form = GridForm { renames: "nope=x".into(), ..GridForm::default() };
        assert!(
            form.spec(&["pepr_lenet5"], &["synthetic"], &settings)
                .unwrap_err()
                .starts_with("renames: the grid has no group")
        );
        assert!(GridForm::default().spec(&[], &["synthetic"], &settings).unwrap_err().contains("select architectures"));
    }
}
