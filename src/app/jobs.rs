//! The Jobs screen's state: the Slurm arrays submitted from this home with each cell's state, as
//! the jobs poller (a worker thread running `slurm::watch::refresh`) last reported them. Records
//! merged by the poller make the leaderboard reload, so finished cells appear there as they merge.

use crossterm::event::KeyEvent;

use crate::results::incoming::MergeReport;
use crate::slurm::watch::JobStatus;

use super::request::Request;

/// What the Jobs screen asks the event loop for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobsRequest {
    /// Ask Slurm and merge now, rather than at the next poll.
    Refresh,
    /// `scancel` this array.
    Cancel(String),
}

/// One answer of the poller.
pub type JobsUpdate = Result<(MergeReport, Vec<JobStatus>), String>;

#[derive(Clone, Debug, Default)]
pub struct JobsScreen {
    pub jobs: Vec<JobStatus>,
    /// The poller has answered at least once.
    pub loaded: bool,
    pub error: Option<String>,
    /// The selected array (newest first on screen: index into `jobs` from the end).
    pub cursor: super::list::ListCursor,
    /// The last thing worth telling: merged runs, a cancel's outcome, files that would not merge.
    pub note: Option<String>,
}

impl JobsScreen {
    /// The arrays newest first, as shown.
    pub fn shown(&self) -> impl Iterator<Item = &JobStatus> {
        self.jobs.iter().rev()
    }

    pub fn selected_job(&self) -> Option<&JobStatus> {
        self.shown().nth(self.cursor.selected())
    }

    /// Whether any array was ever submitted from this home (the Jobs tab shows then).
    pub fn has_jobs(&self) -> bool {
        !self.jobs.is_empty()
    }

    /// Takes a poll's answer; true when runs were merged (the leaderboard must reload).
    pub fn on_update(&mut self, update: JobsUpdate) -> bool {
        self.loaded = true;
        match update {
            Ok((report, jobs)) => {
                self.jobs = jobs;
                self.error = None;
                self.cursor.clamp(self.jobs.len());
                if !report.bad.is_empty() {
                    let (path, why) = &report.bad[0];
                    self.note = Some(format!("{} not merged: {why}", path.display()));
                } else if report.added > 0 {
                    self.note = Some(report.to_string());
                }
                report.added > 0
            }
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    pub fn on_cancelled(&mut self, job_id: &str, result: Result<(), String>) {
        self.note = Some(match result {
            Ok(()) => format!("cancelled job {job_id}; its cells stop and are stored as interrupted"),
            Err(e) => format!("cannot cancel job {job_id}: {e}"),
        });
    }

    /// Keys of this screen (see `keys::JOBS`); `X` is the app's: it asks before cancelling.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Request> {
        use super::keys::{JOBS, JobsAction, Key, lookup};
        match lookup(JOBS, Key::of(key))? {
            JobsAction::Move(m) => {
                self.cursor.apply(m, self.jobs.len());
            }
            JobsAction::Refresh => {
                self.note = Some("asking Slurm…".into());
                return Some(Request::Jobs(JobsRequest::Refresh));
            }
            JobsAction::Cancel => {}
        }
        None
    }

    /// The array `X` would cancel, and how many of its cells have not ended.
    pub fn cancel_target(&self) -> Option<(String, usize)> {
        let status = self.selected_job()?;
        let open = status.cells.iter().filter(|c| c.run.is_none() && !c.never_started).count();
        Some((status.job.job_id.clone(), open))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slurm::jobs::SubmittedJob;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn status(id: &str) -> JobStatus {
        JobStatus {
            job: SubmittedJob {
                job_id: id.into(),
                name: "pepr".into(),
                submitted_at: chrono::Utc::now(),
                dir: "/h/slurm/x".into(),
                cells: 0,
                options: Default::default(),
                resubmits: None,
            },
            cells: vec![],
            slurm_error: None,
            cells_error: None,
        }
    }

    fn press(screen: &mut JobsScreen, code: KeyCode) -> Option<Request> {
        screen.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn moving_and_refreshing_and_the_cancel_target() {
        let mut screen = JobsScreen::default();
        assert!(!screen.on_update(Ok((MergeReport::default(), vec![status("7"), status("8")]))));
        // Newest first: 8 is selected; X itself asks nothing of the event loop (the app confirms).
        assert_eq!(screen.cancel_target(), Some(("8".into(), 0)));
        assert_eq!(press(&mut screen, KeyCode::Char('X')), None);
        assert_eq!(press(&mut screen, KeyCode::Down), None);
        assert_eq!(screen.cancel_target().unwrap().0, "7");
        assert_eq!(press(&mut screen, KeyCode::Char('R')), Some(Request::Jobs(JobsRequest::Refresh)));
        assert_eq!(press(&mut screen, KeyCode::Esc), None, "not a key of this screen");
    }

    #[test]
    fn merged_runs_ask_for_a_reload_and_say_so() {
        let mut screen = JobsScreen::default();
        let report = MergeReport { added: 2, ..MergeReport::default() };
        assert!(screen.on_update(Ok((report, vec![status("7")]))));
        assert_eq!(screen.note.as_deref(), Some("merged 2 new run(s), 0 already stored"));
        assert!(!screen.on_update(Err("scontrol: boom".into())));
        assert_eq!(screen.error.as_deref(), Some("scontrol: boom"));
        assert_eq!(screen.jobs.len(), 1, "the last good answer stays shown");
    }
}
