//! The Datasets screen's state: every dataset pepr knows, a details view with class names, split
//! sizes and sample images (loaded by a worker), downloads with progress, and a selection for training.

use std::collections::BTreeSet;

use crossterm::event::KeyEvent;

use crate::data::registry::{Availability, Entry};

use super::request::Request;
use super::text_input::edit_filter;

/// What the details view shows once the worker has loaded the dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    pub name: String,
    /// Up to eight sample images, one per class where possible: (class index, side, grey pixels row-major).
    pub samples: Vec<(usize, usize, Vec<u8>)>,
    /// Samples per class in the training split.
    pub class_counts: Vec<usize>,
}

/// A download in progress or just finished.
#[derive(Clone, Debug, PartialEq)]
pub struct DownloadState {
    pub name: String,
    pub done: u64,
    pub total: Option<u64>,
    /// `Some(Ok(message))` / `Some(Err(message))` once finished.
    pub outcome: Option<Result<String, String>>,
}

/// Work this screen asks the event loop to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataRequest {
    List,
    Preview(String),
    Download(String),
}

#[derive(Default)]
pub struct DatasetsScreen {
    pub entries: Vec<Entry>,
    pub loading: bool,
    /// The selected position in `shown()` and the first one shown.
    pub cursor: super::list::ListCursor,
    pub filter: String,
    pub editing_filter: bool,
    pub chosen: BTreeSet<String>,
    pub show_details: bool,
    /// The preview for the entry under the cursor: `None` until asked, `Err` if loading failed.
    pub preview: Option<Result<Preview, String>>,
    pub preview_loading: bool,
    pub download: Option<DownloadState>,
    /// What the last key changed, for the status line.
    pub note: Option<String>,
}

impl DatasetsScreen {
    /// Indices into `entries` matching the filter, in listing order.
    pub fn shown(&self) -> Vec<usize> {
        let needle = self.filter.trim().to_lowercase();
        (0..self.entries.len())
            .filter(|&i| {
                let info = &self.entries[i].info;
                needle.is_empty()
                    || info.name.to_lowercase().contains(&needle)
                    || info.source.to_lowercase().contains(&needle)
                    || info.licence.to_lowercase().contains(&needle)
            })
            .collect()
    }

    pub fn current(&self) -> Option<&Entry> {
        self.shown().get(self.cursor.selected()).map(|&i| &self.entries[i])
    }

    pub fn on_list(&mut self, entries: Vec<Entry>) {
        let current = self.current().map(|e| e.info.name.clone());
        self.entries = entries;
        self.loading = false;
        let shown = self.shown();
        let at = current.and_then(|name| shown.iter().position(|&i| self.entries[i].info.name == name));
        self.cursor.select(at.unwrap_or(0), shown.len());
    }

    pub fn on_preview(&mut self, name: &str, preview: Result<Preview, String>) {
        if self.current().is_some_and(|e| e.info.name == name) {
            self.preview = Some(preview);
            self.preview_loading = false;
        }
    }

    pub fn on_download_progress(&mut self, name: &str, done: u64, total: Option<u64>) {
        if let Some(d) = self.download.as_mut().filter(|d| d.name == name) {
            d.done = done;
            d.total = total;
        }
    }

    /// A download ended; the list is refreshed by the caller so the set shows as local.
    pub fn on_download_done(&mut self, name: &str, outcome: Result<String, String>) {
        self.note = Some(match &outcome {
            Ok(message) => format!("{name}: {message}"),
            Err(e) => format!("{name}: download failed: {e}"),
        });
        if let Some(d) = self.download.as_mut().filter(|d| d.name == name) {
            d.outcome = Some(outcome);
        }
    }

    fn downloading(&self) -> bool {
        self.download.as_ref().is_some_and(|d| d.outcome.is_none())
    }

    fn moved(&mut self) {
        self.preview = None;
        self.preview_loading = false;
    }

    fn request_preview(&mut self) -> Option<DataRequest> {
        let entry = self.current()?;
        if entry.availability == Availability::Downloadable {
            self.preview = Some(Err(format!("{} is not downloaded yet: press D to download it", entry.info.name)));
            return None;
        }
        let name = entry.info.name.clone();
        self.preview_loading = true;
        Some(DataRequest::Preview(name))
    }

    /// Keys of this screen (see `keys::DATA`).
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Request> {
        self.key(key).map(Request::Data)
    }

    fn key(&mut self, key: KeyEvent) -> Option<DataRequest> {
        use super::keys::{DATA, DataAction, Key, lookup};
        if self.editing_filter {
            if edit_filter(&mut self.filter, &mut self.editing_filter, key) {
                self.cursor.reset();
                self.moved();
            }
            return None;
        }
        let action = lookup(DATA, Key::of(key))?;
        let before = self.cursor.selected();
        match action {
            DataAction::Move(m) => {
                self.cursor.apply(m, self.shown().len());
            }
            DataAction::Filter => self.editing_filter = true,
            DataAction::Back => {
                if self.show_details {
                    self.show_details = false;
                } else {
                    self.filter.clear();
                    self.cursor.reset();
                }
            }
            DataAction::Details => {
                self.show_details = !self.show_details;
                if self.show_details && self.preview.is_none() {
                    return self.request_preview();
                }
            }
            DataAction::Select => {
                if let Some(entry) = self.current() {
                    let name = entry.info.name.clone();
                    if entry.availability == Availability::Downloadable {
                        let why = format!("download {name} first (D) to select it for training");
                        self.preview = Some(Err(why.clone()));
                        self.note = Some(why);
                    } else if self.chosen.remove(&name) {
                        self.note = Some(format!("unselected {name} ({} selected)", self.chosen.len()));
                    } else {
                        self.chosen.insert(name.clone());
                        self.note = Some(format!("selected {name} for training ({} selected)", self.chosen.len()));
                    }
                }
            }
            DataAction::Download => {
                let entry = self.current()?;
                if self.downloading() {
                    self.note = Some("one download at a time: wait for the one running".into());
                    return None;
                }
                if entry.availability != Availability::Downloadable {
                    let here = format!("{} is already here", entry.info.name);
                    self.download = Some(DownloadState {
                        name: entry.info.name.clone(),
                        done: 0,
                        total: None,
                        outcome: Some(Ok(here.clone())),
                    });
                    self.note = Some(here);
                    return None;
                }
                let name = entry.info.name.clone();
                self.note = Some(format!("downloading {name}…"));
                self.download = Some(DownloadState { name: name.clone(), done: 0, total: None, outcome: None });
                return Some(DataRequest::Download(name));
            }
        }
        if self.cursor.selected() != before {
            self.moved();
            if self.show_details {
                return self.request_preview();
            }
        }
        None
    }
}
