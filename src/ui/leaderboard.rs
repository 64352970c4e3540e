//! The leaderboard table of the current comparison set. Only the visible rows are built, so a
//! set of 100k runs draws as fast as one of 100.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Row, Table};

use crate::app::{App, SortColumn};
use crate::results::rank::{EnergyBasis, Variant};

use super::format::{human_count, sig};

pub fn column_title(column: SortColumn, variant: Variant) -> String {
    match column {
        SortColumn::Rank => "rank".into(),
        SortColumn::Arch => "arch".into(),
        SortColumn::Kind => "kind".into(),
        SortColumn::Params => "params".into(),
        SortColumn::Performance => "P".into(),
        SortColumn::Resource => format!("{} {}", variant.resource_name(), variant.unit()),
        SortColumn::Score => format!("PePR-{}", variant.letter()),
    }
}

/// Said instead of presenting PePR-C as a finding of its own when it only repeats PePR-E.
pub const CO2_MIRRORS_ENERGY: &str = "PePR-C orders these runs exactly as PePR-E (one intensity x PUE for the set)";

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let Some(data) = &app.data else { return };
    let area = if app.co2_mirrors_energy() && area.height > 4 {
        let [note, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        frame.render_widget(Line::styled(format!(" {CO2_MIRRORS_ENERGY}"), Style::new().fg(Color::Yellow)), note);
        rest
    } else {
        area
    };
    // Runs whose time or energy cover different things (the paper's last-epoch time beside whole runs).
    let area = match app.scope_warning() {
        Some(warning) if area.height > 4 => {
            let [note, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
            frame.render_widget(Line::styled(format!(" ⚠ {warning}"), Style::new().fg(Color::Yellow)), note);
            rest
        }
        _ => area,
    };
    let v = app.variant;
    // The "?" legend only where a rank in this set could change within the energy/CO2 bands.
    let any_unsure = app
        .rows()
        .iter()
        .any(|&row| data.rank_bands[v.index()].get(row).copied().flatten().is_some_and(|b| !b.certain()));
    let legend = if any_unsure {
        " * = Pareto front (P vs resource) · ? = rank could change within the bands "
    } else {
        " * = Pareto front (P vs resource) "
    };
    let block = Block::bordered().title(" leaderboard ").title_bottom(Line::from(legend).right_aligned());
    let inner_height = area.height.saturating_sub(3) as usize; // borders + header
    let rows = app.rows();

    let offset = super::scroll_to(&app.scroll, app.selected, rows.len(), inner_height);

    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let arrow = if app.descending() { "↓" } else { "↑" };
    let columns = [
        (SortColumn::Rank, "#".to_string()),
        (SortColumn::Arch, "arch".into()),
        (SortColumn::Kind, "kind".into()),
        (SortColumn::Params, "params".into()),
        (SortColumn::Performance, "P".into()),
        (SortColumn::Resource, resource_title(v, data.ranking.energy)),
        (SortColumn::Score, format!("PePR-{}", v.letter())),
    ];
    let mut header: Vec<Cell> = columns
        .iter()
        .map(|(column, title)| {
            if *column == app.sort_column {
                Cell::from(format!("{title}{arrow}")).style(header_style.add_modifier(Modifier::UNDERLINED))
            } else {
                Cell::from(title.clone()).style(header_style)
            }
        })
        .collect();
    header.push(Cell::from(""));

    let visible = rows.iter().enumerate().skip(offset).take(inner_height.max(1));
    let table_rows: Vec<Row> = visible
        .map(|(position, &row)| {
            let run = &data.ranking.runs[row];
            let record = &data.records[run.index];
            let i = v.index();
            // "3?": the rank could change within the energy/CO2 uncertainty bands.
            let unsure = data.rank_bands[i].get(row).copied().flatten().is_some_and(|b| !b.certain());
            let cells = vec![
                Cell::from(run.rank[i].map_or("—".into(), |r| if unsure { format!("{r}?") } else { r.to_string() })),
                Cell::from(record.arch.clone()),
                Cell::from(record.kind.label()),
                Cell::from(record.params.map_or("—".into(), human_count)),
                Cell::from(format!("{:.4}", record.performance)),
                Cell::from(data.ranking.resource(v, record).map_or("—".into(), |x| sig(x, 4))),
                Cell::from(run.score[i].map_or("—".into(), |s| format!("{s:.4}"))),
                Cell::from(if run.pareto[i] { "*" } else { "" }),
            ];
            let style = if position == app.selected {
                Style::new().add_modifier(Modifier::REVERSED)
            } else if run.pareto[i] {
                Style::new().fg(Color::Green)
            } else {
                Style::new()
            };
            Row::new(cells).style(style)
        })
        .collect();

    let widths = [
        Constraint::Length(4),
        Constraint::Min(12),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(1),
    ];
    let table = Table::new(table_rows, widths).header(Row::new(header)).block(block).column_spacing(1);
    frame.render_widget(table, area);
}

/// The resource column's title; net energy says so.
fn resource_title(v: Variant, energy: EnergyBasis) -> String {
    if v == Variant::Energy && energy == EnergyBasis::Net {
        format!("net {}", v.unit())
    } else {
        format!("{} {}", short_resource(v), v.unit())
    }
}

fn short_resource(v: Variant) -> &'static str {
    ["energy", "CO2", "time", "mem"][v.index()]
}
