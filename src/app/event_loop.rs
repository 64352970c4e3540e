//! The event loop: owns the terminal, receives input and worker messages on one channel, and
//! redraws after each batch of messages. It never waits on I/O or ranking itself.

use std::io::Write;
use std::sync::mpsc;

use anyhow::Result;
use crossterm::event::{self, Event};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::catalog::listing::{self, ArchRow};
use crate::home::Home;
use crate::results::rank::SetBy;
use crate::results::store::RunStore;

use super::data_worker;
use super::datasets::{DataRequest, Preview};
use super::jobs::JobsRequest;
use super::state::{App, Request};
use super::threads::start;
use super::train::TrainRequest;
use super::worker::{Loaded, spawn_load};
use crate::data::registry::Entry;
use crate::run::worker::{RunHandle, RunMessage, spawn_run_with};

enum Message {
    Input(Event),
    InputFailed(String),
    Loaded(Loaded),
    Catalog(Option<usize>, Vec<ArchRow>),
    DataList(Vec<Entry>),
    DataPreview(String, Result<Preview, String>),
    DownloadProgress(String, u64, Option<u64>),
    DownloadDone(String, Result<String, String>),
    Run(RunMessage),
    Analyzed(u64, Result<crate::results::analysis::Analyses, String>),
    Jobs(super::jobs::JobsUpdate),
    JobCancelled(String, Result<(), String>),
    GridSubmitted(Result<String, String>),
    SettingsSaved(Result<(crate::settings::Settings, String), String>),
    Imported(Result<String, String>),
    /// SIGHUP (a dropped SSH connection), SIGTERM or SIGINT from outside.
    Signal(i32),
    Marked(Result<String, String>),
    PaperImported(Result<String, String>),
    FigureExported(Result<std::path::PathBuf, String>),
    AnalysisExported(Result<Vec<std::path::PathBuf>, String>),
    Estimated(super::estimates::EstimateReply),
    /// A worker thread with no error answer of its own could not be started: why.
    ThreadFailed(String),
}

/// Runs `work` on a named thread and sends what it returns; when the thread cannot be started,
/// `failed` makes the answer from the reason instead (see `threads::start`).
fn spawn(
    name: &str,
    sender: &mpsc::Sender<Message>,
    work: impl FnOnce() -> Message + Send + 'static,
    failed: impl FnOnce(String) -> Message,
) {
    start(
        name,
        sender,
        move |reply| {
            // The UI may have quit meanwhile; nothing to do then.
            let _ = reply.send(work());
        },
        failed,
    );
}

fn dispatch_data(request: DataRequest, data_dir: &std::path::Path, sender: &mpsc::Sender<Message>) {
    let dir = data_dir.to_path_buf();
    match request {
        DataRequest::List => {
            spawn("pepr-data", sender, move || Message::DataList(data_worker::list(&dir)), Message::ThreadFailed)
        }
        DataRequest::Preview(name) => {
            let asked = name.clone();
            spawn(
                "pepr-data",
                sender,
                move || {
                    let preview = data_worker::preview(&name, &dir);
                    Message::DataPreview(name, preview)
                },
                |why| Message::DataPreview(asked, Err(why)),
            )
        }
        DataRequest::Download(name) => {
            let asked = name.clone();
            start(
                "pepr-download",
                sender,
                move |reply| {
                    let progress_reply = reply.clone();
                    let progress_name = name.clone();
                    let outcome = data_worker::download(&name, &dir, &mut |done, total| {
                        let _ = progress_reply.send(Message::DownloadProgress(progress_name.clone(), done, total));
                    });
                    let _ = reply.send(Message::DownloadDone(name, outcome));
                    let _ = reply.send(Message::DataList(data_worker::list(&dir)));
                },
                |why| Message::DownloadDone(asked, Err(why)),
            );
        }
    }
}

/// Runs the TUI until the user quits. The terminal is restored on return, error or panic.
pub fn run_tui(home: Home, draw: fn(&mut ratatui::Frame, &App)) -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("the TUI needs a terminal on stdin and stdout; for scripts use `pepr rank` (see `pepr --help`)");
    }
    let store = RunStore::new(home.runs_file());
    let data_dir = home.datasets_dir();
    let mut app = App::new(store.path().display().to_string());
    // Read once at start: PePR-E's energy basis (gross or net) and the meters' settings; a bad file
    // is reported, not fatal.
    let (settings, settings_warning) = crate::settings::Settings::load_or_default(&home.settings_file());
    // PePR-E's energy basis; the Settings pane may change it while the explorer runs.
    let energy = std::cell::Cell::new(settings.rank_energy());
    app.train.settings.meter = settings.meter_settings();
    app.config = settings.clone();
    app.train.settings.threads = settings.threads;
    app.settings_warning = settings_warning;
    app.train.weights_home = Some(home.clone());
    // The columns, selections, queue and Train settings of the last session.
    let remembered = super::session::path(&home);
    match super::session::Remembered::load(&remembered) {
        Ok(Some(state)) => {
            let problems = state.apply(&mut app);
            if !problems.is_empty() {
                app.message = Some(format!("{}: {}", remembered.display(), problems.join("; ")));
            }
        }
        Ok(None) => {}
        Err(e) => app.message = Some(e),
    }
    // Looked up once (a PATH scan, nothing run): the grid form offers Slurm when sbatch is there.
    app.grid_form.slurm = crate::slurm::submit::sbatch_on_path();
    let (sender, receiver) = mpsc::channel::<Message>();

    // Signals end the TUI as `q` does (the run is stopped and stored, the terminal restored), then
    // pepr exits with the shell's 128 + signal. Registered before the terminal is set up: a signal
    // that comes meanwhile waits in the channel.
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT])?;
    let signal_handle = signals.handle();
    let signal_sender = sender.clone();
    std::thread::Builder::new().name("pepr-signals".into()).spawn(move || {
        for signal in signals.forever() {
            if signal_sender.send(Message::Signal(signal)).is_err() {
                break;
            }
        }
    })?;

    // try_init installs a panic hook that restores the terminal before the panic message prints.
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(e) => {
            ratatui::restore();
            anyhow::bail!("cannot set up the terminal: {e}");
        }
    };
    // A training run's panic is caught by the run (it ends as failed, with the message in its log):
    // it must neither restore the terminal under the running UI nor print over the screen.
    let restore_and_report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name().is_some_and(|name| name.starts_with("pepr-train")) {
            return;
        }
        restore_and_report(info);
    }));

    let input = sender.clone();
    std::thread::Builder::new().name("pepr-input".into()).spawn(move || {
        loop {
            let message = match event::read() {
                Ok(event) => Message::Input(event),
                Err(e) => Message::InputFailed(e.to_string()),
            };
            let failed = matches!(message, Message::InputFailed(_));
            if input.send(message).is_err() || failed {
                break;
            }
        }
    })?;

    // Merges incoming records now (and while Slurm arrays run), and answers the Jobs screen.
    let poller = super::jobs_worker::spawn(home.clone(), sender.clone(), Message::Jobs);

    // Estimates of the queued runs and the grid form's cells (may calibrate this machine first).
    let estimator = super::estimates::spawn(home.clone(), data_dir.clone(), sender.clone(), Message::Estimated);

    let mut generation: u64 = 1;
    // The leaderboard's carbon what-if (`w`): every later load ranks under it until `W`.
    let what_if = std::cell::RefCell::new(None);
    spawn_load(store.clone(), SetBy::Group, energy.get(), None, generation, sender.clone(), Message::Loaded);

    // The training run in progress, if any (one at a time).
    let mut run: Option<RunHandle> = None;
    let dispatch = |request: Request, generation: &mut u64, run: &mut Option<RunHandle>| {
        match request {
            Request::Load(set_by) => {
                *generation += 1;
                let w = what_if.borrow().clone();
                spawn_load(store.clone(), set_by, energy.get(), w, *generation, sender.clone(), Message::Loaded);
            }
            Request::LoadWhatIf(set_by, w) => {
                *generation += 1;
                what_if.replace(w.clone());
                spawn_load(store.clone(), set_by, energy.get(), w, *generation, sender.clone(), Message::Loaded);
            }
            Request::Catalog(size) => spawn(
                "pepr-catalog",
                &sender,
                move || Message::Catalog(size, listing::rows(size.map(|s| (3, s, s)), 1000)),
                Message::ThreadFailed,
            ),
            Request::Data(request) => dispatch_data(request, &data_dir, &sender),
            Request::Train(TrainRequest::Start(job)) => {
                if let Some(previous) = run.take() {
                    previous.stop();
                }
                *run = Some(spawn_run_with(job, home.clone(), data_dir.clone(), sender.clone(), Message::Run));
            }
            Request::Analyze(job) => {
                let energy = energy.get();
                let generation = job.generation;
                spawn(
                    "pepr-analyze",
                    &sender,
                    move || Message::Analyzed(job.generation, job.run(energy)),
                    |why| Message::Analyzed(generation, Err(why)),
                );
            }
            Request::Train(TrainRequest::Pause) => run.iter().for_each(RunHandle::pause),
            Request::Train(TrainRequest::Resume) => run.iter().for_each(RunHandle::resume),
            Request::Train(TrainRequest::Stop) => run.iter().for_each(RunHandle::stop),
            Request::Jobs(JobsRequest::Refresh) => poller.wake(),
            Request::SaveSettings(settings, what) => {
                let path = home.settings_file();
                // The basis is used by the next ranking; the app asks for it when the save lands.
                energy.set(settings.rank_energy());
                spawn(
                    "pepr-settings",
                    &sender,
                    move || Message::SettingsSaved(settings.save(&path).map(|()| (settings, what))),
                    |why| Message::SettingsSaved(Err(why)),
                );
            }
            Request::Import(path) => {
                let store = store.clone();
                let work = move || {
                    let result = crate::results::import::import_file(&store, &path)
                        .map(|summary| summary.to_string())
                        .map_err(|e| format!("{e:#}"));
                    Message::Imported(result)
                };
                spawn("pepr-import", &sender, work, |why| Message::Imported(Err(why)));
            }
            Request::GridSlurm(submit) => {
                let home = home.clone();
                let work = move || {
                    let job = crate::grid::slurm::GridJob {
                        spec: &submit.spec,
                        meter: &submit.meter,
                        options: submit.options.clone(),
                        only: None,
                        dry_run: false,
                    };
                    let result = crate::grid::slurm::submit_missing(&home, job)
                        .map(|outcome| outcome.summary())
                        .map_err(|e| format!("{e:#}"));
                    Message::GridSubmitted(result)
                };
                spawn("pepr-sbatch", &sender, work, |why| Message::GridSubmitted(Err(why)));
            }
            Request::MarkRun(id, action) => {
                let store = store.clone();
                let work = move || {
                    let result = store
                        .mark(std::slice::from_ref(&id), action)
                        .map(|_| match action {
                            crate::results::store::Removal::Restore => format!("run {id} restored"),
                            _ => {
                                format!("run {id} {} (U undoes; `pepr runs compact` drops it for good)", action.verb())
                            }
                        })
                        .map_err(|e| format!("{e:#}"));
                    Message::Marked(result)
                };
                spawn("pepr-mark", &sender, work, |why| Message::Marked(Err(why)));
            }
            Request::ImportPaper => {
                let store = store.clone();
                let work = move || {
                    let result =
                        crate::results::paper::import(&store).map(|s| s.to_string()).map_err(|e| format!("{e:#}"));
                    Message::PaperImported(result)
                };
                spawn("pepr-import", &sender, work, |why| Message::PaperImported(Err(why)));
            }
            Request::ExportFigure { figure, file } => {
                let dir = home.root().join("figures");
                let work = move || {
                    let result = std::fs::create_dir_all(&dir)
                        .map_err(|e| format!("{}: cannot create: {e}", dir.display()))
                        .and_then(|()| crate::plot::write(&figure, &dir.join(&file)).map_err(|e| format!("{e:#}")));
                    Message::FigureExported(result)
                };
                spawn("pepr-figure", &sender, work, |why| Message::FigureExported(Err(why)));
            }
            Request::ExportAnalysis { figure, csv, stem } => {
                let dir = home.root().join("figures");
                let work = move || Message::AnalysisExported(super::analyses::write_export(&dir, &figure, &csv, &stem));
                spawn("pepr-figure", &sender, work, |why| Message::AnalysisExported(Err(why)));
            }
            Request::Estimate(job) => estimator.ask(job),
            Request::Jobs(JobsRequest::Cancel(job_id)) => {
                let home = home.clone();
                let asked = job_id.clone();
                let work = move || {
                    let result = crate::slurm::watch::cancel(&home, &job_id).map_err(|e| format!("{e:#}"));
                    Message::JobCancelled(job_id, result)
                };
                spawn("pepr-scancel", &sender, work, |why| Message::JobCancelled(asked, Err(why)));
            }
        }
    };

    let mut signalled: Option<i32> = None;
    let result = (|| -> Result<()> {
        loop {
            terminal.draw(|frame| draw(frame, &app))?;
            let mut message = receiver.recv()?;
            loop {
                match message {
                    Message::Input(Event::Key(key)) => {
                        if let Some(request) = app.handle_key(key) {
                            dispatch(request, &mut generation, &mut run);
                        }
                    }
                    Message::Run(message) => {
                        let ended = matches!(
                            message.update,
                            crate::run::worker::RunUpdate::Finished { .. } | crate::run::worker::RunUpdate::Failed(_)
                        );
                        if ended && run.as_ref().is_some_and(|h| h.job == message.job) {
                            // Its last message: the thread is ending.
                            if let Some(handle) = run.take() {
                                handle.join();
                            }
                        }
                        for request in app.on_run_message(message) {
                            dispatch(request, &mut generation, &mut run);
                        }
                    }
                    Message::DataList(entries) => app.datasets.on_list(entries),
                    Message::DataPreview(name, preview) => app.datasets.on_preview(&name, preview),
                    Message::DownloadProgress(name, done, total) => {
                        app.datasets.on_download_progress(&name, done, total)
                    }
                    Message::DownloadDone(name, outcome) => app.datasets.on_download_done(&name, outcome),
                    Message::Catalog(size, rows) => app.archs.on_rows(size, rows),
                    Message::Jobs(update) => {
                        if let Some(request) = app.on_jobs(update) {
                            dispatch(request, &mut generation, &mut run);
                        }
                    }
                    Message::GridSubmitted(result) => {
                        if let Some(request) = app.on_grid_submitted(result) {
                            dispatch(request, &mut generation, &mut run);
                        }
                    }
                    Message::SettingsSaved(result) => {
                        if result.is_err() {
                            energy.set(app.config.rank_energy());
                        }
                        if let Some(request) = app.on_settings_saved(result) {
                            dispatch(request, &mut generation, &mut run);
                        }
                    }
                    Message::Imported(result) => {
                        if let Some(request) = app.on_imported(result) {
                            dispatch(request, &mut generation, &mut run);
                        }
                    }
                    Message::Marked(result) => {
                        let request = app.on_marked(result);
                        dispatch(request, &mut generation, &mut run);
                    }
                    Message::FigureExported(result) => app.on_figure_exported(result),
                    Message::AnalysisExported(result) => app.on_analysis_exported(result),
                    Message::Estimated(reply) => app.on_estimated(reply),
                    Message::ThreadFailed(why) => app.on_thread_failed(why),
                    Message::PaperImported(result) => {
                        if let Some(request) = app.on_paper_imported(result) {
                            dispatch(request, &mut generation, &mut run);
                        }
                    }
                    Message::JobCancelled(job_id, result) => {
                        app.jobs.on_cancelled(&job_id, result);
                        poller.wake();
                    }
                    Message::Input(_) => {} // resize and others: the next draw adapts
                    Message::InputFailed(e) => {
                        // A hang-up both fails the read and sends SIGHUP: the signal sets the exit status.
                        signalled = pending_signal(&receiver);
                        if signalled.is_some() {
                            return Ok(());
                        }
                        anyhow::bail!("reading terminal input: {e}")
                    }
                    Message::Signal(signal) => {
                        signalled = Some(signal);
                        return Ok(());
                    }
                    Message::Loaded(loaded) if loaded.generation == generation => {
                        app.on_loaded(loaded.result);
                        if let Some(request) = app.analyses_request() {
                            dispatch(request, &mut generation, &mut run);
                        }
                    }
                    Message::Analyzed(generation, result) => app.analyses.on_result(generation, result),
                    Message::Loaded(_) => {} // superseded by a newer request
                }
                if app.quit {
                    return Ok(());
                }
                poller.set_visible(app.screen == super::state::Screen::Jobs);
                // The queue, the Train settings or the grid form may have changed: estimate again.
                for request in app.estimate_requests() {
                    dispatch(request, &mut generation, &mut run);
                }
                // Coalesce whatever else is already queued into this frame.
                match receiver.try_recv() {
                    Ok(next) => message = next,
                    Err(_) => break,
                }
            }
        }
    })();
    // A hang-up can fail a draw before its SIGHUP is read: the signal still sets the exit status.
    if result.is_err() && signalled.is_none() {
        signalled = pending_signal(&receiver);
    }
    restore_terminal();
    // Kept for the next session; losing it is not worth failing the exit for (nor worth a panic
    // when the terminal is gone after a hang-up).
    if let Err(e) = super::session::Remembered::of(&app).save(&remembered) {
        let _ = writeln!(std::io::stderr(), "could not remember the TUI's state: {e:#}");
    }
    if let Some(handle) = run.take() {
        // Stop first: after SIGHUP the terminal is gone and printing may fail (never panic here, or
        // the run would die unstored). Then wait for it to be stored as interrupted.
        handle.stop();
        let _ = writeln!(std::io::stderr(), "stopping the training run; it is stored as interrupted…");
        handle.join();
    }
    signal_handle.close();
    if let Some(signal) = signalled {
        std::process::exit(128 + signal);
    }
    result
}

/// A signal that arrives within a moment (other messages are dropped: the UI is ending).
fn pending_signal(receiver: &mpsc::Receiver<Message>) -> Option<i32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(300);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match receiver.recv_timeout(left) {
            Ok(Message::Signal(signal)) => return Some(signal),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// ratatui's restore, but each step on its own and silent: after a hang-up the terminal may be gone,
/// and a failed print must not panic the thread that still has a run to store.
fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::terminal::LeaveAlternateScreen, crossterm::cursor::Show);
}
