//! Progress of the CLI's waits (downloads, training, sweeps and grids, imports, calibration,
//! benchmarks) on stderr, so stdout stays clean for tables, CSV and JSON.
//!
//! On a terminal: an `indicatif` bar with rate and ETA. Otherwise (a pipe, CI, a Slurm log):
//! plain lines with no carriage return or escape code, one per tenth of the work at most. Domain
//! code never sees this module: it reports through callbacks, and the CLI layer turns those into a
//! [`Progress`].

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{DecimalBytes, HumanDuration, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the work is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Shown as kB/MB/GB.
    Bytes,
    /// A plural noun: "steps", "runs", "cases".
    Count(&'static str),
}

/// One piece of work being waited for; see the module's comment. Dropping it without
/// [`Progress::finish`] clears a bar.
pub struct Progress {
    inner: Inner,
}

enum Inner {
    Bar { bar: ProgressBar, multi: Option<MultiProgress> },
    Plain(PlainLines),
    Hidden,
}

/// How a [`Progress`] shows itself when stderr is not a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenPlain {
    /// A line per tenth of the work (or fewer, see [`PlainLines::min_gap`]).
    Lines,
    /// A line per tenth, at most one every `Duration` (the last tenth is always shown).
    LinesAtMostEvery(Duration),
    /// Nothing: the caller prints its own lines (a sweep prints one per run).
    Silent,
}

impl Progress {
    /// A bar on a terminal, plain lines otherwise.
    pub fn new(label: impl Into<String>, total: Option<u64>, unit: Unit, plain: WhenPlain) -> Progress {
        Progress::build(std::io::stderr().is_terminal(), None, label.into(), total, unit, plain)
    }

    /// Another bar shown under this one (a sweep's current run under the sweep); plain lines
    /// when this is not a bar.
    pub fn child(&mut self, label: impl Into<String>, total: Option<u64>, unit: Unit, plain: WhenPlain) -> Progress {
        let label = label.into();
        match &mut self.inner {
            Inner::Bar { bar, multi } => {
                let multi = multi.get_or_insert_with(|| {
                    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                    // The parent's own bar moves into the group so both are drawn together.
                    let parent = multi.add(bar.clone());
                    *bar = parent;
                    multi
                });
                Progress::build(true, Some(multi.clone()), label, total, unit, plain)
            }
            _ => Progress::build(false, None, label, total, unit, plain),
        }
    }

    fn build(
        terminal: bool,
        multi: Option<MultiProgress>,
        label: String,
        total: Option<u64>,
        unit: Unit,
        plain: WhenPlain,
    ) -> Progress {
        if !terminal {
            let inner = match plain {
                WhenPlain::Silent => Inner::Hidden,
                WhenPlain::Lines => Inner::Plain(PlainLines::new(label, total, unit, Duration::ZERO)),
                WhenPlain::LinesAtMostEvery(gap) => Inner::Plain(PlainLines::new(label, total, unit, gap)),
            };
            return Progress { inner };
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let template = match unit {
            Unit::Bytes => "{prefix} [{bar:30}] {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
            Unit::Count(_) => "{prefix} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
        };
        let style = ProgressStyle::with_template(template)
            .map(|s| s.progress_chars("#>."))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(label);
        let bar = match &multi {
            Some(multi) => multi.add(bar),
            None => bar,
        };
        // Redraw even when no step comes for a while (a slow first step, a stalled download).
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { inner: Inner::Bar { bar, multi } }
    }

    /// The total, once known (a download's length, a run's steps).
    pub fn set_total(&mut self, total: u64) {
        match &mut self.inner {
            Inner::Bar { bar, .. } => bar.set_length(total),
            Inner::Plain(plain) => plain.total = Some(total),
            Inner::Hidden => {}
        }
    }

    /// The label in front (`[2/5] resnet18 on dermamnist`).
    pub fn set_label(&mut self, label: impl Into<String>) {
        let label = label.into();
        match &mut self.inner {
            Inner::Bar { bar, .. } => bar.set_prefix(label),
            Inner::Plain(plain) => plain.label = label,
            Inner::Hidden => {}
        }
    }

    /// Work done so far, and a short note shown after the figures (loss, meters).
    pub fn update(&mut self, done: u64, note: &str) {
        match &mut self.inner {
            Inner::Bar { bar, .. } => {
                bar.set_position(done);
                bar.set_message(note.to_string());
            }
            Inner::Plain(plain) => {
                if let Some(line) = plain.update(done, note, Instant::now()) {
                    eprintln!("{line}");
                }
            }
            Inner::Hidden => {}
        }
    }

    /// A whole line on stderr above the bars (or just a line, without bars).
    pub fn say(&self, line: &str) {
        match &self.inner {
            Inner::Bar { multi: Some(multi), .. } => {
                if multi.println(line).is_err() {
                    eprintln!("{line}");
                }
            }
            Inner::Bar { bar, multi: None } => bar.println(line),
            _ => eprintln!("{line}"),
        }
    }

    /// Removes the bar (its lines said with [`Progress::say`] stay).
    pub fn finish(self) {
        if let Inner::Bar { bar, multi } = &self.inner {
            bar.finish_and_clear();
            if let Some(multi) = multi {
                multi.remove(bar);
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Inner::Bar { bar, .. } = &self.inner
            && !bar.is_finished()
        {
            bar.finish_and_clear();
        }
    }
}

/// The plain-line reporter: decides when a line is due and writes it. Pure (the clock is passed
/// in) so it is tested without a terminal.
#[derive(Debug)]
pub struct PlainLines {
    label: String,
    total: Option<u64>,
    unit: Unit,
    /// At most one line per this much time (a short run's steps say nothing between epochs).
    min_gap: Duration,
    started: Option<Instant>,
    last_line: Option<Instant>,
    /// The next tenth (0..=10) that gets a line.
    next_tenth: u64,
    /// Without a total: the next multiple of this many units gets a line (doubling each time).
    next_untotalled: u64,
}

impl PlainLines {
    pub fn new(label: impl Into<String>, total: Option<u64>, unit: Unit, min_gap: Duration) -> PlainLines {
        PlainLines {
            label: label.into(),
            total,
            unit,
            min_gap,
            started: None,
            last_line: None,
            next_tenth: 1,
            next_untotalled: 1 << 20,
        }
    }

    /// The line for `done` at `now`, when one is due: at each tenth of the total (not 0%), at
    /// most one per `min_gap` except the last; without a total at 1, 2, 4, 8... MiB or units.
    pub fn update(&mut self, done: u64, note: &str, now: Instant) -> Option<String> {
        let started = *self.started.get_or_insert(now);
        let elapsed = now.saturating_duration_since(started);
        let rate = if elapsed.as_secs_f64() > 0.0 { done as f64 / elapsed.as_secs_f64() } else { 0.0 };
        let Some(total) = self.total.filter(|&t| t > 0) else {
            if done < self.next_untotalled {
                return None;
            }
            while self.next_untotalled <= done {
                self.next_untotalled = self.next_untotalled.saturating_mul(2);
            }
            let mut line = format!("{}: {} so far, {}", self.label, self.amount(done), self.rate(rate));
            push_note(&mut line, note);
            return Some(line);
        };
        let tenth = (done.min(total) * 10 / total).min(10);
        if tenth < self.next_tenth {
            return None;
        }
        let last = tenth == 10;
        if !last && self.last_line.is_some_and(|t| now.saturating_duration_since(t) < self.min_gap) {
            return None;
        }
        if !last && self.last_line.is_none() && elapsed < self.min_gap {
            return None;
        }
        self.next_tenth = tenth + 1;
        self.last_line = Some(now);
        let mut line = format!(
            "{}: {:>3}% ({}/{}), {}",
            self.label,
            tenth * 10,
            self.amount_number(done.min(total)),
            self.amount(total),
            self.rate(rate)
        );
        if !last && rate > 0.0 {
            let left = Duration::from_secs_f64((total - done.min(total)) as f64 / rate);
            line.push_str(&format!(", ETA {}", HumanDuration(left)));
        }
        if last {
            line.push_str(&format!(" in {}", HumanDuration(elapsed)));
        }
        push_note(&mut line, note);
        Some(line)
    }

    fn amount(&self, n: u64) -> String {
        match self.unit {
            Unit::Bytes => DecimalBytes(n).to_string(),
            Unit::Count(noun) => format!("{n} {noun}"),
        }
    }

    /// The first of "done/total": bytes keep their own unit.
    fn amount_number(&self, n: u64) -> String {
        match self.unit {
            Unit::Bytes => DecimalBytes(n).to_string(),
            Unit::Count(_) => n.to_string(),
        }
    }

    fn rate(&self, per_s: f64) -> String {
        match self.unit {
            Unit::Bytes => format!("{}/s", DecimalBytes(per_s as u64)),
            Unit::Count(noun) => format!("{per_s:.1} {noun}/s"),
        }
    }
}

fn push_note(line: &mut String, note: &str) {
    if !note.is_empty() {
        line.push_str(" · ");
        line.push_str(note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_line_per_tenth_of_a_known_total_and_none_at_the_start() {
        let start = Instant::now();
        let mut plain = PlainLines::new("f.npz", Some(1_000_000), Unit::Bytes, Duration::ZERO);
        let lines: Vec<String> = (0..=1000u64).filter_map(|i| plain.update(i * 1000, "", at(start, i * 10))).collect();
        assert_eq!(lines.len(), 10, "{lines:#?}");
        assert!(lines[0].starts_with("f.npz:  10% (100.00 kB/1.00 MB), "), "{}", lines[0]);
        assert!(lines[0].contains("kB/s") && lines[0].contains("ETA"), "{}", lines[0]);
        assert!(lines[9].starts_with("f.npz: 100% (1.00 MB/1.00 MB), "), "{}", lines[9]);
        assert!(lines[9].contains(" in ") && !lines[9].contains("ETA"), "{}", lines[9]);
        for line in &lines {
            assert!(!line.contains('\r') && !line.contains('\x1b') && !line.contains('\n'), "{line:?}");
        }
    }

    #[test]
    fn a_jump_past_several_tenths_gives_one_line() {
        let start = Instant::now();
        let mut plain = PlainLines::new("import", Some(100), Unit::Count("rows"), Duration::ZERO);
        assert_eq!(plain.update(5, "", start), None);
        let line = plain.update(73, "", at(start, 1000)).unwrap();
        assert!(line.starts_with("import:  70% (73/100 rows), 73.0 rows/s, ETA"), "{line}");
        assert_eq!(plain.update(79, "", at(start, 1100)), None, "still in the same tenth");
        assert!(plain.update(100, "", at(start, 1200)).unwrap().contains("100%"));
        assert_eq!(plain.update(100, "", at(start, 1300)), None, "the end is said once");
    }

    #[test]
    fn a_minimum_gap_thins_lines_but_never_hides_the_end() {
        let start = Instant::now();
        let mut plain = PlainLines::new("train", Some(1000), Unit::Count("steps"), Duration::from_secs(5));
        // 1000 steps in 2 s: no line until the end.
        let lines: Vec<String> = (1..=1000u64).filter_map(|i| plain.update(i, "loss 0.5", at(start, i * 2))).collect();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].starts_with("train: 100% (1000/1000 steps)"), "{}", lines[0]);
        assert!(lines[0].ends_with(" · loss 0.5"), "{}", lines[0]);
        // 100 steps of a second each: a line every 10 s (each tenth, as the gap allows).
        let mut plain = PlainLines::new("train", Some(100), Unit::Count("steps"), Duration::from_secs(5));
        let lines: Vec<String> = (1..=100u64).filter_map(|i| plain.update(i, "", at(start, i * 1000))).collect();
        assert_eq!(lines.len(), 10, "{lines:#?}");
    }

    #[test]
    fn without_a_total_lines_thin_out_as_the_work_grows() {
        let start = Instant::now();
        let mut plain = PlainLines::new("f", None, Unit::Bytes, Duration::ZERO);
        let lines: Vec<String> =
            (0..=64u64).filter_map(|mb| plain.update(mb << 20, "", at(start, mb * 100 + 1))).collect();
        // 1, 2, 4, 8, 16, 32 and 64 MiB.
        assert_eq!(lines.len(), 7, "{lines:#?}");
        assert!(lines[0].starts_with("f: 1.05 MB so far, "), "{}", lines[0]);
        // A total learnt later switches to tenths.
        plain.total = Some(128 << 20);
        assert!(plain.update(100 << 20, "", at(start, 9000)).unwrap().contains(" 70% "));
    }
}
