//! Custom candle ops: special functions the Beta policy needs (lgamma, digamma, trigamma, with
//! their derivatives) and fused elementwise kernels for the hot path of the MLP.

mod elementwise;
mod special;

pub use elementwise::{fused_linear, softplus, Act};
pub use special::{digamma, digamma_f64, lgamma, lgamma_f64, trigamma_f64};

use candle_core::{CpuStorage, Layout, Result, Shape};

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
