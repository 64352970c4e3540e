//! The Analyses screen (`5`) on the paper's published runs, drawn into ratatui's TestBackend and
//! driven by key events. The analyses are computed the way the event loop's worker does it.

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pepr::app::analyses::{AnalysisView, PairedColumn};
use pepr::app::{App, Data, Request, Screen};
use pepr::results::analysis::analyze;
use pepr::results::import::read_file;
use pepr::results::rank::{SetBy, Variant, rank};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[path = "common/paper.rs"]
mod paper_data;

fn press(app: &mut App, code: KeyCode) -> Option<Request> {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| pepr::ui::draw(frame, app)).unwrap();
    terminal.backend().to_string()
}

/// The paper's runs loaded, screen 5 opened and its analyses delivered.
fn analyses_app() -> App {
    let (_, records) = read_file(&paper_data::csv_path(), Utc::now()).unwrap();
    let ranking = rank(&records, SetBy::Group).unwrap();
    let mut app = App::new("/home/user/.local/share/pepr/runs.jsonl");
    app.on_loaded(Data::new(records, ranking, vec![], SetBy::Group));
    let Some(Request::Analyze(job)) = press(&mut app, KeyCode::Char('5')) else { panic!("5 asks for the analyses") };
    assert_eq!(app.screen, Screen::Analyses);
    assert!(app.analyses.computing);
    assert!(render(&app, 80, 24).contains("Computing the analyses"));
    assert_eq!(press(&mut app, KeyCode::Char('5')), None, "no second request while one runs");
    app.analyses.on_result(job.generation, analyze(&job.records).map_err(|e| e.to_string()));
    assert!(!app.analyses.computing);
    app
}

#[test]
fn paired_table_sorted_by_delta_p_120x40() {
    let mut app = analyses_app();
    for _ in 0..3 {
        press(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(app.analyses.sort, PairedColumn::DeltaP);
    let pair = app.analyses.current_pair().unwrap();
    let shown: Vec<f64> = app.analyses.rows().iter().map(|&i| pair.rows[i].dp()).collect();
    assert!(shown.windows(2).all(|w| w[0] >= w[1]), "largest gain first");
    insta::assert_snapshot!(render(&app, 120, 40));
    press(&mut app, KeyCode::Char('r'));
    let pair = app.analyses.current_pair().unwrap();
    let shown: Vec<f64> = app.analyses.rows().iter().map(|&i| pair.rows[i].dp()).collect();
    assert!(shown.windows(2).all(|w| w[0] <= w[1]), "r reverses");
}

#[test]
fn paired_table_80x24() {
    insta::assert_snapshot!(render(&analyses_app(), 80, 24));
}

#[test]
fn paired_chart_of_delta_p_against_delta_time_120x40() {
    let mut app = analyses_app();
    press(&mut app, KeyCode::Char('t'));
    press(&mut app, KeyCode::Tab);
    assert!(app.analyses.chart);
    assert_eq!(app.analyses.variant, Variant::Time);
    insta::assert_snapshot!(render(&app, 120, 40));
    press(&mut app, KeyCode::Esc);
    assert!(!app.analyses.chart);
}

#[test]
fn fraction_chart_120x40() {
    let mut app = analyses_app();
    press(&mut app, KeyCode::Right);
    assert_eq!(app.analyses.view, AnalysisView::Fraction);
    insta::assert_snapshot!(render(&app, 120, 40));
    // ] moves to the next family (lidc), [ back.
    press(&mut app, KeyCode::Char(']'));
    assert!(render(&app, 120, 40).contains("lidc-idri from scratch"));
    press(&mut app, KeyCode::Char('['));
    assert!(render(&app, 120, 40).contains("dermamnist from scratch"));
}

#[test]
fn params_scatter_with_efficient_marked_120x40() {
    let mut app = analyses_app();
    press(&mut app, KeyCode::Left); // wraps round to the third analysis
    assert_eq!(app.analyses.view, AnalysisView::Params);
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char('m'));
    assert!(render(&app, 120, 40).contains("PePR-M vs parameters 2/9: derma_pt (dermamnist)"));
    // [ from the first group wraps to the mean over all groups: the paper's Fig. 5d.
    press(&mut app, KeyCode::Char('['));
    press(&mut app, KeyCode::Char('['));
    press(&mut app, KeyCode::Char('e'));
    let screen = render(&app, 120, 40);
    assert!(screen.contains("PePR-E vs parameters 9/9: all groups (mean per architecture)"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn reload_marks_the_analyses_stale_and_asks_again() {
    let mut app = analyses_app();
    assert_eq!(press(&mut app, KeyCode::Char('R')), Some(Request::Load(SetBy::Group)));
    let data = app.data.clone().unwrap();
    app.on_loaded(Ok(data));
    let Some(Request::Analyze(job)) = app.analyses_request() else { panic!("a reload recomputes the analyses") };
    // An answer to an older request is dropped.
    app.analyses.on_result(job.generation - 1, Err("old".into()));
    assert!(app.analyses.computing);
    app.analyses.on_result(job.generation, Err("disk on fire".into()));
    assert!(render(&app, 80, 24).contains("The analyses failed: disk on fire"));
    // Leaving the screen does not compute anything.
    press(&mut app, KeyCode::Char('1'));
    assert_eq!(app.analyses_request(), None);
}
