//! `pepr bench train | meter` and `pepr doctor`: this machine's throughput, meters and power sources.

use anyhow::{Context, Result, bail};

use super::args::{BenchCommand, MeterArgs};
use super::{ignore_broken_pipe, stored_settings};
use crate::home::Home;

pub(super) fn run(home: &Home, command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Train {
            archs,
            sizes,
            batch_size,
            steps,
            repeat,
            eval,
            compare,
            peer_script,
            threads,
            case_json,
        } => {
            use crate::train::bench;
            if case_json {
                let ([arch], [size]) = (archs.as_slice(), sizes.as_slice()) else {
                    bail!("--case-json measures one --arch at one --size");
                };
                return bench::run_case_json(&mut std::io::stdout(), arch, *size, batch_size, steps, eval, threads);
            }
            let archs =
                if archs.is_empty() { bench::DEFAULT_MODELS.iter().map(|s| s.to_string()).collect() } else { archs };
            let sizes = if sizes.is_empty() { bench::DEFAULT_SIZES.to_vec() } else { sizes };
            if batch_size == 0 || steps == 0 {
                bail!("--batch-size and --steps must be at least 1");
            }
            let peer = compare.map(|python| bench::Peer::new(python, peer_script)).transpose()?;
            // Each case in a fresh process of this binary (clean memory figures), on the same home.
            let program = std::env::current_exe().context("finding pepr's own binary to measure each case in")?;
            let leading_args = vec!["--home".into(), home.root().as_os_str().to_owned()];
            let child = Some(bench::Child { program, leading_args });
            let options = bench::Options { eval, peer, child, repeat: repeat as usize };
            let threads = threads.or(stored_settings(home).threads);
            // The table goes to stdout as it grows; the bar (stderr) says which case is measuring.
            use crate::progress::{Progress, Unit, WhenPlain};
            let total = (archs.len() * sizes.len()) as u64;
            let mut bar = Progress::new("bench", Some(total), Unit::Count("cases"), WhenPlain::Silent);
            let result = bench::run_reporting(
                &mut std::io::stdout(),
                &archs,
                &sizes,
                batch_size,
                steps,
                &options,
                threads,
                &mut |done: usize, _: usize, case: &str| bar.update(done as u64, case),
            );
            bar.finish();
            ignore_broken_pipe(result)
        }
        BenchCommand::Meter { seconds, meter } => {
            let settings = meter.settings(&stored_settings(home));
            if !(seconds.is_finite() && seconds > 0.0) || settings.sample_ms == 0 {
                bail!("--seconds and --sample-ms must be positive");
            }
            crate::meter::bench::run(&mut std::io::stdout().lock(), &settings, seconds)
        }
    }
}

/// `pepr doctor [--json]`.
pub(super) fn doctor(home: &Home, json: bool, meter: &MeterArgs) -> Result<()> {
    let settings = meter.settings(&stored_settings(home));
    let root = home.root().to_path_buf();
    ignore_broken_pipe(crate::meter::doctor::run(&mut std::io::stdout().lock(), &settings, Some(&root), json))
}
