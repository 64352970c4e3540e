//! Draws a [`Figure`] with plotters: SVG (text left to the viewer's fonts) or PNG (text drawn with
//! the DejaVu Sans compiled into pepr, so no system font library is needed; encoded by `image`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{Figure, Style};

/// Image formats, from the output file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    pub fn of(path: &Path) -> Result<Format> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => bail!("{}: the figure's format follows the extension: .svg or .png", path.display()),
        }
    }
}

/// Figure size in pixels.
pub const SIZE: (u32, u32) = (960, 640);

const FONT: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// ab_glyph finds fonts by name; registered once, before the first text is measured.
fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok { Ok(()) } else { bail!("the built-in font could not be loaded") }
}

/// matplotlib's tab10: other, efficient, front, reference, then one per curve.
const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(30, 30, 30),
    RGBColor(150, 150, 150),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
];

pub fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Marker radius in pixels.
const RADIUS: i32 = 4;

/// Draws the figure into `path` (written under a temporary name, then renamed) and returns it.
pub fn write(figure: &Figure, path: &Path) -> Result<PathBuf> {
    let format = Format::of(path)?;
    let bytes = match format {
        Format::Svg => to_svg(figure, SIZE)?.into_bytes(),
        Format::Png => to_png(figure, SIZE)?,
    };
    let name = path.file_name().ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
    let temporary = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&temporary, bytes).with_context(|| format!("{}: cannot write", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(path.to_path_buf())
}

pub fn to_svg(figure: &Figure, size: (u32, u32)) -> Result<String> {
    register_font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw(&root, figure)?;
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}

pub fn to_png(figure: &Figure, size: (u32, u32)) -> Result<Vec<u8>> {
    register_font()?;
    let mut pixels = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root, figure)?;
        root.present().map_err(plot_error)?;
    }
    let image = image::RgbImage::from_raw(size.0, size.1, pixels).ok_or_else(|| anyhow!("image buffer size"))?;
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(png)
}

fn plot_error<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow!("drawing the figure: {error:?}")
}

/// The data range of the points that are shown as data (markers and solid lines), padded by 5%.
fn ranges(figure: &Figure) -> ((f64, f64), (f64, f64)) {
    let mut x = (f64::INFINITY, f64::NEG_INFINITY);
    let mut y = (f64::INFINITY, f64::NEG_INFINITY);
    for series in figure.series.iter().filter(|s| s.style != Style::Dashed) {
        for &(px, py) in &series.points {
            x = (x.0.min(px), x.1.max(px));
            y = (y.0.min(py), y.1.max(py));
        }
    }
    let pad = |(lo, hi): (f64, f64)| {
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) * 0.2 };
        (lo - 0.05 * span, hi + 0.05 * span)
    };
    (pad(x), pad(y))
}

/// The part of segment a-b inside the box (Liang–Barsky), if any.
fn clip(a: (f64, f64), b: (f64, f64), x: (f64, f64), y: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - x.0), (dx, x.1 - a.0), (-dy, a.1 - y.0), (dy, y.1 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 { t0 = t0.max(t) } else { t1 = t1.min(t) }
        }
    }
    (t0 <= t1).then_some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> Result<()> {
    root.fill(&WHITE).map_err(plot_error)?;
    let (header, body) = root.split_vertically(56);
    header
        .draw(&Text::new(figure.title.clone(), (14, 10), (FONT, 21).into_font().color(&BLACK)))
        .map_err(plot_error)?;
    if let Some(note) = &figure.note {
        header
            .draw(&Text::new(note.clone(), (14, 36), (FONT, 14).into_font().color(&RGBColor(90, 90, 90))))
            .map_err(plot_error)?;
    }
    let (xr, yr) = ranges(figure);
    let mut chart = ChartBuilder::on(&body)
        .margin_left(10)
        .margin_right(24)
        .margin_bottom(10)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
        .map_err(plot_error)?;
    let ticks = figure.x_ticks.clone();
    let x_formatter = move |x: &f64| match &ticks {
        Some(ticks) => {
            ticks.iter().find(|(at, _)| (at - x).abs() < 1e-6).map(|(_, label)| label.clone()).unwrap_or_default()
        }
        None => short_number(*x),
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(figure.x_label.as_str())
        .y_desc(figure.y_label.as_str())
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .x_label_formatter(&x_formatter)
        .y_label_formatter(&|y: &f64| short_number(*y))
        .light_line_style(RGBColor(235, 235, 235));
    if let Some(ticks) = &figure.x_ticks {
        // Enough key points that each level (a whole number) is one; the formatter names only those.
        mesh.x_labels(ticks.len() * 2 + 1).disable_x_mesh();
    }
    mesh.draw().map_err(plot_error)?;

    for series in &figure.series {
        let color = color(series.color);
        let label = series.label.clone();
        let annotation = match series.style {
            Style::Markers { filled } => {
                let style = if filled { color.filled() } else { color.stroke_width(1) };
                chart.draw_series(series.points.iter().map(|&p| Circle::new(p, RADIUS, style))).map_err(plot_error)?
            }
            Style::Line | Style::Dashed | Style::LineMarkers => {
                let segments: Vec<((f64, f64), (f64, f64))> =
                    series.points.windows(2).filter_map(|w| clip(w[0], w[1], xr, yr)).collect();
                let width = if series.style == Style::Line { 2 } else { 1 };
                let line = color.stroke_width(width);
                if series.style == Style::LineMarkers {
                    chart
                        .draw_series(series.points.iter().map(|&p| Circle::new(p, RADIUS, color.filled())))
                        .map_err(plot_error)?;
                }
                if series.style == Style::Dashed {
                    chart
                        .draw_series(segments.iter().flat_map(|&(a, b)| DashedLineSeries::new([a, b], 6, 4, line)))
                        .map_err(plot_error)?
                } else {
                    chart
                        .draw_series(segments.iter().map(|&(a, b)| PathElement::new(vec![a, b], line)))
                        .map_err(plot_error)?
                }
            }
        };
        if !label.is_empty() {
            // Legend keys are squares and strokes, never circles, so every circle is a data point.
            match series.style {
                Style::Markers { filled } => annotation.label(label).legend(move |(x, y)| {
                    Rectangle::new(
                        [(x + 2, y - 4), (x + 10, y + 4)],
                        if filled { color.filled() } else { color.stroke_width(1) },
                    )
                }),
                _ => annotation
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))),
            };
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

/// Axis numbers: at most four significant digits, no trailing zeros.
fn short_number(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-3..6).contains(&magnitude) {
        return format!("{x:.2e}");
    }
    let decimals = (3 - magnitude).clamp(0, 6) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_cut_to_the_box() {
        let unit = (0.0, 1.0);
        assert_eq!(clip((0.5, -1.0), (0.5, 2.0), unit, unit), Some(((0.5, 0.0), (0.5, 1.0))));
        assert_eq!(clip((2.0, 2.0), (3.0, 3.0), unit, unit), None);
        assert_eq!(clip((0.0, 0.0), (2.0, 2.0), unit, unit), Some(((0.0, 0.0), (1.0, 1.0))));
    }

    #[test]
    fn formats_follow_the_extension_and_numbers_stay_short() {
        assert_eq!(Format::of(Path::new("a/b.SVG")).unwrap(), Format::Svg);
        assert_eq!(Format::of(Path::new("b.png")).unwrap(), Format::Png);
        assert!(Format::of(Path::new("b.pdf")).unwrap_err().to_string().contains(".svg or .png"));
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(0.123456), "0.1235");
        assert_eq!(short_number(1500.0), "1500");
        assert_eq!(short_number(6.0), "6");
        assert_eq!(short_number(1e-5), "1.00e-5");
    }
}
