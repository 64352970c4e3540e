//! The Architectures screen's state: the catalog at a chosen input size, sortable, filterable, with
//! a multi-selection that the Train screen will launch runs from.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crossterm::event::KeyEvent;

use crate::catalog::listing::ArchRow;

use super::plural;
use super::request::Request;
use super::text_input::edit_filter;

/// Input sizes the screen cycles through: each architecture's default, then fixed sizes.
pub const INPUT_SIZES: [Option<usize>; 6] = [None, Some(224), Some(128), Some(64), Some(32), Some(28)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchColumn {
    Arch,
    Family,
    Kind,
    Params,
    Macs,
}

impl ArchColumn {
    pub const ALL: [ArchColumn; 5] =
        [ArchColumn::Arch, ArchColumn::Family, ArchColumn::Kind, ArchColumn::Params, ArchColumn::Macs];

    pub fn title(self) -> &'static str {
        match self {
            ArchColumn::Arch => "arch",
            ArchColumn::Family => "family",
            ArchColumn::Kind => "kind",
            ArchColumn::Params => "params",
            ArchColumn::Macs => "MACs",
        }
    }
}

pub struct ArchsScreen {
    /// The catalog at `input`, as computed by a worker (empty until it arrives).
    pub rows: Vec<ArchRow>,
    pub loading: bool,
    /// Index into [`INPUT_SIZES`].
    pub input: usize,
    pub sort: ArchColumn,
    pub reversed: bool,
    pub filter: String,
    pub editing_filter: bool,
    /// The selected position in `order` and the first one shown.
    pub cursor: super::list::ListCursor,
    /// Names of the architectures picked for training.
    pub chosen: BTreeSet<&'static str>,
    /// Indices into `rows` in display order.
    order: Vec<usize>,
    /// What the last key changed, for the status line.
    pub note: Option<String>,
}

impl Default for ArchsScreen {
    fn default() -> Self {
        ArchsScreen {
            rows: Vec::new(),
            loading: false,
            input: 0,
            sort: ArchColumn::Params,
            reversed: false,
            filter: String::new(),
            editing_filter: false,
            cursor: Default::default(),
            chosen: BTreeSet::new(),
            order: Vec::new(),
            note: None,
        }
    }
}

impl ArchsScreen {
    /// The input size to compute the catalog at: `None` for each entry's default.
    pub fn input_size(&self) -> Option<usize> {
        INPUT_SIZES[self.input]
    }

    pub fn order(&self) -> &[usize] {
        &self.order
    }

    pub fn current(&self) -> Option<&ArchRow> {
        self.order.get(self.cursor.selected()).map(|&i| &self.rows[i])
    }

    /// Rows computed for `input` arrived; ignored if the user has moved on to another size.
    pub fn on_rows(&mut self, input: Option<usize>, rows: Vec<ArchRow>) {
        if input != self.input_size() {
            return;
        }
        self.loading = false;
        self.rows = rows;
        self.refresh();
    }

    fn refresh(&mut self) {
        let current = self.current().map(|r| r.entry.name);
        let needle = self.filter.trim().to_lowercase();
        let mut order: Vec<usize> = (0..self.rows.len())
            .filter(|&i| {
                let e = self.rows[i].entry;
                needle.is_empty()
                    || [e.name, e.family, e.kind.label()].iter().any(|f| f.to_lowercase().contains(&needle))
            })
            .collect();
        let key = |row: &ArchRow| -> (Option<u64>, &str) {
            match self.sort {
                ArchColumn::Params => (row.cost.as_ref().ok().map(|c| c.params), row.entry.name),
                ArchColumn::Macs => (row.cost.as_ref().ok().map(|c| c.macs), row.entry.name),
                ArchColumn::Arch => (Some(0), row.entry.name),
                ArchColumn::Family => (Some(0), row.entry.family),
                ArchColumn::Kind => (Some(0), row.entry.kind.label()),
            }
        };
        order.sort_by(|&a, &b| {
            let (ka, kb) = (key(&self.rows[a]), key(&self.rows[b]));
            // Entries that cannot take this input sort last either way.
            let by_value = match (ka.0, kb.0) {
                (Some(x), Some(y)) => x.cmp(&y).then(ka.1.cmp(kb.1)),
                (Some(_), None) => return Ordering::Less,
                (None, Some(_)) => return Ordering::Greater,
                (None, None) => ka.1.cmp(kb.1),
            };
            let by_value = by_value.then(self.rows[a].entry.name.cmp(self.rows[b].entry.name));
            if self.reversed { by_value.reverse() } else { by_value }
        });
        self.order = order;
        let at = current.and_then(|name| self.order.iter().position(|&i| self.rows[i].entry.name == name));
        self.cursor.select(at.unwrap_or(0), self.order.len());
    }

    /// Keys of this screen (see `keys::ARCHS`); asks for the catalog at the input size when it
    /// changes.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Request> {
        use super::keys::{ARCHS, ArchsAction, Key, lookup};
        if self.editing_filter {
            if edit_filter(&mut self.filter, &mut self.editing_filter, key) {
                self.refresh();
            }
            return None;
        }
        let action = lookup(ARCHS, Key::of(key))?;
        match action {
            ArchsAction::Move(m) => {
                self.cursor.apply(m, self.order.len());
            }
            ArchsAction::SortNext | ArchsAction::SortPrev => {
                let i = ArchColumn::ALL.iter().position(|c| *c == self.sort).unwrap_or(0);
                let n = ArchColumn::ALL.len();
                self.sort =
                    ArchColumn::ALL[if action == ArchsAction::SortNext { (i + 1) % n } else { (i + n - 1) % n }];
                self.reversed = false;
                self.refresh();
            }
            ArchsAction::Reverse => {
                self.reversed = !self.reversed;
                self.refresh();
            }
            ArchsAction::Filter => self.editing_filter = true,
            ArchsAction::Back => {
                self.filter.clear();
                self.refresh();
            }
            ArchsAction::Select => {
                if let Some(name) = self.current().map(|r| r.entry.name) {
                    let line = if self.chosen.remove(name) {
                        format!("unselected {name}")
                    } else {
                        self.chosen.insert(name);
                        format!("selected {name} for training")
                    };
                    self.note = Some(format!("{line} ({} selected)", self.chosen.len()));
                }
            }
            ArchsAction::SelectAll => {
                // Select every shown architecture that can take this input.
                let shown: Vec<&'static str> = self
                    .order
                    .iter()
                    .map(|&i| &self.rows[i])
                    .filter(|r| r.cost.is_ok())
                    .map(|r| r.entry.name)
                    .collect();
                let before = self.chosen.len();
                self.chosen.extend(shown);
                let added = self.chosen.len() - before;
                self.note = Some(format!(
                    "selected {added} more architecture{} ({} selected)",
                    plural(added),
                    self.chosen.len()
                ));
            }
            ArchsAction::SelectNone => {
                let n = self.chosen.len();
                self.chosen.clear();
                self.note = Some(format!("unselected {n} architecture{}", plural(n)));
            }
            ArchsAction::InputSize => {
                self.input = (self.input + 1) % INPUT_SIZES.len();
                self.loading = true;
                return Some(Request::Catalog(self.input_size()));
            }
        }
        None
    }
}
