//! A drawn frame as an SVG picture: each cell of a ratatui buffer becomes monospace text on its
//! background colour. The README's picture of the TUI is made this way from the TestBackend, so it
//! is exactly what pepr draws.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

/// Cell size in pixels; each text run is stretched to its cells (`textLength`) so the grid holds in
/// any monospace font.
const CELL_W: f64 = 8.4;
const CELL_H: f64 = 17.0;
const FONT_SIZE: f64 = 14.0;
const DEFAULT_FG: &str = "#d4d4d4";
const DEFAULT_BG: &str = "#1e1e1e";

/// The buffer as a standalone SVG document.
pub fn buffer_to_svg(buffer: &Buffer) -> String {
    let area = buffer.area;
    let (width, height) = (area.width as f64 * CELL_W, area.height as f64 * CELL_H);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.1} {height:.1}">"#
    );
    let _ = writeln!(
        out,
        r#"<style>text{{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:{FONT_SIZE}px;white-space:pre}}</style>"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="{DEFAULT_BG}"/>"#);
    for y in 0..area.height {
        // Runs of cells with one style: one background rect and one text element each.
        let mut x = 0;
        while x < area.width {
            let style = cell_style(buffer, area.x + x, area.y + y);
            let start = x;
            let mut text = String::new();
            while x < area.width && cell_style(buffer, area.x + x, area.y + y) == style {
                let symbol = buffer[(area.x + x, area.y + y)].symbol();
                text.push_str(if symbol.is_empty() { " " } else { symbol });
                x += 1;
            }
            let cells = (x - start) as f64;
            let (px, py) = (start as f64 * CELL_W, y as f64 * CELL_H);
            if style.bg != DEFAULT_BG {
                let _ = writeln!(
                    out,
                    r#"<rect x="{px:.1}" y="{py:.1}" width="{:.1}" height="{CELL_H:.1}" fill="{}"/>"#,
                    cells * CELL_W,
                    style.bg
                );
            }
            if text.trim().is_empty() {
                continue;
            }
            let mut attributes = format!(r#" fill="{}""#, style.fg);
            if style.bold {
                attributes.push_str(r#" font-weight="bold""#);
            }
            if style.underlined {
                attributes.push_str(r#" text-decoration="underline""#);
            }
            if style.dim {
                attributes.push_str(r#" fill-opacity="0.6""#);
            }
            let _ = writeln!(
                out,
                r#"<text x="{px:.1}" y="{:.1}" textLength="{:.1}" lengthAdjust="spacingAndGlyphs"{attributes}>{}</text>"#,
                py + CELL_H * 0.78,
                cells * CELL_W,
                escape(&text)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[derive(Clone, PartialEq)]
struct CellStyle {
    fg: String,
    bg: String,
    bold: bool,
    underlined: bool,
    dim: bool,
}

fn cell_style(buffer: &Buffer, x: u16, y: u16) -> CellStyle {
    let cell = &buffer[(x, y)];
    let mut fg = hex(cell.fg).unwrap_or_else(|| DEFAULT_FG.into());
    let mut bg = hex(cell.bg).unwrap_or_else(|| DEFAULT_BG.into());
    if cell.modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    CellStyle {
        fg,
        bg,
        bold: cell.modifier.contains(Modifier::BOLD),
        underlined: cell.modifier.contains(Modifier::UNDERLINED),
        dim: cell.modifier.contains(Modifier::DIM),
    }
}

/// A terminal colour as the xterm palette shows it; `None` for the terminal's default.
fn hex(color: Color) -> Option<String> {
    const BASE: [&str; 16] = [
        "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5", "#666666", "#f14c4c",
        "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
    ];
    let index = match color {
        Color::Reset => return None,
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
        Color::Rgb(r, g, b) => return Some(format!("#{r:02x}{g:02x}{b:02x}")),
        Color::Indexed(i) if i < 16 => i,
        Color::Indexed(i) if i >= 232 => {
            let level = 8 + 10 * (i - 232);
            return Some(format!("#{level:02x}{level:02x}{level:02x}"));
        }
        Color::Indexed(i) => {
            // The 6x6x6 cube.
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            return Some(format!("#{:02x}{:02x}{:02x}", level(i / 36), level((i / 6) % 6), level(i % 6)));
        }
    };
    Some(BASE[index as usize].to_string())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn cells_become_styled_text_runs_on_their_background() {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 12, 2));
        buffer.set_string(0, 0, "a<b", Style::new().bold());
        buffer.set_string(4, 0, "ok", Style::new().fg(Color::Black).bg(Color::Green));
        buffer.set_string(0, 1, "x", Style::new().reversed());
        let svg = buffer_to_svg(&buffer);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains(r#"font-weight="bold">a&lt;b</text>"#), "{svg}");
        assert!(svg.contains(r##"<rect x="33.6" y="0.0" width="16.8" height="17.0" fill="#0dbc79"/>"##), "{svg}");
        assert!(svg.contains(r##"fill="#000000">ok</text>"##), "{svg}");
        // Reversed: the default colours swap.
        assert!(svg.contains(&format!(r#"fill="{DEFAULT_FG}"/>"#)), "{svg}");
        assert!(svg.contains(&format!(r#"fill="{DEFAULT_BG}">x</text>"#)), "{svg}");
    }

    #[test]
    fn palette_covers_named_indexed_and_rgb_colours() {
        assert_eq!(hex(Color::Reset), None);
        assert_eq!(hex(Color::Indexed(2)), hex(Color::Green));
        assert_eq!(hex(Color::Indexed(16)).as_deref(), Some("#000000"));
        assert_eq!(hex(Color::Indexed(231)).as_deref(), Some("#ffffff"));
        assert_eq!(hex(Color::Indexed(255)).as_deref(), Some("#eeeeee"));
        assert_eq!(hex(Color::Rgb(1, 2, 255)).as_deref(), Some("#0102ff"));
    }
}
