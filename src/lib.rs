//! pepr: a terminal explorer for small-scale deep learning, ranking runs by PePR = P / (1 + R_n).
//!
//! State and logic (`results`, `app`) know nothing of the terminal; `ui` draws an `&App`;
//! long work (loading the store, ranking) runs on worker threads that report back by message.

pub mod app;
pub mod catalog;
pub mod cli;
pub mod data;
pub mod estimate;
pub mod grid;
pub mod home;
pub mod meter;
pub mod plot;
pub mod progress;
pub mod results;
pub mod settings;
pub mod slurm;
pub mod suggest;
pub mod text;
pub mod train;
pub mod ui;
pub mod weights;
