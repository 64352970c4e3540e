//! `pepr data list | info | download`.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};

use super::args::{DataCommand, Format};
use crate::data::registry::{self, Availability, Kind};
use crate::data::{download, medmnist};
use crate::format::human_count;
use crate::output::{self, Cell, Table};

pub fn run(command: DataCommand, data_dir: &Path) -> Result<()> {
    match command {
        DataCommand::List { format } => list(&mut std::io::stdout().lock(), data_dir, format),
        DataCommand::Info { name } => info(&mut std::io::stdout().lock(), data_dir, &name),
        DataCommand::Add { name, dir, size, channels, seed } => {
            let folder = registry::add_folder(data_dir, &name, &dir, size, channels, seed)?;
            let i = &folder.info;
            println!(
                "{name}: {} classes, train {} / val {} / test {} at {}x{}x{} from {}",
                i.classes.len(),
                i.splits[0],
                i.splits[1],
                i.splits[2],
                i.channels,
                i.size,
                i.size,
                folder.path.display()
            );
            Ok(())
        }
        DataCommand::Remove { name } => {
            registry::remove_folder(data_dir, &name)?;
            println!("{name}: forgotten (its images were not touched)");
            Ok(())
        }
        DataCommand::Download { name, size, base_url } => {
            let base = base_url.unwrap_or_else(|| download::ZENODO_BASE.to_string());
            let (flag, size) = split_name(&name, size)?;
            let set = medmnist::find(&flag).ok_or_else(|| {
                let flags: Vec<&str> = medmnist::sets().iter().map(|s| s.flag).collect();
                anyhow::anyhow!("no MedMNIST set named {flag:?}; known: {}", flags.join(", "))
            })?;
            use crate::progress::{Progress, Unit, WhenPlain};
            let file = medmnist::file_name(set.flag, size)?;
            let mut bar = Progress::new(format!("downloading {file}"), None, Unit::Bytes, WhenPlain::Lines);
            let downloaded = download::download_medmnist(set, size, data_dir, &base, &mut |done, total| {
                if let Some(total) = total {
                    bar.set_total(total);
                }
                bar.update(done, "");
            });
            bar.finish();
            let url = download::medmnist_url(&base, set.flag, size)?;
            let path = downloaded.map_err(|e| download_error(&file, &url, &e.to_string()))?;
            println!("{}: verified ({}, licence {})", path.display(), set.title, set.licence);
            Ok(())
        }
    }
}

/// What went wrong first, so it shows within 80 columns, and the long address on its own line:
/// "cannot download F: the server answered HTTP 404" / "  from URL".
fn download_error(file: &str, url: &str, message: &str) -> anyhow::Error {
    let what = message.strip_prefix(url).and_then(|m| m.strip_prefix(": ")).unwrap_or(message);
    let what = what.strip_prefix("cannot download: ").unwrap_or(what);
    if what.contains(url) {
        anyhow::anyhow!("cannot download {file}: {what}")
    } else {
        anyhow::anyhow!("cannot download {file}: {what}\n  from {url}")
    }
}

/// `dermamnist` + `--size 64`, or `dermamnist_64`.
fn split_name(name: &str, size: Option<usize>) -> Result<(String, usize)> {
    if let Some((flag, suffix)) = name.rsplit_once('_')
        && let Ok(from_name) = suffix.parse::<usize>()
    {
        if let Some(s) = size.filter(|&s| s != from_name) {
            bail!("{name} names size {from_name} but --size says {s}");
        }
        return Ok((flag.to_string(), from_name));
    }
    Ok((name.to_string(), size.unwrap_or(28)))
}

fn list(out: &mut impl Write, data_dir: &Path, format: Format) -> Result<()> {
    let (entries, problems) = registry::list_with_warnings(data_dir);
    for problem in problems {
        eprintln!("warning: {problem}");
    }
    match format {
        Format::Table => {
            // The widths of the layout before the writer; a longer cell widens its column.
            let table = Table::new(" ")
                .left("name")
                .min_width(20)
                .left("where")
                .min_width(13)
                .right("size")
                .min_width(5)
                .right("ch")
                .min_width(3)
                .right("classes")
                .min_width(7)
                .right("train/val/test")
                .min_width(22)
                .left("licence")
                .min_width(12)
                .separated_by("  ")
                .left("source");
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    let i = &e.info;
                    vec![
                        i.name.clone(),
                        e.availability.label().into(),
                        i.size.to_string(),
                        i.channels.to_string(),
                        i.classes.len().to_string(),
                        format!("{}/{}/{}", i.splits[0], i.splits[1], i.splits[2]),
                        i.licence.clone(),
                        i.source.clone(),
                    ]
                })
                .collect();
            table.write(out, &rows)?;
            writeln!(
                out,
                "\ndata dir: {}  (`pepr data download NAME` fetches a downloadable set)\n\
                 MedMNIST files are looked for in: {}",
                data_dir.display(),
                registry::medmnist_dirs(data_dir)
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
            Ok(())
        }
        Format::Csv => {
            let columns = [
                "name",
                "availability",
                "path",
                "size",
                "channels",
                "classes",
                "train",
                "val",
                "test",
                "licence",
                "source",
                "synthetic",
            ];
            let rows = entries.iter().map(|e| {
                let i = &e.info;
                let path = match &e.availability {
                    Availability::Local(p) => p.display().to_string(),
                    _ => String::new(),
                };
                vec![
                    Cell::Text(i.name.clone()),
                    Cell::Text(e.availability.label().into()),
                    Cell::Text(path),
                    Cell::Count(i.size as u64),
                    Cell::Count(i.channels as u64),
                    Cell::Count(i.classes.len() as u64),
                    Cell::Count(i.splits[0] as u64),
                    Cell::Count(i.splits[1] as u64),
                    Cell::Count(i.splits[2] as u64),
                    Cell::Text(i.licence.clone()),
                    Cell::Text(i.source.clone()),
                    Cell::Flag(i.synthetic),
                ]
            });
            output::write_csv(out, &columns, rows)
        }
        Format::Json => {
            // The class names and the splits as JSON values of their own (no CSV form).
            let json_only = |json: serde_json::Value| Cell::Both { csv: String::new(), json };
            let columns =
                ["name", "availability", "size", "channels", "classes", "splits", "licence", "source", "synthetic"];
            let rows = entries.iter().map(|e| {
                let i = &e.info;
                vec![
                    Cell::Text(i.name.clone()),
                    Cell::Text(e.availability.label().into()),
                    Cell::Count(i.size as u64),
                    Cell::Count(i.channels as u64),
                    json_only(serde_json::json!(i.classes)),
                    json_only(serde_json::json!({"train": i.splits[0], "val": i.splits[1], "test": i.splits[2]})),
                    Cell::Text(i.licence.clone()),
                    Cell::Text(i.source.clone()),
                    Cell::Flag(i.synthetic),
                ]
            });
            output::write_json(out, &columns, rows)
        }
    }
}

fn info(out: &mut impl Write, data_dir: &Path, name: &str) -> Result<()> {
    let entry = registry::find(name, data_dir)?;
    let i = &entry.info;
    writeln!(out, "{}{}", i.name, if i.synthetic { "  (SYNTHETIC: generated by pepr, not real data)" } else { "" })?;
    writeln!(out, "source:   {}", i.source)?;
    writeln!(out, "licence:  {}", i.licence)?;
    let place = match &entry.availability {
        Availability::Local(p) => format!("local, {}", p.display()),
        Availability::BuiltIn => "built-in (generated on demand)".into(),
        Availability::Downloadable => format!("not downloaded: `pepr data download {}`", i.name),
        Availability::Missing(p) => format!("MISSING: the registered folder {} is gone", p.display()),
    };
    writeln!(out, "where:    {place}")?;
    writeln!(out, "images:   {} x {}x{}", i.channels, i.size, i.size)?;
    let splits = |s: [usize; 3]| format!("train {}, val {}, test {}", s[0], s[1], s[2]);
    let total = |s: [usize; 3]| human_count(s.iter().sum::<usize>() as u64);
    match (&entry.kind, &entry.availability) {
        // A file on this machine speaks for itself: its own split sizes and whether it is the
        // published file (it may be a copy from elsewhere, e.g. the medmnist package's ~/.medmnist).
        (Kind::MedMnist { set, size }, Availability::Local(path)) => {
            let published = set.md5_for(*size).unwrap_or("?");
            match medmnist::file_split_sizes(path) {
                Ok(own) if own == i.splits => {
                    writeln!(out, "splits:   {} ({} images; as published)", splits(own), total(own))?
                }
                Ok(own) => writeln!(
                    out,
                    "splits:   {} ({} images) in this file; published: {}",
                    splits(own),
                    total(own),
                    splits(i.splits)
                )?,
                Err(e) => writeln!(out, "splits:   cannot be read from the file: {e}")?,
            }
            let verdict = match download::file_md5(path) {
                Ok(md5) if md5 == published => format!("{md5}, matches the published checksum"),
                Ok(md5) => format!("{md5}, DIFFERS from the published {published} (not the published file)"),
                Err(e) => format!("cannot be computed: {e}"),
            };
            writeln!(out, "file:     {}", medmnist::file_name(set.flag, *size)?)?;
            writeln!(out, "MD5:      {verdict}")?;
        }
        (Kind::MedMnist { set, size }, _) => {
            writeln!(out, "splits:   {} ({} images)", splits(i.splits), total(i.splits))?;
            writeln!(
                out,
                "file:     {} (MD5 {})",
                medmnist::file_name(set.flag, *size)?,
                set.md5_for(*size).unwrap_or("?")
            )?;
        }
        _ => writeln!(out, "splits:   {} ({} images)", splits(i.splits), total(i.splits))?,
    }
    writeln!(out, "classes:")?;
    for (k, class) in i.classes.iter().enumerate() {
        writeln!(out, "  {k:>2}  {class}")?;
    }
    writeln!(out, "\n{}", i.description)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::download_error;

    #[test]
    fn a_download_error_says_what_went_wrong_within_80_columns_and_the_address_below() {
        let url = "https://zenodo.org/records/10519652/files/pneumoniamnist_128.npz?download=1";
        let e = download_error("pneumoniamnist_128.npz", url, &format!("{url}: the server answered HTTP 404"));
        let text = format!("error: {e:#}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            ["error: cannot download pneumoniamnist_128.npz: the server answered HTTP 404", &format!("  from {url}")]
        );
        assert!(lines[0].len() <= 80);
        let refused = download_error("f.npz", url, &format!("{url}: cannot download: io: Connection refused"));
        assert_eq!(refused.to_string().lines().next(), Some("cannot download f.npz: io: Connection refused"));
        // A message that names the address itself is not repeated.
        let md5 =
            format!("/d/x.npz: MD5 mismatch: expected a, got b (downloaded from {url}; the download was deleted)");
        assert_eq!(download_error("x.npz", url, &md5).to_string(), format!("cannot download x.npz: {md5}"));
    }
}
