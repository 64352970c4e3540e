//! The details pane: every field of the selected run, its four scores, and its per-epoch curve.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline, Wrap};

use crate::app::Data;
use crate::app::runs::RunsScreen;
use crate::results::rank::{RankedRun, Variant};

use super::format::{human_count, sig};

pub fn draw(frame: &mut Frame, area: Rect, screen: &RunsScreen, data: &Data) {
    let block = Block::bordered()
        .title(" details (Enter/Esc closes) ")
        .title_bottom(Line::from(" PgUp PgDn scroll ").right_aligned());
    let Some((record, run)) = screen.selected_run(Some(data)) else {
        frame.render_widget(Paragraph::new("No run selected.").block(block), area);
        return;
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [text_area, curve_area] = Layout::vertical([Constraint::Min(1), Constraint::Length(3)]).areas(inner);

    let dim = Style::new().fg(Color::DarkGray);
    // Values come from files: control characters show as escapes (crate::text::clean).
    let field = |name: &str, value: String| {
        Line::from(vec![Span::styled(format!("{name:<10}"), dim), Span::raw(crate::text::clean(&value).into_owned())])
    };
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    let mut lines = vec![
        Line::from(vec![
            crate::text::clean(&record.arch).into_owned().bold(),
            Span::styled(format!("  {}", crate::text::clean(&record.id)), dim),
        ]),
        field(
            "P",
            format!(
                "{} ({}), {}",
                record.measured_p().map_or("— (no test before it ended)".into(), |p| format!("{p:.4}")),
                record.metric,
                record.status.label()
            ),
        ),
        Line::from(Span::styled(format!("{:<10}{:<14}{:<7}{:<8}{}", "resource", "value", "R_n", "PePR", "rank"), dim)),
    ];
    for v in Variant::ALL {
        let i = v.index();
        let value = v.resource(record).map_or("—".into(), |x| format!("{} {}", sig(x, 4), short_unit(v)));
        let text = format!(
            "{value:<14}{:<7}{:<8}{}{}",
            run.normalised[i].map_or("—".into(), |x| format!("{x:.3}")),
            run.score[i].map_or("—".into(), |x| format!("{x:.4}")),
            run.rank[i].map_or("—".into(), |r| format!("#{r}")),
            if run.pareto[i] { " front" } else { "" },
        );
        let mut line = field(["energy", "CO2", "time", "memory"][i], text);
        if v == screen.variant {
            line = line.style(Style::new().add_modifier(Modifier::BOLD));
        }
        lines.push(line);
    }
    // The energy and CO2 bands ("0.012 kWh, 0.005-0.035 kWh, estimated"), and whether the rank holds within them.
    let m = &record.measurement;
    if let (Some(e), Some(lo), Some(hi)) = (record.energy_kwh, m.energy_kwh_low, m.energy_kwh_high) {
        let how = record.power_source.as_ref().map_or("", |p| if p.measured { ", measured" } else { ", estimated" });
        let co2 = match (record.co2_g, m.co2_g_low, m.co2_g_high) {
            (Some(c), Some(cl), Some(ch)) => format!("; {} g, {}-{} g", sig(c, 3), sig(cl, 2), sig(ch, 2)),
            _ => String::new(),
        };
        let band =
            app_row(data, run).and_then(|row| data.rank_bands[screen.variant.index()].get(row).copied().flatten());
        let rank = match band {
            Some(b) if !b.certain() => format!("; rank could be #{}-#{} within the bands", b.best, b.worst),
            Some(_) => "; rank holds within the bands".into(),
            None => String::new(),
        };
        lines.push(field("band", format!("{} kWh, {}-{} kWh{how}{co2}{rank}", sig(e, 3), sig(lo, 2), sig(hi, 2))));
    }
    lines.extend([
        field("set", format!("{} (group {}, dataset {})", set_name(data, run), record.group, record.dataset)),
        field(
            "model",
            format!(
                "{}{}{}, {} params, {} MACs",
                record.kind.label(),
                record.family.as_ref().map_or(String::new(), |f| format!(" ({f} family)")),
                if record.efficient == Some(true) { ", efficient" } else { "" },
                opt(record.params.map(human_count)),
                opt(record.macs.map(human_count)),
            ),
        ),
        field("start", record.pretrained.clone().map_or("from scratch".into(), |p| format!("pretrained: {p}"))),
        field(
            "training",
            format!(
                "{} epoch{}, batch {}, lr {}, seed {}, data {}",
                opt(record.epochs.map(|e| e.to_string())),
                crate::app::plural(record.epochs.unwrap_or(0) as usize),
                opt(record.batch_size.map(|b| b.to_string())),
                opt(record.lr.map(|l| l.to_string())),
                opt(record.seed.map(|s| s.to_string())),
                record.data_fraction.map_or("—".into(), |f| format!("{:.0}%", f * 100.0)),
            ),
        ),
        field(
            "ran on",
            format!(
                "backend {}, device {}{}",
                opt(record.backend.clone()),
                opt(record.device.clone()),
                m.threads.map_or(String::new(), |t| format!(", {t} threads"))
            ),
        ),
        field("memory", opt(record.memory_kind.clone())),
        field("power", opt(record.power_source.as_ref().map(|p| p.label()))),
        field(
            "intensity",
            record.carbon_intensity_g_per_kwh.map_or("—".into(), |c| {
                let source = record.meters.as_ref().and_then(|m| m.carbon_intensity_source.clone());
                match source {
                    Some(source) => format!("{} g CO2-eq/kWh, {source}", sig(c, 4)),
                    None => format!("{} g CO2-eq/kWh", sig(c, 4)),
                }
            }),
        ),
        field("origin", record.origin.label()),
        field("created", record.created_at.format("%Y-%m-%d %H:%M UTC").to_string()),
    ]);
    // What the figures cover, where it is not pepr's own convention (whole run, training + evaluation).
    let scope = crate::results::record::Scope::of(record);
    if scope.time.is_some()
        && (scope.time != Some(crate::results::record::TimeScope::WholeRun) || scope.includes_pue == Some(true))
    {
        lines.push(field("scope", scope.label()));
    }
    // Runs trained here: how their figures were metered, and the totals predicted after epoch 1.
    if let Some(m) = &record.meters {
        let flops = m.achieved_flops_per_s.map_or("—".into(), |f| format!("{} est.", crate::format::si(f, "FLOP/s")));
        let peak = match (m.achieved_flops_per_s, m.peak_flops_per_s) {
            (Some(a), Some(p)) if p > 0.0 => format!(" ({:.1}% of peak)", 100.0 * a / p),
            _ => String::new(),
        };
        lines.push(field("compute", format!("{flops}{peak}")));
        lines.push(field("pue", m.pue.map_or("—".into(), |p| sig(p, 3))));
    }
    if let Some(p) = &record.prediction {
        let energy = p.energy_kwh.map_or(String::new(), |e| format!(", {} kWh", sig(e, 3)));
        let co2 = p.co2_g.map_or(String::new(), |c| format!(", {} g", sig(c, 3)));
        lines.push(field("predicted", format!("after epoch {}: {:.0} s{energy}{co2}", p.after_epochs, p.time_s)));
    }
    // PgUp/PgDn scroll the fields; the scroll stops where the last line shows.
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let total = paragraph.line_count(text_area.width) as usize;
    let max_scroll = total.saturating_sub(text_area.height as usize);
    let scroll = screen.details_scroll.min(max_scroll);
    let paragraph = if max_scroll > 0 {
        let more =
            if scroll < max_scroll { format!(" ↓ {} more lines ", max_scroll - scroll) } else { String::new() };
        paragraph.block(Block::new().title_bottom(Line::from(more).right_aligned()))
    } else {
        paragraph
    };
    frame.render_widget(paragraph.scroll((scroll as u16, 0)), text_area);

    // Sparkline bars are integers: per-mille of P, on a fixed 0..1 scale.
    let curve: Vec<u64> = record.epoch_perf.iter().map(|p| (p * 1000.0).round() as u64).collect();
    let [label, bars] = Layout::horizontal([Constraint::Length(10), Constraint::Min(1)]).areas(curve_area);
    let lo = record.epoch_perf.iter().copied().reduce(f64::min);
    let hi = record.epoch_perf.iter().copied().reduce(f64::max);
    let range = match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{lo:.2}-{hi:.2}"),
        _ => "no curve".into(),
    };
    frame.render_widget(Paragraph::new(vec![Line::styled("per epoch", dim), Line::from(range)]), label);
    frame.render_widget(Sparkline::default().data(&curve).max(1000).style(Style::new().fg(Color::Cyan)), bars);
}

fn short_unit(v: Variant) -> &'static str {
    ["kWh", "g", "s", "GB"][v.index()]
}

/// The position of `run` in the ranking (rank bands are indexed by it).
fn app_row(data: &Data, run: &RankedRun) -> Option<usize> {
    data.ranking.runs.iter().position(|r| std::ptr::eq(r, run))
}

fn set_name<'a>(data: &'a Data, run: &RankedRun) -> &'a str {
    data.ranking.set_name(run)
}
