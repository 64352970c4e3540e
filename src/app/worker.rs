//! Loading and ranking off the UI thread. Each request gets a generation number; the UI keeps only
//! the newest answer, so a slow old load can never overwrite a newer one.

use std::sync::mpsc::Sender;

use crate::results::rank::{EnergyBasis, SetBy, rank_with};
use crate::results::store::RunStore;
use crate::results::whatif::WhatIf;

use super::state::Data;

/// A finished load, tagged with the request's generation.
pub struct Loaded {
    pub generation: u64,
    pub result: Result<Data, String>,
}

/// Loads and ranks the store synchronously (the worker's body; also used by tests and benches).
pub fn load(store: &RunStore, set_by: SetBy) -> Result<Data, String> {
    load_with(store, set_by, EnergyBasis::Gross)
}

/// Loads and ranks the store, PePR-E on the given energy basis.
pub fn load_with(store: &RunStore, set_by: SetBy, energy: EnergyBasis) -> Result<Data, String> {
    load_what_if(store, set_by, energy, None)
}

/// Loads the store and ranks it, under a carbon what-if (with its region's index) when given: then
/// the ranked records are re-scored copies and the stored ones are kept beside them. Only reads.
pub fn load_what_if(
    store: &RunStore,
    set_by: SetBy,
    energy: EnergyBasis,
    what_if: Option<(WhatIf, usize)>,
) -> Result<Data, String> {
    let loaded = store.load().map_err(|e| format!("{e:#}"))?;
    let Some((what_if, region)) = what_if else {
        let ranking = rank_with(&loaded.records, set_by, energy).map_err(|e| format!("{e:#}"))?;
        return Data::new(loaded.records, ranking, loaded.warnings, set_by);
    };
    let rescored = what_if.apply(&loaded.records);
    let ranking = rank_with(&rescored, set_by, energy).map_err(|e| format!("{e:#}"))?;
    let mut data = Data::new(rescored, ranking, loaded.warnings, set_by)?;
    data.what_if = Some(super::whatif::Applied { what_if, region, stored: loaded.records });
    Ok(data)
}

/// Starts a load on its own thread; the answer arrives on `reply` wrapped by `wrap`.
pub fn spawn_load<M: Send + 'static>(
    store: RunStore,
    set_by: SetBy,
    energy: EnergyBasis,
    what_if: Option<(WhatIf, usize)>,
    generation: u64,
    reply: Sender<M>,
    wrap: fn(Loaded) -> M,
) {
    let work = move |reply: Sender<M>| {
        let result = load_what_if(&store, set_by, energy, what_if);
        // The UI may have quit meanwhile; nothing to do then.
        let _ = reply.send(wrap(Loaded { generation, result }));
    };
    // A loader that cannot start is a load that failed: the leaderboard shows why (R retries).
    super::threads::start("pepr-load", &reply, work, |why| wrap(Loaded { generation, result: Err(why) }));
}
