//! Fused kernels for the MLP hot path.
//!
//! A dense layer in plain candle is a matmul, a broadcast bias add and an activation: three
//! output tensors, three graph nodes whose gradients candle accumulates through fresh zero
//! tensors, a bias gradient reduced over the batch with a strided `sum(0)`, and a gradient for
//! the input even when the input is the observation batch. candle's `tanh` also maps
//! `f32::tanh` element by element. [`fused_linear`] is one custom op instead: the matmul
//! (candle's own CPU kernel) writes the output, bias and activation are applied in place with a
//! vectorizable rational tanh, and the backward computes `g * act'(y)`, the bias gradient with
//! a contiguous column sum, and the input gradient only when the input needs one.
//!
//! Elementwise passes run over rayon in fixed-size chunks and the column sum adds fixed-size
//! row blocks in order, so results do not depend on the thread count.

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor,
};
use rayon::prelude::*;

use super::{contiguous_f32, map_f32};

/// Elements per parallel chunk; small tensors stay on the calling thread.
const CHUNK: usize = 16 * 1024;
/// Rows per partial sum of the column sum.
const SUM_BLOCK_ROWS: usize = 256;

/// Rational minimax tanh on [-7.9, 7.9] (odd degree-13 over even degree-6 polynomial), within
/// 1e-6 of `f32::tanh`, branch-free so the loop vectorizes.
#[inline(always)]
#[allow(clippy::excessive_precision)] // coefficients as fitted; f32 rounds them
fn tanh_approx(x: f32) -> f32 {
    const CLAMP: f32 = 7.998_811_7;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let p = x2 * -2.760_768_5e-16 + 2.000_187_9e-13;
    let p = x2 * p + -8.604_671_5e-11;
    let p = x2 * p + 5.122_297e-8;
    let p = x2 * p + 1.485_722_4e-5;
    let p = x2 * p + 6.372_619_3e-4;
    let p = x2 * p + 4.893_524_6e-3;
    let p = x * p;
    let q = x2 * 1.198_258_4e-6 + 1.185_347_1e-4;
    let q = x2 * q + 2.268_434_6e-3;
    let q = x2 * q + 4.893_525_2e-3;
    p / q
}

/// Runs `f(first_element_index, chunk)` over whole-row chunks of `out`, in parallel when big.
fn parallel_rows(out: &mut [f32], row_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let row_len = row_len.max(1);
    let chunk = (CHUNK / row_len).max(1) * row_len;
    if out.len() <= chunk {
        f(0, out);
    } else {
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i * chunk, c));
    }
}

/// Layer activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Identity,
    Tanh,
    Relu,
}

/// `act(x w + b)` for `x: [B, K]`, `w: [K, N]`, `b: [N]`.
struct FusedLinear(Act);

impl CustomOp3 for FusedLinear {
    fn name(&self) -> &'static str {
        "fused_linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (&[m, k], &[k2, n]) = (l1.dims(), l2.dims()) else {
            candle_core::bail!("fused_linear: needs 2-d input and weight");
        };
        if k != k2 {
            candle_core::bail!("fused_linear: input [{m}, {k}] times weight [{k2}, {n}]");
        }
        let bias = contiguous_f32(self.name(), s3, l3)?;
        if bias.len() != n {
            candle_core::bail!("fused_linear: bias of {} for {n} outputs", bias.len());
        }
        let CpuStorage::F32(mut out) = s1.matmul(s2, (1, m, n, k), l1, l2)? else {
            candle_core::bail!("fused_linear: only f32 is supported");
        };
        // One loop per activation so each vectorizes on its own.
        fn apply(out: &mut [f32], bias: &[f32], f: impl Fn(f32) -> f32 + Sync) {
            parallel_rows(out, bias.len(), |_, chunk| {
                for row in chunk.chunks_exact_mut(bias.len()) {
                    for (o, &b) in row.iter_mut().zip(bias) {
                        *o = f(*o + b);
                    }
                }
            });
        }
        match self.0 {
            Act::Identity => apply(&mut out, bias, |z| z),
            Act::Tanh => apply(&mut out, bias, tanh_approx),
            Act::Relu => apply(&mut out, bias, |z| z.max(0.0)),
        }
        Ok((CpuStorage::F32(out), Shape::from((m, n))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let gz = match self.0 {
            Act::Identity => grad,
            act => res.apply_op2_no_bwd(&grad, &ActGrad(act))?,
        };
        let gb = gz.apply_op1_no_bwd(&ColumnSum)?;
        let gw = x.t()?.matmul(&gz)?;
        let gx = if x.track_op() {
            Some(gz.matmul(&w.t()?)?)
        } else {
            None
        };
        Ok((gx, Some(gw), Some(gb)))
    }
}

/// `g * act'(z)` from the activation output `y` and the incoming gradient `g`.
struct ActGrad(Act);

impl CustomOp2 for ActGrad {
    fn name(&self) -> &'static str {
        "act_grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = contiguous_f32(self.name(), s1, l1)?;
        let g = contiguous_f32(self.name(), s2, l2)?;
        if y.len() != g.len() {
            candle_core::bail!("act_grad: {} outputs, {} gradients", y.len(), g.len());
        }
        let mut out = vec![0f32; y.len()];
        fn apply(out: &mut [f32], y: &[f32], g: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
            parallel_rows(out, 1, |start, chunk| {
                let end = start + chunk.len();
                for ((o, &yv), &gv) in chunk.iter_mut().zip(&y[start..end]).zip(&g[start..end]) {
                    *o = f(yv, gv);
                }
            });
        }
        match self.0 {
            Act::Identity => apply(&mut out, y, g, |_, gv| gv),
            Act::Tanh => apply(&mut out, y, g, |yv, gv| gv * (1.0 - yv * yv)),
            Act::Relu => apply(&mut out, y, g, |yv, gv| if yv > 0.0 { gv } else { 0.0 }),
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// Sum over rows of a `[B, N]` matrix: `[N]`.
struct ColumnSum;

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "column_sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(self.name(), s, l)?;
        let &[_, n] = l.dims() else {
            candle_core::bail!("column_sum: needs a 2-d tensor");
        };
        let block = SUM_BLOCK_ROWS * n;
        let partial = |rows: &[f32]| {
            let mut acc = vec![0f32; n];
            for row in rows.chunks_exact(n) {
                acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
            }
            acc
        };
        let partials: Vec<Vec<f32>> = if x.len() > CHUNK {
            x.par_chunks(block).map(partial).collect()
        } else {
            x.chunks(block).map(partial).collect()
        };
        let mut out = vec![0f32; n];
        for p in &partials {
            out.iter_mut().zip(p).for_each(|(o, &v)| *o += v);
        }
        Ok((CpuStorage::F32(out), Shape::from(n)))
    }
}

/// `act(x w + b)` with `x: [B, K]`, `w: [K, N]`, `b: [N]` as one differentiable op on the CPU;
/// on other devices, or for dtypes other than f32 (the f64 policy path), candle's own ops.
pub fn fused_linear(x: &Tensor, w: &Tensor, b: &Tensor, act: Act) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        let z = x.matmul(w)?.broadcast_add(b)?;
        return match act {
            Act::Identity => Ok(z),
            Act::Tanh => z.tanh(),
            Act::Relu => z.relu(),
        };
    }
    x.apply_op3(&w.contiguous()?, &b.contiguous()?, FusedLinear(act))
}

/// `ln(1 + e^x)`, computed stably, with derivative `sigmoid(x)`.
struct Softplus;

fn softplus_f32(v: f32) -> f32 {
    v.max(0.0) + (-v.abs()).exp().ln_1p()
}

impl CustomOp1 for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        map_f32(self.name(), s, l, softplus_f32)
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(candle_nn::ops::sigmoid(&arg.detach())?.mul(grad)?))
    }
}

/// Elementwise softplus, differentiable (custom op for f32 on the CPU, candle ops otherwise).
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        // relu(x) + ln(1 + exp(-|x|))
        return x.relu()?.add(&(x.abs()?.neg()?.exp()? + 1.0)?.log()?);
    }
    x.contiguous()?.apply_op1(Softplus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn tanh_approx_is_within_1e6_of_tanh() {
        let (mut worst, mut worst_x) = (0f32, 0f32);
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4;
            let e = (tanh_approx(x) - x.tanh()).abs();
            if e > worst {
                worst = e;
                worst_x = x;
            }
        }
        assert!(worst < 1e-6, "max abs error {worst} at {worst_x}");
        assert!((tanh_approx(50.0) - 1.0).abs() < 1e-6);
        assert!((tanh_approx(-50.0) + 1.0).abs() < 1e-6);
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Forward and all three gradients against candle's matmul + broadcast add + activation,
    /// on a batch big enough for the parallel paths.
    #[test]
    fn fused_linear_matches_candle_ops() {
        let dev = Device::Cpu;
        let (rows, k, n) = (3000, 5, 7);
        let vals = |len: usize, mul: usize| -> Vec<f32> {
            (0..len)
                .map(|i| ((i * mul % 101) as f32 - 50.0) / 40.0)
                .collect()
        };
        let x = Var::from_vec(vals(rows * k, 37), (rows, k), &dev).unwrap();
        let w = Var::from_vec(vals(k * n, 13), (k, n), &dev).unwrap();
        // Offset the bias so no pre-activation is exactly 0, where relu has no derivative.
        let bias: Vec<f32> = vals(n, 7).iter().map(|v| v + 0.013_7).collect();
        let b = Var::from_vec(bias, n, &dev).unwrap();
        let weights = Tensor::from_vec(vals(rows * n, 29), (rows, n), &dev).unwrap();
        for act in [Act::Identity, Act::Tanh, Act::Relu] {
            let fused = fused_linear(x.as_tensor(), w.as_tensor(), b.as_tensor(), act).unwrap();
            let z = x.as_tensor().matmul(w.as_tensor()).unwrap();
            let z = z.broadcast_add(b.as_tensor()).unwrap();
            let plain = match act {
                Act::Identity => z,
                Act::Tanh => z.tanh().unwrap(),
                Act::Relu => z.relu().unwrap(),
            };
            assert!(max_diff(&fused, &plain) < 1e-5, "{act:?} forward");
            let g1 = (fused * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g2 = (plain * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for (name, v) in [("x", &x), ("w", &w), ("b", &b)] {
                let (a, c) = (
                    g1.get(v.as_tensor()).unwrap(),
                    g2.get(v.as_tensor()).unwrap(),
                );
                let scale = c
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                assert!(
                    max_diff(a, c) <= 1e-4 * scale.max(1.0),
                    "{act:?} grad {name}"
                );
            }
        }
    }

    #[test]
    fn no_gradient_is_computed_for_a_constant_input() {
        let dev = Device::Cpu;
        let x = Tensor::ones((4, 3), DType::F32, &dev).unwrap();
        let w = Var::ones((3, 2), DType::F32, &dev).unwrap();
        let b = Var::zeros(2, DType::F32, &dev).unwrap();
        let y = fused_linear(&x, w.as_tensor(), b.as_tensor(), Act::Tanh).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        assert!(g.get(&x).is_none());
        // d/db sum tanh(3) over 4 rows = 4 (1 - tanh(3)^2)
        let gb = g.get(b.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        let want = 4.0 * (1.0 - 3f32.tanh().powi(2));
        assert!((gb[0] - want).abs() < 1e-5, "{gb:?}");
    }

    #[test]
    fn softplus_values_and_gradient() {
        let dev = Device::Cpu;
        let x = Var::from_slice(&[-30f32, -1.0, 0.0, 2.0, 40.0], 5, &dev).unwrap();
        let y = softplus(x.as_tensor()).unwrap();
        let got = y.to_vec1::<f32>().unwrap();
        let want = [0.0, 0.313_261_7, std::f32::consts::LN_2, 2.126_928, 40.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        let grads = y.sum_all().unwrap().backward().unwrap();
        let g = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert!((g[2] - 0.5).abs() < 1e-7 && (g[3] - 0.880_797_1).abs() < 1e-6);
    }

    /// f64 inputs take candle's generic ops and stay f64, matching the f32 kernel's values.
    #[test]
    fn f64_inputs_fall_back_to_candle_ops() {
        let dev = Device::Cpu;
        let x32 = Tensor::from_vec(vec![0.3f32, -1.2, 0.7, 2.0, -0.4, 0.9], (2, 3), &dev).unwrap();
        let w32 =
            Tensor::from_vec(vec![0.5f32, -0.25, 1.0, 0.75, -1.5, 0.1], (3, 2), &dev).unwrap();
        let b32 = Tensor::from_vec(vec![0.05f32, -0.1], 2, &dev).unwrap();
        let to64 = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
        for act in [Act::Identity, Act::Tanh, Act::Relu] {
            let y32 = fused_linear(&x32, &w32, &b32, act).unwrap();
            let y64 = fused_linear(&to64(&x32), &to64(&w32), &to64(&b32), act).unwrap();
            assert_eq!(y64.dtype(), DType::F64);
            let a = y32.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = y64.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            for (p, q) in a.iter().zip(&b) {
                assert!((*p as f64 - q).abs() < 1e-5, "{act:?} {p} vs {q}");
            }
        }
        let x = Var::from_slice(&[-30f64, -1.0, 2.0, 40.0], 4, &dev).unwrap();
        let y = softplus(x.as_tensor()).unwrap();
        let got = y.to_vec1::<f64>().unwrap();
        assert!((got[1] - 0.313_261_687_518_222_8).abs() < 1e-15 && (got[3] - 40.0).abs() < 1e-15);
        let g = y.sum_all().unwrap().backward().unwrap();
        let g = g.get(x.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
        assert!((g[2] - 1.0 / (1.0 + (-2f64).exp())).abs() < 1e-15, "{g:?}");
    }
}
