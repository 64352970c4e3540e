//! The leaderboard with seeds aggregated (`a`): one row per set of runs that differ only by seed
//! (same arch, start, fraction, epochs and every other setting), each quantity as mean±std over its
//! seeds (sample std), how many runs it has, and the score's range. The filter applies.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use crate::app::Data;
use crate::app::columns::{fraction_label, start_label};
use crate::app::runs::RunsScreen;
use crate::results::seeds::format_spread;

use super::format::{TextColumn, layout};

pub fn draw(frame: &mut Frame, area: Rect, screen: &RunsScreen, data: &Data) {
    let v = screen.variant;
    let i = v.index();
    let groups = screen.current_seed_groups(Some(data));
    let block = Block::bordered()
        .title(format!(" seeds aggregated: mean±std over seeds, by PePR-{} ", v.letter()))
        .title_bottom(Line::from(" runs differing only by seed · a: one row per run ").right_aligned());
    if groups.is_empty() {
        let text = if screen.filter.is_empty() {
            "No completed runs in this set to aggregate."
        } else {
            "No completed runs in this set match the filter."
        };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let height = area.height.saturating_sub(3) as usize;
    let shown: Vec<_> = groups.iter().take(height).collect();
    let cells = |f: &dyn Fn(&crate::results::seeds::SeedGroup) -> String| -> Vec<String> {
        shown.iter().map(|g| f(g)).collect()
    };
    // n says how many runs each row has; "2/3" when the filter keeps only some of them (the
    // figures are over all of the row's runs).
    let columns = vec![
        TextColumn::new("arch", cells(&|g| g.arch.clone())).flex(),
        TextColumn::new("start", cells(&|g| start_label(g.pretrained.as_deref(), g.frozen))).max(16).drop(3),
        TextColumn::new("data", cells(&|g| g.fraction.map_or("—".into(), fraction_label))).right().drop(4),
        TextColumn::new("ep", cells(&|g| g.epochs.map_or("—".into(), |e| e.to_string()))).right().drop(5),
        TextColumn::new(
            "n",
            cells(&|g| {
                let matching = screen.seed_group_matches(g, Some(data));
                if matching == g.runs.len() { g.runs.len().to_string() } else { format!("{matching}/{}", g.runs.len()) }
            }),
        )
        .right(),
        TextColumn::new("P", cells(&|g| format_spread(Some(g.performance), 3))).right(),
        TextColumn::new(format!("{} {}", short_resource(v), v.unit()), cells(&|g| format_spread(g.resource[i], 4)))
            .right(),
        TextColumn::new(format!("PePR-{}", v.letter()), cells(&|g| format_spread(g.score[i], 3))).right(),
        TextColumn::new("min–max", cells(&|g| g.score[i].map_or("—".into(), |s| format!("{:.3}–{:.3}", s.min, s.max))))
            .right()
            .drop(6),
    ];
    let widths = layout(&columns, area.width.saturating_sub(2) as usize, 1);
    let visible: Vec<(usize, usize)> = widths.iter().enumerate().filter_map(|(c, w)| w.map(|w| (c, w))).collect();
    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let header = Row::new(visible.iter().map(|&(c, w)| Cell::from(columns[c].header(w)).style(header_style)));
    let rows: Vec<Row> = (0..shown.len())
        .map(|k| Row::new(visible.iter().map(|&(c, w)| Cell::from(columns[c].cell(k, w))).collect::<Vec<_>>()))
        .collect();
    let constraints: Vec<Constraint> = visible.iter().map(|&(_, w)| Constraint::Length(w as u16)).collect();
    frame.render_widget(Table::new(rows, constraints).header(header).block(block).column_spacing(1), area);
}

fn short_resource(v: crate::results::rank::Variant) -> &'static str {
    ["energy", "CO2", "time", "mem"][v.index()]
}
