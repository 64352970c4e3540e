//! The key help overlay.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// Every key the explorer knows, as shown by `?` (and listed in docs/tui-keys.md).
pub const KEYS: &[(&str, &str)] = &[
    ("1 … 6", "runs, archs, data, train, analyses, jobs"),
    ("↑↓ jk PgUp PgDn", "move (PgUp/PgDn by 10)"),
    ("g G  Home End", "first / last"),
    ("s  S   r", "sort by next / previous column; r reverses"),
    ("/", "filter by text (Enter keeps, Esc clears)"),
    ("Enter  d", "details of the selected row"),
    ("Space", "archs, datasets: select for training"),
    ("e c t m  v", "runs: PePR-E / C / T / M; v cycles"),
    ("]  [   n p", "runs: next / previous comparison set"),
    ("b", "runs: sets by group / dataset / all runs"),
    ("Tab  x   P", "runs: chart of P vs resource; P saves it"),
    ("R  a", "runs: reload the store / seeds mean±std"),
    ("a  A   i", "archs: select all / none; i input size"),
    ("D", "datasets: download (MD5-verified)"),
    ("a x JK E w f", "train: queue/drop/move; grid; start; freeze"),
    ("Tab  + -", "train: pick a setting / change it"),
    ("s  p  S Esc", "train: start queue / pause, resume / stop"),
    ("← →  h l", "analyses: previous / next analysis"),
    ("X X   R", "jobs: cancel the Slurm array / poll now"),
    ("Esc", "clear filter / close pane / back"),
    ("?   q  Ctrl-C", "this help / quit"),
];

pub fn draw(frame: &mut Frame, area: Rect) {
    let height = (KEYS.len() as u16 + 3).min(area.height);
    let width = 62.min(area.width);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![Span::styled(format!(" {keys:<16}"), Style::new().fg(Color::Cyan)), Span::raw(*what)])
        })
        .collect();
    lines.push(Line::from(" any key closes this help").fg(Color::DarkGray));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" keys ")), popup);
}
