//! The leaderboard table of the current comparison set. Only the visible rows are built, so a
//! set of 100k runs draws as fast as one of 100.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Row, Table};

use crate::app::runs::RunsScreen;
use crate::app::{Data, SortColumn};
use crate::results::rank::{EnergyBasis, Variant};

use super::format::{TextColumn, layout, sig};
use crate::app::columns::RunColumn;
use crate::results::record::RunRecord;

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

pub use crate::results::rank::CO2_MIRRORS_ENERGY;

pub fn draw(frame: &mut Frame, area: Rect, screen: &RunsScreen, data: &Data) {
    let area = if screen.co2_mirrors_energy(Some(data)) && area.height > 4 {
        let [note, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        let text = super::format::fit(&format!(" {CO2_MIRRORS_ENERGY}"), note.width as usize);
        frame.render_widget(Line::styled(text, Style::new().fg(Color::Yellow)), note);
        rest
    } else {
        area
    };
    // Runs whose time or energy cover different things (the paper's last-epoch time beside whole runs).
    let area = match screen.scope_warning(Some(data)) {
        Some(warning) if area.height > 4 => {
            let [note, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
            frame.render_widget(Line::styled(format!(" ⚠ {warning}"), Style::new().fg(Color::Yellow)), note);
            rest
        }
        _ => area,
    };
    let v = screen.variant;
    let i = v.index();
    // "3?": the rank could change within the energy/CO2 uncertainty bands (legend only where one could).
    let unsure = |row: usize| data.rank_bands[i].get(row).copied().flatten().is_some_and(|b| !b.certain());
    let any_unsure = screen.rows().iter().any(|&row| unsure(row));
    let inner_height = area.height.saturating_sub(3) as usize; // borders + header
    let rows = screen.rows();
    let offset = screen.cursor.offset(rows.len(), inner_height);
    let visible: Vec<usize> = rows.iter().skip(offset).take(inner_height.max(1)).copied().collect();
    let records: Vec<(&RunRecord, &crate::results::rank::RankedRun)> = visible
        .iter()
        .map(|&row| {
            let run = &data.ranking.runs[row];
            (&data.records[run.index], run)
        })
        .collect();

    // Every column's cells as text; the layout decides widths from them.
    let arrow = if screen.descending() { "↓" } else { "↑" };
    let title =
        |column: SortColumn, text: String| if column == screen.sort_column { format!("{text}{arrow}") } else { text };
    let cells = |f: &dyn Fn(&RunRecord, &crate::results::rank::RankedRun) -> String| -> Vec<String> {
        records.iter().map(|(r, run)| f(r, run)).collect()
    };
    let mut columns: Vec<(Option<SortColumn>, TextColumn)> = vec![
        (
            Some(SortColumn::Rank),
            TextColumn::new(
                title(SortColumn::Rank, "#".into()),
                visible
                    .iter()
                    .map(|&row| {
                        let rank = data.ranking.runs[row].rank[i];
                        rank.map_or("—".into(), |r| if unsure(row) { format!("{r}?") } else { r.to_string() })
                    })
                    .collect(),
            )
            .right(),
        ),
        (
            Some(SortColumn::Arch),
            TextColumn::new(
                title(SortColumn::Arch, "arch".into()),
                cells(&|r, _| crate::text::clean(&r.arch).into_owned()),
            )
            .flex(),
        ),
    ];
    for column in screen.columns.in_order() {
        let sort = match column {
            RunColumn::Kind => Some(SortColumn::Kind),
            RunColumn::Params => Some(SortColumn::Params),
            _ => None,
        };
        let heading = match sort {
            Some(sort) => title(sort, column.title().into()),
            None => column.title().into(),
        };
        let mut text =
            TextColumn::new(heading, cells(&|r, _| column.cell_in(r, &data.records))).drop(column.drop_order());
        text = match column {
            RunColumn::Epochs | RunColumn::Seed | RunColumn::Fraction | RunColumn::Params => text.right(),
            RunColumn::Group => text.max(16),
            RunColumn::Start => text.max(26),
            _ => text,
        };
        columns.push((sort, text));
    }
    columns.extend([
        (
            Some(SortColumn::Performance),
            TextColumn::new(
                title(SortColumn::Performance, "P".into()),
                cells(&|r, _| r.measured_p().map_or("—".into(), |p| format!("{p:.4}"))),
            )
            .right(),
        ),
        (
            Some(SortColumn::Resource),
            TextColumn::new(
                title(SortColumn::Resource, resource_title(v, data.ranking.energy)),
                cells(&|r, _| data.ranking.resource(v, r).map_or("—".into(), |x| sig(x, 4))),
            )
            .right(),
        ),
        (
            Some(SortColumn::Score),
            TextColumn::new(
                title(SortColumn::Score, format!("PePR-{}", v.letter())),
                cells(&|_, run| run.score[i].map_or("—".into(), |s| format!("{s:.4}"))),
            )
            .right(),
        ),
        (None, TextColumn::new("", cells(&|_, run| if run.pareto[i] { "*".into() } else { String::new() }))),
    ]);
    let texts: Vec<TextColumn> = columns.iter().map(|(_, t)| t.clone()).collect();
    let widths = layout(&texts, area.width.saturating_sub(2) as usize, 1);
    let hidden = widths.iter().filter(|w| w.is_none()).count();

    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let shown: Vec<(usize, usize)> = widths.iter().enumerate().filter_map(|(c, w)| w.map(|w| (c, w))).collect();
    let header: Vec<Cell> = shown
        .iter()
        .map(|&(c, w)| {
            let style = if columns[c].0 == Some(screen.sort_column) {
                header_style.add_modifier(Modifier::UNDERLINED)
            } else {
                header_style
            };
            Cell::from(texts[c].header(w)).style(style)
        })
        .collect();
    let table_rows: Vec<Row> = records
        .iter()
        .enumerate()
        .map(|(k, (_, run))| {
            let row = Row::new(shown.iter().map(|&(c, w)| Cell::from(texts[c].cell(k, w))).collect::<Vec<_>>());
            let style = if screen.cursor.is(offset + k) {
                Style::new().add_modifier(Modifier::REVERSED)
            } else if run.pareto[i] {
                Style::new().fg(Color::Green)
            } else {
                Style::new()
            };
            row.style(style)
        })
        .collect();
    let unsure_legend = if any_unsure { " · ? = rank could change within the bands" } else { "" };
    let bottom = if hidden > 0 {
        format!(
            " * Pareto front{unsure_legend} · {hidden} column{} hidden: too narrow (o chooses) ",
            crate::app::plural(hidden)
        )
    } else {
        format!(" * = Pareto front (P vs resource){unsure_legend} · o columns ")
    };
    let block = Block::bordered().title(" leaderboard ").title_bottom(Line::from(bottom).right_aligned());
    let constraints: Vec<Constraint> = shown.iter().map(|&(_, w)| Constraint::Length(w as u16)).collect();
    let table = Table::new(table_rows, constraints).header(Row::new(header)).block(block).column_spacing(1);
    frame.render_widget(table, area);
    if screen.columns.open {
        draw_chooser(frame, area, &screen.columns);
    }
}

/// The column chooser (`o`): every optional column with a check mark.
fn draw_chooser(frame: &mut Frame, area: Rect, columns: &crate::app::columns::Columns) {
    use ratatui::layout::Flex;
    use ratatui::widgets::{Clear, Paragraph};
    let width = 60.min(area.width);
    let height = (RunColumn::ALL.len() as u16 + 2).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(row);
    let lines: Vec<Line> = RunColumn::ALL
        .iter()
        .enumerate()
        .map(|(k, column)| {
            let mark = if columns.is_shown(*column) { "[x]" } else { "[ ]" };
            let text = super::format::fit(&format!(" {mark} {}", column.describe()), width.saturating_sub(2) as usize);
            let line = Line::from(text);
            if columns.cursor.is(k) { line.style(Style::new().add_modifier(Modifier::REVERSED)) } else { line }
        })
        .collect();
    let block =
        Block::bordered().title(" columns ").title_bottom(Line::from(" Space show/hide · Esc close ").right_aligned());
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
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
