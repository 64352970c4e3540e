//! The Jobs screen: Slurm arrays submitted from this home (newest first) and the cells of the
//! selected one, with the state each is in (its merged record's status, else Slurm's state).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};

use crate::app::jobs::JobsScreen;
use crate::slurm::watch::CellStatus;

fn state_style(state: &str) -> Style {
    match state {
        "completed" => Style::new().fg(Color::Green),
        "running" | "completing" => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        "pending" => Style::new().fg(Color::DarkGray),
        _ => Style::new().fg(Color::Red),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &JobsScreen) {
    if !screen.has_jobs() {
        let mut lines =
            vec![Line::from(if screen.loaded { "No Slurm jobs submitted from this home." } else { "Asking Slurm…" })];
        lines.push(Line::from(""));
        lines.push(Line::from("`pepr sweep ... --slurm` submits a job array (one task per run). Its cells show here"));
        lines.push(Line::from("with their state, and their runs join the leaderboard as they finish."));
        if let Some(e) = &screen.error {
            lines.push(Line::from(""));
            lines.push(Line::from(e.clone()).red());
        }
        let block = Block::bordered().title(" Slurm jobs ");
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
        return;
    }
    // Borders and header: 3 rows.
    let list_height = (screen.jobs.len() as u16 + 3).min(9).min(area.height / 2);
    let [list, cells] = Layout::vertical([Constraint::Length(list_height), Constraint::Min(3)]).areas(area);

    let offset = screen.cursor.offset(screen.jobs.len(), list_height.saturating_sub(3) as usize);
    let rows: Vec<Row> = screen
        .shown()
        .enumerate()
        .skip(offset)
        .map(|(i, status)| {
            let job = &status.job;
            let style = if screen.cursor.is(i) { Style::new().reversed() } else { Style::new() };
            let mut summary = status.summary();
            if let Some(e) = &status.slurm_error {
                summary = format!("{summary} (Slurm: {e})");
            }
            Row::new(vec![
                Cell::from(job.job_id.clone()),
                Cell::from(job.name.clone()),
                Cell::from(job.submitted_at.format("%m-%d %H:%M").to_string()),
                Cell::from(job.cells.to_string()),
                Cell::from(summary),
            ])
            .style(style)
        })
        .collect();
    let mut block = Block::bordered().title(" Slurm jobs (newest first) ");
    if let Some(note) = &screen.note {
        block = block.title_bottom(Line::from(format!(" {note} ")).fg(Color::Yellow));
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(12),
            Constraint::Length(11),
            Constraint::Length(5),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["job", "name", "submitted", "cells", "state"]).bold())
    .block(block);
    frame.render_widget(table, list);

    let Some(status) = screen.selected_job() else { return };
    let visible = cells.height.saturating_sub(3) as usize;
    let rows: Vec<Row> = status.cells.iter().take(visible).map(cell_row).collect();
    let hidden = status.cells.len().saturating_sub(visible);
    let mut block = Block::bordered().title(format!(" job {}: {} ", status.job.job_id, status.job.dir.display()));
    if hidden > 0 {
        block = block.title_bottom(Line::from(format!(" {hidden} more: `pepr jobs` lists all ")).right_aligned());
    }
    if let Some(e) = &status.cells_error {
        frame.render_widget(Paragraph::new(e.clone()).red().wrap(Wrap { trim: false }).block(block), cells);
        return;
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(5),
            Constraint::Length(16),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["cell", "arch", "dataset", "state", "node", "run"]).bold())
    .block(block);
    frame.render_widget(table, cells);
}

fn cell_row(cell: &CellStatus) -> Row<'static> {
    let state = cell.state();
    let detail = match (&cell.run, &cell.slurm) {
        (Some((id, _)), _) => id.clone(),
        (None, Some(info)) if info.is_terminal() => "no record (see log)".to_string(),
        (None, Some(info)) => info.reason.clone().unwrap_or_default(),
        (None, None) => String::new(),
    };
    Row::new(vec![
        Cell::from(cell.index.to_string()),
        Cell::from(cell.arch.clone()),
        Cell::from(cell.dataset.clone()),
        Cell::from(state.clone()).style(state_style(&state)),
        Cell::from(cell.node.clone().unwrap_or_else(|| "—".into())),
        Cell::from(detail),
    ])
}
