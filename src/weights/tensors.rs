//! A state dict read into memory: tensor name -> shape and float32 values, from a `.safetensors`
//! file (read and checked by the `safetensors` crate) or a PyTorch
//! `.pth` / `.pt` / `.bin` file (zip or legacy format, through burn's pytorch-reader).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use burn::store::pytorch_reader::{DType, PytorchReader};

/// One tensor: its shape (outermost first) and values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }
}

/// Tensors by name. Integer tensors (batch norm's `num_batches_tracked`) are dropped on reading:
/// nothing in a catalog model uses them.
pub type StateDict = BTreeMap<String, Tensor>;

/// Reads a checkpoint by its extension: `.safetensors`, else PyTorch's formats.
pub fn read_file(path: &Path) -> Result<StateDict> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let state = match ext.as_str() {
        "safetensors" => read_safetensors(path)?,
        "pth" | "pt" | "bin" | "ckpt" => read_pytorch(path)?,
        _ => bail!("{}: unknown weights format (expected .safetensors, .pth, .pt or .bin)", path.display()),
    };
    check_finite(&state).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(state)
}

/// Weights with NaN or infinite values would only fail at the first training step: refuse them now,
/// naming the first such tensor.
fn check_finite(state: &StateDict) -> Result<()> {
    for (name, tensor) in state {
        let bad = tensor.data.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            bail!(
                "tensor {name}: {bad} of {} values are NaN or infinite; these weights cannot be used",
                tensor.data.len()
            );
        }
    }
    Ok(())
}

fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exp = ((bits >> 10) & 0x1f) as u32;
    let mant = (bits & 0x3ff) as u32;
    let value = match (exp, mant) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise the mantissa.
            let mut e = 127 - 15 + 1;
            let mut m = mant;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (mant << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (mant << 13),
    };
    f32::from_bits(value)
}

/// Converts little-endian bytes of a float type to f32; `None` for non-float types.
fn floats(dtype: &str, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        "F32" => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        "F64" => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        "F16" => bytes.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
        "BF16" => {
            bytes.chunks_exact(2).map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)).collect()
        }
        _ => return None,
    })
}

pub fn read_safetensors(path: &Path) -> Result<StateDict> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_safetensors(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The `safetensors` crate checks the header (its length, its JSON, a size limit) and that every
/// tensor's offsets fit its dtype and shape and tile the data exactly: no gap, no overlap.
fn parse_safetensors(bytes: &[u8]) -> Result<StateDict> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| anyhow!("not a safetensors file, or a damaged one ({e})"))?;
    let mut state = StateDict::new();
    for (name, view) in file.iter() {
        // Dtype's names are the format's own ("F32", "BF16", ...); integer tensors are dropped.
        if let Some(values) = floats(&format!("{:?}", view.dtype()), view.data()) {
            state.insert(name.to_string(), Tensor::new(view.shape().to_vec(), values));
        }
    }
    Ok(state)
}

/// Writes float32 tensors as a safetensors file, replacing `path` whole (see [`crate::files`]).
pub fn write_safetensors(path: &Path, state: &StateDict) -> Result<()> {
    let bytes: Vec<(&String, Vec<u8>, &Vec<usize>)> =
        state.iter().map(|(name, t)| (name, t.data.iter().flat_map(|v| v.to_le_bytes()).collect(), &t.shape)).collect();
    let views = bytes
        .iter()
        .map(|(name, data, shape)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.to_vec(), data).map(|v| (*name, v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let file = safetensors::serialize(views, None).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    crate::files::write(path, &file)?;
    Ok(())
}

/// Top-level keys training scripts nest a model's weights under (timm's train.py writes `state_dict`
/// beside `optimizer`, `epoch`, ...); the first one present is read instead of the whole file.
const NESTED_KEYS: [&str; 3] = ["state_dict", "model", "model_state_dict"];

pub fn read_pytorch(path: &Path) -> Result<StateDict> {
    let reader = PytorchReader::new(path)
        .map_err(|e| anyhow!("{}: cannot read as a PyTorch checkpoint: {e}", path.display()))?;
    let nested = NESTED_KEYS.iter().find(|key| reader.keys().iter().any(|k| k.starts_with(&format!("{key}."))));
    let reader = match nested {
        Some(key) => PytorchReader::with_top_level_key(path, key)
            .map_err(|e| anyhow!("{}: cannot read its {key:?}: {e}", path.display()))?,
        None => reader,
    };
    if reader.is_empty() {
        bail!("{}: no tensors found", path.display());
    }
    let mut state = StateDict::new();
    for (name, tensor) in reader.into_tensors() {
        let dtype = match tensor.dtype() {
            DType::F32 => "F32",
            DType::F64 => "F64",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            _ => continue,
        };
        let shape = tensor.shape().to_vec();
        let bytes = tensor.read().map_err(|e| anyhow!("{}: tensor {name}: {e}", path.display()))?;
        // pytorch-reader hands out native-endian bytes; pepr runs on little-endian targets.
        let values = floats(dtype, &bytes).expect("a float type");
        state.insert(name, Tensor::new(shape, values));
    }
    Ok(strip_data_parallel(state))
}

/// `torch.nn.DataParallel` saves every key under `module.`; timm strips it too.
fn strip_data_parallel(state: StateDict) -> StateDict {
    if !state.is_empty() && state.keys().all(|k| k.starts_with("module.")) {
        state.into_iter().map(|(k, v)| (k["module.".len()..].to_string(), v)).collect()
    } else {
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8); // smallest subnormal
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn safetensors_round_trip_and_bad_files_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let mut state = StateDict::new();
        state.insert("a.weight".into(), Tensor::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]));
        state.insert("b".into(), Tensor::new(vec![1], vec![-0.25]));
        write_safetensors(&path, &state).unwrap();
        assert_eq!(read_file(&path).unwrap(), state);

        std::fs::write(&path, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}").unwrap();
        let err = read_file(&path).unwrap_err().to_string();
        assert!(err.contains("w.safetensors") && err.contains("not a safetensors file"), "{err}");
        let bad = dir.path().join("w.pth");
        std::fs::write(&bad, b"garbage").unwrap();
        let err = read_file(&bad).unwrap_err().to_string();
        assert!(err.contains("w.pth"), "{err}");
        assert!(read_file(&dir.path().join("w.txt")).unwrap_err().to_string().contains("unknown weights format"));
    }

    #[test]
    fn overlapping_tensors_and_nan_weights_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.safetensors");
        let header = br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0u8; 12]);
        std::fs::write(&path, &bytes).unwrap();
        let err = read_file(&path).unwrap_err().to_string();
        assert!(err.contains("o.safetensors") && err.contains("invalid offset for tensor `b`"), "{err}");

        let mut state = StateDict::new();
        state.insert("w".into(), Tensor::new(vec![3], vec![f32::NAN; 3]));
        write_safetensors(&path, &state).unwrap();
        let err = read_file(&path).unwrap_err().to_string();
        assert!(err.contains("o.safetensors: tensor w: 3 of 3 values are NaN or infinite"), "{err}");
    }

    /// fixtures/timm/weights/nested.pth: a training checkpoint (`epoch`, `optimizer`, and the weights under
    /// `state_dict` with DataParallel's `module.` prefix), as make_weights.py writes it.
    #[test]
    fn training_checkpoints_give_their_model_weights() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/timm/weights/nested.pth");
        let state = read_file(&path).unwrap();
        let keys: Vec<&str> = state.keys().map(String::as_str).collect();
        assert_eq!(keys, ["bn.weight", "stem.weight"], "integer tensors dropped, optimizer state left out");
        assert_eq!(state["stem.weight"].shape, [4, 3, 3, 3]);
    }
}
