//! Estimates before training as the Train screen and the grid form show them: every figure is
//! marked `~` / "est." with its low-high range, and the line under the queue says what the
//! selected run's estimate rests on.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::train::TrainView;
use crate::app::estimates::PlanEstimates;
use crate::app::train::JobState;
use crate::estimate::{Estimate, Range, Totals};

use super::format::{fit, sig};

/// "~3.0 min (2.4–3.9)": the estimate and its range in one unit, chosen by the estimate.
pub fn time_range(r: Range) -> String {
    let (scale, unit) = match r.estimate {
        s if s < 120.0 => (1.0, "s"),
        s if s < 7200.0 => (60.0, "min"),
        _ => (3600.0, "h"),
    };
    scaled(r, scale, unit)
}

/// Energy in Wh (mWh below 0.1 Wh, kWh from 1 kWh on): short enough for a table cell.
pub fn energy_range(r: Range) -> String {
    let wh = r.scale(1000.0);
    match wh.estimate {
        e if e < 0.1 => scaled(wh, 1e-3, "mWh"),
        e if e < 1000.0 => scaled(wh, 1.0, "Wh"),
        _ => scaled(wh, 1000.0, "kWh"),
    }
}

/// CO2-eq in g (mg below 0.1 g, kg from 1 kg on).
pub fn co2_range(r: Range) -> String {
    match r.estimate {
        e if e < 0.1 => scaled(r, 1e-3, "mg"),
        e if e < 1000.0 => scaled(r, 1.0, "g"),
        _ => scaled(r, 1000.0, "kg"),
    }
}

fn scaled(r: Range, scale: f64, unit: &str) -> String {
    let v = |x: f64| sig(x / scale, 2);
    format!("~{} {unit} ({}–{})", v(r.estimate), v(r.low), v(r.high))
}

/// One run's cells: time, energy, CO2 (empty when the run has no estimate to show).
pub fn cells(plan: &PlanEstimates, id: u64, state: &JobState) -> [String; 3] {
    let waiting = *state == JobState::Queued;
    match plan.runs.get(&id) {
        Some(Ok(e)) if waiting && plan.pending() => [format!("{}…", time_range(e.train_time_s)), energy(e), co2(e)],
        Some(Ok(e)) if matches!(state, JobState::Queued | JobState::Running) => {
            [time_range(e.train_time_s), energy(e), co2(e)]
        }
        Some(Err(_)) if waiting => ["not estimated".into(), String::new(), String::new()],
        _ if waiting && plan.pending() => ["estimating…".into(), String::new(), String::new()],
        _ => Default::default(),
    }
}

fn energy(e: &Estimate) -> String {
    e.energy_kwh.map_or("unknown".into(), energy_range)
}

fn co2(e: &Estimate) -> String {
    e.co2_g.map_or("unknown".into(), co2_range)
}

/// "~9.0 min (6.0–14) · ~0.71 Wh (0.30–1.6) · ~0.32 g CO2-eq (…)".
pub fn totals_text(t: &Totals) -> String {
    let mut parts = vec![time_range(t.train_time_s)];
    parts.push(t.energy_kwh.map_or("energy unknown".into(), energy_range));
    if let Some(c) = t.co2_g {
        parts.push(format!("{} CO2-eq", co2_range(c)));
    }
    parts.join(", ")
}

/// Whether the Train screen shows the estimate lines (once the estimator has been asked).
pub fn shown(view: &TrainView) -> bool {
    let plan = &view.estimates.queue;
    plan.asked > 0 && (view.train.queued() > 0 || !plan.runs.is_empty())
}

/// Two lines under the queue: the estimated total of the waiting runs, and what the selected
/// run's estimate rests on.
pub fn draw_plan(frame: &mut Frame, area: Rect, view: &TrainView) {
    let plan = &view.estimates.queue;
    let width = area.width as usize;
    let dim = Style::new().fg(Color::DarkGray);
    let waiting = view.train.queued();
    let total = if plan.calibrating {
        Line::styled(
            fit(" estimating… calibrating this machine first (once, a few seconds)", width),
            Style::new().fg(Color::Yellow),
        )
    } else if plan.pending() && plan.total.is_none() {
        Line::styled(fit(&format!(" estimating {waiting} waiting run{}…", crate::app::plural(waiting)), width), dim)
    } else {
        let text = match &plan.total {
            Some(t) => {
                let missing = waiting.saturating_sub(t.runs);
                let mut text = format!(" est. total, {} run{}: {}", t.runs, crate::app::plural(t.runs), totals_text(t));
                if missing > 0 {
                    text.push_str(&format!(" · {missing} not estimated"));
                }
                if plan.pending() {
                    text.push_str(" · updating…");
                }
                text
            }
            None if waiting == 0 => String::new(),
            None => format!(" est. total: none of the {waiting} waiting runs could be estimated"),
        };
        Line::from(Span::styled(fit(&text, width), Style::new().fg(Color::Cyan)))
    };
    let selected = view.train.queue.get(view.train.cursor.selected());
    let why = match selected.map(|e| (e, plan.runs.get(&e.id))) {
        Some((entry, Some(Ok(e)))) if matches!(entry.state, JobState::Queued | JobState::Running) => {
            let u = e.train_time_s.high / e.train_time_s.estimate - 1.0;
            let basis = e.based_on.get(2).cloned().unwrap_or_default();
            format!(" {}, estimated (time ±{:.0}%): {}, {} CO2-eq · {basis}", entry.arch, u * 100.0, energy(e), co2(e))
        }
        Some((entry, Some(Err(why)))) if entry.state == JobState::Queued => {
            format!(" {} on {}: not estimated: {why}", entry.arch, entry.dataset)
        }
        _ => " estimates: before training, on this machine (`pepr estimate` shows what each rests on)".into(),
    };
    let [first, second] = ratatui::layout::Layout::vertical([ratatui::layout::Constraint::Length(1); 2]).areas(area);
    frame.render_widget(total, first);
    frame.render_widget(Line::styled(fit(&why, width), dim), second);
}

/// The grid form's line: the estimated total of the cells `a` would queue.
pub fn grid_text(view: &TrainView, to_queue: usize) -> (String, Color) {
    let plan = &view.estimates.grid;
    if to_queue == 0 {
        return ("nothing to queue".into(), Color::DarkGray);
    }
    if plan.calibrating {
        return ("estimating… calibrating this machine first (once, a few seconds)".into(), Color::Yellow);
    }
    match &plan.total {
        _ if plan.pending() => (format!("estimating the {to_queue} cells to queue…"), Color::DarkGray),
        Some(t) => {
            let missing = to_queue.saturating_sub(t.runs);
            let mut text = format!("{} for the {} cells to queue (estimated, not measured)", totals_text(t), t.runs);
            if missing > 0 {
                text.push_str(&format!("; {missing} not estimated"));
            }
            (text, Color::Cyan)
        }
        None if plan.asked == 0 => (String::new(), Color::DarkGray),
        None => {
            let why = plan.runs.values().find_map(|r| r.as_ref().err()).cloned().unwrap_or_default();
            (format!("none of the {to_queue} cells could be estimated: {why}"), Color::Red)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_show_the_estimate_and_its_range_in_one_unit() {
        let r = |e: f64| Range::spread(e, 0.5);
        assert_eq!(time_range(r(42.0)), "~42 s (28–63)");
        assert_eq!(time_range(r(180.0)), "~3.0 min (2.0–4.5)");
        assert_eq!(time_range(r(9000.0)), "~2.5 h (1.7–3.8)");
        assert_eq!(energy_range(r(7.1e-4)), "~0.71 Wh (0.47–1.1)");
        assert_eq!(energy_range(r(7.1e-5)), "~71 mWh (47–107)");
        assert_eq!(energy_range(r(2.0)), "~2.0 kWh (1.3–3.0)");
        assert_eq!(co2_range(r(0.32)), "~0.32 g (0.21–0.48)");
        assert_eq!(co2_range(r(0.032)), "~32 mg (21–48)");
        assert_eq!(co2_range(r(3200.0)), "~3.2 kg (2.1–4.8)");
    }
}
