//! The CPU kernels pepr patches into burn-flex (vendor/burn-flex: convolution forward and both
//! gradients, batch norm, layer norm over NCHW channels, element-wise ops, sigmoid, GELU; also max
//! pooling), checked through burn's own API and autodiff against plain direct loops, on odd
//! shapes: stride 2, padding, groups, depthwise, 1x1, dilation, batch 1 and 33, a batch split in
//! chunks, non-contiguous inputs.

use burn::tensor::module::{batch_norm_train, conv2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn tensor<const D: usize>(v: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
}

fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// erf in f64 by its everywhere-positive series `2/sqrt(pi) e^(-x^2) sum 2^k x^(2k+1) / (2k+1)!!`
/// (no cancellation; far more precise than the f32 kernels it checks).
fn erf64(x: f64) -> f64 {
    let (mut term, mut sum, mut k) = (x, x, 0.0);
    while term.abs() > 1e-17 * sum.abs() {
        k += 1.0;
        term *= 2.0 * x * x / (2.0 * k + 1.0);
        sum += term;
    }
    (2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum).clamp(-1.0, 1.0)
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= 1e-4 * scale, "{what}[{i}]: {a} vs {b} (largest {scale})");
    }
}

struct Case {
    batch: usize,
    c_in: usize,
    hw: [usize; 2],
    c_out: usize,
    k: [usize; 2],
    stride: usize,
    pad: usize,
    dilation: usize,
    groups: usize,
}

impl Case {
    fn out(&self, axis: usize) -> usize {
        (self.hw[axis] + 2 * self.pad - self.dilation * (self.k[axis] - 1) - 1) / self.stride + 1
    }

    /// Output, input gradient, weight gradient and bias gradient of `sum(conv(x) * dy)` by direct loops.
    fn reference(&self, x: &[f32], w: &[f32], b: &[f32], dy: &[f32]) -> [Vec<f32>; 4] {
        let (oh, ow) = (self.out(0), self.out(1));
        let (cin_g, cout_g) = (self.c_in / self.groups, self.c_out / self.groups);
        let [h, wd] = self.hw;
        let mut y = vec![0.0f32; self.batch * self.c_out * oh * ow];
        let (mut dx, mut dw, mut db) = (vec![0.0f32; x.len()], vec![0.0f32; w.len()], vec![0.0f32; b.len()]);
        for n in 0..self.batch {
            for co in 0..self.c_out {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let yi = ((n * self.c_out + co) * oh + oy) * ow + ox;
                        y[yi] += b[co];
                        db[co] += dy[yi];
                        for cl in 0..cin_g {
                            let ci = (co / cout_g) * cin_g + cl;
                            for ky in 0..self.k[0] {
                                for kx in 0..self.k[1] {
                                    let iy = (oy * self.stride + ky * self.dilation) as isize - self.pad as isize;
                                    let ix = (ox * self.stride + kx * self.dilation) as isize - self.pad as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                        continue;
                                    }
                                    let xi = ((n * self.c_in + ci) * h + iy as usize) * wd + ix as usize;
                                    let wi = ((co * cin_g + cl) * self.k[0] + ky) * self.k[1] + kx;
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
        [y, dx, dw, db]
    }

    fn check(&self) {
        let device = Device::flex().autodiff();
        let [h, wd] = self.hw;
        let (oh, ow) = (self.out(0), self.out(1));
        let wshape = [self.c_out, self.c_in / self.groups, self.k[0], self.k[1]];
        let x = values(self.batch * self.c_in * h * wd, 1);
        let w = values(wshape.iter().product(), 2);
        let b = values(self.c_out, 3);
        let dy = values(self.batch * self.c_out * oh * ow, 4);
        let xt = tensor(&x, [self.batch, self.c_in, h, wd], &device).require_grad();
        let wt = tensor(&w, wshape, &device).require_grad();
        let bt = tensor(&b, [self.c_out], &device).require_grad();
        let options = ConvOptions::new([self.stride; 2], [self.pad; 2], [self.dilation; 2], self.groups);
        let y = conv2d(xt.clone(), wt.clone(), Some(bt.clone()), options);
        let loss = (y.clone() * tensor(&dy, [self.batch, self.c_out, oh, ow], &device)).sum();
        let grads = loss.backward();
        let [ry, rdx, rdw, rdb] = self.reference(&x, &w, &b, &dy);
        let name = format!(
            "batch {} c {}->{} {:?} k {:?} s {} p {} d {} g {}",
            self.batch, self.c_in, self.c_out, self.hw, self.k, self.stride, self.pad, self.dilation, self.groups
        );
        assert_close(&format!("y, {name}"), &read(y), &ry);
        assert_close(&format!("dx, {name}"), &read(xt.grad(&grads).unwrap()), &rdx);
        assert_close(&format!("dw, {name}"), &read(wt.grad(&grads).unwrap()), &rdw);
        assert_close(&format!("db, {name}"), &read(bt.grad(&grads).unwrap()), &rdb);
    }
}

#[allow(clippy::too_many_arguments)]
fn case(
    batch: usize,
    c_in: usize,
    hw: [usize; 2],
    c_out: usize,
    k: [usize; 2],
    stride: usize,
    pad: usize,
    dilation: usize,
    groups: usize,
) -> Case {
    Case { batch, c_in, hw, c_out, k, stride, pad, dilation, groups }
}

#[test]
fn convolution_and_its_gradients_equal_direct_loops() {
    case(1, 3, [9, 9], 4, [3, 3], 1, 1, 1, 1).check(); // batch 1
    case(33, 4, [6, 5], 6, [3, 3], 2, 1, 1, 1).check(); // batch 33, stride 2, odd sizes
    case(2, 5, [7, 7], 7, [1, 1], 1, 0, 1, 1).check(); // pointwise
    case(3, 4, [8, 8], 8, [1, 1], 2, 0, 1, 1).check(); // strided 1x1 downsample
    case(2, 3, [13, 13], 8, [7, 7], 2, 3, 1, 1).check(); // resnet stem
    case(2, 6, [9, 9], 6, [3, 3], 1, 2, 2, 3).check(); // dilation 2, 3 groups
    case(33, 8, [7, 7], 8, [3, 3], 1, 1, 1, 8).check(); // depthwise, batch 33
    case(1, 6, [11, 10], 6, [5, 5], 2, 2, 1, 6).check(); // depthwise 5x5 stride 2, batch 1
    case(2, 4, [9, 9], 4, [3, 3], 1, 2, 2, 4).check(); // depthwise dilated
    case(2, 3, [5, 6], 6, [3, 3], 1, 1, 1, 3).check(); // depthwise multiplier 2
    case(1, 13, [6, 7], 13, [3, 3], 2, 1, 1, 13).check(); // depthwise, 13 channels (8 + a partial block), batch 1
    case(3, 20, [3, 3], 20, [3, 3], 1, 1, 1, 20).check(); // depthwise on a plane the size of the kernel
    // ConvNeXt's 7x7 depthwise (register-blocked tiles, whole 8-channel blocks transposed in and
    // out), on maps of 16x15, 2x2 (most taps read padding) and 1x1; 3x3 stride 1 on 33 wide.
    case(2, 24, [16, 15], 24, [7, 7], 1, 3, 1, 24).check();
    case(3, 17, [2, 2], 17, [7, 7], 1, 3, 1, 17).check();
    case(33, 9, [1, 1], 9, [7, 7], 1, 3, 1, 9).check();
    case(1, 16, [33, 33], 16, [3, 3], 1, 1, 1, 16).check();
    // A column over the 4 MiB cap per sample (K = 576, 1600 pixels): the batch in chunks, the
    // weight gradient accumulated over them.
    case(3, 64, [40, 40], 5, [3, 3], 1, 1, 1, 1).check();
    // Stride 1 with 8+ input and up to 64 output channels on planes from 16x16: the forward pass
    // as one GEMM per kernel tap on the padded input (no im2col); batch 1 and 33, 5x5, 1x1.
    case(1, 16, [30, 29], 16, [3, 3], 1, 1, 1, 1).check();
    case(33, 8, [28, 28], 12, [3, 3], 1, 1, 1, 1).check();
    case(2, 9, [44, 45], 6, [5, 5], 1, 2, 1, 1).check();
    case(2, 12, [20, 21], 48, [1, 1], 1, 0, 1, 1).check();
    // 64 channels on 16x16 (the GEMMs in blocks of output positions); 65 output channels keep im2col.
    case(3, 64, [16, 16], 64, [3, 3], 1, 1, 1, 1).check();
    case(2, 16, [16, 17], 65, [3, 3], 1, 1, 1, 1).check();
    // Stride-1 input gradients as forward convolutions of dy (flipped kernel) on the shifted path
    // (8+ output, up to 48 input channels): batch 1 and 33, 3 input channels, 5x5, no padding, a
    // 16x16 plane; and 64 input channels, which keep col2im.
    case(1, 9, [29, 30], 8, [3, 3], 1, 1, 1, 1).check();
    case(33, 3, [28, 28], 16, [3, 3], 1, 1, 1, 1).check();
    case(2, 6, [44, 45], 10, [5, 5], 1, 2, 1, 1).check();
    case(2, 4, [24, 24], 8, [3, 3], 1, 0, 1, 1).check();
    case(2, 32, [16, 16], 32, [3, 3], 1, 1, 1, 1).check();
    case(2, 64, [28, 28], 8, [3, 3], 1, 1, 1, 1).check();
    // Plain 1x1 layers on planes of 64+ pixels: one GEMM per sample on x in place (64 pixels
    // exactly with batch 33; grouped; batch 1, which splits its one GEMM over the threads).
    case(33, 10, [8, 8], 24, [1, 1], 1, 0, 1, 1).check();
    case(3, 8, [8, 9], 12, [1, 1], 1, 0, 1, 4).check();
    case(1, 70, [9, 10], 130, [1, 1], 1, 0, 1, 1).check();
    // Planes of 1024+ output pixels: one GEMM per sample straight into y / from dy (stride 2,
    // grouped, 1x1 stride 2, more than 128 output channels).
    case(3, 5, [64, 64], 7, [3, 3], 2, 1, 1, 1).check();
    case(2, 4, [33, 35], 6, [3, 3], 1, 1, 1, 2).check();
    case(2, 6, [64, 66], 9, [1, 1], 2, 0, 1, 1).check();
    case(2, 3, [32, 32], 130, [3, 3], 1, 1, 1, 1).check();
    // Those planes take their samples in 1 MiB chunks (here one sample each): stride 2 (im2col's
    // paired gather), odd width, the weight gradient accumulated over five chunks.
    case(5, 16, [64, 63], 4, [3, 3], 2, 1, 1, 1).check();
    // Planes of 4096+ pixels whose column matrix is over 1 MiB per sample: the weight gradient in
    // row blocks of it (LeNet's first layer, batch 3: two blocks; 16 channels, batch 1: three).
    case(3, 3, [64, 64], 6, [5, 5], 1, 2, 1, 1).check();
    case(1, 16, [64, 65], 16, [3, 3], 1, 1, 1, 1).check();
    // On CPUs with AVX2 + FMA or AVX-512, stride-1 and stride-2 layers with up to 64 input and
    // output channels (not 1x1) take the register-blocked direct kernels, forward and stride-1
    // input gradient (so do most stride-1 / stride-2 cases above): resnet20's 16/32/64-channel
    // layers at 28 px (64 on 7x7), batch 1 and 33, channel counts not multiples of the
    // 4-channel tile, odd planes, stride 2 with odd sizes and a 7x7 stem, no padding, 5x5.
    case(33, 16, [28, 28], 16, [3, 3], 1, 1, 1, 1).check();
    case(1, 64, [7, 7], 64, [3, 3], 1, 1, 1, 1).check();
    case(2, 13, [15, 17], 7, [3, 3], 1, 1, 1, 1).check();
    case(3, 16, [28, 27], 32, [3, 3], 2, 1, 1, 1).check();
    case(33, 5, [9, 11], 6, [3, 3], 2, 1, 1, 1).check();
    case(2, 3, [29, 29], 64, [7, 7], 2, 3, 1, 1).check();
    case(2, 6, [14, 14], 16, [5, 5], 1, 0, 1, 1).check();
    case(2, 3, [28, 28], 6, [5, 5], 1, 2, 1, 1).check();
    // Not taken: 65 input channels, stride 3.
    case(2, 65, [9, 9], 16, [3, 3], 1, 1, 1, 1).check();
    case(2, 8, [13, 13], 8, [3, 3], 3, 1, 1, 1).check();
}

/// Training-mode batch norm of `x[n, c, spatial]` (given `strided`, as a transposed view of a
/// `[n, spatial..., c]` buffer), output and gradients against the definition in f64.
fn batch_norm_case(n: usize, c: usize, spatial: [usize; 2], strided: bool) {
    let device = Device::flex().autodiff();
    let s = spatial[0] * spatial[1];
    let name = format!("batch norm n {n} c {c} {spatial:?}{}", if strided { " strided" } else { "" });
    let x =
        values(n * c * s, 5 + c as u64).iter().enumerate().map(|(i, v)| v * 2.0 + (i % 3) as f32).collect::<Vec<_>>();
    let gamma: Vec<f32> = values(c, 7).iter().map(|v| v + 1.2).collect();
    let beta = values(c, 8);
    let dy = values(n * c * s, 6);
    let eps = 1e-5;
    let xt = if strided {
        // The same values laid out channels-last, seen as [n, c, h, w] through a permute.
        let mut last = vec![0.0f32; x.len()];
        for b in 0..n {
            for ch in 0..c {
                for p in 0..s {
                    last[(b * s + p) * c + ch] = x[(b * c + ch) * s + p];
                }
            }
        }
        let t = tensor(&last, [n, spatial[0], spatial[1], c], &device).permute([0, 3, 1, 2]);
        t.require_grad()
    } else {
        tensor(&x, [n, c, spatial[0], spatial[1]], &device).require_grad()
    };
    let gt = tensor(&gamma, [c], &device).require_grad();
    let bt = tensor(&beta, [c], &device).require_grad();
    let out = batch_norm_train(xt.clone(), gt.clone(), bt.clone(), eps);
    let loss = (out.output.clone() * tensor(&dy, [n, c, spatial[0], spatial[1]], &device)).sum();
    let grads = loss.backward();
    // Direct definition, in f64.
    let idx = |b: usize, ch: usize, p: usize| (b * c + ch) * s + p;
    let (mut y, mut dx, mut dg, mut db) =
        (vec![0.0f32; x.len()], vec![0.0f32; x.len()], vec![0.0f32; c], vec![0.0f32; c]);
    let count = (n * s) as f64;
    for ch in 0..c {
        let all: Vec<(usize, f64)> =
            (0..n).flat_map(|b| (0..s).map(move |p| idx(b, ch, p))).map(|i| (i, x[i] as f64)).collect();
        let mean = all.iter().map(|v| v.1).sum::<f64>() / count;
        let var = all.iter().map(|v| (v.1 - mean).powi(2)).sum::<f64>() / count;
        let inv = 1.0 / (var + eps).sqrt();
        let (sdy, sdyx) =
            all.iter().fold((0.0, 0.0), |(a, b), &(i, v)| (a + dy[i] as f64, b + dy[i] as f64 * (v - mean) * inv));
        for &(i, v) in &all {
            let xhat = (v - mean) * inv;
            y[i] = (xhat * gamma[ch] as f64 + beta[ch] as f64) as f32;
            dx[i] = (gamma[ch] as f64 * inv * (dy[i] as f64 - sdy / count - xhat * sdyx / count)) as f32;
        }
        dg[ch] = sdyx as f32;
        db[ch] = sdy as f32;
    }
    assert_close(&format!("{name}: output"), &read(out.output), &y);
    assert_close(&format!("{name}: dx"), &read(xt.grad(&grads).unwrap()), &dx);
    assert_close(&format!("{name}: dgamma"), &read(gt.grad(&grads).unwrap()), &dg);
    assert_close(&format!("{name}: dbeta"), &read(bt.grad(&grads).unwrap()), &db);
    // Inference with given statistics: in place on a tensor nothing else holds, into a new buffer
    // when the input is shared (which must stay as it was).
    let plain = Device::flex();
    let mean: Vec<f32> = values(c, 9).iter().map(|v| v * 0.5).collect();
    let var: Vec<f32> = values(c, 10).iter().map(|v| v.abs() + 0.3).collect();
    let want: Vec<f32> = (0..x.len())
        .map(|i| {
            let ch = (i / s) % c;
            ((x[i] - mean[ch]) as f64 / (var[ch] as f64 + eps).sqrt() * gamma[ch] as f64 + beta[ch] as f64) as f32
        })
        .collect();
    let stats = |v: &[f32]| tensor(v, [c], &plain);
    let shared = xt.clone().inner();
    let y =
        burn::tensor::module::batch_norm(shared.clone(), stats(&gamma), stats(&beta), stats(&mean), stats(&var), eps);
    assert_close(&format!("{name}: inference, shared input"), &read(y), &want);
    let kept = read(shared);
    assert_close(&format!("{name}: shared input untouched"), &kept, &x);
    let y = burn::tensor::module::batch_norm(
        tensor(&x, [n, c, spatial[0], spatial[1]], &plain),
        stats(&gamma),
        stats(&beta),
        stats(&mean),
        stats(&var),
        eps,
    );
    assert_close(&format!("{name}: inference, in place"), &read(y), &want);
}

/// The batch-norm kernel sums in 8 lanes per plane: planes shorter than, equal to and not a
/// multiple of 8, channel counts that are not, batch 1 and 33, and a channels-last input.
#[test]
fn batch_norm_and_its_gradients_equal_the_definition() {
    batch_norm_case(5, 3, [1, 7], false);
    batch_norm_case(1, 13, [3, 5], false); // batch 1, 13 channels, 15-pixel planes
    batch_norm_case(33, 7, [1, 1], false); // batch 33, 1x1 planes (a BN after global pooling)
    batch_norm_case(2, 9, [40, 41], false); // large planes, 1640 pixels
    batch_norm_case(16, 16, [28, 28], false); // pepr_resnet8's first stage at batch 16
    batch_norm_case(3, 10, [4, 8], true); // non-contiguous (channels-last view)
    batch_norm_case(33, 5, [3, 3], true);
}

/// The element-wise paths the patch changed (in-place branch-free mask fill, scalar, unary and
/// binary closure ops on every thread above 256 Ki elements, the vectorised sigmoid): relu6 (two
/// clamps = two mask fills forward and two in the gradient), relu, scalar arithmetic and sqrt,
/// silu, checked element by element against plain Rust (f64 for silu), on sizes below and above
/// the parallel threshold, fresh (in place) and shared (copied).
#[test]
fn element_wise_ops_equal_plain_loops_on_small_and_large_tensors() {
    let device = Device::flex().autodiff();
    for n in [7usize, 1000, 300_000, 1 << 20] {
        let v: Vec<f32> = values(n, n as u64).iter().map(|x| x * 8.0).collect();
        let dy = values(n, n as u64 + 1);
        let x = tensor(&v, [n], &device).require_grad();
        let y = burn::tensor::activation::relu6(x.clone());
        let grads = (y.clone() * tensor(&dy, [n], &device)).sum().backward();
        let want: Vec<f32> = v.iter().map(|x| x.clamp(0.0, 6.0)).collect();
        assert_eq!(read(y), want, "relu6 forward, {n} elements");
        let want: Vec<f32> = v.iter().zip(&dy).map(|(x, d)| if *x < 0.0 || *x > 6.0 { 0.0 } else { *d }).collect();
        assert_eq!(read(x.grad(&grads).unwrap()), want, "relu6 gradient, {n} elements");

        let x = tensor(&v, [n], &device).require_grad();
        let y = burn::tensor::activation::relu(x.clone());
        let grads = (y.clone() * tensor(&dy, [n], &device)).sum().backward();
        assert_eq!(read(y), v.iter().map(|x| x.max(0.0)).collect::<Vec<_>>(), "relu, {n} elements");
        let want: Vec<f32> = v.iter().zip(&dy).map(|(x, d)| if *x > 0.0 { *d } else { 0.0 }).collect();
        assert_eq!(read(x.grad(&grads).unwrap()), want, "relu gradient, {n} elements");

        // Plain tensors: a fresh one is updated in place, a shared one (cloned) is copied.
        let plain = Device::flex();
        let t = tensor(&v, [n], &plain);
        let shared = t.clone();
        let scaled = t.mul_scalar(0.5).add_scalar(3.0);
        assert_eq!(read(scaled), v.iter().map(|x| x * 0.5 + 3.0).collect::<Vec<_>>(), "scalar ops, {n}");
        let root = shared.clone().abs().sqrt();
        assert_eq!(read(root), v.iter().map(|x| x.abs().sqrt()).collect::<Vec<_>>(), "abs then sqrt, {n}");
        assert_eq!(read(shared), v, "the shared input is unchanged, {n}");

        // silu = x * sigmoid(x): the vectorised sigmoid, and its gradient (a closure over two
        // tensors, on every thread above the threshold), against f64.
        let x = tensor(&v, [n], &device).require_grad();
        let y = burn::tensor::activation::silu(x.clone());
        let grads = (y.clone() * tensor(&dy, [n], &device)).sum().backward();
        let sig = |x: f32| 1.0 / (1.0 + (-(x as f64)).exp());
        let want: Vec<f32> = v.iter().map(|&x| (x as f64 * sig(x)) as f32).collect();
        assert_close(&format!("silu, {n} elements"), &read(y), &want);
        let want: Vec<f32> = v
            .iter()
            .zip(&dy)
            .map(|(&x, &d)| {
                let s = sig(x);
                (d as f64 * (s + x as f64 * s * (1.0 - s))) as f32
            })
            .collect();
        assert_close(&format!("silu gradient, {n} elements"), &read(x.grad(&grads).unwrap()), &want);
        // gelu = x/2 * (1 + erf(x / sqrt 2)): the vectorised erf, forward and gradient, against f64
        // (absolute error, scaled by |x| above 1: the kernel's erf is within 5e-7).
        let x = tensor(&v, [n], &device).require_grad();
        let y = burn::tensor::activation::gelu(x.clone());
        let grads = (y.clone() * tensor(&dy, [n], &device)).sum().backward();
        let cdf = |x: f32| 0.5 * (1.0 + erf64(x as f64 / std::f64::consts::SQRT_2));
        let (got, gx) = (read(y), read(x.grad(&grads).unwrap()));
        for (i, &x) in v.iter().enumerate() {
            let want = x as f64 * cdf(x);
            assert!(
                (got[i] as f64 - want).abs() <= 1e-6 * (x.abs() as f64).max(1.0),
                "gelu({x}) = {}, want {want}",
                got[i]
            );
            let pdf = (-0.5 * (x as f64).powi(2)).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let want = dy[i] as f64 * (cdf(x) + x as f64 * pdf);
            assert!((gx[i] as f64 - want).abs() <= 2e-6, "gelu gradient at {x}: {}, want {want}", gx[i]);
        }
        // A strided (transposed) tensor takes the element-by-element path: the same values.
        if n % 2 == 0 {
            let t = tensor(&v, [2, n / 2], &plain);
            let strided = burn::tensor::activation::sigmoid(t.clone().transpose()).transpose();
            assert_eq!(read(strided), read(burn::tensor::activation::sigmoid(t.clone())), "strided sigmoid, {n}");
            let strided = burn::tensor::activation::gelu(t.clone().transpose()).transpose();
            assert_eq!(read(strided), read(burn::tensor::activation::gelu(t)), "strided gelu, {n}");
        }
    }
}

/// One max pooling case through burn's API and autodiff against a direct loop: the output (the
/// first largest value of each window, padding never chosen) and the input gradient (each output
/// gradient added at its window's maximum).
#[allow(clippy::too_many_arguments)]
fn max_pool_case(
    n: usize,
    c: usize,
    hw: [usize; 2],
    k: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
    ceil: bool,
    strided: bool,
    ties: bool,
) {
    use burn::tensor::module::max_pool2d;
    use burn::tensor::ops::MaxPoolOptions;
    let device = Device::flex().autodiff();
    let name =
        format!("max pool n {n} c {c} {hw:?} k {k:?} s {stride:?} p {pad:?} d {dil:?} ceil {ceil} strided {strided}");
    let [h, w] = hw;
    let mut x = values(n * c * h * w, 11 + c as u64);
    if ties {
        // Five distinct values: windows hold equal maxima, and the first one's index must win.
        x.iter_mut().for_each(|v| *v = (*v * 2.0).round() / 2.0);
    }
    let xt = if strided {
        // The same values laid out channels-last, seen as [n, c, h, w] through a permute.
        let mut last = vec![0.0f32; x.len()];
        for b in 0..n {
            for ch in 0..c {
                for p in 0..h * w {
                    last[(b * h * w + p) * c + ch] = x[(b * c + ch) * h * w + p];
                }
            }
        }
        tensor(&last, [n, h, w, c], &device).permute([0, 3, 1, 2]).require_grad()
    } else {
        tensor(&x, [n, c, h, w], &device).require_grad()
    };
    let options = MaxPoolOptions {
        kernel_size: k,
        stride,
        padding: [(pad[0], pad[0]), (pad[1], pad[1])],
        dilation: dil,
        ceil_mode: ceil,
    };
    let out = max_pool2d(xt.clone(), options.clone());
    let [_, _, oh, ow] = out.dims();
    // PyTorch's output size: floor or ceil of (in + 2 pad - dil (k - 1) - 1) / stride + 1, and with
    // ceil a last window must start inside the input or its left padding.
    let size = |i: usize, k: usize, s: usize, p: usize, d: usize| {
        let span = i + 2 * p - d * (k - 1) - 1;
        let mut o = if ceil { span.div_ceil(s) + 1 } else { span / s + 1 };
        if ceil && (o - 1) * s >= i + p {
            o -= 1;
        }
        o
    };
    assert_eq!(
        [oh, ow],
        [size(h, k[0], stride[0], pad[0], dil[0]), size(w, k[1], stride[1], pad[1], dil[1])],
        "{name}: output size"
    );
    let dy = values(n * c * oh * ow, 12);
    let loss = (out.clone() * tensor(&dy, [n, c, oh, ow], &device)).sum();
    let grads = loss.backward();
    let (mut y, mut dx) = (vec![0.0f32; n * c * oh * ow], vec![0.0f32; x.len()]);
    for bc in 0..n * c {
        for (i, j) in (0..oh).flat_map(|i| (0..ow).map(move |j| (i, j))) {
            let mut best: Option<(f32, usize)> = None;
            for a in 0..k[0] {
                for b in 0..k[1] {
                    let (r, q) = (
                        (i * stride[0] + a * dil[0]) as isize - pad[0] as isize,
                        (j * stride[1] + b * dil[1]) as isize - pad[1] as isize,
                    );
                    if r < 0 || q < 0 || r >= h as isize || q >= w as isize {
                        continue;
                    }
                    let at = bc * h * w + r as usize * w + q as usize;
                    if best.is_none_or(|(v, _)| x[at] > v) {
                        best = Some((x[at], at));
                    }
                }
            }
            let (v, at) = best.expect("every window holds an input pixel");
            let o = (bc * oh + i) * ow + j;
            y[o] = v;
            dx[at] += dy[o];
        }
    }
    assert_close(&format!("{name}: output"), &read(out), &y);
    assert_close(&format!("{name}: dx"), &read(xt.grad(&grads).unwrap()), &dx);
    // Inference (no autodiff) takes the values-only kernel.
    let plain = xt.inner();
    assert!(!plain.device().is_autodiff());
    assert_close(&format!("{name}: inference output"), &read(max_pool2d(plain, options)), &y);
}

/// Max pooling (the patched 2-D f32 kernel, vendor/burn-flex/src/ops/maxpool2d.rs; pepr_lenet5 and
/// the resnets depend on it), training (with indices) and inference (values only): lenet5's 2x2
/// stride 2, resnet's 3x3 stride 2 padding 1, 3x3 and 2x2 stride 1, odd planes, ceil mode,
/// dilation, non-square windows, batch 1 and 33, a channels-last input, equal maxima.
#[test]
fn max_pool_and_its_gradient_equal_a_direct_loop() {
    max_pool_case(32, 6, [64, 64], [2, 2], [2, 2], [0, 0], [1, 1], false, false, false);
    max_pool_case(1, 3, [13, 11], [3, 3], [2, 2], [1, 1], [1, 1], false, false, false);
    max_pool_case(33, 2, [7, 9], [3, 3], [2, 2], [1, 1], [1, 1], true, false, false);
    max_pool_case(2, 5, [9, 10], [3, 2], [1, 2], [1, 0], [2, 1], false, false, false);
    max_pool_case(3, 4, [15, 15], [2, 2], [2, 2], [0, 0], [1, 1], true, true, false);
    max_pool_case(2, 3, [5, 5], [3, 3], [3, 3], [1, 1], [1, 1], true, false, false);
    // The dedicated kernel's row paths (2x2 / 3x3, stride 1 / 2) with ties, several row blocks.
    max_pool_case(33, 4, [30, 31], [3, 3], [2, 2], [1, 1], [1, 1], false, false, true);
    max_pool_case(4, 3, [17, 16], [3, 3], [1, 1], [1, 1], [1, 1], false, true, true);
    max_pool_case(2, 2, [9, 12], [2, 2], [1, 1], [0, 0], [1, 1], true, false, true);
    max_pool_case(33, 6, [28, 28], [2, 2], [2, 2], [0, 0], [1, 1], false, false, true);
}

/// Sums and means over a middle axis (squeeze-excitation's `mean_dims(&[2, 3])` reduces H first):
/// large ones split their batches over the threads. Against an f64 loop, on odd shapes below and
/// above the parallel threshold, batch 1 and 33, and on a slice that starts inside its buffer.
#[test]
fn middle_axis_sums_and_spatial_means_equal_plain_loops() {
    let device = Device::flex();
    for shape in [[1usize, 5, 7, 3], [33, 17, 31, 29], [1, 300, 33, 31], [2, 96, 32, 32], [33, 40, 16, 16]] {
        let [n, c, h, w] = shape;
        let v = values(n * c * h * w, (n * c + h) as u64);
        let x = tensor(&v, shape, &device);
        let at = |b: usize, ch: usize, y: usize, xx: usize| v[((b * c + ch) * h + y) * w + xx] as f64;
        let mut over_h = vec![0.0f32; n * c * w];
        let mut mean = vec![0.0f32; n * c];
        for b in 0..n {
            for ch in 0..c {
                let mut all = 0.0f64;
                for xx in 0..w {
                    let s: f64 = (0..h).map(|y| at(b, ch, y, xx)).sum();
                    over_h[(b * c + ch) * w + xx] = s as f32;
                    all += s;
                }
                mean[b * c + ch] = (all / (h * w) as f64) as f32;
            }
        }
        assert_close(&format!("sum over H, {shape:?}"), &read(x.clone().sum_dim(2)), &over_h);
        assert_close(&format!("spatial mean, {shape:?}"), &read(x.clone().mean_dims(&[2, 3])), &mean);
        // Channels 1.. of each sample: a view starting inside the buffer (sum over channels).
        if c > 1 {
            let view = x.slice([0..n, 1..c, 0..h, 0..w]);
            let mut want = vec![0.0f32; n * h * w];
            for b in 0..n {
                for p in 0..h * w {
                    want[b * h * w + p] = (1..c).map(|ch| v[(b * c + ch) * h * w + p] as f64).sum::<f64>() as f32;
                }
            }
            assert_close(&format!("sum over channels 1.., {shape:?}"), &read(view.sum_dim(1)), &want);
        }
    }
}

/// LayerNorm over channels of an NCHW map as pepr's ConvNeXt calls it (permute to channels-last,
/// burn's `layer_norm`, permute back), then a layer scale `[1, C, 1, 1]` and the residual add, in
/// training: output and the gradients of input, weight, bias and scale against the definition in
/// f64. burn's autodiff runs LayerNorm as its decomposition, so this drives the broadcast
/// element-wise ops (per-row mean and deviation, per-channel weight and scale), split over the
/// threads above the parallel threshold and on one below: batch 1 and 33, odd channel counts.
#[test]
fn layer_norm_and_layer_scale_and_their_gradients_equal_the_definition() {
    let device = Device::flex().autodiff();
    for [n, c, h, w] in [[1usize, 13, 5, 7], [33, 40, 16, 16], [1, 80, 64, 64], [3, 27, 9, 11]] {
        let eps = 1e-6;
        let x = values(n * c * h * w, c as u64);
        let (g, b, s) = (values(c, 5), values(c, 6), values(c, 7));
        let dy = values(x.len(), 8);
        let xt = tensor(&x, [n, c, h, w], &device).require_grad();
        let (gt, bt) = (tensor(&g, [c], &device).require_grad(), tensor(&b, [c], &device).require_grad());
        let st = tensor(&s, [1, c, 1, 1], &device).require_grad();
        let rows = xt.clone().permute([0, 2, 3, 1]).reshape([n * h * w, c]);
        let normed = burn::tensor::module::layer_norm(rows, gt.clone(), Some(bt.clone()), eps);
        let normed = normed.reshape([n, h, w, c]).permute([0, 3, 1, 2]);
        let y = normed * st.clone() + xt.clone();
        let grads = (y.clone() * tensor(&dy, [n, c, h, w], &device)).sum().backward();

        let at = |v: &[f32], b: usize, ch: usize, p: usize| v[(b * c + ch) * h * w + p] as f64;
        let mut ry = vec![0.0f32; x.len()];
        let mut rdx = vec![0.0f32; x.len()];
        let (mut rdg, mut rdb, mut rds) = (vec![0.0f64; c], vec![0.0f64; c], vec![0.0f64; c]);
        for bi in 0..n {
            for p in 0..h * w {
                let mean = (0..c).map(|ch| at(&x, bi, ch, p)).sum::<f64>() / c as f64;
                let var = (0..c).map(|ch| (at(&x, bi, ch, p) - mean).powi(2)).sum::<f64>() / c as f64;
                let sd = (var + eps).sqrt();
                let xhat: Vec<f64> = (0..c).map(|ch| (at(&x, bi, ch, p) - mean) / sd).collect();
                // d loss / d normed = dy * scale; then LayerNorm's backward.
                let dn: Vec<f64> = (0..c).map(|ch| at(&dy, bi, ch, p) * s[ch] as f64).collect();
                let dxhat: Vec<f64> = (0..c).map(|ch| dn[ch] * g[ch] as f64).collect();
                let m1 = dxhat.iter().sum::<f64>() / c as f64;
                let m2 = (0..c).map(|ch| dxhat[ch] * xhat[ch]).sum::<f64>() / c as f64;
                for ch in 0..c {
                    let i = (bi * c + ch) * h * w + p;
                    let normed = xhat[ch] * g[ch] as f64 + b[ch] as f64;
                    ry[i] = (normed * s[ch] as f64 + x[i] as f64) as f32;
                    rdx[i] = ((dxhat[ch] - m1 - xhat[ch] * m2) / sd + dy[i] as f64) as f32;
                    rdg[ch] += dn[ch] * xhat[ch];
                    rdb[ch] += dn[ch];
                    rds[ch] += dy[i] as f64 * normed;
                }
            }
        }
        let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect::<Vec<_>>();
        let name = format!("{n}x{c}x{h}x{w}");
        assert_close(&format!("layer norm + scale + residual, {name}"), &read(y), &ry);
        assert_close(&format!("dx, {name}"), &read(xt.grad(&grads).unwrap()), &rdx);
        assert_close(&format!("d weight, {name}"), &read(gt.grad(&grads).unwrap()), &f(rdg));
        assert_close(&format!("d bias, {name}"), &read(bt.grad(&grads).unwrap()), &f(rdb));
        assert_close(&format!("d scale, {name}"), &read(st.grad(&grads).unwrap()), &f(rds));
    }
}

/// The same LayerNorm in inference, as pepr's ConvNeXt runs it there: burn's `layer_norm` on the
/// channels-last view itself (no reshape), which burn-flex normalizes in place across the NCHW
/// planes, with and without a bias, against the definition in f64: batch 1 and 33, planes of 1x2 to
/// 64x64 pixels (runs of pixels below, at and above the kernel's 64), odd channel counts; and a
/// view that is not of that form (a sliced sample) still takes the general path.
#[test]
fn layer_norm_on_a_channels_last_view_equals_the_definition() {
    let device = Device::flex();
    for [n, c, h, w] in
        [[1usize, 13, 5, 7], [33, 40, 16, 16], [2, 3, 1, 2], [1, 80, 64, 64], [3, 320, 2, 2], [2, 27, 9, 11]]
    {
        let eps = 1e-6;
        let x = values(n * c * h * w, c as u64 + 100);
        let (g, b) = (values(c, 15), values(c, 16));
        let xt = tensor(&x, [n, c, h, w], &device);
        let (gt, bt) = (tensor(&g, [c], &device), tensor(&b, [c], &device));
        for beta in [Some(bt.clone()), None] {
            let with_beta = beta.is_some();
            let view = xt.clone().permute([0, 2, 3, 1]);
            let y = burn::tensor::module::layer_norm(view, gt.clone(), beta, eps).permute([0, 3, 1, 2]);
            let mut want = vec![0.0f32; x.len()];
            for bi in 0..n {
                for p in 0..h * w {
                    let at = |ch: usize| (bi * c + ch) * h * w + p;
                    let mean = (0..c).map(|ch| x[at(ch)] as f64).sum::<f64>() / c as f64;
                    let var = (0..c).map(|ch| (x[at(ch)] as f64 - mean).powi(2)).sum::<f64>() / c as f64;
                    for ch in 0..c {
                        let shift = if with_beta { b[ch] as f64 } else { 0.0 };
                        want[at(ch)] = ((x[at(ch)] as f64 - mean) / (var + eps).sqrt() * g[ch] as f64 + shift) as f32;
                    }
                }
            }
            let name = format!("{n}x{c}x{h}x{w}, bias {with_beta}");
            assert_close(&format!("layer norm of the view, {name}"), &read(y), &want);
        }
    }
    // Samples 1..3 of 4: a channels-last view whose sample stride is not C*H*W of what it shows.
    let [n, c, h, w] = [4usize, 6, 3, 5];
    let x = values(n * c * h * w, 77);
    let (g, b) = (values(c, 78), values(c, 79));
    let sliced = tensor(&x, [n, c, h, w], &device).narrow(0, 1, 3).permute([0, 2, 3, 1]);
    let rows = tensor(&x, [n, c, h, w], &device).narrow(0, 1, 3).permute([0, 2, 3, 1]).reshape([3 * h * w, c]);
    let (gt, bt) = (tensor(&g, [c], &device), tensor(&b, [c], &device));
    let got = burn::tensor::module::layer_norm(sliced, gt.clone(), Some(bt.clone()), 1e-5);
    let want = burn::tensor::module::layer_norm(rows, gt, Some(bt), 1e-5).reshape([3, h, w, c]);
    assert_close("layer norm of a sliced view", &read(got), &read(want));
}

/// Broadcast and strided element-wise ops on plain tensors, above and below the parallel
/// threshold: written into a fresh left operand, into a fresh right operand (sub and div keep
/// their order), or into a new buffer when both are shared; the shared inputs stay unchanged.
#[test]
fn broadcast_and_strided_element_wise_ops_equal_plain_loops() {
    let device = Device::flex();
    for [n, c, h, w] in [[33usize, 40, 16, 16], [1, 7, 3, 5], [2, 301, 29, 31]] {
        let len = n * c * h * w;
        let v = values(len, 11);
        let per_channel: Vec<f32> = values(c, 12).iter().map(|x| x + 2.0).collect();
        let x = tensor(&v, [n, c, h, w], &device);
        let s = tensor(&per_channel, [1, c, 1, 1], &device);
        let want = |f: &dyn Fn(f32, f32) -> f32| -> Vec<f32> {
            (0..len).map(|i| f(v[i], per_channel[(i / (h * w)) % c])).collect()
        };
        // Shared lhs: a new buffer; x stays as it was.
        assert_eq!(read(x.clone() * s.clone()), want(&|a, b| a * b), "shared x * scale, {n}x{c}");
        assert_eq!(read(x.clone() - s.clone()), want(&|a, b| a - b), "shared x - scale, {n}x{c}");
        // Fresh lhs: in place.
        let fresh = tensor(&v, [n, c, h, w], &device);
        assert_eq!(read(fresh / s.clone()), want(&|a, b| a / b), "fresh x / scale, {n}x{c}");
        // Scale on the left of a fresh right operand: written into it, order kept.
        let fresh = tensor(&v, [n, c, h, w], &device);
        assert_eq!(read(s.clone() - fresh), want(&|a, b| b - a), "scale - fresh x, {n}x{c}");
        let fresh = tensor(&v, [n, c, h, w], &device);
        assert_eq!(read(s.clone() / fresh), want(&|a, b| b / a), "scale / fresh x, {n}x{c}");
        assert_eq!(read(x.clone()), v, "x unchanged, {n}x{c}");
        // A channels-last view (strided) against a contiguous tensor of the same shape.
        let last = tensor(&v, [n, h, w, c], &device).permute([0, 3, 1, 2]);
        let other = values(len, 13);
        let ot = tensor(&other, [n, c, h, w], &device);
        let mut want = vec![0.0f32; len];
        for b in 0..n {
            for ch in 0..c {
                for p in 0..h * w {
                    let i = (b * c + ch) * h * w + p;
                    want[i] = v[(b * h * w + p) * c + ch] - other[i];
                }
            }
        }
        assert_eq!(read(last.clone() - ot.clone()), want, "channels-last view - fresh, {n}x{c}");
        let shared = ot.clone();
        assert_eq!(read(last - ot), want, "channels-last view - shared, {n}x{c}");
        assert_eq!(read(shared), other, "shared right operand unchanged, {n}x{c}");
    }
}

/// Transposing copies (a permuted view made contiguous, as LayerNorm2d's reshape does both ways)
/// equal index arithmetic exactly: planes and channel counts below, at and above the 8x8 blocks of
/// the AVX transpose and not multiples of 8, one sample and many (the parallel split), and a view
/// that starts inside its buffer (a narrowed batch).
#[test]
fn transposing_copies_equal_index_arithmetic() {
    let device = Device::flex();
    for [n, c, h, w] in
        [[1usize, 8, 2, 4], [2, 7, 3, 3], [33, 40, 16, 16], [3, 27, 9, 11], [2, 320, 2, 2], [1, 17, 64, 65]]
    {
        let len = n * c * h * w;
        let v = values(len, (c + h) as u64);
        // NCHW -> channels-last rows, and back from rows to NCHW.
        let rows = read(tensor(&v, [n, c, h, w], &device).permute([0, 2, 3, 1]).reshape([n * h * w, c]));
        let back = read(tensor(&v, [n, h, w, c], &device).permute([0, 3, 1, 2]).reshape([n, c * h * w]));
        let (mut want_rows, mut want_back) = (vec![0.0f32; len], vec![0.0f32; len]);
        for b in 0..n {
            for ch in 0..c {
                for p in 0..h * w {
                    want_rows[(b * h * w + p) * c + ch] = v[(b * c + ch) * h * w + p];
                    want_back[(b * c + ch) * h * w + p] = v[(b * h * w + p) * c + ch];
                }
            }
        }
        assert_eq!(rows, want_rows, "NCHW -> rows, {n}x{c}x{h}x{w}");
        assert_eq!(back, want_back, "rows -> NCHW, {n}x{c}x{h}x{w}");
        if n > 1 {
            let narrowed = tensor(&v, [n, c, h, w], &device).narrow(0, 1, n - 1).permute([0, 2, 3, 1]);
            let got = read(narrowed.reshape([(n - 1) * h * w, c]));
            assert_eq!(got, want_rows[h * w * c..].to_vec(), "narrowed NCHW -> rows, {n}x{c}x{h}x{w}");
        }
    }
}

/// The kernels split over threads give bit-identical results for 1, 2 and 3 threads: LayerNorm's
/// training decomposition with a layer scale (broadcast ops), a convolution's bias gradient, GELU
/// and SiLU forward and gradient, and a spatial mean, each above the parallel threshold.
#[test]
fn split_kernels_give_identical_results_for_one_two_and_three_threads() {
    let run = || -> Vec<Vec<f32>> {
        let device = Device::flex().autodiff();
        let mut out = Vec::new();
        let [n, c, h, w] = [33usize, 40, 16, 16];
        let x = tensor(&values(n * c * h * w, 21), [n, c, h, w], &device).require_grad();
        let g = tensor(&values(c, 22), [c], &device).require_grad();
        let s = tensor(&values(c, 23), [1, c, 1, 1], &device).require_grad();
        let rows = x.clone().permute([0, 2, 3, 1]).reshape([n * h * w, c]);
        let y =
            burn::tensor::module::layer_norm(rows, g.clone(), None, 1e-6).reshape([n, h, w, c]).permute([0, 3, 1, 2]);
        let y = burn::tensor::activation::gelu(y * s.clone() + x.clone());
        let y = burn::tensor::activation::silu(y);
        let grads = (y.clone() * tensor(&values(n * c * h * w, 24), [n, c, h, w], &device)).sum().backward();
        out.extend([
            read(y),
            read(x.grad(&grads).unwrap()),
            read(g.grad(&grads).unwrap()),
            read(s.grad(&grads).unwrap()),
        ]);
        let xc = tensor(&values(2 * 3 * 32 * 32, 25), [2, 3, 32, 32], &device);
        let wc = tensor(&values(130 * 27, 26), [130, 3, 3, 3], &device).require_grad();
        let bc = tensor(&values(130, 27), [130], &device).require_grad();
        let yc = conv2d(xc, wc, Some(bc.clone()), ConvOptions::new([1, 1], [1, 1], [1, 1], 1));
        let grads = (yc.clone() * yc.clone()).sum().backward();
        out.extend([read(bc.grad(&grads).unwrap()), read(yc.mean_dims(&[2, 3]))]);
        out
    };
    let pooled = |threads: usize| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(run);
    let one = pooled(1);
    for threads in [2, 3] {
        assert!(pooled(threads) == one, "{threads} threads differ from one");
    }
}
