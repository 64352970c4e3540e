//! `pepr analyze` (the paper's analyses as a table, CSV or JSON) and `pepr plot` (figures).

use anyhow::Result;

use super::args::{AnalysisArg, AnalyzeArgs, PlotArgs};
use super::rank::load_and_rank;
use super::{ignore_broken_pipe, stored_settings};
use crate::home::Home;
use crate::results::record::RunRecord;
use crate::results::store::RunStore;

/// `pepr analyze pretrained|fraction|params`.
pub(super) fn analyze(home: &Home, store: &RunStore, args: AnalyzeArgs) -> Result<()> {
    use crate::results::analysis_report::{Which, print};
    let AnalyzeArgs { analysis, dataset, variant, format } = args;
    let loaded = store.load()?;
    for line in loaded.warning_lines() {
        eprintln!("{line}");
    }
    let energy = stored_settings(home).rank_energy();
    // A group whose runs' figures cover different scopes compares different things.
    let mut groups: std::collections::BTreeMap<&str, Vec<&RunRecord>> = Default::default();
    for r in &loaded.records {
        let wanted = dataset.as_deref().is_none_or(|d| r.group == d || r.dataset == d || r.group.starts_with(d));
        if wanted {
            groups.entry(r.group.as_str()).or_default().push(r);
        }
    }
    for (group, runs) in groups {
        if let Some(w) = crate::results::record::mixed_scopes(runs) {
            eprintln!("warning: {group}: {w}");
        }
    }
    let analyses = crate::results::analysis::analyze_on(&loaded.records, energy)?;
    let which = match analysis {
        AnalysisArg::Pretrained => Which::Pretrained,
        AnalysisArg::Fraction => Which::Fraction,
        AnalysisArg::Params => Which::Params,
    };
    let mut out = std::io::stdout().lock();
    ignore_broken_pipe(print(&mut out, &analyses, which, dataset.as_deref(), variant, format))
}

/// `pepr plot KIND --out FILE`.
pub(super) fn plot(home: &Home, store: &RunStore, args: PlotArgs) -> Result<()> {
    let PlotArgs { kind, group, variant, runs, out, set_by } = args;
    // Checked before the store is read: a wrong extension costs nothing.
    crate::plot::render::Format::of(&out)?;
    let energy = stored_settings(home).rank_energy();
    let (records, ranking) = load_and_rank(store, set_by.into(), energy)?;
    let analyses = match kind {
        crate::plot::Kind::Pareto | crate::plot::Kind::Curves => None,
        _ => Some(crate::results::analysis::analyze_on(&records, energy)?),
    };
    let inputs = crate::plot::Inputs { records: &records, ranking: &ranking, analyses: analyses.as_ref() };
    let figure = crate::plot::build(kind, &inputs, &crate::plot::Choice { group, variant, runs })?;
    let path = crate::plot::write(&figure, &out)?;
    println!("{}: {} ({} points)", path.display(), figure.title, figure.markers());
    Ok(())
}
