//! 2-D f32 max pooling over contiguous `[planes, h, w]` data (pepr patch).
//!
//! burn-flex pools through its generic 3-D kernel: one closure call per output that recomputes the
//! window's valid range (six integer divisions) and always writes an i64 index, even for
//! `max_pool2d` (inference), which throws the indices away. That was 41% of a LeNet inference pass.
//! Here the valid ranges are computed once per output row and column, the work is split into
//! blocks of output rows, and the value-only forward keeps no indices.
//!
//! Semantics are the generic kernel's (PyTorch's): windows are scanned row by row, the first
//! maximum wins, a NaN always wins (so the index is the last NaN's), and a window with no valid
//! element gives -inf and index -1.

use alloc::vec;
use alloc::vec::Vec;

/// Geometry of one 2-D max pooling.
#[derive(Clone, Copy, Debug)]
pub struct Pool2d {
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

/// Valid kernel taps `[start, end)` of output position `out` along one axis.
fn taps(out: usize, kernel: usize, stride: usize, pad: usize, dilation: usize, input: usize) -> (usize, usize) {
    let first = (out * stride) as isize - pad as isize;
    let d = dilation as isize;
    // Smallest k with first + k*d >= 0, and first k with first + k*d >= input.
    let start = if first >= 0 { 0 } else { ((-first + d - 1) / d) as usize };
    let end = if first >= input as isize { 0 } else { ((input as isize - first + d - 1) / d) as usize };
    let start = start.min(kernel);
    (start, end.min(kernel).max(start))
}

/// Outputs per parallel task (whole output rows are grouped up to about this many).
const TASK_OUTPUTS: usize = 8192;

/// Runs `f(first_global_row, out_chunk, idx_chunk)` over blocks of whole output rows.
fn for_row_blocks(
    rows: usize,
    out_w: usize,
    out: &mut [f32],
    idx: Option<&mut [i64]>,
    f: impl Fn(usize, &mut [f32], Option<&mut [i64]>) + Send + Sync,
) {
    let rows_per_task = (TASK_OUTPUTS / out_w.max(1)).max(1);
    let chunk = rows_per_task * out_w;
    if chunk == 0 || out.is_empty() {
        return;
    }
    #[cfg(feature = "rayon")]
    if rows > rows_per_task {
        use rayon::prelude::*;
        match idx {
            Some(idx) => out
                .par_chunks_mut(chunk)
                .zip(idx.par_chunks_mut(chunk))
                .enumerate()
                .for_each(|(t, (o, i))| f(t * rows_per_task, o, Some(i))),
            None => out.par_chunks_mut(chunk).enumerate().for_each(|(t, o)| f(t * rows_per_task, o, None)),
        }
        return;
    }
    let _ = rows;
    f(0, out, idx);
}

/// Max pooling of `planes` contiguous planes; indices (flat within the input plane) when `with_indices`.
pub fn forward(x: &[f32], planes: usize, p: &Pool2d, with_indices: bool) -> (Vec<f32>, Option<Vec<i64>>) {
    let Pool2d { in_h, in_w, out_h, out_w, kernel, stride, padding, dilation } = *p;
    let n_out = planes * out_h * out_w;
    let mut out = vec![0.0f32; n_out];
    let mut idx = with_indices.then(|| vec![0i64; n_out]);
    let rows_t: Vec<(usize, usize)> =
        (0..out_h).map(|o| taps(o, kernel[0], stride[0], padding[0], dilation[0], in_h)).collect();
    let cols_t: Vec<(usize, usize)> =
        (0..out_w).map(|o| taps(o, kernel[1], stride[1], padding[1], dilation[1], in_w)).collect();
    // Output columns whose window lies wholly inside the input: [full_lo, full_hi).
    let full = |o: usize| cols_t[o] == (0, kernel[1]);
    let full_lo = (0..out_w).find(|&o| full(o)).unwrap_or(out_w);
    let full_hi = (full_lo..out_w).find(|&o| !full(o)).unwrap_or(out_w);
    let plane_in = in_h * in_w;
    let (rows_t, cols_t) = (&rows_t, &cols_t);

    let row = |g: usize, o: &mut [f32], mut ix: Option<&mut [i64]>| {
        let (plane, oh) = (g / out_h, g % out_h);
        let xp = &x[plane * plane_in..(plane + 1) * plane_in];
        let (r0, r1) = rows_t[oh];
        let ih0 = (oh * stride[0]) as isize - padding[0] as isize;
        let row_of = |k: usize| (ih0 + (k * dilation[0]) as isize) as usize;
        let col0 = |ow: usize| (ow * stride[1]) as isize - padding[1] as isize;
        if let Some(ix) = ix.as_deref_mut() {
            let (sw, dw) = (stride[1], dilation[1]);
            let fast = dw == 1 && matches!((kernel[1], sw), (2, 2) | (3, 2) | (3, 1) | (2, 1));
            let cols = if fast { (0..full_lo).chain(full_hi..out_w) } else { (0..out_w).chain(0..0) };
            for ow in cols {
                let (c0, c1) = cols_t[ow];
                let mut m = f32::NEG_INFINITY;
                let mut mi = -1i64;
                for k in r0..r1 {
                    let base = row_of(k) * in_w;
                    let cw = col0(ow);
                    for j in c0..c1 {
                        let at = base + (cw + (j * dilation[1]) as isize) as usize;
                        let v = xp[at];
                        if mi < 0 || v > m || v.is_nan() {
                            m = v;
                            mi = at as i64;
                        }
                    }
                }
                o[ow] = m;
                ix[ow] = mi;
            }
            if fast && full_lo < full_hi {
                let (m, mi) = (&mut o[full_lo..full_hi], &mut ix[full_lo..full_hi]);
                m.fill(f32::NEG_INFINITY);
                mi.fill(-1);
                let start = col0(full_lo) as usize;
                for k in r0..r1 {
                    let b = row_of(k) * in_w;
                    let xr = &xp[b..b + in_w];
                    match (kernel[1], sw) {
                        (2, 2) => max_row_idx::<2, 2>(m, mi, xr, b, start),
                        (3, 2) => max_row_idx::<3, 2>(m, mi, xr, b, start),
                        (3, 1) => max_row_idx::<3, 1>(m, mi, xr, b, start),
                        _ => max_row_idx::<2, 1>(m, mi, xr, b, start),
                    }
                }
            }
            return;
        }
        // Values only: edge columns by the general loop, the interior by whole rows of taps.
        let general = |ow: usize| {
            let (c0, c1) = cols_t[ow];
            let mut m = f32::NEG_INFINITY;
            for k in r0..r1 {
                let base = row_of(k) * in_w;
                let cw = col0(ow);
                for j in c0..c1 {
                    let v = xp[base + (cw + (j * dilation[1]) as isize) as usize];
                    if v > m || v.is_nan() {
                        m = v;
                    }
                }
            }
            m
        };
        for ow in (0..full_lo).chain(full_hi..out_w) {
            o[ow] = general(ow);
        }
        if full_lo >= full_hi {
            return;
        }
        let inner = &mut o[full_lo..full_hi];
        inner.fill(f32::NEG_INFINITY);
        let start = (col0(full_lo)) as usize; // >= 0: the window is inside
        let (sw, dw) = (stride[1], dilation[1]);
        for k in r0..r1 {
            let xr = &xp[row_of(k) * in_w..(row_of(k) + 1) * in_w];
            match (kernel[1], sw, dw) {
                (2, 2, 1) => max_row::<2, 2>(inner, &xr[start..]),
                (3, 2, 1) => max_row::<3, 2>(inner, &xr[start..]),
                (3, 1, 1) => max_row::<3, 1>(inner, &xr[start..]),
                (2, 1, 1) => max_row::<2, 1>(inner, &xr[start..]),
                _ => {
                    for (i, m) in inner.iter_mut().enumerate() {
                        let c = start + i * sw;
                        for j in 0..kernel[1] {
                            let v = xr[c + j * dw];
                            if v > *m || v.is_nan() {
                                *m = v;
                            }
                        }
                    }
                }
            }
        }
    };

    let rows = planes * out_h;
    for_row_blocks(rows, out_w, &mut out, idx.as_deref_mut(), |g0, o, ix| {
        let mut ix = ix;
        for (r, orow) in o.chunks_mut(out_w).enumerate() {
            let irow = ix.as_deref_mut().map(|i| &mut i[r * out_w..(r + 1) * out_w]);
            row(g0 + r, orow, irow);
        }
    });
    (out, idx)
}

/// `m[i] = max(m[i], xr[i*S + j])` for `j < K` (NaN wins), with the row bounds checked once.
#[inline(always)]
fn max_row<const K: usize, const S: usize>(m: &mut [f32], xr: &[f32]) {
    let n = m.len();
    if n == 0 {
        return;
    }
    let xr = &xr[..(n - 1) * S + K];
    for (i, mv) in m.iter_mut().enumerate() {
        let w = &xr[i * S..i * S + K];
        let mut acc = *mv;
        for &v in w {
            acc = if v > acc || v.is_nan() { v } else { acc };
        }
        *mv = acc;
    }
}

/// [`max_row`] keeping the index (`base` + column) of the first maximum, or the last NaN.
#[inline(always)]
fn max_row_idx<const K: usize, const S: usize>(m: &mut [f32], mi: &mut [i64], xr: &[f32], base: usize, start: usize) {
    let n = m.len();
    if n == 0 {
        return;
    }
    let xr = &xr[start..start + (n - 1) * S + K];
    for (i, (mv, iv)) in m.iter_mut().zip(mi.iter_mut()).enumerate() {
        let w = &xr[i * S..i * S + K];
        for (j, &v) in w.iter().enumerate() {
            if *iv < 0 || v > *mv || v.is_nan() {
                *mv = v;
                *iv = (base + start + i * S + j) as i64;
            }
        }
    }
}

/// Gradient of the input: each output's gradient added at its index (indices flat within a plane).
pub fn backward(dy: &[f32], idx: &[i64], planes: usize, plane_in: usize, plane_out: usize) -> Vec<f32> {
    let mut dx = vec![0.0f32; planes * plane_in];
    if plane_in == 0 || plane_out == 0 {
        return dx;
    }
    let run = |p0: usize, d: &mut [f32]| {
        for (q, dp) in d.chunks_mut(plane_in).enumerate() {
            let o = (p0 + q) * plane_out;
            for (g, &i) in dy[o..o + plane_out].iter().zip(&idx[o..o + plane_out]) {
                if i >= 0 {
                    dp[i as usize] += g;
                }
            }
        }
    };
    let per_task = (TASK_OUTPUTS / plane_out).max(1);
    #[cfg(feature = "rayon")]
    if planes > per_task {
        use rayon::prelude::*;
        dx.par_chunks_mut(per_task * plane_in).enumerate().for_each(|(t, d)| run(t * per_task, d));
        return dx;
    }
    run(0, &mut dx);
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generic kernel's rule, one output at a time, straight from the definition.
    fn direct(x: &[f32], planes: usize, p: &Pool2d) -> (Vec<f32>, Vec<i64>) {
        let mut out = Vec::new();
        let mut idx = Vec::new();
        for pl in 0..planes {
            for oh in 0..p.out_h {
                for ow in 0..p.out_w {
                    let (mut m, mut mi) = (f32::NEG_INFINITY, -1i64);
                    for kh in 0..p.kernel[0] {
                        for kw in 0..p.kernel[1] {
                            let ih = (oh * p.stride[0] + kh * p.dilation[0]) as isize - p.padding[0] as isize;
                            let iw = (ow * p.stride[1] + kw * p.dilation[1]) as isize - p.padding[1] as isize;
                            if ih < 0 || iw < 0 || ih >= p.in_h as isize || iw >= p.in_w as isize {
                                continue;
                            }
                            let at = ih as usize * p.in_w + iw as usize;
                            let v = x[pl * p.in_h * p.in_w + at];
                            if mi < 0 || v > m || v.is_nan() {
                                m = v;
                                mi = at as i64;
                            }
                        }
                    }
                    out.push(m);
                    idx.push(mi);
                }
            }
        }
        (out, idx)
    }

    fn out_size(i: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
        let e = d * (k - 1) + 1;
        let num = i + 2 * p - e;
        if ceil {
            let o = num.div_ceil(s) + 1;
            if (o - 1) * s >= i + p { o - 1 } else { o }
        } else {
            num / s + 1
        }
    }

    #[test]
    fn equals_direct_loop() {
        let mut seed = 7u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            // Few distinct values, so ties (first maximum wins) are exercised.
            ((seed >> 24) % 13) as f32 - 6.0
        };
        let cases = [
            (3, 9, 11, [2, 2], [2, 2], [0, 0], [1, 1], false),
            (5, 13, 13, [3, 3], [2, 2], [1, 1], [1, 1], false),
            (4, 10, 7, [3, 3], [2, 2], [1, 1], [1, 1], true),
            (2, 15, 12, [3, 2], [1, 2], [1, 0], [2, 1], false),
            (700, 8, 9, [2, 3], [2, 1], [0, 1], [1, 2], true),
            (1, 64, 64, [2, 2], [2, 2], [0, 0], [1, 1], false),
            (6, 17, 17, [3, 3], [1, 1], [1, 1], [1, 1], false),
            (2, 5, 5, [2, 2], [1, 1], [0, 0], [1, 1], true),
        ];
        for (planes, h, w, k, s, pd, d, ceil) in cases {
            let p = Pool2d {
                in_h: h,
                in_w: w,
                out_h: out_size(h, k[0], s[0], pd[0], d[0], ceil),
                out_w: out_size(w, k[1], s[1], pd[1], d[1], ceil),
                kernel: k,
                stride: s,
                padding: pd,
                dilation: d,
            };
            let mut x: Vec<f32> = (0..planes * h * w).map(|_| rnd()).collect();
            x[3] = f32::NAN;
            let (want, want_i) = direct(&x, planes, &p);
            let (got, got_i) = forward(&x, planes, &p, true);
            let (vals, none) = forward(&x, planes, &p, false);
            assert!(none.is_none());
            let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
            assert!(same(&got, &want), "{p:?}");
            assert!(same(&vals, &want), "values only {p:?}");
            assert_eq!(got_i.unwrap(), want_i, "{p:?}");
            let dy: Vec<f32> = (0..want.len()).map(|_| rnd()).collect();
            let plane_out = p.out_h * p.out_w;
            let dx = backward(&dy, &want_i, planes, h * w, plane_out);
            let mut dx_want = vec![0.0f32; planes * h * w];
            for (o, (&g, &i)) in dy.iter().zip(&want_i).enumerate() {
                if i >= 0 {
                    dx_want[(o / plane_out) * h * w + i as usize] += g;
                }
            }
            assert_eq!(dx, dx_want, "{p:?}");
        }
    }
}
