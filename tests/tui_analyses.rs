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

use crate::common::paper as paper_data;

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

fn analysed(mut app: App) -> App {
    let Some(Request::Analyze(job)) = press(&mut app, KeyCode::Char('5')) else { panic!("5 asks for the analyses") };
    app.analyses.on_result(job.generation, job.run(pepr::results::rank::EnergyBasis::Gross));
    app
}

/// A scratch group and a pretrained group with long architecture names; each architecture was
/// trained for 1 and for 2 epochs, three seeds each.
fn epochs_records() -> Vec<pepr::results::record::RunRecord> {
    let mut records = pepr::results::synthetic::runs(2, 18, 3);
    for (i, r) in records.iter_mut().enumerate() {
        let k = i % 18;
        r.dataset = "d".into();
        r.group = if i < 18 { "g".into() } else { "g_pt".into() };
        r.arch = ["efficientnet_lite0_with_a_long_name", "resnet8", "vit_tiny_patch16_224"][k % 3].into();
        r.epochs = Some(if (k / 3) % 2 == 0 { 1 } else { 2 });
        r.seed = Some((k / 6) as u64);
        r.energy_kwh = Some(0.000123456 * (i as f64 + 1.0) * 97.0);
    }
    records
}

fn app_of(records: Vec<pepr::results::record::RunRecord>) -> App {
    let ranking = rank(&records, SetBy::Group).unwrap();
    let mut app = App::new("/home/user/.local/share/pepr/runs.jsonl");
    app.on_loaded(Data::new(records, ranking, vec![], SetBy::Group));
    app
}

#[test]
fn runs_with_other_epochs_are_not_averaged_and_each_row_says_its_run_count() {
    let app = analysed(app_of(epochs_records()));
    let pair = app.analyses.current_pair().unwrap();
    let rows: Vec<(String, (usize, usize))> = pair.rows.iter().map(|r| (r.name(), r.runs)).collect();
    assert_eq!(rows.len(), 6, "3 archs x 2 epoch counts: {rows:?}");
    assert!(rows.iter().all(|(_, n)| *n == (3, 3)), "{rows:?}");
    assert!(rows.iter().any(|(name, _)| name == "resnet8 ep1") && rows.iter().any(|(name, _)| name == "resnet8 ep2"));
    let text = render(&app, 120, 40);
    assert!(text.lines().any(|l| l.contains("resnet8") && l.contains(" ep2 ") && l.contains("3+3")), "{text}");
}

/// Every number in the paired table's rows is one of the values the table shows whole (or ends
/// in "…"): none is cut into another number.
fn assert_paired_numbers_whole(app: &App, text: &str) {
    let pair = app.analyses.current_pair().unwrap();
    let v = app.analyses.variant;
    let i = v.index();
    let signed = |x: f64| format!("{}{}", if x >= 0.0 { "+" } else { "" }, pepr::format::sig(x, 3));
    let mut whole = std::collections::HashSet::new();
    for r in &pair.rows {
        whole.extend([format!("{:.4}", r.p_scratch), format!("{:.4}", r.p_pretrained), format!("{:+.4}", r.dp())]);
        whole.extend(r.r_scratch[i].map(|x| pepr::format::sig(x, 4)));
        whole.extend(r.r_pretrained[i].map(|x| pepr::format::sig(x, 4)));
        whole.extend(r.dr(v).map(signed));
        whole.extend(r.r_ratio(v).map(|x| pepr::format::sig(x, 3)));
        whole.insert(format!("{}+{}", r.runs.0, r.runs.1));
    }
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| l.contains("P scr")).expect("the table's header");
    let mut checked = 0;
    for line in lines[header + 1..].iter().take_while(|l| !l.contains('└')) {
        for token in line.split(|c: char| c.is_whitespace() || c == '│' || c == '"') {
            let numeric = !token.is_empty()
                && token.chars().any(|c| c.is_ascii_digit())
                && token.chars().all(|c| c.is_ascii_digit() || "+-.".contains(c));
            if numeric {
                assert!(whole.contains(token), "{token:?} is not a whole value of its cell:\n{line}\n{text}");
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "the table shows numbers:\n{text}");
}

#[test]
fn paired_numbers_are_never_cut_80x24_and_120x40() {
    let app = analysed(app_of(epochs_records()));
    for (width, height) in [(80, 24), (120, 40)] {
        let text = render(&app, width, height);
        assert_paired_numbers_whole(&app, &text);
        if width == 80 {
            // A long name ends in an ellipsis; what sets its rows apart still shows.
            assert!(text.lines().any(|l| l.contains("efficientnet_…") && l.contains(" ep2 ")), "{text}");
        } else {
            assert!(text.lines().any(|l| l.contains("efficientnet_lite0_with_a_long_name") && l.contains(" ep1 ")));
        }
        insta::assert_snapshot!(format!("paired_long_names_{width}x{height}"), text);
    }
    // The paper's runs too, in every variant.
    let mut app = analyses_app();
    for key in ['e', 'c', 't', 'm'] {
        press(&mut app, KeyCode::Char(key));
        for (width, height) in [(80, 24), (120, 40)] {
            assert_paired_numbers_whole(&app, &render(&app, width, height));
        }
    }
}

#[test]
fn fraction_and_params_views_fit_80x24() {
    let mut app = analyses_app();
    press(&mut app, KeyCode::Right);
    let text = render(&app, 80, 24);
    // The levels table: each median whole, and how many runs each level's medians stand on.
    assert!(text.contains("runs") || text.contains("archs"), "{text}");
    insta::assert_snapshot!("fraction_80x24", text);
    press(&mut app, KeyCode::Right);
    let text = render(&app, 80, 24);
    // The summary wraps instead of losing the Spearman value at the edge.
    assert!(text.contains("Spearman"), "{text}");
    assert!(text.lines().any(|l| l.contains("log10 params) = ")), "{text}");
    insta::assert_snapshot!("params_80x24", text);
}

#[test]
fn the_analyses_follow_the_leaderboards_filter() {
    let mut app = analyses_app();
    let all = app.analyses.analyses().unwrap().runs;
    press(&mut app, KeyCode::Char('1'));
    press(&mut app, KeyCode::Char('/'));
    for c in "resnet".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    let Some(Request::Analyze(job)) = press(&mut app, KeyCode::Char('5')) else {
        panic!("a changed filter computes the analyses again")
    };
    assert_eq!(job.filter, "resnet");
    app.analyses.on_result(job.generation, job.run(pepr::results::rank::EnergyBasis::Gross));
    let analyses = app.analyses.analyses().unwrap();
    assert!(analyses.runs < all && analyses.runs > 0, "{} of {all}", analyses.runs);
    let pair = app.analyses.current_pair().unwrap();
    assert!(!pair.rows.is_empty() && pair.rows.iter().all(|r| r.arch.contains("resnet")));
    let text = render(&app, 120, 40);
    assert!(text.contains(&format!("filter \"resnet\" · {} runs", analyses.runs)), "{text}");
    // Esc on the leaderboard clears the filter: all runs again.
    press(&mut app, KeyCode::Char('1'));
    press(&mut app, KeyCode::Esc);
    let Some(Request::Analyze(job)) = press(&mut app, KeyCode::Char('5')) else { panic!("cleared: again") };
    assert_eq!(job.filter, "");
}

#[test]
fn p_saves_the_analysis_shown_as_svg_and_csv() {
    let mut app = analyses_app();
    let Some(Request::ExportAnalysis { figure, csv, stem }) = press(&mut app, KeyCode::Char('P')) else {
        panic!("P saves the analysis")
    };
    assert_eq!(stem, "pretrained-derma_pt-pepr-e");
    let pair = app.analyses.current_pair().unwrap();
    assert_eq!(csv.lines().count(), 1 + pair.rows.len(), "a header and a line per architecture");
    assert!(csv.lines().next().unwrap().contains("P_scratch"));
    let with_energy = pair.rows.iter().filter(|r| r.dr(Variant::Energy).is_some()).count();
    assert_eq!(figure.markers(), with_energy);
    assert!(render(&app, 80, 24).contains("saving pretrained-derma_pt-pepr-e.svg and .csv"));
    let dir = tempfile::tempdir().unwrap();
    let paths = pepr::app::analyses::write_export(dir.path(), &figure, &csv, &stem).unwrap();
    assert_eq!(std::fs::read_to_string(&paths[1]).unwrap(), csv);
    assert!(std::fs::read_to_string(&paths[0]).unwrap().contains("<svg"));
    app.on_analysis_exported(Ok(paths.clone()));
    let text = render(&app, 200, 24);
    assert!(text.contains(&format!("analysis saved: {}", paths[0].display())), "{text}");
    // The other two analyses, another variant.
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Char('t'));
    let Some(Request::ExportAnalysis { stem, csv, .. }) = press(&mut app, KeyCode::Char('P')) else { panic!() };
    assert_eq!(stem, "fraction-derma-pepr-t");
    assert!(csv.lines().count() > 1);
    press(&mut app, KeyCode::Right);
    let Some(Request::ExportAnalysis { stem, .. }) = press(&mut app, KeyCode::Char('P')) else { panic!() };
    assert!(stem.starts_with("params-"), "{stem}");
}
