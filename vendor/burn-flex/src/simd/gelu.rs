//! Vectorised f32 GELU and its gradient (pepr patch).
//!
//! burn-flex computed `gelu(x) = x/2 * (1 + erf(x / sqrt 2))` one element at a time with libm's
//! `erff`, and its gradient with `erff` and `expf` (function calls per element, no SIMD): in a
//! convnext_atto training step at 64 px they were an eighth of the time. Here `erf` is the rational
//! approximation Eigen and XLA use for f32 (`x * P(x^2) / Q(x^2)` on [-4, 4], +-1 beyond, where f32
//! rounds erf to +-1 anyway) and `exp` the polynomial of [`super::sigmoid`]; both are branch-free,
//! so loops over them vectorise. The forward slice kernels are compiled a second time for AVX2
//! and picked at run time; the gradient is a closure of flex's binary ops (SSE-wide, parallel).

use super::sigmoid::exp_nonpositive;

/// `dst[i] = gelu(src[i])`.
pub fn gelu_f32(src: &[f32], dst: &mut [f32]) {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(src: &[f32], dst: &mut [f32]) {
            gelu_slice(src, dst)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(src: &[f32], dst: &mut [f32]) {
            gelu_slice(src, dst)
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
    gelu_slice(src, dst)
}

/// `dst[i] = gelu(src[i])` into uninitialised memory (pepr patch: a new buffer without the zero
/// fill); every element of `dst` is written. Same dispatch and values as [`gelu_f32`].
pub fn gelu_f32_uninit(src: &[f32], dst: &mut [core::mem::MaybeUninit<f32>]) {
    assert_eq!(src.len(), dst.len(), "gelu_f32_uninit: lengths");
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(src: &[f32], dst: &mut [core::mem::MaybeUninit<f32>]) {
            gelu_slice_uninit(src, dst)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(src: &[f32], dst: &mut [core::mem::MaybeUninit<f32>]) {
            gelu_slice_uninit(src, dst)
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
    gelu_slice_uninit(src, dst)
}

#[inline(always)]
fn gelu_slice_uninit(src: &[f32], dst: &mut [core::mem::MaybeUninit<f32>]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        d.write(gelu(x));
    }
}

/// In place: `data[i] = gelu(data[i])`.
pub fn gelu_inplace_f32(data: &mut [f32]) {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(data: &mut [f32]) {
            gelu_slice_inplace(data)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(data: &mut [f32]) {
            gelu_slice_inplace(data)
        }
        if std::is_x86_feature_detected!("avx512f") {
            // Safety: the CPU has AVX-512F (checked just above).
            return unsafe { avx512(data) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // Safety: the CPU has AVX2 (checked just above).
            return unsafe { avx2(data) };
        }
    }
    gelu_slice_inplace(data)
}

/// `g[i] = gelu_grad(x[i], g[i])`: the gradient in place over the incoming one (pepr patch).
/// Compiled for AVX-512F and for AVX2 and picked at run time (the portable loop otherwise);
/// no FMA contraction, so every path gives the scalar function's values.
pub fn gelu_grad_inplace_f32(x: &[f32], g: &mut [f32]) {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(x: &[f32], g: &mut [f32]) {
            gelu_grad_slice_inplace(x, g)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(x: &[f32], g: &mut [f32]) {
            gelu_grad_slice_inplace(x, g)
        }
        if std::is_x86_feature_detected!("avx512f") {
            // Safety: the CPU has AVX-512F (checked just above).
            return unsafe { avx512(x, g) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // Safety: the CPU has AVX2 (checked just above).
            return unsafe { avx2(x, g) };
        }
    }
    gelu_grad_slice_inplace(x, g)
}

/// `out[i] = gelu_grad(x[i], g[i])` into a third buffer (same dispatch as the in-place form).
pub fn gelu_grad_f32(x: &[f32], g: &[f32], out: &mut [f32]) {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(x: &[f32], g: &[f32], out: &mut [f32]) {
            gelu_grad_slice(x, g, out)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(x: &[f32], g: &[f32], out: &mut [f32]) {
            gelu_grad_slice(x, g, out)
        }
        if std::is_x86_feature_detected!("avx512f") {
            // Safety: the CPU has AVX-512F (checked just above).
            return unsafe { avx512(x, g, out) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // Safety: the CPU has AVX2 (checked just above).
            return unsafe { avx2(x, g, out) };
        }
    }
    gelu_grad_slice(x, g, out)
}

/// The portable loops behind [`gelu_grad_inplace_f32`] and [`gelu_grad_f32`] (also what the
/// tests compare the dispatched forms with).
#[inline(always)]
pub fn gelu_grad_slice_inplace(x: &[f32], g: &mut [f32]) {
    for (g, &x) in g.iter_mut().zip(x) {
        *g = gelu_grad(x, *g);
    }
}

#[inline(always)]
pub fn gelu_grad_slice(x: &[f32], g: &[f32], out: &mut [f32]) {
    for ((o, &x), &g) in out.iter_mut().zip(x).zip(g) {
        *o = gelu_grad(x, g);
    }
}

#[inline(always)]
pub fn gelu_slice(src: &[f32], dst: &mut [f32]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = gelu(x);
    }
}

#[inline(always)]
fn gelu_slice_inplace(data: &mut [f32]) {
    for d in data.iter_mut() {
        *d = gelu(*d);
    }
}

/// `erf(x)`, branch-free; NaN stays NaN. Within 5e-7 of the exact value (absolute; libm's `erff`
/// is within about 1e-7), checked below against libm's f64 `erf`.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    // Eigen's `generic_fast_erf_float` coefficients (also XLA's f32 erf).
    const A: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ];
    const B: [f32; 5] = [-1.456_607_2e-5, -2.133_740_6e-4, -1.682_827e-3, -7.373_329e-3, -1.426_473_9e-2];
    let c = x.clamp(-4.0, 4.0);
    let c = if x.is_nan() { 0.0 } else { c };
    let x2 = c * c;
    let mut p = A[0];
    for a in &A[1..] {
        p = p * x2 + a;
    }
    let mut q = B[0];
    for b in &B[1..] {
        q = q * x2 + b;
    }
    let r = (c * p / q).clamp(-1.0, 1.0);
    // From |x| = 4 on, f32 rounds erf to +-1 (the rational gives 1 - 1e-7 there).
    let r = if x.abs() >= 4.0 { 1.0f32.copysign(x) } else { r };
    if x.is_nan() { x } else { r }
}

/// `x/2 * (1 + erf(x / sqrt 2))`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * core::f32::consts::FRAC_1_SQRT_2))
}

/// `g * (cdf(x) + x * pdf(x))`, the gradient of [`gelu`] times `g`.
#[inline(always)]
pub fn gelu_grad(x: f32, g: f32) -> f32 {
    // 1 / sqrt(2 pi)
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let cdf = 0.5 * (1.0 + erf(x * core::f32::consts::FRAC_1_SQRT_2));
    // exp(-x^2 / 2), zero where it is below f32's normal range (`exp_nonpositive` stops at about
    // 1e-38 there). NaN goes through `cdf`.
    let h = 0.5 * x * x;
    let e = exp_nonpositive(-h);
    let pdf = INV_SQRT_2PI * if h > 87.0 { 0.0 } else { e };
    g * (cdf + x * pdf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erf64(x: f64) -> f64 {
        libm::erf(x)
    }

    #[test]
    fn erf_gelu_and_gradient_match_f64() {
        let mut x = -12.0f32;
        let (mut worst_erf, mut worst_gelu, mut worst_grad) = (0.0f64, 0.0f64, 0.0f64);
        while x < 12.0 {
            let e = erf64(x as f64);
            worst_erf = worst_erf.max((erf(x) as f64 - e).abs());
            let xd = x as f64;
            let cdf = 0.5 * (1.0 + erf64(xd / core::f64::consts::SQRT_2));
            let want = xd * cdf;
            // Absolute error, scaled by |x| above 1 (gelu grows like x): erf's absolute error
            // times x / 2. Relative to tiny outputs (x below -3, where 1 + erf cancels) it is
            // larger; those are far below any activation they are added to.
            worst_gelu = worst_gelu.max((gelu(x) as f64 - want).abs() / xd.abs().max(1.0));
            let pdf = (-0.5 * xd * xd).exp() / (2.0 * core::f64::consts::PI).sqrt();
            let want = cdf + xd * pdf;
            worst_grad = worst_grad.max((gelu_grad(x, 1.0) as f64 - want).abs());
            x += 0.000_31 * (1.0 + x.abs());
        }
        assert!(worst_erf < 5e-7, "erf: worst absolute error {worst_erf}");
        assert!(worst_gelu < 5e-7, "gelu: worst error {worst_gelu}");
        assert!(worst_grad < 1e-6, "gelu gradient: worst absolute error {worst_grad}");
        assert!(erf(f32::NAN).is_nan() && gelu(f32::NAN).is_nan() && gelu_grad(f32::NAN, 1.0).is_nan());
        assert_eq!((erf(f32::INFINITY), erf(f32::NEG_INFINITY)), (1.0, -1.0));
        assert_eq!((gelu(f32::INFINITY), gelu(0.0), gelu(-30.0)), (f32::INFINITY, 0.0, -0.0));
        assert_eq!((gelu_grad(50.0, 2.0), gelu_grad(-50.0, 2.0)), (2.0, 0.0));
        // The slice forms (AVX2 or not) give the scalar function's values.
        let src: Vec<f32> = (0..1003).map(|i| (i as f32 - 500.0) * 0.013).collect();
        let mut dst = vec![0.0; src.len()];
        gelu_f32(&src, &mut dst);
        let mut inplace = src.clone();
        gelu_inplace_f32(&mut inplace);
        let mut uninit = vec![core::mem::MaybeUninit::<f32>::uninit(); src.len()];
        gelu_f32_uninit(&src, &mut uninit);
        for i in 0..src.len() {
            assert_eq!((dst[i], inplace[i]), (gelu(src[i]), gelu(src[i])));
            // Safety: gelu_f32_uninit wrote every element.
            assert_eq!(unsafe { uninit[i].assume_init() }, gelu(src[i]));
        }
        // The gradient's slice forms (AVX-512, AVX2 or portable) give the scalar function's values.
        let g: Vec<f32> = (0..src.len()).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.07).collect();
        let mut out = vec![0.0; src.len()];
        gelu_grad_f32(&src, &g, &mut out);
        let mut inplace = g.clone();
        gelu_grad_inplace_f32(&src, &mut inplace);
        let mut portable = g.clone();
        gelu_grad_slice_inplace(&src, &mut portable);
        for i in 0..src.len() {
            let want = gelu_grad(src[i], g[i]);
            assert_eq!((out[i], inplace[i], portable[i]), (want, want, want));
        }
    }
}
