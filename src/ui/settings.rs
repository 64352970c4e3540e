//! The Settings pane (`,`): each setting with the value in effect and where it comes from, and for
//! the one under the cursor what it is for (how to get a figure that is missing).

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::app::settings_form::{SettingsForm, hint};
use crate::settings::Settings;

use super::format::fit;

/// The pane over `area`: `settings` are those in use; `unreadable` when settings.json could not be
/// read (nothing is saved over it then).
pub fn draw(frame: &mut Frame, area: Rect, form: &SettingsForm, settings: &Settings, unreadable: bool) {
    let rows = settings.describe();
    let width = 96.min(area.width);
    let height = (rows.len() as u16 + 7).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    let inner = width.saturating_sub(2) as usize;
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .map(|(i, (key, value, origin))| {
            let value = match &form.editing {
                Some(text) if form.cursor.is(i) => format!("{text}▏"),
                _ => value.clone(),
            };
            let text = format!(" {key:<19}{:<22} ", fit(&value, 21));
            let origin = fit(origin, inner.saturating_sub(text.chars().count()));
            let line = Line::from(vec![Span::raw(text), Span::styled(origin, dim)]);
            if form.cursor.is(i) { line.style(Style::new().add_modifier(Modifier::REVERSED)) } else { line }
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::styled(format!(" {}", hint(form.key_name())), Style::new().fg(Color::Cyan)));
    let saved_where = if unreadable {
        " settings.json could not be read: nothing is saved over it"
    } else {
        " saved to settings.json (as pepr config set); used from the next run"
    };
    lines.push(Line::styled(saved_where, dim));
    let keys = if form.editing.is_some() {
        " Enter save · empty = default · Esc cancel ".to_string()
    } else {
        format!(" {} ", crate::app::keys::Scope::Settings.footer().join(" · "))
    };
    let block = Block::bordered().title(" settings ").title_bottom(Line::from(keys).right_aligned());
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), popup);
}
