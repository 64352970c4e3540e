//! Batch normalisation as one pass per channel (pepr patch; f32, `[batch, channels, ...]`).
//!
//! burn's default `batch_norm_train` and its backward are about ten tensor operations each, several
//! of them reductions over a `swap_dims` view (strided); every batch norm of a network ran them at
//! every step. Here each channel is one task: its statistics, its output, its gradients.

use alloc::vec;
use alloc::vec::Vec;

#[derive(Clone, Copy)]
struct Ptr(*mut f32);
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

/// `[batch, channels, rest]` of a tensor's dims.
pub fn split_dims(dims: &[usize]) -> (usize, usize, usize) {
    let (n, c) = (dims[0], dims[1]);
    (n, c, dims[2..].iter().product())
}

fn per_channel(channels: usize, f: impl Fn(usize) + Send + Sync) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..channels).into_par_iter().for_each(f);
    }
    #[cfg(not(feature = "rayon"))]
    (0..channels).for_each(f);
}

/// The planes of channel `c`: `(offset, len)` of each sample's run.
#[inline]
fn planes(n: usize, c: usize, s: usize, ch: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |b| (b * c + ch) * s)
}

/// Independent partial sums per reduction.
const LANES: usize = 8;

/// `sum(f(v))` over `x` in [`LANES`] independent f64 partial sums (fixed order, so deterministic):
/// a single running sum waits for each addition before the next, which kept these loops from
/// vectorising and made them a tenth of a MobileNet training step.
#[inline]
fn sum_lanes(x: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            lanes[i] += f(c[i]);
        }
    }
    lanes.iter().sum::<f64>() + rest.iter().map(|&v| f(v)).sum::<f64>()
}

/// `y = (x - mean) / sqrt(var + eps) * gamma + beta`, with given per-channel statistics.
pub fn forward(x: &[f32], dims: &[usize], gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32], eps: f64) -> Vec<f32> {
    let (n, c, s) = split_dims(dims);
    let mut y = vec![0.0f32; x.len()];
    let yp = Ptr(y.as_mut_ptr());
    per_channel(c, |ch| {
        let yp = yp;
        let inv = 1.0 / ((var[ch] as f64 + eps).sqrt());
        let scale = (gamma[ch] as f64 * inv) as f32;
        let shift = (beta[ch] as f64 - mean[ch] as f64 * gamma[ch] as f64 * inv) as f32;
        for o in planes(n, c, s, ch) {
            // Safety: channel `ch`'s planes are written by this task only.
            let dst = unsafe { core::slice::from_raw_parts_mut(yp.0.add(o), s) };
            for (d, v) in dst.iter_mut().zip(&x[o..o + s]) {
                *d = v * scale + shift;
            }
        }
    });
    y
}

/// [`forward`] written over `x` itself (inference on a tensor nothing else holds: no new buffer).
pub fn forward_inplace(x: &mut [f32], dims: &[usize], gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32], eps: f64) {
    let (n, c, s) = split_dims(dims);
    let xp = Ptr(x.as_mut_ptr());
    per_channel(c, |ch| {
        let xp = xp;
        let inv = 1.0 / ((var[ch] as f64 + eps).sqrt());
        let scale = (gamma[ch] as f64 * inv) as f32;
        let shift = (beta[ch] as f64 - mean[ch] as f64 * gamma[ch] as f64 * inv) as f32;
        for o in planes(n, c, s, ch) {
            // Safety: channel `ch`'s planes are touched by this task only.
            let v = unsafe { core::slice::from_raw_parts_mut(xp.0.add(o), s) };
            for d in v.iter_mut() {
                *d = *d * scale + shift;
            }
        }
    });
}

/// Mean and biased variance of each channel over the batch and positions.
pub fn statistics(x: &[f32], dims: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let (n, c, s) = split_dims(dims);
    let mut mean = vec![0.0f32; c];
    let mut var = vec![0.0f32; c];
    let (mp, vp) = (Ptr(mean.as_mut_ptr()), Ptr(var.as_mut_ptr()));
    let count = (n * s).max(1) as f64;
    per_channel(c, |ch| {
        let (mp, vp) = (mp, vp);
        let mut sum = 0.0f64;
        for o in planes(n, c, s, ch) {
            sum += sum_lanes(&x[o..o + s], |v| v as f64);
        }
        let m = sum / count;
        let mut sq = 0.0f64;
        for o in planes(n, c, s, ch) {
            sq += sum_lanes(&x[o..o + s], |v| (v as f64 - m) * (v as f64 - m));
        }
        // Safety: index `ch` is written by this task only.
        unsafe {
            *mp.0.add(ch) = m as f32;
            *vp.0.add(ch) = (sq / count) as f32;
        }
    });
    (mean, var)
}

/// Gradients of the input, gamma and beta of a training-mode batch norm.
pub fn backward(
    x: &[f32],
    dims: &[usize],
    gamma: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f64,
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (n, c, s) = split_dims(dims);
    let mut dx = vec![0.0f32; x.len()];
    let mut dgamma = vec![0.0f32; c];
    let mut dbeta = vec![0.0f32; c];
    let (xp, gp, bp) = (Ptr(dx.as_mut_ptr()), Ptr(dgamma.as_mut_ptr()), Ptr(dbeta.as_mut_ptr()));
    let count = (n * s).max(1) as f64;
    per_channel(c, |ch| {
        let (xp, gp, bp) = (xp, gp, bp);
        let m = mean[ch];
        let inv = (1.0 / (var[ch] as f64 + eps).sqrt()) as f32;
        // sum(dy) and sum(dy * xhat), xhat = (x - mean) * inv
        let (mut sdy, mut sdyx) = (0.0f64, 0.0f64);
        for o in planes(n, c, s, ch) {
            // Eight independent lanes, so the loop vectorises (see `sum_lanes`).
            let (mut a, mut b) = ([0.0f32; LANES], [0.0f32; LANES]);
            let (dc, xc) = (dy[o..o + s].chunks_exact(LANES), x[o..o + s].chunks_exact(LANES));
            let (dr, xr) = (dc.remainder(), xc.remainder());
            for (d, v) in dc.zip(xc) {
                for i in 0..LANES {
                    a[i] += d[i];
                    b[i] += d[i] * (v[i] - m);
                }
            }
            let (mut a, mut b) = (a.iter().sum::<f32>(), b.iter().sum::<f32>());
            for (d, v) in dr.iter().zip(xr) {
                a += d;
                b += d * (v - m);
            }
            sdy += a as f64;
            sdyx += b as f64;
        }
        sdyx *= inv as f64;
        let mean_dy = (sdy / count) as f32;
        let mean_dyx = (sdyx / count) as f32;
        let scale = gamma[ch] * inv;
        for o in planes(n, c, s, ch) {
            // Safety: channel `ch`'s planes are written by this task only.
            let dst = unsafe { core::slice::from_raw_parts_mut(xp.0.add(o), s) };
            for ((g, d), v) in dst.iter_mut().zip(&dy[o..o + s]).zip(&x[o..o + s]) {
                *g = scale * (d - mean_dy - (v - m) * inv * mean_dyx);
            }
        }
        unsafe {
            *gp.0.add(ch) = sdyx as f32;
            *bp.0.add(ch) = sdy as f32;
        }
    });
    (dx, dgamma, dbeta)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finite differences of `L = sum(y * w)` against the analytic gradients.
    #[test]
    fn gradients_match_finite_differences() {
        let dims = [3usize, 2, 5];
        let x: Vec<f32> = (0..30).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3 + (i % 3) as f32).collect();
        let w: Vec<f32> = (0..30).map(|i| ((i * 13 % 7) as f32 - 3.0) * 0.25).collect();
        let (gamma, beta, eps) = ([1.5f32, -0.7], [0.2f32, 0.1], 1e-5);
        let loss = |x: &[f32], gamma: &[f32], beta: &[f32]| -> f64 {
            let (m, v) = statistics(x, &dims);
            forward(x, &dims, gamma, beta, &m, &v, eps).iter().zip(&w).map(|(a, b)| (a * b) as f64).sum()
        };
        let (m, v) = statistics(&x, &dims);
        let (dx, dg, db) = backward(&x, &dims, &gamma, &m, &v, eps, &w);
        let h = 1e-2f32;
        let close = |num: f64, ana: f32, what: &str| {
            assert!((num - ana as f64).abs() < 2e-3 * (1.0 + num.abs()), "{what}: numeric {num} vs analytic {ana}");
        };
        for i in 0..x.len() {
            let (mut a, mut b) = (x.clone(), x.clone());
            a[i] += h;
            b[i] -= h;
            close((loss(&a, &gamma, &beta) - loss(&b, &gamma, &beta)) / (2.0 * h as f64), dx[i], &format!("dx[{i}]"));
        }
        for ch in 0..2 {
            let (mut a, mut b) = (gamma, gamma);
            a[ch] += h;
            b[ch] -= h;
            close((loss(&x, &a, &beta) - loss(&x, &b, &beta)) / (2.0 * h as f64), dg[ch], "dgamma");
            let (mut a, mut b) = (beta, beta);
            a[ch] += h;
            b[ch] -= h;
            close((loss(&x, &gamma, &a) - loss(&x, &gamma, &b)) / (2.0 * h as f64), db[ch], "dbeta");
        }
    }

    #[test]
    fn statistics_and_output_match_the_definition() {
        let dims = [2usize, 3, 4];
        let x: Vec<f32> = (0..24).map(|i| (i as f32 * 0.7).sin() * 3.0 + 1.0).collect();
        let (m, v) = statistics(&x, &dims);
        for ch in 0..3 {
            let vals: Vec<f32> = (0..2).flat_map(|b| x[(b * 3 + ch) * 4..][..4].to_vec()).collect();
            let mean = vals.iter().sum::<f32>() / 8.0;
            let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 8.0;
            assert!((m[ch] - mean).abs() < 1e-5 && (v[ch] - var).abs() < 1e-5);
        }
        let y = forward(&x, &dims, &[2.0, 1.0, 0.5], &[0.0, 1.0, -1.0], &m, &v, 1e-5);
        let i = (1 * 3 + 2) * 4 + 3; // sample 1, channel 2, position 3
        let want = (x[i] - m[2]) / (v[2] + 1e-5).sqrt() * 0.5 - 1.0;
        assert!((y[i] - want).abs() < 1e-5);
    }
}
