//! The explorer drawn into ratatui's TestBackend and driven by key events.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pepr::app::datasets::DataRequest;
use pepr::app::train::TrainRequest;
use pepr::app::{App, Data, Request, Screen, SortColumn, View};
use pepr::results::rank::{SetBy, Variant, rank};
use pepr::results::synthetic;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app_with(records: Vec<pepr::results::record::RunRecord>) -> App {
    let ranking = rank(&records, SetBy::Group).unwrap();
    let mut app = App::new("/home/user/.local/share/pepr/runs.jsonl");
    app.on_loaded(Data::new(records, ranking, vec![], SetBy::Group));
    app
}

fn sample_app() -> App {
    app_with(synthetic::runs(3, 14, 42))
}

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

#[test]
fn leaderboard_80x24() {
    insta::assert_snapshot!(render(&sample_app(), 80, 24).backend());
}

#[test]
fn leaderboard_with_details_120x40() {
    let mut app = sample_app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!(render(&app, 120, 40).backend());
}

#[test]
fn details_full_screen_80x24() {
    let mut app = sample_app();
    press(&mut app, KeyCode::Char('d'));
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn chart_120x40() {
    let mut app = sample_app();
    press(&mut app, KeyCode::Tab);
    insta::assert_snapshot!(render(&app, 120, 40).backend());
}

#[test]
fn chart_80x24() {
    let mut app = sample_app();
    press(&mut app, KeyCode::Tab);
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn help_80x24() {
    let mut app = sample_app();
    press(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn empty_store_80x24() {
    insta::assert_snapshot!(render(&app_with(vec![]), 80, 24).backend());
}

#[test]
fn loading_and_error_screens() {
    let mut app = App::new("store");
    assert!(screen(&app, 80, 24).contains("Loading runs"));
    app.on_loaded(Err("runs.jsonl: permission denied".into()));
    let text = screen(&app, 80, 24);
    assert!(text.contains("Could not load the run store") && text.contains("permission denied"), "{text}");
    assert_eq!(press(&mut app, KeyCode::Char('R')), Some(Request::Load(SetBy::Group)));
}

#[test]
fn tiny_and_resized_terminals_do_not_panic() {
    let mut app = sample_app();
    for (w, h) in [(1, 1), (10, 3), (40, 10), (80, 24), (200, 60), (80, 24)] {
        render(&app, w, h);
        press(&mut app, KeyCode::Enter);
        render(&app, w, h);
        press(&mut app, KeyCode::Tab);
        render(&app, w, h);
    }
}

/// Visible arch names in table order.
fn archs(app: &App) -> Vec<String> {
    let data = app.data.as_ref().unwrap();
    app.rows().iter().map(|&r| data.records[data.ranking.runs[r].index].arch.clone()).collect()
}

#[test]
fn key_driven_scenario() {
    let mut app = sample_app();
    assert_eq!(app.current_set().unwrap().name, "set-00");
    assert_eq!(app.rows().len(), 14);
    let data = app.data.clone().unwrap();
    let score = |app: &App, i: usize| data.ranking.runs[app.rows()[i]].score[app.runs.variant.index()];

    // Opens ranked by PePR-E, best first.
    assert_eq!(app.runs.sort_column, SortColumn::Rank);
    assert!(score(&app, 0) >= score(&app, 1));
    assert!(screen(&app, 80, 24).contains("PePR-E = P/(1+E_n)"));

    // Sort: `s` moves to the arch column, ascending; `r` reverses it.
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.runs.sort_column, SortColumn::Arch);
    let ascending = archs(&app);
    assert!(ascending.windows(2).all(|w| w[0] <= w[1]), "{ascending:?}");
    press(&mut app, KeyCode::Char('r'));
    let descending = archs(&app);
    assert!(descending.windows(2).all(|w| w[0] >= w[1]));
    assert!(screen(&app, 80, 24).contains("arch↓"));
    // `S` steps back to rank.
    press(&mut app, KeyCode::Char('S'));
    assert_eq!(app.runs.sort_column, SortColumn::Rank);

    // Filter: `/` then text narrows the rows; Esc clears it.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "model00");
    assert!(app.runs.editing_filter);
    assert!(screen(&app, 80, 24).contains("filter: model00"));
    press(&mut app, KeyCode::Enter);
    assert!(!app.runs.editing_filter);
    assert!(!archs(&app).is_empty() && archs(&app).iter().all(|a| a.contains("model00")), "{:?}", archs(&app));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.rows().len(), 14);

    // Variant: `m` switches to PePR-M; runs without memory have no score and sort last.
    press(&mut app, KeyCode::Char('m'));
    assert_eq!(app.runs.variant, Variant::Memory);
    let text = screen(&app, 80, 24);
    assert!(text.contains("PePR-M = P/(1+M_n)") && text.contains("mem GB"), "{text}");
    let last = *app.rows().last().unwrap();
    assert_eq!(data.ranking.runs[last].score[Variant::Memory.index()], None);
    assert!(text.contains('—'));
    press(&mut app, KeyCode::Char('v'));
    assert_eq!(app.runs.variant, Variant::Energy);

    // Set: `]` goes to the next comparison set, `[` back.
    press(&mut app, KeyCode::Char(']'));
    assert_eq!(app.current_set().unwrap().name, "set-01");
    // At 80 columns the tab names come first; the set's position shows from 94 columns.
    assert!(screen(&app, 80, 24).contains("│ set-01 (14)"));
    assert!(screen(&app, 100, 24).contains("group 2/3: set-01 (14 runs)"));
    press(&mut app, KeyCode::Char('['));
    press(&mut app, KeyCode::Char('['));
    assert_eq!(app.current_set().unwrap().name, "set-02");

    // Selection moves and clamps.
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(app.runs.cursor.selected(), 13);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.runs.cursor.selected(), 13);
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.runs.cursor.selected(), 0);

    // Chart view.
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.runs.view, View::Chart);
    let text = screen(&app, 120, 40);
    assert!(text.contains("P vs energy (kWh)") && text.contains("Pareto front") && text.contains("PePR 0."), "{text}");
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.runs.view, View::Table);

    // Sets by dataset need a re-rank: the app asks the event loop for it.
    assert_eq!(press(&mut app, KeyCode::Char('b')), Some(Request::Load(SetBy::Dataset)));

    // Help, then any key closes it; `q` quits.
    press(&mut app, KeyCode::Char('?'));
    assert!(screen(&app, 80, 24).contains("reverse the sort"));
    press(&mut app, KeyCode::Char('j'));
    assert!(!app.show_help);
    assert!(!app.quit);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn ctrl_c_quits_even_while_typing_a_filter() {
    let mut app = sample_app();
    press(&mut app, KeyCode::Char('/'));
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn selection_stays_visible_when_scrolling_a_long_set() {
    let mut app = app_with(synthetic::runs(1, 500, 3));
    for _ in 0..100 {
        press(&mut app, KeyCode::Down);
    }
    let terminal = render(&app, 80, 24);
    let data = app.data.as_ref().unwrap();
    let selected = &data.records[data.ranking.runs[app.rows()[100]].index];
    let rank = data.ranking.runs[app.rows()[100]].rank[0].unwrap().to_string();
    let text = terminal.backend().to_string();
    assert!(text.lines().any(|l| l.contains(&selected.arch) && l.contains(&format!("│{rank:<4}"))), "{text}");
}

fn archs_app() -> App {
    let mut app = sample_app();
    assert_eq!(press(&mut app, KeyCode::Char('2')), Some(Request::Catalog(None)));
    assert_eq!(app.screen, Screen::Architectures);
    app.archs.on_rows(None, pepr::catalog::listing::rows(None, 1000));
    app
}

#[test]
fn architectures_80x24() {
    insta::assert_snapshot!(render(&archs_app(), 80, 24).backend());
}

#[test]
fn architectures_120x40() {
    insta::assert_snapshot!(render(&archs_app(), 120, 40).backend());
}

#[test]
fn architectures_scenario() {
    let mut app = archs_app();
    let names =
        |app: &App| -> Vec<&'static str> { app.archs.order().iter().map(|&i| app.archs.rows[i].entry.name).collect() };
    let params = |app: &App| -> Vec<u64> {
        app.archs.order().iter().map(|&i| app.archs.rows[i].cost.as_ref().unwrap().params).collect()
    };
    // Opens sorted by parameters, smallest first; `r` reverses.
    let ascending = params(&app);
    assert!(ascending.windows(2).all(|w| w[0] <= w[1]), "{ascending:?}");
    press(&mut app, KeyCode::Char('r'));
    assert!(params(&app).windows(2).all(|w| w[0] >= w[1]));
    // `s` moves on to MACs, `S` back to params, then to kind and family.
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.archs.sort, pepr::app::archs::ArchColumn::Macs);
    assert!(screen(&app, 80, 24).contains("MACs↑"));

    // Filter, select two, select all shown, clear.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "resnet");
    press(&mut app, KeyCode::Enter);
    // The filter matches names and families (ResNeXt models are in the resnet family).
    let families: Vec<&str> = app.archs.order().iter().map(|&i| app.archs.rows[i].entry.family).collect();
    assert!(
        names(&app).iter().zip(&families).all(|(n, f)| n.contains("resnet") || *f == "resnet"),
        "{:?}",
        names(&app)
    );
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(app.archs.chosen.len(), 2);
    assert!(screen(&app, 80, 24).contains("2 selected"));
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(app.archs.chosen.len(), 1, "space toggles");
    press(&mut app, KeyCode::Char('a'));
    assert_eq!(app.archs.chosen.len(), names(&app).len());
    press(&mut app, KeyCode::Char('A'));
    assert!(app.archs.chosen.is_empty());
    press(&mut app, KeyCode::Esc);
    assert_eq!(names(&app).len(), pepr::catalog::entries().len(), "Esc clears the filter");

    // `i` asks for the catalog at the next input size; stale answers are ignored.
    assert_eq!(press(&mut app, KeyCode::Char('i')), Some(Request::Catalog(Some(224))));
    app.archs.on_rows(None, pepr::catalog::listing::rows(None, 1000));
    assert!(app.archs.loading);
    app.archs.on_rows(Some(224), pepr::catalog::listing::rows(Some((3, 224, 224)), 1000));
    assert!(!app.archs.loading);
    assert!(screen(&app, 80, 24).contains("architectures at 3x224x224"));

    // `1` goes back to the leaderboard, `q` quits from either screen.
    press(&mut app, KeyCode::Char('1'));
    assert_eq!(app.screen, Screen::Leaderboard);
    assert_eq!(press(&mut app, KeyCode::Char('2')), None, "the catalog is already there");
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

/// The Datasets screen with a deterministic list: what any machine has (no Fashion-MNIST).
fn datasets_app(data_dir: &std::path::Path) -> App {
    let mut app = sample_app();
    assert_eq!(press(&mut app, KeyCode::Char('3')), Some(Request::Data(DataRequest::List)));
    let entries: Vec<_> = pepr::data::registry::list(data_dir)
        .into_iter()
        .filter(|e| !matches!(e.kind, pepr::data::registry::Kind::FashionMnist(_)))
        .collect();
    app.datasets.on_list(entries);
    app
}

#[test]
fn datasets_80x24() {
    let dir = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(render(&datasets_app(dir.path()), 80, 24).backend());
}

#[test]
fn datasets_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = datasets_app(dir.path());
    assert_eq!(app.screen, Screen::Datasets);
    assert_eq!(app.datasets.current().unwrap().info.name, "synthetic");
    let text = screen(&app, 80, 24);
    assert!(text.lines().any(|l| l.matches("synthetic").count() == 2), "the synthetic set is marked as such: {text}");

    // Details of the synthetic set: the worker's preview arrives and sample images are drawn.
    assert_eq!(press(&mut app, KeyCode::Enter), Some(Request::Data(DataRequest::Preview("synthetic".into()))));
    assert!(screen(&app, 120, 40).contains("Loading sample images"));
    app.datasets.on_preview("synthetic", pepr::app::data_worker::preview("synthetic", dir.path()));
    let text = screen(&app, 120, 40);
    assert!(text.contains("SYNTHETIC: generated by pepr, not real data."), "{text}");
    assert!(text.contains('▀'), "sample images in half blocks: {text}");
    insta::assert_snapshot!("datasets_details_120x40", text);
    press(&mut app, KeyCode::Esc);
    assert!(!app.datasets.show_details);

    // Select the synthetic set for training.
    press(&mut app, KeyCode::Char(' '));
    assert!(app.datasets.chosen.contains("synthetic"));

    // A downloadable set: details say to download it first; D starts a download with a gauge.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "dermamnist_64");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.datasets.current().unwrap().info.name, "dermamnist_64");
    press(&mut app, KeyCode::Char(' '));
    assert!(!app.datasets.chosen.contains("dermamnist_64"), "only local sets can be selected");
    assert_eq!(press(&mut app, KeyCode::Char('D')), Some(Request::Data(DataRequest::Download("dermamnist_64".into()))));
    app.datasets.on_download_progress("dermamnist_64", 5_000_000, Some(10_000_000));
    assert!(screen(&app, 80, 24).contains("dermamnist_64: 5.0 / 10.0 MB"));
    assert_eq!(press(&mut app, KeyCode::Char('D')), None, "one download at a time");
    app.datasets.on_download_done("dermamnist_64", Err("checksum mismatch".into()));
    assert!(screen(&app, 80, 24).contains("checksum mismatch"));
}

/// Presses each key of `keys` in turn.
fn press_all(app: &mut App, keys: &[KeyCode]) {
    for &key in keys {
        press(app, key);
    }
}

/// An app on the Train screen with `archs` x synthetic queued, picked the way a user does.
fn train_app(archs: &[&str], data_dir: &std::path::Path) -> App {
    let mut app = app_with(vec![]);
    press(&mut app, KeyCode::Char('2'));
    app.archs.on_rows(None, pepr::catalog::listing::rows(None, 1000));
    for arch in archs {
        press(&mut app, KeyCode::Char('/'));
        type_text(&mut app, arch);
        press(&mut app, KeyCode::Enter);
        assert_eq!(app.archs.current().unwrap().entry.name, *arch);
        press_all(&mut app, &[KeyCode::Char(' '), KeyCode::Esc]);
    }
    let mut app = {
        press(&mut app, KeyCode::Char('3'));
        let entries: Vec<_> = pepr::data::registry::list(data_dir)
            .into_iter()
            .filter(|e| !matches!(e.kind, pepr::data::registry::Kind::FashionMnist(_)))
            .collect();
        app.datasets.on_list(entries);
        app
    };
    assert_eq!(app.datasets.current().unwrap().info.name, "synthetic");
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(press(&mut app, KeyCode::Char('4')), None);
    assert_eq!(app.screen, Screen::Train);
    assert!(app.train.queue.is_empty(), "4 only moves to the Train screen");
    assert_eq!(press(&mut app, KeyCode::Char('a')), None);
    app
}

fn queue_names(app: &App) -> Vec<String> {
    app.train.queue.iter().map(|e| format!("{} {}", e.arch, e.dataset)).collect()
}

#[test]
fn train_queue_80x24() {
    let dir = tempfile::tempdir().unwrap();
    let app = train_app(&["pepr_lenet5", "pepr_resnet8"], dir.path());
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

/// A finished record for fed messages.
fn finished_record(status: pepr::results::record::RunStatus) -> Box<pepr::results::record::RunRecord> {
    let mut record = synthetic::runs(1, 1, 0).remove(0);
    record.id = "run-20260101-120000-abcdef01".into();
    record.status = status;
    record.epoch_perf = vec![0.41];
    record.performance = 0.41;
    Box::new(record)
}

fn started(job: u64, epochs: usize) -> pepr::run::worker::RunMessage {
    use pepr::run::worker::{RunMessage, RunUpdate};
    RunMessage {
        job,
        update: RunUpdate::Started {
            run_id: "run-20260101-120000-abcdef01".into(),
            input: pepr::data::Input { channels: 1, height: 28, width: 28 },
            classes: 4,
            params: 61_196,
            epochs,
            steps_per_epoch: 63,
            train_samples: 2000,
            test_samples: 600,
        },
    }
}

fn progress(job: u64, epoch: usize, step: usize, loss: f64, elapsed_s: f64) -> pepr::run::worker::RunMessage {
    use pepr::run::worker::{RunMessage, RunUpdate};
    RunMessage { job, update: RunUpdate::Progress { epoch, step, steps: 63, loss, samples_per_sec: 850.0, elapsed_s } }
}

#[test]
fn train_running_80x24() {
    use pepr::run::worker::{RunMessage, RunUpdate};
    let dir = tempfile::tempdir().unwrap();
    let mut app = train_app(&["pepr_lenet5", "pepr_resnet8"], dir.path());
    press_all(&mut app, &[KeyCode::Char('-'); 7]);
    let Some(Request::Train(TrainRequest::Start(job))) = press(&mut app, KeyCode::Char('s')) else { panic!() };
    assert_eq!(job.config.epochs, 3);
    app.on_run_message(started(job.id, 3));
    for step in 1..=63 {
        app.on_run_message(progress(job.id, 1, step, 1.4 - step as f64 * 0.01, step as f64 * 0.1));
    }
    app.on_run_message(RunMessage {
        job: job.id,
        update: RunUpdate::EpochFinished { epoch: 1, train_loss: 1.1, test_metric: 0.412 },
    });
    for step in 1..=20 {
        app.on_run_message(progress(job.id, 2, step, 0.8 - step as f64 * 0.01, 6.3 + step as f64 * 0.1));
    }
    for k in 0..40 {
        let meters = pepr::meter::LiveMeters {
            elapsed_s: k as f64 * 0.5,
            power_w: Some(30.0 + (k % 10) as f64),
            power_label: Some("estimated (TDP x load)".into()),
            gauge_max_w: Some(100.0),
            energy_kwh: Some(k as f64 * 5e-6),
            co2_g: Some(k as f64 * 5e-6 * 480.0),
            samples_per_s: Some(850.0),
            flops_per_s: Some(2.1e9),
            share_of_peak: Some(0.0245),
            memory_gb: Some(0.12),
            memory_kind: "peak RSS".into(),
            prediction: Some(pepr::results::record::Prediction {
                after_epochs: 1,
                time_s: 19.0,
                energy_kwh: Some(3e-4),
                co2_g: Some(0.144),
            }),
            ..Default::default()
        };
        app.on_run_message(RunMessage { job: job.id, update: RunUpdate::Meters(Box::new(meters)) });
    }
    let text = screen(&app, 80, 24);
    assert!(text.contains("39.0 W estimated (TDP x load)") && text.contains("1.95e-4 kWh"), "{text}");
    assert!(text.contains("2.100 GFLOP/s (2.5% of peak)") && text.contains("850 samples/s"), "{text}");
    assert!(text.contains("0.12 GB peak RSS") && text.contains("predicted total 19 s"), "{text}");
    assert_eq!(app.train.live.as_ref().unwrap().power_history.len(), 20, "one point a second");
    assert!(text.contains("epoch 2/3 · step 20/63") && text.contains("ETA 11s"), "{text}");
    assert!(text.contains("850 images/s") && text.contains("0.412"), "{text}");
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn train_pause_stop_and_queue_order() {
    use pepr::results::record::RunStatus;
    use pepr::run::worker::{RunMessage, RunUpdate};
    let dir = tempfile::tempdir().unwrap();
    let mut app = train_app(&["pepr_lenet5", "pepr_resnet8"], dir.path());
    assert_eq!(press(&mut app, KeyCode::Char('p')), None, "nothing to pause yet");
    let Some(Request::Train(TrainRequest::Start(first))) = press(&mut app, KeyCode::Char('s')) else { panic!() };
    assert_eq!(first.config.arch, "pepr_lenet5");
    assert_eq!(press(&mut app, KeyCode::Char('s')), None, "one run at a time");
    // The running entry cannot be moved or removed.
    press_all(&mut app, &[KeyCode::Char('J'), KeyCode::Char('x')]);
    assert_eq!(app.train.queue.len(), 2);
    app.on_run_message(started(first.id, 10));
    app.on_run_message(progress(first.id, 1, 5, 1.3, 0.5));
    assert_eq!(press(&mut app, KeyCode::Char('p')), Some(Request::Train(TrainRequest::Pause)));
    app.on_run_message(RunMessage { job: first.id, update: RunUpdate::Paused(true) });
    let text = screen(&app, 80, 24);
    assert!(text.contains("PAUSED") && text.contains("paused 1/10"), "{text}");
    assert_eq!(press(&mut app, KeyCode::Char('p')), Some(Request::Train(TrainRequest::Resume)));
    app.on_run_message(RunMessage { job: first.id, update: RunUpdate::Paused(false) });
    // Esc never stops a run; X asks first, n keeps training, y stops.
    assert_eq!(press(&mut app, KeyCode::Esc), None);
    assert!(app.train.can_stop());
    assert_eq!(press(&mut app, KeyCode::Char('X')), None);
    assert!(screen(&app, 80, 24).contains("Stop the running training"));
    assert_eq!(press(&mut app, KeyCode::Char('n')), None);
    assert!(app.confirm.is_none() && app.train.can_stop());
    assert_eq!(press(&mut app, KeyCode::Char('X')), None);
    assert_eq!(press(&mut app, KeyCode::Char('y')), Some(Request::Train(TrainRequest::Stop)));
    assert!(screen(&app, 80, 24).contains("stopping"));
    // Stopped: stored as interrupted; the leaderboard reloads; the rest of the queue waits.
    let finished = RunUpdate::Finished {
        record: finished_record(RunStatus::Interrupted),
        message: Some("stopped in epoch 1 at step 6".into()),
        checkpoint: None,
    };
    let requests = app.on_run_message(RunMessage { job: first.id, update: finished });
    assert_eq!(requests, vec![Request::Load(SetBy::Group)]);
    let text = screen(&app, 80, 24);
    assert!(text.contains("interrupted 0.410") && text.contains("stopped in epoch 1"), "{text}");
    // `s` goes on with the next; a run that cannot start is marked and the queue ends.
    let Some(Request::Train(TrainRequest::Start(second))) = press(&mut app, KeyCode::Char('s')) else { panic!() };
    assert_eq!(second.config.arch, "pepr_resnet8");
    let requests = app.on_run_message(RunMessage { job: second.id, update: RunUpdate::Failed("disk full".into()) });
    assert!(requests.is_empty());
    assert!(!app.train.running && app.train.current.is_none());
    assert!(screen(&app, 80, 24).contains("could not run: disk full"));
    // `C` clears ended runs; `a` queues the selection again.
    press(&mut app, KeyCode::Char('C'));
    assert!(app.train.queue.is_empty());
    press(&mut app, KeyCode::Char('a'));
    assert_eq!(queue_names(&app), ["pepr_lenet5 synthetic", "pepr_resnet8 synthetic"]);
    press(&mut app, KeyCode::Char('a'));
    assert_eq!(app.train.queue.len(), 2, "a pair already waiting is not queued twice");
}

/// The whole path on a real run: select, queue, edit, start, train (the worker's body, run here
/// synchronously), store, reload, and the run is on the leaderboard.
#[test]
fn train_scenario_runs_and_the_run_appears_on_the_leaderboard() {
    use pepr::run::worker::{Control, run_job};
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("datasets");
    let mut app = train_app(&["pepr_lenet5", "pepr_resnet8"], &data_dir);
    assert_eq!(queue_names(&app), ["pepr_lenet5 synthetic", "pepr_resnet8 synthetic"]);

    // Edit the queue: J moves down, K up, x removes.
    press(&mut app, KeyCode::Char('J'));
    assert_eq!(queue_names(&app), ["pepr_resnet8 synthetic", "pepr_lenet5 synthetic"]);
    assert_eq!(app.train.cursor.selected(), 1);
    press(&mut app, KeyCode::Char('K'));
    assert_eq!(queue_names(&app), ["pepr_lenet5 synthetic", "pepr_resnet8 synthetic"]);
    press_all(&mut app, &[KeyCode::Down, KeyCode::Char('x')]);
    assert_eq!(queue_names(&app), ["pepr_lenet5 synthetic"]);

    // Settings: 1 epoch, a tenth of the data, seed 2, batch 16.
    press_all(&mut app, &[KeyCode::Char('-'); 12]);
    assert_eq!(app.train.settings.epochs, 1, "epochs stop at 1");
    press_all(&mut app, &[KeyCode::Tab, KeyCode::Char('-')]);
    press_all(&mut app, &[KeyCode::Tab, KeyCode::Tab, KeyCode::Char('-'), KeyCode::Char('-'), KeyCode::Char('-')]);
    press_all(&mut app, &[KeyCode::Char('-'), KeyCode::Tab, KeyCode::Char('+'), KeyCode::Char('+')]);
    let text = screen(&app, 80, 24);
    assert!(text.contains("fraction         0.1"), "{text}");

    let Some(Request::Train(TrainRequest::Start(job))) = press(&mut app, KeyCode::Char('s')) else { panic!() };
    assert_eq!((job.config.epochs, job.config.batch_size, job.config.fraction, job.config.seed), (1, 16, 0.1, 2));
    assert!(screen(&app, 80, 24).contains("loading data"));

    let mut messages = Vec::new();
    run_job(&job, &pepr::home::Home::at(home.path()), &data_dir, &Control::default(), &mut |m| messages.push(m));
    let mut requests = Vec::new();
    for message in messages {
        requests.extend(app.on_run_message(message));
    }
    assert_eq!(requests, vec![Request::Load(SetBy::Group)], "stored, nothing else queued");
    let text = screen(&app, 80, 24);
    assert!(text.contains("completed") && text.contains("queue done"), "{text}");
    assert!(text.contains("completed after 1 of 1 epoch"), "{text}");

    // The event loop reloads the store; the run is on the leaderboard.
    let store = pepr::results::store::RunStore::new(home.path().join("runs.jsonl"));
    app.on_loaded(pepr::app::worker::load(&store, SetBy::Group));
    press(&mut app, KeyCode::Char('1'));
    assert_eq!(app.current_set().unwrap().name, "synthetic_small");
    assert_eq!(archs(&app), ["pepr_lenet5"]);
    assert!(screen(&app, 80, 24).contains("pepr_lenet5"));
    // Its details say how it was metered: memory's kind, FLOP/s against the peak, the prediction.
    press(&mut app, KeyCode::Enter);
    let text = screen(&app, 120, 40);
    assert!(text.contains("peak RSS") && text.contains("FLOP/s est.") && text.contains("% of peak)"), "{text}");
    assert!(text.contains("predicted") && text.contains("after epoch 1:"), "{text}");
}

/// Synthetic runs share one intensity (475 g/kWh, no PUE): PePR-C only repeats PePR-E, and says so.
#[test]
fn pepr_c_with_one_intensity_says_it_repeats_pepr_e_80x24() {
    let mut app = sample_app();
    assert!(!screen(&app, 80, 24).contains("exactly as PePR-E"), "not on PePR-E");
    press(&mut app, KeyCode::Char('c'));
    assert!(app.co2_mirrors_energy());
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn pepr_c_with_different_intensities_is_shown_as_its_own_ordering() {
    let mut records = synthetic::runs(1, 14, 42);
    records[3].carbon_intensity_g_per_kwh = Some(143.3);
    records[3].co2_g = records[3].energy_kwh.map(|e| e * 143.3);
    let mut app = app_with(records);
    press(&mut app, KeyCode::Char('c'));
    assert!(!app.co2_mirrors_energy());
    let text = screen(&app, 80, 24);
    assert!(text.contains("PePR-C = P/(1+C_n)") && !text.contains("exactly as PePR-E"), "{text}");
}

#[test]
fn a_settings_warning_shows_in_the_status_line() {
    let mut app = sample_app();
    app.settings_warning = Some("settings.json: field `pue`: bad; using the default settings".into());
    let text = screen(&app, 120, 30);
    assert!(text.contains("field `pue`"), "{text}");
}

#[test]
fn grid_form_shows_the_cells_and_queues_the_missing_ones_80x24() {
    use KeyCode::{Backspace, Down, Enter};
    let dir = tempfile::tempdir().unwrap();
    let mut app = train_app(&["pepr_lenet5", "pepr_resnet8"], dir.path());
    press_all(&mut app, &[KeyCode::Char('x'), KeyCode::Char('x')]); // the pairs `a` queued
    assert!(app.train.queue.is_empty());
    // One cell of the grid is already stored as completed.
    let mut done = synthetic::runs(1, 1, 0);
    done[0].grid_cell = Some("synthetic/pepr_resnet8/scratch/f0.1/s1".into());
    done[0].group = "synthetic_small".into();
    let ranking = rank(&done, SetBy::Group).unwrap();
    app.on_loaded(Data::new(done, ranking, vec![], SetBy::Group));

    press(&mut app, KeyCode::Char('E'));
    assert!(app.grid_form.open);
    press_all(&mut app, &[Down, Down, Down, Enter, Backspace, Backspace, Enter]); // seeds 0,1,2 -> 0,1
    assert_eq!(app.grid_form.seeds, "0,1");
    let terminal = render(&app, 80, 24);
    let shown = terminal.backend().to_string();
    assert!(shown.contains("8 · 1 done (stored as completed) · 7 to queue"), "{shown}");
    insta::assert_snapshot!(terminal.backend());

    press(&mut app, KeyCode::Char('a'));
    assert!(!app.grid_form.open);
    assert_eq!(app.train.queued(), 7);
    assert!(app.train.log.last().unwrap().contains("queued 7 missing cells"));
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("synthetic s1") && shown.contains("queued 7 missing cells"), "{shown}");
    // The form keeps its values; queuing the grid again adds nothing: its cells are waiting already.
    press_all(&mut app, &[KeyCode::Char('E'), KeyCode::Char('a')]);
    assert_eq!(app.train.queued(), 7);
    assert!(app.train.log.last().unwrap().contains("its 7 missing cells are already queued"));

    let Some(Request::Train(TrainRequest::Start(job))) = press(&mut app, KeyCode::Char('s')) else { panic!() };
    assert_eq!(job.config.grid_cell.as_deref(), Some("synthetic/pepr_lenet5/scratch/f1/s0"));
    assert_eq!(job.config.group.as_deref(), Some("synthetic"));
    assert_eq!(job.config.epochs, app.train.settings.epochs);
}

#[test]
fn grid_form_offers_slurm_when_sbatch_is_there_80x24() {
    use KeyCode::{Char, Down, Enter, Up};
    let dir = tempfile::tempdir().unwrap();
    let mut app = train_app(&["pepr_lenet5"], dir.path());
    // The event loop sets this at start when sbatch is on the PATH.
    app.grid_form.slurm = true;
    press(&mut app, Char('E'));
    // Partition: the row after renames.
    press_all(&mut app, &[Up, Up, Enter, Char('d'), Char('e'), Char('b'), Char('u'), Char('g'), Enter]);
    assert_eq!(app.grid_form.partition, "debug");
    let terminal = render(&app, 80, 24);
    let shown = terminal.backend().to_string();
    assert!(shown.contains("partition") && shown.contains("debug"), "{shown}");
    assert!(shown.contains("(Slurm's default)") && shown.contains("B Slurm"), "{shown}");
    insta::assert_snapshot!(terminal.backend());

    let Some(Request::GridSlurm(submit)) = press(&mut app, Char('B')) else { panic!("B asks for a submission") };
    assert_eq!(submit.options.partition.as_deref(), Some("debug"));
    assert_eq!(submit.options.time, None);
    assert_eq!(pepr::grid::expand(&submit.spec).len(), 2 * 3, "fractions 1,0.1 x seeds 0,1,2");
    assert!(app.grid_form.open, "the form stays open to show the outcome");
    assert_eq!(press(&mut app, Char('B')), None, "one submission at a time");
    assert!(screen(&app, 80, 24).contains("already on its way"));

    let answer = Ok("grid g: 6 cells, 0 done: submitted job 77 with 6 array task(s)".to_string());
    assert_eq!(app.on_grid_submitted(answer), Some(Request::Jobs(pepr::app::jobs::JobsRequest::Refresh)));
    assert!(screen(&app, 80, 24).contains("submitted job 77"));
    assert!(app.train.log.last().unwrap().contains("submitted job 77"));
    press(&mut app, Down);
    assert_eq!(app.grid_form.field, pepr::app::grid_form::GridField::Time);
    assert_eq!(app.on_grid_submitted(Err("sbatch refused it".into())), None);
    assert!(screen(&app, 80, 24).contains("Slurm: sbatch refused it"));
}

#[test]
fn seeds_aggregated_80x24() {
    let mut records = synthetic::runs(1, 9, 5);
    for (i, record) in records.iter_mut().enumerate() {
        record.arch = ["resnet18", "pepr_lenet5", "mobilenetv2_050"][i % 3].into();
        record.seed = Some((i / 3) as u64);
        record.group = "derma".into();
        record.pretrained = None;
        record.data_fraction = Some(1.0);
    }
    let mut app = app_with(records);
    press(&mut app, KeyCode::Char('a'));
    assert!(app.runs.aggregate_seeds);
    assert_eq!(app.current_seed_groups().len(), 3);
    assert!(app.current_seed_groups().iter().all(|g| g.runs.len() == 3));
    insta::assert_snapshot!(render(&app, 80, 24).backend());
    press(&mut app, KeyCode::Char('a'));
    assert!(!screen(&app, 80, 24).contains("seeds aggregated"));
}

fn jobs_fixture() -> Vec<pepr::slurm::watch::JobStatus> {
    use pepr::results::record::RunStatus;
    use pepr::slurm::jobs::SubmittedJob;
    use pepr::slurm::query::TaskInfo;
    use pepr::slurm::watch::{CellStatus, JobStatus};
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc);
    let info = |state: &str, node: Option<&str>, reason: Option<&str>| TaskInfo {
        state: state.into(),
        node: node.map(Into::into),
        started: node.is_some(),
        reason: reason.map(Into::into),
    };
    let cell = |index: u32, arch: &str, slurm: Option<TaskInfo>, run: Option<(&str, RunStatus)>| CellStatus {
        index,
        arch: arch.into(),
        dataset: "synthetic".into(),
        group: "synthetic".into(),
        node: slurm.as_ref().and_then(|s| s.node.clone()),
        slurm,
        never_started: run.is_some_and(|(id, _)| id.starts_with("slurm-")),
        run: run.map(|(id, status)| (id.to_string(), status)),
        log: format!("/lab/pepr/slurm/sweep/task-{index}.err").into(),
    };
    let job = |id: &str, at: chrono::DateTime<chrono::Utc>, cells: Vec<CellStatus>| JobStatus {
        job: SubmittedJob {
            job_id: id.into(),
            name: "pepr".into(),
            submitted_at: at,
            dir: format!("/lab/pepr/slurm/pepr-{id}").into(),
            cells: cells.len(),
            options: Default::default(),
            resubmits: None,
        },
        cells,
        slurm_error: None,
        cells_error: None,
    };
    vec![
        job(
            "41",
            at("2026-01-02T09:00:00Z"),
            vec![cell(0, "pepr_lenet5", None, Some(("slurm-41_0", RunStatus::Interrupted)))],
        ),
        job(
            "57",
            at("2026-01-02T10:30:00Z"),
            vec![
                cell(
                    0,
                    "pepr_lenet5",
                    Some(info("COMPLETED", Some("n1"), None)),
                    Some(("run-a", RunStatus::Completed)),
                ),
                cell(1, "pepr_resnet8", Some(info("RUNNING", Some("n2"), None)), None),
                cell(2, "pepr_resnet20", Some(info("PENDING", None, Some("Resources"))), None),
                cell(3, "resnet18", Some(info("FAILED", Some("n1"), None)), None),
            ],
        ),
    ]
}

#[test]
fn jobs_screen_80x24() {
    use pepr::app::jobs::JobsRequest;
    use pepr::results::incoming::MergeReport;
    let mut app = sample_app();
    assert!(!screen(&app, 160, 24).contains("6 Jobs"), "no tab before a job was submitted");
    // Merged runs make the leaderboard reload.
    let report = MergeReport { added: 1, ..MergeReport::default() };
    assert_eq!(app.on_jobs(Ok((report, jobs_fixture()))), Some(Request::Load(SetBy::Group)));
    assert_eq!(press(&mut app, KeyCode::Char('6')), Some(Request::Jobs(JobsRequest::Refresh)));
    assert_eq!(app.screen, Screen::Jobs);
    insta::assert_snapshot!(render(&app, 80, 24).backend());
    // The newest array is selected; X asks, y cancels it.
    assert_eq!(press(&mut app, KeyCode::Char('X')), None);
    assert!(screen(&app, 80, 24).contains("Cancel Slurm job 57?"));
    assert_eq!(press(&mut app, KeyCode::Char('y')), Some(Request::Jobs(JobsRequest::Cancel("57".into()))));
    press(&mut app, KeyCode::Down);
    let text = screen(&app, 80, 24);
    assert!(text.contains("slurm-41_0") && text.contains("cancelled"), "{text}");
    press(&mut app, KeyCode::Char('1'));
    assert!(screen(&app, 160, 24).contains("6 Jobs"), "the tab shows once a job exists");
}

#[test]
fn jobs_screen_without_jobs_says_how_to_submit() {
    let mut app = sample_app();
    press(&mut app, KeyCode::Char('6'));
    assert!(screen(&app, 80, 24).contains("Asking Slurm"));
    app.on_jobs(Ok((Default::default(), vec![])));
    assert!(screen(&app, 80, 24).contains("pepr sweep ... --slurm"));
}

/// `w` cycles a queued run's start (scratch, imported weights, earlier runs' checkpoints of its
/// architecture), `f` freezes the backbone, and the run starts with them.
#[test]
fn train_queue_picks_pretrained_starts() {
    use pepr::run::worker::Job;
    let dir = tempfile::tempdir().unwrap();
    let home = pepr::home::Home::at(dir.path().join("home"));
    // An imported weights entry and a run checkpoint of pepr_lenet5 (and one of another architecture).
    let graph = pepr::catalog::find("pepr_lenet5").unwrap().graph(&pepr::catalog::Spec::new(1, 4, 28)).unwrap();
    let net = pepr::catalog::net::Net::new(graph, &burn::tensor::Device::flex());
    let file = dir.path().join("lenet.safetensors");
    pepr::weights::tensors::write_safetensors(&file, &pepr::weights::state_dict_of(&net)).unwrap();
    pepr::weights::store::import(&home, &file, "pepr_lenet5", Some("mine"), None).unwrap();
    for (id, arch) in [("run-a", "pepr_lenet5"), ("run-b", "pepr_resnet8")] {
        let checkpoint = home.checkpoints_dir().join(id);
        std::fs::create_dir_all(&checkpoint).unwrap();
        let meta = format!(
            r#"{{"run_id":"{id}","arch":"{arch}","input":{{"channels":1,"height":28,"width":28}},"classes":4,"dataset":"synthetic","format":"burnpack"}}"#
        );
        std::fs::write(checkpoint.join("meta.json"), meta).unwrap();
    }
    let mut app = train_app(&["pepr_lenet5"], dir.path());
    app.train.weights_home = Some(home);

    press(&mut app, KeyCode::Char('f'));
    assert!(app.train.log.last().unwrap().contains("freezing needs pretrained weights"));
    press(&mut app, KeyCode::Char('w'));
    assert_eq!(app.train.queue[0].start.as_deref(), Some("mine"));
    press(&mut app, KeyCode::Char('w'));
    assert_eq!(app.train.queue[0].start.as_deref(), Some("run:run-a"));
    press(&mut app, KeyCode::Char('f'));
    assert!(app.train.queue[0].freeze);
    let text = screen(&app, 80, 24);
    assert!(text.contains("start") && text.contains("[f] run:run-a"), "{text}");

    let Some(Request::Train(TrainRequest::Start(Job { config, .. }))) = press(&mut app, KeyCode::Char('s')) else {
        panic!("s starts the queue")
    };
    assert_eq!(config.pretrained.as_deref(), Some("run:run-a"));
    assert!(config.freeze_backbone);
    // A started run keeps its start.
    press(&mut app, KeyCode::Char('w'));
    assert_eq!(app.train.queue[0].start.as_deref(), Some("run:run-a"));
}
