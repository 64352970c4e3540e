//! The IDX format of MNIST and Fashion-MNIST: `*-images-idx3-ubyte` (magic 0x00000803, u8 images,
//! `n x rows x cols`) and `*-labels-idx1-ubyte` (magic 0x00000801, u8 labels, `n`), sizes big-endian,
//! plain or gzip-compressed (detected by the gzip magic bytes, not the file name).

use std::fs::File;
use std::io::{self, BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use super::rng::SplitMix64;
use super::{DataError, Dataset, DatasetInfo, Images, Result, Split};

/// Where Debian's package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's classes, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// The magic number of IDX image files: unsigned bytes, 3 dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of IDX label files: unsigned bytes, 1 dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Share of the training split held out as validation (IDX sets publish no validation split).
pub const VAL_FRACTION: f64 = 0.1;
/// Seed of the validation hold-out, fixed so every run sees the same validation split.
pub const VAL_SEED: u64 = 0;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Deflate cannot compress better than about 1032:1; a header promising more data than that is a lie.
const MAX_DEFLATE_RATIO: u64 = 1100;

/// Reads Fashion-MNIST from `dir` (normally [`FASHION_MNIST_DIR`]).
pub fn fashion_mnist(dir: &Path) -> Result<Dataset> {
    let classes = FASHION_MNIST_CLASSES.iter().map(|c| c.to_string()).collect();
    let mut dataset = read_idx_dir(dir, "fashion-mnist", classes, "MIT", &fashion_source(dir))?;
    dataset.info.description = fashion_description(&dataset.info.description);
    Ok(dataset)
}

/// Fashion-MNIST's info without decoding its images (for listings): split sizes from the label
/// files, with the same held-out validation split [`read_idx_dir`] makes.
pub fn fashion_mnist_info(dir: &Path) -> Result<DatasetInfo> {
    let classes = FASHION_MNIST_CLASSES.len();
    let train = read_labels(&find(dir, "train-labels-idx1-ubyte")?, classes)?;
    let test = read_labels(&find(dir, "t10k-labels-idx1-ubyte")?, classes)?;
    let mut counts = vec![0usize; classes];
    for &label in &train {
        counts[label as usize] += 1;
    }
    let val: usize =
        counts.iter().filter(|&&c| c >= 2).map(|&c| ((c as f64 * VAL_FRACTION).round() as usize).clamp(1, c - 1)).sum();
    let splits = [train.len() - val, val, test.len()];
    Ok(DatasetInfo {
        name: "fashion-mnist".into(),
        source: fashion_source(dir),
        licence: "MIT".into(),
        description: fashion_description(&format!(
            "{} training and {} test images; pepr holds out a seeded (seed {VAL_SEED}), stratified {:.0}% of the \
             training split as validation: train {}, val {}, test {}.",
            train.len(),
            test.len(),
            VAL_FRACTION * 100.0,
            splits[0],
            splits[1],
            splits[2]
        )),
        classes: FASHION_MNIST_CLASSES.iter().map(|c| c.to_string()).collect(),
        channels: 1,
        size: 28,
        splits,
        synthetic: false,
    })
}

fn fashion_source(dir: &Path) -> String {
    format!(
        "Fashion-MNIST by Zalando Research (github.com/zalandoresearch/fashion-mnist), IDX files in {}",
        dir.display()
    )
}

fn fashion_description(details: &str) -> String {
    format!(
        "Fashion-MNIST: 28x28 grayscale photos of Zalando articles of clothing in 10 classes, a harder drop-in \
         replacement for MNIST. {details}"
    )
}

/// Reads an MNIST-style directory: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each plain or with `.gz`. The validation split is
/// a seeded (seed [`VAL_SEED`]), stratified [`VAL_FRACTION`] of the training split.
pub fn read_idx_dir(dir: &Path, name: &str, classes: Vec<String>, licence: &str, source: &str) -> Result<Dataset> {
    if !dir.is_dir() {
        return Err(DataError::in_file(dir, "no such directory (expected MNIST-style IDX files in it)"));
    }
    let train = read_pair(dir, "train", classes.len())?;
    let test = read_pair(dir, "t10k", classes.len())?;
    if (train.images.h, train.images.w) != (test.images.h, test.images.w) {
        return Err(DataError::in_file(
            &find(dir, "t10k-images-idx3-ubyte")?,
            format!(
                "test images are {}x{} but training images are {}x{}",
                test.images.h, test.images.w, train.images.h, train.images.w
            ),
        ));
    }
    let original_train = train.len();
    let (train, val) = hold_out(train, classes.len(), VAL_FRACTION, VAL_SEED);
    let info = DatasetInfo {
        name: name.to_string(),
        source: source.to_string(),
        licence: licence.to_string(),
        description: format!(
            "{original_train} training and {} test images. IDX files publish no validation split, so pepr holds \
             out a seeded (seed {VAL_SEED}), stratified {:.0}% of the training split as validation: train {}, val \
             {}, test {}.",
            test.len(),
            VAL_FRACTION * 100.0,
            train.len(),
            val.len(),
            test.len()
        ),
        classes,
        channels: 1,
        size: train.images.h,
        splits: [train.len(), val.len(), test.len()],
        synthetic: false,
    };
    Dataset::new(info, train, val, test, Some(dir))
}

/// Reads `{prefix}-images-idx3-ubyte[.gz]` and `{prefix}-labels-idx1-ubyte[.gz]` into one split.
fn read_pair(dir: &Path, prefix: &str, classes: usize) -> Result<Split> {
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_images(&images_path)?;
    let labels = read_labels(&labels_path, classes)?;
    if images.n != labels.len() {
        return Err(DataError::in_file(
            &labels_path,
            format!("{} labels, but {} holds {} images", labels.len(), images_path.display(), images.n),
        ));
    }
    Ok(Split { images, labels })
}

/// `dir/base`, or `dir/base.gz` when only that exists.
fn find(dir: &Path, base: &str) -> Result<PathBuf> {
    let plain = dir.join(base);
    if plain.is_file() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{base}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::in_file(&plain, format!("missing IDX file (neither {base} nor {base}.gz is in the directory)")))
}

/// An open IDX file: its decoded byte stream and what bounds its length.
struct IdxReader {
    path: PathBuf,
    reader: Box<dyn Read>,
    gzip: bool,
    /// Size of the file on disk.
    file_len: u64,
    /// Decoded bytes consumed so far.
    position: u64,
}

impl IdxReader {
    fn open(path: &Path) -> Result<IdxReader> {
        let file = File::open(path).map_err(|e| DataError::in_file(path, format!("cannot open: {e}")))?;
        let file_len = file.metadata().map_err(|e| DataError::in_file(path, format!("cannot stat: {e}")))?.len();
        let mut buffered = BufReader::with_capacity(1 << 16, file);
        let start = buffered.fill_buf().map_err(|e| DataError::in_file(path, format!("cannot read: {e}")))?;
        let gzip = start.starts_with(&GZIP_MAGIC);
        let reader: Box<dyn Read> = if gzip { Box::new(MultiGzDecoder::new(buffered)) } else { Box::new(buffered) };
        Ok(IdxReader { path: path.to_path_buf(), reader, gzip, file_len, position: 0 })
    }

    fn error(&self, message: impl Into<String>) -> DataError {
        DataError::in_file(&self.path, message)
    }

    fn io_error(&self, e: io::Error) -> DataError {
        if self.gzip { self.error(format!("corrupt gzip data: {e}")) } else { self.error(format!("cannot read: {e}")) }
    }

    /// Reads until `buf` is full or the data ends; returns the bytes read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.reader.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
        self.position += done as u64;
        Ok(done)
    }

    fn read_u32(&mut self, what: &str) -> Result<u32> {
        let mut bytes = [0u8; 4];
        if self.fill(&mut bytes)? < 4 {
            return Err(self.error(format!("truncated header: the data ends before the {what}")));
        }
        Ok(u32::from_be_bytes(bytes))
    }

    /// Checks the magic number, then reads the header's sizes.
    fn header(&mut self, magic: u32, dims: usize, what: &str) -> Result<Vec<usize>> {
        let found = self.read_u32("magic number")?;
        if found != magic {
            let hint = match found {
                IMAGES_MAGIC => " (this is an IDX images file)".to_string(),
                LABELS_MAGIC => " (this is an IDX labels file)".to_string(),
                _ if found >> 16 != 0 => " (not an IDX file)".to_string(),
                _ => format!(" (IDX data type 0x{:02x} with {} dimensions)", (found >> 8) & 0xff, found & 0xff),
            };
            return Err(
                self.error(format!("wrong magic number 0x{found:08x}, expected 0x{magic:08x} for IDX {what}{hint}"))
            );
        }
        (0..dims).map(|d| self.read_u32(&format!("size of dimension {}", d + 1)).map(|s| s as usize)).collect()
    }

    /// Reads exactly `len` more bytes into a new buffer, checking first that the file can hold them and after
    /// that nothing follows them. `promise` says what the header promised, for the error messages.
    fn body(&mut self, len: usize, promise: &str) -> Result<Vec<u8>> {
        let len64 = len as u64;
        let available_plain = self.file_len.saturating_sub(self.position);
        if !self.gzip && len64 > available_plain {
            return Err(self.error(format!("truncated: {promise} but only {available_plain} bytes follow")));
        }
        if self.gzip && len64 > self.file_len.saturating_mul(MAX_DEFLATE_RATIO) {
            return Err(
                self.error(format!("truncated: {promise}, more than {} compressed bytes can hold", self.file_len))
            );
        }
        let mut data = vec![0u8; len];
        let got = self.fill(&mut data)?;
        if got < len {
            return Err(self.error(format!("truncated: {promise} but only {got} bytes follow")));
        }
        let mut extra = [0u8; 1];
        if self.fill(&mut extra)? > 0 {
            return Err(self.error(format!("unexpected data after the end: {promise}, and more bytes follow")));
        }
        Ok(data)
    }
}

/// Reads an IDX images file (`n x rows x cols` bytes; rows must equal cols).
pub fn read_images(path: &Path) -> Result<Images> {
    let mut reader = IdxReader::open(path)?;
    let dims = reader.header(IMAGES_MAGIC, 3, "images")?;
    let (n, h, w) = (dims[0], dims[1], dims[2]);
    if n == 0 {
        return Err(reader.error("holds no images"));
    }
    if h == 0 || h != w {
        return Err(reader.error(format!("images are {h}x{w}; pepr needs square images")));
    }
    let len = n
        .checked_mul(h)
        .and_then(|x| x.checked_mul(w))
        .ok_or_else(|| reader.error(format!("implausible header: {n} images of {h}x{w}")))?;
    let data = reader.body(len, &format!("the header promises {n} images of {h}x{w} ({len} bytes)"))?;
    Ok(Images { data, n, c: 1, h, w })
}

/// Reads an IDX labels file, checking every label is one of `classes`.
pub fn read_labels(path: &Path, classes: usize) -> Result<Vec<u32>> {
    let mut reader = IdxReader::open(path)?;
    let n = reader.header(LABELS_MAGIC, 1, "labels")?[0];
    let bytes = reader.body(n, &format!("the header promises {n} labels"))?;
    if let Some((i, label)) = bytes.iter().enumerate().find(|(_, l)| **l as usize >= classes) {
        return Err(reader.error(format!("label {label} of sample {i} is outside the {classes} classes")));
    }
    Ok(bytes.into_iter().map(u32::from).collect())
}

/// Splits off a seeded, stratified `fraction` of `split` (rounded, at least one per class with two or more
/// samples), keeping the stored order in both parts. The kept part is compacted in place, without a copy.
pub fn hold_out(split: Split, classes: usize, fraction: f64, seed: u64) -> (Split, Split) {
    let Split { mut images, mut labels } = split;
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &label) in labels.iter().enumerate() {
        if let Some(members) = by_class.get_mut(label as usize) {
            members.push(i);
        }
    }
    let mut rng = SplitMix64::new(seed);
    let mut held = vec![false; labels.len()];
    for members in &mut by_class {
        if members.len() < 2 {
            continue;
        }
        rng.shuffle(members);
        let k = ((members.len() as f64 * fraction).round() as usize).clamp(1, members.len() - 1);
        for &i in &members[..k] {
            held[i] = true;
        }
    }
    let len = images.image_len();
    let n_held = held.iter().filter(|h| **h).count();
    let mut held_data = Vec::with_capacity(n_held * len);
    let mut held_labels = Vec::with_capacity(n_held);
    let mut kept = 0;
    for i in 0..labels.len() {
        if held[i] {
            held_data.extend_from_slice(&images.data[i * len..(i + 1) * len]);
            held_labels.push(labels[i]);
        } else {
            if kept != i {
                images.data.copy_within(i * len..(i + 1) * len, kept * len);
                labels[kept] = labels[i];
            }
            kept += 1;
        }
    }
    images.data.truncate(kept * len);
    labels.truncate(kept);
    images.n = kept;
    let held_images = Images { data: held_data, n: n_held, c: images.c, h: images.h, w: images.w };
    (Split { images, labels }, Split { images: held_images, labels: held_labels })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn images_file(n: u32, h: u32, w: u32, pixels: &[u8]) -> Vec<u8> {
        let mut bytes = IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [n, h, w] {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(pixels);
        bytes
    }

    fn labels_file(labels: &[u8]) -> Vec<u8> {
        let mut bytes = LABELS_MAGIC.to_be_bytes().to_vec();
        bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        bytes.extend_from_slice(labels);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// `n` 3x3 images whose pixels all equal their index (mod 256), labels `index % classes`.
    fn split_files(n: usize, classes: usize) -> (Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..n).flat_map(|i| [i as u8; 9]).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % classes) as u8).collect();
        (images_file(n as u32, 3, 3, &pixels), labels_file(&labels))
    }

    fn classes(n: usize) -> Vec<String> {
        (0..n).map(|c| format!("c{c}")).collect()
    }

    /// Writes an MNIST-style directory: 120 training and 20 test images, 4 classes; `gz` compresses the
    /// training files.
    fn write_dir(gz: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = split_files(120, 4);
        let (test_images, test_labels) = split_files(20, 4);
        if gz {
            std::fs::write(dir.path().join("train-images-idx3-ubyte.gz"), gzip(&images)).unwrap();
            std::fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), gzip(&labels)).unwrap();
        } else {
            std::fs::write(dir.path().join("train-images-idx3-ubyte"), images).unwrap();
            std::fs::write(dir.path().join("train-labels-idx1-ubyte"), labels).unwrap();
        }
        std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), test_images).unwrap();
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), test_labels).unwrap();
        dir
    }

    #[test]
    fn reads_plain_and_gzip_directories_with_a_stratified_validation_split() {
        let plain = read_idx_dir(write_dir(false).path(), "mini", classes(4), "MIT", "test").unwrap();
        let gz = read_idx_dir(write_dir(true).path(), "mini", classes(4), "MIT", "test").unwrap();
        assert_eq!(plain, gz, "gzip is detected and decoded");
        assert_eq!(plain.info.splits, [108, 12, 20]);
        assert_eq!((plain.info.size, plain.info.channels, plain.train.images.c), (3, 1, 1));
        assert_eq!(plain.val.class_counts(4), vec![3, 3, 3, 3], "10% of every class");
        assert!(plain.info.description.contains("seed 0") && plain.info.description.contains("10%"));
        // Every image keeps its label (pixel = original index, label = index % 4), order is kept, and
        // train + val are exactly the original training split.
        let mut seen = Vec::new();
        for split in [&plain.train, &plain.val] {
            let firsts: Vec<u8> = (0..split.len()).map(|i| split.images.image(i)[0]).collect();
            assert!(firsts.windows(2).all(|w| w[0] < w[1]), "stored order kept");
            for (i, &first) in firsts.iter().enumerate() {
                assert!(split.images.image(i).iter().all(|&p| p == first));
                assert_eq!(first as u32 % 4, split.labels[i]);
            }
            seen.extend(firsts);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..120).map(|i| i as u8).collect::<Vec<_>>());
        assert_eq!(plain.test.labels[..5], [0, 1, 2, 3, 0]);
    }

    fn error_in(dir: &Path) -> DataError {
        read_idx_dir(dir, "mini", classes(4), "MIT", "test").unwrap_err()
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let dir = write_dir(false);
        let path = |name: &str| dir.path().join(name);
        let (images, labels) = split_files(120, 4);

        // Labels where images belong: wrong magic number.
        std::fs::write(path("train-images-idx3-ubyte"), &labels).unwrap();
        let err = error_in(dir.path());
        assert_eq!(err.file.as_deref(), Some(path("train-images-idx3-ubyte").as_path()));
        assert!(err.message.contains("wrong magic number 0x00000801"), "{err}");
        assert!(err.message.contains("labels file"), "{err}");

        // Truncated, plain and gzip.
        std::fs::write(path("train-images-idx3-ubyte"), &images[..images.len() - 5]).unwrap();
        let err = error_in(dir.path());
        assert!(err.message.contains("truncated") && err.message.contains("120 images of 3x3"), "{err}");
        std::fs::remove_file(path("train-images-idx3-ubyte")).unwrap();
        std::fs::write(path("train-images-idx3-ubyte.gz"), gzip(&images[..images.len() - 5])).unwrap();
        let err = error_in(dir.path());
        assert_eq!(err.file.as_deref(), Some(path("train-images-idx3-ubyte.gz").as_path()));
        assert!(err.message.contains("truncated") && err.message.contains("only 1075 bytes follow"), "{err}");
        let whole = gzip(&images);
        std::fs::write(path("train-images-idx3-ubyte.gz"), &whole[..whole.len() / 2]).unwrap();
        let err = error_in(dir.path());
        assert!(err.message.contains("gzip") || err.message.contains("truncated"), "{err}");
        std::fs::write(path("train-images-idx3-ubyte.gz"), &images[..10]).unwrap();
        assert!(error_in(dir.path()).message.contains("truncated header"));
        std::fs::write(path("train-images-idx3-ubyte.gz"), gzip(&images)).unwrap();

        // Image and label counts differ.
        let (_, short_labels) = split_files(119, 4);
        std::fs::write(path("train-labels-idx1-ubyte"), &short_labels).unwrap();
        let err = error_in(dir.path());
        assert_eq!(err.file.as_deref(), Some(path("train-labels-idx1-ubyte").as_path()));
        assert!(err.message.contains("119 labels, but") && err.message.contains("holds 120 images"), "{err}");

        // A label outside the classes, trailing bytes, a header promising a huge file.
        std::fs::write(path("train-labels-idx1-ubyte"), labels_file(&[0, 1, 9])).unwrap();
        assert!(error_in(dir.path()).message.contains("label 9 of sample 2 is outside the 4 classes"));
        let mut long = labels.clone();
        long.push(0);
        std::fs::write(path("train-labels-idx1-ubyte"), &long).unwrap();
        assert!(error_in(dir.path()).message.contains("more bytes follow"));
        std::fs::write(path("train-labels-idx1-ubyte"), &labels).unwrap();
        std::fs::write(path("train-images-idx3-ubyte.gz"), gzip(&images_file(u32::MAX, 28, 28, &[1, 2, 3]))).unwrap();
        assert!(error_in(dir.path()).message.contains("truncated"));
        std::fs::write(path("train-images-idx3-ubyte.gz"), gzip(&images_file(1, 2, 3, &[0; 6]))).unwrap();
        assert!(error_in(dir.path()).message.contains("square"));
        std::fs::write(path("train-images-idx3-ubyte.gz"), gzip(&images)).unwrap();
        assert!(read_idx_dir(dir.path(), "mini", classes(4), "MIT", "test").is_ok(), "repaired");

        // Test images of another size than the training images.
        let (test_images, _) = split_files(20, 4);
        std::fs::write(path("t10k-images-idx3-ubyte"), images_file(20, 2, 2, &[0; 80])).unwrap();
        assert!(error_in(dir.path()).message.contains("test images are 2x2 but training images are 3x3"));
        std::fs::write(path("t10k-images-idx3-ubyte"), &test_images).unwrap();

        // A missing file, a missing directory.
        std::fs::remove_file(path("t10k-labels-idx1-ubyte")).unwrap();
        let err = error_in(dir.path());
        assert_eq!(err.file.as_deref(), Some(path("t10k-labels-idx1-ubyte").as_path()));
        assert!(err.message.contains("missing IDX file"), "{err}");
        assert!(error_in(&path("nowhere")).message.contains("no such directory"));
    }

    #[test]
    fn hold_out_keeps_singletons_in_the_kept_part() {
        let labels = vec![0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        let images = Images { data: (0..11).collect(), n: 11, c: 1, h: 1, w: 1 };
        let (kept, held) = hold_out(Split { images, labels }, 3, 0.1, 5);
        assert_eq!(held.labels, vec![1], "class 0 has one sample and stays whole; class 2 has none");
        assert_eq!(kept.len(), 10);
        assert_eq!(kept.class_counts(3), vec![1, 9, 0]);
    }

    /// Reads the real Fashion-MNIST from Debian's `dataset-fashion-mnist` when it is installed.
    #[test]
    fn real_fashion_mnist_when_installed() {
        let dir = Path::new(FASHION_MNIST_DIR);
        if !dir.is_dir() {
            eprintln!("skipped: {FASHION_MNIST_DIR} is missing (apt-get install dataset-fashion-mnist)");
            return;
        }
        let start = std::time::Instant::now();
        let d = fashion_mnist(dir).unwrap();
        eprintln!("Fashion-MNIST read in {:.2?}", start.elapsed());
        assert_eq!(d.info.splits, [54_000, 6_000, 10_000]);
        assert_eq!((d.info.size, d.info.channels, d.info.classes.len()), (28, 1, 10));
        assert_eq!(d.val.class_counts(10), vec![600; 10]);
        assert_eq!(d.test.class_counts(10), vec![1_000; 10]);
        assert_eq!(d.info.licence, "MIT");
        assert_eq!(d.info.classes[0], "T-shirt/top");
        assert!(d.train.images.data.iter().any(|&p| p > 200));
    }
}
