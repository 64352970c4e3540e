//! The leaderboard with seeds aggregated (`a`): one row per architecture, start and data fraction of
//! the current set, each quantity as mean±std over its seeds (sample std), and the score's range.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use crate::app::App;
use crate::results::seeds::format_spread;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let v = app.variant;
    let groups = app.current_seed_groups();
    let block = Block::bordered()
        .title(format!(" seeds aggregated: mean±std over seeds, by PePR-{} ", v.letter()))
        .title_bottom(Line::from(" a: one row per run ").right_aligned());
    if groups.is_empty() {
        let text = "No completed runs in this set to aggregate.";
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let resource = format!("{} {}", v.resource_name(), v.unit());
    let score = format!("PePR-{}", v.letter());
    // The score's range only where there is room for it beside the architecture's name.
    let with_range = area.width >= 96;
    let mut titles = vec!["arch", "start", "frac", "n", "P", resource.as_str(), score.as_str()];
    if with_range {
        titles.push("min–max");
    }
    let header = Row::new(titles.into_iter().map(|t| Cell::from(t.to_string()).style(header_style)));
    let height = area.height.saturating_sub(3) as usize;
    let rows: Vec<Row> = groups
        .iter()
        .take(height)
        .map(|g| {
            let range = g.score[v.index()].map_or("—".into(), |s| format!("{:.3}–{:.3}", s.min, s.max));
            let mut cells = vec![
                Cell::from(g.arch.clone()),
                Cell::from(g.start().to_string()),
                Cell::from(g.fraction.map_or("—".into(), |f| f.to_string())),
                Cell::from(g.runs.len().to_string()),
                Cell::from(format_spread(Some(g.performance), 3)),
                Cell::from(format_spread(g.resource[v.index()], 4)),
                Cell::from(format_spread(g.score[v.index()], 3)),
            ];
            if with_range {
                cells.push(Cell::from(range));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Min(10),
        Constraint::Length(10),
        Constraint::Length(4),
        Constraint::Length(2),
        Constraint::Length(11),
        Constraint::Length(13),
        Constraint::Length(11),
    ];
    if with_range {
        widths.push(Constraint::Length(11));
    }
    frame.render_widget(Table::new(rows, widths).header(header).block(block).column_spacing(1), area);
}
