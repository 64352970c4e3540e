//! Issue 19 in the explorer, on ratatui's TestBackend driven by key events: estimates of the queued
//! runs and of the grid form's cells (made by the estimator's own function on a home whose
//! calibration is a fixed fake machine, so the figures are stable), the leaderboard's budget filter
//! and the carbon what-if (ranked by the loader's own function; the store is never written).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pepr::app::estimates::{EstimateReply, Purpose, compute};
use pepr::app::{App, Data, Request, Screen};
use pepr::estimate::calibration::{Calibration, VERSION, cache_path, key_for, obtain};
use pepr::home::Home;
use pepr::meter::backend::Backend;
use pepr::results::rank::{EnergyBasis, SetBy, rank};
use pepr::results::store::RunStore;
use pepr::results::synthetic;
use pepr::results::workload::Kind;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| pepr::ui::draw(frame, app)).unwrap();
    terminal
}

fn screen(app: &App, width: u16, height: u16) -> String {
    render(app, width, height).backend().to_string()
}

fn press(app: &mut App, code: KeyCode) -> Option<Request> {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// A home whose calibration is a fixed fake machine (nothing is measured): 1 ns per unit of work
/// of every kind, 1 ms per step, 30 W seen, half the CPUs busy while calibrating.
fn calibrated_home(dir: &std::path::Path) -> Home {
    let home = Home::at(dir.join("home"));
    let key = key_for(Backend::Cpu);
    let fake = Calibration {
        version: VERSION,
        key: key.clone(),
        measured_at: "2026-01-01T00:00:00Z".into(),
        step_s: 1e-3,
        param_s: 0.0,
        node_s: 0.0,
        loop_s: 0.0,
        unit_s: Kind::ALL.iter().map(|k| (k.name().to_string(), 1e-9)).collect(),
        cpu_share: Some(0.5),
        power_w: Some(30.0),
        power_label: Some("estimated (TDP x load)".into()),
        seconds: 1.0,
    };
    obtain(&cache_path(home.root()), &key, true, || fake);
    home
}

/// An app on the Train screen with `archs` x synthetic selected and queued (`a`), a 50 W TDP.
fn train_app(archs: &[&str], data_dir: &std::path::Path) -> App {
    let records = vec![];
    let ranking = rank(&records, SetBy::Group).unwrap();
    let mut app = App::new("store");
    app.on_loaded(Data::new(records, ranking, vec![], SetBy::Group));
    app.train.settings.meter.cpu_tdp_w = Some(50.0);
    press(&mut app, KeyCode::Char('2'));
    app.archs.on_rows(None, pepr::catalog::listing::rows(None, 1000));
    for arch in archs {
        press(&mut app, KeyCode::Char('/'));
        type_text(&mut app, arch);
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::Char(' '));
        press(&mut app, KeyCode::Esc);
    }
    press(&mut app, KeyCode::Char('3'));
    let entries: Vec<_> = pepr::data::registry::list(data_dir)
        .into_iter()
        .filter(|e| !matches!(e.kind, pepr::data::registry::Kind::FashionMnist(_)))
        .collect();
    app.datasets.on_list(entries);
    assert_eq!(app.datasets.current().unwrap().info.name, "synthetic");
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('a'));
    assert_eq!(app.screen, Screen::Train);
    app
}

/// What the event loop does after a batch: asks the estimator, which answers (here at once).
fn estimate_now(app: &mut App, home: &Home, data_dir: &std::path::Path) -> usize {
    let requests = app.estimate_requests();
    let n = requests.len();
    for request in requests {
        let Request::Estimate(job) = request else { panic!("{request:?}") };
        app.on_estimated(EstimateReply::Done(compute(home, data_dir, &job)));
    }
    n
}

#[test]
fn the_queue_shows_each_runs_estimate_and_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let home = calibrated_home(dir.path());
    let data = dir.path().join("data");
    let mut app = train_app(&["pepr_lenet5", "pepr_resnet8"], &data);
    assert_eq!(app.train.queued(), 2);

    // Asked, not yet answered: the queue says it is estimating (the UI never waits).
    let asked = app.estimate_requests();
    let [Request::Estimate(job)] = asked.as_slice() else { panic!("{asked:?}") };
    assert_eq!((job.purpose, job.runs.len()), (Purpose::Queue, 2));
    let text = screen(&app, 80, 24);
    assert!(text.contains("estimating…") && text.contains("estimating 2 waiting runs"), "{text}");
    app.on_estimated(EstimateReply::Calibrating { purpose: Purpose::Queue, generation: job.generation });
    assert!(screen(&app, 80, 24).contains("calibrating this machine first"));

    app.on_estimated(EstimateReply::Done(compute(&home, &data, job)));
    let text = screen(&app, 80, 24);
    assert!(text.contains("est. time") && text.contains("est. total, 2 runs: ~"), "{text}");
    assert!(text.contains("pepr_lenet5, estimated (time ±100%): ~"), "{text}");
    insta::assert_snapshot!("train_queue_estimates_80x24", text);
    let wide = screen(&app, 120, 40);
    assert!(wide.contains("est. energy") && wide.contains("est. CO2") && wide.contains("CO2-eq"), "{wide}");
    assert!(wide.contains("time from the calibration alone"), "what the estimate rests on: {wide}");
    insta::assert_snapshot!("train_queue_estimates_120x40", wide);

    // The total is the sum of the two runs' estimates.
    let plan = &app.estimates.queue;
    let sum: f64 = app.train.queue.iter().map(|e| plan.runs[&e.id].as_ref().unwrap().train_time_s.estimate).sum();
    assert!((plan.total.as_ref().unwrap().train_time_s.estimate - sum).abs() < 1e-9);

    // More epochs: asked again, and the estimate grows with them.
    let before = plan.total.as_ref().unwrap().train_time_s.estimate;
    let epochs = app.train.settings.epochs;
    press(&mut app, KeyCode::Char('+'));
    assert_eq!(app.train.settings.epochs, epochs + 1);
    assert_eq!(estimate_now(&mut app, &home, &data), 1);
    let after = app.estimates.queue.total.as_ref().unwrap().train_time_s.estimate;
    assert!((after / before - (epochs + 1) as f64 / epochs as f64).abs() < 1e-9, "{before} -> {after}");
    // Removing a run asks again; the total is the one left.
    press(&mut app, KeyCode::Char('x'));
    assert_eq!(estimate_now(&mut app, &home, &data), 1);
    assert_eq!(app.estimates.queue.total.as_ref().unwrap().runs, 1);
    assert_eq!(estimate_now(&mut app, &home, &data), 0, "nothing changed: nothing asked");
}

#[test]
fn the_grid_form_shows_the_estimated_total_of_its_cells() {
    let dir = tempfile::tempdir().unwrap();
    let home = calibrated_home(dir.path());
    let data = dir.path().join("data");
    let mut app = train_app(&["pepr_lenet5", "pepr_resnet8"], &data);
    press(&mut app, KeyCode::Char('E'));
    assert!(app.grid_form.open);
    // The queue's two runs and the grid's 2 archs x 2 fractions x 3 seeds = 12 cells.
    assert_eq!(estimate_now(&mut app, &home, &data), 2);
    let grid = &app.estimates.grid;
    assert_eq!(grid.total.as_ref().unwrap().runs, 12);
    let text = screen(&app, 80, 24);
    assert!(text.contains("for the 12 cells to queue"), "{text}");
    insta::assert_snapshot!("grid_form_estimate_80x24", text);
    insta::assert_snapshot!("grid_form_estimate_120x40", screen(&app, 120, 40));
    // Fewer seeds: fewer cells, asked again.
    use KeyCode::{Backspace, Down, Enter};
    for key in [Down, Down, Down, Enter, Backspace, Backspace, Enter] {
        press(&mut app, key);
    }
    assert_eq!(app.grid_form.seeds, "0,1");
    assert_eq!(estimate_now(&mut app, &home, &data), 1);
    assert_eq!(app.estimates.grid.total.as_ref().unwrap().runs, 8);
}

fn sample_app() -> App {
    let records = synthetic::runs(3, 14, 42);
    let ranking = rank(&records, SetBy::Group).unwrap();
    let mut app = App::new("store");
    app.on_loaded(Data::new(records, ranking, vec![], SetBy::Group));
    app
}

#[test]
fn the_budget_filter_shows_the_runs_that_fit_and_says_how_many() {
    let mut app = sample_app();
    let all = app.rows().len();
    assert_eq!(press(&mut app, KeyCode::Char('B')), None);
    type_text(&mut app, "energy=0.06 p=0.6");
    assert!(screen(&app, 80, 24).contains("budget: energy=0.06 p=0.6"));
    press(&mut app, KeyCode::Enter);
    let data = app.data.as_ref().unwrap();
    let fits: Vec<usize> = app.rows().to_vec();
    assert!(!fits.is_empty() && fits.len() < all, "{} of {all}", fits.len());
    for &row in &fits {
        let r = &data.records[data.ranking.runs[row].index];
        assert!(r.energy_kwh.unwrap() <= 0.06 && r.performance >= 0.6);
    }
    // Independently: every run of the set within the budget is shown.
    let set = &app.current_set().unwrap().name;
    let expected = data
        .records
        .iter()
        .filter(|r| &r.group == set && r.energy_kwh.unwrap() <= 0.06 && r.performance >= 0.6)
        .count();
    assert_eq!(fits.len(), expected);
    let text = screen(&app, 80, 24);
    let line = format!("BUDGET energy <= 0.06 kWh, P >= 0.6: {expected} of {all} runs fit");
    assert!(text.contains(&line), "{text}");
    insta::assert_snapshot!("leaderboard_budget_80x24", text);
    insta::assert_snapshot!("leaderboard_budget_120x40", screen(&app, 120, 40));

    // A wrong budget keeps the prompt open and says what is wrong; Esc keeps the budget as it was.
    press(&mut app, KeyCode::Char('B'));
    type_text(&mut app, " watts=3");
    press(&mut app, KeyCode::Enter);
    assert!(app.runs.scenario.prompt.is_some());
    assert!(app.message.as_deref().unwrap().contains("\"watts\" is not a budget"), "{:?}", app.message);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.rows().len(), expected);
    // Emptied: every run again.
    press(&mut app, KeyCode::Char('B'));
    for _ in 0..40 {
        press(&mut app, KeyCode::Backspace);
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.rows().len(), all);
    assert!(!screen(&app, 80, 24).contains("BUDGET"));
}

#[test]
fn the_carbon_what_if_is_bannered_and_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = RunStore::new(dir.path().join("runs.jsonl"));
    let records = synthetic::runs(3, 14, 42);
    store.append_new(&records).unwrap();
    let bytes = std::fs::read(store.path()).unwrap();
    let mut app = App::new("store");
    app.on_loaded(pepr::app::worker::load(&store, SetBy::Group));
    let stored_co2: f64 =
        app.rows().iter().map(|&r| records[app.data.as_ref().unwrap().ranking.runs[r].index].co2_g.unwrap()).sum();

    // w: the loader ranks again under the first region (Norway), as the event loop would ask it.
    let Some(Request::LoadWhatIf(set_by, what_if)) = press(&mut app, KeyCode::Char('w')) else { panic!() };
    assert!(screen(&app, 80, 24).contains("re-scoring CO2 and PePR-C as if trained in NO"));
    let (_, region) = what_if.clone().unwrap();
    assert_eq!(region, 0);
    app.on_loaded(pepr::app::worker::load_what_if(&store, set_by, EnergyBasis::Gross, what_if));
    let norway = pepr::carbon::country("NO").unwrap().g_per_kwh;
    let data = app.data.as_ref().unwrap();
    for r in &data.records {
        assert!((r.co2_g.unwrap() - r.energy_kwh.unwrap() * norway).abs() < 1e-9, "energy x NO's intensity x PUE 1");
    }
    let totals = app.what_if_totals().unwrap();
    assert!((totals.stored_co2_g - stored_co2).abs() < 1e-9);
    let text = screen(&app, 80, 24);
    assert!(text.contains("WHAT-IF (not measured, not stored)"), "{text}");
    insta::assert_snapshot!("leaderboard_what_if_80x24", text);
    // PePR-C under one intensity orders as PePR-E, and says so; the totals stored vs what-if show.
    press(&mut app, KeyCode::Char('c'));
    let wide = screen(&app, 120, 40);
    assert!(wide.contains("what-if CO2 of these 14 runs") && wide.contains("the run store is unchanged"), "{wide}");
    insta::assert_snapshot!("leaderboard_what_if_pepr_c_120x40", wide);

    // The next region, then off (W): the stored figures again.
    let Some(Request::LoadWhatIf(_, next)) = press(&mut app, KeyCode::Char('w')) else { panic!() };
    assert_eq!(next.as_ref().unwrap().1, 1);
    let Some(Request::LoadWhatIf(_, None)) = press(&mut app, KeyCode::Char('W')) else { panic!() };
    app.on_loaded(pepr::app::worker::load_what_if(&store, SetBy::Group, EnergyBasis::Gross, None));
    assert!(app.what_if().is_none() && !screen(&app, 80, 24).contains("WHAT-IF"));
    assert_eq!(std::fs::read(store.path()).unwrap(), bytes, "the run store is byte-identical");
}
