//! Figures as image files, for slides and reports: `pepr plot` and the TUI's export key. `figure`
//! decides what is shown (pure, tested on the paper's runs); `render` draws it with plotters.

pub mod figure;
pub mod render;

pub use figure::{Choice, Figure, Inputs, Kind, build};
pub use render::write;
