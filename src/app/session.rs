//! What the explorer remembers between sessions, in `tui.json` in the home: the leaderboard's
//! columns, the selected architectures and datasets, the runs queued but not started, and the Train
//! settings. Written when the explorer quits, read when it starts; a bad file is reported and the
//! explorer starts fresh (the file is left for the user to look at until the next quit).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::App;
use super::train::{JobState, Settings};

/// Where the state lives in a home.
pub fn path(home: &crate::home::Home) -> PathBuf {
    home.root().join("tui.json")
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    /// The leaderboard's optional columns by title; `None` for the defaults.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub archs: Vec<String>,
    #[serde(default)]
    pub datasets: Vec<String>,
    /// Runs queued and not started (grid cells are not kept: the grid form's `a` queues them again).
    #[serde(default)]
    pub queue: Vec<QueuedRun>,
    #[serde(default)]
    pub train: Option<TrainSettings>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedRun {
    pub arch: String,
    pub dataset: String,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub freeze: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub fraction: f64,
    pub seed: u64,
    pub metric: String,
    /// CPU threads (`None`: every core); older files have none.
    #[serde(default)]
    pub threads: Option<usize>,
}

impl Remembered {
    /// The state of `app` worth keeping.
    pub fn of(app: &App) -> Remembered {
        let s = &app.train.settings;
        Remembered {
            columns: Some(app.runs.columns.names().into_iter().map(String::from).collect()),
            archs: app.archs.chosen.iter().map(|a| a.to_string()).collect(),
            datasets: app.datasets.chosen.iter().cloned().collect(),
            queue: app
                .train
                .queue
                .iter()
                .filter(|e| e.state == JobState::Queued && e.grid_cell.is_none())
                .map(|e| QueuedRun {
                    arch: e.arch.clone(),
                    dataset: e.dataset.clone(),
                    start: e.start.clone(),
                    freeze: e.freeze,
                })
                .collect(),
            train: Some(TrainSettings {
                epochs: s.epochs,
                batch_size: s.batch_size,
                lr: s.lr,
                fraction: s.fraction,
                seed: s.seed,
                metric: s.metric.key().to_string(),
                threads: s.threads,
            }),
        }
    }

    /// Puts the state back into `app`; returns what could not be restored (an architecture the
    /// catalog no longer has, a metric it does not know).
    pub fn apply(self, app: &mut App) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(columns) = &self.columns {
            app.runs.columns = super::columns::Columns::from_names(columns.iter().map(String::as_str));
        }
        for arch in &self.archs {
            match crate::catalog::find(arch) {
                Some(entry) => {
                    app.archs.chosen.insert(entry.name);
                }
                None => problems.push(format!("architecture {arch} is not in the catalog")),
            }
        }
        app.datasets.chosen.extend(self.datasets);
        for run in self.queue {
            if crate::catalog::find(&run.arch).is_none() {
                problems.push(format!("queued {} is not in the catalog", run.arch));
                continue;
            }
            app.train.add_pairs([run.arch.as_str()], [run.dataset.as_str()]);
            if let Some(entry) = app.train.queue.last_mut() {
                entry.start = run.start;
                entry.freeze = run.freeze && entry.start.is_some();
            }
        }
        if let Some(t) = self.train {
            let metric = crate::train::Metric::parse(&t.metric).unwrap_or_else(|| {
                problems.push(format!("metric {} is unknown: accuracy is used", t.metric));
                crate::train::Metric::Accuracy
            });
            // Meter settings, backend and its availability stay as this session found them.
            let current = std::mem::take(&mut app.train.settings);
            app.train.settings = Settings {
                epochs: t.epochs.clamp(1, super::train::MAX_EPOCHS),
                batch_size: t.batch_size.max(1),
                lr: t.lr,
                fraction: t.fraction,
                seed: t.seed,
                metric,
                threads: t.threads.or(current.threads),
                ..current
            };
        }
        problems
    }

    /// The state in `path`: `Ok(None)` when there is none yet, `Err` naming the file when it cannot
    /// be read.
    pub fn load(path: &Path) -> Result<Option<Remembered>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: line {}: {e}; starting with nothing remembered", path.display(), e.line()))
    }

    /// Writes the state beside its place and renames it over (a crash never leaves half a file).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        Ok(crate::files::write(path, text.as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_goes_round_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tui.json");
        assert_eq!(Remembered::load(&file), Ok(None));

        let mut app = App::new("store");
        app.archs.chosen.insert("pepr_lenet5");
        app.datasets.chosen.insert("synthetic".into());
        app.train.add_pairs(["pepr_lenet5"], ["synthetic"]);
        app.train.queue[0].start = Some("imagenet".into());
        app.train.queue[0].freeze = true;
        app.train.settings.epochs = 3;
        app.runs.columns.cursor.reset();
        app.runs.columns.toggle(); // group shown
        Remembered::of(&app).save(&file).unwrap();

        let mut fresh = App::new("store");
        let problems = Remembered::load(&file).unwrap().unwrap().apply(&mut fresh);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(fresh.archs.chosen, app.archs.chosen);
        assert_eq!(fresh.datasets.chosen, app.datasets.chosen);
        assert_eq!(fresh.train.queue.len(), 1);
        assert_eq!(fresh.train.queue[0].start.as_deref(), Some("imagenet"));
        assert!(fresh.train.queue[0].freeze);
        assert_eq!(fresh.train.settings, app.train.settings);
        assert_eq!(fresh.runs.columns.in_order(), app.runs.columns.in_order());

        std::fs::write(&file, "{\"archs\": [\"no_such_net\"], \"queue\": 3}").unwrap();
        let error = Remembered::load(&file).unwrap_err();
        assert!(error.contains("tui.json: line 1") && error.contains("starting with nothing remembered"), "{error}");
        std::fs::write(&file, "{\"archs\": [\"no_such_net\"]}").unwrap();
        let problems = Remembered::load(&file).unwrap().unwrap().apply(&mut App::new("store"));
        assert_eq!(problems, ["architecture no_such_net is not in the catalog"]);
    }
}
