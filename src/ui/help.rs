//! The key help overlay (`?`), the footers' key hints and the confirmation question: all drawn from
//! the key table in `app::keys`, the one the handlers use.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::app::keys::Scope;
use crate::app::state::Confirm;
use crate::app::{App, Screen};

use super::format::fit;

/// The key table that applies now: the grid form's over the Train screen while it is open.
pub fn scope(app: &App) -> Scope {
    if app.settings_form.open {
        return Scope::Settings;
    }
    match app.screen {
        Screen::Leaderboard if app.runs.columns.open => Scope::Columns,
        Screen::Leaderboard => Scope::Runs,
        Screen::Architectures => Scope::Archs,
        Screen::Datasets => Scope::Data,
        Screen::Train if app.grid_form.open => Scope::Grid,
        Screen::Train => Scope::Train,
        Screen::Analyses => Scope::Analyses,
        Screen::Jobs => Scope::Jobs,
    }
}

/// The footer's key hints: the screen's marked keys, then `? keys  q quit`.
pub fn footer(scope: Scope) -> Span<'static> {
    let mut labels = scope.footer();
    labels.extend(Scope::Global.footer());
    Span::styled(format!("  {}", labels.join(" · ")), Style::new().fg(Color::DarkGray))
}

/// The keys of `scope` and of every screen, over `area`.
pub fn draw(frame: &mut Frame, area: Rect, scope: Scope) {
    let mut entries = scope.help_lines();
    entries.extend(Scope::Global.help_lines());
    // One column when it fits; two side by side on a short terminal.
    let rows_fit = area.height.saturating_sub(3) as usize;
    let columns = if entries.len() <= rows_fit { 1 } else { 2 };
    let per_column = entries.len().div_ceil(columns);
    let width = if columns == 1 { 100.min(area.width) } else { area.width.min(160) };
    let column_width = (width as usize).saturating_sub(2) / columns;
    let widest = entries.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let label_width = widest.min(22).min(column_width / 3);
    let height = (per_column as u16 + 3).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    let block = Block::bordered()
        .title(format!(" keys: {} ", scope.title()))
        .title_bottom(Line::from(" any key closes this help ").right_aligned());
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let areas = Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    for (chunk, area) in entries.chunks(per_column.max(1)).zip(areas.iter()) {
        let text_width = (area.width as usize).saturating_sub(label_width + 2);
        let lines: Vec<Line> = chunk
            .iter()
            .map(|(keys, what)| {
                Line::from(vec![
                    Span::styled(format!(" {:<label_width$} ", fit(keys, label_width)), Style::new().fg(Color::Cyan)),
                    Span::raw(fit(what, text_width)),
                ])
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), *area);
    }
}

/// The question being asked (`App::confirm`, worded by `Confirm::question`), over everything.
pub fn draw_confirm(frame: &mut Frame, area: Rect, confirm: &Confirm, question: String) {
    let width = 64.min(area.width);
    let text_lines = question.chars().count().div_ceil(width.saturating_sub(4).max(1) as usize) as u16;
    let height = (text_lines + 4).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    let keys = Line::from(vec![
        Span::styled(" y ", Style::new().bold().fg(Color::Red)),
        Span::raw(confirm.yes()),
        Span::raw(" · "),
        Span::styled("n Esc ", Style::new().bold().fg(Color::Green)),
        Span::raw(confirm.no()),
    ]);
    let block = Block::bordered().title(" confirm ").border_style(Style::new().fg(Color::Yellow));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(vec![Line::from(question), Line::from(""), keys]).wrap(Wrap { trim: true }).block(block),
        popup,
    );
}
