//! Runs and their ranking: the record schema, the append-only store, importers, the polars PePR
//! engine, sorting/filtering for display, and export.

pub mod analysis;
pub mod analysis_report;
pub mod estimate;
pub mod export;
pub mod groups;
pub mod import;
pub mod incoming;
pub mod paper;
pub mod rank;
pub mod record;
pub mod seeds;
pub mod stability;
pub mod store;
pub mod synthetic;
pub mod view;
pub mod whatif;
pub mod workload;
