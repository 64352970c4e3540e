//! 2D convolution for training (f32, NCHW), lowered so the GEMMs are large (pepr patch).
//!
//! burn-flex's own forward runs one im2col GEMM per (sample, 512-pixel tile), and burn's default
//! backward computes the input gradient as a transposed convolution and the weight gradient as a
//! convolution whose kernel is the output gradient (one GEMM per input channel, N = kh * kw).
//! Deep layers of small images then give GEMMs a few columns wide, which run far below the
//! machine's peak. Here the batch is folded into the GEMM's N dimension instead:
//!
//! - forward:         y[co, (b, p)]  = W[co, K] @ col[K, (b, p)]          (col = im2col of x)
//! - weight gradient: dW[co, K]     += dy[co, (b, p)] @ col[K, (b, p)]^T  (one GEMM per chunk)
//! - input gradient:  dcol[K, (b, p)] = W^T[K, co] @ dy[co, (b, p)], then col2im adds into dx
//!
//! with K = c_in/groups * kh * kw and p the output pixels. Samples are taken in chunks so the
//! column buffer stays under [`COL_LIMIT`] floats. Depthwise convolutions (one input and one output
//! channel per group) have no useful GEMM and use direct loops over blocks of channels, parallel
//! over (sample, channel block).

use alloc::vec;
use alloc::vec::Vec;

#[path = "conv2d_direct.rs"]
mod direct;

/// The most floats a column buffer holds (4 MiB); batches are split into chunks below it. The
/// buffers stay in the pool between steps, so this bounds memory that counts in the peak; 4 MiB
/// still gives GEMMs over a thousand columns in the layers that reach it (resnet18 at 64 px: 7
/// samples of 256 pixels in layer 1). It was 32 MiB, then 8 MiB.
const COL_LIMIT: usize = 1 << 20;

/// Shape of one 2D convolution. Padding may differ at the two ends of each axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    /// Padding before the first row / column.
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geom {
    /// Input channels per group.
    fn cin_g(&self) -> usize {
        self.c_in / self.groups
    }
    fn cout_g(&self) -> usize {
        self.c_out / self.groups
    }
    /// Rows of the column matrix of one group.
    fn k(&self) -> usize {
        self.cin_g() * self.kh * self.kw
    }
    fn p(&self) -> usize {
        self.oh * self.ow
    }
    /// One input and one output channel per group: direct loops instead of GEMMs.
    /// 1x1, stride 1, unpadded, undilated, not depthwise: the column matrix is the input itself.
    fn plain_1x1(&self) -> bool {
        (self.kh, self.kw) == (1, 1)
            && self.stride == [1, 1]
            && self.pad == [0, 0]
            && (self.oh, self.ow) == (self.h, self.w)
            && !self.is_depthwise()
    }
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.c_in && self.groups == self.c_out
    }
    /// Samples per chunk: as many as keep the column buffer under the limit (at least one).
    /// Planes of 1024+ pixels run one GEMM per sample anyway, so their chunks only batch the
    /// im2col / col2im passes: a quarter of the limit (1 MiB) keeps the column matrix in L2 between
    /// the GEMM and those passes (stride-2 layers at 64 px: forward 0.6-0.7x, LeNet's first layer's
    /// input gradient 0.65x).
    fn chunk(&self) -> usize {
        let per_sample = (self.k() * self.p()).max(1);
        let limit = if self.per_sample() { COL_LIMIT / 4 } else { COL_LIMIT };
        (limit / per_sample).clamp(1, self.batch.max(1))
    }
    /// Planes large enough for one GEMM per sample (N = output pixels), reading and writing the
    /// sample's planes of y / dy in place instead of gathering them into a `[c_out, (b, p)]`
    /// buffer and copying back.
    fn per_sample(&self) -> bool {
        self.p() >= 1024
    }
    /// The same for the input gradient, where 3x3 kernels on 32x32 outputs measured 1.2x slower
    /// per sample than folded (7 smaller parallel GEMMs instead of one): from 64x64, or 1x1.
    /// Weight gradient of planes of 4096+ pixels whose column matrix per sample is over 1 MiB:
    /// im2col and GEMM in blocks of rows (16 channels at 64x64: 0.86-0.91x; LeNet's first layer
    /// 0.57x; 32 channels at 32x32, split in two, measured 1.05x, hence 4096 pixels).
    fn split_w(&self) -> bool {
        self.p() >= 4096 && self.k() * self.p() > COL_LIMIT / 4
    }
    fn per_sample_x(&self) -> bool {
        self.p() >= 4096 || (self.per_sample() && self.kh * self.kw == 1)
    }
    /// Input rows `iy = oy * stride + ky * dilation - pad` (None when in the padding).
    #[inline]
    fn in_y(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride[0] + ky * self.dilation[0]).checked_sub(self.pad[0]).filter(|&y| y < self.h)
    }
    /// Output columns `ox` whose input column lies inside the image for kernel column `kx`:
    /// a half-open range, so the inner loops need no bounds checks.
    #[inline]
    fn ox_range(&self, kx: usize) -> (usize, usize) {
        valid_range(kx * self.dilation[1], self.pad[1], self.stride[1], self.w, self.ow)
    }
}

/// Outputs `o` in `[0, n_out)` with `0 <= o * stride + offset - pad < size`.
fn valid_range(offset: usize, pad: usize, stride: usize, size: usize, n_out: usize) -> (usize, usize) {
    // o * stride >= pad - offset
    let lo = if pad > offset { (pad - offset).div_ceil(stride) } else { 0 };
    // o * stride + offset - pad <= size - 1
    let hi = if size + pad > offset { (size + pad - offset - 1) / stride + 1 } else { 0 };
    (lo.min(n_out), hi.min(n_out).max(lo.min(n_out)))
}

/// A work buffer (column matrix, gathered gradient) taken from a small pool and given back on drop,
/// so steps after the first reuse memory instead of faulting in fresh pages for every convolution.
/// Every user writes all of the buffer it reads, so old contents never leak into results.
struct Scratch(Vec<f32>);

#[cfg(feature = "std")]
static POOL: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());
/// Buffers kept between calls (a convolution holds at most two at once).
#[cfg(feature = "std")]
const POOL_KEEP: usize = 4;

impl Scratch {
    fn new(len: usize) -> Scratch {
        #[cfg(feature = "std")]
        let mut v = {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            // The smallest buffer that is big enough, else the biggest (grown below).
            let pick = pool
                .iter()
                .enumerate()
                .filter(|(_, b)| b.len() >= len)
                .min_by_key(|(_, b)| b.len())
                .or_else(|| pool.iter().enumerate().max_by_key(|(_, b)| b.len()))
                .map(|(i, _)| i);
            pick.map(|i| pool.swap_remove(i)).unwrap_or_default()
        };
        #[cfg(not(feature = "std"))]
        let mut v = Vec::new();
        if v.len() < len {
            v.resize(len, 0.0);
        }
        Scratch(v)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        #[cfg(feature = "std")]
        if self.0.capacity() > 0 {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            pool.push(core::mem::take(&mut self.0));
            if pool.len() > POOL_KEEP {
                // Drop the smallest.
                let i = pool.iter().enumerate().min_by_key(|(_, b)| b.len()).map(|(i, _)| i).unwrap_or(0);
                pool.swap_remove(i);
            }
        }
    }
}

impl core::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl core::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

#[derive(Clone, Copy)]
struct Ptr(*mut f32);
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// `dst[m, n] (+)= lhs[m, k] @ rhs[k, n]`, each given by its row and column strides.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    dst_cs: isize,
    accumulate: bool,
    lhs: *const f32,
    lhs_rs: isize,
    lhs_cs: isize,
    rhs: *const f32,
    rhs_rs: isize,
    rhs_cs: isize,
) {
    unsafe { gemm_par(m >= 1 && m * n * k >= 1 << 18, m, n, k, dst, dst_rs, dst_cs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs) }
}

/// [`gemm`] on the calling thread only when `par` is false (callers that split the work themselves).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_par(
    par: bool,
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    dst_cs: isize,
    accumulate: bool,
    lhs: *const f32,
    lhs_rs: isize,
    lhs_cs: isize,
    rhs: *const f32,
    rhs_rs: isize,
    rhs_cs: isize,
) {
    let par = if par {
        #[cfg(feature = "rayon")]
        {
            gemm::Parallelism::Rayon(0)
        }
        #[cfg(not(feature = "rayon"))]
        {
            gemm::Parallelism::None
        }
    } else {
        gemm::Parallelism::None
    };
    unsafe {
        gemm::gemm(
            m, n, k, dst, dst_cs, dst_rs, accumulate, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs, 1.0, 1.0, false,
            false, false, par,
        );
    }
}

/// Runs `f(i, chunk)` over `chunks_mut(size)`, in parallel when rayon is on.
fn par_chunks(data: &mut [f32], size: usize, f: impl Fn(usize, &mut [f32]) + Send + Sync) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
    }
    #[cfg(not(feature = "rayon"))]
    data.chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
}

/// [`par_chunks`] with one `init()` state (work buffers) per worker.
fn par_chunks_init<S>(data: &mut [f32], size: usize, init: impl Fn() -> S + Send + Sync, f: impl Fn(&mut S, usize, &mut [f32]) + Send + Sync) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(size).enumerate().for_each_init(init, |s, (i, c)| f(s, i, c));
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut s = init();
        data.chunks_mut(size).enumerate().for_each(|(i, c)| f(&mut s, i, c));
    }
}

/// Runs `f(i)` for `i` in `0..n`, in parallel when rayon is on.
fn par_for(n: usize, f: impl Fn(usize) + Send + Sync) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(f);
    }
    #[cfg(not(feature = "rayon"))]
    (0..n).for_each(f);
}

/// im2col of samples `b0..b0 + nb`, channels of group `gi`: `col[K, nb * P]`.
fn im2col(x: &[f32], g: &Geom, gi: usize, b0: usize, nb: usize, col: &mut [f32]) {
    im2col_rows(x, g, gi, b0, nb, 0, g.k(), col)
}

#[allow(clippy::too_many_arguments)]
fn im2col_rows(x: &[f32], g: &Geom, gi: usize, b0: usize, nb: usize, r0: usize, r1: usize, col: &mut [f32]) {
    let (p, hw) = (g.p(), g.h * g.w);
    let row = nb * p;
    par_chunks(&mut col[..(r1 - r0) * row], row, |r, out| {
        let r = r + r0;
        let kx = r % g.kw;
        let ky = (r / g.kw) % g.kh;
        let ci = gi * g.cin_g() + r / (g.kw * g.kh);
        let (ox0, ox1) = g.ox_range(kx);
        for b in 0..nb {
            let plane = &x[((b0 + b) * g.c_in + ci) * hw..][..hw];
            for oy in 0..g.oh {
                let dst = &mut out[b * p + oy * g.ow..][..g.ow];
                let Some(iy) = g.in_y(oy, ky) else {
                    dst.fill(0.0);
                    continue;
                };
                dst[..ox0].fill(0.0);
                dst[ox1..].fill(0.0);
                if ox0 == ox1 {
                    continue;
                }
                let src = &plane[iy * g.w..][..g.w];
                let ix0 = ox0 * g.stride[1] + kx * g.dilation[1] - g.pad[1];
                match g.stride[1] {
                    1 => dst[ox0..ox1].copy_from_slice(&src[ix0..ix0 + (ox1 - ox0)]),
                    2 => gather2(&mut dst[ox0..ox1], &src[ix0..]),
                    s => {
                        for (o, d) in dst[ox0..ox1].iter_mut().enumerate() {
                            *d = src[ix0 + o * s];
                        }
                    }
                }
            }
        }
    });
}

/// `dst[o] = src[2 * o]`: pairs of floats, so the loop compiles to vector loads and shuffles where
/// indexing with a run-time stride was a bounds-checked scalar loop (the stride-2 im2col took as
/// long as its GEMM).
#[inline]
fn gather2(dst: &mut [f32], src: &[f32]) {
    let Some((last, head)) = dst.split_last_mut() else { return };
    let n = head.len();
    for (d, pair) in head.iter_mut().zip(src[..2 * n].chunks_exact(2)) {
        *d = pair[0];
    }
    *last = src[2 * n];
}

/// `dst[2 * o] += src[o]`, the transpose of [`gather2`] (pairs, so the loop vectorises).
#[inline]
fn scatter2(dst: &mut [f32], src: &[f32]) {
    let Some((last, head)) = src.split_last() else { return };
    let n = head.len();
    for (pair, s) in dst[..2 * n].chunks_exact_mut(2).zip(head) {
        pair[0] += s;
    }
    dst[2 * n] += last;
}

/// col2im: adds `col[K, nb * P]` of group `gi` into `dx` (samples `b0..b0 + nb`).
fn col2im(col: &[f32], g: &Geom, gi: usize, b0: usize, nb: usize, dx: &mut [f32]) {
    let (p, hw) = (g.p(), g.h * g.w);
    let row = nb * p;
    let dx_ptr = Ptr(dx.as_mut_ptr());
    let ksz = g.kh * g.kw;
    // One task per input channel: it alone writes that channel's planes.
    par_for(g.cin_g(), |cl| {
        let dx_ptr = dx_ptr;
        let ci = gi * g.cin_g() + cl;
        for b in 0..nb {
            // Safety: plane (b0 + b, ci) is written only by this task.
            let plane = unsafe { core::slice::from_raw_parts_mut(dx_ptr.0.add(((b0 + b) * g.c_in + ci) * hw), hw) };
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let src_row = &col[(cl * ksz + ky * g.kw + kx) * row + b * p..][..p];
                    let (ox0, ox1) = g.ox_range(kx);
                    if ox0 >= ox1 {
                        continue;
                    }
                    let ix0 = ox0 * g.stride[1] + kx * g.dilation[1] - g.pad[1];
                    for oy in 0..g.oh {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        let src = &src_row[oy * g.ow..][ox0..ox1];
                        let dst = &mut plane[iy * g.w..][..g.w];
                        if g.stride[1] == 1 {
                            for (d, s) in dst[ix0..ix0 + src.len()].iter_mut().zip(src) {
                                *d += s;
                            }
                        } else if g.stride[1] == 2 {
                            scatter2(&mut dst[ix0..], src);
                        } else {
                            // An iterator, not indexing: no bounds check per element (0.86-0.92x
                            // of the input gradient's CPU time on stride-2 layers).
                            for (d, s) in dst[ix0..].iter_mut().step_by(g.stride[1]).zip(src) {
                                *d += s;
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Output gradient of group `gi`, samples `b0..b0 + nb`, as `[cout_g, nb * P]`.
fn gather_dy(dy: &[f32], g: &Geom, gi: usize, b0: usize, nb: usize, out: &mut [f32]) {
    let p = g.p();
    par_chunks(&mut out[..g.cout_g() * nb * p], nb * p, |co, row| {
        let c = gi * g.cout_g() + co;
        for b in 0..nb {
            row[b * p..][..p].copy_from_slice(&dy[((b0 + b) * g.c_out + c) * p..][..p]);
        }
    });
}

/// Forward convolution: `y[batch, c_out, oh, ow]`.
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Geom) -> Vec<f32> {
    if g.plain_1x1() && g.p() >= POINTWISE_MIN_PIXELS {
        return pointwise_forward(x, w, bias, g);
    }
    let mut y = if let Some(isa) = g.direct() {
        direct::forward(x, w, g, isa)
    } else if g.is_depthwise() || g.shift_ok() {
        let mut y = vec![0.0f32; g.batch * g.c_out * g.p()];
        if g.is_depthwise() {
            depthwise_forward(x, w, g, &mut y);
        } else {
            shift_forward(x, w, g, &mut y);
        }
        y
    } else {
        // Adds the bias itself where it copies its results out.
        return im2col_forward(x, w, bias, g);
    };
    if let Some(bias) = bias {
        add_bias(&mut y, bias, g);
    }
    y
}

/// Planes from which a plain 1x1 layer runs one GEMM per sample on its input in place. Below, the
/// per-sample GEMMs are too narrow (4 or 16 columns) and the batch-folded GEMM with its two copies
/// is faster. Chosen by interleaved runs of convnext_atto @64 inference (images/s, best of 6 at
/// load 5-6): folded everywhere 576, from 4 pixels 475, from 16 604, from 64 632, from 256 619;
/// efficientnet_b0 @64 (median of 6): 358 folded, 387 from 64; ghostnet_100 @64: 696 and 785.
const POINTWISE_MIN_PIXELS: usize = 64;

/// A 1x1, stride-1, unpadded layer's column matrix is its input: each sample's GEMM reads x in
/// place and writes y in place (no im2col copy, no copy back), its bias added while the
/// sample's planes are in cache. Samples in parallel, one thread each.
fn pointwise_forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Geom) -> Vec<f32> {
    let (k, cout_g, p) = (g.cin_g(), g.cout_g(), g.p());
    let len = g.batch * g.c_out * p;
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let y_ptr = Ptr(y.as_mut_ptr());
    par_for(g.batch * g.groups, |i| {
        let (b, gi) = (i / g.groups, i % g.groups);
        let y_ptr = &y_ptr;
        // Safety: each task writes its own sample's group of planes, inside y's capacity; the
        // GEMM does not read its destination.
        unsafe {
            let yb = y_ptr.0.add((b * g.c_out + gi * cout_g) * p);
            let xb = x[(b * g.c_in + gi * k) * p..].as_ptr();
            gemm_par(g.batch * g.groups == 1, cout_g, p, k, yb, p as isize, 1, false, w[gi * cout_g * k..].as_ptr(), k as isize, 1, xb, p as isize, 1);
            if let Some(bias) = bias {
                add_bias_seq(core::slice::from_raw_parts_mut(yb, cout_g * p), &bias[gi * cout_g..][..cout_g]);
            }
        }
    });
    // Safety: every (sample, group) task wrote its planes.
    unsafe { y.set_len(len) };
    y
}

/// `y[b, c, :] += bias[c]`.
fn add_bias(y: &mut [f32], bias: &[f32], g: &Geom) {
    par_chunks(y, g.p().max(1), |i, planes| add_bias_seq(planes, &bias[i % g.c_out..][..1]));
}

/// `planes[c, :] += bias[c]` on the calling thread, for consecutive planes of one sample.
fn add_bias_seq(planes: &mut [f32], bias: &[f32]) {
    let p = planes.len() / bias.len();
    for (plane, v) in planes.chunks_mut(p.max(1)).zip(bias) {
        plane.iter_mut().for_each(|y| *y += v);
    }
}

/// The forward pass as im2col GEMMs. The output is written exactly once, straight from the GEMM
/// or by the copy out of the folded GEMM's result (which adds the bias on the way), so it is
/// not zero-filled first: that fill and a separate bias pass were 4% of a convnext_atto
/// inference pass, whose 1x1 layers all come here.
fn im2col_forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Geom) -> Vec<f32> {
    let (p, len) = (g.p(), g.batch * g.c_out * g.p());
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let y_ptr = Ptr(y.as_mut_ptr());
    let (k, cout_g, chunk) = (g.k(), g.cout_g(), g.chunk());
    let mut col = Scratch::new(k * chunk * p);
    let mut out = if g.per_sample() { Scratch(Vec::new()) } else { Scratch::new(cout_g * chunk * p) };
    for gi in 0..g.groups {
        for b0 in (0..g.batch).step_by(chunk) {
            let nb = chunk.min(g.batch - b0);
            let n = nb * p;
            im2col(x, g, gi, b0, nb, &mut col);
            let wg = &w[gi * cout_g * k..];
            if g.per_sample() {
                // Straight into y: y[b, group's channels] = W @ col[:, b's columns] (the GEMM
                // does not read its destination).
                for b in 0..nb {
                    unsafe {
                        let yb = y_ptr.0.add(((b0 + b) * g.c_out + gi * cout_g) * p);
                        gemm(cout_g, p, k, yb, p as isize, 1, false, wg.as_ptr(), k as isize, 1, col.as_ptr().add(b * p), n as isize, 1);
                    }
                }
                continue;
            }
            unsafe {
                gemm(cout_g, n, k, out.as_mut_ptr(), n as isize, 1, false, wg.as_ptr(), k as isize, 1, col.as_ptr(), n as isize, 1);
            }
            // [cout_g, (b, p)] -> y[b, c, p], plus the bias.
            let out = &*out;
            par_for(nb, |b| {
                let y_ptr = &y_ptr;
                for co in 0..cout_g {
                    let c = gi * cout_g + co;
                    let src = &out[co * n + b * p..][..p];
                    // Safety: each task writes its own sample's planes, inside y's capacity.
                    let dst = unsafe { y_ptr.0.add(((b0 + b) * g.c_out + c) * p) };
                    match bias {
                        Some(bias) => {
                            let v = bias[c];
                            for (i, s) in src.iter().enumerate() {
                                unsafe { dst.add(i).write(s + v) };
                            }
                        }
                        None => unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, p) },
                    }
                }
            });
        }
    }
    // Safety: every (sample, channel, pixel) was written above, by the GEMMs or the copies.
    unsafe { y.set_len(len) };
    if g.per_sample()
        && let Some(bias) = bias
    {
        add_bias(&mut y, bias, g);
    }
    y
}

/// Gradient of the input: `dx[batch, c_in, h, w]`.
pub fn backward_x(w: &[f32], dy: &[f32], g: &Geom) -> Vec<f32> {
    let gt = g.transposed();
    let direct = gt.and_then(|gt| gt.direct());
    let mut dx = if direct.is_some() { Vec::new() } else { vec![0.0f32; g.batch * g.c_in * g.h * g.w] };
    if g.is_depthwise() {
        depthwise_backward_x(w, dy, g, &mut dx);
        return dx;
    }
    if let Some(gt) = gt {
        // Stride 1: dx is the forward convolution of dy with the flipped, transposed kernel.
        let ksz = g.kh * g.kw;
        let mut wf = vec![0.0f32; w.len()];
        for co in 0..g.c_out {
            for ci in 0..g.c_in {
                for t in 0..ksz {
                    wf[(ci * g.c_out + co) * ksz + ksz - 1 - t] = w[(co * g.c_in + ci) * ksz + t];
                }
            }
        }
        match direct {
            Some(isa) => dx = direct::forward(dy, &wf, &gt, isa),
            None => shift_forward(dy, &wf, &gt, &mut dx),
        }
        return dx;
    }
    let (k, p, cout_g, chunk) = (g.k(), g.p(), g.cout_g(), g.chunk());
    let mut col = Scratch::new(k * chunk * p);
    let mut dyg = if g.per_sample_x() { Scratch(Vec::new()) } else { Scratch::new(cout_g * chunk * p) };
    for gi in 0..g.groups {
        let wg = &w[gi * cout_g * k..];
        for b0 in (0..g.batch).step_by(chunk) {
            let nb = chunk.min(g.batch - b0);
            let n = nb * p;
            if g.per_sample_x() {
                // dcol[K, b's columns] = W^T[K, cout_g] @ dy[b, group's channels], dy read in place.
                for b in 0..nb {
                    unsafe {
                        let dyb = dy.as_ptr().add(((b0 + b) * g.c_out + gi * cout_g) * p);
                        gemm(k, p, cout_g, col.as_mut_ptr().add(b * p), n as isize, 1, false, wg.as_ptr(), 1, k as isize, dyb, p as isize, 1);
                    }
                }
            } else {
                gather_dy(dy, g, gi, b0, nb, &mut dyg);
                // dcol[K, n] = W^T[K, cout_g] @ dy[cout_g, n]
                unsafe {
                    gemm(k, n, cout_g, col.as_mut_ptr(), n as isize, 1, false, wg.as_ptr(), 1, k as isize, dyg.as_ptr(), n as isize, 1);
                }
            }
            col2im(&col, g, gi, b0, nb, &mut dx);
        }
    }
    dx
}

/// Gradient of the weight: `dw[c_out, c_in / groups, kh, kw]`.
pub fn backward_w(x: &[f32], dy: &[f32], g: &Geom) -> Vec<f32> {
    if let Some(isa) = g.direct_w() {
        return direct::backward_w(x, dy, g, isa);
    }
    let k = g.k();
    let mut dw = vec![0.0f32; g.c_out * k];
    if g.is_depthwise() {
        depthwise_backward_w(x, dy, g, &mut dw);
        return dw;
    }
    let (p, cout_g, chunk) = (g.p(), g.cout_g(), g.chunk());
    let mut col = Scratch::new(k * chunk * p);
    let mut dyg = if g.per_sample() { Scratch(Vec::new()) } else { Scratch::new(cout_g * chunk * p) };
    // Column-major dW needs the gemm crate to pack dy instead of the column matrix: taken when
    // the column matrix is the larger operand (K >= c_out; 1x1 kernels widening the channels
    // measured 1.25x slower column-major).
    let col_major = cout_g <= 128 && k >= cout_g;
    // A plain allocation, not from the pool: a third, small pool buffer per call made the pool hand
    // its big buffers round differently every step (LeNet @64 grew 4-11 MiB over 5 steps).
    let mut dwt = if col_major { vec![0.0f32; k * cout_g] } else { Vec::new() };
    for gi in 0..g.groups {
        for (i, b0) in (0..g.batch).step_by(chunk).enumerate() {
            let nb = chunk.min(g.batch - b0);
            let n = nb * p;
            if g.split_w() && nb == 1 && col_major {
                // The sample's column matrix in row blocks of at most 1 MiB, each followed by its
                // GEMM into its own rows of dW (column-major), while it is still in L2.
                let kr = k.div_ceil((k * p).div_ceil(COL_LIMIT / 4));
                for r0 in (0..k).step_by(kr) {
                    let r1 = (r0 + kr).min(k);
                    im2col_rows(x, g, gi, b0, 1, r0, r1, &mut col);
                    unsafe {
                        let dyb = dy.as_ptr().add((b0 * g.c_out + gi * cout_g) * p);
                        gemm(cout_g, r1 - r0, p, dwt.as_mut_ptr().add(r0 * cout_g), 1, cout_g as isize, i > 0, dyb, p as isize, 1, col.as_ptr(), 1, p as isize);
                    }
                }
                continue;
            }
            im2col(x, g, gi, b0, nb, &mut col);
            if g.per_sample() {
                // Sample by sample, dy read in place; summed in sample order.
                for b in 0..nb {
                    let acc = i > 0 || b > 0;
                    unsafe {
                        let dyb = dy.as_ptr().add(((b0 + b) * g.c_out + gi * cout_g) * p);
                        let colb = col.as_ptr().add(b * p);
                        if col_major {
                            gemm(cout_g, k, p, dwt.as_mut_ptr(), 1, cout_g as isize, acc, dyb, p as isize, 1, colb, 1, n as isize);
                        } else {
                            gemm(cout_g, k, p, dw.as_mut_ptr().add(gi * cout_g * k), k as isize, 1, acc, dyb, p as isize, 1, colb, 1, n as isize);
                        }
                    }
                }
                continue;
            }
            gather_dy(dy, g, gi, b0, nb, &mut dyg);
            // dW[cout_g, K] (+)= dy[cout_g, n] @ col[K, n]^T. With few output channels dW is kept
            // column-major ([K][cout_g]): the gemm crate then reads the column matrix in place (its
            // rows are the GEMM's columns), where a row-major dW made it copy and transpose the
            // whole column matrix into its packed layout first (2.2x less CPU time on resnet8's
            // layers). Above 128 rows the crate packs that operand either way (on AVX-512).
            unsafe {
                if col_major {
                    gemm(cout_g, k, n, dwt.as_mut_ptr(), 1, cout_g as isize, i > 0, dyg.as_ptr(), n as isize, 1, col.as_ptr(), 1, n as isize);
                } else {
                    let dwg = &mut dw[gi * cout_g * k..];
                    gemm(cout_g, k, n, dwg.as_mut_ptr(), k as isize, 1, i > 0, dyg.as_ptr(), n as isize, 1, col.as_ptr(), 1, n as isize);
                }
            }
        }
        if col_major {
            let dwg = &mut dw[gi * cout_g * k..][..cout_g * k];
            for (co, row) in dwg.chunks_mut(k).enumerate() {
                for (t, v) in row.iter_mut().enumerate() {
                    *v = dwt[t * cout_g + co];
                }
            }
        }
    }
    dw
}

// Forward pass of stride-1 convolutions without im2col ("shifted GEMMs"). With the input
// zero-padded to `hp x wp = (oh + kh - 1) x (ow + kw - 1)` and the samples of a chunk laid one
// after the other (`xpad[c_in][b][hp][wp]`), kernel tap `(ky, kx)` reads the input at a fixed
// offset `ky * wp + kx` from the output position `q = (b * hp + oy) * wp + ox`, so
//
//     ywide[co, q] = sum over taps W_t[co, ci] @ xpad[ci, q + off_t]
//
// is one GEMM per tap over every output position of the chunk, with the input read in place: no
// column matrix (nine times the input for 3x3 kernels) is written and read back. The positions are
// taken in blocks of [`SHIFT_BLOCK`] floats (outputs plus inputs), all taps of a block in turn, so
// the block's outputs stay in L2 while the taps add into them. Outputs in the padding columns and
// rows of the wide grid are computed and dropped, so `shift_ok` takes this path only where that
// waste is small. Measured against the im2col GEMM (2 threads, batch 32, CPU time): 0.6-0.9x on
// 16-32 channels at 32x32 and 64x64, 0.4-0.8x at 16x16 (blocked; unblocked it was 0.98x there).
// The input gradient of stride-1 layers is the same computation on dy (`Geom::transposed`); the
// weight gradient done this way (per-tap GEMMs reducing over positions) measured 0.9-1.3x and keeps
// im2col.

#[cfg(test)]
std::thread_local! {
    /// Tests of the GEMM paths turn the direct kernels off on their thread.
    static NO_DIRECT: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    /// Tests of the direct kernels pick the instruction set (the portable one included).
    static FORCE_ISA: core::cell::Cell<Option<direct::Isa>> = const { core::cell::Cell::new(None) };
}

/// Layout of the padded chunk of the shifted path.
#[derive(Clone, Copy)]
struct Wide {
    hp: usize,
    wp: usize,
    /// Floats per channel of a chunk: `nb * hp * wp`.
    len: usize,
    /// Output positions a GEMM covers: up to the last real output pixel of the chunk.
    q: usize,
}

impl Geom {
    /// Stride 1, no dilation, one group, at least 8 input channels (each tap's GEMM sums over
    /// them), at most 64 output channels and padded planes at most 1.3x the output plane (3x3
    /// kernels: outputs from 16x16 up). Since the GEMMs run in cache-sized blocks, 16x16 planes
    /// measured 0.4-0.8x of the im2col path (was 0.98x unblocked) and 64 output channels 0.7-0.8x;
    /// 128 output channels measured 1.0-1.2x.
    fn shift_ok(&self) -> bool {
        self.groups == 1
            && self.stride == [1, 1]
            && self.dilation == [1, 1]
            && self.c_in >= 8
            && self.c_out <= 64
            && self.oh * self.ow > 0
            && 10 * (self.oh + self.kh - 1) * (self.ow + self.kw - 1) <= 13 * self.oh * self.ow
    }
    /// The input gradient of a stride-1 convolution as a forward convolution (dy in, dx out, kernel
    /// flipped and its channel axes swapped, padding `k - 1 - pad`), when that one takes the shifted
    /// path: then dx needs neither the `[K, (b, p)]` column matrix nor col2im's scattered adds
    /// (0.7-0.8x of the input gradient's CPU time on resnet20's 16- and 32-channel layers).
    fn transposed(&self) -> Option<Geom> {
        // Not 1x1: its input gradient is already one GEMM per sample with no col2im, and the
        // blocked per-tap path measured 1.12-1.22x of it (efficientnet_b0 @64's pointwise layers).
        if self.groups != 1 || self.stride != [1, 1] || self.dilation != [1, 1] || self.kh * self.kw == 1 {
            return None;
        }
        // Padding at most `k - 1` before and after (else some dy would fall outside the padded grid).
        let fits = |pad: usize, k: usize, n: usize, on: usize| pad < k && on <= n + pad;
        if !fits(self.pad[0], self.kh, self.h, self.oh) || !fits(self.pad[1], self.kw, self.w, self.ow) {
            return None;
        }
        let gt = Geom {
            batch: self.batch,
            c_in: self.c_out,
            h: self.oh,
            w: self.ow,
            c_out: self.c_in,
            kh: self.kh,
            kw: self.kw,
            stride: [1, 1],
            pad: [self.kh - 1 - self.pad[0], self.kw - 1 - self.pad[1]],
            dilation: [1, 1],
            groups: 1,
            oh: self.h,
            ow: self.w,
        };
        // On the shifted path up to 48 input channels (the transposed convolution's outputs): 64
        // measured 0.9-1.06x.
        (gt.direct().is_some() || (self.c_in <= 48 && gt.shift_ok())).then_some(gt)
    }
    /// The register-blocked direct kernels ([`direct`]) for stride-1 and stride-2 layers with at
    /// most 64 input and output channels (not 1x1), when the CPU has AVX2 + FMA or AVX-512.
    fn direct(&self) -> Option<direct::Isa> {
        #[cfg(test)]
        if NO_DIRECT.with(|c| c.get()) {
            return None;
        }
        let ok = self.groups == 1
            && (self.stride == [1, 1] || self.stride == [2, 2])
            && self.dilation == [1, 1]
            && self.kh * self.kw > 1
            && self.c_in <= 64
            && self.c_out <= 64
            && self.oh * self.ow > 0;
        if !ok {
            return None;
        }
        #[cfg(test)]
        if let Some(isa) = FORCE_ISA.with(|c| c.get()) {
            return Some(isa);
        }
        direct::detect()
    }
    /// The direct weight gradient: stride 1, up to 32 input and output channels. Its tiles keep
    /// one vector of partial sums per (output channel, input channel, tap) for a whole sample;
    /// with 64 channels those no longer stay in cache (1.4-2.2x the GEMM's time).
    fn direct_w(&self) -> Option<direct::Isa> {
        self.direct().filter(|_| self.stride == [1, 1] && self.c_in <= 32 && self.c_out <= 32)
    }
    fn wide(&self, nb: usize) -> Wide {
        let (hp, wp) = (self.oh + self.kh - 1, self.ow + self.kw - 1);
        Wide { hp, wp, len: nb * hp * wp, q: (nb - 1) * hp * wp + (self.oh - 1) * wp + self.ow }
    }
    /// Samples per chunk of the shifted path (its buffers hold `max(c_in, c_out)` padded planes).
    fn shift_chunk(&self) -> usize {
        let per_sample = (self.c_in.max(self.c_out) * self.wide(1).len).max(1);
        (COL_LIMIT / per_sample).clamp(1, self.batch.max(1))
    }
}

/// Copies `channels` planes `[hs, ws]` of samples `b0..b0 + nb` from `src[batch, channels, hs, ws]`
/// into `dst[channel][b][hp][wp]` at row/column offset `top`/`left`, zeroing everything else.
#[allow(clippy::too_many_arguments)]
fn pad_planes(src: &[f32], channels: usize, hs: usize, ws: usize, b0: usize, nb: usize, top: usize, left: usize, wd: Wide, dst: &mut [f32]) {
    par_chunks(&mut dst[..channels * wd.len], wd.len, |c, out| {
        for b in 0..nb {
            let plane = &src[((b0 + b) * channels + c) * hs * ws..][..hs * ws];
            for (r, row) in out[b * wd.hp * wd.wp..][..wd.hp * wd.wp].chunks_mut(wd.wp).enumerate() {
                match r.checked_sub(top).filter(|&sr| sr < hs) {
                    Some(sr) => {
                        let n = ws.min(wd.wp.saturating_sub(left));
                        let l = left.min(wd.wp);
                        row[..l].fill(0.0);
                        row[l..l + n].copy_from_slice(&plane[sr * ws..][..n]);
                        row[l + n..].fill(0.0);
                    }
                    None => row.fill(0.0),
                }
            }
        }
    });
}

/// The outputs of the wide grid: the top-left `[hs, ws]` of each padded plane of `src[channel][b][hp][wp]`
/// into `dst[batch, channels, hs, ws]` (samples `b0..b0 + nb`); the rest of the grid is dropped.
#[allow(clippy::too_many_arguments)]
fn crop_planes(src: &[f32], channels: usize, hs: usize, ws: usize, b0: usize, nb: usize, wd: Wide, dst: &mut [f32]) {
    let dst_ptr = Ptr(dst.as_mut_ptr());
    par_for(channels, |c| {
        let dst_ptr = dst_ptr;
        for b in 0..nb {
            // Safety: plane (b0 + b, c) is written only by this task.
            let plane = unsafe { core::slice::from_raw_parts_mut(dst_ptr.0.add(((b0 + b) * channels + c) * hs * ws), hs * ws) };
            let wide = &src[c * wd.len + b * wd.hp * wd.wp..];
            for (row, wide_row) in plane.chunks_mut(ws).zip(wide.chunks(wd.wp)) {
                row.copy_from_slice(&wide_row[..ws]);
            }
        }
    });
}

fn shift_forward(x: &[f32], w: &[f32], g: &Geom, y: &mut [f32]) {
    let (ksz, chunk) = (g.kh * g.kw, g.shift_chunk());
    let full = g.wide(chunk);
    let mut xpad = Scratch::new(g.c_in * full.len);
    let mut ywide = Scratch::new(g.c_out * full.len);
    // Output positions per block: the block's outputs and the inputs its taps read stay in L2
    // while the taps add into them, where whole-chunk GEMMs streamed both from memory every tap.
    let bq = (SHIFT_BLOCK / (g.c_in + g.c_out)).max(256);
    for b0 in (0..g.batch).step_by(chunk) {
        let nb = chunk.min(g.batch - b0);
        let wd = g.wide(nb);
        pad_planes(x, g.c_in, g.h, g.w, b0, nb, g.pad[0], g.pad[1], wd, &mut xpad);
        let (yp, xp) = (Ptr(ywide.as_mut_ptr()), Ptr(xpad.as_mut_ptr()));
        par_for(wd.q.div_ceil(bq), |blk| {
            let (yp, xp) = (yp, xp);
            let q0 = blk * bq;
            let n = bq.min(wd.q - q0);
            for t in 0..ksz {
                let off = (t / g.kw) * wd.wp + t % g.kw;
                // ywide[c_out, q0..q0 + n] (+)= W_t[c_out, c_in] @ xpad[c_in, q0 + off..]; each block
                // sums its taps in tap order on one thread (deterministic for any thread count).
                // Safety: blocks write disjoint column ranges of ywide; xpad is only read.
                unsafe {
                    gemm_par(false, g.c_out, n, g.c_in, yp.0.add(q0), wd.len as isize, 1, t > 0, w.as_ptr().add(t), (g.c_in * ksz) as isize, ksz as isize, xp.0.add(off + q0), wd.len as isize, 1);
                }
            }
        });
        crop_planes(&ywide, g.c_out, g.oh, g.ow, b0, nb, wd, y);
    }
}

/// Floats of one block of the shifted path (outputs and inputs of its positions): 256 KiB. Blocks of
/// 16K and 256K floats measured the same or slower on resnet20's layers.
const SHIFT_BLOCK: usize = 1 << 16;

/// Channels a depthwise task handles at once: one vector of [`LANES`] floats per pixel.
const LANES: usize = 8;
type V = [f32; LANES];

// Depthwise convolutions work on blocks of `LANES` channels of one sample, copied into a
// channel-interleaved buffer (`[row][column][lane]`, zero-padded for the input): each kernel tap is
// then one vector multiply-add per output pixel, with no bounds arithmetic and no per-row loops.
// Plain per-plane loops spent their time in loop overhead: the planes of the deep layers are 2x2 to
// 8x8 pixels. The forward taps, the stride-1 input gradient (a forward convolution of dy) and the
// weight gradient run register-blocked AVX-512 or AVX2 + FMA kernels ([`dw`], picked at run time);
// the plain loops below are the portable fallback (compiled a second time for AVX2 without FMA)
// and the strided input gradient.

impl Geom {
    /// Rows and columns of the zero-padded input that a depthwise kernel reads.
    fn padded(&self) -> (usize, usize) {
        (
            (self.oh - 1) * self.stride[0] + (self.kh - 1) * self.dilation[0] + 1,
            (self.ow - 1) * self.stride[1] + (self.kw - 1) * self.dilation[1] + 1,
        )
    }
    /// Offset of each kernel tap in the padded buffer (row-major taps).
    fn taps(&self, pw: usize) -> Vec<usize> {
        let mut offs = Vec::with_capacity(self.kh * self.kw);
        for ky in 0..self.kh {
            for kx in 0..self.kw {
                offs.push(ky * self.dilation[0] * pw + kx * self.dilation[1]);
            }
        }
        offs
    }
}

/// Channel block `blk` of sample `b`: (first channel, channels in the block).
#[inline]
fn block(g: &Geom, blk: usize) -> (usize, usize) {
    let c0 = blk * LANES;
    (c0, LANES.min(g.c_in - c0))
}

/// Copies input planes `c0..c0 + n` of sample `b` into `buf` (zero-padded, interleaved).
fn pack_padded(x: &[f32], g: &Geom, b: usize, c0: usize, n: usize, buf: &mut [V]) {
    let (ph, pw) = g.padded();
    let hw = g.h * g.w;
    // Input rows and columns the kernel reads (stride > 1 may leave the last ones unread).
    let rows = g.h.min(ph.saturating_sub(g.pad[0]));
    let cols = g.w.min(pw.saturating_sub(g.pad[1]));
    if n == LANES {
        // Whole block: only the padding zeroed, the eight planes transposed in 8-pixel groups.
        let (top, left) = (g.pad[0].min(ph), g.pad[1].min(pw));
        buf[..top * pw].fill([0.0; LANES]);
        buf[(top + rows) * pw..ph * pw].fill([0.0; LANES]);
        let isa = dw::detect();
        let src = &x[(b * g.c_in + c0) * hw..][..(LANES - 1) * hw + hw];
        for iy in 0..rows {
            let row = &mut buf[(iy + top) * pw..][..pw];
            row[..left].fill([0.0; LANES]);
            row[left + cols..].fill([0.0; LANES]);
            // Safety: reads planes c0..c0 + 8 of sample b at row iy, columns 0..cols (in `src`).
            unsafe { dw::interleave8(isa, src.as_ptr().add(iy * g.w), hw, cols, &mut row[left..left + cols]) };
        }
        return;
    }
    buf[..ph * pw].fill([0.0; LANES]);
    for l in 0..n {
        let plane = &x[(b * g.c_in + c0 + l) * hw..][..hw];
        for iy in 0..rows {
            let dst = &mut buf[(iy + g.pad[0]) * pw + g.pad[1]..][..cols];
            for (d, s) in dst.iter_mut().zip(&plane[iy * g.w..][..cols]) {
                d[l] = *s;
            }
        }
    }
}

/// Copies `n` consecutive planes of `len` floats starting at plane `first` into `buf` (interleaved).
fn pack(src: &[f32], len: usize, first: usize, n: usize, buf: &mut [V]) {
    if n == LANES {
        let src = &src[first * len..][..LANES * len];
        // Safety: reads the eight planes (in `src`).
        unsafe { dw::interleave8(dw::detect(), src.as_ptr(), len, len, buf) };
        return;
    }
    buf[..len].fill([0.0; LANES]);
    for l in 0..n {
        for (d, s) in buf[..len].iter_mut().zip(&src[(first + l) * len..][..len]) {
            d[l] = *s;
        }
    }
}

/// The kernel taps of channels `c0..c0 + n` as vectors (zero in unused lanes).
fn tap_weights(w: &[f32], ksz: usize, c0: usize, n: usize) -> Vec<V> {
    let mut wv = vec![[0.0f32; LANES]; ksz];
    for l in 0..n {
        for (k, v) in wv.iter_mut().enumerate() {
            v[l] = w[(c0 + l) * ksz + k];
        }
    }
    wv
}

/// `out[o] = sum over taps of w[k] * buf[base(o) + offs[k]]`.
#[inline(always)]
fn dw_taps_forward(buf: &[V], wv: &[V], offs: &[usize], g: &Geom, pw: usize, out: &mut [V]) {
    for oy in 0..g.oh {
        let row = &mut out[oy * g.ow..][..g.ow];
        for (ox, o) in row.iter_mut().enumerate() {
            let base = oy * g.stride[0] * pw + ox * g.stride[1];
            let mut acc = [0.0f32; LANES];
            for (wk, &off) in wv.iter().zip(offs) {
                let xv = &buf[base + off];
                for l in 0..LANES {
                    acc[l] += wk[l] * xv[l];
                }
            }
            *o = acc;
        }
    }
}

/// `buf[base(o) + offs[k]] += w[k] * dy[o]` (the transpose of the forward taps).
#[inline(always)]
fn dw_taps_backward_x(dy: &[V], wv: &[V], offs: &[usize], g: &Geom, pw: usize, buf: &mut [V]) {
    for oy in 0..g.oh {
        for (ox, d) in dy[oy * g.ow..][..g.ow].iter().enumerate() {
            let base = oy * g.stride[0] * pw + ox * g.stride[1];
            for (wk, &off) in wv.iter().zip(offs) {
                let xv = &mut buf[base + off];
                for l in 0..LANES {
                    xv[l] += wk[l] * d[l];
                }
            }
        }
    }
}

/// `acc[k] += sum over o of dy[o] * buf[base(o) + offs[k]]`.
#[inline(always)]
fn dw_taps_backward_w(buf: &[V], dy: &[V], offs: &[usize], g: &Geom, pw: usize, acc: &mut [V]) {
    for oy in 0..g.oh {
        for (ox, d) in dy[oy * g.ow..][..g.ow].iter().enumerate() {
            let base = oy * g.stride[0] * pw + ox * g.stride[1];
            for (a, &off) in acc.iter_mut().zip(offs) {
                let xv = &buf[base + off];
                for l in 0..LANES {
                    a[l] += d[l] * xv[l];
                }
            }
        }
    }
}

/// Defines `$name`, which runs `$body` compiled for AVX2 when the CPU has it, else as compiled.
macro_rules! with_avx2 {
    ($name:ident, $body:ident, ($($arg:ident: $ty:ty),*)) => {
        fn $name($($arg: $ty),*) {
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // Safety: the CPU has AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
with_avx2!(taps_forward, dw_taps_forward, (buf: &[V], wv: &[V], offs: &[usize], g: &Geom, pw: usize, out: &mut [V]));
with_avx2!(taps_backward_x, dw_taps_backward_x, (dy: &[V], wv: &[V], offs: &[usize], g: &Geom, pw: usize, buf: &mut [V]));
with_avx2!(taps_backward_w, dw_taps_backward_w, (buf: &[V], dy: &[V], offs: &[usize], g: &Geom, pw: usize, acc: &mut [V]));

/// Runs `f(&mut state, i)` for `i` in `0..n`, in parallel when rayon is on, with one `init()`
/// state (work buffers) per worker rather than per task.
fn par_for_init<S>(n: usize, init: impl Fn() -> S + Send + Sync, f: impl Fn(&mut S, usize) + Send + Sync) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each_init(init, f);
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut s = init();
        (0..n).for_each(|i| f(&mut s, i));
    }
}

#[path = "conv2d_dw.rs"]
mod dw;

/// The tap vectors of every channel block (`nblk * kh * kw`), computed once per call; `flip`
/// reverses each block's taps (the kernel rotated by 180 degrees, for the input gradient).
fn all_tap_weights(w: &[f32], g: &Geom, flip: bool) -> Vec<V> {
    let (ksz, nblk) = (g.kh * g.kw, g.c_in.div_ceil(LANES));
    let mut all = Vec::with_capacity(nblk * ksz);
    for blk in 0..nblk {
        let (c0, n) = block(g, blk);
        let mut wv = tap_weights(w, ksz, c0, n);
        if flip {
            wv.reverse();
        }
        all.extend_from_slice(&wv);
    }
    all
}

/// Depthwise forward: one task per (sample, block of channels).
fn depthwise_forward(x: &[f32], w: &[f32], g: &Geom, y: &mut [f32]) {
    depthwise_taps(x, &all_tap_weights(w, g, false), g, y);
}

/// y = the depthwise convolution of x with the tap vectors `wall` (every element of y written).
fn depthwise_taps(x: &[f32], wall: &[V], g: &Geom, y: &mut [f32]) {
    let p = g.p();
    if p == 0 {
        return;
    }
    let ((ph, pw), ksz, nblk) = (g.padded(), g.kh * g.kw, g.c_in.div_ceil(LANES));
    let isa = dw::detect();
    let y_ptr = Ptr(y.as_mut_ptr());
    let init = || (vec![[0.0f32; LANES]; ph * pw + dw::SLACK], vec![[0.0f32; LANES]; p]);
    par_for_init(g.batch * nblk, init, |(buf, out), t| {
        let y_ptr = &y_ptr;
        let (b, blk) = (t / nblk, t % nblk);
        let (c0, n) = block(g, blk);
        pack_padded(x, g, b, c0, n, buf);
        dw::forward(isa, buf, &wall[blk * ksz..][..ksz], g, pw, out);
        if n == LANES {
            // Safety: each task writes the planes of its own channels of its own sample.
            unsafe { dw::deinterleave8(isa, out, y_ptr.0.add((b * g.c_out + c0) * p), p, p) };
            return;
        }
        for l in 0..n {
            // Safety: each task writes the planes of its own channels of its own sample.
            let dst = unsafe { core::slice::from_raw_parts_mut(y_ptr.0.add((b * g.c_out + c0 + l) * p), p) };
            for (d, v) in dst.iter_mut().zip(out.iter()) {
                *d = v[l];
            }
        }
    });
}

/// Depthwise input gradient. Stride 1: the forward convolution of dy with the rotated kernel
/// (padding `(k - 1) * dilation - pad`), on the register-blocked forward tiles; stride 2: four such
/// convolutions, one per parity of the input row and column ([`depthwise_backward_x_s2`]); else
/// one task per (sample, block of channels) adding each output's taps into a padded buffer.
fn depthwise_backward_x(w: &[f32], dy: &[f32], g: &Geom, dx: &mut [f32]) {
    let (p, hw) = (g.p(), g.h * g.w);
    if p == 0 {
        return;
    }
    let (ekh, ekw) = ((g.kh - 1) * g.dilation[0], (g.kw - 1) * g.dilation[1]);
    if g.stride == [1, 1] && g.pad[0] <= ekh && g.pad[1] <= ekw {
        let gt = Geom { h: g.oh, w: g.ow, pad: [ekh - g.pad[0], ekw - g.pad[1]], oh: g.h, ow: g.w, ..*g };
        depthwise_taps(dy, &all_tap_weights(w, g, true), &gt, dx);
        return;
    }
    if g.stride == [2, 2] && g.dilation == [1, 1] && depthwise_backward_x_s2(w, dy, g, dx) {
        return;
    }
    let ((ph, pw), ksz, nblk) = (g.padded(), g.kh * g.kw, g.c_in.div_ceil(LANES));
    let offs = g.taps(pw);
    let wall = all_tap_weights(w, g, false);
    let rows = g.h.min(ph.saturating_sub(g.pad[0]));
    let cols = g.w.min(pw.saturating_sub(g.pad[1]));
    let dx_ptr = Ptr(dx.as_mut_ptr());
    let init = || (vec![[0.0f32; LANES]; ph * pw], vec![[0.0f32; LANES]; p]);
    par_for_init(g.batch * nblk, init, |(buf, dyb), t| {
        let dx_ptr = &dx_ptr;
        let (b, blk) = (t / nblk, t % nblk);
        let (c0, n) = block(g, blk);
        pack(dy, p, b * g.c_out + c0, n, dyb);
        buf[..ph * pw].fill([0.0; LANES]);
        taps_backward_x(dyb, &wall[blk * ksz..][..ksz], &offs, g, pw, buf);
        for l in 0..n {
            // Safety: each task writes the planes of its own channels of its own sample. Input
            // pixels no output reads keep the zero they were allocated with.
            let plane = unsafe { core::slice::from_raw_parts_mut(dx_ptr.0.add((b * g.c_in + c0 + l) * hw), hw) };
            for iy in 0..rows {
                let src = &buf[(iy + g.pad[0]) * pw + g.pad[1]..][..cols];
                for (d, v) in plane[iy * g.w..][..cols].iter_mut().zip(src) {
                    *d = v[l];
                }
            }
        }
    });
}

/// One axis of a stride-2 input gradient split by output parity: taps `rho + 2j` (j < `taps`)
/// reach the inputs `2m + first`, m < `n`, as a stride-1 correlation of dy with the reversed taps
/// and padding `pad`.
#[derive(Clone, Copy, Debug)]
struct Phase {
    rho: usize,
    taps: usize,
    first: usize,
    n: usize,
    pad: usize,
}

/// The two phases of one axis (None when a phase would need negative padding: not split).
fn phases(k: usize, pad: usize, size: usize) -> Option<[Phase; 2]> {
    let one = |rho: usize| {
        let taps = (k.saturating_sub(rho)).div_ceil(2);
        let first = (rho + 2 - pad % 2) % 2;
        let n = size.saturating_sub(first).div_ceil(2);
        // dy index m + e - j with e = (first + pad - rho) / 2: padding taps - 1 - e.
        let e = (first + pad - rho) / 2;
        (taps >= 1 && taps > e).then_some(Phase { rho, taps, first, n, pad: taps - 1 - e })
    };
    Some([one(0)?, one(1)?])
}

/// Stride-2 depthwise input gradient as four stride-1 forward convolutions of dy (one per parity
/// of the input row and column) on the register-blocked tiles; false when the split does not apply.
fn depthwise_backward_x_s2(w: &[f32], dy: &[f32], g: &Geom, dx: &mut [f32]) -> bool {
    let (Some(py), Some(px)) = (phases(g.kh, g.pad[0], g.h), phases(g.kw, g.pad[1], g.w)) else {
        return false;
    };
    let (hw, nblk) = (g.h * g.w, g.c_in.div_ceil(LANES));
    // One padded dy buffer for all phases: dy at (top, left), each phase reads from its origin.
    let (top, left) = (py[0].pad.max(py[1].pad), px[0].pad.max(px[1].pad));
    let reach = |ph: &Phase, p0: usize| p0 - ph.pad + ph.n.max(1) - 1 + ph.taps;
    let bw = (left + g.ow).max(reach(&px[0], left)).max(reach(&px[1], left));
    // One row more than any phase reads: a phase's origin column stays inside the buffer.
    let bh = (top + g.oh).max(reach(&py[0], top)).max(reach(&py[1], top)) + 1;
    let pg = |a: &Phase, b: &Phase| Geom {
        h: g.oh,
        w: g.ow,
        kh: a.taps,
        kw: b.taps,
        stride: [1, 1],
        pad: [a.pad, b.pad],
        oh: a.n,
        ow: b.n,
        ..*g
    };
    let quads: Vec<(Phase, Phase)> = py.iter().flat_map(|a| px.iter().map(move |b| (*a, *b))).collect();
    // Each phase's reversed sub-kernel, per block.
    let wq: Vec<Vec<V>> = quads
        .iter()
        .map(|(a, b)| {
            let mut all = Vec::with_capacity(nblk * a.taps * b.taps);
            for blk in 0..nblk {
                let (c0, n) = block(g, blk);
                for jy in (0..a.taps).rev() {
                    for jx in (0..b.taps).rev() {
                        let (ky, kx) = (a.rho + 2 * jy, b.rho + 2 * jx);
                        all.push(core::array::from_fn(|l| if l < n { w[(c0 + l) * g.kh * g.kw + ky * g.kw + kx] } else { 0.0 }));
                    }
                }
            }
            all
        })
        .collect();
    let gd = Geom { h: g.oh, w: g.ow, pad: [top, left], kh: bh, kw: bw, stride: [1, 1], oh: 1, ow: 1, ..*g };
    let isa = dw::detect();
    let dx_ptr = Ptr(dx.as_mut_ptr());
    let qmax = quads.iter().map(|(a, b)| a.n * b.n).max().unwrap_or(0);
    let init = || (vec![[0.0f32; LANES]; bh * bw + dw::SLACK], vec![[0.0f32; LANES]; qmax], vec![[0.0f32; LANES]; hw]);
    par_for_init(g.batch * nblk, init, |(buf, out, full), t| {
        let dx_ptr = &dx_ptr;
        let (b, blk) = (t / nblk, t % nblk);
        let (c0, n) = block(g, blk);
        // gd's padded() is (bh, bw): dy at (top, left), zeros elsewhere.
        pack_padded(dy, &gd, b, c0, n, buf);
        for (q, (a, bx)) in quads.iter().enumerate() {
            if a.n == 0 || bx.n == 0 {
                continue;
            }
            let gq = pg(a, bx);
            let ksz = a.taps * bx.taps;
            let origin = (top - a.pad) * bw + (left - bx.pad);
            dw::forward(isa, &buf[origin..], &wq[q][blk * ksz..][..ksz], &gq, bw, out);
            for m in 0..a.n {
                for nn in 0..bx.n {
                    full[(2 * m + a.first) * g.w + 2 * nn + bx.first] = out[m * bx.n + nn];
                }
            }
        }
        if n == LANES {
            // Safety: each task writes the planes of its own channels of its own sample.
            unsafe { dw::deinterleave8(isa, full, dx_ptr.0.add((b * g.c_in + c0) * hw), hw, hw) };
            return;
        }
        for l in 0..n {
            // Safety: as above.
            let plane = unsafe { core::slice::from_raw_parts_mut(dx_ptr.0.add((b * g.c_in + c0 + l) * hw), hw) };
            for (d, v) in plane.iter_mut().zip(full.iter()) {
                *d = v[l];
            }
        }
    });
    true
}

/// Depthwise weight gradient: one task per (block of channels, part of the batch); each sample's
/// sum is added to the part's total, and the parts are added in order (deterministic).
fn depthwise_backward_w(x: &[f32], dy: &[f32], g: &Geom, dw: &mut [f32]) {
    let p = g.p();
    if p == 0 || g.batch == 0 {
        return;
    }
    let ((ph, pw), ksz, nblk) = (g.padded(), g.kh * g.kw, g.c_in.div_ceil(LANES));
    let isa = dw::detect();
    let plan = dw::WPlan::new(g, pw);
    // At least 16 tasks even when there are few channel blocks. A fixed count, not one per
    // thread: the batch's split into parts sets the order of the sums, so results do not depend
    // on the thread count (4 tasks per thread gave different bits for 1, 2 and 3 threads).
    let parts = 16usize.div_ceil(nblk).clamp(1, g.batch);
    let per_part = g.batch.div_ceil(parts);
    let mut totals = vec![[0.0f32; LANES]; nblk * parts * ksz];
    let init = || (vec![[0.0f32; LANES]; ph * pw + dw::SLACK], vec![[0.0f32; LANES]; p], vec![[0.0f32; LANES]; ksz]);
    par_chunks_v(&mut totals, ksz, init, |(buf, dyb, acc), t, total| {
        let (blk, part) = (t / parts, t % parts);
        let (c0, n) = block(g, blk);
        for b in (part * per_part)..((part + 1) * per_part).min(g.batch) {
            pack_padded(x, g, b, c0, n, buf);
            pack(dy, p, b * g.c_out + c0, n, dyb);
            dw::backward_w(isa, &plan, buf, dyb, g, pw, acc);
            for (s, a) in total.iter_mut().zip(acc.iter()) {
                for l in 0..LANES {
                    s[l] += a[l];
                }
            }
        }
    });
    for blk in 0..nblk {
        let (c0, n) = block(g, blk);
        for part in 0..parts {
            let total = &totals[(blk * parts + part) * ksz..][..ksz];
            for l in 0..n {
                for (k, s) in total.iter().enumerate() {
                    dw[(c0 + l) * ksz + k] += s[l];
                }
            }
        }
    }
}

/// Runs `f(&mut state, i, chunk)` over `data.chunks_mut(size)`, in parallel when rayon is on, with
/// one `init()` state per worker.
fn par_chunks_v<S>(
    data: &mut [V],
    size: usize,
    init: impl Fn() -> S + Send + Sync,
    f: impl Fn(&mut S, usize, &mut [V]) + Send + Sync,
) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(size).enumerate().for_each_init(init, |s, (i, c)| f(s, i, c));
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut s = init();
        data.chunks_mut(size).enumerate().for_each(|(i, c)| f(&mut s, i, c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain direct loops: the reference every kernel above is checked against.
    fn reference(x: &[f32], w: &[f32], dy: &[f32], g: &Geom) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
        let mut y = vec![0.0f32; g.batch * g.c_out * g.p()];
        let mut dx = vec![0.0f32; x.len()];
        let mut dw = vec![0.0f32; w.len()];
        for b in 0..g.batch {
            for co in 0..g.c_out {
                let gi = co / cout_g;
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let yi = ((b * g.c_out + co) * g.oh + oy) * g.ow + ox;
                        for cl in 0..cin_g {
                            let ci = gi * cin_g + cl;
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad[0] as isize;
                                    let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                        continue;
                                    }
                                    let xi = ((b * g.c_in + ci) * g.h + iy as usize) * g.w + ix as usize;
                                    let wi = ((co * cin_g + cl) * g.kh + ky) * g.kw + kx;
                                    y[yi] += w[wi] * x[xi];
                                    dx[xi] += w[wi] * dy[yi];
                                    dw[wi] += x[xi] * dy[yi];
                                }
                            }
                        }
                    }
                }
            }
        }
        (y, dx, dw)
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        // A small deterministic generator: values in [-1, 1).
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn assert_close(what: &str, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= 1e-4 * scale.max(b.abs()), "{what}[{i}]: {a} vs {b} (scale {scale})");
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn geom(
        batch: usize,
        c_in: usize,
        hw: [usize; 2],
        c_out: usize,
        k: [usize; 2],
        stride: usize,
        pad: (usize, usize),
        dilation: usize,
        groups: usize,
    ) -> Geom {
        let out = |n: usize, k: usize| (n + pad.0 + pad.1 - dilation * (k - 1) - 1) / stride + 1;
        Geom {
            batch,
            c_in,
            h: hw[0],
            w: hw[1],
            c_out,
            kh: k[0],
            kw: k[1],
            stride: [stride; 2],
            pad: [pad.0; 2],
            dilation: [dilation; 2],
            groups,
            oh: out(hw[0], k[0]),
            ow: out(hw[1], k[1]),
        }
    }

    fn check(g: Geom) {
        let x = values(g.batch * g.c_in * g.h * g.w, 1);
        let w = values(g.c_out * g.cin_g() * g.kh * g.kw, 2);
        let dy = values(g.batch * g.c_out * g.p(), 3);
        let bias = values(g.c_out, 4);
        let (mut y, dx, dw) = reference(&x, &w, &dy, &g);
        for (i, v) in y.iter_mut().enumerate() {
            *v += bias[(i / g.p()) % g.c_out];
        }
        assert_close(&format!("y {g:?}"), &forward(&x, &w, Some(&bias), &g), &y);
        assert_close(&format!("dx {g:?}"), &backward_x(&w, &dy, &g), &dx);
        assert_close(&format!("dw {g:?}"), &backward_w(&x, &dy, &g), &dw);
    }

    #[test]
    fn matches_direct_loops_on_odd_shapes() {
        check(geom(1, 3, [7, 7], 4, [3, 3], 1, (1, 1), 1, 1));
        check(geom(2, 5, [9, 8], 6, [3, 3], 2, (1, 1), 1, 1)); // stride 2, odd sizes
        check(geom(33, 4, [5, 5], 3, [1, 1], 1, (0, 0), 1, 1)); // 1x1, batch 33
        check(geom(3, 4, [6, 6], 8, [1, 1], 2, (0, 0), 1, 1)); // strided 1x1 (downsample)
        check(geom(2, 3, [11, 11], 5, [7, 7], 2, (3, 3), 1, 1)); // resnet stem
        check(geom(2, 6, [8, 8], 4, [3, 3], 1, (2, 2), 2, 2)); // dilation 2, groups 2
        check(geom(33, 8, [7, 5], 8, [3, 3], 1, (1, 1), 1, 8)); // depthwise, batch 33
        check(geom(2, 6, [9, 9], 6, [5, 5], 2, (2, 2), 1, 6)); // depthwise 5x5 stride 2
        check(geom(1, 4, [8, 8], 4, [3, 3], 2, (1, 1), 2, 4)); // depthwise, dilated, strided
        check(geom(2, 4, [6, 7], 8, [3, 3], 1, (1, 1), 1, 4)); // depthwise multiplier 2 (grouped GEMM)
        check(geom(3, 13, [5, 6], 13, [3, 3], 1, (1, 1), 1, 13)); // depthwise, a partial channel block
        check(geom(1, 21, [4, 4], 21, [3, 3], 1, (1, 1), 1, 21)); // depthwise, batch 1, 3 blocks
        check(geom(2, 9, [2, 2], 9, [3, 3], 1, (1, 1), 1, 9)); // depthwise, plane smaller than the kernel
        check(geom(2, 3, [4, 4], 2, [3, 2], 1, (0, 0), 1, 1)); // no padding, non-square kernel
    }

    #[test]
    fn shifted_gemms_match_direct_loops() {
        NO_DIRECT.with(|c| c.set(true));
        let cases = [
            geom(1, 8, [23, 25], 5, [3, 3], 1, (1, 1), 1, 1),    // batch 1, odd sizes
            geom(33, 9, [24, 24], 16, [3, 3], 1, (1, 1), 1, 1),  // batch 33
            geom(2, 16, [22, 21], 48, [3, 3], 1, (1, 1), 1, 1),  // 48 output channels
            geom(3, 12, [9, 9], 7, [1, 1], 1, (0, 0), 1, 1),     // 1x1 stride 1: no padding at all
            geom(2, 10, [44, 45], 6, [5, 5], 1, (2, 2), 1, 1),   // 5x5 "same"
            geom(2, 8, [40, 42], 4, [3, 5], 1, (0, 0), 1, 1),    // no padding, non-square kernel
            geom(3, 8, [28, 28], 8, [3, 3], 1, (1, 0), 1, 1),    // padding 1 before, 0 after
            geom(3, 8, [28, 28], 8, [3, 3], 1, (0, 1), 1, 1),    // padding 0 before, 1 after
            geom(2, 8, [20, 20], 4, [2, 2], 1, (0, 0), 1, 1),    // even kernel
            geom(3, 64, [16, 16], 64, [3, 3], 1, (1, 1), 1, 1),  // 64 channels on 16x16
        ];
        for g in cases {
            assert!(g.shift_ok(), "{g:?}");
            check(g);
        }
        // Several chunks.
        let g = geom(7, 64, [64, 64], 3, [3, 3], 1, (1, 1), 1, 1);
        assert!(g.shift_ok() && g.shift_chunk() < g.batch);
        check(g);
        // Not taken: strided, dilated, grouped, too few input or too many output channels, or
        // planes too small for the padding.
        for g in [
            geom(2, 8, [32, 32], 4, [3, 3], 2, (1, 1), 1, 1),
            geom(2, 8, [32, 32], 4, [3, 3], 1, (2, 2), 2, 1),
            geom(2, 8, [32, 32], 4, [3, 3], 1, (1, 1), 1, 2),
            geom(2, 4, [32, 32], 4, [3, 3], 1, (1, 1), 1, 1),
            geom(2, 8, [32, 32], 65, [3, 3], 1, (1, 1), 1, 1),
            geom(2, 16, [14, 14], 16, [3, 3], 1, (1, 1), 1, 1),
        ] {
            assert!(!g.shift_ok(), "{g:?}");
        }
    }

    #[test]
    fn transposed_input_gradient_matches_direct_loops() {
        // Stride-1 input gradients computed as forward convolutions of dy on the shifted path.
        NO_DIRECT.with(|c| c.set(true));
        let cases = [
            geom(1, 9, [23, 25], 8, [3, 3], 1, (1, 1), 1, 1),    // batch 1, odd sizes
            geom(33, 16, [24, 24], 9, [3, 3], 1, (1, 1), 1, 1),  // batch 33
            geom(2, 48, [22, 21], 16, [3, 3], 1, (1, 1), 1, 1),  // 48 input channels
            geom(2, 6, [44, 45], 10, [5, 5], 1, (2, 2), 1, 1),   // 5x5 "same", 6 input channels
            geom(2, 4, [40, 42], 8, [3, 5], 1, (0, 0), 1, 1),    // no padding, non-square kernel
            geom(3, 8, [28, 28], 8, [3, 3], 1, (1, 0), 1, 1),    // padding 1 before, 0 after
            geom(3, 8, [28, 28], 8, [3, 3], 1, (0, 1), 1, 1),    // padding 0 before, 1 after
            geom(2, 4, [20, 20], 8, [2, 2], 1, (0, 0), 1, 1),    // even kernel
            geom(2, 5, [30, 30], 8, [3, 3], 1, (2, 2), 1, 1),    // padding k - 1 (a "full" convolution)
            geom(2, 16, [16, 16], 32, [3, 3], 1, (1, 1), 1, 1),  // 16x16
        ];
        for g in cases {
            assert!(g.transposed().is_some(), "{g:?}");
            check(g);
        }
        // Several chunks.
        let g = geom(7, 3, [64, 64], 64, [3, 3], 1, (1, 1), 1, 1);
        let gt = g.transposed().unwrap();
        assert!(gt.shift_chunk() < g.batch);
        check(g);
        // Not taken: strided, dilated, grouped, too few output or too many input channels, planes
        // too small for the padding, padding of k or more, 1x1.
        for g in [
            geom(3, 7, [9, 9], 12, [1, 1], 1, (0, 0), 1, 1),
            geom(2, 8, [32, 32], 8, [3, 3], 2, (1, 1), 1, 1),
            geom(2, 8, [32, 32], 8, [3, 3], 1, (2, 2), 2, 1),
            geom(2, 8, [32, 32], 8, [3, 3], 1, (1, 1), 1, 2),
            geom(2, 8, [32, 32], 4, [3, 3], 1, (1, 1), 1, 1),
            geom(2, 49, [32, 32], 8, [3, 3], 1, (1, 1), 1, 1),
            geom(2, 16, [14, 14], 16, [3, 3], 1, (1, 1), 1, 1),
            geom(2, 8, [32, 32], 8, [3, 3], 1, (3, 3), 1, 1),
        ] {
            assert!(g.transposed().is_none(), "{g:?}");
            check(g);
        }
    }

    #[test]
    fn direct_kernels_match_direct_loops() {
        // Forward and stride-1 input gradient on the register-blocked kernels, with every
        // instruction set this CPU runs (the portable one always).
        let mut isas = vec![direct::Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                isas.push(direct::Isa::Avx2);
            }
            if std::is_x86_feature_detected!("avx512f") {
                isas.push(direct::Isa::Avx512);
            }
        }
        let cases = [
            geom(1, 16, [7, 7], 16, [3, 3], 1, (1, 1), 1, 1),    // batch 1, 7x7
            geom(33, 3, [9, 11], 5, [3, 3], 1, (1, 1), 1, 1),    // batch 33, channels not multiples of 4
            geom(2, 13, [28, 28], 18, [3, 3], 1, (1, 1), 1, 1),  // 28x28, a partial channel block
            geom(2, 16, [64, 63], 16, [3, 3], 1, (1, 1), 1, 1),  // 64 px, odd width
            geom(3, 64, [16, 16], 64, [3, 3], 1, (1, 1), 1, 1),  // 64 channels
            geom(2, 7, [15, 13], 9, [3, 3], 1, (0, 0), 1, 1),    // no padding
            geom(2, 6, [12, 10], 5, [5, 5], 1, (2, 2), 1, 1),    // 5x5 "same"
            geom(2, 8, [10, 9], 8, [3, 3], 1, (1, 0), 1, 1),     // padding 1 before, 0 after
            geom(2, 8, [10, 9], 8, [3, 3], 1, (0, 1), 1, 1),     // padding 0 before, 1 after
            geom(2, 5, [6, 5], 7, [2, 3], 1, (0, 0), 1, 1),      // even, non-square kernel
            geom(1, 4, [1, 1], 3, [3, 3], 1, (1, 1), 1, 1),      // one pixel
            geom(2, 8, [4, 4], 8, [3, 3], 1, (2, 2), 1, 1),      // padding 2 (taken forward only)
            geom(33, 16, [64, 64], 32, [3, 3], 2, (1, 1), 1, 1), // stride 2 (forward only), batch 33
            geom(1, 5, [9, 12], 6, [3, 3], 2, (1, 1), 1, 1),     // stride 2, odd height
            geom(2, 6, [11, 10], 3, [3, 3], 2, (0, 1), 1, 1),    // stride 2, padding 0 before, 1 after
            geom(2, 3, [15, 15], 8, [7, 7], 2, (3, 3), 1, 1),    // stride 2, 7x7 (a stem)
            geom(2, 4, [8, 9], 5, [2, 2], 2, (0, 0), 1, 1),      // stride 2, even kernel
        ];
        for isa in isas {
            FORCE_ISA.with(|c| c.set(Some(isa)));
            for g in cases {
                assert!(g.direct() == Some(isa), "{g:?}");
                check(g);
            }
            // The input gradient's transposed convolution is direct too (its channels swapped).
            let g = geom(2, 13, [28, 28], 18, [3, 3], 1, (1, 1), 1, 1);
            assert_eq!(g.transposed().and_then(|gt| gt.direct()), Some(isa));
            // The weight gradient: stride 1 and up to 32 channels only.
            assert_eq!(g.direct_w(), Some(isa));
            assert_eq!(geom(2, 32, [16, 16], 32, [3, 3], 1, (1, 1), 1, 1).direct_w(), Some(isa));
            for g in [
                geom(2, 33, [16, 16], 32, [3, 3], 1, (1, 1), 1, 1),
                geom(2, 32, [16, 16], 33, [3, 3], 1, (1, 1), 1, 1),
                geom(2, 16, [16, 16], 16, [3, 3], 2, (1, 1), 1, 1),
            ] {
                assert!(g.direct().is_some() && g.direct_w().is_none(), "{g:?}");
            }
        }
        FORCE_ISA.with(|c| c.set(None));
        // Not taken: stride 3, dilated, grouped, 1x1, more than 64 channels.
        for g in [
            geom(2, 8, [32, 32], 4, [3, 3], 3, (1, 1), 1, 1),
            geom(2, 8, [32, 32], 4, [3, 3], 1, (2, 2), 2, 1),
            geom(2, 8, [32, 32], 4, [3, 3], 1, (1, 1), 1, 2),
            geom(2, 8, [32, 32], 4, [1, 1], 1, (0, 0), 1, 1),
            geom(2, 65, [16, 16], 64, [3, 3], 1, (1, 1), 1, 1),
            geom(2, 64, [16, 16], 65, [3, 3], 1, (1, 1), 1, 1),
        ] {
            assert!(g.direct().is_none(), "{g:?}");
            check(g);
        }
    }

    #[test]
    fn asymmetric_padding_and_chunking() {
        NO_DIRECT.with(|c| c.set(true));
        // Padding 0 before and 1 after (TF "same" for stride 2): out = 4 for an input of 8.
        let mut g = geom(2, 3, [8, 8], 4, [3, 3], 2, (0, 1), 1, 1);
        assert_eq!(g.oh, 4);
        check(g);
        // The same for a depthwise convolution (the last input row and column are never read).
        check(geom(2, 10, [8, 7], 10, [3, 3], 2, (0, 1), 1, 10));
        // Planes of 1024+ output pixels: one GEMM per sample, straight into y / from dy (stride 2
        // and 5x5 keep im2col; groups; several chunks; more than 128 output channels).
        for g in [
            geom(3, 3, [64, 64], 5, [3, 3], 2, (1, 1), 1, 1),
            geom(2, 4, [33, 35], 6, [5, 5], 1, (2, 2), 1, 2),
            geom(9, 16, [64, 64], 4, [3, 3], 2, (1, 1), 1, 1),
            geom(2, 4, [32, 32], 130, [3, 3], 1, (1, 1), 1, 1),
            geom(1, 3, [45, 47], 2, [3, 3], 1, (1, 1), 2, 1),
            geom(2, 5, [64, 64], 3, [3, 3], 1, (1, 1), 1, 1),
            geom(3, 6, [64, 66], 9, [1, 1], 2, (0, 0), 1, 1),
        ] {
            assert!(g.per_sample() && !g.shift_ok(), "{g:?}");
            check(g);
        }
        // Weight gradient in row blocks of the column matrix: 2 and 3 blocks, batch 1 and 3.
        for g in [
            geom(3, 3, [64, 64], 6, [5, 5], 1, (2, 2), 1, 1),
            geom(2, 16, [64, 65], 16, [3, 3], 1, (1, 1), 1, 1),
            geom(1, 8, [64, 64], 5, [3, 3], 1, (1, 1), 1, 1),
        ] {
            assert!(g.split_w() && g.chunk() == 1, "{g:?}");
            check(g);
        }
        assert!(!geom(2, 32, [32, 32], 32, [3, 3], 1, (1, 1), 1, 1).split_w());
        assert!(!geom(2, 3, [64, 64], 16, [3, 3], 1, (1, 1), 1, 1).split_w());
        // Their chunks hold a quarter of the column limit: one sample each here, stride 2, odd width.
        g = geom(5, 16, [64, 63], 4, [3, 3], 2, (1, 1), 1, 1);
        assert!(g.per_sample() && g.chunk() == 1);
        check(g);
        // Many samples with a large column: several chunks, the weight gradient accumulating.
        g = geom(5, 64, [64, 64], 2, [3, 3], 1, (1, 1), 1, 1);
        assert!(g.chunk() < g.batch);
        check(g);
    }

    #[test]
    fn depthwise_kernels_match_direct_loops() {
        // Every kernel set this CPU runs (the register-blocked tiles, their edge tiles shifted
        // back, tap ranges cut to the image, pixel pairs with an odd last pixel, weight-gradient
        // tap groups) on odd shapes; the portable loops everywhere.
        let mut isas = vec![dw::Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                isas.push(dw::Isa::Avx2);
            }
            if std::is_x86_feature_detected!("avx512f") && isas.len() == 2 {
                isas.push(dw::Isa::Avx512);
            }
        }
        let cases = [
            geom(2, 40, [16, 16], 40, [7, 7], 1, (3, 3), 1, 40),  // convnext 7x7, 5 blocks
            geom(1, 20, [8, 8], 20, [7, 7], 1, (3, 3), 1, 20),    // batch 1, a partial block
            geom(3, 17, [4, 4], 17, [7, 7], 1, (3, 3), 1, 17),    // 4x4 map, 17 channels
            geom(2, 33, [2, 2], 33, [7, 7], 1, (3, 3), 1, 33),    // 2x2 map: most taps in padding
            geom(33, 9, [1, 1], 9, [7, 7], 1, (3, 3), 1, 9),      // 1x1 map, batch 33
            geom(2, 11, [9, 13], 11, [7, 7], 1, (3, 3), 1, 11),   // odd widths: a shifted last tile
            geom(2, 24, [5, 3], 24, [3, 3], 1, (1, 1), 1, 24),    // 3 wide, 5 high
            geom(2, 13, [17, 17], 13, [3, 3], 2, (1, 1), 1, 13),  // 3x3 stride 2
            geom(1, 19, [15, 16], 19, [5, 5], 2, (2, 2), 1, 19),  // 5x5 stride 2
            geom(3, 8, [32, 32], 8, [3, 3], 1, (1, 1), 1, 8),     // 32 wide: 16-pixel tiles
            geom(2, 10, [9, 9], 10, [3, 3], 1, (0, 0), 1, 10),    // no padding
            geom(2, 6, [8, 9], 6, [3, 3], 1, (2, 2), 2, 6),       // dilation 2 (portable taps)
            geom(2, 16, [13, 13], 16, [7, 7], 2, (3, 3), 1, 16),  // 7x7 stride 2: phases of 4 and 3 taps
            geom(1, 8, [10, 11], 8, [3, 3], 2, (0, 0), 1, 8),     // stride 2 without padding
            geom(3, 5, [2, 2], 5, [3, 3], 2, (1, 1), 1, 5),       // stride 2 to a 1x1 map
        ];
        for isa in isas {
            dw::FORCE.with(|c| c.set(Some(isa)));
            for g in cases {
                assert!(g.is_depthwise());
                check(g);
            }
            check(geom(2, 10, [8, 7], 10, [3, 3], 2, (0, 1), 1, 10)); // asymmetric padding
            check(geom(3, 12, [7, 7], 12, [3, 3], 1, (0, 2), 1, 12)); // asymmetric, stride 1
        }
        dw::FORCE.with(|c| c.set(None));
    }
}
