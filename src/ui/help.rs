//! The key help overlay.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// Every key the explorer knows, as shown by `?` (and listed in the README).
pub const KEYS: &[(&str, &str)] = &[
    ("1  2  3  4", "screens: runs / archs / datasets / train"),
    ("↑↓ jk PgUp PgDn", "move (PgUp/PgDn by 10)"),
    ("g G  Home End", "first / last"),
    ("s  S   r", "sort by next / previous column; r reverses"),
    ("/", "filter by text (Enter keeps, Esc clears)"),
    ("Enter  d", "details of the selected row"),
    ("Space", "archs, datasets: select for training"),
    ("e c t m  v", "runs: PePR-E / C / T / M; v cycles"),
    ("]  [   n p", "runs: next / previous comparison set"),
    ("b", "runs: sets by group / dataset / all runs"),
    ("Tab  x", "runs: chart of P against the resource"),
    ("R", "runs: reload the run store"),
    ("a  A   i", "archs: select all / none; i input size"),
    ("D", "datasets: download (MD5-verified)"),
    ("a x JK  w f", "train: queue, remove, move; start, freeze"),
    ("Tab  + -", "train: pick a setting / change it"),
    ("s  p  S Esc", "train: start queue / pause, resume / stop"),
    ("Esc", "clear filter / close pane / back"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
];

pub fn draw(frame: &mut Frame, area: Rect) {
    let height = (KEYS.len() as u16 + 4).min(area.height);
    let width = 62.min(area.width);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![Span::styled(format!(" {keys:<16}"), Style::new().fg(Color::Cyan)), Span::raw(*what)])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(" any key closes this help").fg(Color::DarkGray));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" keys ")), popup);
}
