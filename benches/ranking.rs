//! `cargo bench --bench ranking`: ranking 100,000 synthetic runs in 20 comparison sets, sorting them
//! for display, and drawing one leaderboard frame. Prints median and min wall times; targets on a
//! 2-core machine: rank + sort under 100 ms, one frame under 10 ms; seed aggregation under 100 ms.

use std::time::{Duration, Instant};

use pepr::app::{App, Data};
use pepr::results::rank::{SetBy, Variant, rank};
use pepr::results::synthetic;
use pepr::results::view::{SortKey, select};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn measure<T>(label: &str, iterations: usize, target: Duration, mut f: impl FnMut() -> T) {
    // One warm-up run (thread pools, allocator), then timed runs.
    std::hint::black_box(f());
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    let verdict = if median <= target { "within" } else { "OVER" };
    println!(
        "{label:<44} median {:>9.3} ms  min {:>9.3} ms  ({iterations} runs; target {} ms: {verdict})",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        target.as_millis()
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run once quickly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let iterations = if quick { 1 } else { 15 };
    let records = synthetic::runs(20, 5_000, 1);
    println!(
        "{} synthetic runs in 20 sets, {} threads available",
        records.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    measure("rank (polars scores + ranks + Pareto)", iterations, Duration::from_millis(100), || {
        rank(&records, SetBy::Group).unwrap()
    });
    let ranking = rank(&records, SetBy::Group).unwrap();
    measure("sort all 100k by PePR-E rank", iterations, Duration::from_millis(100), || {
        select(&records, &ranking, None, "", SortKey::Rank(Variant::Energy), false, Variant::Energy)
    });
    measure("rank + sort 100k", iterations, Duration::from_millis(100), || {
        let ranking = rank(&records, SetBy::Group).unwrap();
        select(&records, &ranking, None, "", SortKey::Rank(Variant::Energy), false, Variant::Energy)
    });

    measure("aggregate seeds of 100k (polars group-by)", iterations, Duration::from_millis(100), || {
        pepr::results::seeds::aggregate_seeds(&records, &ranking).unwrap()
    });

    let mut app = App::new("bench");
    app.on_loaded(Data::new(records.clone(), ranking, vec![], SetBy::Group));
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        measure(&format!("draw one leaderboard frame {w}x{h}"), iterations * 10, Duration::from_millis(10), || {
            terminal.draw(|frame| pepr::ui::draw(frame, &app)).unwrap();
        });
    }
    // The grid form recomputes its cells and which are done (against all 100k runs) every frame.
    app.screen = pepr::app::Screen::Train;
    app.grid_form.open = true;
    app.archs.chosen.extend(["pepr_lenet5", "pepr_resnet8", "resnet18", "mobilenetv2_050"]);
    app.datasets.chosen.extend(["synthetic".to_string(), "dermamnist".to_string()]);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    measure("draw grid form 80x24 (48 cells, 100k runs)", iterations * 10, Duration::from_millis(10), || {
        terminal.draw(|frame| pepr::ui::draw(frame, &app)).unwrap();
    });
    app.grid_form.open = false;
    app.screen = pepr::app::Screen::Leaderboard;

    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    app.runs.view = pepr::app::View::Chart;
    measure("draw one chart frame 120x40 (5k-run set)", iterations * 10, Duration::from_millis(10), || {
        terminal.draw(|frame| pepr::ui::draw(frame, &app)).unwrap();
    });
}
