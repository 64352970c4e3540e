//! Text that does not fit, and text being typed, in the TUI (issue 22 item 2, issue 18 item 9):
//! tables cut cells with "…" rather than cutting a number into another number, a download error
//! is shown whole at 80 columns, and Ctrl-U / Ctrl-W / Ctrl-H edit every text input instead of
//! typing letters. Drawn into ratatui's TestBackend and driven by key events.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pepr::app::datasets::DownloadState;
use pepr::app::{App, Data, Request};
use pepr::results::rank::{SetBy, rank};
use pepr::results::synthetic;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app() -> App {
    let records = synthetic::runs(2, 14, 42);
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

fn press(app: &mut App, code: KeyCode) -> Option<Request> {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(app: &mut App, c: char) -> Option<Request> {
    app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

#[test]
fn ctrl_u_w_h_edit_the_filter_and_the_import_path_instead_of_typing_letters() {
    let mut app = app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "model set-01");
    ctrl(&mut app, 'h');
    assert_eq!(app.runs.filter, "model set-0");
    ctrl(&mut app, 'w');
    assert_eq!(app.runs.filter, "model ");
    ctrl(&mut app, 'u');
    assert_eq!(app.runs.filter, "");
    assert!(app.runs.editing_filter, "still typing");
    type_text(&mut app, "model00");
    assert_eq!(app.runs.filter, "model00");
    press(&mut app, KeyCode::Esc);
    // The import prompt (I) edits the same way.
    press(&mut app, KeyCode::Char('I'));
    type_text(&mut app, "/tmp/some dir/runs.csv");
    ctrl(&mut app, 'w');
    assert_eq!(app.import_prompt.as_deref(), Some("/tmp/some "));
    ctrl(&mut app, 'u');
    assert_eq!(app.import_prompt.as_deref(), Some(""));
    // The architectures' filter too.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "resnet");
    ctrl(&mut app, 'u');
    assert_eq!(app.archs.filter, "");
}

#[test]
fn a_download_error_is_shown_whole_at_80_columns() {
    let mut app = app();
    press(&mut app, KeyCode::Char('3'));
    app.datasets.on_list(Vec::new());
    let error = "https://zenodo.org/records/10519652/files/dermamnist.npz: connection refused after 3 tries \
                 (is this machine offline? set HTTPS_PROXY, or copy the file into ~/.medmnist/ by hand)";
    app.datasets.download =
        Some(DownloadState { name: "dermamnist".into(), done: 0, total: None, outcome: Some(Err(error.into())) });
    let text = screen(&app, 80, 24);
    let shown: String =
        text.lines().map(|l| l.trim_matches('"').trim_matches('│').trim()).collect::<Vec<_>>().join(" ");
    assert!(shown.contains("copy the file into ~/.medmnist/ by hand)"), "the end of the error shows:\n{text}");
    assert!(text.contains("download of dermamnist failed"), "{text}");
}

/// The catalog once (it is computed, not read).
fn catalog() -> Vec<pepr::catalog::listing::ArchRow> {
    static ROWS: std::sync::OnceLock<Vec<pepr::catalog::listing::ArchRow>> = std::sync::OnceLock::new();
    ROWS.get_or_init(|| pepr::catalog::listing::rows(None, 1000)).clone()
}

#[test]
fn the_architectures_table_keeps_its_figures_whole_at_80_and_120_columns() {
    let mut app = app();
    press(&mut app, KeyCode::Char('2'));
    app.archs.on_rows(None, catalog());
    for (width, height) in [(80u16, 24u16), (120, 40)] {
        let text = screen(&app, width, height);
        let lines: Vec<&str> = text.lines().collect();
        // Title, top border, header; then one row per architecture in display order.
        let order = app.archs.order();
        for (k, line) in lines[3..lines.len() - 2].iter().enumerate() {
            let row = &app.archs.rows[order[k]];
            let Ok(cost) = &row.cost else { continue };
            let tokens: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == '│' || c == '"').collect();
            for value in [pepr::format::human_count(cost.params), pepr::format::human_count(cost.macs)] {
                assert!(tokens.contains(&value.as_str()), "{width} columns: {value} not whole in {line:?}\n{text}");
            }
        }
        insta::assert_snapshot!(format!("architectures_{width}x{height}"), text);
    }
}

/// The chart's x-axis labels (the row above the frame's bottom border), as words.
fn x_labels(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len() - 3]
        .split(|c: char| c.is_whitespace() || c == '│' || c == '"')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn chart_axis_labels_differ_for_a_narrow_range_and_for_all_zero() {
    for (name, energy) in [("narrow", [0.12345, 0.123451, 0.123452, 0.123453]), ("zero", [0.0; 4])] {
        let mut records = synthetic::runs(1, 4, 5);
        for (r, e) in records.iter_mut().zip(energy) {
            r.energy_kwh = Some(e);
        }
        let ranking = rank(&records, SetBy::Group).unwrap();
        let mut app = App::new("/home/user/.local/share/pepr/runs.jsonl");
        app.on_loaded(Data::new(records, ranking, vec![], SetBy::Group));
        press(&mut app, KeyCode::Tab);
        for (width, height) in [(80, 24), (120, 40)] {
            let text = screen(&app, width, height);
            let labels = x_labels(&text);
            assert_eq!(labels.len(), 3, "{name}: {labels:?}\n{text}");
            assert!(labels[0] != labels[1] && labels[1] != labels[2], "{name}: the labels repeat: {labels:?}\n{text}");
        }
    }
}
