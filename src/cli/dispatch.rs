//! `pepr COMMAND`: hands each parsed command to its family's module.

use anyhow::Result;

use super::args::Command;
use super::{analyze, archs, bench, config, data, estimate, grid, ignore_broken_pipe, jobs, rank, runs, train};
use crate::home::Home;
use crate::results::store::RunStore;

/// Runs a headless command. `Command::Tui` is handled by the caller.
pub fn run(home: &Home, command: Command) -> Result<()> {
    estimate::show_calibration_progress();
    let store = RunStore::new(home.runs_file());
    match command {
        Command::Tui => unreachable!("the TUI is started by main"),
        // Runs in and out of the store, and ranked.
        Command::Import { files, paper } => runs::import(home, &store, &files, paper),
        Command::Export { file, set_by } => runs::export(&store, &file, set_by),
        Command::Merge => runs::merge(home, &store),
        Command::Runs { command } => super::manage::run(&store, command),
        Command::Rank(args) => rank::run(home, &store, args),
        Command::Analyze(args) => analyze::analyze(home, &store, args),
        Command::Plot(args) => analyze::plot(home, &store, args),
        // What runs are made of.
        Command::Data { command, data_dir } => {
            let data_dir = data_dir.unwrap_or_else(|| home.datasets_dir());
            ignore_broken_pipe(data::run(command, &data_dir))
        }
        Command::Archs { command, input, classes, format } => archs::run(command, input, classes, format),
        Command::Weights { command } => super::weights::run(home, command),
        Command::Predict { arch, weights, images, top } => {
            super::weights::run_predict(home, &arch, &weights, &images, top)
        }
        // Training, here or on a cluster.
        Command::Train { arch, dataset, settings, json, incoming } => {
            train::train(home, &arch, &dataset, &settings, json, incoming)
        }
        Command::Sweep { archs, datasets, settings, slurm } => {
            train::sweep_command(home, archs, datasets, &settings, &slurm)
        }
        Command::Estimate(args) => estimate::command(home, args),
        Command::Grid(args) => grid::run(home, args),
        Command::Jobs { command, json } => jobs::run(home, command, json),
        // This machine and the settings.
        Command::Bench { command } => bench::run(home, command),
        Command::Doctor { json, meter } => bench::doctor(home, json, &meter),
        Command::Config { command } => config::run(home, command),
    }
}
