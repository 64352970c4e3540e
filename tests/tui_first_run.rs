//! A newcomer's first minutes in the TUI: the empty store offers the paper's runs on one key, and the
//! tab bar names every screen at 80x24. Drawn into ratatui's TestBackend, driven by key events; the
//! import itself runs the way the event loop's worker runs it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pepr::app::{App, Data, Request, Screen};
use pepr::results::rank::{SetBy, rank};
use pepr::results::store::RunStore;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn press(app: &mut App, code: KeyCode) -> Option<Request> {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| pepr::ui::draw(frame, app)).unwrap();
    terminal.backend().to_string()
}

fn loaded(store: &RunStore) -> App {
    let mut app = App::new(store.path().display().to_string());
    app.on_loaded(pepr::app::worker::load(store, SetBy::Group));
    app
}

#[test]
fn the_empty_store_imports_the_papers_runs_with_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = RunStore::new(dir.path().join("runs.jsonl"));
    let mut app = loaded(&store);
    assert!(app.is_empty_store());
    let text = screen(&app, 80, 24);
    assert!(text.contains("Press i") && text.contains("pepr import --paper"), "{text}");

    assert_eq!(press(&mut app, KeyCode::Char('i')), Some(Request::ImportPaper));
    assert!(screen(&app, 80, 24).contains("Importing the paper's 1048 runs"));
    assert_eq!(press(&mut app, KeyCode::Char('i')), None, "no second import while one runs");

    // The worker's body, then its answer: the store is reloaded and the leaderboard appears.
    let result = pepr::results::paper::import(&store).map(|s| s.to_string()).map_err(|e| e.to_string());
    assert!(result.as_ref().unwrap().contains("1048 added"));
    assert_eq!(app.on_paper_imported(result), Some(Request::Load(SetBy::Group)));
    app.on_loaded(pepr::app::worker::load(&store, SetBy::Group));
    assert!(!app.is_empty_store());
    assert_eq!(app.data.as_ref().unwrap().records.len(), 1048);
    let text = screen(&app, 80, 24);
    assert!(text.contains("131") && !text.contains("Press i"), "{text}");
    // With runs in the store the key imports again, which adds nothing (imports are idempotent).
    assert_eq!(press(&mut app, KeyCode::Char('i')), Some(Request::ImportPaper));
}

#[test]
fn a_failed_import_says_why_and_can_be_tried_again() {
    let mut app = App::new("/nowhere/runs.jsonl");
    app.on_loaded(Data::new(vec![], rank(&[], SetBy::Group).unwrap(), vec![], SetBy::Group));
    assert_eq!(press(&mut app, KeyCode::Char('i')), Some(Request::ImportPaper));
    assert_eq!(app.on_paper_imported(Err("cannot create /nowhere: permission denied".into())), None);
    assert!(screen(&app, 80, 24).contains("Import failed: cannot create /nowhere"), "{}", screen(&app, 80, 24));
    assert_eq!(press(&mut app, KeyCode::Char('i')), Some(Request::ImportPaper), "it can be tried again");
}

#[test]
fn every_screen_keeps_its_name_in_the_tab_bar_at_80_columns() {
    let records = pepr::results::paper::records().unwrap();
    let ranking = rank(&records, SetBy::Group).unwrap();
    let mut app = App::new("runs.jsonl");
    app.on_loaded(Data::new(records, ranking, vec![], SetBy::Group));
    // derma_smallest: the paper's longest group name.
    while app.current_set().map(|s| s.name.as_str()) != Some("derma_smallest") {
        press(&mut app, KeyCode::Char(']'));
    }
    for (key, screen_shown) in [('1', Screen::Leaderboard), ('2', Screen::Architectures), ('5', Screen::Analyses)] {
        press(&mut app, KeyCode::Char(key));
        assert_eq!(app.screen, screen_shown);
        let text = screen(&app, 80, 24);
        let title = text.lines().next().unwrap();
        for name in ["1 Runs", "2 Arch", "3 Data", "4 Train", "5 Anlys"] {
            let full = name.replace("Anlys", "Analyses").replace("Arch", "Archs");
            assert!(title.contains(name) || title.contains(&full), "{name} missing from {title}");
        }
        if screen_shown == Screen::Leaderboard {
            assert!(title.contains("derma_smallest") && title.contains("PePR-E"), "{title}");
        }
    }
}
