//! Vectorised f32 sigmoid (pepr patch).
//!
//! burn-flex computed the sigmoid one element at a time with libm's `expf` (a function call per
//! element, no SIMD); silu (`x * sigmoid(x)`), used by every EfficientNet block, spent about a fifth
//! of a training step there. Here `exp` is a polynomial (Cephes' `expf`: range reduction by
//! `ln 2`, degree-5 polynomial, about 1 ulp from the exact value) written so the compiler vectorises
//! it, compiled a second time for AVX2 and picked at run time.

/// `dst[i] = 1 / (1 + exp(-src[i]))`; NaN stays NaN.
pub fn sigmoid_f32(src: &[f32], dst: &mut [f32]) {
    with_avx2(src, dst)
}

/// `dst[i] = sigmoid(src[i])` into uninitialised memory (pepr patch: a new buffer without the zero
/// fill); every element of `dst` is written. Same dispatch and values as [`sigmoid_f32`].
pub fn sigmoid_f32_uninit(src: &[f32], dst: &mut [core::mem::MaybeUninit<f32>]) {
    assert_eq!(src.len(), dst.len(), "sigmoid_f32_uninit: lengths");
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(src: &[f32], dst: &mut [core::mem::MaybeUninit<f32>]) {
            sigmoid_slice_uninit(src, dst)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(src: &[f32], dst: &mut [core::mem::MaybeUninit<f32>]) {
            sigmoid_slice_uninit(src, dst)
        }
        if std::is_x86_feature_detected!("avx512f") {
            // Safety: the CPU has AVX-512F (checked just above).
            return unsafe { avx512(src, dst) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // Safety: the CPU has AVX2 (checked just above).
            return unsafe { avx2(src, dst) };
        }
    }
    sigmoid_slice_uninit(src, dst)
}

#[inline(always)]
fn sigmoid_slice_uninit(src: &[f32], dst: &mut [core::mem::MaybeUninit<f32>]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        d.write(sigmoid(x));
    }
}

/// In place: `data[i] = sigmoid(data[i])`.
pub fn sigmoid_inplace_f32(data: &mut [f32]) {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(data: &mut [f32]) {
            sigmoid_slice_inplace(data)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(data: &mut [f32]) {
            sigmoid_slice_inplace(data)
        }
        // pepr patch (session 8): AVX-512 first (16 lanes; ~1.7x over AVX2 on the GELU kernels).
        if std::is_x86_feature_detected!("avx512f") {
            // Safety: the CPU has AVX-512F (checked just above).
            return unsafe { avx512(data) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // Safety: the CPU has AVX2 (checked just above).
            return unsafe { avx2(data) };
        }
    }
    sigmoid_slice_inplace(data)
}

#[inline(always)]
fn sigmoid_slice_inplace(data: &mut [f32]) {
    for d in data.iter_mut() {
        *d = sigmoid(*d);
    }
}

fn with_avx2(src: &[f32], dst: &mut [f32]) {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(src: &[f32], dst: &mut [f32]) {
            sigmoid_slice(src, dst)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(src: &[f32], dst: &mut [f32]) {
            sigmoid_slice(src, dst)
        }
        if std::is_x86_feature_detected!("avx512f") {
            // Safety: the CPU has AVX-512F (checked just above).
            return unsafe { avx512(src, dst) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // Safety: the CPU has AVX2 (checked just above).
            return unsafe { avx2(src, dst) };
        }
    }
    sigmoid_slice(src, dst)
}

#[inline(always)]
pub fn sigmoid_slice(src: &[f32], dst: &mut [f32]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = sigmoid(x);
    }
}

/// Branch-free, so a loop over it vectorises: `e = exp(-|x|)` lies in (0, 1], then
/// `1 / (1 + e)` for x >= 0 and `e / (1 + e)` below (no overflow on either side).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let r = 1.0 / (1.0 + e);
    let s = if x >= 0.0 { r } else { e * r };
    if x.is_nan() { x } else { s }
}

/// `exp(x)` for `x <= 0` (the caller handles NaN); below -87.3 (results under f32's normal range) it returns
/// `exp(-87.3)`, about 1.2e-38, which is within 1.2e-38 of the exact value.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    // ln 2 split in two so n * LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding it rounds to an integer (to nearest) without a rounding instruction.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.max(-87.3);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r
        + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    // 2^n: n is in [-126, 0], so the exponent field n + 127 is in range.
    let bits = (t.to_bits() as i32 - MAGIC.to_bits() as i32 + 127) << 23;
    y * f32::from_bits(bits as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: f32) -> f32 {
        let x = x as f64;
        (1.0 / (1.0 + (-x).exp())) as f32
    }

    #[test]
    fn matches_libm_sigmoid() {
        let mut worst = 0.0f32;
        let mut x = -110.0f32;
        while x < 110.0 {
            let (got, want) = (sigmoid(x), reference(x));
            let err = (got - want).abs() / want.max(1e-30);
            if want > 1e-37 {
                worst = worst.max(err);
            }
            assert!((got - want).abs() <= 5e-7 * want + 1.3e-38, "sigmoid({x}) = {got}, want {want}");
            x += 0.000_37 * (1.0 + x.abs());
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        assert!(sigmoid(f32::NAN).is_nan());
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), exp_nonpositive(-1000.0));
        assert_eq!(sigmoid(0.0), 0.5);
        let src: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.05).collect();
        let mut dst = vec![0.0; 1000];
        sigmoid_f32(&src, &mut dst);
        let mut inplace = src.clone();
        sigmoid_inplace_f32(&mut inplace);
        let mut uninit = vec![core::mem::MaybeUninit::<f32>::uninit(); 1000];
        sigmoid_f32_uninit(&src, &mut uninit);
        for (i, &x) in src.iter().enumerate() {
            assert_eq!(dst[i], sigmoid(x));
            assert_eq!(inplace[i], sigmoid(x));
            // Safety: sigmoid_f32_uninit wrote every element.
            assert_eq!(unsafe { uninit[i].assume_init() }, sigmoid(x));
        }
    }
}
