//! Loading and ranking off the UI thread. Each request gets a generation number; the UI keeps only
//! the newest answer, so a slow old load can never overwrite a newer one.

use std::sync::mpsc::Sender;

use crate::results::rank::{SetBy, rank};
use crate::results::store::RunStore;

use super::state::Data;

/// A finished load, tagged with the request's generation.
pub struct Loaded {
    pub generation: u64,
    pub result: Result<Data, String>,
}

/// Loads and ranks the store synchronously (the worker's body; also used by tests and benches).
pub fn load(store: &RunStore, set_by: SetBy) -> Result<Data, String> {
    let loaded = store.load().map_err(|e| format!("{e:#}"))?;
    let ranking = rank(&loaded.records, set_by).map_err(|e| format!("{e:#}"))?;
    Ok(Data { records: loaded.records, ranking, warnings: loaded.warnings, set_by })
}

/// Starts a load on its own thread; the answer arrives on `reply` wrapped by `wrap`.
pub fn spawn_load<M: Send + 'static>(
    store: RunStore,
    set_by: SetBy,
    generation: u64,
    reply: Sender<M>,
    wrap: fn(Loaded) -> M,
) {
    std::thread::Builder::new()
        .name("pepr-load".into())
        .spawn(move || {
            let result = load(&store, set_by);
            // The UI may have quit meanwhile; nothing to do then.
            let _ = reply.send(wrap(Loaded { generation, result }));
        })
        .expect("spawning the loader thread");
}
