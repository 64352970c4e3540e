//! `pepr weights import|list` and `pepr predict`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;

use crate::home::Home;
use crate::weights::predict::predict;
use crate::weights::store::{self, Normalisation};

/// `pepr weights ...`.
#[derive(Debug, Subcommand)]
pub enum WeightsCommand {
    /// Import a timm checkpoint (.safetensors, .pth, .pt, .bin) as weights of a catalog architecture.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The catalog architecture the checkpoint is for, e.g. efficientnet_lite0.
        #[arg(long, value_name = "NAME")]
        arch: String,
        /// Name to keep it under (default: the file's name without extension).
        #[arg(long, value_name = "N")]
        name: Option<String>,
        /// Pixel normalisation the weights expect (default: imagenet; symmetric for efficientnet_pytorch-named
        /// EfficientNet-Lite weights, converted from TensorFlow).
        #[arg(long, value_enum, value_name = "NORM")]
        normalisation: Option<Normalisation>,
    },
    /// Imported weights, per architecture.
    List {
        #[arg(long, value_name = "A")]
        arch: Option<String>,
    },
}

pub fn run(home: &Home, command: WeightsCommand) -> Result<()> {
    match command {
        WeightsCommand::Import { file, arch, name, normalisation } => {
            let (meta, report) = store::import(home, &file, &arch, name.as_deref(), normalisation)?;
            println!(
                "imported {} as {}/{} ({} naming, {} channels, {} classes, {:?} normalisation): {report}",
                file.display(),
                meta.arch,
                meta.name,
                meta.naming,
                meta.in_chans,
                meta.classes,
                meta.normalisation
            );
            println!("stored in {}", store::entry_dir(home, &meta.arch, &meta.name).display());
        }
        WeightsCommand::List { arch } => {
            let (found, warnings) = store::list(home, arch.as_deref());
            for warning in &warnings {
                eprintln!("warning: {warning}");
            }
            let mut out = std::io::stdout().lock();
            if found.is_empty() {
                writeln!(out, "no imported weights (see `pepr weights import FILE --arch NAME`)")?;
            } else {
                // The widths of the layout before the writer; a longer cell widens its column.
                let table = crate::output::Table::new(" ")
                    .left("arch")
                    .min_width(24)
                    .left("name")
                    .min_width(28)
                    .right("ch")
                    .min_width(3)
                    .right("classes")
                    .min_width(7)
                    .left("naming")
                    .min_width(20)
                    .left("sha256")
                    .min_width(12)
                    .left("source");
                let rows: Vec<Vec<String>> = found
                    .iter()
                    .map(|m| {
                        vec![
                            m.arch.clone(),
                            m.name.clone(),
                            m.in_chans.to_string(),
                            m.classes.to_string(),
                            m.naming.to_string(),
                            m.sha256[..12.min(m.sha256.len())].to_string(),
                            m.source_file.to_string(),
                        ]
                    })
                    .collect();
                table.write(&mut out, &rows)?;
            }
        }
    }
    Ok(())
}

/// `pepr predict`: each image's top classes with probabilities.
pub fn run_predict(home: &Home, arch: &str, weights: &str, images: &[PathBuf], top: usize) -> Result<()> {
    let predictions = predict(home, arch, weights, images, top)?;
    let mut out = std::io::stdout().lock();
    for p in predictions {
        writeln!(out, "{}", display(&p.image))?;
        for (name, prob) in p.top {
            writeln!(out, "  {:>6.2}%  {name}", prob * 100.0)?;
        }
    }
    Ok(())
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
