//! Where pepr keeps its data: `--home DIR`, else `$PEPR_HOME`, else the platform data directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

/// The environment variable that overrides the data directory.
pub const HOME_ENV: &str = "PEPR_HOME";

/// pepr's data directory and the files inside it.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Resolves the home: an explicit directory wins, then `$PEPR_HOME`, then the platform's data dir
    /// (e.g. `~/.local/share/pepr` on Linux).
    pub fn resolve(explicit: Option<&Path>) -> Result<Home> {
        if let Some(dir) = explicit {
            return Ok(Home::at(dir));
        }
        if let Some(dir) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
            return Ok(Home::at(PathBuf::from(dir)));
        }
        let dirs = directories::ProjectDirs::from("", "", "pepr")
            .ok_or_else(|| anyhow!("cannot find a data directory for pepr: set --home DIR or {HOME_ENV}"))?;
        Ok(Home::at(dirs.data_dir()))
    }

    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The append-only run store.
    pub fn runs_file(&self) -> PathBuf {
        self.root.join("runs.jsonl")
    }

    /// Where dataset files live by default.
    pub fn datasets_dir(&self) -> PathBuf {
        self.root.join("datasets")
    }

    /// Where trained weights go: one folder per run id.
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// The user's settings (carbon intensity, PUE, meter intervals, ranking energy).
    pub fn settings_file(&self) -> PathBuf {
        self.root.join("settings.json")
    }

    /// Finished runs from Slurm array tasks, one file each, waiting to be merged into the store.
    pub fn incoming_dir(&self) -> PathBuf {
        self.root.join("incoming")
    }

    /// Submitted Slurm arrays: one folder per submission (script, cells, task logs) and `jobs.json`.
    pub fn slurm_dir(&self) -> PathBuf {
        self.root.join("slurm")
    }

    /// Creates the directory if needed.
    pub fn ensure(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root).with_context(|| format!("cannot create pepr home {}", self.root.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_home_wins() {
        let home = Home::resolve(Some(Path::new("/tmp/x"))).unwrap();
        assert_eq!(home.runs_file(), PathBuf::from("/tmp/x/runs.jsonl"));
    }
}
