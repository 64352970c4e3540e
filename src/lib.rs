//! pepr: a terminal explorer for small-scale deep learning, ranking runs by PePR = P / (1 + R_n).
//!
//! State and logic (`results`, `app`) know nothing of the terminal; `ui` draws an `&App`;
//! long work (loading the store, ranking) runs on worker threads that report back by message.

// A panic in library code takes the TUI down: errors are returned instead (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod app;
pub mod carbon;
pub mod catalog;
pub mod cli;
pub mod data;
pub mod estimate;
pub mod files;
pub mod format;
pub mod grid;
pub mod home;
pub mod meter;
pub mod output;
pub mod plot;
pub mod progress;
pub mod results;
pub mod run;
pub mod settings;
pub mod slurm;
pub mod suggest;
pub mod text;
pub mod train;
pub mod ui;
pub mod weights;

#[cfg(test)]
mod layers;
