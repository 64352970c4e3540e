//! The pictures in the README, drawn by pepr itself: they must equal what pepr draws now.
//! A stale picture fails here; `PEPR_UPDATE_DOCS=1 cargo test --release --test it docs_images::` writes
//! them anew (then review the diff and commit).

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pepr::app::{App, Data};
use pepr::results::rank::{SetBy, rank};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn docs_image(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/img").join(name)
}

/// Compares `drawn` with the committed file, or writes it when asked to.
fn check_or_update(path: &Path, drawn: &str) {
    if std::env::var_os("PEPR_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, drawn).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == drawn,
        "{} is stale (pepr now draws it differently): run `PEPR_UPDATE_DOCS=1 cargo test --release --test it docs_images::`, \
         review and commit it",
        path.display()
    );
}

/// The leaderboard of the paper's derma_pt group, as a newcomer sees it after `pepr import --paper`.
fn paper_leaderboard() -> App {
    let records = pepr::results::paper::records().unwrap();
    let ranking = rank(&records, SetBy::Group).unwrap();
    let mut app = App::new("~/.local/share/pepr/runs.jsonl");
    app.on_loaded(Data::new(records, ranking, vec![], SetBy::Group));
    while app.current_set().map(|s| s.name.as_str()) != Some("derma_pt") {
        app.handle_key(KeyEvent::new(KeyCode::Char(']'), KeyModifiers::NONE));
    }
    app
}

#[test]
fn the_readme_leaderboard_picture_is_what_pepr_draws() {
    let app = paper_leaderboard();
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    terminal.draw(|frame| pepr::ui::draw(frame, &app)).unwrap();
    let buffer = terminal.backend().buffer();
    let text = terminal.backend().to_string();
    assert!(text.contains("derma_pt") && text.contains("PePR-E"), "{text}");
    let svg = pepr::ui::svg::buffer_to_svg(buffer);
    check_or_update(&docs_image("leaderboard.svg"), &svg);
}

#[test]
fn the_readme_pareto_figure_is_what_pepr_plot_draws() {
    use pepr::plot::{Choice, Inputs, Kind, build, render};
    let records = pepr::results::paper::records().unwrap();
    let ranking = rank(&records, SetBy::Group).unwrap();
    let inputs = Inputs { records: &records, ranking: &ranking, analyses: None };
    let figure = build(Kind::Pareto, &inputs, &Choice { group: Some("derma_pt".into()), ..Choice::default() }).unwrap();
    assert_eq!(figure.markers(), 131);
    let svg = render::to_svg(&figure, render::SIZE).unwrap();
    check_or_update(&docs_image("pareto-derma_pt.svg"), &svg);
}
