//! The Datasets screen: the list, a details pane with sample images drawn in half blocks, and a
//! download gauge.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Gauge, Paragraph, Row, Table, Wrap};

use crate::app::App;
use crate::app::datasets::{DatasetsScreen, Preview};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let screen = &app.datasets;
    let (main, gauge) = match &screen.download {
        Some(_) => {
            let [main, gauge] = Layout::vertical([Constraint::Min(3), Constraint::Length(3)]).areas(area);
            (main, Some(gauge))
        }
        None => (area, None),
    };
    if screen.show_details {
        draw_details(frame, main, screen);
    } else {
        draw_list(frame, main, screen);
    }
    if let (Some(area), Some(download)) = (gauge, &screen.download) {
        let (label, ratio, style) = match &download.outcome {
            Some(Ok(message)) => (message.clone(), 1.0, Style::new().fg(Color::Green)),
            Some(Err(message)) => (message.clone(), 0.0, Style::new().fg(Color::Red)),
            None => {
                let mb = |b: u64| b as f64 / 1e6;
                match download.total {
                    Some(total) if total > 0 => (
                        format!("{}: {:.1} / {:.1} MB", download.name, mb(download.done), mb(total)),
                        (download.done as f64 / total as f64).min(1.0),
                        Style::new().fg(Color::Cyan),
                    ),
                    _ => (format!("{}: {:.1} MB", download.name, mb(download.done)), 0.0, Style::new().fg(Color::Cyan)),
                }
            }
        };
        let gauge =
            Gauge::default().block(Block::bordered().title(" download ")).gauge_style(style).ratio(ratio).label(label);
        frame.render_widget(gauge, area);
    }
}

fn draw_list(frame: &mut Frame, area: Rect, screen: &DatasetsScreen) {
    let block = Block::bordered()
        .title(" datasets ")
        .title_bottom(Line::from(" Enter details · D download · Space select ").right_aligned());
    if screen.entries.is_empty() {
        let text = if screen.loading { "Looking for datasets…" } else { "No datasets." };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let shown = screen.shown();
    let height = area.height.saturating_sub(3) as usize;
    let offset = screen.cursor.saturating_sub(height.saturating_sub(1));
    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let header = Row::new(
        ["", "name", "where", "size", "ch", "cls", "train/val/test", "licence"]
            .map(|h| Cell::from(h).style(header_style)),
    );
    let rows: Vec<Row> = shown
        .iter()
        .enumerate()
        .skip(offset)
        .take(height.max(1))
        .map(|(position, &i)| {
            let entry = &screen.entries[i];
            let info = &entry.info;
            let chosen = screen.chosen.contains(&info.name);
            let style = if position == screen.cursor {
                Style::new().add_modifier(Modifier::REVERSED)
            } else if chosen {
                Style::new().fg(Color::Green)
            } else if info.synthetic {
                Style::new().fg(Color::Magenta)
            } else {
                Style::new()
            };
            Row::new(vec![
                Cell::from(if chosen { "✓" } else { " " }),
                Cell::from(info.name.clone()),
                // The built-in set is generated, not real data: say so where its location would be.
                Cell::from(if info.synthetic { "synthetic" } else { entry.availability.label() }),
                Cell::from(info.size.to_string()),
                Cell::from(info.channels.to_string()),
                Cell::from(info.classes.len().to_string()),
                Cell::from(format!("{}/{}/{}", info.splits[0], info.splits[1], info.splits[2])),
                Cell::from(info.licence.clone()),
            ])
            .style(style)
        })
        .collect();
    let widths = [
        Constraint::Length(1),
        Constraint::Min(18),
        Constraint::Length(12),
        Constraint::Length(4),
        Constraint::Length(2),
        Constraint::Length(3),
        Constraint::Length(18),
        Constraint::Length(12),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(block).column_spacing(1), area);
}

fn draw_details(frame: &mut Frame, area: Rect, screen: &DatasetsScreen) {
    let Some(entry) = screen.current() else { return };
    let info = &entry.info;
    let block = Block::bordered().title(format!(" {} (Enter/Esc closes) ", info.name));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines = Vec::new();
    if info.synthetic {
        lines.push(Line::from("SYNTHETIC: generated by pepr, not real data.").magenta().bold());
    }
    lines.extend([
        Line::from(vec![Span::styled("source   ", dim), Span::raw(info.source.clone())]),
        Line::from(vec![Span::styled("licence  ", dim), Span::raw(info.licence.clone())]),
        Line::from(vec![Span::styled("where    ", dim), Span::raw(entry.availability.label())]),
        Line::from(vec![
            Span::styled("images   ", dim),
            Span::raw(format!(
                "{} x {}x{}; train {}, val {}, test {}",
                info.channels, info.size, info.size, info.splits[0], info.splits[1], info.splits[2]
            )),
        ]),
    ]);
    let counts = match &screen.preview {
        Some(Ok(preview)) => Some(&preview.class_counts),
        _ => None,
    };
    lines.push(Line::styled("classes", dim));
    for (k, class) in info.classes.iter().enumerate() {
        let count = counts.and_then(|c| c.get(k)).map_or(String::new(), |n| format!("  ({n} train)"));
        lines.push(Line::from(format!("  {k:>2} {class}{count}")));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(info.description.clone()));

    let samples_height = match &screen.preview {
        Some(Ok(p)) if !p.samples.is_empty() => {
            (p.samples.iter().map(|s| s.1).max().unwrap_or(0) as u16).div_ceil(2) + 1
        }
        _ => 2,
    };
    let [text, samples] = Layout::vertical([Constraint::Min(3), Constraint::Length(samples_height)]).areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
    match &screen.preview {
        Some(Ok(preview)) => draw_samples(frame, samples, preview),
        Some(Err(message)) => {
            frame.render_widget(Paragraph::new(message.clone()).fg(Color::Yellow).wrap(Wrap { trim: false }), samples)
        }
        None if screen.preview_loading => frame.render_widget(Paragraph::new("Loading sample images…"), samples),
        None => {}
    }
}

/// Sample images side by side, two pixel rows per terminal row ('▀' with the top pixel as
/// foreground and the bottom pixel as background).
fn draw_samples(frame: &mut Frame, area: Rect, preview: &Preview) {
    let mut x = area.x;
    for (class, side, pixels) in &preview.samples {
        let width = *side as u16;
        if x + width > area.x + area.width {
            break;
        }
        let rows = (*side as u16).div_ceil(2).min(area.height.saturating_sub(1));
        let buffer = frame.buffer_mut();
        for row in 0..rows {
            for col in 0..width {
                let grey = |y: usize| pixels.get(y * side + col as usize).copied().unwrap_or(0);
                let (top, bottom) = (grey(2 * row as usize), grey(2 * row as usize + 1));
                if let Some(cell) = buffer.cell_mut((x + col, area.y + row)) {
                    cell.set_symbol("▀").set_fg(Color::Rgb(top, top, top)).set_bg(Color::Rgb(bottom, bottom, bottom));
                }
            }
        }
        let label = format!("{class}");
        buffer.set_string(x, area.y + rows, &label, Style::new().fg(Color::DarkGray));
        x += width + 1;
    }
}
