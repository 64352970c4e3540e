//! Resource meters: carbon intensity and CPU rated power tables (and, with the sampler, power sources).

pub mod carbon;
pub mod tdp;
