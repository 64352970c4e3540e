//! One key table for every screen (as gitui keeps one key list): the handlers look a key up here
//! and act on the action it names, and the help overlay (`?`), the footers and docs/tui-keys.md
//! are generated from the same table, so what the help says is what the keys do. A key that is not
//! in a screen's table does nothing on that screen.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key as the tables name it: a key code, with or without Ctrl.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub const fn ch(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: false }
    }

    pub const fn code(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    pub const fn ctrl(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: true }
    }

    /// The key of an event; Shift only shows in the character (`S`, `?`).
    pub fn of(event: KeyEvent) -> Key {
        Key { code: event.code, ctrl: event.modifiers.contains(KeyModifiers::CONTROL) }
    }

    /// How help and docs write the key.
    pub fn name(self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::Backspace => "Backspace".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("Ctrl-{}", base.to_uppercase()) } else { base }
    }
}

/// One row of a table: the keys, the action they ask for, and what the help says it does.
#[derive(Clone, Copy, Debug)]
pub struct Binding<A> {
    pub keys: &'static [Key],
    pub action: A,
    pub help: &'static str,
    /// Shown in the screen's footer line.
    pub footer: Option<&'static str>,
}

const fn b<A>(keys: &'static [Key], action: A, help: &'static str) -> Binding<A> {
    Binding { keys, action, help, footer: None }
}

/// A binding that also shows in the footer, with a short label.
const fn f<A>(keys: &'static [Key], action: A, help: &'static str, footer: &'static str) -> Binding<A> {
    Binding { keys, action, help, footer: Some(footer) }
}

/// The action bound to `key` in `table`.
pub fn lookup<A: Copy>(table: &[Binding<A>], key: Key) -> Option<A> {
    table.iter().find(|b| b.keys.contains(&key)).map(|b| b.action)
}

use Key as K;
const fn c(c: char) -> Key {
    Key::ch(c)
}
const fn k(code: KeyCode) -> Key {
    Key::code(code)
}

const DOWN: &[Key] = &[k(KeyCode::Down), c('j')];
const UP: &[Key] = &[k(KeyCode::Up), c('k')];
const PAGE_DOWN: &[Key] = &[k(KeyCode::PageDown)];
const PAGE_UP: &[Key] = &[k(KeyCode::PageUp)];
const FIRST: &[Key] = &[c('g'), k(KeyCode::Home)];
const LAST: &[Key] = &[c('G'), k(KeyCode::End)];

/// Moving a cursor through a list (shared by the lists of several screens).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    By(isize),
    First,
    Last,
}

impl Move {
    /// The new position of `cursor` in a list of `len` rows.
    pub fn apply(self, cursor: usize, len: usize) -> usize {
        let last = len.saturating_sub(1);
        match self {
            Move::By(d) => (cursor as isize + d).clamp(0, last as isize) as usize,
            Move::First => 0,
            Move::Last => last,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Every screen

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalAction {
    /// `1`..`6`: the screen of that number. Moves only: never adds, starts, stops or deletes.
    GoTo,
    Help,
    /// The Settings pane (what `pepr config` sets), applied at once.
    Settings,
    /// Quits; asks first while a run trains.
    Quit,
}

pub const GLOBAL: &[Binding<GlobalAction>] = &[
    b(
        &[c('1'), c('2'), c('3'), c('4'), c('5'), c('6')],
        GlobalAction::GoTo,
        "screens: runs, archs, data, train, analyses, jobs (only moves)",
    ),
    f(&[c('?')], GlobalAction::Help, "this help", "? keys"),
    b(&[c(',')], GlobalAction::Settings, "settings: carbon intensity, PUE, TDP, energy basis (saved, used at once)"),
    f(&[c('q'), K::ctrl('c')], GlobalAction::Quit, "quit (asks first while a run trains)", "q quit"),
];

// ---------------------------------------------------------------------------------------------
// 1: the leaderboard

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunsAction {
    Move(Move),
    SortNext,
    SortPrev,
    Reverse,
    Filter,
    Details,
    /// `e c t m`: that PePR variant.
    Variant,
    NextVariant,
    NextSet,
    PrevSet,
    SetBy,
    Chart,
    Seeds,
    Columns,
    Reload,
    Import,
    /// `i`: the paper's 1048 runs, built into pepr (offered on the empty screen).
    ImportPaper,
    /// `P`: the chart of the current set as an SVG file in the home's figures/ folder.
    ExportChart,
    /// `X` in the details pane: delete the run (a tombstone; `U` undoes it).
    Delete,
    Restore,
    /// `B`: the budget filter (max energy, time, CO2; min P), typed.
    Budget,
    /// `w`: the carbon what-if's next region; `W`: off.
    WhatIf,
    WhatIfOff,
    Back,
}

pub const RUNS: &[Binding<RunsAction>] = &[
    b(DOWN, RunsAction::Move(Move::By(1)), "move down / up"),
    b(UP, RunsAction::Move(Move::By(-1)), "move down / up"),
    b(PAGE_DOWN, RunsAction::Move(Move::By(10)), "move by 10"),
    b(PAGE_UP, RunsAction::Move(Move::By(-10)), "move by 10"),
    b(FIRST, RunsAction::Move(Move::First), "first / last"),
    b(LAST, RunsAction::Move(Move::Last), "first / last"),
    f(&[c('s')], RunsAction::SortNext, "sort by the next / previous column", "s sort"),
    b(&[c('S')], RunsAction::SortPrev, "sort by the next / previous column"),
    b(&[c('r')], RunsAction::Reverse, "reverse the sort"),
    f(&[c('/')], RunsAction::Filter, "filter by text (Enter keeps, Esc clears)", "/ filter"),
    f(&[k(KeyCode::Enter), c('d')], RunsAction::Details, "details of the selected run", "Enter details"),
    b(&[c('e'), c('c'), c('t'), c('m')], RunsAction::Variant, "PePR-E / C / T / M; v cycles"),
    f(&[c('v')], RunsAction::NextVariant, "PePR-E / C / T / M; v cycles", "v variant"),
    f(&[c(']'), c('n')], RunsAction::NextSet, "next / previous comparison set", "] [ set"),
    b(&[c('['), c('p')], RunsAction::PrevSet, "next / previous comparison set"),
    b(&[c('b')], RunsAction::SetBy, "sets by group / dataset / all runs"),
    f(&[k(KeyCode::Tab)], RunsAction::Chart, "chart of P against the resource / table", "Tab chart"),
    // In the footer: `a` queues on Train and selects all on Archs, so here it says what it does.
    f(&[c('a')], RunsAction::Seeds, "seeds aggregated (mean±std) / one row per run", "a seeds"),
    f(&[c('o')], RunsAction::Columns, "choose the columns shown", "o columns"),
    b(&[c('R')], RunsAction::Reload, "reload the store (reads it again)"),
    b(&[c('I')], RunsAction::Import, "import a CSV file of runs (the paper's or pepr's layout)"),
    b(
        &[c('i')],
        RunsAction::ImportPaper,
        "import the paper's 1048 published runs (built in; importing again adds nothing)",
    ),
    b(&[c('P')], RunsAction::ExportChart, "save the current set's chart as SVG (home's figures/ folder)"),
    b(&[c('X')], RunsAction::Delete, "delete the run shown in the details pane (U brings it back)"),
    b(&[c('U')], RunsAction::Restore, "restore the run last deleted"),
    b(&[c('B')], RunsAction::Budget, "budget filter: max energy / time / CO2, min P (as pepr rank --max-*)"),
    b(&[c('w')], RunsAction::WhatIf, "carbon what-if: next region, CO2 & PePR-C re-scored (never stored)"),
    b(&[c('W')], RunsAction::WhatIfOff, "carbon what-if off: the stored figures"),
    b(&[k(KeyCode::Esc)], RunsAction::Back, "clear filter / close details / leave the chart"),
];

// ---------------------------------------------------------------------------------------------
// The leaderboard's column chooser (o)

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnsAction {
    Move(Move),
    Toggle,
    Close,
}

pub const COLUMNS: &[Binding<ColumnsAction>] = &[
    f(DOWN, ColumnsAction::Move(Move::By(1)), "move down / up", "↑↓ move"),
    b(UP, ColumnsAction::Move(Move::By(-1)), "move down / up"),
    f(&[c(' '), k(KeyCode::Enter)], ColumnsAction::Toggle, "show / hide the column", "Space show/hide"),
    f(&[k(KeyCode::Esc), c('o')], ColumnsAction::Close, "close the chooser (the choice is kept)", "Esc close"),
];

// ---------------------------------------------------------------------------------------------
// The Settings pane (, on every screen)

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingsKeyAction {
    Move(Move),
    Edit,
    Default,
    Close,
}

pub const SETTINGS: &[Binding<SettingsKeyAction>] = &[
    f(DOWN, SettingsKeyAction::Move(Move::By(1)), "move down / up", "↑↓ move"),
    b(UP, SettingsKeyAction::Move(Move::By(-1)), "move down / up"),
    f(&[k(KeyCode::Enter)], SettingsKeyAction::Edit, "type a new value (Enter saves, Esc cancels)", "Enter edit"),
    f(&[c('u')], SettingsKeyAction::Default, "back to the default", "u default"),
    f(&[k(KeyCode::Esc), c(',')], SettingsKeyAction::Close, "close the pane", "Esc close"),
];

// ---------------------------------------------------------------------------------------------
// 2: architectures

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchsAction {
    Move(Move),
    SortNext,
    SortPrev,
    Reverse,
    Filter,
    Select,
    SelectAll,
    SelectNone,
    InputSize,
    Back,
}

pub const ARCHS: &[Binding<ArchsAction>] = &[
    b(DOWN, ArchsAction::Move(Move::By(1)), "move down / up"),
    b(UP, ArchsAction::Move(Move::By(-1)), "move down / up"),
    b(PAGE_DOWN, ArchsAction::Move(Move::By(10)), "move by 10"),
    b(PAGE_UP, ArchsAction::Move(Move::By(-10)), "move by 10"),
    b(FIRST, ArchsAction::Move(Move::First), "first / last"),
    b(LAST, ArchsAction::Move(Move::Last), "first / last"),
    b(&[c('s')], ArchsAction::SortNext, "sort by the next / previous column"),
    b(&[c('S')], ArchsAction::SortPrev, "sort by the next / previous column"),
    b(&[c('r')], ArchsAction::Reverse, "reverse the sort"),
    f(&[c('/')], ArchsAction::Filter, "filter by text (Enter keeps, Esc clears)", "/ filter"),
    f(&[c(' ')], ArchsAction::Select, "select for training / unselect", "Space select"),
    f(&[c('a')], ArchsAction::SelectAll, "select every shown architecture", "a all"),
    f(&[c('A')], ArchsAction::SelectNone, "unselect all", "A none"),
    f(&[c('i')], ArchsAction::InputSize, "next input size", "i input size"),
    b(&[k(KeyCode::Esc)], ArchsAction::Back, "clear the filter"),
];

// ---------------------------------------------------------------------------------------------
// 3: datasets

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataAction {
    Move(Move),
    Filter,
    Details,
    Select,
    Download,
    Back,
}

pub const DATA: &[Binding<DataAction>] = &[
    b(DOWN, DataAction::Move(Move::By(1)), "move down / up"),
    b(UP, DataAction::Move(Move::By(-1)), "move down / up"),
    b(PAGE_DOWN, DataAction::Move(Move::By(10)), "move by 10"),
    b(PAGE_UP, DataAction::Move(Move::By(-10)), "move by 10"),
    b(FIRST, DataAction::Move(Move::First), "first / last"),
    b(LAST, DataAction::Move(Move::Last), "first / last"),
    b(&[c('/')], DataAction::Filter, "filter by text (Enter keeps, Esc clears)"),
    f(&[k(KeyCode::Enter), c('d')], DataAction::Details, "details: classes, splits, samples", "Enter details"),
    f(&[c(' ')], DataAction::Select, "select for training / unselect", "Space select"),
    f(&[c('D')], DataAction::Download, "download (MD5-verified)", "D download"),
    b(&[k(KeyCode::Esc)], DataAction::Back, "close details / clear the filter"),
];

// ---------------------------------------------------------------------------------------------
// 4: train

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainAction {
    Move(Move),
    MoveEntryDown,
    MoveEntryUp,
    Remove,
    Weights,
    Freeze,
    ClearEnded,
    NextSetting,
    PrevSetting,
    Increase,
    Decrease,
    Queue,
    Grid,
    Start,
    Pause,
    Stop,
}

pub const TRAIN: &[Binding<TrainAction>] = &[
    b(DOWN, TrainAction::Move(Move::By(1)), "move down / up the queue"),
    b(UP, TrainAction::Move(Move::By(-1)), "move down / up the queue"),
    b(FIRST, TrainAction::Move(Move::First), "first / last"),
    b(LAST, TrainAction::Move(Move::Last), "first / last"),
    f(&[c('s')], TrainAction::Start, "start the queue", "s start"),
    f(&[c('p')], TrainAction::Pause, "pause / resume the run", "p pause"),
    f(&[c('X')], TrainAction::Stop, "stop the run (asks first; stored as interrupted)", "X stop"),
    f(&[c('a')], TrainAction::Queue, "queue every selected arch x dataset pair", "a queue selected"),
    b(&[c('J')], TrainAction::MoveEntryDown, "move the queued run down / up"),
    b(&[c('K')], TrainAction::MoveEntryUp, "move the queued run down / up"),
    f(&[c('x'), k(KeyCode::Delete)], TrainAction::Remove, "remove the queued run", "x remove"),
    b(&[c('C')], TrainAction::ClearEnded, "clear ended runs from the queue"),
    b(&[c('w')], TrainAction::Weights, "weights the run starts from (scratch, imported, earlier run)"),
    b(&[c('f')], TrainAction::Freeze, "freeze the backbone (train the head only)"),
    b(&[k(KeyCode::Tab), k(KeyCode::Right), c('l')], TrainAction::NextSetting, "next / previous setting"),
    b(&[k(KeyCode::BackTab), k(KeyCode::Left), c('h')], TrainAction::PrevSetting, "next / previous setting"),
    b(&[c('+'), c('=')], TrainAction::Increase, "change the setting up / down"),
    b(&[c('-'), c('_')], TrainAction::Decrease, "change the setting up / down"),
    f(&[c('E')], TrainAction::Grid, "experiment grid form", "E grid"),
];

// ---------------------------------------------------------------------------------------------
// The experiment-grid form (E on the Train screen)

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GridAction {
    NextField,
    PrevField,
    NextChoice,
    PrevChoice,
    Edit,
    Queue,
    Submit,
    Close,
}

pub const GRID: &[Binding<GridAction>] = &[
    f(&[k(KeyCode::Down), c('j'), k(KeyCode::Tab)], GridAction::NextField, "next / previous field", "↑↓ field"),
    b(&[k(KeyCode::Up), c('k'), k(KeyCode::BackTab)], GridAction::PrevField, "next / previous field"),
    f(
        &[k(KeyCode::Right), c('l'), c('+'), c(' ')],
        GridAction::NextChoice,
        "start field: next / previous choice",
        "← → start",
    ),
    b(&[k(KeyCode::Left), c('h'), c('-')], GridAction::PrevChoice, "start field: next / previous choice"),
    f(&[k(KeyCode::Enter)], GridAction::Edit, "edit the field (Enter or Esc ends)", "Enter edit"),
    f(&[c('a')], GridAction::Queue, "queue the missing cells", "a queue missing"),
    f(&[c('B')], GridAction::Submit, "submit the missing cells to Slurm (sbatch)", "B Slurm"),
    f(&[k(KeyCode::Esc)], GridAction::Close, "close the form (keeps its values)", "Esc close"),
];

// ---------------------------------------------------------------------------------------------
// 5: analyses

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalysesAction {
    Move(Move),
    NextAnalysis,
    PrevAnalysis,
    NextSet,
    PrevSet,
    Variant,
    NextVariant,
    Chart,
    SortNext,
    SortPrev,
    Reverse,
    Reload,
    /// `P`: the analysis shown as a figure (SVG) and a table (CSV) in the home's figures/ folder.
    Export,
    Back,
}

pub const ANALYSES: &[Binding<AnalysesAction>] = &[
    f(&[k(KeyCode::Right), c('l')], AnalysesAction::NextAnalysis, "next / previous analysis", "←→ analysis"),
    b(&[k(KeyCode::Left), c('h')], AnalysesAction::PrevAnalysis, "next / previous analysis"),
    f(&[c(']'), c('n')], AnalysesAction::NextSet, "next / previous pair, family or group", "][ set"),
    b(&[c('['), c('p')], AnalysesAction::PrevSet, "next / previous pair, family or group"),
    b(&[c('e'), c('c'), c('t'), c('m')], AnalysesAction::Variant, "PePR-E / C / T / M; v cycles"),
    b(&[c('v')], AnalysesAction::NextVariant, "PePR-E / C / T / M; v cycles"),
    b(&[k(KeyCode::Tab)], AnalysesAction::Chart, "pretrained vs scratch: chart / table"),
    b(&[c('s')], AnalysesAction::SortNext, "pretrained vs scratch: sort next / previous"),
    b(&[c('S')], AnalysesAction::SortPrev, "pretrained vs scratch: sort next / previous"),
    b(&[c('r')], AnalysesAction::Reverse, "pretrained vs scratch: reverse the sort"),
    b(DOWN, AnalysesAction::Move(Move::By(1)), "move down / up"),
    b(UP, AnalysesAction::Move(Move::By(-1)), "move down / up"),
    b(PAGE_DOWN, AnalysesAction::Move(Move::By(10)), "move by 10"),
    b(PAGE_UP, AnalysesAction::Move(Move::By(-10)), "move by 10"),
    b(FIRST, AnalysesAction::Move(Move::First), "first / last"),
    b(LAST, AnalysesAction::Move(Move::Last), "first / last"),
    b(&[c('R')], AnalysesAction::Reload, "reload the store and analyse again"),
    f(
        &[c('P')],
        AnalysesAction::Export,
        "save this analysis: figure (SVG) and table (CSV) in the home's figures/ folder",
        "P save",
    ),
    b(&[k(KeyCode::Esc)], AnalysesAction::Back, "leave the chart"),
];

// ---------------------------------------------------------------------------------------------
// 6: Slurm jobs

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobsAction {
    Move(Move),
    Refresh,
    Cancel,
}

pub const JOBS: &[Binding<JobsAction>] = &[
    f(DOWN, JobsAction::Move(Move::By(1)), "move down / up", "↑↓ select"),
    b(UP, JobsAction::Move(Move::By(-1)), "move down / up"),
    f(&[c('R')], JobsAction::Refresh, "ask Slurm and merge finished cells now", "R refresh"),
    f(&[c('X')], JobsAction::Cancel, "cancel the Slurm array (asks first)", "X cancel"),
];

// ---------------------------------------------------------------------------------------------
// A confirmation (stopping a run, quitting during one, cancelling a Slurm array)

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmAction {
    Yes,
    No,
}

pub const CONFIRM: &[Binding<ConfirmAction>] = &[
    f(&[c('y'), c('Y')], ConfirmAction::Yes, "yes, do it", "y yes"),
    f(&[c('n'), c('N'), k(KeyCode::Esc)], ConfirmAction::No, "no, keep things as they are", "n no"),
];

// ---------------------------------------------------------------------------------------------
// Rendering the tables for help, footers and docs

/// Where a table applies, in the order the docs list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    Runs,
    Columns,
    Settings,
    Archs,
    Data,
    Train,
    Grid,
    Analyses,
    Jobs,
    Confirm,
}

impl Scope {
    pub const ALL: [Scope; 11] = [
        Scope::Global,
        Scope::Runs,
        Scope::Columns,
        Scope::Settings,
        Scope::Archs,
        Scope::Data,
        Scope::Train,
        Scope::Grid,
        Scope::Analyses,
        Scope::Jobs,
        Scope::Confirm,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Every screen",
            Scope::Runs => "1 Runs (leaderboard)",
            Scope::Columns => "Column chooser (o on Runs)",
            Scope::Settings => "Settings pane (, on every screen)",
            Scope::Archs => "2 Architectures",
            Scope::Data => "3 Datasets",
            Scope::Train => "4 Train",
            Scope::Grid => "Experiment grid form (E on Train)",
            Scope::Analyses => "5 Analyses",
            Scope::Jobs => "6 Slurm jobs",
            Scope::Confirm => "A confirmation (y/n)",
        }
    }

    /// Every key of the scope's table, with its help line.
    pub fn entries(self) -> Vec<(&'static [Key], &'static str, Option<&'static str>)> {
        fn rows<A>(t: &[Binding<A>]) -> Vec<(&'static [Key], &'static str, Option<&'static str>)> {
            t.iter().map(|b| (b.keys, b.help, b.footer)).collect()
        }
        match self {
            Scope::Global => rows(GLOBAL),
            Scope::Runs => rows(RUNS),
            Scope::Columns => rows(COLUMNS),
            Scope::Settings => rows(SETTINGS),
            Scope::Archs => rows(ARCHS),
            Scope::Data => rows(DATA),
            Scope::Train => rows(TRAIN),
            Scope::Grid => rows(GRID),
            Scope::Analyses => rows(ANALYSES),
            Scope::Jobs => rows(JOBS),
            Scope::Confirm => rows(CONFIRM),
        }
    }

    /// Whether a key is bound in this scope.
    pub fn binds(self, key: Key) -> bool {
        self.entries().iter().any(|(keys, _, _)| keys.contains(&key))
    }

    /// Help lines: bindings that share a help text are merged into one line, keys joined.
    pub fn help_lines(self) -> Vec<(String, &'static str)> {
        let mut lines: Vec<(String, &'static str)> = Vec::new();
        for (keys, help, _) in self.entries() {
            let names: Vec<String> = keys.iter().map(|k| k.name()).collect();
            match lines.last_mut() {
                Some((label, last)) if *last == help => {
                    label.push(' ');
                    label.push_str(&names.join(" "));
                }
                _ => lines.push((names.join(" "), help)),
            }
        }
        lines
    }

    /// The short labels of the footer, in table order.
    pub fn footer(self) -> Vec<&'static str> {
        self.entries().into_iter().filter_map(|(_, _, footer)| footer).collect()
    }
}

/// The whole key table as markdown (docs/tui-keys.md is this text; a test keeps them equal).
pub fn markdown() -> String {
    let mut out = String::from(
        "# Keys of the terminal explorer\n\n\
         Generated from the key table the explorer itself uses (`src/app/keys.rs`); `?` shows the same\n\
         lists on each screen. A key not listed for a screen does nothing there. Keys that move between\n\
         screens (`1`..`6`, Tab, Esc) never add, start, stop or delete anything; keys that end or lose\n\
         work (stopping a run, quitting during one, cancelling a Slurm array) ask first. In text being\n\
         typed (filters, the import path, Settings values, grid form fields) Backspace or Ctrl-H deletes a\n\
         character, Ctrl-W the word before the cursor and Ctrl-U the whole line.\n",
    );
    for scope in Scope::ALL {
        out.push_str(&format!("\n## {}\n\n| keys | what they do |\n|---|---|\n", scope.title()));
        for (keys, help) in scope.help_lines() {
            let keys = keys.replace('|', "\\|");
            out.push_str(&format!("| `{keys}` | {help} |\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_no_clash<A: Copy + PartialEq + std::fmt::Debug>(name: &str, table: &[Binding<A>]) {
        let mut seen: Vec<Key> = Vec::new();
        for binding in table {
            for key in binding.keys {
                assert!(!seen.contains(key), "{name}: {} bound twice", key.name());
                seen.push(*key);
            }
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_one_table() {
        check_no_clash("global", GLOBAL);
        check_no_clash("runs", RUNS);
        check_no_clash("columns", COLUMNS);
        check_no_clash("settings", SETTINGS);
        check_no_clash("archs", ARCHS);
        check_no_clash("data", DATA);
        check_no_clash("train", TRAIN);
        check_no_clash("grid", GRID);
        check_no_clash("analyses", ANALYSES);
        check_no_clash("jobs", JOBS);
        check_no_clash("confirm", CONFIRM);
    }

    #[test]
    fn screen_tables_do_not_shadow_the_global_keys() {
        for scope in [Scope::Runs, Scope::Archs, Scope::Data, Scope::Train, Scope::Analyses, Scope::Jobs] {
            for (keys, _, _) in Scope::Global.entries() {
                for key in keys {
                    assert!(!scope.binds(*key), "{scope:?} rebinds the global {}", key.name());
                }
            }
        }
    }

    #[test]
    fn navigation_keys_never_name_a_change() {
        // 1..6 only move; Tab and Esc are view keys on every screen.
        assert_eq!(lookup(GLOBAL, Key::ch('4')), Some(GlobalAction::GoTo));
        assert_eq!(lookup(TRAIN, Key::code(KeyCode::Esc)), None, "Esc never stops a run");
        assert_eq!(lookup(TRAIN, Key::code(KeyCode::Tab)), Some(TrainAction::NextSetting));
        assert_eq!(lookup(RUNS, Key::code(KeyCode::Tab)), Some(RunsAction::Chart));
        assert_eq!(lookup(JOBS, Key::code(KeyCode::Esc)), None);
    }

    #[test]
    fn help_lines_merge_keys_that_share_a_text() {
        let lines = Scope::Runs.help_lines();
        assert_eq!(lines[0], ("↓ j ↑ k".to_string(), "move down / up"));
        assert!(lines.iter().any(|(k, h)| k == "e c t m v" && *h == "PePR-E / C / T / M; v cycles"), "{lines:?}");
    }
}
