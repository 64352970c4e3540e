//! The TUI application: state and key handling (`state`, one module per screen: `runs`, `archs`,
//! `datasets`, `train`, `analyses`, `jobs`), the requests screens make (`request`), the list cursor
//! (`list`), worker threads (`threads`, `worker`) and the event loop that owns the terminal
//! (`event_loop`).

pub mod analyses;
pub mod archs;
pub mod columns;
pub mod data_worker;
pub mod datasets;
pub mod estimates;
mod event_loop;
pub mod grid_form;
pub mod jobs;
pub mod jobs_worker;
pub mod keys;
pub mod list;
pub mod request;
pub mod runs;
pub mod session;
pub mod settings_form;
pub mod state;
mod text_input;
pub mod threads;
pub mod train;
pub mod whatif;
pub mod worker;

pub use event_loop::run_tui;
pub use state::{App, Data, Request, Screen, SortColumn, View};

/// "" for one, "s" otherwise: "1 run", "2 runs".
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
