//! Classifying image files with a network and its weights: each image's shorter side is resized to
//! the input size (bilinear), the centre cropped square, pixels scaled to [0, 1] and normalised as
//! the weights expect; the top classes come back with softmax probabilities.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor as BurnTensor, TensorData};
use image::imageops::{self, FilterType};

use super::load::load_into;
use super::start::{Source, resolve};
use super::store::Normalisation;
use crate::catalog::net::Net;
use crate::catalog::{self, Spec};
use crate::home::Home;

/// An image as the network's input, channels first: `channels x size x size` values.
pub fn preprocess(path: &Path, channels: usize, size: usize, norm: Normalisation) -> Result<Vec<f32>> {
    let image = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .with_context(|| format!("cannot read image {}", path.display()))?
        .decode()
        .map_err(|e| anyhow!("{}: cannot decode image: {e}", path.display()))?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let scale = size as f64 / w.min(h) as f64;
    let (nw, nh) =
        (((w as f64 * scale).round() as u32).max(size as u32), ((h as f64 * scale).round() as u32).max(size as u32));
    let mut rgb = image.to_rgb8();
    if (nw, nh) != rgb.dimensions() {
        rgb = imageops::resize(&rgb, nw, nh, FilterType::Triangle);
    }
    let (left, top) = ((nw - size as u32) / 2, (nh - size as u32) / 2);
    let crop = imageops::crop_imm(&rgb, left, top, size as u32, size as u32).to_image();
    let mut out = Vec::with_capacity(channels * size * size);
    for c in 0..channels {
        let (mean, std) = norm.mean_std(c);
        out.extend(crop.pixels().map(|p| {
            // One channel: the mean of R, G and B, as pepr's datasets turn colour into grey.
            let v = if channels == 1 { (p[0] as f32 + p[1] as f32 + p[2] as f32) / 3.0 } else { p[c % 3] as f32 };
            (v / 255.0 - mean) / std
        }));
    }
    Ok(out)
}

/// The `k` largest probabilities, best first, with their class index.
pub fn top_k(probs: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order.into_iter().take(k).map(|i| (i, probs[i])).collect()
}

/// The network of `source` for `arch`, at the input size it was trained at.
pub fn network(arch: &str, source: &Source, device: &Device) -> Result<Net> {
    let entry = catalog::find(arch).ok_or_else(|| anyhow!(crate::catalog::unknown_architecture(arch)))?;
    let spec = Spec::new(source.in_chans, source.classes, source.input_size);
    let graph = entry.graph(&spec).map_err(|e| anyhow!("{e}"))?;
    let (net, _) = load_into(Net::new(graph, device), &source.state, device)
        .map_err(|e| anyhow!("{} as {arch}: {e}", source.label))?;
    Ok(net)
}

/// One image's top classes: (class name, probability).
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub image: PathBuf,
    pub top: Vec<(String, f32)>,
}

/// Classifies `images` with `arch` and the weights `weights` (see [`resolve`]).
pub fn predict(home: &Home, arch: &str, weights: &str, images: &[PathBuf], k: usize) -> Result<Vec<Prediction>> {
    let source = resolve(home, arch, weights)?;
    let device = Device::flex();
    let net = network(arch, &source, &device)?;
    let size = source.input_size;
    let mut out = Vec::new();
    for image in images {
        let pixels = preprocess(image, source.in_chans, size, source.normalisation)?;
        let x = BurnTensor::<4>::from_data(TensorData::new(pixels, [1, source.in_chans, size, size]), &device);
        let probs: Vec<f32> = softmax(net.forward(x), 1).into_data().iter::<f32>().collect();
        let name = |i: usize| {
            source.class_names.as_ref().and_then(|n| n.get(i).cloned()).unwrap_or_else(|| format!("class {i}"))
        };
        let top = top_k(&probs, k).into_iter().map(|(i, p)| (name(i), p)).collect();
        out.push(Prediction { image: image.clone(), top });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_sorted_and_stable() {
        assert_eq!(top_k(&[0.1, 0.5, 0.1, 0.3], 3), vec![(1, 0.5), (3, 0.3), (0, 0.1)]);
    }

    #[test]
    fn images_are_resized_cropped_and_normalised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.png");
        // 8x4: left half black, right half white; the centre 4x4 crop after resizing to side 4 keeps both.
        let img =
            image::RgbImage::from_fn(
                8,
                4,
                |x, _| if x < 4 { image::Rgb([0, 0, 0]) } else { image::Rgb([255, 255, 255]) },
            );
        img.save(&path).unwrap();
        let x = preprocess(&path, 3, 4, Normalisation::Symmetric).unwrap();
        assert_eq!(x.len(), 3 * 16);
        assert_eq!((x[0], x[3]), (-1.0, 1.0));
        let grey = preprocess(&path, 1, 4, Normalisation::Imagenet).unwrap();
        assert_eq!(grey.len(), 16);
        assert!((grey[0] - (0.0 - 0.485) / 0.229).abs() < 1e-6);
        let err = preprocess(&dir.path().join("missing.png"), 3, 4, Normalisation::Imagenet).unwrap_err();
        assert!(format!("{err:#}").contains("missing.png"));
    }
}
