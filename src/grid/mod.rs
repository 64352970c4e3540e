//! The paper's experiment grid: architectures x datasets x starts (scratch, pretrained) x data
//! fractions x seeds, each cell one training run with a stable id and a comparison group named like
//! the paper's (`derma`, `derma_pt`, `derma_small`, ...).
//!
//! - [`spec`]: the [`GridSpec`] and its file in the home (`grids/NAME.json`);
//! - [`names`]: group names and cell ids;
//! - [`expand`]: the cross product as [`Cell`]s with full training configurations;
//! - [`resume`]: which cells the run store already holds as completed;
//! - [`slurm`]: the cells not yet done as one Slurm job array;
//! - [`cli`]: `pepr grid`.

pub mod expand;
pub mod resume;
pub mod slurm;
pub mod spec;

pub use expand::{Cell, expand};
pub use resume::{CellState, cell_states, pending};
pub use spec::{GridSpec, Start, TrainSettings};
