//! Starting worker threads. Every long job of the TUI runs on its own named thread and answers by
//! message; when a thread cannot be started (the system is out of threads or memory), the caller's
//! `failed` turns the reason into the message the job would have sent, so the screen that asked
//! shows why and the UI goes on. A failed start never ends the TUI, panics or prints over it.

use std::sync::mpsc::Sender;
use std::thread::{Builder, JoinHandle};

/// Runs `work` on a thread named `name`; `work` gets its own sender for its answers. When the
/// thread cannot start, `failed("cannot start the NAME thread: WHY")` is sent instead.
pub fn start<M, T>(
    name: &str,
    reply: &Sender<M>,
    work: impl FnOnce(Sender<M>) -> T + Send + 'static,
    failed: impl FnOnce(String) -> M,
) -> Option<JoinHandle<T>>
where
    M: Send + 'static,
    T: Send + 'static,
{
    start_on(Builder::new().name(name.into()), name, reply, work, failed)
}

/// [`start`] with the thread's builder given (tests use one that cannot start a thread).
fn start_on<M, T>(
    builder: Builder,
    name: &str,
    reply: &Sender<M>,
    work: impl FnOnce(Sender<M>) -> T + Send + 'static,
    failed: impl FnOnce(String) -> M,
) -> Option<JoinHandle<T>>
where
    M: Send + 'static,
    T: Send + 'static,
{
    let sender = reply.clone();
    match builder.spawn(move || work(sender)) {
        Ok(handle) => Some(handle),
        Err(e) => {
            // The UI may have quit meanwhile; nothing to tell then.
            let _ = reply.send(failed(format!("cannot start the {name} thread: {e}")));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[derive(Debug, PartialEq)]
    enum Message {
        Done(String, Result<u32, String>),
    }

    #[test]
    fn the_work_runs_on_a_named_thread_and_answers() {
        let (sender, receiver) = mpsc::channel();
        let handle = start(
            "pepr-test",
            &sender,
            |reply| {
                let name = std::thread::current().name().unwrap_or_default().to_string();
                reply.send(Message::Done(name, Ok(7))).unwrap();
                3
            },
            |why| Message::Done(String::new(), Err(why)),
        );
        assert_eq!(handle.expect("started").join().unwrap(), 3);
        assert_eq!(receiver.recv().unwrap(), Message::Done("pepr-test".into(), Ok(7)));
    }

    #[test]
    fn a_thread_that_cannot_start_is_reported_as_the_jobs_answer() {
        let (sender, receiver) = mpsc::channel();
        // No system can give a thread half the address space for its stack: spawn fails.
        let builder = Builder::new().name("pepr-test".into()).stack_size(usize::MAX / 2);
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let handle = start_on(
            builder,
            "pepr-test",
            &sender,
            move |reply| {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = reply.send(Message::Done("ran".into(), Ok(1)));
            },
            |why| Message::Done("failed".into(), Err(why)),
        );
        assert!(handle.is_none());
        let Message::Done(tag, result) = receiver.recv().unwrap();
        assert_eq!(tag, "failed");
        let why = result.unwrap_err();
        assert!(why.starts_with("cannot start the pepr-test thread: "), "{why}");
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst), "the work never ran");
        assert!(receiver.try_recv().is_err(), "exactly one message");
    }

    #[test]
    fn a_loader_that_cannot_start_is_shown_on_the_leaderboard() {
        // As `worker::spawn_load` does: the failure is the load's own `Err` answer.
        use crate::app::worker::Loaded;
        let (sender, receiver) = mpsc::channel();
        let builder = Builder::new().stack_size(usize::MAX / 2);
        let handle =
            start_on(builder, "pepr-load", &sender, |_reply| {}, |why| Loaded { generation: 1, result: Err(why) });
        assert!(handle.is_none());
        let mut app = crate::app::App::new("runs.jsonl");
        app.on_loaded(receiver.recv().unwrap().result);
        assert!(!app.loading, "no longer says loading");
        let shown = app.load_error.as_deref().unwrap_or_default();
        assert!(shown.starts_with("cannot start the pepr-load thread: "), "{shown}");
    }
}
