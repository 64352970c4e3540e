//! Register-blocked tap kernels of the depthwise convolutions (pepr patch, included from
//! conv2d_gemm.rs, which packs the channel-interleaved buffers these read and write).
//!
//! Buffers hold one vector of 8 channels (`V`) per pixel. The plain loops computed one output
//! pixel at a time, a chain of kh * kw dependent multiply-adds: latency bound. Here:
//! - forward (and the stride-1 input gradient, a forward convolution of dy with the flipped
//!   kernel): a tile of RY output rows x RX vectors keeps RY * RX independent accumulators, each
//!   tap's weights loaded once per tile; taps that read only padding for the whole tile are
//!   skipped (they add exact zeros). AVX-512 vectors hold two neighbouring pixels (stride 1 along
//!   the row), AVX2 vectors one pixel (stride 1 or 2). Tiles at the right / bottom edge are shifted
//!   back to overlap the previous one (same values written twice), so no tile is partial. For
//!   kernels 3, 5 or 7 wide whose tile uses every tap column, each input vector of a kernel row is
//!   loaded once and added into every output vector it is a tap of, the row's weights in
//!   registers (1.2-1.4x faster than one load per multiply-add, which was load-port bound).
//! - weight gradient: a group of up to 10 taps keeps one accumulator per tap over all output
//!   pixels of the sample; AVX-512 lanes of the even and odd pixels are added at the end. Taps
//!   that read only padding for every output (small maps: 9 of 49 at 2x2) are skipped.
//! - the copies into and out of the interleaved buffers: 8 x 8 transposes in AVX2 registers.
//! Every output's sum runs over the taps in the same order whatever the thread count; AVX2 and
//! AVX-512 forward results are equal (both fused multiply-add in tap order; at most the sign of a
//! zero differs), the weight gradient's differ by rounding (pixel pairs summed separately). The
//! portable loops (no FMA) differ by rounding; all are tested against direct loops.

use super::{Geom, V};

/// The kernels depthwise convolutions run with.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Isa {
    Portable,
    Avx2,
    Avx512,
}

#[cfg(test)]
std::thread_local! {
    /// Tests force each kernel set in turn.
    pub(super) static FORCE: core::cell::Cell<Option<Isa>> = const { core::cell::Cell::new(None) };
}

/// The best kernels this CPU runs (AVX-512 kernels use AVX2 ones for strided rows).
pub(super) fn detect() -> Isa {
    #[cfg(test)]
    if let Some(isa) = FORCE.with(|c| c.get()) {
        return isa;
    }
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        if avx2 && std::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if avx2 {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}

/// Extra pixels every buffer these kernels read needs past its end (a pixel pair may start on the
/// last pixel).
pub(super) const SLACK: usize = 2;

/// First and end tap along one axis that read inside the image for outputs `o0..=o1`:
/// `0 <= o * stride + k * dil - pad < size` for some `o` in the range.
fn tap_range(o0: usize, o1: usize, stride: usize, dil: usize, pad: usize, size: usize, k: usize) -> (usize, usize) {
    let lo = (pad.saturating_sub(o1 * stride)).div_ceil(dil);
    let hi = ((size + pad).saturating_sub(o0 * stride)).div_ceil(dil);
    (lo.min(k), hi.min(k).max(lo.min(k)))
}

/// Largest of 8, 4, 2, 1 that is at most `n` (1 when `n` is 0).
fn pow2_upto(n: usize) -> usize {
    [8, 4, 2, 1].into_iter().find(|&v| v <= n).unwrap_or(1)
}

/// `out[oy][ox] = sum over taps of wv[k] * buf[oy * sy * pw + ox * sx + offset(k)]`: the tap
/// weights `wv` (kh * kw vectors), the zero-padded input `buf` (`pw` pixels a row, [`SLACK`] after
/// its end), outputs `[oh][ow]`.
pub(super) fn forward(isa: Isa, buf: &[V], wv: &[V], g: &Geom, pw: usize, out: &mut [V]) {
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable && g.dilation == [1, 1] && matches!(g.stride[1], 1 | 2) {
        let pairs = isa == Isa::Avx512 && g.stride[1] == 1;
        // Pixels per vector.
        let vp = if pairs { 2 } else { 1 };
        // At most 4 vectors along a row: 8 x 1 tiles of pairs on 16-pixel rows measured 2.2x slower
        // than 4 x 2 with the shared loads (7x7, 40 channels at 16x16: 1.32 vs 0.60 ms).
        let rx = pow2_upto(g.ow / vp).min(4);
        let ry = pow2_upto(g.oh).min(8 / rx);
        let half = pairs && g.ow == 1;
        let (f, ys, ds) = (LANES8, g.stride[0] * pw * LANES8, g.ow * LANES8);
        assert!(buf.len() >= g.padded().0 * pw + SLACK && out.len() >= g.p() && wv.len() >= g.kh * g.kw);
        let tw = (rx * vp).min(g.ow);
        let mut oy0 = 0;
        while oy0 < g.oh {
            let oy = oy0.min(g.oh.saturating_sub(ry));
            let ky = tap_range(oy, (oy + ry - 1).min(g.oh - 1), g.stride[0], 1, g.pad[0], g.h, g.kh);
            let mut ox0 = 0;
            while ox0 < g.ow {
                let ox = ox0.min(g.ow - tw);
                let kx = tap_range(ox, ox + tw - 1, g.stride[1], 1, g.pad[1], g.w, g.kw);
                // Safety: the tile reads input pixels up to (oy + ry - 1) * sy * pw + (ox + rx * vp
                // - 1) * sx + taps' offsets < ph * pw + SLACK, writes outputs of rows oy..oy + ry,
                // columns ox..ox + tw (checked above); the CPU has the features `detect` found.
                unsafe {
                    let src = (buf.as_ptr() as *const f32).add((oy * g.stride[0] * pw + ox * g.stride[1]) * f);
                    let dst = (out.as_mut_ptr() as *mut f32).add((oy * g.ow + ox) * f);
                    let args =
                        Fwd { src, ys, w: wv.as_ptr() as *const f32, kw: g.kw, ky, kx, trow: pw * f, dst, ds, half };
                    let all_cols = kx == (0, g.kw) && matches!(g.kw, 3 | 5 | 7);
                    match (pairs, all_cols) {
                        (true, true) => avx512::fwd_kw(ry, rx, 1, g.kw, &args),
                        (true, false) => avx512::fwd(ry, rx, 1, &args),
                        (false, true) => avx2::fwd_kw(ry, rx, g.stride[1], g.kw, &args),
                        (false, false) => avx2::fwd(ry, rx, g.stride[1], &args),
                    }
                }
                ox0 += tw;
            }
            oy0 += ry;
        }
        return;
    }
    let _ = isa;
    super::taps_forward(buf, wv, &g.taps(pw), g, pw, out);
}

/// The taps the weight gradient runs (made once per call): tap indices and their offsets (floats).
pub(super) struct WPlan {
    ks: alloc::vec::Vec<usize>,
    offs: alloc::vec::Vec<usize>,
    all: alloc::vec::Vec<usize>,
}

impl WPlan {
    pub(super) fn new(g: &Geom, pw: usize) -> WPlan {
        // Taps that read only padding for every output sum to zero: skipped (small maps).
        let ky = tap_range(0, g.oh - 1, g.stride[0], g.dilation[0], g.pad[0], g.h, g.kh);
        let kx = tap_range(0, g.ow - 1, g.stride[1], g.dilation[1], g.pad[1], g.w, g.kw);
        let all = g.taps(pw);
        let ks: alloc::vec::Vec<usize> = (ky.0..ky.1).flat_map(|y| (kx.0..kx.1).map(move |x| y * g.kw + x)).collect();
        let offs = ks.iter().map(|&k| all[k] * LANES8).collect();
        WPlan { ks, offs, all }
    }
}

/// `acc[k] = sum over outputs o of dy[o] * buf[base(o) + offset(k)]` (per sample: `acc` is
/// overwritten).
pub(super) fn backward_w(isa: Isa, plan: &WPlan, buf: &[V], dy: &[V], g: &Geom, pw: usize, acc: &mut [V]) {
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable && g.dilation == [1, 1] && matches!(g.stride[1], 1 | 2) {
        let pairs = isa == Isa::Avx512 && g.stride[1] == 1;
        let f = LANES8;
        let ksz = g.kh * g.kw;
        assert!(
            buf.len() >= g.padded().0 * pw + SLACK && dy.len() >= g.p() && acc.len() >= ksz && plan.all.len() == ksz
        );
        acc[..ksz].fill([0.0; 8]);
        let (ks, offs) = (&plan.ks, &plan.offs);
        // Groups of at most 10 taps, sizes as equal as possible (enough independent sums).
        let groups = ks.len().div_ceil(10);
        let mut k0 = 0;
        for gi in 0..groups {
            let k1 = ks.len() * (gi + 1) / groups;
            // Safety: reads buf at (oy * sy * pw + ox * sx) + offsets for every output (plus one
            // pixel after for a pair's unused half: SLACK), dy's p vectors (the odd last pixel of
            // a row loaded with its upper half masked), writes acc[ks[k0..k1]].
            unsafe {
                let args = Bw {
                    buf: buf.as_ptr() as *const f32,
                    offs: offs[k0..k1].as_ptr(),
                    ks: ks[k0..k1].as_ptr(),
                    dy: dy.as_ptr() as *const f32,
                    oh: g.oh,
                    ow: g.ow,
                    ys: g.stride[0] * pw * f,
                    acc: acc.as_mut_ptr() as *mut f32,
                };
                if pairs {
                    avx512::bw(k1 - k0, 1, &args);
                } else {
                    avx2::bw(k1 - k0, g.stride[1], &args);
                }
            }
            k0 = k1;
        }
        return;
    }
    let _ = isa;
    acc.fill([0.0; 8]);
    super::taps_backward_w(buf, dy, &plan.all, g, pw, acc);
}

const LANES8: usize = 8;

/// Arguments of one forward tile.
#[allow(dead_code)]
struct Fwd {
    /// Input at the tile's first output's first tap (floats).
    src: *const f32,
    /// Floats between the input rows of two output rows.
    ys: usize,
    /// Tap weights, 8 floats each, row-major taps.
    w: *const f32,
    kw: usize,
    /// Taps to run: rows ky.0..ky.1, columns kx.0..kx.1.
    ky: (usize, usize),
    kx: (usize, usize),
    /// Floats between two tap rows.
    trow: usize,
    /// Output at the tile's first output, and floats between output rows.
    dst: *mut f32,
    ds: usize,
    /// Only the lower pixel of each pixel pair is an output (a 1-pixel-wide map).
    half: bool,
}

/// Arguments of one weight-gradient tap group.
#[allow(dead_code)]
struct Bw {
    buf: *const f32,
    /// Offset of each tap of the group (floats), and its index (where its sum goes in `acc`).
    offs: *const usize,
    ks: *const usize,
    dy: *const f32,
    oh: usize,
    ow: usize,
    ys: usize,
    acc: *mut f32,
}

/// Calls `$f::<RY, RX, SX>` for the listed tile shapes and strides 1 and 2.
#[cfg(target_arch = "x86_64")]
macro_rules! fwd_dispatch {
    ($f:ident, $ry:expr, $rx:expr, $sx:expr, $a:expr; $($r:literal $c:literal),*) => {
        match ($ry, $rx, $sx) {
            $(($r, $c, 1) => $f::<$r, $c, 1>($a), ($r, $c, 2) => $f::<$r, $c, 2>($a),)*
            (ry, rx, sx) => unreachable!("tile {ry}x{rx} stride {sx}"),
        }
    };
    ($f:ident, $ry:expr, $rx:expr, $sx:expr, $a:expr, $kw:literal; $($r:literal $c:literal),*) => {
        match ($ry, $rx, $sx) {
            $(($r, $c, 1) => $f::<$r, $c, 1, $kw>($a), ($r, $c, 2) => $f::<$r, $c, 2, $kw>($a),)*
            (ry, rx, sx) => unreachable!("tile {ry}x{rx} stride {sx}"),
        }
    };
}

/// Calls `$f::<TK, SX>` for the listed tap counts and strides 1 and 2.
#[cfg(target_arch = "x86_64")]
macro_rules! bw_dispatch {
    ($f:ident, $tk:expr, $sx:expr, $a:expr; $($t:literal),*) => {
        match ($tk, $sx) {
            $(($t, 1) => $f::<$t, 1>($a), ($t, 2) => $f::<$t, 2>($a),)*
            (tk, sx) => unreachable!("group of {tk} taps, stride {sx}"),
        }
    };
}

/// Defines module `$m`: forward tiles `fwd_tile::<RY, RX, SX>` and weight-gradient groups
/// `bw_group::<TK, SX>` for one vector type holding `$vp` pixels of 8 channels.
#[cfg(target_arch = "x86_64")]
macro_rules! dw_kernels {
    ($m:ident, $feat:literal, $vp:expr, $v:ty, $zero:ident, $load:ident, $fma:ident, $store:ident,
     $wload:expr, $store_half:expr, $load_half:expr, $fold:expr) => {
        mod $m {
            #![allow(unused_unsafe, clippy::missing_safety_doc)]
            use super::{Bw, Fwd};
            use core::arch::x86_64::*;
            const VP: usize = $vp;

            /// Safety: as in `super::forward` (the caller checks the bounds), CPU has `$feat`.
            #[target_feature(enable = $feat)]
            unsafe fn fwd_tile<const RY: usize, const RX: usize, const SX: usize>(a: &Fwd) {
                unsafe {
                    let mut acc: [[$v; RX]; RY] = [[$zero(); RX]; RY];
                    for ky in a.ky.0..a.ky.1 {
                        let row = a.src.add(ky * a.trow);
                        let wr = a.w.add(ky * a.kw * 8);
                        for kx in a.kx.0..a.kx.1 {
                            let wv: $v = $wload(wr.add(kx * 8));
                            let p = row.add(kx * 8);
                            for r in 0..RY {
                                let pr = p.add(r * a.ys);
                                for c in 0..RX {
                                    acc[r][c] = $fma(wv, $load(pr.add(c * VP * SX * 8)), acc[r][c]);
                                }
                            }
                        }
                    }
                    for r in 0..RY {
                        let d = a.dst.add(r * a.ds);
                        for c in 0..RX {
                            if VP > 1 && a.half {
                                $store_half(d.add(c * VP * 8), acc[r][c]);
                            } else {
                                $store(d.add(c * VP * 8), acc[r][c]);
                            }
                        }
                    }
                }
            }

            /// The same tile for kernels `KW` wide when every tap column is used: each ky row
            /// loads every input vector once and adds it into each output vector it is a tap of
            /// (`kx = j - c * step`), the row's KW weights kept in registers. Same sums, same order.
            #[target_feature(enable = $feat)]
            unsafe fn fwd_tile_kw<const RY: usize, const RX: usize, const SX: usize, const KW: usize>(a: &Fwd) {
                unsafe {
                    let step = VP * SX;
                    let mut acc: [[$v; RX]; RY] = [[$zero(); RX]; RY];
                    for ky in a.ky.0..a.ky.1 {
                        let row = a.src.add(ky * a.trow);
                        let wr = a.w.add(ky * KW * 8);
                        let wv: [$v; KW] = core::array::from_fn(|kx| $wload(wr.add(kx * 8)));
                        for r in 0..RY {
                            let pr = row.add(r * a.ys);
                            for j in 0..(RX - 1) * step + KW {
                                let x = $load(pr.add(j * 8));
                                for c in 0..RX {
                                    if j >= c * step && j - c * step < KW {
                                        acc[r][c] = $fma(wv[j - c * step], x, acc[r][c]);
                                    }
                                }
                            }
                        }
                    }
                    for r in 0..RY {
                        let d = a.dst.add(r * a.ds);
                        for c in 0..RX {
                            if VP > 1 && a.half {
                                $store_half(d.add(c * VP * 8), acc[r][c]);
                            } else {
                                $store(d.add(c * VP * 8), acc[r][c]);
                            }
                        }
                    }
                }
            }

            /// `fwd_tile_kw` for kernels 3, 5 or 7 wide (`sx` 1, or 2 for one-pixel vectors).
            pub(super) unsafe fn fwd_kw(ry: usize, rx: usize, sx: usize, kw: usize, a: &Fwd) {
                unsafe {
                    match kw {
                        3 => fwd_dispatch!(fwd_tile_kw, ry, rx, sx, a, 3; 1 1, 1 2, 1 4, 2 1, 2 2, 2 4, 4 1, 4 2, 8 1),
                        5 => fwd_dispatch!(fwd_tile_kw, ry, rx, sx, a, 5; 1 1, 1 2, 1 4, 2 1, 2 2, 2 4, 4 1, 4 2, 8 1),
                        _ => fwd_dispatch!(fwd_tile_kw, ry, rx, sx, a, 7; 1 1, 1 2, 1 4, 2 1, 2 2, 2 4, 4 1, 4 2, 8 1),
                    }
                }
            }

            /// One forward tile of `ry` rows (1, 2, 4 or 8) x `rx` vectors (1, 2 or 4), at most 8 in all.
            pub(super) unsafe fn fwd(ry: usize, rx: usize, sx: usize, a: &Fwd) {
                unsafe { fwd_dispatch!(fwd_tile, ry, rx, sx, a; 1 1, 1 2, 1 4, 2 1, 2 2, 2 4, 4 1, 4 2, 8 1) }
            }

            /// Safety: as in `super::backward_w`, CPU has `$feat`.
            #[target_feature(enable = $feat)]
            unsafe fn bw_group<const TK: usize, const SX: usize>(a: &Bw) {
                unsafe {
                    let mut acc: [$v; TK] = [$zero(); TK];
                    let offs: [usize; TK] = core::array::from_fn(|t| *a.offs.add(t));
                    for oy in 0..a.oh {
                        let xr = a.buf.add(oy * a.ys);
                        let dr = a.dy.add(oy * a.ow * 8);
                        let mut ox = 0;
                        while ox + VP <= a.ow {
                            let d = $load(dr.add(ox * 8));
                            let xp = xr.add(ox * SX * 8);
                            for t in 0..TK {
                                acc[t] = $fma(d, $load(xp.add(offs[t])), acc[t]);
                            }
                            ox += VP;
                        }
                        if ox < a.ow {
                            // A pixel pair's lower half only (dy's upper half zero).
                            let d = $load_half(dr.add(ox * 8));
                            let xp = xr.add(ox * SX * 8);
                            for t in 0..TK {
                                acc[t] = $fma(d, $load(xp.add(offs[t])), acc[t]);
                            }
                        }
                    }
                    for t in 0..TK {
                        _mm256_storeu_ps(a.acc.add(*a.ks.add(t) * 8), $fold(acc[t]));
                    }
                }
            }

            /// One weight-gradient group of `tk` (1..=10) taps.
            pub(super) unsafe fn bw(tk: usize, sx: usize, a: &Bw) {
                unsafe { bw_dispatch!(bw_group, tk, sx, a; 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
dw_kernels!(
    avx2,
    "avx2,fma",
    1,
    __m256,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps,
    (|p: *const f32| _mm256_loadu_ps(p)),
    (|p: *mut f32, v: __m256| _mm256_storeu_ps(p, v)),
    (|p: *const f32| _mm256_loadu_ps(p)),
    (|v: __m256| v)
);

#[cfg(target_arch = "x86_64")]
dw_kernels!(
    avx512,
    "avx512f,avx2,fma",
    2,
    __m512,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps,
    // The 8 tap weights in both halves.
    (|p: *const f32| _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(_mm256_loadu_ps(p))))),
    (|p: *mut f32, v: __m512| _mm256_storeu_ps(p, _mm512_castps512_ps256(v))),
    (|p: *const f32| _mm512_maskz_loadu_ps(0x00ff, p)),
    (|v: __m512| _mm256_add_ps(
        _mm512_castps512_ps256(v),
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))
    ))
);

/// `dst[i][l] = src[l * stride + i]` for `i < len`, `l < 8`: eight planes into interleaved vectors.
/// Safety: `src` readable at those floats.
pub(super) unsafe fn interleave8(isa: Isa, src: *const f32, stride: usize, len: usize, dst: &mut [V]) {
    let dst = &mut dst[..len];
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // Safety: AVX2 (detected), reads src planes at i..i + 8 < len, writes dst[i..i + 8].
        unsafe { avx2t::interleave(src, stride, len, dst.as_mut_ptr() as *mut f32) };
        i = len / 8 * 8;
    }
    let _ = isa;
    for (j, d) in dst.iter_mut().enumerate().skip(i) {
        // Safety: as documented.
        *d = core::array::from_fn(|l| unsafe { *src.add(l * stride + j) });
    }
}

/// `dst[l * stride + i] = src[i][l]` for `i < len`, `l < 8`: interleaved vectors into eight planes.
/// Safety: `dst` writable at those floats.
pub(super) unsafe fn deinterleave8(isa: Isa, src: &[V], dst: *mut f32, stride: usize, len: usize) {
    let src = &src[..len];
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // Safety: AVX2 (detected), reads src[i..i + 8], writes dst planes at i..i + 8 < len.
        unsafe { avx2t::deinterleave(src.as_ptr() as *const f32, dst, stride, len) };
        i = len / 8 * 8;
    }
    let _ = isa;
    for (j, v) in src.iter().enumerate().skip(i) {
        for (l, x) in v.iter().enumerate() {
            // Safety: as documented.
            unsafe { *dst.add(l * stride + j) = *x };
        }
    }
}

/// 8 x 8 transposes in AVX2 registers for whole groups of 8 pixels.
#[cfg(target_arch = "x86_64")]
mod avx2t {
    use core::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    fn transpose(r: [__m256; 8]) -> [__m256; 8] {
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        [
            _mm256_permute2f128_ps::<0x20>(s0, s4),
            _mm256_permute2f128_ps::<0x20>(s1, s5),
            _mm256_permute2f128_ps::<0x20>(s2, s6),
            _mm256_permute2f128_ps::<0x20>(s3, s7),
            _mm256_permute2f128_ps::<0x31>(s0, s4),
            _mm256_permute2f128_ps::<0x31>(s1, s5),
            _mm256_permute2f128_ps::<0x31>(s2, s6),
            _mm256_permute2f128_ps::<0x31>(s3, s7),
        ]
    }

    /// Safety: AVX2; src planes readable at `l * stride + i`, dst writable at `i * 8 + l`, i < len.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn interleave(src: *const f32, stride: usize, len: usize, dst: *mut f32) {
        unsafe {
            for i in (0..len / 8 * 8).step_by(8) {
                let r: [__m256; 8] = core::array::from_fn(|l| _mm256_loadu_ps(src.add(l * stride + i)));
                for (j, v) in transpose(r).into_iter().enumerate() {
                    _mm256_storeu_ps(dst.add((i + j) * 8), v);
                }
            }
        }
    }

    /// Safety: AVX2; src readable at `i * 8 + l`, dst planes writable at `l * stride + i`, i < len.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn deinterleave(src: *const f32, dst: *mut f32, stride: usize, len: usize) {
        unsafe {
            for i in (0..len / 8 * 8).step_by(8) {
                let r: [__m256; 8] = core::array::from_fn(|j| _mm256_loadu_ps(src.add((i + j) * 8)));
                for (l, v) in transpose(r).into_iter().enumerate() {
                    _mm256_storeu_ps(dst.add(l * stride + i), v);
                }
            }
        }
    }
}
