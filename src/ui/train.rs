//! The Train screen: the queue with each run's state, the settings, the current run's progress (gauge
//! with ETA, images/s, loss sparkline, test metric per epoch) and the last log lines.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Gauge, Paragraph, Row, Sparkline, Table};

use std::collections::BTreeSet;

use crate::app::App;
use crate::app::estimates::Estimates;
use crate::app::train::{JobState, Live, Setting, TrainScreen};
use crate::results::record::{RunRecord, RunStatus};

use super::format::{TextColumn, clock as duration, fit, human_count, layout};
use crate::app::plural;

/// What the Train screen and its grid form show beyond the screen's own state: the selections of
/// screens 2 and 3 (what `a` queues), the estimates, and the stored runs (which cells are done).
pub struct TrainView<'a> {
    pub train: &'a TrainScreen,
    pub archs: &'a BTreeSet<&'static str>,
    pub datasets: &'a BTreeSet<String>,
    pub estimates: &'a Estimates,
    pub records: &'a [RunRecord],
}

impl<'a> TrainView<'a> {
    pub fn of(app: &'a App) -> TrainView<'a> {
        TrainView {
            train: &app.train,
            archs: &app.archs.chosen,
            datasets: &app.datasets.chosen,
            estimates: &app.estimates,
            records: app.data.as_ref().map_or(&[][..], |d| &d.records[..]),
        }
    }
}

pub fn draw(frame: &mut Frame, area: Rect, view: &TrainView) {
    let screen = view.train;
    // The queue gets the rows it needs (header, borders, one per run), up to a third of the screen;
    // at least the settings box's ten rows.
    let queue_rows = (screen.queue.len() as u16 + 3).clamp(10, (area.height / 3).max(10));
    // Two lines under the queue: the estimated total and what the selected estimate rests on.
    let plan = super::estimates::shown(view);
    let queue_rows = queue_rows + if plan { 2 } else { 0 };
    let [top, progress, log] = Layout::vertical([
        Constraint::Length(queue_rows),
        Constraint::Length(progress_height(screen)),
        Constraint::Min(3),
    ])
    .areas(area);
    let top = if plan {
        let [top, lines] = Layout::vertical([Constraint::Min(3), Constraint::Length(2)]).areas(top);
        super::estimates::draw_plan(frame, lines, view);
        top
    } else {
        top
    };
    let [queue, settings] = Layout::horizontal([Constraint::Min(30), Constraint::Length(24)]).areas(top);
    draw_queue(frame, queue, view);
    draw_settings(frame, settings, screen);
    draw_progress(frame, progress, screen);
    draw_log(frame, log, screen);
}

/// The live meters take four more rows while a run trains; an ended run gives them back to the log.
fn progress_height(screen: &TrainScreen) -> u16 {
    match &screen.live {
        Some(live) if live.ended.is_none() => 10,
        _ => 7,
    }
}

fn state_cell(entry_state: &JobState, live: Option<&Live>) -> (String, Style) {
    match entry_state {
        JobState::Queued => ("queued".into(), Style::new().fg(Color::DarkGray)),
        JobState::Running => {
            let text = match live {
                Some(l) if l.paused => format!("paused {}/{}", l.epoch, l.epochs),
                Some(l) if l.epoch > 0 => format!("epoch {}/{}", l.epoch, l.epochs),
                _ => "loading…".into(),
            };
            (text, Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD))
        }
        JobState::Done { status: RunStatus::Completed, .. } => (entry_state.label(), Style::new().fg(Color::Green)),
        JobState::Done { .. } | JobState::Failed(_) => (entry_state.label(), Style::new().fg(Color::Red)),
    }
}

fn draw_queue(frame: &mut Frame, area: Rect, view: &TrainView) {
    let screen = view.train;
    let running = if screen.running { " · running" } else { "" };
    let block = Block::bordered()
        .title(format!(" queue: {} waiting{running} ", screen.queued()))
        .title_bottom(Line::from(" a queue selected · x remove · J K move · s start ").right_aligned());
    if screen.queue.is_empty() {
        let (archs, datasets) = (view.archs.len(), view.datasets.len());
        let text = if archs > 0 && datasets > 0 {
            let n = archs * datasets;
            vec![
                Line::from("Nothing queued."),
                Line::from(format!(
                    "a queues the {n} selected pair{} ({archs} arch{} x {datasets} dataset{}).",
                    plural(n),
                    if archs == 1 { "" } else { "s" },
                    plural(datasets)
                )),
                Line::from("E opens the experiment grid."),
            ]
        } else {
            vec![
                Line::from("Nothing queued."),
                Line::from("Select architectures (2, Space) and datasets"),
                Line::from("(3, Space), then press a here to queue them."),
            ]
        };
        frame.render_widget(Paragraph::new(text).fg(Color::DarkGray).block(block), area);
        return;
    }
    let height = area.height.saturating_sub(3) as usize;
    let offset = screen.cursor.offset(screen.queue.len(), height);
    let entries: Vec<(usize, &crate::app::train::QueueEntry)> =
        screen.queue.iter().enumerate().skip(offset).take(height.max(1)).collect();
    let live = screen.live.as_ref();
    let states: Vec<(String, Style)> =
        entries.iter().map(|(_, e)| state_cell(&e.state, live.filter(|l| l.job == e.id))).collect();
    // The start column appears once some run starts from pretrained weights.
    let starts = screen.queue.iter().any(|e| e.start.is_some());
    let mut columns = vec![
        TextColumn::new("#", entries.iter().map(|(i, _)| (i + 1).to_string()).collect()).right(),
        TextColumn::new("arch", entries.iter().map(|(_, e)| e.arch.clone()).collect()).flex(),
        TextColumn::new(
            "dataset",
            entries
                .iter()
                .map(|(_, e)| match &e.grid_cell {
                    Some(cell) => format!("{} s{}", cell.group, cell.config.seed),
                    None => e.dataset.clone(),
                })
                .collect(),
        )
        .max(22),
    ];
    if starts {
        let records = view.records;
        columns.push(
            TextColumn::new("start", entries.iter().map(|(_, e)| e.start_label_in(records)).collect()).max(26).drop(1),
        );
    }
    columns.push(TextColumn::new("state", states.iter().map(|(s, _)| s.clone()).collect()));
    columns.push(
        TextColumn::new(
            "P",
            entries
                .iter()
                .map(|(_, e)| match &e.state {
                    JobState::Done { performance: Some(p), .. } => format!("{p:.3}"),
                    JobState::Done { performance: None, .. } | JobState::Failed(_) => "—".into(),
                    _ => String::new(),
                })
                .collect(),
        )
        .right(),
    );
    if super::estimates::shown(view) {
        // Estimates before training (issue 19): time always, energy and CO2 where there is room.
        let plan = &view.estimates.queue;
        let est: Vec<[String; 3]> =
            entries.iter().map(|(_, e)| super::estimates::cells(plan, e.id, &e.state)).collect();
        for (k, (title, drop)) in [("est. time", 0), ("est. energy", 3), ("est. CO2", 4)].into_iter().enumerate() {
            columns.push(TextColumn::new(title, est.iter().map(|c| c[k].clone()).collect()).drop(drop));
        }
    }
    let widths = layout(&columns, area.width.saturating_sub(2) as usize, 1);
    let shown: Vec<(usize, usize)> = widths.iter().enumerate().filter_map(|(c, w)| w.map(|w| (c, w))).collect();
    let header_style = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
    let header = Row::new(shown.iter().map(|&(c, w)| Cell::from(columns[c].header(w)).style(header_style)));
    let state_column = columns.iter().position(|c| c.title == "state");
    let rows: Vec<Row> = entries
        .iter()
        .enumerate()
        .map(|(k, (i, entry))| {
            let cells: Vec<Cell> = shown
                .iter()
                .map(|&(c, w)| {
                    let cell = Cell::from(columns[c].cell(k, w));
                    if Some(c) == state_column {
                        cell.style(states[k].1)
                    } else if c == 2 && entry.dataset == "synthetic" {
                        cell.style(Style::new().fg(Color::Magenta))
                    } else {
                        cell
                    }
                })
                .collect();
            let row = Row::new(cells);
            if screen.cursor.is(*i) { row.style(Style::new().add_modifier(Modifier::REVERSED)) } else { row }
        })
        .collect();
    let constraints: Vec<Constraint> = shown.iter().map(|&(_, w)| Constraint::Length(w as u16)).collect();
    frame.render_widget(Table::new(rows, constraints).header(header).block(block).column_spacing(1), area);
}

fn draw_settings(frame: &mut Frame, area: Rect, screen: &TrainScreen) {
    let block = Block::bordered().title(" settings ").title_bottom(Line::from(" Tab field · + - ").right_aligned());
    let lines: Vec<Line> = Setting::ALL
        .iter()
        .map(|&setting| {
            let text = format!(" {:<10}{:>10} ", setting.title(), screen.settings.value(setting));
            if setting == screen.setting {
                Line::from(Span::styled(text, Style::new().add_modifier(Modifier::REVERSED)))
            } else {
                Line::from(text)
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_progress(frame: &mut Frame, area: Rect, screen: &TrainScreen) {
    let Some(live) = &screen.live else {
        let block = Block::bordered().title(" progress ");
        let text = "No run yet: s starts the queue; p pauses, X stops (asks first).";
        frame.render_widget(Paragraph::new(text).fg(Color::DarkGray).block(block), area);
        return;
    };
    let title = match &live.run_id {
        Some(id) => format!(" {} on {} · {id} ", live.arch, live.dataset),
        None => format!(" {} on {} ", live.arch, live.dataset),
    };
    let title = fit(&title, area.width.saturating_sub(2) as usize);
    let block = Block::bordered().title(title).title_bottom(Line::from(" p pause · X stop ").right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let metering = live.ended.is_none();
    let [gauge, info, metrics, meters, sparks] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(if metering { 4 } else { 0 }),
        Constraint::Min(0),
    ])
    .areas(inner);
    // The loss and power sparklines share a row while the meters show.
    let [spark, power_spark] = if metering {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(sparks)
    } else {
        [sparks, Rect::default()]
    };
    if metering {
        draw_meters(frame, meters, power_spark, live);
    }

    let (done, total) = live.steps_done();
    let ratio = if total > 0 { done as f64 / total as f64 } else { 0.0 };
    let (label, style) = match live.ended {
        Some(status) => {
            let color = if status == RunStatus::Completed { Color::Green } else { Color::Red };
            (
                format!(
                    "{} after {} of {} epoch{} · {}",
                    status.label(),
                    live.epoch_metrics.len(),
                    live.epochs,
                    plural(live.epochs),
                    duration(live.elapsed_s)
                ),
                Style::new().fg(color),
            )
        }
        None if live.epoch == 0 => ("loading data and building the network…".to_string(), Style::new().fg(Color::Cyan)),
        None => {
            let eta = live.eta_s().map_or_else(|| "—".to_string(), duration);
            let paused = if live.paused { "PAUSED · " } else { "" };
            (
                format!(
                    "{paused}epoch {}/{} · step {}/{} · {:.0}% · ETA {eta}",
                    live.epoch,
                    live.epochs,
                    live.step,
                    live.steps_per_epoch,
                    ratio * 100.0
                ),
                Style::new().fg(if live.paused { Color::Yellow } else { Color::Cyan }),
            )
        }
    };
    let label = fit(&label, gauge.width as usize);
    frame.render_widget(Gauge::default().gauge_style(style).ratio(ratio.clamp(0.0, 1.0)).label(label), gauge);

    let dim = Style::new().fg(Color::DarkGray);
    let mut spans = Vec::new();
    if live.epoch > 0 {
        spans.push(Span::raw(format!("{:.0} images/s", live.samples_per_sec)));
        if let Some(loss) = live.losses.last() {
            spans.push(Span::styled(" · loss ", dim));
            spans.push(Span::raw(format!("{loss:.4}")));
        }
        spans.push(Span::styled(" · ", dim));
    }
    if let Some(input) = live.input {
        spans.push(Span::raw(format!(
            "{} params · {}x{}x{} · {} classes · {} train",
            human_count(live.params),
            input.channels,
            input.height,
            input.width,
            live.classes,
            live.train_samples
        )));
    }
    // Cut with "…" where the screen ends, never inside a figure without a mark.
    frame.render_widget(Paragraph::new(super::fit_line(Line::from(spans), info.width as usize)), info);

    let mut spans = vec![Span::styled(format!("{} by epoch:", live.metric), dim)];
    if live.epoch_metrics.is_empty() {
        spans.push(Span::styled(" after the first epoch", dim));
    }
    // The most recent that fit.
    let fit = (metrics.width as usize).saturating_sub(live.metric.len() + 10) / 6;
    let skip = live.epoch_metrics.len().saturating_sub(fit);
    if skip > 0 {
        spans.push(Span::styled(" …", dim));
    }
    for m in &live.epoch_metrics[skip..] {
        spans.push(Span::raw(format!(" {m:.3}")));
    }
    frame.render_widget(Paragraph::new(super::fit_line(Line::from(spans), metrics.width as usize)), metrics);

    if spark.height > 0 && !live.losses.is_empty() {
        let width = spark.width.saturating_sub(5) as usize;
        let shown = &live.losses[live.losses.len().saturating_sub(width)..];
        // Scaled between the shown minimum and maximum, so the trend shows even when it is small.
        let finite = shown.iter().copied().filter(|l| l.is_finite());
        let (min, max) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| (lo.min(l), hi.max(l)));
        let range = max - min;
        let data: Vec<u64> = shown
            .iter()
            .map(|l| if l.is_finite() && range > 0.0 { 1 + ((l - min) / range * 999.0) as u64 } else { 500 })
            .collect();
        let [label, line] = Layout::horizontal([Constraint::Length(5), Constraint::Min(0)]).areas(spark);
        frame.render_widget(Paragraph::new("loss").style(dim), label);
        frame.render_widget(Sparkline::default().data(&data).max(1000).style(Style::new().fg(Color::Cyan)), line);
    }
}

/// The live meters: power gauge and sparkline, energy and CO2, FLOP/s, memory, predicted totals.
fn draw_meters(frame: &mut Frame, area: Rect, spark: Rect, live: &Live) {
    let dim = Style::new().fg(Color::DarkGray);
    let [power, energy, compute, memory] = Layout::vertical([Constraint::Length(1); 4]).areas(area);
    let Some(m) = &live.meters else {
        let text = "meters: starting (peak FLOP/s, power sources)…";
        frame.render_widget(Paragraph::new(text).style(dim), power);
        return;
    };
    let label_width = 9;
    let row = |area: Rect| Layout::horizontal([Constraint::Length(label_width), Constraint::Min(0)]).areas::<2>(area);
    let [label, value] = row(power);
    frame.render_widget(Paragraph::new("power").style(dim), label);
    match (m.power_w, m.gauge_max_w) {
        (Some(w), Some(max)) if max > 0.0 => {
            let text = fit(&format!("{} · full scale {max:.0} W", m.power_text()), value.width as usize);
            let gauge = Gauge::default().gauge_style(Style::new().fg(Color::Yellow)).ratio((w / max).clamp(0.0, 1.0));
            frame.render_widget(gauge.label(text), value);
        }
        _ => frame.render_widget(Paragraph::new(fit(&m.power_text(), value.width as usize)), value),
    }
    let [label, value] = row(spark);
    // One point a second: the label says how far back the line goes.
    frame.render_widget(Paragraph::new(format!(" W {}", duration(live.power_history.len() as f64))).style(dim), label);
    if !live.power_history.is_empty() {
        let width = value.width as usize;
        let shown = &live.power_history[live.power_history.len().saturating_sub(width)..];
        let max = shown.iter().copied().fold(0.0f64, f64::max);
        let data: Vec<u64> =
            shown.iter().map(|w| if max > 0.0 { (w / max * 1000.0).round() as u64 } else { 0 }).collect();
        frame.render_widget(Sparkline::default().data(&data).max(1000).style(Style::new().fg(Color::Yellow)), value);
    }
    let lines = [
        (energy, "energy", m.energy_text()),
        (
            compute,
            "compute",
            format!(
                "{} est. (3 x forward FLOPs x {})",
                m.flops_text(),
                m.samples_per_s.map_or_else(|| "— samples/s".to_string(), |r| format!("{r:.0} samples/s"))
            ),
        ),
        (
            memory,
            "memory",
            match m.prediction_text() {
                Some(p) => format!("{} · {p}", m.memory_text()),
                None => format!("{} · prediction after the first epoch", m.memory_text()),
            },
        ),
    ];
    for (area, name, text) in lines {
        let [label, value] = row(area);
        frame.render_widget(Paragraph::new(name).style(dim), label);
        frame.render_widget(Paragraph::new(fit(&text, value.width as usize)), value);
    }
}

fn draw_log(frame: &mut Frame, area: Rect, screen: &TrainScreen) {
    let block = Block::bordered().title(" log ");
    let inner = block.inner(area);
    // Long lines wrap at words; the newest lines that fit are shown.
    let recent = &screen.log[screen.log.len().saturating_sub(inner.height as usize)..];
    let lines: Vec<Line> = recent.iter().map(|l| Line::from(l.clone())).collect();
    let paragraph = Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false });
    let total = paragraph.line_count(inner.width) as u16;
    let scroll = total.saturating_sub(inner.height);
    frame.render_widget(paragraph.scroll((scroll, 0)).block(block), area);
}
