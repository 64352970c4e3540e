//! Drawing: pure functions of the screens' state, one file per panel. `draw` takes the whole
//! `&App` and hands each screen its own state (the leaderboard's with the loaded runs); only the
//! title and status lines, the help and the panels that join several screens (Train, the grid form,
//! Settings, the what-if banner) read more of the app.

mod analyses;
mod archs;
mod chart;
mod datasets;
mod details;
mod estimates;
mod grid_form;
mod help;
mod jobs;
mod leaderboard;
mod seeds;
mod settings;
pub mod svg;
mod table;
mod train;
mod whatif;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::app::{App, Screen, View, plural};
use crate::results::rank::SetBy;

// The submodules' `super::format::…` paths reach the bottom layer's helpers.
use crate::format;
pub use leaderboard::CO2_MIRRORS_ENERGY;

/// Width from which the details pane sits beside the table rather than below it.
const SIDE_BY_SIDE_WIDTH: u16 = 110;

pub fn draw(frame: &mut Frame, app: &App) {
    let [title, body, status] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(frame.area());
    frame.render_widget(title_line(app, title.width), title);
    frame.render_widget(fit_line(status_line(app), status.width as usize), status);

    match app.screen {
        Screen::Architectures => archs::draw(frame, body, &app.archs),
        Screen::Datasets => datasets::draw(frame, body, &app.datasets),
        Screen::Train => {
            let view = train::TrainView::of(app);
            train::draw(frame, body, &view);
            if app.grid_form.open {
                grid_form::draw(frame, body, &view, &app.grid_form);
            }
        }
        Screen::Analyses => analyses::draw(frame, body, &app.analyses, no_runs(app)),
        Screen::Jobs => jobs::draw(frame, body, &app.jobs),
        Screen::Leaderboard => draw_leaderboard(frame, body, app),
    }
    if app.settings_form.open {
        settings::draw(frame, body, &app.settings_form, &app.config, app.settings_warning.is_some());
    }
    if app.show_help {
        help::draw(frame, frame.area(), help::scope(app));
    }
    if let Some(confirm) = &app.confirm {
        help::draw_confirm(frame, frame.area(), confirm, confirm.question(app));
    }
}

/// Screen 1: the runs, or why there are none to show.
fn draw_leaderboard(frame: &mut Frame, body: Rect, app: &App) {
    if let Some(message) = &app.load_error {
        let text = format!("Could not load the run store:\n{message}\n\nPress R to retry, q to quit.");
        frame.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: false }).block(Block::bordered().title(" error ")).red(),
            body,
        );
    } else if app.data.is_none() {
        frame.render_widget(Paragraph::new("Loading runs…").block(Block::bordered()), body);
    } else if app.is_empty_store() {
        draw_empty(frame, body, app);
    } else {
        draw_main(frame, body, app);
    }
}

/// Why the store has no runs to show or analyse yet, if so.
fn no_runs(app: &App) -> Option<&'static str> {
    if app.load_error.is_some() {
        Some("The run store could not be loaded (see screen 1).")
    } else if app.data.is_none() {
        Some("Loading runs…")
    } else if app.is_empty_store() {
        Some(
            "No runs in the store yet: import the paper's results (i on screen 1, or pepr import --paper) \
             or train some, then press R.",
        )
    } else {
        None
    }
}

fn draw_main(frame: &mut Frame, area: Rect, app: &App) {
    let Some(data) = app.data.as_ref() else { return };
    let screen = &app.runs;
    // The carbon what-if's banner and the budget filter, above whatever shows the runs.
    let area = whatif::draw_banner(frame, area, screen, data);
    if app.runs.show_details && area.width < SIDE_BY_SIDE_WIDTH {
        // Too narrow for both: the details take the screen; j/k still move through the runs.
        details::draw(frame, area, screen, data);
        return;
    }
    let (main, details) = if app.runs.show_details {
        let [main, details] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
        (main, Some(details))
    } else {
        (area, None)
    };
    match app.runs.view {
        View::Table if app.runs.aggregate_seeds => seeds::draw(frame, main, screen, data),
        View::Table => leaderboard::draw(frame, main, screen, data),
        View::Chart => chart::draw(frame, main, screen, data),
    }
    if let Some(details) = details {
        details::draw(frame, details, screen, data);
    }
}

fn draw_empty(frame: &mut Frame, area: Rect, app: &App) {
    let cmd = Style::new().fg(Color::Cyan);
    let lines = vec![
        Line::from("No runs in the store yet.".bold()),
        Line::from(""),
        Line::from(format!("Store: {}", app.store_label)),
        Line::from(""),
        Line::from(vec![
            Span::styled("Press i", cmd.bold()),
            Span::raw(" to import the PePR paper's published results (131 models x 8 groups,"),
        ]),
        Line::from("built into pepr; the same as `pepr import --paper`)."),
        Line::from(Span::styled(app.paper_import.clone().unwrap_or_default(), Style::new().fg(Color::Yellow))),
        Line::from("Import your own runs (the generic CSV layout is in docs/file-formats.md):"),
        Line::from(Span::styled("  pepr import my_runs.csv", cmd)),
        Line::from("then press R here to reload.   ? keys   q quit"),
        Line::from(""),
        Line::from(
            "Meanwhile: 2 browses the architecture catalog, 3 the datasets (a built-in synthetic set works offline).",
        ),
    ];
    let block = Block::bordered().title(" pepr: getting started ");
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

/// How much of the set and variant the title says: everything; the set's name, run count and the
/// formula; the name, count and variant only.
#[derive(Clone, Copy, PartialEq)]
enum Info {
    Full,
    Medium,
    Short,
}

/// The title: the screens as tabs, then the current set and variant on the leaderboard. Every
/// screen keeps its name at any width: when the line does not fit in `width`, first the set's
/// description shortens, then the tab names, then the formula goes, and last a long set name is cut
/// with an ellipsis.
fn title_line(app: &App, width: u16) -> Line<'static> {
    let width = width as usize;
    for (short_tabs, info) in [(false, Info::Full), (false, Info::Medium), (true, Info::Medium), (true, Info::Short)] {
        let line = title_with_tabs(app, short_tabs, info, None);
        if line.width() <= width {
            return line;
        }
    }
    let without_name = title_with_tabs(app, true, Info::Short, Some(0)).width();
    title_with_tabs(app, true, Info::Short, Some(width.saturating_sub(without_name)))
}

/// `name_room`: at most this many columns for the set's name.
fn title_with_tabs(app: &App, short_tabs: bool, info: Info, name_room: Option<usize>) -> Line<'static> {
    let mut spans = vec![Span::styled(" pepr ", Style::new().add_modifier(Modifier::BOLD).reversed())];
    for (key, name, short, screen) in [
        ("1", "Runs", "Runs", Screen::Leaderboard),
        ("2", "Archs", "Arch", Screen::Architectures),
        ("3", "Data", "Data", Screen::Datasets),
        ("4", "Train", "Train", Screen::Train),
        ("5", "Analyses", "Anlys", Screen::Analyses),
        ("6", "Jobs", "Jobs", Screen::Jobs),
    ] {
        let current = app.screen == screen;
        // The Jobs tab only once this home has submitted a Slurm array.
        if screen == Screen::Jobs && !current && !app.jobs.has_jobs() {
            continue;
        }
        let style = if current { Style::new().bold().underlined() } else { Style::new().fg(Color::DarkGray) };
        let tab = format!(" {key} {}", if short_tabs && !current { short } else { name });
        spans.push(Span::styled(tab, style));
    }
    spans.push(Span::raw(" │"));
    if app.screen != Screen::Leaderboard {
        return Line::from(spans);
    }
    if let Some(set) = app.current_set() {
        let name = match name_room {
            Some(room) if set.name.chars().count() > room => {
                let kept: String = set.name.chars().take(room.saturating_sub(1)).collect();
                if room == 0 { kept } else { format!("{kept}…") }
            }
            _ => set.name.clone(),
        };
        if info != Info::Full {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(name, Style::new().bold()));
            spans.push(Span::raw(format!(" ({}) ", set.runs)));
        } else {
            let set_by = match app.runs.set_by {
                SetBy::Group => "group",
                SetBy::Dataset => "dataset",
                SetBy::All => "all",
            };
            spans.push(Span::raw(format!(" {set_by} {}/{}: ", app.runs.set_index + 1, app.sets().len())));
            spans.push(Span::styled(name, Style::new().bold()));
            spans.push(Span::raw(format!(" ({} run{}) ", set.runs, plural(set.runs))));
        }
    }
    let v = app.runs.variant;
    let formula = if info == Info::Short {
        format!(" PePR-{} ", v.letter())
    } else {
        format!(" PePR-{} = P/(1+{}_n) ", v.letter(), v.letter())
    };
    spans.push(Span::styled(formula, Style::new().fg(Color::Black).bg(Color::Green)));
    if app.runs.view == View::Chart {
        spans.push(Span::raw(" chart"));
    }
    Line::from(spans)
}

/// `line` cut to `width` characters, the cut marked with an ellipsis.
fn fit_line(line: Line<'static>, width: usize) -> Line<'static> {
    if line.width() <= width {
        return line;
    }
    let mut left = width;
    let mut spans = Vec::new();
    for span in line.spans {
        let n = span.content.chars().count();
        if n < left {
            left -= n;
            spans.push(span);
        } else {
            if left > 0 {
                let kept: String = span.content.chars().take(left - 1).collect();
                spans.push(Span::styled(format!("{kept}…"), span.style));
            }
            break;
        }
    }
    Line::from(spans)
}

/// The status line: what the last key did (or the screen's state), then the keys of this screen,
/// drawn from the key table.
fn status_line(app: &App) -> Line<'static> {
    let footer = help::footer(help::scope(app));
    let filter = match app.screen {
        Screen::Architectures if app.archs.editing_filter => Some(&app.archs.filter),
        Screen::Datasets if app.datasets.editing_filter => Some(&app.datasets.filter),
        Screen::Leaderboard if app.runs.editing_filter => Some(&app.runs.filter),
        _ => None,
    };
    if let Some(line) = whatif::prompt_line(&app.runs.scenario) {
        return line;
    }
    if let Some(path) = &app.import_prompt {
        return Line::from(vec![
            Span::styled(" import CSV file: ", Style::new().bold()),
            Span::raw(path.clone()),
            Span::styled("▏", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::raw("  Enter import · Esc cancel"),
        ]);
    }
    if let Some(filter) = filter {
        return Line::from(vec![
            Span::styled(" filter: ", Style::new().bold()),
            Span::raw(filter.clone()),
            Span::styled("▏", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::raw("  Enter keep · Esc clear"),
        ]);
    }
    if let Some(message) = &app.message {
        return Line::from(vec![Span::styled(format!(" {message}"), Style::new().fg(Color::Yellow).bold()), footer]);
    }
    let mut spans = screen_state(app);
    spans.push(footer);
    Line::from(spans)
}

/// Where the current screen stands, for the status line.
fn screen_state(app: &App) -> Vec<Span<'static>> {
    match app.screen {
        Screen::Analyses => {
            let a = &app.analyses;
            let mut spans = Vec::new();
            if a.computing || app.loading {
                spans.push(Span::styled(" computing… ", Style::new().fg(Color::Yellow)));
            }
            let position = crate::app::analyses::AnalysisView::ALL.iter().position(|v| *v == a.view).unwrap_or(0);
            spans.push(Span::raw(format!(" {}/3 {} · PePR-{}", position + 1, a.view.title(), a.variant.letter())));
            // The analyses follow the leaderboard's filter: say so, with the runs it keeps.
            if let Some(analyses) = a.analyses() {
                let n = analyses.runs;
                let filter = if a.filter.is_empty() { String::new() } else { format!(" · filter \"{}\"", a.filter) };
                spans.push(Span::raw(format!("{filter} · {n} run{}", plural(n))));
            }
            spans
        }
        Screen::Jobs => {
            let active = app.jobs.jobs.iter().filter(|j| j.active()).count();
            let n = app.jobs.jobs.len();
            vec![Span::raw(format!(" {n} job{} · {active} active · polled every 5 s", plural(n)))]
        }
        Screen::Train => {
            let t = &app.train;
            let state = match (&t.live, t.current) {
                (Some(live), Some(_)) if live.paused => "paused",
                (_, Some(_)) if t.stopping => "stopping",
                (_, Some(_)) => "training",
                _ => "idle",
            };
            vec![Span::raw(format!(" {state} · {} queued", t.queued()))]
        }
        Screen::Datasets => {
            let d = &app.datasets;
            vec![Span::raw(format!(" {} shown · {} selected", d.shown().len(), d.chosen.len()))]
        }
        Screen::Architectures => {
            let a = &app.archs;
            let mut spans = vec![Span::raw(format!(" {} shown · {} selected", a.order().len(), a.chosen.len()))];
            if !a.filter.is_empty() {
                spans.push(Span::raw(format!(" · filter \"{}\"", a.filter)));
            }
            if a.loading {
                spans.push(Span::styled(" · counting…", Style::new().fg(Color::Yellow)));
            }
            spans
        }
        Screen::Leaderboard => runs_state(app),
    }
}

fn runs_state(app: &App) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    if app.loading {
        spans.push(Span::styled(" loading… ", Style::new().fg(Color::Yellow)));
    }
    if let Some(warning) = &app.settings_warning {
        spans.push(Span::styled(format!(" {warning} "), Style::new().fg(Color::Yellow)));
    }
    if let Some(notice) = &app.figure_notice {
        spans.push(Span::styled(format!(" {notice} "), Style::new().fg(Color::Cyan)));
    }
    if let Some(data) = &app.data {
        if !data.warnings.is_empty() {
            let n = data.warnings.len();
            spans.push(Span::styled(
                format!(" {n} store line{} skipped: {} ", plural(n), data.warnings[0]),
                Style::new().fg(Color::Yellow),
            ));
        }
        if !data.records.is_empty() {
            let arrow = if app.runs.descending() { "↓" } else { "↑" };
            let shown = if app.runs.aggregate_seeds && app.runs.view == View::Table {
                let groups = app.current_seed_groups();
                let n = groups.len();
                format!(" {n} row{} (seeds merged)", plural(n))
            } else {
                format!(" {} shown", app.rows().len())
            };
            spans.push(Span::raw(format!(
                "{shown} · sort {}{arrow}",
                leaderboard::column_title(app.runs.sort_column, app.runs.variant)
            )));
            if !app.runs.filter.is_empty() {
                spans.push(Span::raw(format!(" · filter \"{}\"", app.runs.filter)));
            }
        }
    }
    spans
}
