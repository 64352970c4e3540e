//! `pepr plot` through the real binary: the files are valid (the SVG parses, the PNG decodes) and
//! hold one marker per run.

use crate::common::pepr;
use std::path::Path;
use std::process::Output;

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Element names in the SVG, counted; panics if it is not well-formed XML.
fn svg_elements(path: &Path) -> std::collections::HashMap<String, usize> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut counts = std::collections::HashMap::new();
    let mut depth = 0i32;
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("{}: not well-formed: {e}", path.display())) {
            quick_xml::events::Event::Start(e) => {
                depth += 1;
                *counts.entry(String::from_utf8_lossy(e.name().as_ref()).into_owned()).or_default() += 1;
            }
            quick_xml::events::Event::Empty(e) => {
                *counts.entry(String::from_utf8_lossy(e.name().as_ref()).into_owned()).or_default() += 1;
            }
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "every element is closed");
    counts
}

/// Blobs of pixels near `color` (8-connected), as markers drawn in it.
fn blobs(image: &image::RgbImage, color: [u8; 3]) -> usize {
    let (w, h) = image.dimensions();
    let near = |x: u32, y: u32| {
        let p = image.get_pixel(x, y).0;
        p.iter().zip(color).map(|(&a, b)| (a as i32 - b as i32).abs()).sum::<i32>() < 60
    };
    let mut seen = vec![false; (w * h) as usize];
    let mut count = 0;
    for start in 0..w * h {
        if seen[start as usize] || !near(start % w, start / w) {
            continue;
        }
        count += 1;
        let mut stack = vec![start];
        seen[start as usize] = true;
        while let Some(i) = stack.pop() {
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for (dx, dy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let j = (ny as u32 * w + nx as u32) as usize;
                if !seen[j] && near(nx as u32, ny as u32) {
                    seen[j] = true;
                    stack.push(j as u32);
                }
            }
        }
    }
    count
}

#[test]
fn the_papers_pareto_chart_as_svg_and_png() {
    let home = tempfile::tempdir().unwrap();
    ok(pepr(home.path(), &["import", "--paper"]));
    let svg = home.path().join("derma_pt.svg");
    let out = ok(pepr(home.path(), &["plot", "pareto", "--group", "derma_pt", "--out", svg.to_str().unwrap()]));
    assert!(out.contains("derma_pt: P against energy") && out.contains("(131 points)"), "{out}");
    let elements = svg_elements(&svg);
    assert_eq!(elements.get("circle"), Some(&131), "one circle per run: {elements:?}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("energy (kWh)") && text.contains("P (test accuracy)") && text.contains("Pareto front"));

    let png = home.path().join("lidc.png");
    ok(pepr(
        home.path(),
        &["plot", "pareto", "--group", "lidc", "--variant", "pepr-t", "--out", png.to_str().unwrap()],
    ));
    let image = image::open(&png).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (960, 640));
    // Text was drawn (the built-in font): dark pixels in the title band.
    let dark =
        (0..960).flat_map(|x| (0..50).map(move |y| (x, y))).filter(|&(x, y)| image.get_pixel(x, y).0[0] < 80).count();
    assert!(dark > 200, "title text drawn: {dark} dark pixels");

    for kind in ["params", "pretrained", "fraction", "curves"] {
        let file = home.path().join(format!("{kind}.svg"));
        let out = ok(pepr(home.path(), &["plot", kind, "--out", file.to_str().unwrap()]));
        let circles = svg_elements(&file).get("circle").copied().unwrap_or(0);
        assert!(out.contains(&format!("({circles} points)")), "{kind}: {out}");
    }
}

#[test]
fn a_png_has_one_marker_per_run() {
    let home = tempfile::tempdir().unwrap();
    let csv = home.path().join("runs.csv");
    let mut text = String::from("arch,group,P,energy_kwh,efficient\n");
    for k in 0..6 {
        text.push_str(&format!("net{k},g,{},{},1\n", 0.4 + 0.1 * k as f64, 1.0 + 2.0 * k as f64));
    }
    std::fs::write(&csv, text).unwrap();
    ok(pepr(home.path(), &["import", csv.to_str().unwrap()]));
    let png = home.path().join("g.png");
    let out = ok(pepr(home.path(), &["plot", "pareto", "--out", png.to_str().unwrap()]));
    assert!(out.contains("(6 points)"), "{out}");
    let image = image::open(&png).unwrap().to_rgb8();
    // Efficient runs are filled orange circles; the legend adds one orange square.
    assert_eq!(blobs(&image, [255, 127, 14]), 6 + 1);
}

#[test]
fn bad_requests_say_what_is_wrong() {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("x.svg");
    let empty = pepr(home.path(), &["plot", "pareto", "--out", out.to_str().unwrap()]);
    assert_eq!(empty.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("pepr import --paper"));
    ok(pepr(home.path(), &["import", "--paper"]));
    let pdf = pepr(home.path(), &["plot", "pareto", "--out", "x.pdf"]);
    assert!(String::from_utf8_lossy(&pdf.stderr).contains("x.pdf: the figure's format follows the extension"));
    let typo = pepr(home.path(), &["plot", "pareto", "--group", "lidc_smal", "--out", out.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("did you mean lidc_small"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
    let kind = pepr(home.path(), &["plot", "bars", "--out", out.to_str().unwrap()]);
    assert_eq!(kind.status.code(), Some(2));
    assert!(!out.exists());
}
