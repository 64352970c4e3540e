//! The Architectures screen: the catalog with parameters, MACs and FLOPs at one input size.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use crate::app::archs::{ArchColumn, ArchsScreen};

use super::format::{TextColumn, human_count};
use super::table::text_table;

pub fn draw(frame: &mut Frame, area: Rect, screen: &ArchsScreen) {
    let input = match screen.input_size() {
        None => "each architecture's default size".to_string(),
        Some(s) => format!("3x{s}x{s}"),
    };
    let width = area.width.saturating_sub(2) as usize;
    let block = Block::bordered().title(format!(" architectures at {input}, 1000 classes ")).title_bottom(
        Line::from(super::format::fit(
            " pepr_* = pepr's own · MACs: fvcore convention · FLOPs = 2 x MACs, forward, per sample ",
            width,
        ))
        .right_aligned(),
    );
    if screen.rows.is_empty() {
        let text = if screen.loading { "Counting parameters and MACs…" } else { "No catalog yet." };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let inner_height = area.height.saturating_sub(3) as usize;
    let order = screen.order();
    let offset = screen.cursor.offset(order.len(), inner_height);

    let arrow = if screen.reversed { "↓" } else { "↑" };
    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let title = |column: ArchColumn| {
        if column == screen.sort { format!("{}{arrow}", column.title()) } else { column.title().to_string() }
    };
    let visible: Vec<(usize, usize)> =
        order.iter().copied().enumerate().skip(offset).take(inner_height.max(1)).collect();
    let costs: Vec<(String, String, String)> = visible
        .iter()
        .map(|&(_, i)| match &screen.rows[i].cost {
            Ok(c) => (human_count(c.params), human_count(c.macs), human_count(c.flops())),
            Err(_) => ("—".into(), "too small".into(), "—".into()),
        })
        .collect();
    let entry = |k: usize| screen.rows[visible[k].1].entry;
    let cells = |f: &dyn Fn(usize) -> String| -> Vec<String> { (0..visible.len()).map(f).collect() };
    // Widths follow the content; on a narrow terminal the input size, kind and family give way
    // before a figure is cut (and a cut cell ends in "…").
    let columns = [
        TextColumn::new(" ", cells(&|k| if screen.chosen.contains(entry(k).name) { "✓".into() } else { " ".into() })),
        TextColumn::new(title(ArchColumn::Arch), cells(&|k| entry(k).name.to_string())).flex().max(30),
        TextColumn::new(title(ArchColumn::Family), cells(&|k| entry(k).family.to_string())).max(14).drop(4),
        TextColumn::new(title(ArchColumn::Kind), cells(&|k| entry(k).kind.label().to_string())).drop(3),
        TextColumn::new("eff", cells(&|k| if entry(k).efficient { "yes".into() } else { String::new() })).drop(2),
        TextColumn::new("input", cells(&|k| screen.rows[visible[k].1].spec.height.to_string())).right().drop(5),
        TextColumn::new(title(ArchColumn::Params), cells(&|k| costs[k].0.clone())).right(),
        TextColumn::new(title(ArchColumn::Macs), cells(&|k| costs[k].1.clone())).right(),
        TextColumn::new("FLOPs", cells(&|k| costs[k].2.clone())).right().drop(1),
    ];
    let sorted = [None, Some(ArchColumn::Arch), Some(ArchColumn::Family), Some(ArchColumn::Kind), None, None]
        .into_iter()
        .chain([Some(ArchColumn::Params), Some(ArchColumn::Macs), None])
        .collect::<Vec<_>>();
    let (table, _) = text_table(
        &columns,
        area.width.saturating_sub(2),
        &|c| {
            if sorted[c] == Some(screen.sort) { header_style.add_modifier(Modifier::UNDERLINED) } else { header_style }
        },
        &|k| {
            let (position, i) = visible[k];
            let row = &screen.rows[i];
            if screen.cursor.is(position) {
                Style::new().add_modifier(Modifier::REVERSED)
            } else if screen.chosen.contains(row.entry.name) {
                Style::new().fg(Color::Green)
            } else if row.cost.is_err() {
                Style::new().fg(Color::DarkGray)
            } else {
                Style::new()
            }
        },
    );
    frame.render_widget(table.block(block), area);
}
