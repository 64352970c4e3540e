//! P against the chosen resource for the current set: the Pareto front joined by a line, and PePR
//! iso-lines. With R_n = (R - min)/(max - min), the iso-line P / (1 + R_n) = c is the straight
//! line P = c (1 + R_n), so it is drawn in the resource's own units between the set's min and max.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition, Paragraph};

use crate::app::Data;
use crate::app::runs::RunsScreen;

use super::format::sig;

/// Iso-lines through the set's best score and at these fractions of it.
const ISO_FRACTIONS: [f64; 3] = [1.0, 0.8, 0.6];

pub fn draw(frame: &mut Frame, area: Rect, screen: &RunsScreen, data: &Data) {
    let v = screen.variant;
    let i = v.index();
    let title = format!(" P vs {} ({}) · PePR-{} ", v.resource_name(), v.unit(), v.letter());
    let block = Block::bordered().title(title);

    // Min and max over the set's ranked runs, as the normalisation uses them (the filter does not
    // change them). Only ranked runs are plotted: an interrupted or failed run has no score, and one
    // that ended before its first test has no P at all.
    let set = screen.set_index;
    let in_set = data.ranking.runs.iter().filter(|r| r.set == set && r.score[i].is_some());
    let resources: Vec<f64> = in_set.clone().filter_map(|r| data.ranking.resource(v, &data.records[r.index])).collect();
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
    let mut selected_name = None;
    for (position, &row) in screen.rows().iter().enumerate() {
        let run = &data.ranking.runs[row];
        let record = &data.records[run.index];
        let (Some(x), Some(_)) = (data.ranking.resource(v, record), run.score[i]) else {
            if screen.cursor.is(position) {
                selected_name = Some(format!("{}: not plotted (no PePR-{})", record.arch, v.letter()));
            }
            continue;
        };
        let point = (x, record.performance);
        if screen.cursor.is(position) {
            selected.push(point);
            selected_name = Some(format!(
                "{}: P {:.4}, {} {}, PePR-{} {:.4}",
                record.arch,
                record.performance,
                sig(x, 3),
                v.unit(),
                v.letter(),
                run.score[i].unwrap_or(f64::NAN)
            ));
        }
        if run.pareto[i] { front.push(point) } else { others.push(point) }
    }
    front.sort_by(|a, b| a.0.total_cmp(&b.0));

    let span = if hi > lo { hi - lo } else { 1.0 };
    // One value for every run (all 0 without a meter): a range around it that does not cross
    // zero, so the axis never reads "0 … 0 … 0.03".
    let x_bounds = match (hi > lo, lo > 0.0) {
        (true, _) => [lo - 0.03 * span, hi + 0.03 * span],
        (false, true) => [0.9 * lo, 1.1 * lo],
        (false, false) => [lo, lo + 1.0],
    };
    let y_bounds = performance_bounds(data, set, i);
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
                .name(format!("PePR {c:.3} ··"))
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
            .name("■ selected")
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(Style::new().fg(Color::Yellow))
            .data(&selected),
    );

    let x_labels =
        distinct_labels([x_bounds[0], (x_bounds[0] + x_bounds[1]) / 2.0, x_bounds[1]].map(|x| x.max(0.0)), 3)
            .map(Line::from);
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
    // The selected point named, and each iso-line's value written at its upper end (not colour alone).
    let inner = Block::bordered().inner(area);
    if let Some(name) = selected_name
        && inner.height > 2
    {
        // Right of the y axis's labels and line.
        let area = Rect { x: inner.x + 6, width: inner.width.saturating_sub(6), height: 1, ..inner };
        let line = Line::styled(
            super::format::fit(&format!(" ■ {name}"), area.width as usize),
            Style::new().fg(Color::Yellow),
        );
        frame.render_widget(line, area);
    }
    label_iso_lines(frame, inner, &iso_lines, x_bounds, y_bounds);
}

/// Labels for axis ticks with the fewest significant digits (`digits` at least) that tell them
/// apart, so an axis never reads "0 … 0 … 0.03" or "0.123 0.123 0.123" for a narrow range.
pub(super) fn distinct_labels(ticks: [f64; 3], digits: usize) -> [String; 3] {
    for digits in digits..=12 {
        let labels = ticks.map(|x| sig(x, digits));
        if labels[0] != labels[1] && labels[1] != labels[2] && labels[0] != labels[2] {
            return labels;
        }
    }
    ticks.map(|x| format!("{x}"))
}

/// Writes "PePR 0.412" beside the upper end of each iso-line, inside the plot, where it fits.
fn label_iso_lines(frame: &mut Frame, inner: Rect, lines: &[(f64, Vec<(f64, f64)>)], x: [f64; 2], y: [f64; 2]) {
    // The plot sits right of the y labels and above the x labels and title: an estimate of 7
    // columns and 3 rows, good enough to place a label near its line.
    let plot = Rect {
        x: inner.x + 7,
        y: inner.y + 1,
        width: inner.width.saturating_sub(8),
        height: inner.height.saturating_sub(4),
    };
    if plot.width < 20 || plot.height < 4 {
        return;
    }
    let mut used: Vec<u16> = Vec::new();
    for (c, points) in lines {
        let Some(&(px, py)) = points.last() else { continue };
        let col = ((px - x[0]) / (x[1] - x[0]) * plot.width as f64).round() as i64;
        let row = ((y[1] - py) / (y[1] - y[0]) * plot.height as f64).round() as i64;
        let text = format!("PePR {c:.3}");
        let width = text.chars().count() as i64;
        let col = col.min(plot.width as i64 - width).max(0) as u16;
        let row = row.clamp(0, plot.height as i64 - 1) as u16;
        if used.contains(&row) {
            continue;
        }
        used.push(row);
        let area = Rect { x: plot.x + col, y: plot.y + row, width: width as u16, height: 1 };
        frame.render_widget(Line::styled(text, Style::new().fg(Color::Gray)), area);
    }
}

/// P axis: the P range of the set's ranked runs widened to tenths, within [0, 1], so close scores
/// stay apart (an unranked run's P never stretches it).
fn performance_bounds(data: &Data, set: usize, variant: usize) -> [f64; 2] {
    let ps = data
        .ranking
        .runs
        .iter()
        .filter(|r| r.set == set && r.score[variant].is_some())
        .map(|r| data.records[r.index].performance);
    let (lo, hi) = ps.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p), hi.max(p)));
    if !lo.is_finite() {
        return [0.0, 1.0];
    }
    let lo = ((lo - 0.02) * 10.0).floor() / 10.0;
    let hi = ((hi + 0.02) * 10.0).ceil() / 10.0;
    [lo.max(0.0), hi.min(1.0)]
}

#[cfg(test)]
mod tests {
    use super::distinct_labels;

    #[test]
    fn axis_labels_never_repeat() {
        assert_eq!(distinct_labels([0.0, 0.5, 1.03], 3), ["0", "0.500", "1.03"]);
        // A narrow range gets the digits it needs.
        let labels = distinct_labels([0.1234076, 0.12345, 0.1234924], 3);
        assert!(labels[0] != labels[1] && labels[1] != labels[2], "{labels:?}");
    }
}
