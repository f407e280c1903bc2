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
//!
//! The dense-layer ops also run in f64 (the bilevel code's f64 policy), with `f64::tanh`
//! instead of the rational approximation: finite-difference Hessian-vector products need the
//! activation exact to f64 precision.

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor,
};
use rayon::prelude::*;

use super::{map_f32, runs_custom_op};

/// Elements per parallel chunk; small tensors stay on the calling thread.
const CHUNK: usize = 16 * 1024;
/// Rows per partial sum of the column sum.
const SUM_BLOCK_ROWS: usize = 256;

/// Rational minimax tanh on [-7.9, 7.9] (odd degree-13 over even degree-6 polynomial), within
/// 1e-6 of `f32::tanh`, branch-free so the loop vectorizes.
#[inline(always)]
#[allow(clippy::excessive_precision)] // coefficients as fitted; f32 rounds them
pub(crate) fn tanh_approx(x: f32) -> f32 {
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

/// A float type the dense-layer ops run in: f32 (PPO) or f64 (the bilevel f64 policy).
trait Float:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn tanh_act(self) -> Self;
    fn relu(self) -> Self;
    /// The contiguous slice behind `storage`, or `None` for another dtype.
    fn slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Option<&'a [Self]>;
    /// The owned values of `storage`, or `None` for another dtype.
    fn take(storage: CpuStorage) -> Option<Vec<Self>>;
    fn store(values: Vec<Self>) -> CpuStorage;
}

/// `Float` for a primitive float held in the storage variant `$variant`, with `$tanh` as the
/// layer activation.
macro_rules! impl_float {
    ($t:ty, $variant:ident, $tanh:expr) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn tanh_act(self) -> Self {
                $tanh(self)
            }
            fn relu(self) -> Self {
                self.max(0.0)
            }
            fn slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Option<&'a [Self]> {
                let (start, end) = layout.contiguous_offsets()?;
                match storage {
                    CpuStorage::$variant(v) => Some(&v[start..end]),
                    _ => None,
                }
            }
            fn take(storage: CpuStorage) -> Option<Vec<Self>> {
                match storage {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn store(values: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(values)
            }
        }
    };
}

impl_float!(f32, F32, tanh_approx);
impl_float!(f64, F64, f64::tanh);

/// The contiguous `T` slice behind a CPU tensor, or an error naming `op`.
fn contiguous<'a, T: Float>(op: &str, storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [T]> {
    match T::slice(storage, layout) {
        Some(v) => Ok(v),
        None => candle_core::bail!("{op}: needs a contiguous f32 or f64 tensor of one dtype"),
    }
}

/// Runs `f(first_element_index, chunk)` over whole-row chunks of `out`, in parallel when big.
fn parallel_rows<T: Send>(out: &mut [T], row_len: usize, f: impl Fn(usize, &mut [T]) + Sync) {
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
        match s1 {
            CpuStorage::F64(_) => self.fwd::<f64>(s1, l1, s2, l2, s3, l3),
            _ => self.fwd::<f32>(s1, l1, s2, l2, s3, l3),
        }
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

impl FusedLinear {
    fn fwd<T: Float>(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = "fused_linear";
        let (&[m, k], &[k2, n]) = (l1.dims(), l2.dims()) else {
            candle_core::bail!("fused_linear: needs 2-d input and weight");
        };
        if k != k2 {
            candle_core::bail!("fused_linear: input [{m}, {k}] times weight [{k2}, {n}]");
        }
        let bias = contiguous::<T>(name, s3, l3)?;
        if bias.len() != n {
            candle_core::bail!("fused_linear: bias of {} for {n} outputs", bias.len());
        }
        let Some(mut out) = T::take(s1.matmul(s2, (1, m, n, k), l1, l2)?) else {
            candle_core::bail!("fused_linear: input, weight and bias must share one dtype");
        };
        // One loop per activation so each vectorizes on its own.
        fn apply<T: Float>(out: &mut [T], bias: &[T], f: impl Fn(T) -> T + Sync) {
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
            Act::Tanh => apply(&mut out, bias, T::tanh_act),
            Act::Relu => apply(&mut out, bias, T::relu),
        }
        Ok((T::store(out), Shape::from((m, n))))
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
        match s1 {
            CpuStorage::F64(_) => self.fwd::<f64>(s1, l1, s2, l2),
            _ => self.fwd::<f32>(s1, l1, s2, l2),
        }
    }
}

impl ActGrad {
    fn fwd<T: Float>(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = contiguous::<T>("act_grad", s1, l1)?;
        let g = contiguous::<T>("act_grad", s2, l2)?;
        if y.len() != g.len() {
            candle_core::bail!("act_grad: {} outputs, {} gradients", y.len(), g.len());
        }
        let mut out = vec![T::ZERO; y.len()];
        fn apply<T: Float>(out: &mut [T], y: &[T], g: &[T], f: impl Fn(T, T) -> T + Sync) {
            parallel_rows(out, 1, |start, chunk| {
                let end = start + chunk.len();
                for ((o, &yv), &gv) in chunk.iter_mut().zip(&y[start..end]).zip(&g[start..end]) {
                    *o = f(yv, gv);
                }
            });
        }
        match self.0 {
            Act::Identity => apply(&mut out, y, g, |_, gv| gv),
            Act::Tanh => apply(&mut out, y, g, |yv, gv| gv * (T::ONE - yv * yv)),
            Act::Relu => apply(
                &mut out,
                y,
                g,
                |yv, gv| if yv > T::ZERO { gv } else { T::ZERO },
            ),
        }
        Ok((T::store(out), l1.shape().clone()))
    }
}

/// Sum over rows of a `[B, N]` matrix: `[N]`.
struct ColumnSum;

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "column_sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        match s {
            CpuStorage::F64(_) => column_sum::<f64>(s, l),
            _ => column_sum::<f32>(s, l),
        }
    }
}

fn column_sum<T: Float>(s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
    let x = contiguous::<T>("column_sum", s, l)?;
    let &[_, n] = l.dims() else {
        candle_core::bail!("column_sum: needs a 2-d tensor");
    };
    let block = SUM_BLOCK_ROWS * n;
    let partial = |rows: &[T]| {
        let mut acc = vec![T::ZERO; n];
        for row in rows.chunks_exact(n) {
            acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
        }
        acc
    };
    let partials: Vec<Vec<T>> = if x.len() > CHUNK {
        x.par_chunks(block).map(partial).collect()
    } else {
        x.chunks(block).map(partial).collect()
    };
    let mut out = vec![T::ZERO; n];
    for p in &partials {
        out.iter_mut().zip(p).for_each(|(o, &v)| *o += v);
    }
    Ok((T::store(out), Shape::from(n)))
}

/// `act(x w + b)` with `x: [B, K]`, `w: [K, N]`, `b: [N]` as one differentiable op on the CPU
/// in f32 or f64; on other devices or dtypes, or under [`super::PortableOps`], candle's own ops.
pub fn fused_linear(x: &Tensor, w: &Tensor, b: &Tensor, act: Act) -> Result<Tensor> {
    if !runs_custom_op(x) || !matches!(x.dtype(), DType::F32 | DType::F64) {
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

/// Elementwise softplus, differentiable (custom op for f32 on the CPU, candle ops otherwise or
/// under [`super::PortableOps`]).
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    if !runs_custom_op(x) || x.dtype() != DType::F32 {
        // relu(x) + ln(1 + exp(-|x|))
        return x.relu()?.add(&(x.abs()?.neg()?.exp()? + 1.0)?.log()?);
    }
    x.contiguous()?.apply_op1(Softplus)
}

#[cfg(test)]
#[path = "elementwise_tests.rs"]
mod tests;
