use clap::Parser;

use pepr::cli::{Cli, Command, home_of, run};

fn main() {
    // Before any thread starts: training reuses freed memory instead of faulting it in again.
    pepr::train::alloc::keep_freed_memory();
    let cli = Cli::parse();
    let result = home_of(&cli).and_then(|home| match cli.command {
        None | Some(Command::Tui) => pepr::app::run_tui(home, pepr::ui::draw),
        Some(command) => run(&home, command),
    });
    if let Err(error) = result {
        // One line: anyhow's alternate form joins the context chain with ": ".
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
