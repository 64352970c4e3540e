//! Register-blocked direct convolution for layers with few channels (pepr patch).
//!
//! The shifted GEMMs of `conv2d_gemm` sum over only `c_in` (16-64) per kernel tap, which is short
//! for the gemm crate's microkernel: resnet20's 16-channel layers ran at ~40 GFLOP/s per core of a
//! ~150 peak. Here one task takes one sample: its input planes are copied once into a zero-padded
//! buffer `[c_in][hp][wp]` (`hp = oh + kh - 1`, `wp = ow + kw - 1`), so output position
//! `q = oy * wp + ox` reads input `q + ky * wp + kx` for tap `(ky, kx)` with no bounds checks
//! (outputs in the padding columns are computed and dropped, as on the shifted path; stride 2
//! splits the buffer into phase planes, see `forward`). A tile of
//! [`COB`] output channels by `NV` vectors of consecutive positions keeps its accumulators in
//! registers over every input channel and tap: per (channel, tap) `NV` vector loads of the input,
//! `COB` broadcasts of weights (packed once per call in the order the tile reads them) and
//! `COB * NV` fused multiply-adds. Each output is summed in one fixed order (input channel, then
//! tap) by one tile, so results do not depend on the thread count, and the AVX-512 and AVX2
//! versions give the same bits (both fuse the multiply-add). The same kernel computes the
//! stride-1 input gradient (a forward convolution of dy, `Geom::transposed`); the weight gradient
//! has its own tiles (below). The portable versions (no FMA) are kept for CPUs without AVX2 and
//! tested, but not taken there: the GEMM paths were not measured slower than them.

use super::{Geom, Ptr, gather2, par_for_init, valid_range};
use alloc::vec;
use alloc::vec::Vec;

/// Output channels per tile (the broadcast weights of one tap).
const COB: usize = 4;

/// The kernel set the direct path runs with.
// The portable kernels run only in tests; the x86 ones are not built elsewhere.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Isa {
    Portable,
    Avx2,
    Avx512,
}

/// The best SIMD kernels this CPU runs, or None (then the direct path is not taken).
pub(super) fn detect() -> Option<Isa> {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return Some(Isa::Avx512);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Some(Isa::Avx2);
        }
    }
    None
}

/// One tile: `out[c * os + q] = sum over ci, t of w[ci][t][c] * x[ci * ps + offs[t] + q]` for
/// `c < COB` and `q < NV * L`.
type TileFn = unsafe fn(x: *const f32, ps: usize, c_in: usize, offs: &[usize], w: *const f32, out: *mut f32, os: usize);

/// Lanes per vector and the tile functions for 1..=NV vectors.
struct Kernels {
    lanes: usize,
    tiles: &'static [TileFn],
}

fn kernels(isa: Isa) -> Kernels {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Kernels { lanes: 16, tiles: &[avx512::tile::<1>, avx512::tile::<2>, avx512::tile::<3>, avx512::tile::<4>, avx512::tile::<5>, avx512::tile::<6>] },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => Kernels { lanes: 8, tiles: &[avx2::tile::<1>, avx2::tile::<2>] },
        _ => Kernels { lanes: portable::L, tiles: &[portable::tile::<1>, portable::tile::<2>] },
    }
}

/// Defines module `$m` with `tile::<NV>` for one instruction set (`$v` vectors of `$l` floats).
#[cfg(target_arch = "x86_64")]
macro_rules! simd_tile {
    ($m:ident, $feat:literal, $l:expr, $v:ty, $zero:ident, $set1:ident, $load:ident, $fma:ident, $store:ident) => {
        mod $m {
            use super::COB;
            use core::arch::x86_64::*;
            const L: usize = $l;
            /// Safety: the CPU has the features; `x` is readable for every `ci * ps + offs[t] + q`
            /// and `w` for `c_in * offs.len() * COB` floats; `out` writable at `c * os + q`.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn tile<const NV: usize>(x: *const f32, ps: usize, c_in: usize, offs: &[usize], w: *const f32, out: *mut f32, os: usize) {
                unsafe {
                    let mut acc: [[$v; NV]; COB] = [[$zero(); NV]; COB];
                    let nt = offs.len();
                    for ci in 0..c_in {
                        let xc = x.add(ci * ps);
                        let wc = w.add(ci * nt * COB);
                        for (t, &off) in offs.iter().enumerate() {
                            let wt = wc.add(t * COB);
                            let mut wv: [$v; COB] = [$zero(); COB];
                            for c in 0..COB {
                                wv[c] = $set1(*wt.add(c));
                            }
                            let xt = xc.add(off);
                            for v in 0..NV {
                                let xv = $load(xt.add(v * L));
                                for c in 0..COB {
                                    acc[c][v] = $fma(wv[c], xv, acc[c][v]);
                                }
                            }
                        }
                    }
                    for c in 0..COB {
                        for v in 0..NV {
                            $store(out.add(c * os + v * L), acc[c][v]);
                        }
                    }
                }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
simd_tile!(avx512, "avx512f", 16, __m512, _mm512_setzero_ps, _mm512_set1_ps, _mm512_loadu_ps, _mm512_fmadd_ps, _mm512_storeu_ps);
#[cfg(target_arch = "x86_64")]
simd_tile!(avx2, "avx2,fma", 8, __m256, _mm256_setzero_ps, _mm256_set1_ps, _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_storeu_ps);

// Index loops over the tile's arrays on purpose (they mirror the SIMD versions).
#[allow(clippy::needless_range_loop)]
mod portable {
    use super::COB;
    pub(super) const L: usize = 8;
    /// The weight-gradient tile with plain arrays.
    pub(super) unsafe fn tile_w<const NT: usize>(x: *const f32, offs: &[usize], dy: *const f32, dys: usize, nvec: usize, acc: *mut f32, acs: usize) {
        let mut a = [[[0.0f32; L]; NT]; COB];
        for v in 0..nvec {
            for c in 0..COB {
                // Safety: as for the SIMD tiles.
                let d = unsafe { core::slice::from_raw_parts(dy.add(c * dys + v * L), L) };
                for j in 0..NT {
                    let xv = unsafe { core::slice::from_raw_parts(x.add(offs[j] + v * L), L) };
                    for l in 0..L {
                        a[c][j][l] += d[l] * xv[l];
                    }
                }
            }
        }
        for c in 0..COB {
            for j in 0..NT {
                let p = unsafe { core::slice::from_raw_parts_mut(acc.add(c * acs + j * L), L) };
                for l in 0..L {
                    p[l] += a[c][j][l];
                }
            }
        }
    }
    /// The same tile with plain arrays (multiply, then add).
    pub(super) unsafe fn tile<const NV: usize>(x: *const f32, ps: usize, c_in: usize, offs: &[usize], w: *const f32, out: *mut f32, os: usize) {
        let mut acc = [[[0.0f32; L]; NV]; COB];
        let nt = offs.len();
        for ci in 0..c_in {
            for (t, &off) in offs.iter().enumerate() {
                // Safety: as for the SIMD tiles.
                let wt = unsafe { core::slice::from_raw_parts(w.add((ci * nt + t) * COB), COB) };
                let xt = unsafe { core::slice::from_raw_parts(x.add(ci * ps + off), NV * L) };
                for v in 0..NV {
                    for c in 0..COB {
                        for l in 0..L {
                            acc[c][v][l] += wt[c] * xt[v * L + l];
                        }
                    }
                }
            }
        }
        for c in 0..COB {
            for v in 0..NV {
                unsafe { core::slice::from_raw_parts_mut(out.add(c * os + v * L), L) }.copy_from_slice(&acc[c][v]);
            }
        }
    }
}

/// Weights `w[c_out][c_in][kh][kw]` as `[block of COB][c_in][tap][COB]`, zero past `c_out`.
fn pack_weights(w: &[f32], g: &Geom) -> Vec<f32> {
    let (nt, nblk) = (g.kh * g.kw, g.c_out.div_ceil(COB));
    let mut out = vec![0.0f32; nblk * g.c_in * nt * COB];
    for co in 0..g.c_out {
        let (blk, c) = (co / COB, co % COB);
        for ci in 0..g.c_in {
            for t in 0..nt {
                out[((blk * g.c_in + ci) * nt + t) * COB + c] = w[(co * g.c_in + ci) * nt + t];
            }
        }
    }
    out
}

/// `conv(x, w)` (no bias) for an undilated, ungrouped convolution with equal strides, `[batch, c_out, oh, ow]`.
pub(super) fn forward(x: &[f32], w: &[f32], g: &Geom, isa: Isa) -> Vec<f32> {
    let (p, hw) = (g.oh * g.ow, g.h * g.w);
    let len = g.batch * g.c_out * p;
    if len == 0 {
        return vec![0.0; len];
    }
    let kern = kernels(isa);
    let (l, nvmax) = (kern.lanes, kern.tiles.len());
    // Stride s: the padded input is split into s * s phase planes (row and column remainders mod
    // s), `phase[ry][rx][r][c] = xpad[r * s + ry][c * s + rx]`, so tap (ky, kx) reads phase
    // (ky % s, kx % s) at a fixed offset `(ky / s) * wq + kx / s` from the output position
    // `q = oy * wq + ox`, as in the stride-1 case (one phase).
    let st = g.stride[0];
    let (hq, wq) = (g.oh + (g.kh - 1) / st, g.ow + (g.kw - 1) / st);
    let phsz = hq * wq;
    let ps = st * st * phsz;
    // Positions up to the last real output, in whole vectors (the last may run past it).
    let qn = (g.oh - 1) * wq + g.ow;
    let nvec = qn.div_ceil(l);
    let offs: Vec<usize> = (0..g.kh * g.kw)
        .map(|t| {
            let (ky, kx) = (t / g.kw, t % g.kw);
            ((ky % st) * st + kx % st) * phsz + (ky / st) * wq + kx / st
        })
        .collect();
    let wk = pack_weights(w, g);
    let nblk = g.c_out.div_ceil(COB);
    // Samples are the tasks; with fewer than two per thread, blocks of output channels as well.
    #[cfg(feature = "rayon")]
    let threads = rayon::current_num_threads();
    #[cfg(not(feature = "rayon"))]
    let threads = 1usize;
    let parts = if g.batch >= 2 * threads { 1 } else { (2 * threads).div_ceil(g.batch).min(nblk) };
    let per_part = nblk.div_ceil(parts);
    let parts = nblk.div_ceil(per_part);
    // Input reads of the last tile run up to `nvmax` vectors past the last plane.
    let xlen = g.c_in * ps + nvmax * l;
    let os = nvmax * l;
    // Every element of y is written below (each output by exactly one task), so y is not zeroed
    // first: that memset alone took a tenth of the 16-channel layers' time, on one thread.
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let y_ptr = Ptr(y.as_mut_ptr());
    let init = || (vec![0.0f32; xlen], vec![0.0f32; COB * os]);
    par_for_init(g.batch * parts, init, |(xpad, tout), task| {
        let y_ptr = &y_ptr;
        let (b, part) = (task / parts, task % parts);
        let (blk0, blk1) = (part * per_part, ((part + 1) * per_part).min(nblk));
        // The sample's planes, zero-padded and split into phases (the borders and the tail are
        // zero from the allocation and never written: every task copies the same rectangles).
        for ci in 0..g.c_in {
            let src = &x[(b * g.c_in + ci) * hw..][..hw];
            for ry in 0..st {
                let (r0, r1) = valid_range(ry, g.pad[0], st, g.h, hq);
                for rx in 0..st {
                    let (c0, c1) = valid_range(rx, g.pad[1], st, g.w, wq);
                    if c0 == c1 {
                        continue;
                    }
                    let ix0 = c0 * st + rx - g.pad[1];
                    let dst = &mut xpad[ci * ps + (ry * st + rx) * phsz..][..phsz];
                    for r in r0..r1 {
                        let (row, d) = (&src[(r * st + ry - g.pad[0]) * g.w..][..g.w], &mut dst[r * wq..][c0..c1]);
                        match st {
                            1 => d.copy_from_slice(&row[ix0..ix0 + (c1 - c0)]),
                            2 => gather2(d, &row[ix0..]),
                            _ => d.iter_mut().zip(row[ix0..].iter().step_by(st)).for_each(|(d, s)| *d = *s),
                        }
                    }
                }
            }
        }
        let xp = xpad.as_ptr();
        for v0 in (0..nvec).step_by(nvmax) {
            let nv = nvmax.min(nvec - v0);
            let (q0, q1) = (v0 * l, ((v0 + nv) * l).min(qn));
            for blk in blk0..blk1 {
                // Safety: the reads stay inside xpad (sized for the last tile's overrun) and wk;
                // the writes inside tout.
                unsafe {
                    kern.tiles[nv - 1](xp.add(q0), ps, g.c_in, &offs, wk.as_ptr().add(blk * g.c_in * offs.len() * COB), tout.as_mut_ptr(), os);
                }
                // The tile's real outputs into y while they are in L1 (positions in the padding
                // columns are dropped).
                for c in 0..COB.min(g.c_out - blk * COB) {
                    let co = blk * COB + c;
                    let src = &tout[c * os..];
                    let mut q = q0;
                    while q < q1 {
                        let (oy, ox) = (q / wq, q % wq);
                        if ox >= g.ow {
                            q = (oy + 1) * wq;
                            continue;
                        }
                        let n = (g.ow - ox).min(q1 - q);
                        // Safety: each task writes the planes of its own channels of its own sample.
                        unsafe {
                            let dst = y_ptr.0.add((b * g.c_out + co) * p + oy * g.ow + ox);
                            core::ptr::copy_nonoverlapping(src[q - q0..][..n].as_ptr(), dst, n);
                        }
                        q += n;
                    }
                }
            }
        }
    });
    // Safety: the tasks wrote every output: each (sample, channel) plane by one task, each of its
    // rows whole (the tiles cover positions 0..qn, which hold every real output).
    unsafe { y.set_len(len) };
    y
}

// Weight gradient of stride-1 layers: dW[co][ci][t] = sum over samples and positions q of
// dy[co][q] * xpad[ci][q + off_t], with dy laid out on the same wide grid (zero in the padding
// columns and past the last output). A tile of `COB` output channels by up to `NT` (input
// channel, tap) pairs keeps one vector accumulator per pair over every position of a sample:
// per vector of positions `COB` loads of dy, `NT` loads of the input and `COB * NT` fused
// multiply-adds; the lanes are summed only once, at the end. Samples are taken in a fixed number
// of groups (by the batch size alone), each group's vector sums kept apart and added in group
// order, so results do not depend on the thread count.

/// Samples split into this many groups (each a task with its own accumulators).
const W_GROUPS: usize = 2;

/// One weight-gradient tile: for `c < COB`, `j < NT`:
/// `acc[c * acs + j * L..][..L] += sum over v < nvec of dy[c * dys + v * L..] * x[offs[j] + v * L..]`.
type TileWFn = unsafe fn(x: *const f32, offs: &[usize], dy: *const f32, dys: usize, nvec: usize, acc: *mut f32, acs: usize);

/// Lanes per vector and the weight-gradient tiles for 1..=NT pairs.
struct KernelsW {
    lanes: usize,
    tiles: &'static [TileWFn],
}

fn kernels_w(isa: Isa) -> KernelsW {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => KernelsW { lanes: 16, tiles: &[avx512w::tile::<1>, avx512w::tile::<2>, avx512w::tile::<3>, avx512w::tile::<4>, avx512w::tile::<5>, avx512w::tile::<6>] },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => KernelsW { lanes: 8, tiles: &[avx2w::tile::<1>, avx2w::tile::<2>] },
        _ => KernelsW { lanes: portable::L, tiles: &[portable::tile_w::<1>, portable::tile_w::<2>] },
    }
}

/// Defines module `$m` with the weight-gradient `tile::<NT>` for one instruction set.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_tile_w {
    ($m:ident, $feat:literal, $l:expr, $v:ty, $zero:ident, $load:ident, $add:ident, $fma:ident, $store:ident) => {
        mod $m {
            use super::COB;
            use core::arch::x86_64::*;
            const L: usize = $l;
            /// Safety: the CPU has the features; `x` is readable at `offs[j] + q` and `dy` at
            /// `c * dys + q` for `q < nvec * L`; `acc` readable and writable at `c * acs + j * L + l`.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn tile<const NT: usize>(x: *const f32, offs: &[usize], dy: *const f32, dys: usize, nvec: usize, acc: *mut f32, acs: usize) {
                unsafe {
                    let mut a: [[$v; NT]; COB] = [[$zero(); NT]; COB];
                    let mut xo = [x; NT];
                    for j in 0..NT {
                        xo[j] = x.add(offs[j]);
                    }
                    for v in 0..nvec {
                        let q = v * L;
                        let mut d: [$v; COB] = [$zero(); COB];
                        for c in 0..COB {
                            d[c] = $load(dy.add(c * dys + q));
                        }
                        for j in 0..NT {
                            let xv = $load(xo[j].add(q));
                            for c in 0..COB {
                                a[c][j] = $fma(d[c], xv, a[c][j]);
                            }
                        }
                    }
                    for c in 0..COB {
                        for j in 0..NT {
                            let p = acc.add(c * acs + j * L);
                            $store(p, $add($load(p), a[c][j]));
                        }
                    }
                }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
simd_tile_w!(avx512w, "avx512f", 16, __m512, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_add_ps, _mm512_fmadd_ps, _mm512_storeu_ps);
#[cfg(target_arch = "x86_64")]
simd_tile_w!(avx2w, "avx2,fma", 8, __m256, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_add_ps, _mm256_fmadd_ps, _mm256_storeu_ps);

/// dW `[c_out][c_in][kh][kw]` of a stride-1, undilated, ungrouped convolution.
pub(super) fn backward_w(x: &[f32], dy: &[f32], g: &Geom, isa: Isa) -> Vec<f32> {
    let (p, hw, nt) = (g.oh * g.ow, g.h * g.w, g.kh * g.kw);
    let kk = g.c_in * nt;
    let mut dw = vec![0.0f32; g.c_out * kk];
    if p == 0 || g.batch == 0 || dw.is_empty() {
        return dw;
    }
    let kern = kernels_w(isa);
    let (l, ntmax) = (kern.lanes, kern.tiles.len());
    let (hp, wp) = (g.oh + g.kh - 1, g.ow + g.kw - 1);
    // Each input plane is followed by a vector of zeros: the last vector of positions reads up to
    // `l - 1` floats past its plane, where dy is zero; reading zeros there (not the next plane)
    // keeps an infinite input in one channel from turning another channel's gradient into NaN.
    let ps = hp * wp + l;
    let nvec = ((g.oh - 1) * wp + g.ow).div_ceil(l);
    let qpad = nvec * l;
    let nblk = g.c_out.div_ceil(COB);
    let njt = kk.div_ceil(ntmax);
    // Accumulators of one group: `[blk][jt][c][j][lane]`.
    let acs = ntmax * l;
    let alen = nblk * njt * COB * acs;
    let groups = W_GROUPS.min(g.batch);
    let per_group = g.batch.div_ceil(groups);
    let mut accs = vec![0.0f32; groups * alen];
    let init = || (vec![0.0f32; g.c_in * ps], vec![0.0f32; nblk * COB * qpad]);
    super::par_chunks_init(&mut accs, alen, init, |(xpad, dyw), gi, acc| {
        for b in gi * per_group..((gi + 1) * per_group).min(g.batch) {
            // The sample's input, zero-padded, and dy on the wide grid (the zeros around both are
            // from the allocation: every sample writes the same positions).
            for ci in 0..g.c_in {
                let src = &x[(b * g.c_in + ci) * hw..][..hw];
                let dst = &mut xpad[ci * ps..][..hp * wp];
                for iy in 0..g.h {
                    dst[(iy + g.pad[0]) * wp + g.pad[1]..][..g.w].copy_from_slice(&src[iy * g.w..][..g.w]);
                }
            }
            for co in 0..g.c_out {
                let src = &dy[(b * g.c_out + co) * p..][..p];
                let dst = &mut dyw[co * qpad..][..qpad];
                for oy in 0..g.oh {
                    dst[oy * wp..][..g.ow].copy_from_slice(&src[oy * g.ow..][..g.ow]);
                }
            }
            for jt in 0..njt {
                let (j0, n) = (jt * ntmax, ntmax.min(kk - jt * ntmax));
                let offs: [usize; 8] = core::array::from_fn(|j| {
                    let jj = (j0 + j).min(kk - 1);
                    let (ci, t) = (jj / nt, jj % nt);
                    ci * ps + (t / g.kw) * wp + t % g.kw
                });
                for blk in 0..nblk {
                    // Safety: reads inside xpad (each position plus its tap offset stays inside
                    // the plane and its zero tail) and dyw; writes inside this group's accumulators.
                    unsafe {
                        kern.tiles[n - 1](xpad.as_ptr(), &offs[..n], dyw.as_ptr().add(blk * COB * qpad), qpad, nvec, acc.as_mut_ptr().add((blk * njt + jt) * COB * acs), acs);
                    }
                }
            }
        }
    });
    // Groups added in order, then the lanes of each accumulator summed in order.
    let (first, rest) = accs.split_at_mut(alen);
    for r in rest.chunks(alen) {
        for (a, b) in first.iter_mut().zip(r) {
            *a += b;
        }
    }
    for co in 0..g.c_out {
        let (blk, c) = (co / COB, co % COB);
        for (jj, d) in dw[co * kk..][..kk].iter_mut().enumerate() {
            let (jt, j) = (jj / ntmax, jj % ntmax);
            *d = first[(blk * njt + jt) * COB * acs + c * acs + j * l..][..l].iter().sum();
        }
    }
    dw
}
