//! The explorer's keys against its one key table (`pepr::app::keys`): navigation never changes the
//! queue, every key the help lists is handled on its screen and no other key does anything there,
//! keys that end work ask first, and docs/tui-keys.md is the table. Driven by key events on
//! ratatui's TestBackend; the scenario trains a real (tiny) run on its worker thread.

use crate::common::paper;

use std::sync::mpsc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pepr::app::keys::{Key, Scope};
use pepr::app::train::{JobState, TrainRequest};
use pepr::app::{App, Data, Request, Screen};
use pepr::results::rank::{SetBy, rank};
use pepr::results::record::RunStatus;
use pepr::results::synthetic;
use pepr::run::worker::{RunHandle, RunMessage, RunUpdate, spawn_run};

// One test binary for the keys, numbers and columns scenarios: each binary links the whole crate.
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app_with(records: Vec<pepr::results::record::RunRecord>) -> App {
    let ranking = rank(&records, SetBy::Group).unwrap();
    let mut app = App::new("/home/user/.local/share/pepr/runs.jsonl");
    app.on_loaded(Data::new(records, ranking, vec![], SetBy::Group));
    app
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| pepr::ui::draw(frame, app)).unwrap();
    terminal.backend().to_string()
}

fn press_key(app: &mut App, key: Key) -> Option<Request> {
    let modifiers = if key.ctrl { KeyModifiers::CONTROL } else { KeyModifiers::NONE };
    app.handle_key(KeyEvent::new(key.code, modifiers))
}

fn press(app: &mut App, code: KeyCode) -> Option<Request> {
    press_key(app, Key::code(code))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// The catalog once (it is computed, not read).
fn catalog() -> Vec<pepr::catalog::listing::ArchRow> {
    static ROWS: std::sync::OnceLock<Vec<pepr::catalog::listing::ArchRow>> = std::sync::OnceLock::new();
    ROWS.get_or_init(|| pepr::catalog::listing::rows(None, 1000)).clone()
}

/// Picks `archs` on screen 2 and synthetic on screen 3 the way a user does, then goes to Train.
fn select(app: &mut App, archs: &[&str], data_dir: &std::path::Path) {
    press(app, KeyCode::Char('2'));
    app.archs.on_rows(None, catalog());
    for arch in archs {
        press(app, KeyCode::Char('/'));
        type_text(app, arch);
        press(app, KeyCode::Enter);
        assert_eq!(app.archs.current().unwrap().entry.name, *arch);
        press(app, KeyCode::Char(' '));
        press(app, KeyCode::Esc);
    }
    press(app, KeyCode::Char('3'));
    let entries: Vec<_> = pepr::data::registry::list(data_dir)
        .into_iter()
        .filter(|e| !matches!(e.kind, pepr::data::registry::Kind::FashionMnist(_)))
        .collect();
    app.datasets.on_list(entries);
    assert_eq!(app.datasets.current().unwrap().info.name, "synthetic");
    press(app, KeyCode::Char(' '));
    press(app, KeyCode::Char('4'));
}

fn queue_of(app: &App) -> Vec<(u64, String, JobState)> {
    app.train.queue.iter().map(|e| (e.id, e.arch.clone(), e.state.clone())).collect()
}

/// The next message of the worker within a generous limit.
fn next(receiver: &mpsc::Receiver<RunMessage>) -> RunMessage {
    receiver.recv_timeout(Duration::from_secs(120)).expect("a message from the training worker")
}

/// Hands the app's train requests to the worker's handle, as the event loop does.
fn dispatch(request: Option<Request>, handle: &RunHandle) {
    match request {
        Some(Request::Train(TrainRequest::Pause)) => handle.pause(),
        Some(Request::Train(TrainRequest::Resume)) => handle.resume(),
        Some(Request::Train(TrainRequest::Stop)) => handle.stop(),
        Some(Request::Train(TrainRequest::Start(job))) => panic!("nothing may start a second run: {job:?}"),
        _ => {}
    }
}

/// Issue 21: select two architectures and synthetic, queue them with `a`, start a real run, switch
/// screens ten times while it trains (with Tab and Esc on each screen), and the queue holds exactly
/// the two runs the user queued; Esc never stopped the run; `X` asks, `y` stops it.
#[test]
fn switching_screens_ten_times_during_a_run_queues_nothing() {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("datasets");
    let mut app = app_with(vec![]);
    select(&mut app, &["pepr_lenet5", "pepr_resnet8"], &data_dir);
    assert_eq!(app.screen, Screen::Train);
    assert!(app.train.queue.is_empty(), "4 moved to the Train screen and queued nothing");
    assert!(screen(&app, 80, 24).contains("a queues the 2 selected pairs"), "the empty queue offers a");
    assert_eq!(press(&mut app, KeyCode::Char('a')), None);
    assert!(screen(&app, 80, 24).contains("queued 2 runs (s starts the queue)"), "a says what it did");
    let queued = queue_of(&app);
    assert_eq!(queued.len(), 2);

    // A short real run: 3 epochs on a tenth of the synthetic set.
    app.train.settings.epochs = 3;
    app.train.settings.fraction = 0.1;
    let Some(Request::Train(TrainRequest::Start(job))) = press(&mut app, KeyCode::Char('s')) else {
        panic!("s starts the queue")
    };
    let (sender, receiver) = mpsc::channel();
    let handle = spawn_run(job.clone(), pepr::home::Home::at(home.path()), data_dir.clone(), sender);
    // Paused at its first progress report, so every switch below happens while it trains.
    loop {
        let message = next(&receiver);
        let progress = matches!(message.update, RunUpdate::Progress { .. });
        assert!(app.on_run_message(message).is_empty());
        if progress {
            break;
        }
    }
    dispatch(press(&mut app, KeyCode::Char('p')), &handle);

    let mut switches = 0;
    for digit in ['1', '4', '2', '4', '3', '4', '5', '4', '6', '4'] {
        let request = press(&mut app, KeyCode::Char(digit));
        assert!(!matches!(request, Some(Request::Train(_))), "{digit} asked for {request:?}");
        switches += 1;
        for code in [KeyCode::Tab, KeyCode::Esc] {
            let request = press(&mut app, code);
            assert!(!matches!(request, Some(Request::Train(_))), "{code:?} on screen {digit} asked for {request:?}");
        }
        screen(&app, 80, 24);
        while let Ok(message) = receiver.try_recv() {
            assert!(app.on_run_message(message).is_empty());
        }
        assert!(app.train.can_stop(), "the run is still training after {digit}, Tab, Esc");
    }
    assert_eq!(switches, 10);
    press(&mut app, KeyCode::Char('4'));
    let now = queue_of(&app);
    assert_eq!(now.len(), 2, "exactly what the user queued: {now:?}");
    assert_eq!((now[0].0, now[1].0), (queued[0].0, queued[1].0));
    assert_eq!((now[0].2.clone(), now[1].2.clone()), (JobState::Running, JobState::Queued));

    // X asks first; y stops; the run is stored as interrupted and the rest of the queue waits.
    assert_eq!(press(&mut app, KeyCode::Char('X')), None);
    assert!(screen(&app, 80, 24).contains("Stop the running training"));
    dispatch(press(&mut app, KeyCode::Char('y')), &handle);
    loop {
        let message = next(&receiver);
        let end = matches!(message.update, RunUpdate::Finished { .. } | RunUpdate::Failed(_));
        let requests = app.on_run_message(message);
        if end {
            assert_eq!(requests, vec![Request::Load(SetBy::Group)], "stored; nothing else starts");
            break;
        }
    }
    handle.join();
    let stored = pepr::results::store::RunStore::new(home.path().join("runs.jsonl")).load().unwrap().records;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, RunStatus::Interrupted);
    let now = queue_of(&app);
    assert_eq!(now.len(), 2);
    assert!(matches!(now[0].2, JobState::Done { status: RunStatus::Interrupted, .. }), "{now:?}");
    assert_eq!(now[1].2, JobState::Queued);
}

/// `q` and Ctrl-C during a run ask first; without a run they quit at once.
#[test]
fn quitting_during_a_run_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with(vec![]);
    select(&mut app, &["pepr_lenet5"], dir.path());
    press(&mut app, KeyCode::Char('a'));
    let Some(Request::Train(TrainRequest::Start(_))) = press(&mut app, KeyCode::Char('s')) else { panic!() };
    press(&mut app, KeyCode::Char('1'));
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.quit);
    assert!(screen(&app, 80, 24).contains("Quit? The running training"));
    // Keys other than y, n and Esc leave the question open.
    press(&mut app, KeyCode::Char('4'));
    assert_eq!(app.screen, Screen::Leaderboard);
    press(&mut app, KeyCode::Esc);
    assert!(!app.quit && app.confirm.is_none());
    assert!(screen(&app, 80, 24).contains("the run goes on"));
    press_key(&mut app, Key::ctrl('c'));
    assert!(!app.quit && app.confirm.is_some());
    press_key(&mut app, Key::ctrl('c'));
    assert!(app.quit, "a second Ctrl-C quits");

    let mut idle = app_with(vec![]);
    press(&mut idle, KeyCode::Char('q'));
    assert!(idle.quit, "nothing to lose: q quits at once");
}

/// Jobs: X asks before cancelling the array; n keeps it.
#[test]
fn cancelling_a_slurm_array_asks_first() {
    let mut app = app_with(vec![]);
    press(&mut app, KeyCode::Char('6'));
    assert_eq!(press(&mut app, KeyCode::Char('X')), None);
    assert!(app.confirm.is_none(), "no array: nothing to ask");
    assert!(screen(&app, 80, 24).contains("no Slurm array to cancel"));
}

// ---------------------------------------------------------------------------------------------
// The help against the handlers

/// Every key a terminal sends that a screen could bind.
fn universe() -> Vec<Key> {
    let mut keys: Vec<Key> = (' '..='~').map(Key::ch).collect();
    keys.extend(
        [
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::Left,
            KeyCode::Right,
            KeyCode::PageUp,
            KeyCode::PageDown,
            KeyCode::Home,
            KeyCode::End,
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Tab,
            KeyCode::BackTab,
            KeyCode::Delete,
            KeyCode::Backspace,
            KeyCode::Insert,
            KeyCode::F(1),
        ]
        .map(Key::code),
    );
    keys.push(Key::ctrl('c'));
    keys
}

/// A screen set up so that its keys have something to act on.
struct Fixture {
    name: &'static str,
    /// The tables whose keys apply, in the order the app consults them.
    scopes: &'static [Scope],
    make: fn() -> App,
    /// Keys bound here that visibly do nothing in this fixture, and why.
    quiet: &'static [(Key, &'static str)],
}

fn runs_app() -> App {
    let mut app = app_with(synthetic::runs(3, 14, 42));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    app
}

fn archs_app() -> App {
    let mut app = app_with(vec![]);
    press(&mut app, KeyCode::Char('2'));
    app.archs.on_rows(None, catalog());
    press(&mut app, KeyCode::Down);
    app
}

fn data_app() -> App {
    let dir = std::env::temp_dir().join("pepr-tui-keys-data");
    let mut app = app_with(vec![]);
    press(&mut app, KeyCode::Char('3'));
    app.datasets.on_list(pepr::data::registry::list(&dir));
    press(&mut app, KeyCode::Down);
    app
}

fn train_app() -> App {
    let dir = std::env::temp_dir().join("pepr-tui-keys-data");
    let mut app = app_with(vec![]);
    select(&mut app, &["pepr_lenet5", "pepr_resnet8", "resnet18"], &dir);
    press(&mut app, KeyCode::Char('a'));
    press(&mut app, KeyCode::Down);
    app
}

fn training_app() -> App {
    let mut app = train_app();
    let Some(Request::Train(TrainRequest::Start(_))) = press(&mut app, KeyCode::Char('s')) else { panic!() };
    app
}

fn grid_app() -> App {
    let mut app = train_app();
    press(&mut app, KeyCode::Char('E'));
    app
}

fn columns_app() -> App {
    let mut app = runs_app();
    press(&mut app, KeyCode::Char('o'));
    press(&mut app, KeyCode::Down);
    app
}

/// The paper's runs with their analyses delivered (pairs of pretrained and scratch runs).
fn settings_app() -> App {
    let mut app = runs_app();
    press(&mut app, KeyCode::Char(','));
    assert!(app.settings_form.open);
    app
}

fn analyses_app() -> App {
    let path = paper::csv_path();
    let (_, records) = pepr::results::import::read_file(&path, chrono::Utc::now()).unwrap();
    let mut app = app_with(records);
    let Some(Request::Analyze(job)) = press(&mut app, KeyCode::Char('5')) else { panic!("5 asks for the analyses") };
    let result = pepr::results::analysis::analyze(&job.records).map_err(|e| e.to_string());
    app.analyses.on_result(job.generation, result);
    press(&mut app, KeyCode::Down);
    app
}

fn jobs_app() -> App {
    use pepr::slurm::jobs::SubmittedJob;
    let status = |id: &str| pepr::slurm::watch::JobStatus {
        job: SubmittedJob {
            job_id: id.into(),
            name: format!("grid-{id}"),
            submitted_at: chrono::Utc::now(),
            dir: "/h/slurm/x".into(),
            cells: 0,
            options: Default::default(),
            resubmits: None,
        },
        cells: vec![],
        slurm_error: None,
        cells_error: None,
    };
    let mut app = app_with(vec![]);
    app.on_jobs(Ok((Default::default(), vec![status("7"), status("8"), status("9")])));
    press(&mut app, KeyCode::Char('6'));
    press(&mut app, KeyCode::Down);
    app
}

fn confirm_app() -> App {
    let mut app = training_app();
    press(&mut app, KeyCode::Char('X'));
    assert!(app.confirm.is_some());
    app
}

const ON_IT: &str = "already on this screen";

const F: &[Fixture] = &[
    Fixture {
        name: "runs",
        scopes: &[Scope::Runs, Scope::Global],
        make: runs_app,
        quiet: &[
            (Key::ch('1'), ON_IT),
            (Key::ch('e'), "PePR-E is already shown"),
            (Key::code(KeyCode::Esc), "nothing open to close"),
        ],
    },
    Fixture {
        name: "columns",
        scopes: &[Scope::Columns, Scope::Global],
        make: columns_app,
        quiet: &[(Key::ch('1'), ON_IT)],
    },
    Fixture {
        name: "archs",
        scopes: &[Scope::Archs, Scope::Global],
        make: archs_app,
        quiet: &[(Key::ch('2'), ON_IT), (Key::code(KeyCode::Esc), "no filter to clear")],
    },
    Fixture { name: "data", scopes: &[Scope::Data, Scope::Global], make: data_app, quiet: &[(Key::ch('3'), ON_IT)] },
    Fixture { name: "train", scopes: &[Scope::Train, Scope::Global], make: train_app, quiet: &[(Key::ch('4'), ON_IT)] },
    Fixture {
        name: "training",
        scopes: &[Scope::Train, Scope::Global],
        make: training_app,
        quiet: &[(Key::ch('4'), ON_IT)],
    },
    Fixture { name: "grid", scopes: &[Scope::Grid, Scope::Global], make: grid_app, quiet: &[(Key::ch('4'), ON_IT)] },
    Fixture {
        name: "analyses",
        scopes: &[Scope::Analyses, Scope::Global],
        make: analyses_app,
        quiet: &[
            (Key::ch('5'), ON_IT),
            (Key::ch('e'), "PePR-E is already shown"),
            (Key::code(KeyCode::Esc), "no chart to leave"),
        ],
    },
    Fixture { name: "jobs", scopes: &[Scope::Jobs, Scope::Global], make: jobs_app, quiet: &[(Key::ch('6'), ON_IT)] },
    Fixture { name: "confirm", scopes: &[Scope::Confirm], make: confirm_app, quiet: &[] },
    Fixture {
        name: "settings",
        scopes: &[Scope::Settings, Scope::Global],
        make: settings_app,
        quiet: &[
            (Key::ch('1'), ON_IT),
            (Key::code(KeyCode::Up), "already on the first setting"),
            (Key::ch('k'), "already on the first setting"),
        ],
    },
];

/// The screen drawn with its styles (a moved cursor only changes a style).
fn buffer(app: &App) -> ratatui::buffer::Buffer {
    let mut terminal = Terminal::new(TestBackend::new(160, 50)).unwrap();
    terminal.draw(|frame| pepr::ui::draw(frame, app)).unwrap();
    terminal.backend().buffer().clone()
}

/// What a key press changed: the request, the screen drawn, and the flags that are not drawn.
fn effect(make: fn() -> App, key: Key) -> (Option<Request>, bool) {
    let mut app = make();
    let before = (buffer(&app), app.quit, app.show_help);
    let request = press_key(&mut app, key);
    let after = (buffer(&app), app.quit, app.show_help);
    (request.clone(), request.is_some() || before != after)
}

/// A key not in a screen's tables does nothing there (nothing drawn changes, nothing is asked of
/// the event loop); a key in them does something visible, except the few a fixture names with a
/// reason. So no handled key is missing from the help, and every key the help lists is handled.
#[test]
fn every_key_in_the_help_is_handled_and_no_other_key_is() {
    let mut problems = Vec::new();
    for fixture in F {
        for key in universe() {
            let bound = fixture.scopes.iter().any(|s| s.binds(key));
            let (request, changed) = effect(fixture.make, key);
            let quiet = fixture.quiet.iter().any(|(k, _)| *k == key);
            if !bound && changed {
                problems.push(format!(
                    "{}: {} is not in the help but did something ({request:?})",
                    fixture.name,
                    key.name()
                ));
            }
            if bound && !changed && !quiet {
                problems.push(format!("{}: {} is in the help but did nothing", fixture.name, key.name()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The help overlay shows each key of the screen's table with its text.
#[test]
fn the_help_shows_every_key_of_the_screen() {
    for fixture in F.iter().filter(|f| f.name != "confirm") {
        let mut app = (fixture.make)();
        press(&mut app, KeyCode::Char('?'));
        assert!(app.show_help, "{}", fixture.name);
        for (width, height) in [(160, 50), (80, 24)] {
            let text = screen(&app, width, height);
            for scope in fixture.scopes {
                for (keys, help) in scope.help_lines() {
                    let (keys_shown, help_shown) = if width == 160 {
                        (keys.clone(), help.to_string())
                    } else {
                        // At 80x24 long lines end in an ellipsis: the start must be there.
                        (keys.chars().take(10).collect(), help.chars().take(20).collect())
                    };
                    assert!(
                        text.contains(&keys_shown) && text.contains(&help_shown),
                        "{} at {width}x{height}: `{keys}` {help}\n{text}",
                        fixture.name
                    );
                }
            }
        }
    }
}

/// docs/tui-keys.md is the key table rendered as markdown (`PEPR_UPDATE_DOCS=1` rewrites it).
#[test]
fn docs_key_table_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tui-keys.md");
    let generated = pepr::app::keys::markdown();
    if std::env::var_os("PEPR_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == generated,
        "docs/tui-keys.md differs from the key table: run `PEPR_UPDATE_DOCS=1 cargo test --release --test it tui_keys::`"
    );
}

// ---------------------------------------------------------------------------------------------
// Numbers never cut into other numbers; missing values are "—" (issue 22, item 2)

/// Twelve runs with long names and wide figures, one interrupted before its first test (no P) and
/// one interrupted after it (P of its last test, unranked).
fn wide_records() -> Vec<pepr::results::record::RunRecord> {
    let mut records = synthetic::runs(1, 12, 7);
    for (i, record) in records.iter_mut().enumerate() {
        record.arch =
            format!("{}_{i}", ["efficientnet_lite0_with_a_long_name", "resnet8", "vit_tiny_patch16_224"][i % 3]);
        record.performance = 0.4 + 0.04 * i as f64 + 0.0001234;
        record.epoch_perf = vec![record.performance];
        record.energy_kwh = Some(0.000123456 * (i as f64 + 1.0) * 97.0);
        record.params = Some(1_234_567 * (i as u64 + 1));
        record.seed = Some(i as u64 * 1000);
    }
    records[10].status = RunStatus::Interrupted;
    records[10].epoch_perf.clear();
    records[10].performance = 0.0;
    records[11].status = RunStatus::Interrupted;
    records
}

/// Each shown row's P, energy and score appear whole in its line (or "—"), never cut.
fn assert_numbers_whole(app: &App, text: &str, width: u16) {
    let data = app.data.as_ref().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let tokens = |line: &str| -> Vec<String> {
        line.split(|c: char| c.is_whitespace() || c == '│' || c == '"')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    // Title, top border, header, then the rows.
    for (k, &row) in app.rows().iter().enumerate().take(lines.len().saturating_sub(5)) {
        let run = &data.ranking.runs[row];
        let record = &data.records[run.index];
        let line = tokens(lines[3 + k]);
        let p = record.measured_p().map_or("—".to_string(), |p| format!("{p:.4}"));
        let score = run.score[0].map_or("—".to_string(), |s| format!("{s:.4}"));
        let energy = record.energy_kwh.map_or("—".to_string(), |e| pepr::format::sig(e, 4));
        for value in [&p, &score, &energy] {
            assert!(line.contains(value), "at {width} columns row {k} lacks {value} whole: {:?}\n{text}", lines[3 + k]);
        }
    }
}

#[test]
fn leaderboard_numbers_are_never_cut_80x24_and_120x40() {
    let app = app_with(wide_records());
    for (width, height) in [(80, 24), (120, 40)] {
        let text = screen(&app, width, height);
        assert_numbers_whole(&app, &text, width);
        // The long names end in an ellipsis at 80 columns rather than running into the next column.
        if width == 80 {
            assert!(text.contains('…'), "{text}");
        } else {
            assert!(text.contains("efficientnet_lite0_with_a_long_name_0"), "{text}");
        }
        insta::assert_snapshot!(format!("leaderboard_wide_{width}x{height}"), text);
    }
}

#[test]
fn a_run_without_a_test_has_no_p_no_rank_and_is_not_plotted() {
    let mut app = app_with(wide_records());
    let data = app.data.clone().unwrap();
    let run = data.ranking.runs.iter().find(|r| r.index == 10).unwrap();
    assert_eq!((run.rank[0], run.score[0]), (None, None), "not ranked");
    // Its row: P, rank and score are "—"; the run interrupted after a test shows its P, unranked.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "resnet8_10");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.rows().len(), 1);
    let text = screen(&app, 120, 40);
    let row = text.lines().nth(3).unwrap();
    assert_eq!(row.matches('—').count(), 3, "rank, P and PePR-E: {row}");
    press(&mut app, KeyCode::Enter);
    assert!(screen(&app, 120, 40).contains("— (no test before it ended)"));
    // The chart: P from 0.4 up, not stretched to 0 by the run without P; the selected run named
    // (this one is not plotted, and says so; the first run is).
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Tab);
    let text = screen(&app, 120, 40);
    assert!(!text.contains("0.0 "), "the P axis starts at 0.3 or above:\n{text}");
    assert!(text.contains("■ resnet8_10: not plotted (no PePR-E)"), "{text}");
    press(&mut app, KeyCode::Char('g'));
    let first = &data.records[data.ranking.runs[app.rows()[0]].index];
    let named = format!("■ {}: P {:.4}", first.arch, first.performance);
    let text = screen(&app, 120, 40);
    assert!(text.contains(&named), "the selected point is named ({named}):\n{text}");
    assert!(text.contains("PePR 0."), "iso-lines carry their values:\n{text}");
}

#[test]
fn the_queue_shows_p_whole_and_a_missing_p_as_a_dash() {
    use pepr::run::worker::RunMessage;
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with(vec![]);
    select(&mut app, &["pepr_lenet5", "efficientnet_lite0"], dir.path());
    press(&mut app, KeyCode::Char('a'));
    let Some(Request::Train(TrainRequest::Start(mut job))) = press(&mut app, KeyCode::Char('s')) else { panic!() };
    for (p, tested) in [(0.427, true), (0.0, false)] {
        let mut record = synthetic::runs(1, 1, 0).remove(0);
        record.group = "synthetic_small".into();
        record.status = if tested { RunStatus::Completed } else { RunStatus::Interrupted };
        record.performance = p;
        record.epoch_perf = if tested { vec![p] } else { vec![] };
        let update = RunUpdate::Finished { record: Box::new(record), message: None, checkpoint: None };
        // The queue goes on by itself: the next run starts when one ends.
        for request in app.on_run_message(RunMessage { job: job.id, update }) {
            if let Request::Train(TrainRequest::Start(next)) = request {
                job = next;
            }
        }
    }
    for (width, height) in [(80, 24), (120, 40)] {
        let text = screen(&app, width, height);
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("completed") || l.contains("interrupted")).collect();
        let row = |arch: &str| -> Vec<String> {
            let line = lines.iter().find(|l| l.contains(arch) && l.contains(" synthetic ")).unwrap();
            line.split(|c: char| c.is_whitespace() || c == '│').filter(|t| !t.is_empty()).map(str::to_string).collect()
        };
        let (first, second) = (row("efficientnet_lite0"), row("pepr_lenet5"));
        assert!(first.contains(&"completed".into()) && first.contains(&"0.427".into()), "{width}: {first:?}\n{text}");
        assert!(second.contains(&"interrupted".into()) && second.contains(&"—".into()), "{width}: {second:?}\n{text}");
        assert!(text.contains("(no test yet)"), "the log says why P is missing:\n{text}");
        insta::assert_snapshot!(format!("queue_ended_runs_{width}x{height}"), text);
    }
}

// ---------------------------------------------------------------------------------------------
// Runs told apart (issue 22, items 3 and 4)

#[test]
fn columns_tell_runs_apart_and_o_chooses_them() {
    let mut records = wide_records();
    records[0].pretrained = Some("imagenet".into());
    records[1].epochs = Some(2);
    let mut app = app_with(records);
    let text = screen(&app, 120, 40);
    for title in ["start", "ep", "seed", "status", "kind", "params"] {
        assert!(text.contains(title), "{title}:\n{text}");
    }
    assert!(text.contains("imagenet") && text.contains("interrupted"), "{text}");
    // o opens the chooser; Space on "group" shows the group column; the choice stays after closing.
    press(&mut app, KeyCode::Char('o'));
    assert!(screen(&app, 80, 24).contains("[ ] group"));
    press(&mut app, KeyCode::Char(' '));
    assert!(screen(&app, 80, 24).contains("column group shown"));
    press(&mut app, KeyCode::Esc);
    assert!(!app.runs.columns.open && app.runs.columns.is_shown(pepr::app::columns::RunColumn::Group));
    assert!(screen(&app, 120, 40).contains("set-00"));
    // At 80 columns the columns that do not fit give way and the footer says how many.
    assert!(screen(&app, 80, 24).contains("hidden: too narrow"));
    // A sort by params shows its arrow.
    for _ in 0..3 {
        press(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(app.runs.sort_column, pepr::app::SortColumn::Params);
    assert!(screen(&app, 120, 40).contains("params↑"));
}

#[test]
fn seed_rows_keep_different_epochs_apart_and_follow_the_filter() {
    let mut records = synthetic::runs(1, 8, 5);
    for (i, record) in records.iter_mut().enumerate() {
        record.arch = ["resnet8", "pepr_lenet5"][i % 2].into();
        record.seed = Some((i / 2) as u64 % 2);
        record.epochs = Some(if i < 4 { 1 } else { 2 });
        record.pretrained = None;
    }
    let mut app = app_with(records);
    press(&mut app, KeyCode::Char('a'));
    assert_eq!(app.current_seed_groups().len(), 4, "arch x epochs; the seeds merge");
    assert!(app.current_seed_groups().iter().all(|g| g.runs.len() == 2));
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "resnet");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.current_seed_groups().len(), 2, "the filter applies to the merged rows");
    let text = screen(&app, 80, 24);
    assert!(text.contains("2 rows (seeds merged)") && !text.contains("pepr_lenet5"), "{text}");
    insta::assert_snapshot!("seeds_filtered_80x24", text);
}

// ---------------------------------------------------------------------------------------------
// Settings and import from the TUI (issue 22, item 5)

#[test]
fn settings_are_edited_in_the_tui_and_used_at_once() {
    let mut app = runs_app();
    press(&mut app, KeyCode::Char(','));
    let text = screen(&app, 80, 24);
    assert!(text.contains("carbon_intensity") && text.contains("world average"), "{text}");
    // cpu_tdp_w: the fifth row.
    for _ in 0..4 {
        press(&mut app, KeyCode::Down);
    }
    assert!(screen(&app, 80, 24).contains("without a power counter"), "the hint says how to get the figure");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "65");
    let Some(Request::SaveSettings(settings, what)) = press(&mut app, KeyCode::Enter) else { panic!("Enter saves") };
    assert_eq!((settings.cpu_tdp_w, what.as_str()), (Some(65.0), "cpu_tdp_w set to 65"));
    // The event loop saved it: the next run is metered with it; no reload for a meter setting.
    assert_eq!(app.on_settings_saved(Ok((settings, what))), None);
    assert_eq!(app.train.settings.meter.cpu_tdp_w, Some(65.0));
    assert!(screen(&app, 80, 24).contains("65 W"));
    // rank_energy changes the ranking: the store is ranked again.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "nett");
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    assert!(screen(&app, 80, 24).contains("`rank_energy`"), "a bad value is refused, saying why");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "net");
    let Some(Request::SaveSettings(settings, what)) = press(&mut app, KeyCode::Enter) else { panic!() };
    assert_eq!(app.on_settings_saved(Ok((settings, what))), Some(Request::Load(SetBy::Group)));
    // A settings file pepr could not read is never saved over.
    app.settings_warning = Some("settings.json: not valid JSON".into());
    assert_eq!(press(&mut app, KeyCode::Char('u')), None);
    assert!(screen(&app, 80, 24).contains("not saved"));
}

#[test]
fn import_a_csv_file_from_the_tui() {
    let mut app = app_with(vec![]);
    press(&mut app, KeyCode::Char('I'));
    assert!(screen(&app, 80, 24).contains("import CSV file:"));
    type_text(&mut app, "assets/paper/all_results.csv");
    let Some(Request::Import(path)) = press(&mut app, KeyCode::Enter) else { panic!("Enter imports") };
    assert_eq!(path, std::path::PathBuf::from("assets/paper/all_results.csv"));
    // The event loop's worker imports it; the store is read again and the status line says what came in.
    let dir = tempfile::tempdir().unwrap();
    let store = pepr::results::store::RunStore::new(dir.path().join("runs.jsonl"));
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let summary = pepr::results::import::import_file(&store, &manifest.join(&path)).map(|s| s.to_string());
    let request = app.on_imported(summary.map_err(|e| e.to_string()));
    assert_eq!(request, Some(Request::Load(SetBy::Group)));
    assert!(screen(&app, 120, 24).contains("added"), "{}", screen(&app, 120, 24));
    assert_eq!(app.on_imported(Err("x.csv: line 3: bad P".into())), None);
    assert!(screen(&app, 80, 24).contains("import failed: x.csv: line 3"));
}
