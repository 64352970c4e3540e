//! P against the chosen resource for the current set: the Pareto front joined by a line, and PePR
//! iso-lines. With R_n = (R - min)/(max - min), the iso-line P / (1 + R_n) = c is the straight
//! line P = c (1 + R_n), so it is drawn in the resource's own units between the set's min and max.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition, Paragraph};

use crate::app::{App, Data};

use super::format::sig;

/// Iso-lines through the set's best score and at these fractions of it.
const ISO_FRACTIONS: [f64; 3] = [1.0, 0.8, 0.6];

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let Some(data) = &app.data else { return };
    let v = app.variant;
    let i = v.index();
    let title = format!(" P vs {} ({}) · PePR-{} ", v.resource_name(), v.unit(), v.letter());
    let block = Block::bordered().title(title);

    // Min and max over the whole set, as the normalisation uses them (the filter does not change them).
    let set = app.set_index;
    let in_set = data.ranking.runs.iter().filter(|r| r.set == set);
    let resources: Vec<f64> = in_set.clone().filter_map(|r| v.resource(&data.records[r.index])).collect();
    let best = in_set.filter_map(|r| r.score[i]).fold(f64::NAN, f64::max);
    let (Some(lo), Some(hi)) = (resources.iter().cloned().reduce(f64::min), resources.iter().cloned().reduce(f64::max))
    else {
        let text = format!(
            "No run in this set has a {} figure, so there is no PePR-{} to plot.",
            v.resource_name(),
            v.letter()
        );
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };

    let mut front = Vec::new();
    let mut others = Vec::new();
    let mut selected = Vec::new();
    for (position, &row) in app.rows().iter().enumerate() {
        let run = &data.ranking.runs[row];
        let record = &data.records[run.index];
        let Some(x) = v.resource(record) else {
            continue;
        };
        let point = (x, record.performance);
        if position == app.selected {
            selected.push(point);
        }
        if run.pareto[i] { front.push(point) } else { others.push(point) }
    }
    front.sort_by(|a, b| a.0.total_cmp(&b.0));

    let span = if hi > lo { hi - lo } else { 1.0 };
    let x_bounds = [lo - 0.03 * span, hi + 0.03 * span];
    let y_bounds = performance_bounds(data, set);
    let iso_lines: Vec<(f64, Vec<(f64, f64)>)> = ISO_FRACTIONS
        .iter()
        .filter(|_| best.is_finite() && best > 0.0)
        .filter_map(|fraction| {
            let c = best * fraction;
            // P = c (1 + t) for t in [0, 1], cut to the plotted P range.
            let t_start = (y_bounds[0] / c - 1.0).max(0.0);
            let t_end = (y_bounds[1] / c - 1.0).min(1.0);
            (t_start < t_end).then(|| {
                let x = |t: f64| lo + t * span;
                (c, vec![(x(t_start), c * (1.0 + t_start)), (x(t_end), c * (1.0 + t_end))])
            })
        })
        .collect();

    let mut datasets: Vec<Dataset> = iso_lines
        .iter()
        .map(|(c, points)| {
            Dataset::default()
                .name(format!("PePR={c:.3}"))
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::DarkGray))
                .data(points)
        })
        .collect();
    datasets.push(
        Dataset::default()
            .name("runs")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Blue))
            .data(&others),
    );
    datasets.push(
        Dataset::default()
            .name("Pareto front")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Green))
            .data(&front),
    );
    datasets.push(
        Dataset::default()
            .name("selected")
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Yellow))
            .data(&selected),
    );

    let x_labels =
        [x_bounds[0], (x_bounds[0] + x_bounds[1]) / 2.0, x_bounds[1]].map(|x| Line::from(sig(x.max(0.0), 3)));
    let chart = Chart::new(datasets)
        .block(block)
        .legend_position(Some(LegendPosition::BottomRight))
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Percentage(60),
            ratatui::layout::Constraint::Percentage(60),
        ))
        .x_axis(
            Axis::default()
                .title(format!("{} {}", v.resource_name(), v.unit()))
                .bounds(x_bounds)
                .labels(x_labels)
                .style(Style::new().fg(Color::Gray)),
        )
        .y_axis(
            Axis::default()
                .title("P")
                .bounds(y_bounds)
                .labels(y_bounds.map(|y| Line::from(format!("{y:.1}"))))
                .style(Style::new().fg(Color::Gray)),
        );
    frame.render_widget(chart, area);
}

/// P axis: the set's P range widened to tenths, within [0, 1], so close scores stay apart.
fn performance_bounds(data: &Data, set: usize) -> [f64; 2] {
    let ps = data.ranking.runs.iter().filter(|r| r.set == set).map(|r| data.records[r.index].performance);
    let (lo, hi) = ps.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p), hi.max(p)));
    if !lo.is_finite() {
        return [0.0, 1.0];
    }
    let lo = ((lo - 0.02) * 10.0).floor() / 10.0;
    let hi = ((hi + 0.02) * 10.0).ceil() / 10.0;
    [lo.max(0.0), hi.min(1.0)]
}
