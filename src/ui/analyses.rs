//! The Analyses screen: the paper's three comparisons, one at a time.
//! (a) pretrained vs scratch: a sortable table paired by architecture (or a chart of ΔP against
//! the resource difference) under a summary; (b) the medians of P and PePR against the share of
//! training data; (c) PePR against log10(parameters), efficient architectures marked.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition, Paragraph, Wrap};

use crate::app::analyses::{AnalysesScreen, AnalysisView, PairedColumn};
use crate::app::plural;
use crate::results::analysis::{Family, Paired, ParamsGroup, fraction_label};
use crate::results::rank::Variant;

use super::table::text_table;
use crate::format::{TextColumn, fit, number, share, signed, signed_sig};

/// `no_runs`: why there are no runs to analyse (the store failed, is loading or is empty).
pub fn draw(frame: &mut Frame, area: Rect, screen: &AnalysesScreen, no_runs: Option<&str>) {
    let message = match &screen.result {
        _ if no_runs.is_some() => no_runs.map(str::to_string),
        None => Some("Computing the analyses…".to_string()),
        Some(Err(e)) => Some(format!("The analyses failed: {e}")),
        Some(Ok(_)) => None,
    };
    let title = format!(" {} ", screen.view.title());
    if let Some(message) = message {
        frame.render_widget(
            Paragraph::new(message).wrap(Wrap { trim: false }).block(Block::bordered().title(title)),
            area,
        );
        return;
    }
    let Some(analyses) = screen.analyses() else { return };
    match screen.view {
        AnalysisView::Pretrained => match analyses.paired.get(screen.pair_index) {
            Some(paired) => draw_paired(frame, area, screen, paired, analyses.paired.len()),
            None => empty(
                frame,
                area,
                &title,
                "No pair of groups to compare: it takes a group trained from scratch and a pretrained group \
                 (record field `pretrained`, or the paper's `_pt` groups) on the same dataset and data fraction.",
            ),
        },
        AnalysisView::Fraction => match analyses.families.get(screen.family_index) {
            Some(family) => draw_fraction(frame, area, screen, family, analyses.families.len()),
            None => empty(
                frame,
                area,
                &title,
                "No dataset has groups that differ only in the share of training data (e.g. derma and derma_small).",
            ),
        },
        AnalysisView::Params => match analyses.params.get(screen.group_index) {
            Some(group) => draw_params(frame, area, screen, group, analyses.params.len()),
            None => empty(frame, area, &title, "No run has a parameter count."),
        },
    }
}

fn empty(frame: &mut Frame, area: Rect, title: &str, text: &str) {
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(Block::bordered().title(title)), area);
}

fn short_resource(v: Variant) -> &'static str {
    ["E", "CO2", "time", "mem"][v.index()]
}

fn draw_paired(frame: &mut Frame, area: Rect, screen: &AnalysesScreen, paired: &Paired, pairs: usize) {
    let v = screen.variant;
    let pair = &paired.pair;
    let title = format!(
        " pretrained vs scratch {}/{pairs}: {} → {} ({}, {} of the data, {}) ",
        screen.pair_index + 1,
        pair.scratch,
        pair.pretrained,
        pair.dataset,
        fraction_label(pair.fraction),
        pair.source
    );
    let s = paired.summary(v);
    let r = short_resource(v);
    let summary = vec![
        Line::from(format!(
            " {} arch{} in both · ΔP (pretrained − scratch) mean {}, median {} · pretrained higher P: {}",
            s.archs,
            plural(s.archs),
            signed(s.mean_dp, 4),
            signed(s.median_dp, 4),
            share(s.p_wins, s.archs)
        )),
        Line::from(format!(
            " Δ{r} ({}) mean {}, median {}, median ratio {} · pretrained used less: {}",
            v.unit(),
            signed_sig(s.mean_dr, 3),
            signed_sig(s.median_dr, 3),
            number(s.median_r_ratio, 3),
            share(s.r_wins, s.with_resource)
        )),
    ];
    let width = area.width.saturating_sub(2) as usize;
    let block = Block::bordered().title(fit(&title, width)).title_bottom(
        Line::from(fit(
            &format!(
                " P: test performance · {r} in {} · means over seeds, n = runs scratch+pretrained · ratio = pt / scr ",
                v.unit()
            ),
            width,
        ))
        .right_aligned(),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Each summary line fits one row from 110 columns; narrower, they wrap onto two.
    let summary_height = if inner.width >= 108 { 2 } else { 4 };
    let [top, body] = Layout::vertical([Constraint::Length(summary_height), Constraint::Min(1)]).areas(inner);
    frame.render_widget(Paragraph::new(summary).wrap(Wrap { trim: false }).style(Style::new().fg(Color::Cyan)), top);
    if screen.chart {
        draw_paired_chart(frame, body, screen, paired);
    } else {
        draw_paired_table(frame, body, screen, paired);
    }
}

fn draw_paired_table(frame: &mut Frame, area: Rect, screen: &AnalysesScreen, paired: &Paired) {
    let v = screen.variant;
    let r = short_resource(v);
    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let arrow = if screen.descending() { "↓" } else { "↑" };
    let title =
        |column: PairedColumn, text: String| if column == screen.sort { format!("{text}{arrow}") } else { text };
    let height = area.height.saturating_sub(1) as usize;
    let rows = screen.rows();
    let offset = screen.cursor.offset(rows.len(), height);
    let i = v.index();
    let visible: Vec<(usize, usize)> = rows.iter().copied().enumerate().skip(offset).take(height.max(1)).collect();
    let row = |k: usize| &paired.rows[visible[k].1];
    let cells = |f: &dyn Fn(&crate::results::analysis::PairedRow) -> String| -> Vec<String> {
        (0..visible.len()).map(|k| f(row(k))).collect()
    };
    // Widths follow the content: on a narrow terminal the run counts and raw resources give way,
    // then cells end in "…"; a missing value is "—".
    // Runs that differ by more than the seed are rows of their own, named by what sets them apart
    // ("ep2") in a column of their own, so a long arch name is cut before that is.
    let mut columns: Vec<(Option<PairedColumn>, TextColumn)> = vec![(
        Some(PairedColumn::Arch),
        TextColumn::new(title(PairedColumn::Arch, "arch".into()), cells(&|r| r.arch.clone())).flex().max(40),
    )];
    if paired.rows.iter().any(|r| !r.setting.is_empty()) {
        columns.push((None, TextColumn::new("setting", cells(&|r| r.setting.clone())).max(16)));
    }
    columns.push((None, TextColumn::new("n", cells(&|r| format!("{}+{}", r.runs.0, r.runs.1))).right().drop(3)));
    let numbers: [(PairedColumn, String, Vec<String>, u8); 7] = [
        (PairedColumn::PScratch, "P scr".into(), cells(&|r| format!("{:.4}", r.p_scratch)), 0),
        (PairedColumn::PPretrained, "P pt".into(), cells(&|r| format!("{:.4}", r.p_pretrained)), 0),
        (PairedColumn::DeltaP, "ΔP".into(), cells(&|r| format!("{:+.4}", r.dp())), 0),
        (PairedColumn::RScratch, format!("{r} scr"), cells(&|r| number(r.r_scratch[i], 4)), 2),
        (PairedColumn::RPretrained, format!("{r} pt"), cells(&|r| number(r.r_pretrained[i], 4)), 2),
        (PairedColumn::DeltaR, format!("Δ{r}"), cells(&|r| signed_sig(r.dr(v), 3)), 0),
        (PairedColumn::RatioR, format!("{r} ratio"), cells(&|r| number(r.r_ratio(v), 3)), 1),
    ];
    for (column, heading, values, drop) in numbers {
        columns.push((Some(column), TextColumn::new(title(column, heading), values).right().drop(drop)));
    }
    let sort_of: Vec<Option<PairedColumn>> = columns.iter().map(|(c, _)| *c).collect();
    let columns: Vec<TextColumn> = columns.into_iter().map(|(_, t)| t).collect();
    let (table, _) = text_table(
        &columns,
        area.width,
        &|c| {
            if sort_of[c] == Some(screen.sort) { header_style.add_modifier(Modifier::UNDERLINED) } else { header_style }
        },
        &|k| {
            let (position, _) = visible[k];
            let row_data = row(k);
            if screen.cursor.is(position) {
                Style::new().add_modifier(Modifier::REVERSED)
            } else if row_data.dp() > 0.0 && row_data.dr(v).is_some_and(|d| d < 0.0) {
                Style::new().fg(Color::Green) // pretrained better and cheaper
            } else {
                Style::new()
            }
        },
    );
    frame.render_widget(table, area);
}

/// Bounds that contain every value and zero, with a little room.
fn bounds_with_zero(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
    [lo - pad, hi + pad]
}

fn axis_labels(bounds: [f64; 2], signed_labels: bool) -> Vec<Line<'static>> {
    let ticks = [bounds[0], (bounds[0] + bounds[1]) / 2.0, bounds[1]];
    super::chart::distinct_labels(ticks, 2)
        .into_iter()
        .zip(ticks)
        .map(|(text, x)| Line::from(if signed_labels && x > 0.0 { format!("+{text}") } else { text }))
        .collect()
}

fn draw_paired_chart(frame: &mut Frame, area: Rect, screen: &AnalysesScreen, paired: &Paired) {
    let v = screen.variant;
    let points: Vec<(f64, f64)> = paired.rows.iter().filter_map(|r| r.dr(v).map(|d| (d, r.dp()))).collect();
    let selected: Vec<(f64, f64)> = screen
        .rows()
        .get(screen.cursor.selected())
        .and_then(|&i| paired.rows[i].dr(v).map(|d| (d, paired.rows[i].dp())))
        .into_iter()
        .collect();
    if points.is_empty() {
        let text = format!("No architecture has a {} figure in both groups.", v.resource_name());
        frame.render_widget(Paragraph::new(text), area);
        return;
    }
    let x = bounds_with_zero(points.iter().map(|p| p.0));
    let y = bounds_with_zero(points.iter().map(|p| p.1));
    let zero_x = [(x[0], 0.0), (x[1], 0.0)];
    let zero_y = [(0.0, y[0]), (0.0, y[1])];
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::DarkGray))
            .data(&zero_x),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::DarkGray))
            .data(&zero_y),
        Dataset::default()
            .name("architecture")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Blue))
            .data(&points),
        Dataset::default()
            .name("selected")
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Yellow))
            .data(&selected),
    ];
    let chart = Chart::new(datasets)
        .block(Block::new().title(" ΔP against the resource difference: upper left = pretrained better and cheaper "))
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Percentage(50), Constraint::Percentage(50)))
        .x_axis(
            Axis::default()
                .title(format!("Δ{} {}", v.resource_name(), v.unit()))
                .bounds(x)
                .labels(axis_labels(x, true))
                .style(Style::new().fg(Color::Gray)),
        )
        .y_axis(Axis::default().title("ΔP").bounds(y).labels(axis_labels(y, true)).style(Style::new().fg(Color::Gray)));
    frame.render_widget(chart, area);
}

fn draw_fraction(frame: &mut Frame, area: Rect, screen: &AnalysesScreen, family: &Family, families: usize) {
    let v = screen.variant;
    let title = format!(
        " P and PePR-{} vs data fraction {}/{families}: {} ",
        v.letter(),
        screen.family_index + 1,
        family.label()
    );
    let summary = family.summary(v);
    let complete = summary.first().map_or(0, |s| s.archs);
    let width = area.width.saturating_sub(2) as usize;
    let block = Block::bordered().title(fit(&title, width)).title_bottom(
        Line::from(fit(
            &format!(
                " medians over the {complete} of {} architecture{} with runs at every level · ? = share not known ",
                family.archs.len(),
                plural(family.archs.len())
            ),
            width,
        ))
        .right_aligned(),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let table_height = (family.levels.len() as u16 + 1).min(inner.height / 2);
    let [chart_area, table_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(table_height)]).areas(inner);

    let p_line: Vec<(f64, f64)> =
        summary.iter().enumerate().filter_map(|(i, s)| s.median_p.map(|p| (i as f64, p))).collect();
    let score_line: Vec<(f64, f64)> =
        summary.iter().enumerate().filter_map(|(i, s)| s.median_score.map(|p| (i as f64, p))).collect();
    let last = (family.levels.len().max(2) - 1) as f64;
    let x_labels: Vec<Line> =
        family.levels.iter().map(|l| Line::from(format!("{} {}", fraction_label(l.fraction), l.group))).collect();
    let datasets = vec![
        Dataset::default()
            .name("median P")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Green))
            .data(&p_line),
        Dataset::default()
            .name(format!("median PePR-{}", v.letter()))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(&score_line),
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Green))
            .data(&p_line),
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Cyan))
            .data(&score_line),
    ];
    let chart = Chart::new(datasets)
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Percentage(60), Constraint::Percentage(60)))
        .x_axis(
            Axis::default()
                .title("levels, most data first")
                .bounds([0.0, last])
                .labels(x_labels)
                .style(Style::new().fg(Color::Gray)),
        )
        .y_axis(
            Axis::default()
                .title("P, PePR")
                .bounds([0.0, 1.0])
                .labels(["0", "0.5", "1"].map(Line::from).to_vec())
                .style(Style::new().fg(Color::Gray)),
        );
    frame.render_widget(chart, chart_area);

    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let levels = || family.levels.iter().zip(&summary);
    let columns = [
        TextColumn::new("group", levels().map(|(l, _)| l.group.clone()).collect()).flex().max(30),
        TextColumn::new("fraction", levels().map(|(l, _)| fraction_label(l.fraction)).collect()).right(),
        TextColumn::new("archs", levels().map(|(_, s)| s.archs.to_string()).collect()).right(),
        TextColumn::new("runs", levels().map(|(_, s)| s.runs.to_string()).collect()).right().drop(1),
        TextColumn::new("median P", levels().map(|(_, s)| number(s.median_p, 4)).collect()).right(),
        TextColumn::new(
            format!("median PePR-{}", v.letter()),
            levels().map(|(_, s)| number(s.median_score, 4)).collect(),
        )
        .right(),
    ];
    let (table, _) = text_table(&columns, table_area.width, &|_| header_style, &|_| Style::new());
    frame.render_widget(table, table_area);
}

fn draw_params(frame: &mut Frame, area: Rect, screen: &AnalysesScreen, group: &ParamsGroup, groups: usize) {
    let v = screen.variant;
    let i = v.index();
    let title = format!(
        " PePR-{} vs parameters {}/{groups}: {} ({}) ",
        v.letter(),
        screen.group_index + 1,
        group.group,
        group.dataset
    );
    let s = group.summary(v);
    let rho = s.spearman.map_or("—".into(), |r| format!("{r:+.3}"));
    let runs: usize = group.points.iter().map(|p| p.runs).sum();
    let line = Line::from(vec![Span::raw(format!(
        " {} arch{} ({runs} run{}) · median PePR-{}: efficient {} (n={}) vs other {} (n={}) · Spearman ρ(PePR-{}, log10 params) = {rho}",
        s.points,
        plural(s.points),
        plural(runs),
        v.letter(),
        number(s.median_efficient, 3),
        s.efficient,
        number(s.median_other, 3),
        s.other,
        v.letter()
    ))]);
    let block = Block::bordered()
        .title(fit(&title, area.width.saturating_sub(2) as usize))
        .title_bottom(Line::from(" █ efficient (as published / catalog) · • other ").right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // The summary wraps rather than losing the Spearman value at the edge.
    let summary = Paragraph::new(line).wrap(Wrap { trim: false }).style(Style::new().fg(Color::Cyan));
    let summary_height = (summary.line_count(inner.width) as u16).clamp(1, 3);
    let [top, body] = Layout::vertical([Constraint::Length(summary_height), Constraint::Min(1)]).areas(inner);
    frame.render_widget(summary, top);

    let point = |p: &crate::results::analysis::ParamsPoint| p.score[i].map(|s| ((p.params.max(1) as f64).log10(), s));
    let efficient: Vec<(f64, f64)> =
        group.points.iter().filter(|p| p.efficient == Some(true)).filter_map(point).collect();
    let other: Vec<(f64, f64)> = group.points.iter().filter(|p| p.efficient == Some(false)).filter_map(point).collect();
    let unknown: Vec<(f64, f64)> = group.points.iter().filter(|p| p.efficient.is_none()).filter_map(point).collect();
    let all = || efficient.iter().chain(&other).chain(&unknown);
    let (x_lo, x_hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (y_lo, y_hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if !x_lo.is_finite() {
        frame.render_widget(Paragraph::new(format!("No architecture here has a PePR-{} score.", v.letter())), body);
        return;
    }
    let x = [x_lo.floor(), x_hi.ceil().max(x_lo.floor() + 1.0)];
    let y = [((y_lo - 0.02) * 10.0).floor().max(0.0) / 10.0, ((y_hi + 0.02) * 10.0).ceil().min(10.0) / 10.0];
    let mut datasets = vec![
        Dataset::default()
            .name("other")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Blue))
            .data(&other),
        Dataset::default()
            .name("efficient")
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Green))
            .data(&efficient),
    ];
    if !unknown.is_empty() {
        datasets.push(
            Dataset::default()
                .name("not known")
                .marker(Marker::Dot)
                .graph_type(GraphType::Scatter)
                .style(Style::new().fg(Color::DarkGray))
                .data(&unknown),
        );
    }
    // Whole powers of ten from bound to bound, so the evenly spread labels sit on their values.
    let x_labels: Vec<Line> = (x[0] as i64..=x[1] as i64).map(|e| Line::from(format!("1e{e}"))).collect();
    let chart = Chart::new(datasets)
        .legend_position(Some(LegendPosition::BottomRight))
        .hidden_legend_constraints((Constraint::Percentage(50), Constraint::Percentage(50)))
        .x_axis(Axis::default().title("params (log10)").bounds(x).labels(x_labels).style(Style::new().fg(Color::Gray)))
        .y_axis(
            Axis::default()
                .title(format!("PePR-{}", v.letter()))
                .bounds(y)
                .labels(y.map(|b| Line::from(format!("{b:.1}"))).to_vec())
                .style(Style::new().fg(Color::Gray)),
        );
    frame.render_widget(chart, body);
}
