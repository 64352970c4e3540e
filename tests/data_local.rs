//! MedMNIST files that are already on the machine: in `~/.medmnist` (where the medmnist Python
//! package keeps its downloads) or in the folder `--data-dir` names. `pepr data info` reports such a
//! file's own split sizes and whether it is the published file, and training reads it.

use std::fs::File;
use std::path::Path;
use std::process::Output;

use crate::common;
use npyz::WriterBuilder;
use npyz::npz::NpzWriter;
use npyz::zip::write::FileOptions;

/// Runs pepr with HOME (and so ~/.medmnist) inside `home`.
fn pepr(home: &Path, args: &[&str]) -> Output {
    common::command(&home.join("pepr")).env("HOME", home).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A small PneumoniaMNIST-shaped file (grayscale 28x28, two classes): train 6, val 4, test 4.
fn write_pneumonia(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut npz = NpzWriter::new(File::create(path).unwrap());
    for (split, n) in [("train", 6u64), ("val", 4), ("test", 4)] {
        let pixels: Vec<u8> = (0..n * 28 * 28).map(|i| ((i * 37) % 251) as u8).collect();
        let mut writer = npz
            .array::<u8>(&format!("{split}_images"), FileOptions::default())
            .unwrap()
            .default_dtype()
            .shape(&[n, 28, 28])
            .begin_nd()
            .unwrap();
        writer.extend(pixels).unwrap();
        writer.finish().unwrap();
        let mut writer = npz
            .array::<u8>(&format!("{split}_labels"), FileOptions::default())
            .unwrap()
            .default_dtype()
            .shape(&[n, 1])
            .begin_nd()
            .unwrap();
        writer.extend((0..n).map(|i| (i % 2) as u8)).unwrap();
        writer.finish().unwrap();
    }
    npz.zip_writer().finish().unwrap();
}

#[test]
fn a_file_in_dot_medmnist_is_listed_described_and_trained_on() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".medmnist/pneumoniamnist.npz");
    write_pneumonia(&file);

    let list = pepr(home.path(), &["data", "list", "--format", "csv"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let listing = text(&list.stdout);
    assert!(listing.contains(&format!("\npneumoniamnist,local,{},28,1,2,", file.display())), "{listing}");
    assert!(listing.contains("\npneumoniamnist_64,downloadable,"), "{listing}");

    let info = pepr(home.path(), &["data", "info", "pneumoniamnist"]);
    let described = text(&info.stdout);
    assert!(info.status.success(), "{}", text(&info.stderr));
    assert!(described.contains(&format!("where:    local, {}", file.display())), "{described}");
    assert!(
        described.contains(
            "splits:   train 6, val 4, test 4 (14 images) in this file; published: train 4708, val 524, test 624"
        ),
        "{described}"
    );
    assert!(described.contains("DIFFERS from the published 28209eda62fecd6e6a2d98b1501bb15f"), "{described}");

    let train = pepr(home.path(), &["train", "--arch", "pepr_lenet5", "--dataset", "pneumoniamnist", "--epochs", "1"]);
    assert!(train.status.success(), "{}", text(&train.stderr));
}

#[test]
fn a_data_dir_holding_the_npz_files_directly_is_searched() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("my-medmnist");
    write_pneumonia(&dir.join("pneumoniamnist.npz"));
    let dir_arg = dir.to_str().unwrap();
    let without = text(&pepr(home.path(), &["data", "list", "--format", "csv"]).stdout);
    assert!(without.contains("\npneumoniamnist,downloadable,"), "{without}");
    let with = pepr(home.path(), &["data", "list", "--format", "csv", "--data-dir", dir_arg]);
    assert!(text(&with.stdout).contains("\npneumoniamnist,local,"), "{}", text(&with.stdout));
    let table = text(&pepr(home.path(), &["data", "list", "--data-dir", dir_arg]).stdout);
    assert!(table.contains("MedMNIST files are looked for in:") && table.contains(".medmnist"), "{table}");
    let info = text(&pepr(home.path(), &["data", "info", "pneumoniamnist", "--data-dir", dir_arg]).stdout);
    assert!(info.contains("in this file"), "{info}");
}
