//! The Train screen's backend and threads settings (issue 20), driven by keys on a TestBackend.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pepr::app::{App, Data, Screen};
use pepr::meter::backend::Backend;
use pepr::results::rank::{SetBy, rank};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn press(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    terminal.draw(|frame| pepr::ui::draw(frame, app)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn backend_and_threads_are_settings_and_an_unavailable_cuda_says_why() {
    let mut app = App::new("/tmp/runs.jsonl");
    app.on_loaded(Data::new(vec![], rank(&[], SetBy::Group).unwrap(), vec![], SetBy::Group));
    press(&mut app, KeyCode::Char('4'));
    assert_eq!(app.screen, Screen::Train);
    let text = screen(&app);
    assert!(text.contains("backend") && text.contains("threads"), "{text}");
    let cores = rayon::current_num_threads();
    assert!(text.contains("all cores"), "{text}");

    // Tab to `backend` (the seventh setting) and try to change it.
    for _ in 0..6 {
        press(&mut app, KeyCode::Tab);
    }
    press(&mut app, KeyCode::Char('+'));
    match pepr::meter::backend::available_here(Backend::Cuda) {
        Err(why) => {
            assert_eq!(app.train.settings.backend, Backend::Cpu, "cuda cannot be chosen here");
            let text = screen(&app);
            assert!(text.contains("cpu (only)"), "{text}");
            assert!(text.contains("cuda is unavailable"), "{text}");
            #[cfg(not(feature = "cuda"))]
            assert!(text.contains("not built in") && why.reason().contains("--features cuda"), "{text}");
        }
        Ok(()) => assert_eq!(app.train.settings.backend, Backend::Cuda),
    }

    // `threads`: down from every core to one, then back up to every core.
    press(&mut app, KeyCode::Tab);
    for _ in 0..cores + 2 {
        press(&mut app, KeyCode::Char('-'));
    }
    assert_eq!(app.train.settings.threads, Some(1));
    let config = app.train.settings.config("pepr_lenet5", "synthetic");
    assert_eq!(config.threads, Some(1), "a run started now gets one thread");
    for _ in 0..cores + 2 {
        press(&mut app, KeyCode::Char('+'));
    }
    assert_eq!(app.train.settings.threads, None);
}
