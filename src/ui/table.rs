//! A table whose columns follow their content (see [`super::format::layout`]): optional columns
//! give way on a narrow terminal, and a cell that still does not fit ends in "…", so a number is
//! never cut into another number.

use ratatui::layout::Constraint;
use ratatui::style::Style;
use ratatui::widgets::{Cell, Row, Table};

use super::format::{TextColumn, layout};

/// `columns` laid out in `width` characters: the table (rows styled by `row_style`, header cells
/// by `header_style`) and how many columns were left out for lack of room.
pub fn text_table(
    columns: &[TextColumn],
    width: u16,
    header_style: &dyn Fn(usize) -> Style,
    row_style: &dyn Fn(usize) -> Style,
) -> (Table<'static>, usize) {
    let widths = layout(columns, width as usize, 1);
    let hidden = widths.iter().filter(|w| w.is_none()).count();
    let shown: Vec<(usize, usize)> = widths.iter().enumerate().filter_map(|(c, w)| w.map(|w| (c, w))).collect();
    let header = Row::new(
        shown.iter().map(|&(c, w)| Cell::from(columns[c].header(w)).style(header_style(c))).collect::<Vec<_>>(),
    );
    let rows = columns.first().map_or(0, |c| c.cells.len());
    let body: Vec<Row> = (0..rows)
        .map(|k| {
            Row::new(shown.iter().map(|&(c, w)| Cell::from(columns[c].cell(k, w))).collect::<Vec<_>>())
                .style(row_style(k))
        })
        .collect();
    let constraints: Vec<Constraint> = shown.iter().map(|&(_, w)| Constraint::Length(w as u16)).collect();
    (Table::new(body, constraints).header(header).column_spacing(1), hidden)
}
