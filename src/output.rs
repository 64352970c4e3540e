//! One writer for every command that prints rows: an aligned text table for people, CSV or a JSON
//! array of objects for programs. Commands choose their columns and cells; the layout (widths,
//! padding by terminal columns, quoting, `null`s) is decided here once.

use std::io::{self, Write};

use anyhow::Result;
use serde_json::{Map, Value, json};

/// `--format`: how a command prints its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Where a table column's cells sit: text on the left, figures on the right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

struct Column {
    title: String,
    align: Align,
    min_width: usize,
    before: Option<&'static str>,
}

/// An aligned text table: every column as wide as its widest cell or title (or its minimum width),
/// cells padded by terminal columns (so `—`, `±` and wide characters line up), trailing blanks
/// trimmed.
pub struct Table {
    columns: Vec<Column>,
    gap: &'static str,
}

impl Table {
    /// A table whose columns are separated by `gap`.
    pub fn new(gap: &'static str) -> Table {
        Table { columns: Vec::new(), gap }
    }

    pub fn left(self, title: impl Into<String>) -> Table {
        self.column(title, Align::Left)
    }

    pub fn right(self, title: impl Into<String>) -> Table {
        self.column(title, Align::Right)
    }

    pub fn column(mut self, title: impl Into<String>, align: Align) -> Table {
        self.columns.push(Column { title: title.into(), align, min_width: 0, before: None });
        self
    }

    /// The last column is at least `width` terminal columns wide (a fixed layout that widens,
    /// rather than breaks, when a cell is longer).
    pub fn min_width(mut self, width: usize) -> Table {
        if let Some(column) = self.columns.last_mut() {
            column.min_width = width;
        }
        self
    }

    /// The last column is separated from the one before by `separator` instead of the table's gap.
    pub fn separated_by(mut self, separator: &'static str) -> Table {
        if let Some(column) = self.columns.last_mut() {
            column.before = Some(separator);
        }
        self
    }

    /// The column widths for these rows (titles included).
    fn widths(&self, rows: &[Vec<String>]) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let cells = rows.iter().filter_map(|row| row.get(i)).map(|cell| crate::text::width(cell));
                cells.fold(crate::text::width(&column.title).max(column.min_width), usize::max)
            })
            .collect()
    }

    fn line(&self, out: &mut dyn Write, widths: &[usize], cells: &[&str]) -> io::Result<()> {
        let mut line = String::new();
        for (i, (column, &width)) in self.columns.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str(column.before.unwrap_or(self.gap));
            }
            let cell = cells.get(i).copied().unwrap_or("");
            line.push_str(&crate::text::pad(cell, width, column.align == Align::Left));
        }
        writeln!(out, "{}", line.trim_end())
    }

    /// The title line, then one line per row.
    pub fn write(&self, out: &mut dyn Write, rows: &[Vec<String>]) -> io::Result<()> {
        let widths = self.widths(rows);
        let titles: Vec<&str> = self.columns.iter().map(|c| c.title.as_str()).collect();
        self.line(out, &widths, &titles)?;
        for row in rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            self.line(out, &widths, &cells)?;
        }
        Ok(())
    }
}

/// One value of a row for CSV and JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A string (JSON), as is (CSV).
    Text(String),
    /// A string, or nothing: JSON `null`, an empty CSV cell.
    MaybeText(Option<String>),
    /// A figure: JSON number (or `null`), CSV in Rust's shortest form (empty when missing).
    Number(Option<f64>),
    /// A whole number.
    Count(u64),
    /// `true` or `false`.
    Flag(bool),
    /// A value whose CSV form is not its JSON form (a list: "1;2" and `[1, 2]`).
    Both { csv: String, json: Value },
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::MaybeText(text) => text.clone().unwrap_or_default(),
            Cell::Number(n) => n.map(|n| n.to_string()).unwrap_or_default(),
            Cell::Count(n) => n.to_string(),
            Cell::Flag(b) => b.to_string(),
            Cell::Both { csv, .. } => csv.clone(),
        }
    }

    fn json(self) -> Value {
        match self {
            Cell::Text(text) => Value::String(text),
            Cell::MaybeText(text) => text.map_or(Value::Null, Value::String),
            Cell::Number(n) => n.map_or(Value::Null, |n| json!(n)),
            Cell::Count(n) => json!(n),
            Cell::Flag(b) => Value::Bool(b),
            Cell::Both { json, .. } => json,
        }
    }
}

/// The header, then one CSV record per row.
pub fn write_csv<S: AsRef<str>>(
    out: &mut dyn Write,
    columns: &[S],
    rows: impl IntoIterator<Item = Vec<Cell>>,
) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(columns.iter().map(|c| c.as_ref()))?;
    for row in rows {
        writer.write_record(row.iter().map(Cell::csv))?;
    }
    writer.flush()?;
    Ok(())
}

/// A pretty-printed JSON array with one object per row, its keys the columns in order.
pub fn write_json<S: AsRef<str>>(
    out: &mut dyn Write,
    columns: &[S],
    rows: impl IntoIterator<Item = Vec<Cell>>,
) -> Result<()> {
    write_json_sparse(out, columns, rows.into_iter().map(|row| row.into_iter().map(Some).collect()))
}

/// [`write_json`] where a row's `None` cell leaves its key out of that row's object.
pub fn write_json_sparse<S: AsRef<str>>(
    out: &mut dyn Write,
    columns: &[S],
    rows: impl IntoIterator<Item = Vec<Option<Cell>>>,
) -> Result<()> {
    let objects: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let object: Map<String, Value> = columns
                .iter()
                .zip(row)
                .filter_map(|(name, cell)| Some((name.as_ref().to_string(), cell?.json())))
                .collect();
            Value::Object(object)
        })
        .collect();
    write_value(out, &objects)
}

/// Any JSON value, pretty-printed, with a final newline (what every `--format json` prints).
pub fn write_value(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(table: &Table, rows: &[Vec<String>]) -> String {
        let mut out = Vec::new();
        table.write(&mut out, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn columns_widen_to_the_longest_cell_and_align() {
        let table = Table::new("  ").left("arch").right("P").right("front");
        let rows = [row(&["resnet18", "0.8", "*"]), row(&["lenet", "0.75", ""])];
        assert_eq!(text(&table, &rows), "arch         P  front\nresnet18   0.8      *\nlenet     0.75\n");
    }

    #[test]
    fn minimum_widths_keep_a_fixed_layout_and_widen_for_a_long_cell() {
        let table = Table::new(" ").left("name").min_width(6).right("n").min_width(3).left("x").separated_by("  ");
        assert_eq!(text(&table, &[row(&["ab", "1", "y"])]), "name     n  x\nab       1  y\n");
        // A name longer than the minimum moves every line's next columns, not just its own.
        assert_eq!(
            text(&table, &[row(&["abcdefgh", "1", "y"]), row(&["ab", "22", "z"])]),
            "name       n  x\nabcdefgh   1  y\nab        22  z\n"
        );
    }

    #[test]
    fn padding_counts_terminal_columns() {
        let table = Table::new(" ").left("a").right("b");
        assert_eq!(
            text(&table, &[row(&["—", "0.5±0.1"]), row(&["日本", "1"])]),
            "a          b\n—    0.5±0.1\n日本       1\n"
        );
    }

    #[test]
    fn csv_and_json_write_each_cell_in_its_own_form() {
        let columns = ["name", "p", "runs", "ok", "seeds", "note"];
        let rows = || {
            vec![vec![
                Cell::Text("a,b".into()),
                Cell::Number(Some(1.0)),
                Cell::Count(3),
                Cell::Flag(true),
                Cell::Both { csv: "0;1".into(), json: json!([0, 1]) },
                Cell::MaybeText(None),
            ]]
        };
        let mut csv = Vec::new();
        write_csv(&mut csv, &columns, rows()).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap(), "name,p,runs,ok,seeds,note\n\"a,b\",1,3,true,0;1,\n");
        let mut json = Vec::new();
        write_json(&mut json, &columns, rows()).unwrap();
        let value: Value = serde_json::from_slice(&json).unwrap();
        let expected = json!([{"name": "a,b", "p": 1.0, "runs": 3, "ok": true, "seeds": [0, 1], "note": null}]);
        assert_eq!(value, expected);
        assert!(String::from_utf8(json).unwrap().ends_with("]\n"));
        // A sparse row leaves its missing keys out.
        let mut sparse = Vec::new();
        write_json_sparse(&mut sparse, &["a", "b"], [vec![Some(Cell::Count(1)), None]]).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&sparse).unwrap(), json!([{"a": 1}]));
    }
}
