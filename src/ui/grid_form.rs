//! The experiment-grid form over the Train screen: the selections, the editable axes, the groups
//! the cells will form, and how many cells the run store already holds as completed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::app::grid_form::{GridField, GridForm};

use super::train::TrainView;

pub fn draw(frame: &mut Frame, area: Rect, view: &TrainView, form: &GridForm) {
    let width = 76.min(area.width);
    // One more row for the estimate once the estimator was asked.
    let estimate_row = u16::from(view.estimates.grid.asked > 0);
    let height = (if form.slurm { 18 } else { 16 } + estimate_row).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    let archs: Vec<&str> = view.archs.iter().copied().collect();
    let datasets: Vec<&str> = view.datasets.iter().map(String::as_str).collect();
    let label = |text: &str| Span::styled(format!(" {text:<10}"), Style::new().fg(Color::Cyan));
    let none = |list: &[&str], hint: &str| if list.is_empty() { hint.to_string() } else { list.join(", ") };
    let mut lines = vec![
        Line::from(vec![label("archs"), Span::raw(none(&archs, "none selected (2, Space)"))]),
        Line::from(vec![label("datasets"), Span::raw(none(&datasets, "none selected (3, Space)"))]),
    ];
    for field in form.fields() {
        let mut value = form.value(field);
        if value.is_empty() && matches!(field, GridField::Partition | GridField::Time) && !form.editing {
            value = "(Slurm's default)".into();
        }
        if field == form.field && form.editing {
            value.push('▏');
        }
        if field == GridField::Start {
            value = format!("‹ {value} ›");
        }
        let style = if field == form.field { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() };
        lines.push(Line::from(vec![label(field.title()), Span::styled(value, style)]));
    }
    let settings = &view.train.settings;
    lines.push(Line::from(vec![
        label("settings"),
        Span::raw(format!(
            "{} epoch{}, batch {}, lr {:e}, {} (from Train, at each start)",
            settings.epochs,
            crate::app::plural(settings.epochs),
            settings.batch_size,
            settings.lr,
            settings.metric.key()
        ))
        .fg(Color::DarkGray),
    ]));
    lines.push(Line::from(""));
    let records = view.records;
    match form.preview(&archs, &datasets, settings, records) {
        Ok(preview) => {
            lines.push(Line::from(vec![label("groups"), Span::raw(preview.groups.join(", "))]));
            lines.push(Line::from(vec![
                label("cells"),
                Span::styled(format!("{}", preview.cells.len()), Style::new().bold()),
                Span::raw(format!(
                    " · {} done (stored as completed) · {} to queue",
                    preview.done,
                    preview.cells.len() - preview.done
                )),
            ]));
            if estimate_row > 0 {
                let (text, color) = super::estimates::grid_text(view, preview.cells.len() - preview.done);
                lines.push(Line::from(vec![label("estimate"), Span::raw(text).fg(color)]));
            }
        }
        Err(message) => lines.push(Line::from(vec![label("problem"), Span::raw(message).fg(Color::Red)])),
    }
    if form.slurm {
        let line = match &form.slurm_note {
            Some(note) => {
                Span::raw(note.clone()).fg(if note.starts_with("Slurm:") { Color::Red } else { Color::Green })
            }
            None => Span::raw("B submits the missing cells as one job array (sbatch found)").fg(Color::DarkGray),
        };
        lines.push(Line::from(vec![label("slurm"), line]));
    }
    // From the key table; B only when Slurm is there.
    let labels: Vec<&str> = crate::app::keys::Scope::Grid
        .footer()
        .into_iter()
        .filter(|label| form.slurm || !label.starts_with("B "))
        .collect();
    let keys = format!(" {} ", labels.join(" · "));
    let block = Block::bordered().title(" experiment grid ").title_bottom(Line::from(keys).right_aligned());
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), popup);
}
