//! timm's mixer family: not built yet.

use crate::catalog::Entry;

pub static ENTRIES: &[Entry] = &[];
