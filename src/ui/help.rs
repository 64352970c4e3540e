//! The key help overlay.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// Every key the explorer knows, as shown by `?` (and listed in the README).
pub const KEYS: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move the selection"),
    ("PgUp PgDn", "move by 10"),
    ("g G  Home End", "first / last run"),
    ("s  S", "sort by the next / previous column"),
    ("r", "reverse the sort"),
    ("e c t m", "PePR variant: energy, CO2, time, memory"),
    ("v", "next PePR variant"),
    ("/", "filter by text (Enter keeps, Esc clears)"),
    ("]  [   n p", "next / previous comparison set"),
    ("b", "sets by group → dataset → all runs"),
    ("Enter  d", "details of the selected run"),
    ("Tab  x", "chart: P against the resource"),
    ("R", "reload the run store"),
    ("1  2", "screens: runs leaderboard / architectures"),
    ("Space", "architectures: select for training"),
    ("a  A", "architectures: select all shown / none"),
    ("i", "architectures: next input size"),
    ("Esc", "clear filter / close pane / back"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
];

pub fn draw(frame: &mut Frame, area: Rect) {
    let height = (KEYS.len() as u16 + 4).min(area.height);
    let width = 58.min(area.width);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![Span::styled(format!(" {keys:<14}"), Style::new().fg(Color::Cyan)), Span::raw(*what)])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(" any key closes this help").fg(Color::DarkGray));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" keys ")), popup);
}
