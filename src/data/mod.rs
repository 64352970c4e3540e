//! Datasets: one abstraction over MedMNIST `.npz` files, IDX (MNIST / Fashion-MNIST), image folders and
//! the built-in synthetic set, with seeded shuffling, stratified data-fraction subsets, and batches as
//! burn tensors.

pub mod download;
pub mod folder;
pub mod idx;
pub mod medmnist;
pub mod registry;
pub mod rng;
pub mod synthetic;

use std::fmt;
use std::path::{Path, PathBuf};

use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Int, Tensor, TensorData};

use rng::SplitMix64;

/// The model's input: channels, height, width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Input {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

/// A dataset problem, naming the file (when there is one) and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct DataError {
    pub file: Option<PathBuf>,
    pub message: String,
}

impl DataError {
    pub fn new(message: impl Into<String>) -> DataError {
        DataError { file: None, message: message.into() }
    }

    pub fn in_file(file: &Path, message: impl Into<String>) -> DataError {
        DataError { file: Some(file.to_path_buf()), message: message.into() }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}: {}", file.display(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DataError {}

pub type Result<T> = std::result::Result<T, DataError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SplitName {
    Train,
    Val,
    Test,
}

impl SplitName {
    pub const ALL: [SplitName; 3] = [SplitName::Train, SplitName::Val, SplitName::Test];

    pub fn name(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Val => "val",
            SplitName::Test => "test",
        }
    }
}

/// Images of one split as bytes, `n x c x h x w` (channels first, as the models take them).
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    pub data: Vec<u8>,
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Images {
    pub fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// The bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let len = self.image_len();
        &self.data[i * len..(i + 1) * len]
    }

    /// Converts channels-last `n x h x w x c` bytes (as .npz and image files store them) to channels-first.
    pub fn from_channels_last(data: &[u8], n: usize, h: usize, w: usize, c: usize) -> Images {
        if c == 1 {
            return Images { data: data.to_vec(), n, c, h, w };
        }
        let mut out = vec![0u8; data.len()];
        for i in 0..n {
            let base = i * h * w * c;
            for y in 0..h {
                for x in 0..w {
                    for ch in 0..c {
                        out[base + ch * h * w + y * w + x] = data[base + (y * w + x) * c + ch];
                    }
                }
            }
        }
        Images { data: out, n, c, h, w }
    }
}

/// One split: images and their class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub images: Images,
    pub labels: Vec<u32>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Checks what every reader must guarantee; `file` names the source in the error.
    pub fn check(&self, name: SplitName, classes: usize, file: Option<&Path>) -> Result<()> {
        let error = |message: String| DataError { file: file.map(Path::to_path_buf), message };
        if self.images.n != self.labels.len() {
            return Err(error(format!(
                "{} split: {} images but {} labels",
                name.name(),
                self.images.n,
                self.labels.len()
            )));
        }
        if self.images.data.len() != self.images.n * self.images.image_len() {
            return Err(error(format!("{} split: image data is truncated", name.name())));
        }
        if self.is_empty() {
            return Err(error(format!("{} split is empty", name.name())));
        }
        if let Some((i, label)) = self.labels.iter().enumerate().find(|(_, l)| **l as usize >= classes) {
            return Err(error(format!(
                "{} split: label {label} of sample {i} is outside the {classes} classes",
                name.name()
            )));
        }
        Ok(())
    }

    /// Samples per class.
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    fn select(&self, indices: &[usize]) -> Split {
        let len = self.images.image_len();
        let mut data = Vec::with_capacity(indices.len() * len);
        for &i in indices {
            data.extend_from_slice(self.images.image(i));
        }
        Split {
            images: Images { data, n: indices.len(), ..self.images.clone_shape() },
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }
}

impl Images {
    fn clone_shape(&self) -> Images {
        Images { data: Vec::new(), n: 0, c: self.c, h: self.h, w: self.w }
    }
}

/// What a dataset is, shown before anything is loaded.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DatasetInfo {
    /// The name users type: `synthetic`, `dermamnist`, `dermamnist_64`, `fashion-mnist`, ...
    pub name: String,
    /// Where it comes from, in words ("MedMNIST v3, Zenodo record 10519652", "generated by pepr").
    pub source: String,
    pub licence: String,
    pub description: String,
    pub classes: Vec<String>,
    pub channels: usize,
    /// Square image side in pixels.
    pub size: usize,
    /// Samples in train, val and test.
    pub splits: [usize; 3],
    /// Generated by pepr, not real data: the UI must say so.
    pub synthetic: bool,
}

/// A loaded dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub info: DatasetInfo,
    pub train: Split,
    pub val: Split,
    pub test: Split,
    /// Share of the original training split kept (1.0 unless [`Dataset::subset`] made it).
    pub data_fraction: f64,
}

/// A batch ready for a model: normalised images `[b, c, h, w]` and labels `[b]`.
pub struct Batch {
    pub images: Tensor<4>,
    pub labels: Tensor<1, Int>,
}

/// How batches are made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchOptions {
    pub batch_size: usize,
    /// Shuffle with this seed; `None` keeps the stored order (evaluation).
    pub shuffle_seed: Option<u64>,
    /// Resize (bilinear) to this square size, e.g. a model's input size.
    pub resize: Option<usize>,
    /// Convert to this many channels (1 <-> 3) for the model.
    pub channels: Option<usize>,
}

/// Pixel normalisation: bytes / 255, then (x - 0.5) / 0.5, so inputs lie in [-1, 1].
pub const MEAN: f32 = 0.5;
pub const STD: f32 = 0.5;

impl Dataset {
    pub fn new(info: DatasetInfo, train: Split, val: Split, test: Split, file: Option<&Path>) -> Result<Dataset> {
        let dataset = Dataset { info, train, val, test, data_fraction: 1.0 };
        for name in SplitName::ALL {
            dataset.split(name).check(name, dataset.info.classes.len(), file)?;
        }
        Ok(dataset)
    }

    pub fn split(&self, name: SplitName) -> &Split {
        match name {
            SplitName::Train => &self.train,
            SplitName::Val => &self.val,
            SplitName::Test => &self.test,
        }
    }

    /// A seeded, stratified subset of the training split: each class keeps `fraction` of its
    /// samples (rounded, at least one), chosen by a shuffle from `seed`. Val and test stay whole.
    pub fn subset(&self, fraction: f64, seed: u64) -> Result<Dataset> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(DataError::new(format!("data fraction must be in (0, 1], got {fraction}")));
        }
        let classes = self.info.classes.len();
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
        for (i, &label) in self.train.labels.iter().enumerate() {
            by_class[label as usize].push(i);
        }
        let mut rng = SplitMix64::new(seed);
        let mut keep = Vec::new();
        for members in &mut by_class {
            if members.is_empty() {
                continue;
            }
            rng.shuffle(members);
            let n = ((members.len() as f64 * fraction).round() as usize).clamp(1, members.len());
            keep.extend_from_slice(&members[..n]);
        }
        keep.sort_unstable();
        let mut info = self.info.clone();
        info.splits[0] = keep.len();
        Ok(Dataset {
            info,
            train: self.train.select(&keep),
            val: self.val.clone(),
            test: self.test.clone(),
            data_fraction: self.data_fraction * fraction,
        })
    }

    /// Batches of one split in a seeded order.
    pub fn batches<'a>(&'a self, split: SplitName, options: BatchOptions, device: &'a Device) -> Batches<'a> {
        let split = self.split(split);
        let mut order: Vec<usize> = (0..split.len()).collect();
        if let Some(seed) = options.shuffle_seed {
            SplitMix64::new(seed).shuffle(&mut order);
        }
        Batches { split, order, position: 0, options, device }
    }
}

/// Iterator over the batches of one split.
pub struct Batches<'a> {
    split: &'a Split,
    order: Vec<usize>,
    position: usize,
    options: BatchOptions,
    device: &'a Device,
}

impl Batches<'_> {
    pub fn len(&self) -> usize {
        self.order.len().div_ceil(self.options.batch_size.max(1))
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl Iterator for Batches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.position >= self.order.len() {
            return None;
        }
        let end = (self.position + self.options.batch_size.max(1)).min(self.order.len());
        let indices = &self.order[self.position..end];
        self.position = end;
        let images = &self.split.images;
        let mut pixels = Vec::with_capacity(indices.len() * images.image_len());
        for &i in indices {
            pixels.extend(images.image(i).iter().map(|&b| (b as f32 / 255.0 - MEAN) / STD));
        }
        let shape = [indices.len(), images.c, images.h, images.w];
        let mut x = Tensor::<4>::from_data(TensorData::new(pixels, shape), self.device);
        match (self.options.channels, images.c) {
            (Some(3), 1) => x = x.repeat_dim(1, 3),
            (Some(1), 3) => x = x.mean_dim(1),
            _ => {}
        }
        if let Some(size) = self.options.resize
            && (size != images.h || size != images.w)
        {
            x = interpolate(x, InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([size, size]));
        }
        let labels: Vec<i64> = indices.iter().map(|&i| self.split.labels[i] as i64).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [indices.len()]), self.device);
        Some(Batch { images: x, labels })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny dataset: `per_class` images per class in train, 2 per class in val and test.
    pub(crate) fn tiny(classes: usize, per_class: usize) -> Dataset {
        let make = |n_per: usize| {
            let labels: Vec<u32> = (0..classes * n_per).map(|i| (i % classes) as u32).collect();
            let data: Vec<u8> = labels.iter().flat_map(|&l| vec![(l * 40) as u8; 4]).collect();
            Split { images: Images { data, n: labels.len(), c: 1, h: 2, w: 2 }, labels }
        };
        let info = DatasetInfo {
            name: "tiny".into(),
            source: "test".into(),
            licence: "none".into(),
            description: String::new(),
            classes: (0..classes).map(|c| format!("class {c}")).collect(),
            channels: 1,
            size: 2,
            splits: [classes * per_class, classes * 2, classes * 2],
            synthetic: true,
        };
        Dataset::new(info, make(per_class), make(2), make(2), None).unwrap()
    }

    #[test]
    fn stratified_subset_is_seeded_and_keeps_every_class() {
        let d = tiny(3, 10);
        let s = d.subset(0.3, 7).unwrap();
        assert_eq!(s.train.class_counts(3), vec![3, 3, 3]);
        assert_eq!(s.data_fraction, 0.3);
        assert_eq!(s, d.subset(0.3, 7).unwrap(), "same seed, same subset");
        assert_ne!(s.train.labels.len(), 0);
        let tiny_fraction = d.subset(0.01, 7).unwrap();
        assert_eq!(tiny_fraction.train.class_counts(3), vec![1, 1, 1], "at least one per class");
        assert!(d.subset(0.0, 1).is_err() && d.subset(1.5, 1).is_err());
    }

    #[test]
    fn checks_catch_bad_splits() {
        let mut d = tiny(2, 2);
        d.train.labels[0] = 5;
        let err = d.train.check(SplitName::Train, 2, Some(Path::new("x.npz"))).unwrap_err();
        assert_eq!(err.to_string(), "x.npz: train split: label 5 of sample 0 is outside the 2 classes");
        d.train.labels.pop();
        assert!(d.train.check(SplitName::Train, 2, None).unwrap_err().message.contains("images but"));
        let empty = Split { images: Images { data: vec![], n: 0, c: 1, h: 2, w: 2 }, labels: vec![] };
        assert!(empty.check(SplitName::Val, 2, None).unwrap_err().message.contains("val split is empty"));
    }

    #[test]
    fn batches_are_normalised_shuffled_resized_and_channel_adapted() {
        let d = tiny(2, 5);
        let device = Device::flex();
        let options = BatchOptions { batch_size: 4, shuffle_seed: Some(3), resize: Some(4), channels: Some(3) };
        let batches: Vec<Batch> = d.batches(SplitName::Train, options, &device).collect();
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0].images.dims(), [4, 3, 4, 4]);
        assert_eq!(batches[2].labels.dims(), [2]);
        let plain = BatchOptions { batch_size: 10, shuffle_seed: None, resize: None, channels: None };
        let batch = d.batches(SplitName::Train, plain, &device).next().unwrap();
        let values: Vec<f32> = batch.images.into_data().iter::<f32>().collect();
        // Class 0 is black (-1 after normalisation), class 1 is 40/255.
        assert_eq!(values[0], -1.0);
        assert!((values[4] - (40.0 / 255.0 - 0.5) / 0.5).abs() < 1e-6);
        let order = |seed| -> Vec<i64> {
            let o = BatchOptions { batch_size: 10, shuffle_seed: Some(seed), resize: None, channels: None };
            d.batches(SplitName::Train, o, &device).next().unwrap().labels.into_data().iter::<i64>().collect()
        };
        assert_eq!(order(1), order(1));
    }

    #[test]
    fn channels_last_conversion() {
        // 1 image, 1x2 pixels, RGB: (1,2,3) (4,5,6)
        let images = Images::from_channels_last(&[1, 2, 3, 4, 5, 6], 1, 1, 2, 3);
        assert_eq!(images.data, vec![1, 4, 2, 5, 3, 6]);
    }
}
