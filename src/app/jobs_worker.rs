//! The jobs poller: a worker thread that merges incoming records and asks Slurm about submitted
//! arrays (`slurm::watch::refresh`, which runs `scontrol`/`squeue`), once at start, then every
//! [`POLL`] while an array is still queued or running or the Jobs screen is shown, and at once when
//! woken. The UI never waits on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::home::Home;

use super::jobs::JobsUpdate;

/// How often a submitted array is polled.
pub const POLL: Duration = Duration::from_secs(5);

/// The UI's handle on the poller.
pub struct JobsPoller {
    wake: Sender<()>,
    visible: Arc<AtomicBool>,
}

impl JobsPoller {
    /// Poll now.
    pub fn wake(&self) {
        let _ = self.wake.send(());
    }

    /// Whether the Jobs screen is shown (then it polls even when nothing is active).
    pub fn set_visible(&self, visible: bool) {
        self.visible.store(visible, Ordering::Relaxed);
    }
}

pub fn spawn<M: Send + 'static>(home: Home, reply: Sender<M>, wrap: fn(JobsUpdate) -> M) -> JobsPoller {
    let (wake, woken) = mpsc::channel::<()>();
    let visible = Arc::new(AtomicBool::new(false));
    let shown = visible.clone();
    let work = move |reply: Sender<M>| {
        loop {
            let update = crate::slurm::watch::refresh(&home).map_err(|e| format!("{e:#}"));
            let active = update.as_ref().is_ok_and(|(_, jobs)| jobs.iter().any(|j| j.active()));
            if reply.send(wrap(update)).is_err() {
                return; // the UI has quit
            }
            loop {
                match woken.recv_timeout(POLL) {
                    Ok(()) => break,
                    Err(RecvTimeoutError::Timeout) if active || shown.load(Ordering::Relaxed) => break,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        }
    };
    // Without a poller the Jobs screen shows why (as a failed poll would).
    super::threads::start("pepr-jobs", &reply, work, |why| wrap(Err(why)));
    JobsPoller { wake, visible }
}
