//! What a screen asks of the event loop. Every screen's `handle_key` (and the app's answers to
//! worker messages) returns `Option<Request>`: the app never does I/O or starts threads itself;
//! the event loop does the work on a worker thread and hands the answer back as a message.

use crate::results::rank::SetBy;

use super::analyses::AnalyzeRequest;
use super::datasets::DataRequest;
use super::jobs::JobsRequest;
use super::train::TrainRequest;

/// Something the event loop must do for the app (the app itself never does I/O).
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Load the store and rank it with this set definition, on a worker thread.
    Load(SetBy),
    /// Compute the catalog's costs at this input size (`None`: each architecture's default).
    Catalog(Option<usize>),
    /// Dataset work: list, preview, download.
    Data(DataRequest),
    /// Start, pause, resume or stop a training run.
    Train(TrainRequest),
    /// Compute the analyses of these runs on a worker thread.
    Analyze(AnalyzeRequest),
    /// Poll Slurm now, or cancel an array.
    Jobs(JobsRequest),
    /// Submit the grid form's missing cells to Slurm as one job array, on a worker thread.
    GridSlurm(super::grid_form::GridSubmit),
    /// Save these settings to settings.json (the text says what changed), then use them.
    SaveSettings(crate::settings::Settings, String),
    /// Import the runs of this CSV file into the store, on a worker thread.
    Import(std::path::PathBuf),
    /// Delete (tombstone) or restore a stored run, then reload.
    MarkRun(String, crate::results::store::Removal),
    /// Import the paper's built-in runs into the store, on a worker thread.
    ImportPaper,
    /// Draw this figure into the home's `figures/` folder under this file name, on a worker thread.
    ExportFigure { figure: crate::plot::Figure, file: String },
    /// Write the analysis shown as `STEM.svg` (the figure) and `STEM.csv` (its table) into the
    /// home's `figures/` folder, on a worker thread.
    ExportAnalysis { figure: crate::plot::Figure, csv: String, stem: String },
    /// Estimate these planned runs on the estimator thread (issue 19).
    Estimate(super::estimates::EstimateJob),
    /// Load and rank the store under this carbon what-if (region index), or none, from now on.
    LoadWhatIf(SetBy, Option<(crate::results::whatif::WhatIf, usize)>),
}
