//! The Analyses screen: the paper's three comparisons, one at a time.
//! (a) pretrained vs scratch: a sortable table paired by architecture (or a chart of ΔP against
//! the resource difference) under a summary; (b) the medians of P and PePR against the share of
//! training data; (c) PePR against log10(parameters), efficient architectures marked.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Cell, Chart, Dataset, GraphType, LegendPosition, Paragraph, Row, Table, Wrap};

use crate::app::App;
use crate::app::analyses::{AnalysesScreen, AnalysisView, PairedColumn};
use crate::results::analysis::{Family, Paired, ParamsGroup, fraction_label};
use crate::results::rank::Variant;

use crate::format::{number, share, sig, signed, signed_sig};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let screen = &app.analyses;
    let message = match &screen.result {
        _ if app.load_error.is_some() => Some("The run store could not be loaded (see screen 1).".to_string()),
        _ if app.data.is_none() => Some("Loading runs…".to_string()),
        _ if app.is_empty_store() => Some(
            "No runs in the store yet: import the paper's results (i on screen 1, or pepr import --paper) \
             or train some, then press R."
                .to_string(),
        ),
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
            " {} archs in both · ΔP (pretrained − scratch) mean {}, median {} · pretrained higher P: {}",
            s.archs,
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
    let block = Block::bordered().title(title).title_bottom(
        Line::from(format!(" P: test performance · {r} in {} · seed means · ratio = pretrained / scratch ", v.unit()))
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
    let titles = [
        (PairedColumn::Arch, "arch".to_string()),
        (PairedColumn::PScratch, "P scr".into()),
        (PairedColumn::PPretrained, "P pt".into()),
        (PairedColumn::DeltaP, "ΔP".into()),
        (PairedColumn::RScratch, format!("{r} scr")),
        (PairedColumn::RPretrained, format!("{r} pt")),
        (PairedColumn::DeltaR, format!("Δ{r}")),
        (PairedColumn::RatioR, format!("{r} ratio")),
    ];
    let header: Vec<Cell> = titles
        .iter()
        .map(|(column, title)| {
            if *column == screen.sort {
                Cell::from(format!("{title}{arrow}")).style(header_style.add_modifier(Modifier::UNDERLINED))
            } else {
                Cell::from(title.clone()).style(header_style)
            }
        })
        .collect();
    let height = area.height.saturating_sub(1) as usize;
    let rows = screen.rows();
    let offset = super::scroll_to(&screen.scroll, screen.selected, rows.len(), height);
    let i = v.index();
    let table_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height.max(1))
        .map(|(position, &row)| {
            let row_data = &paired.rows[row];
            let cells = vec![
                Cell::from(row_data.arch.clone()),
                Cell::from(format!("{:.4}", row_data.p_scratch)),
                Cell::from(format!("{:.4}", row_data.p_pretrained)),
                Cell::from(format!("{:+.4}", row_data.dp())),
                Cell::from(number(row_data.r_scratch[i], 4)),
                Cell::from(number(row_data.r_pretrained[i], 4)),
                Cell::from(signed_sig(row_data.dr(v), 3)),
                Cell::from(number(row_data.r_ratio(v), 3)),
            ];
            let style = if position == screen.selected {
                Style::new().add_modifier(Modifier::REVERSED)
            } else if row_data.dp() > 0.0 && row_data.dr(v).is_some_and(|d| d < 0.0) {
                Style::new().fg(Color::Green) // pretrained better and cheaper
            } else {
                Style::new()
            };
            Row::new(cells).style(style)
        })
        .collect();
    let arch_width = paired.rows.iter().map(|r| r.arch.chars().count()).max().unwrap_or(4).clamp(6, 28) as u16;
    let widths = [
        Constraint::Length(arch_width),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    frame.render_widget(Table::new(table_rows, widths).header(Row::new(header)).column_spacing(1), area);
}

/// Bounds that contain every value and zero, with a little room.
fn bounds_with_zero(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
    [lo - pad, hi + pad]
}

fn axis_labels(bounds: [f64; 2], signed_labels: bool) -> Vec<Line<'static>> {
    [bounds[0], (bounds[0] + bounds[1]) / 2.0, bounds[1]]
        .map(|x| {
            let text = sig(x, 2);
            Line::from(if signed_labels && x > 0.0 { format!("+{text}") } else { text })
        })
        .to_vec()
}

fn draw_paired_chart(frame: &mut Frame, area: Rect, screen: &AnalysesScreen, paired: &Paired) {
    let v = screen.variant;
    let points: Vec<(f64, f64)> = paired.rows.iter().filter_map(|r| r.dr(v).map(|d| (d, r.dp()))).collect();
    let selected: Vec<(f64, f64)> = screen
        .rows()
        .get(screen.selected)
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
    let block = Block::bordered().title(title).title_bottom(
        Line::from(format!(
            " medians over the {complete} of {} architectures with runs at every level · ? = share not known ",
            family.archs.len()
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
    let header = Row::new(
        ["group", "fraction", "archs", "median P", &format!("median PePR-{}", v.letter())]
            .map(|t| Cell::from(t.to_string()).style(header_style)),
    );
    let rows: Vec<Row> = family
        .levels
        .iter()
        .zip(&summary)
        .map(|(level, s)| {
            Row::new([
                level.group.clone(),
                fraction_label(level.fraction),
                s.archs.to_string(),
                number(s.median_p, 4),
                number(s.median_score, 4),
            ])
        })
        .collect();
    let group_width = family.levels.iter().map(|l| l.group.chars().count()).max().unwrap_or(5).max(5) as u16;
    let widths = [
        Constraint::Length(group_width),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(13),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1), table_area);
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
    let line = Line::from(vec![Span::raw(format!(
        " {} archs · median PePR-{}: efficient {} (n={}) vs other {} (n={}) · Spearman ρ(PePR-{}, log10 params) = {rho}",
        s.points,
        v.letter(),
        number(s.median_efficient, 3),
        s.efficient,
        number(s.median_other, 3),
        s.other,
        v.letter()
    ))]);
    let block = Block::bordered()
        .title(title)
        .title_bottom(Line::from(" █ efficient (as published / catalog) · • other ").right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [top, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    frame.render_widget(Paragraph::new(line).style(Style::new().fg(Color::Cyan)), top);

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
