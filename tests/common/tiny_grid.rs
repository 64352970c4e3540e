//! A three-cell grid (pepr_lenet5 on 5% of the synthetic set, seeds 0, 1, 2, one epoch) shared by the
//! grid and Slurm tests.

/// `pepr grid` flags of the grid.
pub const GRID: [&str; 13] = [
    "grid",
    "--arch",
    "pepr_lenet5",
    "--dataset",
    "synthetic",
    "--fractions",
    "0.05",
    "--seeds",
    "0,1,2",
    "--epochs",
    "1",
    "--name",
    "tiny",
];

/// The id of the grid's cell with this seed.
pub fn cell(seed: u64) -> String {
    format!("synthetic/pepr_lenet5/scratch/f0.05/s{seed}")
}
