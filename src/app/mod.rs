//! The TUI application: state and key handling (`state`), the loader thread (`worker`) and the
//! event loop that owns the terminal (`event_loop`).

pub mod analyses;
pub mod archs;
pub mod data_worker;
pub mod datasets;
mod event_loop;
pub mod grid_form;
pub mod jobs;
pub mod jobs_worker;
pub mod state;
mod text_input;
pub mod train;
pub mod worker;

pub use event_loop::run_tui;
pub use state::{App, Data, Request, Screen, SortColumn, View};
