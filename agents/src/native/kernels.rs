//! Row-wise kernels of the native pass for the narrow policy and value heads, which a general
//! matrix product (`matmul.rs`) handles poorly (an output 1 or 2 wide), and the matrix view
//! both use.
//!
//! The row kernels are `#[inline(always)]` so that they take the instruction set of the
//! function they are inlined into (see `pass.rs`: AVX2 where the CPU has it).
//!
//! Matrices are row-major `f32` slices; a matrix may be a column block of a wider one (`stride`
//! elements between rows), which is how the actor reads the observation columns of critic-wide
//! rows.

/// A read-only row-major matrix view.
#[derive(Clone, Copy)]
pub(super) struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    /// Elements between the starts of consecutive rows (>= `cols`).
    pub stride: usize,
}

impl<'a> Mat<'a> {
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat::strided(data, rows, cols, cols)
    }

    pub fn strided(data: &'a [f32], rows: usize, cols: usize, stride: usize) -> Self {
        assert!(cols <= stride && (rows == 0 || data.len() >= (rows - 1) * stride + cols));
        Mat {
            data,
            rows,
            cols,
            stride,
        }
    }

    pub fn row(&self, r: usize) -> &'a [f32] {
        &self.data[r * self.stride..r * self.stride + self.cols]
    }
}

/// `Σ a_i b_i` with eight independent partial sums, so the loop vectorizes.
#[inline(always)]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ar.iter().zip(br) {
        tail += x * y;
    }
    let pairs = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (pairs[0] + pairs[2]) + (pairs[1] + pairs[3]) + tail
}

/// `y += alpha · x`.
#[inline(always)]
pub(super) fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `out[r, j] = bias[j] + x[r, :] · w_t[j, :]` for a narrow output (`w_t` is the weight
/// transposed, `[width, x.cols]`).
#[inline(always)]
pub(super) fn narrow_forward(x: Mat, w_t: &[f32], bias: &[f32], out: &mut [f32]) {
    let width = bias.len();
    for (r, o) in out.chunks_exact_mut(width).enumerate().take(x.rows) {
        let row = x.row(r);
        for (j, oj) in o.iter_mut().enumerate() {
            *oj = bias[j] + dot(row, &w_t[j * x.cols..(j + 1) * x.cols]);
        }
    }
}

/// The backward of [`narrow_forward`] for `d_out [rows, width]`: `d_x (+)= d_out · w_t`,
/// `d_w_t += d_outᵀ · x` and `d_bias += Σ_r d_out[r, :]`.
#[inline(always)]
pub(super) fn narrow_backward(
    x: Mat,
    w_t: &[f32],
    d_out: &[f32],
    d_x: &mut [f32],
    accumulate_dx: bool,
    d_w_t: &mut [f32],
    d_bias: &mut [f32],
) {
    let (width, cols) = (d_bias.len(), x.cols);
    for r in 0..x.rows {
        let (g, row) = (&d_out[r * width..(r + 1) * width], x.row(r));
        let dx = &mut d_x[r * cols..(r + 1) * cols];
        if !accumulate_dx {
            dx.fill(0.0);
        }
        for j in 0..width {
            axpy(g[j], &w_t[j * cols..(j + 1) * cols], dx);
            axpy(g[j], row, &mut d_w_t[j * cols..(j + 1) * cols]);
            d_bias[j] += g[j];
        }
    }
}

/// `y = w` transposed: `w` is `[rows, cols]`, the result `[cols, rows]`.
pub(super) fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::matmul::matmul;

    fn naive(a: &[f32], m: usize, k: usize, b: &[f32], n: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    fn close(a: &[f32], b: &[f32]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn matmul_handles_transposes_strides_and_accumulation() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, m, k, &b, n);
        let mut out = vec![9f32; m * n];
        matmul(
            &mut out,
            Mat::new(&a, m, k),
            false,
            Mat::new(&b, k, n),
            false,
            false,
        );
        close(&out, &want);
        // aᵀ stored as [k, m], bᵀ stored as [n, k].
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        let mut out_t = vec![0f32; m * n];
        matmul(
            &mut out_t,
            Mat::new(&at, k, m),
            true,
            Mat::new(&bt, n, k),
            true,
            false,
        );
        close(&out_t, &want);
        // Accumulation adds.
        matmul(
            &mut out_t,
            Mat::new(&a, m, k),
            false,
            Mat::new(&b, k, n),
            false,
            true,
        );
        close(&out_t, &want.iter().map(|v| 2.0 * v).collect::<Vec<_>>());
        // A column block of wider rows: the first k of k + 2 columns.
        let wide: Vec<f32> = (0..m)
            .flat_map(|r| a[r * k..(r + 1) * k].iter().copied().chain([100.0, -100.0]))
            .collect();
        let mut out_s = vec![0f32; m * n];
        matmul(
            &mut out_s,
            Mat::strided(&wide, m, k, k + 2),
            false,
            Mat::new(&b, k, n),
            false,
            false,
        );
        close(&out_s, &want);
    }

    #[test]
    fn narrow_kernels_match_the_matrix_products() {
        let (rows, cols, width) = (6, 19, 2);
        let x: Vec<f32> = (0..rows * cols).map(|i| (i as f32 * 0.3).sin()).collect();
        let w: Vec<f32> = (0..cols * width).map(|i| (i as f32 * 0.7).cos()).collect();
        let bias = [0.5f32, -0.25];
        let mut out = vec![0f32; rows * width];
        narrow_forward(
            Mat::new(&x, rows, cols),
            &transpose(&w, cols, width),
            &bias,
            &mut out,
        );
        let mut want = naive(&x, rows, cols, &w, width);
        want.chunks_exact_mut(width).for_each(|r| {
            r[0] += bias[0];
            r[1] += bias[1];
        });
        close(&out, &want);

        let d_out: Vec<f32> = (0..rows * width).map(|i| i as f32 - 4.0).collect();
        let (mut dx, mut dwt, mut db) =
            (vec![1f32; rows * cols], vec![0f32; cols * width], [0f32; 2]);
        let w_t = transpose(&w, cols, width);
        narrow_backward(
            Mat::new(&x, rows, cols),
            &w_t,
            &d_out,
            &mut dx,
            false,
            &mut dwt,
            &mut db,
        );
        close(&dx, &naive(&d_out, rows, width, &w_t, cols));
        let xt = transpose(&x, rows, cols);
        close(
            &transpose(&dwt, width, cols),
            &naive(&xt, cols, rows, &d_out, width),
        );
        assert_eq!(
            db,
            [
                d_out.iter().step_by(2).sum::<f32>(),
                d_out.iter().skip(1).step_by(2).sum()
            ]
        );
    }
}
