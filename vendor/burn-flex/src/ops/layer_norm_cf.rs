//! pepr patch: layer normalization over the channels of a channels-first tensor, read in place.
//!
//! ConvNeXt's LayerNorm2d normalizes each pixel's channels of an NCHW map. Written against burn's
//! API it permutes the map to NHWC and normalizes the last axis, and `layer_norm` then first
//! copied that strided view into contiguous rows (a transposing copy), and the result, permuted
//! back, was copied once more by the next convolution. Here the view is recognised and the
//! statistics are summed across channel planes for a run of pixels at once (each plane's run is
//! contiguous, so the loops vectorize), and the output is written in the input's own layout: the
//! permute back is then a contiguous NCHW tensor, and neither copy happens.

use alloc::vec::Vec;
use core::mem::MaybeUninit;

/// Pixels per task: a run of 64 floats per channel plane keeps a block's planes (at most 320
/// channels here, 80 KiB) in L2 across the three passes.
const RUN: usize = 64;

/// The channels-first geometry behind a channels-last view: `[d0, ..., C]` whose last axis has
/// stride `S` = the pixels per sample, the middle axes row-major and dense, and `d0` of stride
/// `C * S`. `None` for any other layout (the caller then copies to contiguous rows as before).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelsFirst {
    pub samples: usize,
    pub channels: usize,
    pub pixels: usize,
}

impl ChannelsFirst {
    pub fn of(shape: &[usize], strides: &[isize]) -> Option<ChannelsFirst> {
        let rank = shape.len();
        if rank < 3 {
            return None;
        }
        let channels = shape[rank - 1];
        let pixels: usize = shape[1..rank - 1].iter().product();
        if channels < 2 || pixels < 2 {
            return None;
        }
        // Middle axes dense and row-major (axes of extent 1 have any stride).
        let mut expected = 1isize;
        for axis in (1..rank - 1).rev() {
            if shape[axis] != 1 && strides[axis] != expected {
                return None;
            }
            expected *= shape[axis] as isize;
        }
        let plane = pixels as isize;
        if strides[rank - 1] != plane || (shape[0] != 1 && strides[0] != plane * channels as isize) {
            return None;
        }
        Some(ChannelsFirst { samples: shape[0], channels, pixels })
    }

    fn len(&self) -> usize {
        self.samples * self.channels * self.pixels
    }
}

/// Layer norm of every pixel's channels: `x` holds `samples` blocks of `channels` planes of
/// `pixels` floats; the result has the same layout. `beta` is optional.
pub fn layer_norm_channels_first(
    x: &[f32],
    geom: ChannelsFirst,
    gamma: &[f32],
    beta: Option<&[f32]>,
    epsilon: f32,
) -> Vec<f32> {
    let ChannelsFirst { samples, channels, pixels } = geom;
    assert_eq!(x.len(), geom.len());
    assert_eq!(gamma.len(), channels);
    assert!(beta.is_none_or(|b| b.len() == channels));
    let runs = pixels.div_ceil(RUN);
    let mut out: Vec<f32> = Vec::with_capacity(x.len());
    let ptr = OutPtr(out.spare_capacity_mut().as_mut_ptr());
    let task = |t: usize| {
        let (b, p0) = (t / runs, (t % runs) * RUN);
        let len = RUN.min(pixels - p0);
        let base = b * channels * pixels + p0;
        // Safety: task t writes only the run [p0, p0 + len) of its own sample's planes, which
        // no other task writes, inside the allocation of x.len() floats.
        let dst = |c: usize| unsafe { core::slice::from_raw_parts_mut(ptr.at(base + c * pixels), len) };
        let src = |c: usize| &x[base + c * pixels..][..len];
        let mut mean = [0.0f32; RUN];
        let mut scale = [0.0f32; RUN];
        let (mean, scale) = (&mut mean[..len], &mut scale[..len]);
        // The same three passes as burn-flex's row kernel (mean, centred variance, normalize +
        // affine), the sums taken over the channel planes in channel order.
        for c in 0..channels {
            add_plane(mean, src(c));
        }
        let inv_n = 1.0 / channels as f32;
        mean.iter_mut().for_each(|m| *m *= inv_n);
        for c in 0..channels {
            add_squares(scale, src(c), mean);
        }
        scale.iter_mut().for_each(|v| *v = 1.0 / (*v * inv_n + epsilon).sqrt());
        for c in 0..channels {
            write_plane(dst(c), src(c), mean, scale, gamma[c], beta.map_or(0.0, |b| b[c]));
        }
    };
    let tasks = samples * runs;
    #[cfg(feature = "rayon")]
    if x.len() >= 32 * 1024 {
        use rayon::prelude::*;
        (0..tasks).into_par_iter().for_each(task);
    } else {
        (0..tasks).for_each(task);
    }
    #[cfg(not(feature = "rayon"))]
    (0..tasks).for_each(task);
    // Safety: the tasks above initialised every element (each (sample, run) once, every channel).
    unsafe { out.set_len(x.len()) };
    out
}

/// The uninitialised output, shared by the tasks (each writes its own elements).
#[derive(Clone, Copy)]
struct OutPtr(*mut MaybeUninit<f32>);
// Safety: tasks write disjoint elements (see layer_norm_channels_first).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}
impl OutPtr {
    fn at(self, i: usize) -> *mut MaybeUninit<f32> {
        // Safety: callers stay inside the allocation.
        unsafe { self.0.add(i) }
    }
}

/// Defines `$name`, which runs `$body` compiled for AVX-512 or AVX2 + FMA when the CPU has them
/// (the plain build targets SSE2 only), else as compiled.
macro_rules! with_simd {
    ($name:ident, $body:ident, ($($arg:ident: $ty:ty),*)) => {
        #[inline]
        fn $name($($arg: $ty),*) {
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // Safety: the CPU has AVX-512F (checked just above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // Safety: the CPU has AVX2 and FMA (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

#[inline(always)]
fn add_plane_body(acc: &mut [f32], x: &[f32]) {
    for (a, v) in acc.iter_mut().zip(x) {
        *a += v;
    }
}

#[inline(always)]
fn add_squares_body(acc: &mut [f32], x: &[f32], mean: &[f32]) {
    for ((a, v), m) in acc.iter_mut().zip(x).zip(mean) {
        let d = v - m;
        *a += d * d;
    }
}

#[inline(always)]
fn write_plane_body(out: &mut [MaybeUninit<f32>], x: &[f32], mean: &[f32], scale: &[f32], g: f32, b: f32) {
    for (((o, v), m), s) in out.iter_mut().zip(x).zip(mean).zip(scale) {
        o.write((v - m) * s * g + b);
    }
}

with_simd!(add_plane, add_plane_body, (acc: &mut [f32], x: &[f32]));
with_simd!(add_squares, add_squares_body, (acc: &mut [f32], x: &[f32], mean: &[f32]));
with_simd!(write_plane, write_plane_body, (out: &mut [MaybeUninit<f32>], x: &[f32], mean: &[f32], scale: &[f32], g: f32, b: f32));

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct loops in f64: the reference.
    fn reference(x: &[f32], geom: ChannelsFirst, gamma: &[f32], beta: Option<&[f32]>, eps: f64) -> Vec<f32> {
        let ChannelsFirst { samples, channels, pixels } = geom;
        let mut y = vec![0.0f32; x.len()];
        for b in 0..samples {
            for p in 0..pixels {
                let at = |c: usize| b * channels * pixels + c * pixels + p;
                let mean = (0..channels).map(|c| x[at(c)] as f64).sum::<f64>() / channels as f64;
                let var = (0..channels).map(|c| (x[at(c)] as f64 - mean).powi(2)).sum::<f64>() / channels as f64;
                for c in 0..channels {
                    let shift = beta.map_or(0.0, |b| b[c] as f64);
                    y[at(c)] = ((x[at(c)] as f64 - mean) / (var + eps).sqrt() * gamma[c] as f64 + shift) as f32;
                }
            }
        }
        y
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        // A small LCG: varied signs and magnitudes, an offset so the mean matters.
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 1.5
            })
            .collect()
    }

    #[test]
    fn matches_direct_loops_on_odd_shapes() {
        // Pixels below, at and above one run, not multiples of any vector width; batch 1 and 33.
        for (samples, channels, pixels) in [(1, 2, 2), (2, 40, 256), (33, 7, 65), (3, 320, 4), (1, 5, 129), (2, 3, 64)]
        {
            let geom = ChannelsFirst { samples, channels, pixels };
            let x = values(geom.len(), (samples * 31 + channels * 7 + pixels) as u32);
            let gamma = values(channels, 5);
            let beta = values(channels, 9);
            for beta in [Some(&beta[..]), None] {
                let got = layer_norm_channels_first(&x, geom, &gamma, beta, 1e-6);
                let want = reference(&x, geom, &gamma, beta, 1e-6);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!((g - w).abs() <= 1e-4 * w.abs().max(1.0), "{geom:?} [{i}]: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn the_simd_copies_equal_the_plain_bodies_within_rounding() {
        // The public entry takes the best instruction set this CPU has (AVX-512 here); the plain
        // bodies are what CPUs without AVX2 + FMA run.
        let geom = ChannelsFirst { samples: 2, channels: 33, pixels: 70 };
        let x = values(geom.len(), 3);
        let gamma = values(33, 4);
        let got = layer_norm_channels_first(&x, geom, &gamma, None, 1e-5);
        let mut plain = vec![MaybeUninit::new(0.0f32); x.len()];
        for b in 0..2 {
            for p0 in (0..70).step_by(RUN) {
                let len = RUN.min(70 - p0);
                let base = b * 33 * 70 + p0;
                let (mut mean, mut scale) = ([0.0f32; RUN], [0.0f32; RUN]);
                for c in 0..33 {
                    add_plane_body(&mut mean[..len], &x[base + c * 70..][..len]);
                }
                mean[..len].iter_mut().for_each(|m| *m /= 33.0);
                for c in 0..33 {
                    add_squares_body(&mut scale[..len], &x[base + c * 70..][..len], &mean[..len]);
                }
                scale[..len].iter_mut().for_each(|v| *v = 1.0 / (*v / 33.0 + 1e-5).sqrt());
                for c in 0..33 {
                    let at = base + c * 70;
                    write_plane_body(
                        &mut plain[at..at + len],
                        &x[at..][..len],
                        &mean[..len],
                        &scale[..len],
                        gamma[c],
                        0.0,
                    );
                }
            }
        }
        for (g, p) in got.iter().zip(&plain) {
            let p = unsafe { p.assume_init() };
            assert!((g - p).abs() <= 1e-5 * p.abs().max(1.0), "{g} vs {p}");
        }
    }

    #[test]
    fn recognises_only_channels_last_views_of_dense_channels_first_data() {
        // permute([0, 2, 3, 1]) of a contiguous [2, 5, 3, 4]: shape [2, 3, 4, 5].
        let cf = ChannelsFirst::of(&[2, 3, 4, 5], &[60, 4, 1, 12]);
        assert_eq!(cf, Some(ChannelsFirst { samples: 2, channels: 5, pixels: 12 }));
        // Contiguous rows, a sliced sample stride, a transposed spatial pair, rank 2: not this.
        assert_eq!(ChannelsFirst::of(&[2, 3, 4, 5], &[60, 20, 5, 1]), None);
        assert_eq!(ChannelsFirst::of(&[2, 3, 4, 5], &[120, 4, 1, 12]), None);
        assert_eq!(ChannelsFirst::of(&[2, 3, 4, 5], &[60, 1, 3, 12]), None);
        assert_eq!(ChannelsFirst::of(&[6, 5], &[1, 6]), None);
        // One sample: its stride does not matter.
        assert!(ChannelsFirst::of(&[1, 3, 4, 5], &[999, 4, 1, 12]).is_some());
    }
}
