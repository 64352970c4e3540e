//! The Architectures screen: the catalog with parameters, MACs and FLOPs at one input size.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use crate::app::App;
use crate::app::archs::ArchColumn;

use super::format::human_count;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let screen = &app.archs;
    let input = match screen.input_size() {
        None => "each architecture's default size".to_string(),
        Some(s) => format!("3x{s}x{s}"),
    };
    let block = Block::bordered().title(format!(" architectures at {input}, 1000 classes ")).title_bottom(
        Line::from(" pepr_* = pepr's own · MACs: fvcore convention · FLOPs = 2 x MACs, forward, per sample ")
            .right_aligned(),
    );
    if screen.rows.is_empty() {
        let text = if screen.loading { "Counting parameters and MACs…" } else { "No catalog yet." };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let inner_height = area.height.saturating_sub(3) as usize;
    let order = screen.order();
    let offset = super::scroll_to(&screen.scroll, screen.cursor, order.len(), inner_height);

    let arrow = if screen.reversed { "↓" } else { "↑" };
    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let title = |column: ArchColumn| {
        if column == screen.sort {
            Cell::from(format!("{}{arrow}", column.title())).style(header_style.add_modifier(Modifier::UNDERLINED))
        } else {
            Cell::from(column.title()).style(header_style)
        }
    };
    let header = Row::new(vec![
        Cell::from(" "),
        title(ArchColumn::Arch),
        title(ArchColumn::Family),
        title(ArchColumn::Kind),
        Cell::from("eff").style(header_style),
        Cell::from("input").style(header_style),
        title(ArchColumn::Params),
        title(ArchColumn::Macs),
        Cell::from("FLOPs").style(header_style),
    ]);
    let rows: Vec<Row> = order
        .iter()
        .enumerate()
        .skip(offset)
        .take(inner_height.max(1))
        .map(|(position, &i)| {
            let row = &screen.rows[i];
            let e = row.entry;
            let chosen = screen.chosen.contains(e.name);
            let (params, macs, flops) = match &row.cost {
                Ok(c) => (human_count(c.params), human_count(c.macs), human_count(c.flops())),
                Err(_) => ("—".into(), "too small".into(), "—".into()),
            };
            let style = if position == screen.cursor {
                Style::new().add_modifier(Modifier::REVERSED)
            } else if chosen {
                Style::new().fg(Color::Green)
            } else if row.cost.is_err() {
                Style::new().fg(Color::DarkGray)
            } else {
                Style::new()
            };
            Row::new(vec![
                Cell::from(if chosen { "✓" } else { " " }),
                Cell::from(e.name),
                Cell::from(e.family),
                Cell::from(e.kind.label()),
                Cell::from(if e.efficient { "yes" } else { "" }),
                Cell::from(format!("{}", row.spec.height)),
                Cell::from(params),
                Cell::from(macs),
                Cell::from(flops),
            ])
            .style(style)
        })
        .collect();
    let widths = [
        Constraint::Length(1),
        Constraint::Min(16),
        Constraint::Length(14),
        Constraint::Length(5),
        Constraint::Length(3),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(8),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(block).column_spacing(1), area);
}
