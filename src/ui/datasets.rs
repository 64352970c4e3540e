//! The Datasets screen: the list, a details pane with sample images drawn in half blocks, and a
//! download gauge.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};

use crate::app::datasets::{DatasetsScreen, Preview};

use super::format::TextColumn;
use super::table::text_table;

pub fn draw(frame: &mut Frame, area: Rect, screen: &DatasetsScreen) {
    // A failed download shows its whole error, wrapped (a gauge label would cut it at the edge).
    let failure = screen.download.as_ref().and_then(|d| d.outcome.as_ref()?.as_ref().err());
    let gauge_height = match failure {
        Some(message) => {
            let lines =
                Paragraph::new(message.as_str()).wrap(Wrap { trim: false }).line_count(area.width.saturating_sub(2));
            (lines as u16 + 2).clamp(3, (area.height / 2).max(3))
        }
        None => 3,
    };
    let (main, gauge) = match &screen.download {
        Some(_) => {
            let [main, gauge] = Layout::vertical([Constraint::Min(3), Constraint::Length(gauge_height)]).areas(area);
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
        if let Some(message) = failure {
            let block = Block::bordered().title(format!(" download of {} failed ", download.name)).fg(Color::Red);
            frame.render_widget(Paragraph::new(message.as_str()).wrap(Wrap { trim: false }).block(block), area);
            return;
        }
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
        let label = super::format::fit(&label, area.width.saturating_sub(2) as usize);
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
    let offset = screen.cursor.offset(shown.len(), height);
    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let visible: Vec<(usize, usize)> = shown.iter().copied().enumerate().skip(offset).take(height.max(1)).collect();
    let entry = |k: usize| &screen.entries[visible[k].1];
    let cells = |f: &dyn Fn(usize) -> String| -> Vec<String> { (0..visible.len()).map(f).collect() };
    let chosen = |k: usize| screen.chosen.contains(&entry(k).info.name);
    // Widths follow the content; the licence and channel columns give way first on a narrow
    // terminal, and a split count is never cut into another number.
    let columns = [
        TextColumn::new("", cells(&|k| if chosen(k) { "✓".into() } else { " ".into() })),
        TextColumn::new("name", cells(&|k| entry(k).info.name.clone())).flex().max(30),
        // The built-in set is generated, not real data: say so where its location would be.
        TextColumn::new(
            "where",
            cells(&|k| {
                let e = entry(k);
                if e.info.synthetic { "synthetic".into() } else { e.availability.label().to_string() }
            }),
        )
        .max(14)
        .drop(3),
        TextColumn::new("size", cells(&|k| entry(k).info.size.to_string())).right().drop(4),
        TextColumn::new("ch", cells(&|k| entry(k).info.channels.to_string())).right().drop(5),
        TextColumn::new("cls", cells(&|k| entry(k).info.classes.len().to_string())).right(),
        TextColumn::new(
            "train/val/test",
            cells(&|k| {
                let s = &entry(k).info.splits;
                format!("{}/{}/{}", s[0], s[1], s[2])
            }),
        )
        .right()
        .drop(2),
        TextColumn::new("licence", cells(&|k| entry(k).info.licence.clone())).max(14).drop(6),
    ];
    let (table, _) = text_table(&columns, area.width.saturating_sub(2), &|_| header_style, &|k| {
        let (position, _) = visible[k];
        if screen.cursor.is(position) {
            Style::new().add_modifier(Modifier::REVERSED)
        } else if chosen(k) {
            Style::new().fg(Color::Green)
        } else if entry(k).info.synthetic {
            Style::new().fg(Color::Magenta)
        } else {
            Style::new()
        }
    });
    frame.render_widget(table.block(block), area);
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
