//! The leaderboard's columns: which ones tell runs apart (group, start, epochs, seed, fraction,
//! status, created, kind, params), which of them are shown (`o` opens the chooser), and the order in
//! which they give way when the terminal is too narrow.

use crate::results::record::RunRecord;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunColumn {
    Group,
    Start,
    Epochs,
    Seed,
    Fraction,
    Status,
    Created,
    Kind,
    Params,
}

impl RunColumn {
    /// The optional columns, in the order they stand in the table and in the chooser.
    pub const ALL: [RunColumn; 9] = [
        RunColumn::Group,
        RunColumn::Start,
        RunColumn::Epochs,
        RunColumn::Seed,
        RunColumn::Fraction,
        RunColumn::Status,
        RunColumn::Created,
        RunColumn::Kind,
        RunColumn::Params,
    ];

    /// Shown until the user chooses otherwise.
    pub const DEFAULT: [RunColumn; 6] =
        [RunColumn::Start, RunColumn::Epochs, RunColumn::Seed, RunColumn::Status, RunColumn::Kind, RunColumn::Params];

    pub fn title(self) -> &'static str {
        match self {
            RunColumn::Group => "group",
            RunColumn::Start => "start",
            RunColumn::Epochs => "ep",
            RunColumn::Seed => "seed",
            RunColumn::Fraction => "data",
            RunColumn::Status => "status",
            RunColumn::Created => "created",
            RunColumn::Kind => "kind",
            RunColumn::Params => "params",
        }
    }

    /// What the chooser says the column holds.
    pub fn describe(self) -> &'static str {
        match self {
            RunColumn::Group => "group: the experiment group (comparison set by group)",
            RunColumn::Start => "start: scratch or the pretrained source",
            RunColumn::Epochs => "ep: epochs trained",
            RunColumn::Seed => "seed",
            RunColumn::Fraction => "data: share of the training data",
            RunColumn::Status => "status: completed, interrupted, failed",
            RunColumn::Created => "created: when the run was stored (UTC)",
            RunColumn::Kind => "kind: CNN, Transformer, MLP",
            RunColumn::Params => "params: parameter count",
        }
    }

    /// Which column gives way first when the terminal is too narrow (higher first).
    pub fn drop_order(self) -> u8 {
        match self {
            RunColumn::Created => 9,
            RunColumn::Group => 8,
            RunColumn::Kind => 7,
            RunColumn::Fraction => 6,
            RunColumn::Params => 5,
            RunColumn::Status => 4,
            RunColumn::Seed => 3,
            RunColumn::Epochs => 2,
            RunColumn::Start => 1,
        }
    }

    /// [`Self::cell`], with an earlier run as a start named by its arch and P (see [`start_label_in`]).
    pub fn cell_in(self, record: &RunRecord, records: &[RunRecord]) -> String {
        match self {
            RunColumn::Start => {
                start_label_in(record.pretrained.as_deref(), record.frozen_backbone == Some(true), records)
            }
            _ => self.cell(record),
        }
    }

    /// The cell of a record; "—" for a missing value.
    pub fn cell(self, record: &RunRecord) -> String {
        let dash = || "—".to_string();
        match self {
            RunColumn::Group => record.group.clone(),
            RunColumn::Start => start_label(record.pretrained.as_deref(), record.frozen_backbone == Some(true)),
            RunColumn::Epochs => record.epochs.map_or_else(dash, |e| e.to_string()),
            RunColumn::Seed => record.seed.map_or_else(dash, |s| s.to_string()),
            RunColumn::Fraction => record.data_fraction.map_or_else(dash, fraction_label),
            RunColumn::Status => record.status.label().to_string(),
            RunColumn::Created => record.created_at.format("%m-%d %H:%M").to_string(),
            RunColumn::Kind => record.kind.label().to_string(),
            RunColumn::Params => record.params.map_or_else(dash, crate::format::human_count),
        }
    }
}

/// 1.0 -> "100%", 0.1 -> "10%", 0.025 -> "2.5%".
pub fn fraction_label(f: f64) -> String {
    let percent = f * 100.0;
    if (percent - percent.round()).abs() < 1e-9 { format!("{percent:.0}%") } else { format!("{percent}%") }
}

/// `scratch`, or the weights' source; an earlier run's id is shortened to its distinguishing tail;
/// `[f]` marks a frozen backbone.
pub fn start_label(source: Option<&str>, frozen: bool) -> String {
    let Some(source) = source else { return "scratch".into() };
    let short = match source.strip_prefix("run:") {
        Some(id) if id.chars().count() > 12 => {
            format!("run:…{}", id.chars().skip(id.chars().count() - 8).collect::<String>())
        }
        _ => source.to_string(),
    };
    if frozen { format!("[f] {short}") } else { short }
}

/// [`start_label`], but an earlier run that `records` holds is named by its arch and P
/// ("run resnet8 P=0.427"; "P=—" when it has none) instead of the tail of its id.
pub fn start_label_in(source: Option<&str>, frozen: bool, records: &[RunRecord]) -> String {
    let found = source.and_then(|s| s.strip_prefix("run:")).and_then(|id| records.iter().find(|r| r.id == id));
    let Some(run) = found else { return start_label(source, frozen) };
    let p = run.measured_p().map_or("—".to_string(), |p| format!("{p:.3}"));
    // The arch gives way before the P does.
    let label = format!("run {} P={p}", crate::format::fit(&crate::text::clean(&run.arch), 14));
    if frozen { format!("[f] {label}") } else { label }
}

/// The chooser's state: the columns shown and the chooser's cursor.
#[derive(Clone, Debug, PartialEq)]
pub struct Columns {
    pub shown: Vec<RunColumn>,
    pub open: bool,
    pub cursor: super::list::ListCursor,
}

impl Default for Columns {
    fn default() -> Self {
        Columns { shown: RunColumn::DEFAULT.to_vec(), open: false, cursor: Default::default() }
    }
}

impl Columns {
    pub fn is_shown(&self, column: RunColumn) -> bool {
        self.shown.contains(&column)
    }

    /// The shown columns in table order.
    pub fn in_order(&self) -> Vec<RunColumn> {
        RunColumn::ALL.iter().copied().filter(|c| self.is_shown(*c)).collect()
    }

    /// Shows or hides the column under the cursor; returns what the status line says.
    pub fn toggle(&mut self) -> String {
        let column = RunColumn::ALL[self.cursor.selected().min(RunColumn::ALL.len() - 1)];
        if let Some(i) = self.shown.iter().position(|c| *c == column) {
            self.shown.remove(i);
            format!("column {} hidden", column.title())
        } else {
            self.shown.push(column);
            format!("column {} shown", column.title())
        }
    }

    /// The names of the shown columns, for the settings file ("start,ep,seed").
    pub fn names(&self) -> Vec<&'static str> {
        self.in_order().into_iter().map(RunColumn::title).collect()
    }

    /// Columns from their names; unknown names are skipped.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Columns {
        let shown = names.into_iter().filter_map(|n| RunColumn::ALL.into_iter().find(|c| c.title() == n)).collect();
        Columns { shown, ..Columns::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_from_an_earlier_run_names_its_arch_and_p() {
        let mut earlier = crate::results::record::sample("0123456789abcdef0320ca27", "g", 0.427, None);
        earlier.arch = "resnet8".into();
        let records = vec![earlier];
        let source = Some("run:0123456789abcdef0320ca27");
        assert_eq!(start_label(source, false), "run:…0320ca27");
        assert_eq!(start_label_in(source, false, &records), "run resnet8 P=0.427");
        assert_eq!(start_label_in(source, true, &records), "[f] run resnet8 P=0.427");
        assert_eq!(start_label_in(Some("run:gone"), false, &records), "run:gone");
        assert_eq!(start_label_in(None, false, &records), "scratch");
    }

    #[test]
    fn labels_and_toggling() {
        assert_eq!(fraction_label(1.0), "100%");
        assert_eq!(fraction_label(0.1), "10%");
        assert_eq!(fraction_label(0.025), "2.5%");
        assert_eq!(start_label(None, false), "scratch");
        assert_eq!(start_label(Some("run:run-20260101-120000-0320ca27"), true), "[f] run:…0320ca27");
        let mut columns = Columns::default();
        assert!(columns.is_shown(RunColumn::Start) && !columns.is_shown(RunColumn::Group));
        assert_eq!(columns.toggle(), "column group shown");
        assert_eq!(columns.in_order()[0], RunColumn::Group);
        assert_eq!(columns.toggle(), "column group hidden");
        let names = columns.names();
        assert_eq!(Columns::from_names(names.iter().copied()).shown.len(), RunColumn::DEFAULT.len());
        assert_eq!(Columns::from_names(["nope", "seed"]).shown, [RunColumn::Seed]);
    }
}
