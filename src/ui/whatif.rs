//! The leaderboard's what-if lines (issue 19): the carbon what-if's banner and its CO2 totals
//! stored vs what-if, and the budget filter with how many runs fit. Drawn above the table, the
//! chart and the details, so no re-scored figure shows without saying so.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::app::Data;
use crate::app::runs::RunsScreen;
use crate::app::whatif::{REGIONS, Scenario};

use super::format::fit;

/// The lines to show, with their styles.
fn lines(screen: &RunsScreen, data: &Data, width: usize) -> Vec<(String, Style)> {
    let mut lines = Vec::new();
    let applied = data.what_if.as_ref();
    let asked = screen.scenario.region;
    if let Some(applied) = applied {
        let banner = Style::new().fg(Color::Black).bg(Color::Magenta).add_modifier(Modifier::BOLD);
        let full = format!(" {} · w next region · W off ", applied.banner());
        let text = if full.chars().count() <= width { full } else { format!(" {} ", applied.short_banner()) };
        lines.push((text, banner));
        if let Some(t) = screen.what_if_totals(data) {
            lines.push((format!(" {}; the run store is unchanged", t.line()), Style::new().fg(Color::Magenta)));
        }
    }
    if asked != applied.map(|a| a.region) {
        let text = match asked {
            Some(i) => format!(" re-scoring CO2 and PePR-C as if trained in {}…", REGIONS[i]),
            None => " back to the stored figures…".to_string(),
        };
        lines.push((text, Style::new().fg(Color::Yellow)));
    }
    let budget = &screen.scenario.budget;
    if !budget.is_empty() {
        let over = if applied.is_some() && budget.max_co2_g.is_some() { " (CO2 as in the what-if)" } else { "" };
        lines.push((
            format!(
                " BUDGET {}{over}: {} of {} runs fit · scores as ranked among all runs of the set · B edits ",
                budget.describe(),
                screen.rows().len(),
                screen.scenario.before_budget
            ),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ));
    }
    lines
}

/// Draws the lines at the top of `area`; returns what is left for the leaderboard.
pub fn draw_banner(frame: &mut Frame, area: Rect, screen: &RunsScreen, data: &Data) -> Rect {
    let lines = lines(screen, data, area.width as usize);
    let n = (lines.len() as u16).min(area.height.saturating_sub(4));
    if n == 0 {
        return area;
    }
    let [top, rest] = Layout::vertical([Constraint::Length(n), Constraint::Min(1)]).areas(area);
    let rows = Layout::vertical(vec![Constraint::Length(1); n as usize]).split(top);
    for ((text, style), row) in lines.into_iter().zip(rows.iter()) {
        frame.render_widget(Line::from(Span::styled(fit(&text, row.width as usize), style)), *row);
    }
    rest
}

/// The status line while the budget is typed.
pub fn prompt_line(scenario: &Scenario) -> Option<Line<'static>> {
    let text = scenario.prompt.as_ref()?;
    Some(Line::from(vec![
        Span::styled(" budget: ", Style::new().bold()),
        Span::raw(text.clone()),
        Span::styled("▏", Style::new().add_modifier(Modifier::SLOW_BLINK)),
        Span::raw("  e.g. energy=0.01 time=600 co2=5 p=0.8 (kWh, s, g) · empty: none · Enter apply · Esc cancel"),
    ]))
}
