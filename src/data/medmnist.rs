//! MedMNIST v3: the table of the 2D single-label sets and a reader for their `.npz` files.
//!
//! Each file holds `train_images`, `train_labels`, `val_images`, `val_labels`, `test_images` and
//! `test_labels`: uint8 images `N x S x S` (grayscale) or `N x S x S x 3` (RGB, channels last) and
//! integer labels `N x 1`.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use npyz::npz::NpzArchive;
use npyz::{DType, Endianness, NpyFile, Order, TypeChar};

use super::{DataError, Dataset, DatasetInfo, Images, Result, Split, SplitName};

/// Where the files live (also in [`super::download`]).
pub const SOURCE: &str = "MedMNIST v3 (Zenodo record 10519652)";

/// The image sizes MedMNIST publishes, in the order of [`MedMnistSet::md5`].
pub const SIZES: [usize; 4] = [28, 64, 128, 224];

/// One MedMNIST set, as the medmnist package describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MedMnistSet {
    /// The name in file names and on the command line: `dermamnist`.
    pub flag: &'static str,
    /// The title (the Python class name): `DermaMNIST`.
    pub title: &'static str,
    pub description: &'static str,
    /// The task as MedMNIST names it: `multi-class`, `binary-class`, `ordinal-regression`.
    pub task: &'static str,
    /// Class names in label order.
    pub classes: &'static [&'static str],
    pub channels: usize,
    /// Samples in train, val and test.
    pub samples: [usize; 3],
    pub licence: &'static str,
    /// MD5 of the `.npz` file for each size in [`SIZES`].
    pub md5: [&'static str; 4],
}

impl MedMnistSet {
    /// The MD5 of the file of this size; an error for a size MedMNIST does not publish.
    pub fn md5_for(&self, size: usize) -> Result<&'static str> {
        Ok(self.md5[size_index(size)?])
    }
}

/// Every 2D single-label MedMNIST v3 set (ChestMNIST is multi-label and left out), copied from
/// `INFO` in `medmnist/info.py` of the medmnist 3.0.2 Python package (<https://github.com/MedMNIST/MedMNIST>):
/// flag, `python_class`, `description`, `task`, `label` (in index order), `n_channels`, `n_samples`,
/// `license` and `MD5` / `MD5_64` / `MD5_128` / `MD5_224`.
pub const SETS: &[MedMnistSet] = &[
    MedMnistSet {
        flag: "pathmnist",
        title: "PathMNIST",
        description: "The PathMNIST is based on a prior study for predicting survival from colorectal cancer histology slides, providing a dataset (NCT-CRC-HE-100K) of 100,000 non-overlapping image patches from hematoxylin & eosin stained histological images, and a test dataset (CRC-VAL-HE-7K) of 7,180 image patches from a different clinical center. The dataset is comprised of 9 types of tissues, resulting in a multi-class classification task. We resize the source images of 3×224×224 into 3×28×28, and split NCT-CRC-HE-100K into training and validation set with a ratio of 9:1. The CRC-VAL-HE-7K is treated as the test set.",
        task: "multi-class",
        classes: &[
            "adipose",
            "background",
            "debris",
            "lymphocytes",
            "mucus",
            "smooth muscle",
            "normal colon mucosa",
            "cancer-associated stroma",
            "colorectal adenocarcinoma epithelium",
        ],
        channels: 3,
        samples: [89996, 10004, 7180],
        licence: "CC BY 4.0",
        md5: [
            "a8b06965200029087d5bd730944a56c1",
            "55aa9c1e0525abe5a6b9d8343a507616",
            "ac42d08fb904d92c244187169d1fd1d9",
            "2c51a510bcdc9cf8ddb2af93af1eadec",
        ],
    },
    MedMnistSet {
        flag: "dermamnist",
        title: "DermaMNIST",
        description: "The DermaMNIST is based on the HAM10000, a large collection of multi-source dermatoscopic images of common pigmented skin lesions. The dataset consists of 10,015 dermatoscopic images categorized as 7 different diseases, formulized as a multi-class classification task. We split the images into training, validation and test set with a ratio of 7:1:2. The source images of 3×600×450 are resized into 3×28×28.",
        task: "multi-class",
        classes: &[
            "actinic keratoses and intraepithelial carcinoma",
            "basal cell carcinoma",
            "benign keratosis-like lesions",
            "dermatofibroma",
            "melanoma",
            "melanocytic nevi",
            "vascular lesions",
        ],
        channels: 3,
        samples: [7007, 1003, 2005],
        licence: "CC BY-NC 4.0",
        md5: [
            "0744692d530f8e62ec473284d019b0c7",
            "b70a2f5635c6199aeaa28c31d7202e1f",
            "2defd784463fa5243564e855ed717de1",
            "8974907d8e169bef5f5b96bc506ae45d",
        ],
    },
    MedMnistSet {
        flag: "octmnist",
        title: "OCTMNIST",
        description: "The OCTMNIST is based on a prior dataset of 109,309 valid optical coherence tomography (OCT) images for retinal diseases. The dataset is comprised of 4 diagnosis categories, leading to a multi-class classification task. We split the source training set with a ratio of 9:1 into training and validation set, and use its source validation set as the test set. The source images are gray-scale, and their sizes are (384−1,536)×(277−512). We center-crop the images and resize them into 1×28×28.",
        task: "multi-class",
        classes: &["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"],
        channels: 1,
        samples: [97477, 10832, 1000],
        licence: "CC BY 4.0",
        md5: [
            "c68d92d5b585d8d81f7112f81e2d0842",
            "e229e9440236b774d9f0dfef9d07bdaf",
            "0a97e76651ace45c5d943ee3f65b63ae",
            "abc493b6d529d5de7569faaef2773ba3",
        ],
    },
    MedMnistSet {
        flag: "pneumoniamnist",
        title: "PneumoniaMNIST",
        description: "The PneumoniaMNIST is based on a prior dataset of 5,856 pediatric chest X-Ray images. The task is binary-class classification of pneumonia against normal. We split the source training set with a ratio of 9:1 into training and validation set and use its source validation set as the test set. The source images are gray-scale, and their sizes are (384−2,916)×(127−2,713). We center-crop the images and resize them into 1×28×28.",
        task: "binary-class",
        classes: &["normal", "pneumonia"],
        channels: 1,
        samples: [4708, 524, 624],
        licence: "CC BY 4.0",
        md5: [
            "28209eda62fecd6e6a2d98b1501bb15f",
            "8f4eceb4ccffa70c672198ea285246c6",
            "05b46931834c231683c68f40c47b2971",
            "d6a3c71de1b945ea11211b03746c1fe1",
        ],
    },
    MedMnistSet {
        flag: "retinamnist",
        title: "RetinaMNIST",
        description: "The RetinaMNIST is based on the DeepDRiD challenge, which provides a dataset of 1,600 retina fundus images. The task is ordinal regression for 5-level grading of diabetic retinopathy severity. We split the source training set with a ratio of 9:1 into training and validation set, and use the source validation set as the test set. The source images of 3×1,736×1,824 are center-cropped and resized into 3×28×28.",
        task: "ordinal-regression",
        classes: &["0", "1", "2", "3", "4"],
        channels: 3,
        samples: [1080, 120, 400],
        licence: "CC BY 4.0",
        md5: [
            "bd4c0672f1bba3e3a89f0e4e876791e4",
            "afda852cc34dcda56f86ad2b2457dbcc",
            "e48e916a24454daf90583d4e6efb1a18",
            "eae7e3b6f3fcbda4ae613ebdcbe35348",
        ],
    },
    MedMnistSet {
        flag: "breastmnist",
        title: "BreastMNIST",
        description: "The BreastMNIST is based on a dataset of 780 breast ultrasound images. It is categorized into 3 classes: normal, benign, and malignant. As we use low-resolution images, we simplify the task into binary classification by combining normal and benign as positive and classifying them against malignant as negative. We split the source dataset with a ratio of 7:1:2 into training, validation and test set. The source images of 1×500×500 are resized into 1×28×28.",
        task: "binary-class",
        classes: &["malignant", "normal, benign"],
        channels: 1,
        samples: [546, 78, 156],
        licence: "CC BY 4.0",
        md5: [
            "750601b1f35ba3300ea97c75c52ff8f6",
            "742edef2a1fd1524b2efff4bd7ba9364",
            "363e4b3f8d712e9b5de15470a2aaadf1",
            "b56378a6eefa9fed602bb16d192d4c8b",
        ],
    },
    MedMnistSet {
        flag: "bloodmnist",
        title: "BloodMNIST",
        description: "The BloodMNIST is based on a dataset of individual normal cells, captured from individuals without infection, hematologic or oncologic disease and free of any pharmacologic treatment at the moment of blood collection. It contains a total of 17,092 images and is organized into 8 classes. We split the source dataset with a ratio of 7:1:2 into training, validation and test set. The source images with resolution 3×360×363 pixels are center-cropped into 3×200×200, and then resized into 3×28×28.",
        task: "multi-class",
        classes: &[
            "basophil",
            "eosinophil",
            "erythroblast",
            "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)",
            "lymphocyte",
            "monocyte",
            "neutrophil",
            "platelet",
        ],
        channels: 3,
        samples: [11959, 1712, 3421],
        licence: "CC BY 4.0",
        md5: [
            "7053d0359d879ad8a5505303e11de1dc",
            "2b94928a2ae4916078ca51e05b6b800b",
            "adace1e0ed228fccda1f39692059dd4c",
            "b718ff6835fcbdb22ba9eacccd7b2601",
        ],
    },
    MedMnistSet {
        flag: "tissuemnist",
        title: "TissueMNIST",
        description: "We use the BBBC051, available from the Broad Bioimage Benchmark Collection. The dataset contains 236,386 human kidney cortex cells, segmented from 3 reference tissue specimens and organized into 8 categories. We split the source dataset with a ratio of 7:1:2 into training, validation and test set. Each gray-scale image is 32×32×7 pixels, where 7 denotes 7 slices. We take maximum values across the slices and resize them into 28×28 gray-scale images.",
        task: "multi-class",
        classes: &[
            "Collecting Duct, Connecting Tubule",
            "Distal Convoluted Tubule",
            "Glomerular endothelial cells",
            "Interstitial endothelial cells",
            "Leukocytes",
            "Podocytes",
            "Proximal Tubule Segments",
            "Thick Ascending Limb",
        ],
        channels: 1,
        samples: [165466, 23640, 47280],
        licence: "CC BY 4.0",
        md5: [
            "ebe78ee8b05294063de985d821c1c34b",
            "123ece2eba09d0aa5d698fda57103344",
            "61b955355d7425a89687b06cca3ce0c2",
            "b077128c4a949f0a4eb01517f9037b9c",
        ],
    },
    MedMnistSet {
        flag: "organamnist",
        title: "OrganAMNIST",
        description: "The OrganAMNIST is based on 3D computed tomography (CT) images from Liver Tumor Segmentation Benchmark (LiTS). It is renamed from OrganMNIST_Axial (in MedMNIST v1) for simplicity. We use bounding-box annotations of 11 body organs from another study to obtain the organ labels. Hounsfield-Unit (HU) of the 3D images are transformed into gray-scale with an abdominal window. We crop 2D images from the center slices of the 3D bounding boxes in axial views (planes). The images are resized into 1×28×28 to perform multi-class classification of 11 body organs. 115 and 16 CT scans from the source training set are used as training and validation set, respectively. The 70 CT scans from the source test set are treated as the test set.",
        task: "multi-class",
        classes: &[
            "bladder",
            "femur-left",
            "femur-right",
            "heart",
            "kidney-left",
            "kidney-right",
            "liver",
            "lung-left",
            "lung-right",
            "pancreas",
            "spleen",
        ],
        channels: 1,
        samples: [34561, 6491, 17778],
        licence: "CC BY 4.0",
        md5: [
            "68e3f8846a6bd62f0c9bf841c0d9eacc",
            "2dcccc29b88e6da5a01161ef20cda288",
            "eeae80d0a227a8d099027e1b3cfd3b60",
            "50747347e05c87dd3aaf92c49f9f3170",
        ],
    },
    MedMnistSet {
        flag: "organcmnist",
        title: "OrganCMNIST",
        description: "The OrganCMNIST is based on 3D computed tomography (CT) images from Liver Tumor Segmentation Benchmark (LiTS). It is renamed from OrganMNIST_Coronal (in MedMNIST v1) for simplicity. We use bounding-box annotations of 11 body organs from another study to obtain the organ labels. Hounsfield-Unit (HU) of the 3D images are transformed into gray-scale with an abdominal window. We crop 2D images from the center slices of the 3D bounding boxes in coronal views (planes). The images are resized into 1×28×28 to perform multi-class classification of 11 body organs. 115 and 16 CT scans from the source training set are used as training and validation set, respectively. The 70 CT scans from the source test set are treated as the test set.",
        task: "multi-class",
        classes: &[
            "bladder",
            "femur-left",
            "femur-right",
            "heart",
            "kidney-left",
            "kidney-right",
            "liver",
            "lung-left",
            "lung-right",
            "pancreas",
            "spleen",
        ],
        channels: 1,
        samples: [12975, 2392, 8216],
        licence: "CC BY 4.0",
        md5: [
            "b9ceb9546e10131b32923c5bbeaea2b1",
            "3ce34a8724ea6f548e6db4744d03b6a9",
            "773c1f009daa3fe5d9a2a201b2a7ed94",
            "050f5e875dc056f6768abf94ec9995d1",
        ],
    },
    MedMnistSet {
        flag: "organsmnist",
        title: "OrganSMNIST",
        description: "The OrganSMNIST is based on 3D computed tomography (CT) images from Liver Tumor Segmentation Benchmark (LiTS). It is renamed from OrganMNIST_Sagittal (in MedMNIST v1) for simplicity. We use bounding-box annotations of 11 body organs from another study to obtain the organ labels. Hounsfield-Unit (HU) of the 3D images are transformed into gray-scale with an abdominal window. We crop 2D images from the center slices of the 3D bounding boxes in sagittal views (planes). The images are resized into 1×28×28 to perform multi-class classification of 11 body organs. 115 and 16 CT scans from the source training set are used as training and validation set, respectively. The 70 CT scans from the source test set are treated as the test set.",
        task: "multi-class",
        classes: &[
            "bladder",
            "femur-left",
            "femur-right",
            "heart",
            "kidney-left",
            "kidney-right",
            "liver",
            "lung-left",
            "lung-right",
            "pancreas",
            "spleen",
        ],
        channels: 1,
        samples: [13932, 2452, 8827],
        licence: "CC BY 4.0",
        md5: [
            "9ab87b696fb54e2a387ebe992d6ed5f1",
            "53a6d115339d874c25e309a994ff46d3",
            "ded0c5fa01a95dc4978b956f613e9b8e",
            "b354719e553fbbb2513d5533f52a4cb1",
        ],
    },
];

/// Every set, in the order of the medmnist package.
pub fn sets() -> &'static [MedMnistSet] {
    SETS
}

/// The set with this flag (`dermamnist`, case-insensitive).
pub fn find(flag: &str) -> Option<&'static MedMnistSet> {
    SETS.iter().find(|set| set.flag.eq_ignore_ascii_case(flag))
}

/// Splits a dataset name as [`info`] makes it (`dermamnist`, `dermamnist_64`) into set and size.
pub fn parse_name(name: &str) -> Option<(&'static MedMnistSet, usize)> {
    if let Some(set) = find(name) {
        return Some((set, 28));
    }
    let (flag, size) = name.rsplit_once('_')?;
    let size: usize = size.parse().ok()?;
    (size != 28 && SIZES.contains(&size)).then_some(())?;
    Some((find(flag)?, size))
}

fn size_index(size: usize) -> Result<usize> {
    SIZES.iter().position(|&s| s == size).ok_or_else(|| {
        DataError::new(format!("MedMNIST has no {size} x {size} images: the sizes are 28, 64, 128 and 224"))
    })
}

/// The file name MedMNIST uses: `{flag}.npz` for 28 x 28, `{flag}_{size}.npz` otherwise.
pub fn file_name(flag: &str, size: usize) -> Result<String> {
    size_index(size)?;
    Ok(if size == 28 { format!("{flag}.npz") } else { format!("{flag}_{size}.npz") })
}

/// What the set is at this size (named `flag` for 28 x 28, `flag_size` otherwise).
pub fn info(set: &MedMnistSet, size: usize) -> DatasetInfo {
    DatasetInfo {
        name: if size == 28 { set.flag.to_string() } else { format!("{}_{size}", set.flag) },
        source: SOURCE.to_string(),
        licence: set.licence.to_string(),
        description: set.description.to_string(),
        classes: set.classes.iter().map(|c| c.to_string()).collect(),
        channels: set.channels,
        size,
        splits: set.samples,
        synthetic: false,
    }
}

/// Reads a MedMNIST `.npz` file of `set` at `size`. The images are decoded straight into the
/// dataset's buffers (RGB converted to channels first on the way); the info's split sizes are the
/// file's.
pub fn read_npz(path: &Path, set: &MedMnistSet, size: usize) -> Result<Dataset> {
    size_index(size).map_err(|e| DataError::in_file(path, e.message))?;
    let file = File::open(path).map_err(|e| DataError::in_file(path, format!("cannot open: {e}")))?;
    let mut archive = NpzArchive::new(BufReader::new(file))
        .map_err(|e| DataError::in_file(path, format!("not a readable .npz (zip) file, or truncated: {e}")))?;
    let mut read_split = |name: SplitName| -> Result<Split> {
        let images = read_images(&mut archive, path, &format!("{}_images", name.name()), set, size)?;
        let labels = read_labels(&mut archive, path, &format!("{}_labels", name.name()), set.classes.len())?;
        Ok(Split { images, labels })
    };
    let train = read_split(SplitName::Train)?;
    let val = read_split(SplitName::Val)?;
    let test = read_split(SplitName::Test)?;
    let mut info = info(set, size);
    info.splits = [train.len(), val.len(), test.len()];
    Dataset::new(info, train, val, test, Some(path))
}

/// The train, val and test sizes a file holds, read from its label arrays' headers (no pixels are
/// read), for `pepr data info` on a file that may not be the published one.
pub fn file_split_sizes(path: &Path) -> Result<[usize; 3]> {
    let file = File::open(path).map_err(|e| DataError::in_file(path, format!("cannot open: {e}")))?;
    let mut archive = NpzArchive::new(BufReader::new(file))
        .map_err(|e| DataError::in_file(path, format!("not a readable .npz (zip) file, or truncated: {e}")))?;
    let mut sizes = [0; 3];
    for (size, split) in sizes.iter_mut().zip([SplitName::Train, SplitName::Val, SplitName::Test]) {
        let key = format!("{}_labels", split.name());
        let npy = open_array(&mut archive, path, &key)?;
        *size = npy.shape().first().copied().unwrap_or(0) as usize;
    }
    Ok(sizes)
}

/// Opens one array of the archive; a missing one is an error that lists what the file has.
fn open_array<'a>(
    archive: &'a mut NpzArchive<BufReader<File>>,
    path: &Path,
    key: &str,
) -> Result<NpyFile<npyz::zip::read::ZipFile<'a>>> {
    let present = archive.array_names().any(|name| name == key);
    if !present {
        let mut names: Vec<&str> = archive.array_names().collect();
        names.sort_unstable();
        return Err(DataError::in_file(
            path,
            format!(
                "no array `{key}` (the file has: {})",
                if names.is_empty() { "none".into() } else { names.join(", ") }
            ),
        ));
    }
    match archive.by_name(key) {
        Ok(Some(npy)) => Ok(npy),
        Ok(None) => Err(DataError::in_file(path, format!("no array `{key}`"))),
        Err(e) => Err(DataError::in_file(path, format!("`{key}`: cannot read the array header: {e}"))),
    }
}

fn read_error(path: &Path, key: &str, e: io::Error) -> DataError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        DataError::in_file(path, format!("`{key}`: the array data is truncated"))
    } else {
        DataError::in_file(path, format!("`{key}`: cannot read the array data: {e}"))
    }
}

fn shape_text(shape: &[u64]) -> String {
    shape.iter().map(u64::to_string).collect::<Vec<_>>().join(" x ")
}

fn read_images(
    archive: &mut NpzArchive<BufReader<File>>,
    path: &Path,
    key: &str,
    set: &MedMnistSet,
    size: usize,
) -> Result<Images> {
    let npy = open_array(archive, path, key)?;
    let dtype = npy.dtype();
    if !matches!(&dtype, DType::Plain(t) if t.type_char() == TypeChar::Uint && t.size_field() == 1) {
        return Err(DataError::in_file(path, format!("`{key}`: expected uint8 pixels, found dtype {}", dtype.descr())));
    }
    let shape = npy.shape().to_vec();
    let c = set.channels;
    let s = size as u64;
    let fits = match shape.as_slice() {
        [_, h, w] => c == 1 && *h == s && *w == s,
        [_, h, w, ch] => *h == s && *w == s && *ch == c as u64,
        _ => false,
    };
    if !fits {
        let expected = if c == 1 { format!("N x {size} x {size}") } else { format!("N x {size} x {size} x {c}") };
        return Err(DataError::in_file(
            path,
            format!("`{key}`: expected {} {expected} images, found shape {}", set.title, shape_text(&shape)),
        ));
    }
    if npy.order() == Order::Fortran && npy.len() > 1 {
        return Err(DataError::in_file(path, format!("`{key}`: Fortran-ordered arrays are not supported")));
    }
    let image_len = size * size * c;
    let n = usize::try_from(shape[0]).ok();
    let total = n.and_then(|n| n.checked_mul(image_len));
    let mut reader = npy.into_inner();
    let (n, total) = match (n, total) {
        (Some(n), Some(total)) if total as u64 <= reader.size() => (n, total),
        _ => {
            return Err(DataError::in_file(
                path,
                format!("`{key}`: the array data is truncated (its header says {} images)", shape[0]),
            ));
        }
    };
    let mut data = vec![0u8; total];
    if c == 1 {
        reader.read_exact(&mut data).map_err(|e| read_error(path, key, e))?;
    } else {
        // Channels last in the file, channels first in memory: one image at a time.
        let plane = size * size;
        let mut pixels = vec![0u8; image_len];
        for image in data.chunks_exact_mut(image_len) {
            reader.read_exact(&mut pixels).map_err(|e| read_error(path, key, e))?;
            for (p, rgb) in pixels.chunks_exact(c).enumerate() {
                for (ch, &value) in rgb.iter().enumerate() {
                    image[ch * plane + p] = value;
                }
            }
        }
    }
    check_end(&mut reader, path, key)?;
    Ok(Images { data, n, c, h: size, w: size })
}

/// Reads past the end of an array so the zip reader checks its CRC, and rejects extra data.
fn check_end(reader: &mut impl Read, path: &Path, key: &str) -> Result<()> {
    let mut extra = [0u8; 1];
    match reader.read(&mut extra) {
        Ok(0) => Ok(()),
        Ok(_) => Err(DataError::in_file(path, format!("`{key}`: more data than its shape says"))),
        Err(e) => Err(read_error(path, key, e)),
    }
}

fn read_labels(archive: &mut NpzArchive<BufReader<File>>, path: &Path, key: &str, classes: usize) -> Result<Vec<u32>> {
    let npy = open_array(archive, path, key)?;
    let shape = npy.shape().to_vec();
    if !matches!(shape.as_slice(), [_] | [_, 1]) {
        return Err(DataError::in_file(
            path,
            format!("`{key}`: expected N x 1 labels, found shape {}", shape_text(&shape)),
        ));
    }
    let dtype = npy.dtype();
    let integer = match &dtype {
        DType::Plain(t)
            if matches!(t.type_char(), TypeChar::Int | TypeChar::Uint) && matches!(t.size_field(), 1 | 2 | 4 | 8) =>
        {
            Some((t.type_char() == TypeChar::Int, t.size_field() as usize, t.endianness() == Endianness::Big))
        }
        _ => None,
    };
    let Some((signed, width, big_endian)) = integer else {
        return Err(DataError::in_file(
            path,
            format!("`{key}`: expected integer labels, found dtype {}", dtype.descr()),
        ));
    };
    let total = usize::try_from(shape[0]).ok().and_then(|n| n.checked_mul(width));
    let mut reader = npy.into_inner();
    let total = match total {
        Some(total) if total as u64 <= reader.size() => total,
        _ => {
            return Err(DataError::in_file(
                path,
                format!("`{key}`: the array data is truncated (its header says {} labels)", shape[0]),
            ));
        }
    };
    let mut bytes = vec![0u8; total];
    reader.read_exact(&mut bytes).map_err(|e| read_error(path, key, e))?;
    check_end(&mut reader, path, key)?;
    let mut labels = Vec::with_capacity(total / width);
    for (i, raw) in bytes.chunks_exact(width).enumerate() {
        let mut be = [0u8; 8];
        // Widen to 8 big-endian bytes, sign-extending signed values.
        let fill = if signed && (if big_endian { raw[0] } else { raw[width - 1] }) & 0x80 != 0 { 0xff } else { 0 };
        be[..8 - width].fill(fill);
        for (j, &b) in raw.iter().enumerate() {
            be[8 - width + if big_endian { j } else { width - 1 - j }] = b;
        }
        let value = if signed { i64::from_be_bytes(be) as i128 } else { u64::from_be_bytes(be) as i128 };
        if value < 0 || value >= classes as i128 {
            return Err(DataError::in_file(
                path,
                format!("`{key}`: label {value} of sample {i} is outside the {classes} classes"),
            ));
        }
        labels.push(value as u32);
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use npyz::WriterBuilder;
    use npyz::npz::NpzWriter;
    use npyz::zip::CompressionMethod;
    use npyz::zip::write::FileOptions;

    /// One array of a test `.npz`; `data` may hold fewer items than `shape` says (a truncated array).
    enum Data {
        U8(Vec<u8>),
        I64(Vec<i64>),
        U16Be(Vec<u16>),
        F32(Vec<f32>),
    }

    struct Array {
        name: String,
        shape: Vec<u64>,
        data: Data,
    }

    fn write_npz(path: &Path, arrays: &[Array]) {
        fn plain(s: &str) -> DType {
            DType::Plain(s.parse().unwrap())
        }
        let mut npz = NpzWriter::new(File::create(path).unwrap());
        let options = FileOptions::default().compression_method(CompressionMethod::Deflated);
        // Writes the items given; fewer than the shape says leaves a truncated array.
        macro_rules! put {
            ($t:ty, $dtype:expr, $a:expr, $d:expr) => {{
                let builder = npz.array::<$t>(&$a.name, options).unwrap();
                let mut writer = builder.dtype(plain($dtype)).shape(&$a.shape).begin_nd().unwrap();
                for item in $d {
                    writer.push(item).unwrap();
                }
                if $d.len() as u64 == $a.shape.iter().product::<u64>() {
                    writer.finish().unwrap();
                }
            }};
        }
        for a in arrays {
            match &a.data {
                Data::U8(d) => put!(u8, "|u1", a, d),
                Data::I64(d) => put!(i64, "<i8", a, d),
                Data::U16Be(d) => put!(u16, ">u2", a, d),
                Data::F32(d) => put!(f32, "<f4", a, d),
            }
        }
        npz.zip_writer().finish().unwrap();
    }

    /// Pixel value of image `i` at row y, column x, channel ch.
    fn pixel(i: usize, y: usize, x: usize, ch: usize) -> u8 {
        (i * 31 + y * 7 + x * 3 + ch * 101) as u8
    }

    /// A good file's arrays: split sizes 5, 3 and 2, labels cycling through the classes.
    fn good(set: &MedMnistSet, size: usize) -> Vec<Array> {
        let c = set.channels;
        let mut arrays = Vec::new();
        for (split, n) in [("train", 5usize), ("val", 3), ("test", 2)] {
            let mut pixels = Vec::with_capacity(n * size * size * c);
            for i in 0..n {
                for y in 0..size {
                    for x in 0..size {
                        for ch in 0..c {
                            pixels.push(pixel(i, y, x, ch));
                        }
                    }
                }
            }
            let mut shape = vec![n as u64, size as u64, size as u64];
            if c == 3 {
                shape.push(3);
            }
            arrays.push(Array { name: format!("{split}_images"), shape, data: Data::U8(pixels) });
            let labels = (0..n).map(|i| (i % set.classes.len()) as u8).collect();
            arrays.push(Array { name: format!("{split}_labels"), shape: vec![n as u64, 1], data: Data::U8(labels) });
        }
        arrays
    }

    fn array<'a>(arrays: &'a mut [Array], name: &str) -> &'a mut Array {
        arrays.iter_mut().find(|a| a.name == name).unwrap()
    }

    /// Writes `arrays` and reads them back as `set` at `size`.
    fn read(arrays: &[Array], set: &MedMnistSet, size: usize) -> (tempfile::TempDir, PathBuf, Result<Dataset>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.npz");
        write_npz(&path, arrays);
        let result = read_npz(&path, set, size);
        (dir, path, result)
    }

    /// Reads `arrays` and expects an error naming the file whose message contains `needle`.
    fn expect_error(arrays: &[Array], set: &MedMnistSet, size: usize, needle: &str) {
        let (_dir, path, result) = read(arrays, set, size);
        let err = result.expect_err(needle);
        assert_eq!(err.file.as_deref(), Some(path.as_path()));
        assert!(err.message.contains(needle), "`{}` does not contain `{needle}`", err.message);
    }

    fn set(flag: &str) -> &'static MedMnistSet {
        find(flag).unwrap()
    }

    #[test]
    fn table_has_every_2d_single_label_set() {
        let flags: Vec<&str> = sets().iter().map(|s| s.flag).collect();
        assert_eq!(
            flags,
            [
                "pathmnist",
                "dermamnist",
                "octmnist",
                "pneumoniamnist",
                "retinamnist",
                "breastmnist",
                "bloodmnist",
                "tissuemnist",
                "organamnist",
                "organcmnist",
                "organsmnist"
            ]
        );
        for s in sets() {
            assert!(s.md5.iter().all(|m| m.len() == 32 && m.bytes().all(|b| b.is_ascii_hexdigit())), "{}", s.flag);
            assert!(s.classes.len() >= 2 && s.channels == 1 || s.channels == 3);
            assert!(s.samples.iter().all(|&n| n > 0));
            let nc = if s.flag == "dermamnist" { "CC BY-NC 4.0" } else { "CC BY 4.0" };
            assert_eq!(s.licence, nc);
        }
        let derma = set("DermaMNIST");
        assert_eq!((derma.title, derma.channels, derma.samples), ("DermaMNIST", 3, [7007, 1003, 2005]));
        assert_eq!(derma.classes.len(), 7);
        assert_eq!(derma.md5_for(28).unwrap(), "0744692d530f8e62ec473284d019b0c7");
        assert_eq!(set("pathmnist").classes[8], "colorectal adenocarcinoma epithelium");
        assert!(find("chestmnist").is_none());
        assert!(derma.md5_for(32).is_err());
    }

    #[test]
    fn split_sizes_come_from_the_file_itself() {
        let derma = set("dermamnist");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dermamnist.npz");
        write_npz(&path, &good(derma, 28));
        assert_eq!(file_split_sizes(&path).unwrap(), [5, 3, 2]);
        let mut arrays = good(derma, 28);
        arrays.retain(|a| a.name != "val_labels");
        write_npz(&path, &arrays);
        let err = file_split_sizes(&path).unwrap_err();
        assert!(err.message.contains("no array `val_labels`"), "{}", err.message);
    }

    #[test]
    fn names_and_info() {
        assert_eq!(file_name("dermamnist", 28).unwrap(), "dermamnist.npz");
        assert_eq!(file_name("dermamnist", 224).unwrap(), "dermamnist_224.npz");
        assert!(file_name("dermamnist", 32).unwrap_err().message.contains("28, 64, 128 and 224"));
        let derma = set("dermamnist");
        assert_eq!(info(derma, 28).name, "dermamnist");
        let i64 = info(derma, 64);
        assert_eq!((i64.name.as_str(), i64.size, i64.channels, i64.synthetic), ("dermamnist_64", 64, 3, false));
        assert_eq!(i64.source, "MedMNIST v3 (Zenodo record 10519652)");
        assert_eq!(i64.licence, "CC BY-NC 4.0");
        assert_eq!(parse_name("dermamnist_64"), Some((derma, 64)));
        assert_eq!(parse_name("dermamnist"), Some((derma, 28)));
        assert_eq!(parse_name("dermamnist_28"), None);
        assert_eq!(parse_name("dermamnist_63"), None);
        assert_eq!(parse_name("nope_64"), None);
    }

    #[test]
    fn reads_a_gray_28_set() {
        let pneumonia = set("pneumoniamnist");
        let (_dir, _path, result) = read(&good(pneumonia, 28), pneumonia, 28);
        let d = result.unwrap();
        assert_eq!(d.info.name, "pneumoniamnist");
        assert_eq!(d.info.splits, [5, 3, 2]);
        assert_eq!((d.train.images.n, d.train.images.c, d.train.images.h, d.train.images.w), (5, 1, 28, 28));
        assert_eq!(d.train.labels, vec![0, 1, 0, 1, 0]);
        assert_eq!(d.test.labels, vec![0, 1]);
        let image = d.val.images.image(2);
        assert_eq!(image[0], pixel(2, 0, 0, 0));
        assert_eq!(image[5 * 28 + 7], pixel(2, 5, 7, 0));
    }

    #[test]
    fn reads_an_rgb_set_channels_first() {
        let derma = set("dermamnist");
        let (_dir, _path, result) = read(&good(derma, 64), derma, 64);
        let d = result.unwrap();
        assert_eq!(d.info.name, "dermamnist_64");
        assert_eq!((d.train.images.c, d.train.images.h), (3, 64));
        assert_eq!(d.train.labels, vec![0, 1, 2, 3, 4]);
        let image = d.train.images.image(3);
        for (y, x, ch) in [(0, 0, 0), (10, 20, 1), (63, 63, 2), (5, 60, 2)] {
            assert_eq!(image[ch * 64 * 64 + y * 64 + x], pixel(3, y, x, ch), "({y}, {x}, {ch})");
        }
    }

    #[test]
    fn reads_other_integer_label_types() {
        let breast = set("breastmnist");
        let mut arrays = good(breast, 28);
        *array(&mut arrays, "train_labels") =
            Array { name: "train_labels".into(), shape: vec![5], data: Data::I64(vec![1, 0, 1, 1, 0]) };
        *array(&mut arrays, "val_labels") =
            Array { name: "val_labels".into(), shape: vec![3, 1], data: Data::U16Be(vec![1, 1, 0]) };
        let (_dir, _path, result) = read(&arrays, breast, 28);
        let d = result.unwrap();
        assert_eq!(d.train.labels, vec![1, 0, 1, 1, 0]);
        assert_eq!(d.val.labels, vec![1, 1, 0]);
    }

    #[test]
    fn rejects_files_that_are_not_npz() {
        let dir = tempfile::tempdir().unwrap();
        let pneumonia = set("pneumoniamnist");
        let text = dir.path().join("text.npz");
        std::fs::write(&text, "not a zip at all").unwrap();
        let err = read_npz(&text, pneumonia, 28).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(text.as_path()));
        assert!(err.message.contains("not a readable .npz"), "{}", err.message);

        let truncated = dir.path().join("truncated.npz");
        write_npz(&truncated, &good(pneumonia, 28));
        let bytes = std::fs::read(&truncated).unwrap();
        std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let err = read_npz(&truncated, pneumonia, 28).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(truncated.as_path()));
        assert!(err.message.contains("truncated"), "{}", err.message);

        let missing = dir.path().join("missing.npz");
        let err = read_npz(&missing, pneumonia, 28).unwrap_err();
        assert!(err.to_string().starts_with(&missing.display().to_string()));
        assert!(err.message.contains("cannot open"));

        let err = read_npz(&text, pneumonia, 30).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(text.as_path()));
    }

    #[test]
    fn rejects_a_missing_array() {
        let pneumonia = set("pneumoniamnist");
        let mut arrays = good(pneumonia, 28);
        arrays.retain(|a| a.name != "val_labels");
        expect_error(&arrays, pneumonia, 28, "no array `val_labels` (the file has: test_images,");
    }

    #[test]
    fn rejects_wrong_dtypes() {
        let pneumonia = set("pneumoniamnist");
        let mut arrays = good(pneumonia, 28);
        let a = array(&mut arrays, "test_images");
        a.data = Data::F32(vec![0.5; 2 * 28 * 28]);
        expect_error(&arrays, pneumonia, 28, "`test_images`: expected uint8 pixels, found dtype '<f4'");
        let mut arrays = good(pneumonia, 28);
        array(&mut arrays, "train_labels").data = Data::F32(vec![0.0; 5]);
        expect_error(&arrays, pneumonia, 28, "`train_labels`: expected integer labels, found dtype '<f4'");
    }

    #[test]
    fn rejects_wrong_shapes() {
        let pneumonia = set("pneumoniamnist");
        // 64-pixel images where 28 were expected.
        expect_error(
            &good(pneumonia, 64),
            pneumonia,
            28,
            "expected PneumoniaMNIST N x 28 x 28 images, found shape 5 x 64 x 64",
        );
        // RGB images for a gray set, gray images for an RGB set.
        let derma = set("dermamnist");
        expect_error(&good(derma, 28), pneumonia, 28, "found shape 5 x 28 x 28 x 3");
        expect_error(
            &good(pneumonia, 28),
            derma,
            28,
            "expected DermaMNIST N x 28 x 28 x 3 images, found shape 5 x 28 x 28",
        );
        let mut arrays = good(pneumonia, 28);
        array(&mut arrays, "val_labels").shape = vec![1, 3];
        expect_error(&arrays, pneumonia, 28, "`val_labels`: expected N x 1 labels, found shape 1 x 3");
    }

    #[test]
    fn rejects_truncated_array_data() {
        let pneumonia = set("pneumoniamnist");
        let mut arrays = good(pneumonia, 28);
        let a = array(&mut arrays, "train_images");
        if let Data::U8(d) = &mut a.data {
            d.truncate(4 * 28 * 28 + 100);
        }
        expect_error(&arrays, pneumonia, 28, "`train_images`: the array data is truncated");
    }

    #[test]
    fn rejects_images_and_labels_of_different_lengths() {
        let pneumonia = set("pneumoniamnist");
        let mut arrays = good(pneumonia, 28);
        let a = array(&mut arrays, "test_labels");
        a.shape = vec![3, 1];
        a.data = Data::U8(vec![0, 1, 1]);
        expect_error(&arrays, pneumonia, 28, "test split: 2 images but 3 labels");
    }

    #[test]
    fn rejects_labels_outside_the_classes() {
        let pneumonia = set("pneumoniamnist");
        let mut arrays = good(pneumonia, 28);
        array(&mut arrays, "train_labels").data = Data::U8(vec![0, 1, 2, 0, 1]);
        expect_error(&arrays, pneumonia, 28, "`train_labels`: label 2 of sample 2 is outside the 2 classes");
        let mut arrays = good(pneumonia, 28);
        let a = array(&mut arrays, "val_labels");
        a.data = Data::I64(vec![0, -1, 1]);
        expect_error(&arrays, pneumonia, 28, "`val_labels`: label -1 of sample 1 is outside the 2 classes");
    }

    #[test]
    fn rejects_an_empty_split() {
        let pneumonia = set("pneumoniamnist");
        let mut arrays = good(pneumonia, 28);
        let images = array(&mut arrays, "val_images");
        images.shape = vec![0, 28, 28];
        images.data = Data::U8(vec![]);
        let labels = array(&mut arrays, "val_labels");
        labels.shape = vec![0, 1];
        labels.data = Data::U8(vec![]);
        expect_error(&arrays, pneumonia, 28, "val split is empty");
    }
}
