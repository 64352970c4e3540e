//! The event loop: owns the terminal, receives input and worker messages on one channel, and
//! redraws after each batch of messages. It never waits on I/O or ranking itself.

use std::sync::mpsc;

use anyhow::Result;
use crossterm::event::{self, Event};

use crate::catalog::listing::{self, ArchRow};
use crate::home::Home;
use crate::results::rank::SetBy;
use crate::results::store::RunStore;

use super::data_worker;
use super::datasets::{DataRequest, Preview};
use super::jobs::JobsRequest;
use super::state::{App, Request};
use super::train::TrainRequest;
use super::worker::{Loaded, spawn_load};
use crate::data::registry::Entry;
use crate::train::worker::{RunHandle, RunMessage, spawn_run_with};

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
}

/// Runs `work` on a named thread; a failure to spawn is reported, not fatal to the UI.
fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new().name(name.into()).spawn(work)?;
    Ok(())
}

fn dispatch_data(request: DataRequest, data_dir: &std::path::Path, sender: &mpsc::Sender<Message>) -> Result<()> {
    let reply = sender.clone();
    let dir = data_dir.to_path_buf();
    match request {
        DataRequest::List => spawn("pepr-data", move || {
            let _ = reply.send(Message::DataList(data_worker::list(&dir)));
        }),
        DataRequest::Preview(name) => spawn("pepr-data", move || {
            let preview = data_worker::preview(&name, &dir);
            let _ = reply.send(Message::DataPreview(name, preview));
        }),
        DataRequest::Download(name) => spawn("pepr-download", move || {
            let progress_reply = reply.clone();
            let progress_name = name.clone();
            let outcome = data_worker::download(&name, &dir, &mut |done, total| {
                let _ = progress_reply.send(Message::DownloadProgress(progress_name.clone(), done, total));
            });
            let _ = reply.send(Message::DownloadDone(name, outcome));
            let _ = reply.send(Message::DataList(data_worker::list(&dir)));
        }),
    }
}

/// Runs the TUI until the user quits. The terminal is restored on return, error or panic.
pub fn run_tui(home: Home) -> Result<()> {
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
    let energy = settings.rank_energy();
    app.train.settings.meter = settings.meter_settings();
    app.train.settings.threads = settings.threads;
    app.settings_warning = settings_warning;
    app.train.weights_home = Some(home.clone());
    // Looked up once (a PATH scan, nothing run): the grid form offers Slurm when sbatch is there.
    app.grid_form.slurm = crate::slurm::submit::sbatch_on_path();
    let (sender, receiver) = mpsc::channel::<Message>();

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

    let mut generation: u64 = 1;
    spawn_load(store.clone(), SetBy::Group, energy, generation, sender.clone(), Message::Loaded);

    // The training run in progress, if any (one at a time).
    let mut run: Option<RunHandle> = None;
    let dispatch = |request: Request, generation: &mut u64, run: &mut Option<RunHandle>| -> Result<()> {
        match request {
            Request::Load(set_by) => {
                *generation += 1;
                spawn_load(store.clone(), set_by, energy, *generation, sender.clone(), Message::Loaded);
            }
            Request::Catalog(size) => {
                let reply = sender.clone();
                spawn("pepr-catalog", move || {
                    let rows = listing::rows(size.map(|s| (3, s, s)), 1000);
                    let _ = reply.send(Message::Catalog(size, rows));
                })?;
            }
            Request::Data(request) => dispatch_data(request, &data_dir, &sender)?,
            Request::Train(TrainRequest::Start(job)) => {
                if let Some(previous) = run.take() {
                    previous.stop();
                }
                *run = Some(spawn_run_with(job, home.clone(), data_dir.clone(), sender.clone(), Message::Run));
            }
            Request::Analyze(job) => {
                let reply = sender.clone();
                spawn("pepr-analyze", move || {
                    let result =
                        crate::results::analysis::analyze_on(&job.records, energy).map_err(|e| format!("{e:#}"));
                    let _ = reply.send(Message::Analyzed(job.generation, result));
                })?;
            }
            Request::Train(TrainRequest::Pause) => run.iter().for_each(RunHandle::pause),
            Request::Train(TrainRequest::Resume) => run.iter().for_each(RunHandle::resume),
            Request::Train(TrainRequest::Stop) => run.iter().for_each(RunHandle::stop),
            Request::Jobs(JobsRequest::Refresh) => poller.wake(),
            Request::GridSlurm(submit) => {
                let reply = sender.clone();
                let home = home.clone();
                spawn("pepr-sbatch", move || {
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
                    let _ = reply.send(Message::GridSubmitted(result));
                })?;
            }
            Request::Jobs(JobsRequest::Cancel(job_id)) => {
                let reply = sender.clone();
                let home = home.clone();
                spawn("pepr-scancel", move || {
                    let result = crate::slurm::watch::cancel(&home, &job_id).map_err(|e| format!("{e:#}"));
                    let _ = reply.send(Message::JobCancelled(job_id, result));
                })?;
            }
        }
        Ok(())
    };

    let result = (|| -> Result<()> {
        loop {
            terminal.draw(|frame| crate::ui::draw(frame, &app))?;
            let mut message = receiver.recv()?;
            loop {
                match message {
                    Message::Input(Event::Key(key)) => {
                        if let Some(request) = app.handle_key(key) {
                            dispatch(request, &mut generation, &mut run)?;
                        }
                    }
                    Message::Run(message) => {
                        let ended = matches!(
                            message.update,
                            crate::train::worker::RunUpdate::Finished { .. }
                                | crate::train::worker::RunUpdate::Failed(_)
                        );
                        if ended && run.as_ref().is_some_and(|h| h.job == message.job) {
                            // Its last message: the thread is ending.
                            if let Some(handle) = run.take() {
                                handle.join();
                            }
                        }
                        for request in app.on_run_message(message) {
                            dispatch(request, &mut generation, &mut run)?;
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
                            dispatch(request, &mut generation, &mut run)?;
                        }
                    }
                    Message::GridSubmitted(result) => {
                        if let Some(request) = app.on_grid_submitted(result) {
                            dispatch(request, &mut generation, &mut run)?;
                        }
                    }
                    Message::JobCancelled(job_id, result) => {
                        app.jobs.on_cancelled(&job_id, result);
                        poller.wake();
                    }
                    Message::Input(_) => {} // resize and others: the next draw adapts
                    Message::InputFailed(e) => anyhow::bail!("reading terminal input: {e}"),
                    Message::Loaded(loaded) if loaded.generation == generation => {
                        app.on_loaded(loaded.result);
                        if let Some(request) = app.analyses_request() {
                            dispatch(request, &mut generation, &mut run)?;
                        }
                    }
                    Message::Analyzed(generation, result) => app.analyses.on_result(generation, result),
                    Message::Loaded(_) => {} // superseded by a newer request
                }
                if app.quit {
                    return Ok(());
                }
                poller.set_visible(app.screen == super::state::Screen::Jobs);
                // Coalesce whatever else is already queued into this frame.
                match receiver.try_recv() {
                    Ok(next) => message = next,
                    Err(_) => break,
                }
            }
        }
    })();
    ratatui::restore();
    if let Some(handle) = run.take() {
        // Stop the run and wait for it to be stored as interrupted (a step and a write).
        eprintln!("stopping the training run; it is stored as interrupted…");
        handle.stop();
        handle.join();
    }
    result
}
