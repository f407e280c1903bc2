//! Custom candle ops: special functions the Beta policy needs (lgamma, digamma, trigamma, with
//! their derivatives) and fused elementwise kernels for the hot path of the MLP.
//!
//! Every op dispatches: CPU tensors run the host custom op, tensors on another device run a
//! portable version made of candle primitives (differentiated by candle's own autodiff).
//! [`PortableOps`] forces the portable version on the CPU too, on the current thread, so that
//! a CPU-only build can run exactly the code a GPU runs and compare it with the custom ops.

mod elementwise;
mod special;

pub(crate) use elementwise::tanh_approx;
pub use elementwise::{fused_linear, softplus, Act};
pub use special::{digamma, digamma_f64, lgamma, lgamma_f64, trigamma_f64};

#[cfg(test)]
mod portable_tests;

use std::cell::Cell;
use std::marker::PhantomData;

use candle_core::{CpuStorage, Layout, Result, Shape, Tensor};

thread_local! {
    static FORCE_PORTABLE: Cell<bool> = const { Cell::new(false) };
}

/// While alive, the ops of this module take their portable (candle primitive) path on the CPU
/// as well, on this thread only; dropping it restores the previous setting. For parity checks
/// of the device paths on a CPU-only build.
#[must_use = "the portable path is only forced while the guard lives"]
pub struct PortableOps {
    previous: bool,
    /// Thread-bound: the setting it restores belongs to the thread that entered.
    _not_send: PhantomData<*const ()>,
}

impl PortableOps {
    /// Forces the portable path on this thread until the guard drops.
    pub fn enter() -> Self {
        let previous = FORCE_PORTABLE.with(|f| f.replace(true));
        PortableOps {
            previous,
            _not_send: PhantomData,
        }
    }

    /// Whether the portable path is forced on this thread.
    pub fn is_active() -> bool {
        FORCE_PORTABLE.with(Cell::get)
    }
}

impl Drop for PortableOps {
    fn drop(&mut self) {
        FORCE_PORTABLE.with(|f| f.set(self.previous));
    }
}

/// Whether `x` goes through a host custom op: on the CPU, with the portable path not forced.
pub(crate) fn runs_custom_op(x: &Tensor) -> bool {
    x.device().is_cpu() && !PortableOps::is_active()
}

/// The contiguous `f32` slice behind a CPU tensor, or an error naming `op`.
pub(crate) fn contiguous_f32<'a>(
    op: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> Result<&'a [f32]> {
    let data = match storage {
        CpuStorage::F32(v) => v.as_slice(),
        _ => candle_core::bail!("{op}: only f32 tensors are supported"),
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

/// Applies `f` elementwise into a new storage of `layout`'s shape, for f32 or f64 storage
/// (f32 values go through f64 and back).
pub(crate) fn map_float(
    op: &str,
    storage: &CpuStorage,
    layout: &Layout,
    f: impl Fn(f64) -> f64,
) -> Result<(CpuStorage, Shape)> {
    match storage {
        CpuStorage::F64(data) => {
            let Some((start, end)) = layout.contiguous_offsets() else {
                candle_core::bail!("{op}: input must be contiguous");
            };
            let out: Vec<f64> = data[start..end].iter().map(|&v| f(v)).collect();
            Ok((CpuStorage::F64(out), layout.shape().clone()))
        }
        _ => map_f32(op, storage, layout, |v| f(v as f64) as f32),
    }
}

/// Applies `f` elementwise into a new storage of `layout`'s shape.
pub(crate) fn map_f32(
    op: &str,
    storage: &CpuStorage,
    layout: &Layout,
    f: impl Fn(f32) -> f32,
) -> Result<(CpuStorage, Shape)> {
    let x = contiguous_f32(op, storage, layout)?;
    let out: Vec<f32> = x.iter().map(|&v| f(v)).collect();
    Ok((CpuStorage::F32(out), layout.shape().clone()))
}
