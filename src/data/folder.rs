//! Image folders: one sub-folder per class holding PNG or JPEG files. When the folder has `train/`, `val/`
//! and `test/` sub-folders they are the splits (class folders inside each; the class list is their union,
//! sorted); otherwise pepr makes a seeded, stratified 80/10/10 split.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageReader};

use super::rng::SplitMix64;
use super::{DataError, Dataset, DatasetInfo, Images, Result, Split, SplitName};

/// File extensions read as images (case-insensitive); other files are skipped.
pub const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
/// Largest image side pepr resizes to.
pub const MAX_SIZE: usize = 1024;
/// Shares of each class that go to validation and test when the folder has no split folders.
pub const VAL_FRACTION: f64 = 0.1;
pub const TEST_FRACTION: f64 = 0.1;

/// One class folder: its name and its image files, sorted.
struct ClassFolder {
    name: String,
    files: Vec<PathBuf>,
}

/// An image file and its class index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    class: usize,
    path: PathBuf,
}

/// Reads the image folder `dir`, decoding every image to `channels` (1: grayscale, 3: RGB) and resizing it
/// to `size x size`; `seed` chooses the split when the folder has no `train/`, `val/`, `test/` folders.
pub fn read_folder(dir: &Path, size: usize, channels: usize, seed: u64) -> Result<Dataset> {
    if channels != 1 && channels != 3 {
        return Err(DataError::in_file(dir, format!("channels must be 1 (grayscale) or 3 (RGB), got {channels}")));
    }
    if size == 0 || size > MAX_SIZE {
        return Err(DataError::in_file(dir, format!("image size must be 1 to {MAX_SIZE} pixels, got {size}")));
    }
    if !dir.is_dir() {
        return Err(DataError::in_file(dir, "no such folder"));
    }
    let mut skipped = 0;
    let split_dirs = SplitName::ALL.map(|s| Some(dir.join(s.name())).filter(|p| p.is_dir()));
    let (classes, splits, how) = if split_dirs.iter().any(Option::is_some) {
        let Some(train_dir) = &split_dirs[0] else {
            return Err(DataError::in_file(dir, "has val/ or test/ folders but no train/ folder"));
        };
        // Anything beside the split folders is not read.
        skipped += list(dir)?.iter().filter(|p| !is_hidden(p) && !split_dirs.iter().flatten().any(|s| s == *p)).count();
        let mut per_split = Vec::new();
        for split_dir in split_dirs.iter().flatten() {
            per_split.push((split_dir, scan_classes(split_dir, &mut skipped)?));
        }
        let classes: Vec<String> = per_split
            .iter()
            .flat_map(|(_, cs)| cs.iter().map(|c| c.name.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let entries_of = |split_dir: &PathBuf| -> Vec<Entry> {
            let Some((_, folders)) = per_split.iter().find(|(d, _)| *d == split_dir) else { return Vec::new() };
            let mut entries = Vec::new();
            for folder in folders {
                let class = classes.iter().position(|c| *c == folder.name).unwrap_or_default();
                entries.extend(folder.files.iter().map(|path| Entry { class, path: path.clone() }));
            }
            entries
        };
        let train = entries_of(train_dir);
        let val_fraction = if split_dirs[1].is_none() { VAL_FRACTION } else { 0.0 };
        let test_fraction = if split_dirs[2].is_none() { TEST_FRACTION } else { 0.0 };
        let [train, mut val, mut test] = stratify(train, classes.len(), val_fraction, test_fraction, seed);
        if let Some(val_dir) = &split_dirs[1] {
            val = entries_of(val_dir);
        }
        if let Some(test_dir) = &split_dirs[2] {
            test = entries_of(test_dir);
        }
        let carved: Vec<&str> = [(val_fraction, "val"), (test_fraction, "test")]
            .iter()
            .filter(|(f, _)| *f > 0.0)
            .map(|(_, name)| *name)
            .collect();
        let how = if carved.is_empty() {
            "Splits from its train/, val/ and test/ folders.".to_string()
        } else {
            format!(
                "Splits from its split folders; the missing {} {} a seeded (seed {seed}), stratified 10% of train/.",
                carved.join(" and "),
                if carved.len() == 1 { "split is" } else { "splits are each" }
            )
        };
        (classes, [train, val, test], how)
    } else {
        let folders = scan_classes(dir, &mut skipped)?;
        let mut entries = Vec::new();
        for (class, folder) in folders.iter().enumerate() {
            entries.extend(folder.files.iter().map(|path| Entry { class, path: path.clone() }));
        }
        let splits = stratify(entries, folders.len(), VAL_FRACTION, TEST_FRACTION, seed);
        let how = format!(
            "No train/, val/, test/ folders, so pepr made a seeded (seed {seed}), stratified 80/10/10 split (classes \
             with at least 3 images have one in every split)."
        );
        (folders.into_iter().map(|f| f.name).collect(), splits, how)
    };
    let [train, val, test] = splits;
    let [train, val, test] =
        [decode(&train, size, channels)?, decode(&val, size, channels)?, decode(&test, size, channels)?];
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "folder".to_string());
    let skipped_text = match skipped {
        0 => "No files were skipped.".to_string(),
        1 => "1 file was skipped (not a PNG or JPEG image in a class folder).".to_string(),
        n => format!("{n} files were skipped (not PNG or JPEG images in class folders)."),
    };
    let info = DatasetInfo {
        name,
        source: format!("image folder {}", dir.display()),
        licence: "unknown (your own images)".to_string(),
        description: format!(
            "Images from the folder {}: {} classes, one sub-folder each, decoded to {} and resized to {size}x{size}. \
             {how} {skipped_text}",
            dir.display(),
            classes.len(),
            if channels == 1 { "grayscale" } else { "RGB" }
        ),
        classes,
        channels,
        size,
        splits: [train.len(), val.len(), test.len()],
        synthetic: false,
    };
    Dataset::new(info, train, val, test, Some(dir))
}

/// The entries of a folder, sorted.
fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let error = |e: std::io::Error| DataError::in_file(dir, format!("cannot read folder: {e}"));
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(error)? {
        paths.push(entry.map_err(error)?.path());
    }
    paths.sort();
    Ok(paths)
}

fn is_image(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

/// The class folders of `dir`, sorted by name, each with its images; counts what is not read in `skipped`.
fn scan_classes(dir: &Path, skipped: &mut usize) -> Result<Vec<ClassFolder>> {
    let mut classes = Vec::new();
    for path in list(dir)? {
        if !path.is_dir() {
            *skipped += 1;
            continue;
        }
        if is_hidden(&path) {
            continue;
        }
        let mut files = Vec::new();
        for file in list(&path)? {
            if is_image(&file) {
                files.push(file);
            } else {
                *skipped += 1;
            }
        }
        if files.is_empty() {
            return Err(DataError::in_file(&path, "empty class: the class folder holds no PNG or JPEG images"));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        classes.push(ClassFolder { name, files });
    }
    if classes.is_empty() {
        return Err(DataError::in_file(
            dir,
            "no class folders: expected one sub-folder per class holding PNG or JPEG images",
        ));
    }
    Ok(classes)
}

/// A seeded, stratified split of `entries` into train, val and test: each class gives `val` and `test` of its
/// images (rounded; at least one each when the class has enough images to keep one for training too).
fn stratify(entries: Vec<Entry>, classes: usize, val: f64, test: f64, seed: u64) -> [Vec<Entry>; 3] {
    let mut by_class: Vec<Vec<Entry>> = vec![Vec::new(); classes];
    for entry in entries {
        if let Some(members) = by_class.get_mut(entry.class) {
            members.push(entry);
        }
    }
    let mut rng = SplitMix64::new(seed);
    let mut out: [Vec<Entry>; 3] = Default::default();
    let carved = [val, test].iter().filter(|f| **f > 0.0).count();
    for mut members in by_class {
        rng.shuffle(&mut members);
        let n = members.len();
        let share = |fraction: f64| {
            if fraction <= 0.0 {
                0
            } else if n > carved {
                ((n as f64 * fraction).round() as usize).max(1)
            } else {
                0
            }
        };
        let n_test = share(test).min(n.saturating_sub(1));
        let n_val = share(val).min(n.saturating_sub(1 + n_test));
        let mut rest = members.into_iter();
        out[2].extend(rest.by_ref().take(n_test));
        out[1].extend(rest.by_ref().take(n_val));
        out[0].extend(rest);
    }
    for split in &mut out {
        split.sort();
    }
    out
}

/// Decodes, converts and resizes the images of one split straight into its channels-first buffer.
fn decode(entries: &[Entry], size: usize, channels: usize) -> Result<Split> {
    let image_len = channels * size * size;
    let mut data = Vec::with_capacity(entries.len() * image_len);
    let side = size as u32;
    for entry in entries {
        let path = &entry.path;
        let image = ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| DataError::in_file(path, format!("cannot read image: {e}")))?
            .decode()
            .map_err(|e| DataError::in_file(path, format!("cannot decode image: {e}")))?;
        push_image(&mut data, &image, side, channels);
    }
    let labels = entries.iter().map(|e| e.class as u32).collect();
    Ok(Split { images: Images { data, n: entries.len(), c: channels, h: size, w: size }, labels })
}

fn push_image(data: &mut Vec<u8>, image: &DynamicImage, side: u32, channels: usize) {
    if channels == 1 {
        let mut gray = image.to_luma8();
        if gray.dimensions() != (side, side) {
            gray = imageops::resize(&gray, side, side, FilterType::Triangle);
        }
        data.extend_from_slice(gray.as_raw());
    } else {
        let mut rgb = image.to_rgb8();
        if rgb.dimensions() != (side, side) {
            rgb = imageops::resize(&rgb, side, side, FilterType::Triangle);
        }
        for ch in 0..3 {
            data.extend(rgb.as_raw().chunks_exact(3).map(|px| px[ch]));
        }
    }
}

#[cfg(test)]
mod tests {
    use image::{ImageFormat, Rgb, RgbImage};

    use super::*;

    const COLOURS: [(&str, [u8; 3]); 3] = [("blue", [0, 0, 255]), ("green", [0, 255, 0]), ("red", [255, 0, 0])];

    /// Writes `n` images of `colour` into `dir/class`, alternating PNG and JPEG, of varying sizes.
    fn write_class(dir: &Path, class: &str, colour: [u8; 3], n: usize) {
        let folder = dir.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..n {
            let image = RgbImage::from_pixel(6 + i as u32 % 5, 10, Rgb(colour));
            let (name, format) = if i % 2 == 0 {
                (format!("{i:02}.png"), ImageFormat::Png)
            } else {
                (format!("{i:02}.JPG"), ImageFormat::Jpeg)
            };
            image.save_with_format(folder.join(name), format).unwrap();
        }
    }

    fn flat_folder(per_class: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (class, colour) in COLOURS {
            write_class(dir.path(), class, colour, per_class);
        }
        std::fs::write(dir.path().join("README.txt"), "not an image").unwrap();
        std::fs::write(dir.path().join("red").join("notes.md"), "not an image").unwrap();
        dir
    }

    #[test]
    fn flat_folder_gets_a_seeded_stratified_split() {
        let dir = flat_folder(10);
        let d = read_folder(dir.path(), 8, 3, 1).unwrap();
        assert_eq!(d.info.classes, vec!["blue", "green", "red"]);
        assert_eq!(d.info.splits, [24, 3, 3]);
        for split in [&d.train, &d.val, &d.test] {
            assert_eq!((split.images.c, split.images.h, split.images.w), (3, 8, 8));
        }
        assert_eq!(d.val.class_counts(3), vec![1, 1, 1]);
        assert_eq!(d.test.class_counts(3), vec![1, 1, 1]);
        assert!(d.info.description.contains("2 files were skipped"), "{}", d.info.description);
        assert!(d.info.description.contains("80/10/10"));
        assert!(!d.info.synthetic);
        // Each image is its class colour, channels first (JPEG is lossy, so roughly).
        for split in [&d.train, &d.val, &d.test] {
            for i in 0..split.len() {
                let colour = COLOURS[split.labels[i] as usize].1;
                let image = split.images.image(i);
                for ch in 0..3 {
                    let plane = &image[ch * 64..(ch + 1) * 64];
                    assert!(plane.iter().all(|&p| (p as i32 - colour[ch] as i32).abs() < 24), "{plane:?}");
                }
            }
        }
        assert_eq!(d, read_folder(dir.path(), 8, 3, 1).unwrap(), "same seed, same split");
        let other = read_folder(dir.path(), 8, 3, 2).unwrap();
        assert_ne!(d.val.images, other.val.images, "another seed, another split");

        let gray = read_folder(dir.path(), 5, 1, 1).unwrap();
        assert_eq!((gray.info.channels, gray.train.images.c, gray.train.images.h), (1, 1, 5));
        // Luma of pure green is about 182, of pure blue about 18.
        let first_green = gray.train.labels.iter().position(|&l| l == 1).unwrap();
        assert!(gray.train.images.image(first_green).iter().all(|&p| (160..200).contains(&p)));
    }

    #[test]
    fn small_classes_stay_in_train() {
        let dir = tempfile::tempdir().unwrap();
        write_class(dir.path(), "many", [9, 9, 9], 20);
        write_class(dir.path(), "few", [200, 200, 200], 2);
        let d = read_folder(dir.path(), 4, 1, 0).unwrap();
        assert_eq!(d.info.classes, vec!["few", "many"]);
        assert_eq!(d.train.class_counts(2), vec![2, 16]);
        assert_eq!(d.val.class_counts(2), vec![0, 2]);
        assert_eq!(d.test.class_counts(2), vec![0, 2]);
    }

    #[test]
    fn split_folders_are_the_splits_and_classes_are_their_union() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_class(&root.join("train"), "b", [0, 0, 0], 4);
        write_class(&root.join("train"), "a", [255, 255, 255], 3);
        write_class(&root.join("val"), "a", [255, 255, 255], 1);
        write_class(&root.join("test"), "c", [128, 128, 128], 2);
        write_class(&root.join("test"), "a", [255, 255, 255], 1);
        let d = read_folder(root, 4, 1, 0).unwrap();
        assert_eq!(d.info.classes, vec!["a", "b", "c"]);
        assert_eq!(d.info.splits, [7, 1, 3]);
        assert_eq!(d.train.labels, vec![0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(d.test.labels, vec![0, 2, 2]);
        assert!(d.info.description.contains("train/, val/ and test/ folders"));
        assert!(d.info.description.contains("No files were skipped"));

        // Without val/, validation is carved from train/.
        std::fs::remove_dir_all(root.join("val")).unwrap();
        let d = read_folder(root, 4, 1, 0).unwrap();
        assert_eq!(d.info.splits, [5, 2, 3]);
        assert_eq!(d.val.class_counts(3), vec![1, 1, 0]);
        assert!(d.info.description.contains("missing val split"), "{}", d.info.description);

        std::fs::remove_dir_all(root.join("train")).unwrap();
        let err = read_folder(root, 4, 1, 0).unwrap_err();
        assert!(err.message.contains("no train/ folder"), "{err}");
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let dir = flat_folder(4);
        let bad = dir.path().join("green").join("broken.png");
        std::fs::write(&bad, b"\x89PNG\r\n\x1a\n not really").unwrap();
        let err = read_folder(dir.path(), 8, 3, 0).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(bad.as_path()));
        assert!(err.message.contains("cannot decode image"), "{err}");
        std::fs::remove_file(&bad).unwrap();

        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        std::fs::write(empty.join("list.csv"), "a,b").unwrap();
        let err = read_folder(dir.path(), 8, 3, 0).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(empty.as_path()));
        assert!(err.message.contains("empty class"), "{err}");

        let no_classes = tempfile::tempdir().unwrap();
        RgbImage::new(2, 2).save(no_classes.path().join("loose.png")).unwrap();
        let err = read_folder(no_classes.path(), 8, 3, 0).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(no_classes.path()));
        assert!(err.message.contains("no class folders"), "{err}");

        assert!(read_folder(&dir.path().join("missing"), 8, 3, 0).unwrap_err().message.contains("no such folder"));
        assert!(read_folder(dir.path(), 8, 2, 0).unwrap_err().message.contains("channels must be 1"));
        assert!(read_folder(dir.path(), 0, 1, 0).unwrap_err().message.contains("image size"));
    }
}
