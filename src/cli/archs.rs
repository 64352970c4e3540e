//! `pepr archs [show NAME]`: the architecture catalog, or one architecture's layers.

use anyhow::Result;

use super::args::{ArchsCommand, Format};
use super::ignore_broken_pipe;

pub(super) fn run(
    command: Option<ArchsCommand>,
    input: Option<(usize, usize, usize)>,
    classes: usize,
    format: Format,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        Some(ArchsCommand::Show { name, input, classes }) => {
            crate::catalog::report::print_breakdown(&mut out, &name, input, classes)
        }
        None => {
            let result = match format {
                Format::Table => crate::catalog::report::print_table(&mut out, input, classes),
                Format::Csv => crate::catalog::report::print_csv(&mut out, input, classes),
                Format::Json => crate::catalog::report::print_json(&mut out, input, classes),
            };
            ignore_broken_pipe(result)
        }
    }
}
