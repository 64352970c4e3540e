//! Dataset work for the TUI, run on worker threads: listing, loading a preview, downloading.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::data::registry::{self, Entry, Kind};
use crate::data::{SplitName, download};

use super::datasets::Preview;

/// Largest sample side drawn in the terminal (bigger images are subsampled).
const SAMPLE_SIDE: usize = 28;

pub fn list(data_dir: &Path) -> Vec<Entry> {
    registry::list(data_dir)
}

/// Loads the dataset and picks one training image per class (up to eight), in grey.
pub fn preview(name: &str, data_dir: &Path) -> Result<Preview, String> {
    let entry = registry::find(name, data_dir).map_err(|e| e.to_string())?;
    let dataset = registry::load(&entry).map_err(|e| e.to_string())?;
    let train = dataset.split(SplitName::Train);
    let classes = dataset.info.classes.len();
    let mut samples = Vec::new();
    for class in 0..classes.min(8) {
        let Some(i) = train.labels.iter().position(|&l| l as usize == class) else { continue };
        samples.push((class, grey_thumbnail(&train.images, i)));
    }
    let samples = samples.into_iter().map(|(class, (side, pixels))| (class, side, pixels)).collect();
    Ok(Preview { name: name.to_string(), samples, class_counts: train.class_counts(classes) })
}

/// Image `i` as grey pixels, subsampled to at most `SAMPLE_SIDE` per side.
fn grey_thumbnail(images: &crate::data::Images, i: usize) -> (usize, Vec<u8>) {
    let image = images.image(i);
    let step = images.h.max(images.w).div_ceil(SAMPLE_SIDE).max(1);
    let side = images.h.min(images.w) / step;
    let plane = images.h * images.w;
    let mut pixels = Vec::with_capacity(side * side);
    for y in 0..side {
        for x in 0..side {
            let at = y * step * images.w + x * step;
            let sum: u32 = (0..images.c).map(|c| image[c * plane + at] as u32).sum();
            pixels.push((sum / images.c as u32) as u8);
        }
    }
    (side, pixels)
}

/// Downloads a MedMNIST set, reporting progress at most ten times a second.
pub fn download(name: &str, data_dir: &Path, progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<String, String> {
    let entry = registry::find(name, data_dir).map_err(|e| e.to_string())?;
    let Kind::MedMnist { set, size } = entry.kind else {
        return Err(format!("{name} is not downloadable"));
    };
    let base = std::env::var("PEPR_MEDMNIST_URL").unwrap_or_else(|_| download::ZENODO_BASE.to_string());
    let mut last = Instant::now() - Duration::from_secs(1);
    let mut throttled = |done: u64, total: Option<u64>| {
        if last.elapsed() >= Duration::from_millis(100) || total == Some(done) {
            last = Instant::now();
            progress(done, total);
        }
    };
    let path = download::download_medmnist(set, size, data_dir, &base, &mut throttled).map_err(|e| e.to_string())?;
    Ok(format!("{} downloaded and verified: {}", name, path.display()))
}
