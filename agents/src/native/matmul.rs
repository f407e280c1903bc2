//! Matrix products whose every output element is summed in the same order on every CPU: the
//! element `(i, j)` starts from 0 (or from the output, when accumulating) and adds
//! `a[i, k] · b[k, j]` for `k = 0, 1, ...` with one fused multiply-add each. Vector width only
//! decides how many elements are computed side by side, so the AVX-512 kernel, the AVX2 + FMA
//! kernel and the scalar fallback give the same bits (the `gemm` crate's kernels block the sums
//! differently per instruction set, which is why the graph learner leaves its AVX-512 kernels
//! out). The right operand is packed into zero-padded panels of the tile's width; the left one
//! is read in place through its strides (packing it would cost as much as the product when
//! the output is only 64 wide).

use std::cell::RefCell;

use super::kernels::Mat;

/// The kernel family a CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Isa {
    Avx512,
    Avx2Fma,
    Scalar,
}

impl Isa {
    /// The fastest family this CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2Fma;
            }
        }
        Isa::Scalar
    }

    /// Rows and columns of the output tile one kernel call computes (the most rows: AVX-512
    /// also has 8- and 4-row kernels for a product's last rows, see [`Isa::panel_rows`]).
    fn tile(self) -> (usize, usize) {
        match self {
            Isa::Avx512 => (12, 32),
            Isa::Avx2Fma => (6, 16),
            Isa::Scalar => (4, 4),
        }
    }

    /// The kernel height for `left` remaining rows: the full tile while it fits, then (AVX-512)
    /// the smallest of 4, 8 or 12 rows that covers the rest, so at most 3 rows are padding.
    fn panel_rows(self, left: usize) -> usize {
        let (mr, _) = self.tile();
        match self {
            Isa::Avx512 if left < mr => [4, 8, 12].into_iter().find(|&h| h >= left).unwrap_or(mr),
            _ => mr,
        }
    }
}

thread_local! {
    /// Packed panels of the left and right operands and an edge tile, reused between calls.
    static PANELS: RefCell<(Vec<f32>, Vec<f32>, Vec<f32>)> = RefCell::default();
}

/// `out[m, n] (+)= a · b` with `a` = `lhs` (or its transpose) `[m, k]` and `b` = `rhs` (or its
/// transpose) `[k, n]` (`accumulate`: add to `out`), on the calling thread, with the fastest
/// kernels of this CPU, which all give the same bits.
pub(super) fn matmul(
    out: &mut [f32],
    lhs: Mat,
    lhs_t: bool,
    rhs: Mat,
    rhs_t: bool,
    accumulate: bool,
) {
    matmul_with(Isa::detect(), out, lhs, lhs_t, rhs, rhs_t, accumulate);
}

/// [`matmul`] with the kernels of `isa`.
pub(super) fn matmul_with(
    isa: Isa,
    out: &mut [f32],
    lhs: Mat,
    lhs_t: bool,
    rhs: Mat,
    rhs_t: bool,
    accumulate: bool,
) {
    let (k, n) = if rhs_t {
        (rhs.cols, rhs.rows)
    } else {
        (rhs.rows, rhs.cols)
    };
    with_panels(|a_edge, b_panels, edge| {
        // The right operand is packed into contiguous panels (read in place, rows `ld` apart,
        // a power of two times 4 bytes would map onto a few L1 sets).
        pack_rhs(b_panels, rhs, rhs_t, k, n, isa.tile().1);
        multiply(
            isa, out, lhs, lhs_t, b_panels, k, n, accumulate, a_edge, edge,
        );
    });
}

/// A right operand packed once into the panels the kernels read, for a product that is
/// repeated with other left operands (a layer's weights, over a step's chunks): packing a
/// 256 x 256 weight costs about 6% of its product with a 256-row chunk.
pub(super) struct PackedRhs {
    isa: Isa,
    k: usize,
    n: usize,
    panels: Vec<f32>,
}

impl PackedRhs {
    /// `rhs` (or its transpose, when `rhs_t`) packed for this CPU's kernels.
    pub fn new(rhs: Mat, rhs_t: bool) -> PackedRhs {
        Self::with_isa(Isa::detect(), rhs, rhs_t)
    }

    /// `rhs` (or its transpose) packed for the kernels of `isa`.
    pub fn with_isa(isa: Isa, rhs: Mat, rhs_t: bool) -> PackedRhs {
        let (k, n) = if rhs_t {
            (rhs.cols, rhs.rows)
        } else {
            (rhs.rows, rhs.cols)
        };
        let mut panels = Vec::new();
        pack_rhs(&mut panels, rhs, rhs_t, k, n, isa.tile().1);
        PackedRhs { isa, k, n, panels }
    }
}

/// [`matmul`] with a right operand packed beforehand: the same bits as `matmul` with that
/// operand, in the kernels it was packed for.
pub(super) fn matmul_packed(
    out: &mut [f32],
    lhs: Mat,
    lhs_t: bool,
    rhs: &PackedRhs,
    accumulate: bool,
) {
    with_panels(|a_edge, _, edge| {
        let (isa, k, n) = (rhs.isa, rhs.k, rhs.n);
        multiply(
            isa,
            out,
            lhs,
            lhs_t,
            &rhs.panels,
            k,
            n,
            accumulate,
            a_edge,
            edge,
        );
    });
}

/// Runs `f` with this thread's scratch: a left operand's last partial panel, packed right
/// panels and an edge tile (fresh buffers when the thread's own are in use).
fn with_panels(f: impl FnOnce(&mut Vec<f32>, &mut Vec<f32>, &mut Vec<f32>)) {
    PANELS.with(|p| {
        let mut fresh: (Vec<f32>, Vec<f32>, Vec<f32>) = Default::default();
        let mut guard = p.try_borrow_mut();
        let (a_edge, b_panels, edge) = match guard.as_mut() {
            Ok(p) => &mut **p,
            Err(_) => &mut fresh,
        };
        f(a_edge, b_panels, edge)
    })
}

/// `out[m, n] (+)= a · b` over the right operand `[k, n]` packed in `b_panels` (panels of the
/// tile width of `isa`, as [`pack_rhs`] lays them out).
#[allow(clippy::too_many_arguments)]
fn multiply(
    isa: Isa,
    out: &mut [f32],
    lhs: Mat,
    lhs_t: bool,
    b_panels: &[f32],
    k: usize,
    n: usize,
    accumulate: bool,
    a_edge: &mut Vec<f32>,
    edge: &mut Vec<f32>,
) {
    let (m, k_lhs) = if lhs_t {
        (lhs.cols, lhs.rows)
    } else {
        (lhs.rows, lhs.cols)
    };
    assert!(k == k_lhs && out.len() == m * n, "matmul shapes");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(0.0);
        }
        return;
    }
    let (mr, nr) = isa.tile();
    // The left operand is read in place through its strides (element (i, kk) at
    // i·a_rs + kk·a_cs); only a last, partial panel of rows is copied, zero-padded. The right
    // one is packed: it is reused by every row panel.
    let s = lhs.stride as isize;
    let (a_rs, a_cs) = if lhs_t { (1, s) } else { (s, 1) };
    let full_panels = m / mr;
    let tail_start = full_panels * mr;
    let tail_rows = m - tail_start;
    let tail_height = isa.panel_rows(tail_rows);
    let tail_in_place = tail_rows == tail_height;
    if tail_rows > 0 && !tail_in_place {
        pack(a_edge, tail_rows, k, tail_height, |i, kk| {
            element(lhs, lhs_t, tail_start + i, kk)
        });
    }
    edge.resize(mr * nr, 0.0);
    let panels = full_panels + usize::from(tail_rows > 0);
    for q in 0..n.div_ceil(nr) {
        let (j0, cols) = (q * nr, nr.min(n - q * nr));
        let b = Panel {
            data: b_panels,
            first: q * k * nr,
            ld: nr,
        };
        for p in 0..panels {
            let i0 = p * mr;
            let (rows, height) = if p < full_panels {
                (mr, mr)
            } else {
                (tail_rows, tail_height)
            };
            let a = if rows == height {
                Operand::Strided {
                    data: lhs.data,
                    first: i0 as isize * a_rs,
                    rs: a_rs,
                    cs: a_cs,
                }
            } else {
                Operand::Strided {
                    data: a_edge,
                    first: 0,
                    rs: 1,
                    cs: height as isize,
                }
            };
            if rows == height && cols == nr {
                let c = &mut out[i0 * n + j0..];
                run_kernel(isa, height, k, a, b, c, n, accumulate);
            } else {
                for r in 0..rows {
                    let src = &out[(i0 + r) * n + j0..(i0 + r) * n + j0 + cols];
                    edge[r * nr..r * nr + cols].copy_from_slice(src);
                }
                run_kernel(isa, height, k, a, b, edge, nr, accumulate);
                for r in 0..rows {
                    let dst = &mut out[(i0 + r) * n + j0..(i0 + r) * n + j0 + cols];
                    dst.copy_from_slice(&edge[r * nr..r * nr + cols]);
                }
            }
        }
    }
}

/// A tile's columns of the right operand: row `kk` is `nr` values from `first + kk·ld`.
#[derive(Clone, Copy)]
struct Panel<'a> {
    data: &'a [f32],
    first: usize,
    ld: usize,
}

/// A tile's rows of the left operand: element `(i, kk)` at `first + i·rs + kk·cs` of `data`.
#[derive(Clone, Copy)]
enum Operand<'a> {
    Strided {
        data: &'a [f32],
        first: isize,
        rs: isize,
        cs: isize,
    },
}

/// Element `(r, c)` of `x` as multiplied (`x` transposed when `t`).
#[inline(always)]
fn element(x: Mat, t: bool, r: usize, c: usize) -> f32 {
    if t {
        x.data[c * x.stride + r]
    } else {
        x.data[r * x.stride + c]
    }
}

/// Packs the `[k, n]` right operand (`rhs` or its transpose) into panels of `nr` columns:
/// panel `q` holds row `kk`'s columns `q·nr..` at `(q·k + kk)·nr`, zero past `n`. Rows of an
/// untransposed operand are copied a panel-row at a time.
fn pack_rhs(buf: &mut Vec<f32>, rhs: Mat, rhs_t: bool, k: usize, n: usize, nr: usize) {
    if rhs_t {
        pack(buf, n, k, nr, |j, kk| element(rhs, true, kk, j));
        return;
    }
    let panels = n.div_ceil(nr);
    buf.clear();
    buf.resize(panels * k * nr, 0.0);
    for (q, panel) in buf.chunks_exact_mut(k * nr).enumerate() {
        let (j0, cols) = (q * nr, nr.min(n - q * nr));
        for (kk, dst) in panel.chunks_exact_mut(nr).enumerate() {
            let row = kk * rhs.stride + j0;
            dst[..cols].copy_from_slice(&rhs.data[row..row + cols]);
        }
    }
}

/// Packs `len` lines of `k` values into panels of `width` lines: panel `p` holds
/// `value(p·width + w, kk)` at `(p·k + kk)·width + w`, zero past `len`.
fn pack(
    buf: &mut Vec<f32>,
    len: usize,
    k: usize,
    width: usize,
    value: impl Fn(usize, usize) -> f32,
) {
    let panels = len.div_ceil(width);
    buf.clear();
    buf.resize(panels * k * width, 0.0);
    for (p, panel) in buf.chunks_exact_mut(k * width).enumerate() {
        for w in 0..width.min(len - p * width) {
            let line = p * width + w;
            for kk in 0..k {
                panel[kk * width + w] = value(line, kk);
            }
        }
    }
}

/// One `mr x nr` tile (`mr` rows: a height [`Isa::panel_rows`] gives):
/// `c[i, j] (+)= Σ_kk a(i, kk) b[kk, j]` over the packed panel `b`, with `c` rows `ldc` apart.
#[allow(clippy::too_many_arguments)]
fn run_kernel(
    isa: Isa,
    mr: usize,
    k: usize,
    a: Operand,
    b: Panel,
    c: &mut [f32],
    ldc: usize,
    acc: bool,
) {
    let nr = isa.tile().1;
    let Operand::Strided {
        data,
        first,
        rs,
        cs,
    } = a;
    let last = first + (mr as isize - 1) * rs + (k as isize - 1) * cs;
    assert!(first >= 0 && rs > 0 && cs > 0 && (last as usize) < data.len());
    // Every operand is a row-major matrix, its transpose or a packed panel: rows or columns
    // are contiguous, which the AVX-512 kernel relies on.
    assert!(
        rs == 1 || cs == 1,
        "matmul operand with no contiguous dimension"
    );
    assert!(b.first + (k - 1) * b.ld + nr <= b.data.len() && c.len() >= (mr - 1) * ldc + nr);
    // SAFETY: `detect` (or a test that checked the CPU) chose the family, so the CPU has its
    // instructions; the asserts above keep every access inside the slices.
    let (a_ptr, b_ptr) = unsafe { (data.as_ptr().offset(first), b.data.as_ptr().add(b.first)) };
    let c_ptr = c.as_mut_ptr();
    match (isa, mr) {
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, 12) => unsafe {
            x86::tile_avx512::<12>(k, a_ptr, rs, cs, b_ptr, b.ld, c_ptr, ldc, acc)
        },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, 8) => unsafe {
            x86::tile_avx512::<8>(k, a_ptr, rs, cs, b_ptr, b.ld, c_ptr, ldc, acc)
        },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, 4) => unsafe {
            x86::tile_avx512::<4>(k, a_ptr, rs, cs, b_ptr, b.ld, c_ptr, ldc, acc)
        },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2Fma, 6) => unsafe {
            x86::tile_avx2(k, a_ptr, rs, cs, b_ptr, b.ld, c_ptr, ldc, acc)
        },
        (Isa::Scalar, 4) => {
            let a_at =
                |i: usize, kk: usize| data[(first + i as isize * rs + kk as isize * cs) as usize];
            let b_at = |kk: usize, j: usize| b.data[b.first + kk * b.ld + j];
            tile_scalar(k, a_at, b_at, c, ldc, acc)
        }
        _ => unreachable!("no {mr}-row kernel for {isa:?}"),
    }
}

fn tile_scalar(
    k: usize,
    a: impl Fn(usize, usize) -> f32,
    b: impl Fn(usize, usize) -> f32,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    let (mr, nr) = Isa::Scalar.tile();
    for i in 0..mr {
        for j in 0..nr {
            let mut sum = if accumulate { c[i * ldc + j] } else { 0.0 };
            for kk in 0..k {
                sum = a(i, kk).mul_add(b(kk, j), sum);
            }
            c[i * ldc + j] = sum;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The depth loop of an `MR x 32` tile: for each `kk`, two 16-lane rows of `b` and, for
    /// each row `i`, the value `$a_at(i, kk)` broadcast and multiplied into both.
    macro_rules! depth_loop {
        ($acc:ident, $k:expr, $b:expr, $ldb:expr, |$i:ident, $kk:ident| $a_at:expr) => {
            for $kk in 0..$k {
                let b0 = _mm512_loadu_ps($b.add($kk * $ldb));
                let b1 = _mm512_loadu_ps($b.add($kk * $ldb + 16));
                for ($i, row) in $acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps($a_at);
                    row[0] = _mm512_fmadd_ps(av, b0, row[0]);
                    row[1] = _mm512_fmadd_ps(av, b1, row[1]);
                }
            }
        };
    }

    /// `MR` x 32 tile: `2 MR` accumulators of 16 lanes. The left operand's two layouts get
    /// their own loops: rows (`cs == 1`) read through one pointer each, which saves the
    /// address arithmetic of a computed offset per row (a 256-deep product of 12-row tiles
    /// ran at 175-186 GFLOPS this way against 158-167 with 8 rows and computed offsets), and
    /// columns (`rs == 1`, a transposed operand or a packed panel) read `MR` neighbours a
    /// depth step.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn tile_avx512<const MR: usize>(
        k: usize,
        a: *const f32,
        rs: isize,
        cs: isize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        // SAFETY (whole body): the caller guarantees `a` reaches MR x k values through its
        // strides, `b` k rows of 32 values `ldb` apart and `c` MR rows of 32 values `ldc` apart.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); 2]; MR];
            if accumulate {
                for (i, row) in acc.iter_mut().enumerate() {
                    row[0] = _mm512_loadu_ps(c.add(i * ldc));
                    row[1] = _mm512_loadu_ps(c.add(i * ldc + 16));
                }
            }
            if cs == 1 {
                let rows: [*const f32; MR] = std::array::from_fn(|i| a.offset(i as isize * rs));
                depth_loop!(acc, k, b, ldb, |i, kk| *rows[i].add(kk));
            } else {
                // `rs == 1` (checked by `run_kernel`).
                depth_loop!(acc, k, b, ldb, |i, kk| *a.offset(kk as isize * cs).add(i));
            }
            for (i, row) in acc.iter().enumerate() {
                _mm512_storeu_ps(c.add(i * ldc), row[0]);
                _mm512_storeu_ps(c.add(i * ldc + 16), row[1]);
            }
        }
    }

    /// 6 x 16 tile: 12 accumulators of 8 lanes.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn tile_avx2(
        k: usize,
        a: *const f32,
        rs: isize,
        cs: isize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        // SAFETY (whole body): the caller guarantees `a` reaches 6 x k values through its strides,
        // `b` k rows of 16 values `ldb` apart and `c`
        // 6 rows of 16 values `ldc` apart.
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); 2]; 6];
            if accumulate {
                for (i, row) in acc.iter_mut().enumerate() {
                    row[0] = _mm256_loadu_ps(c.add(i * ldc));
                    row[1] = _mm256_loadu_ps(c.add(i * ldc + 8));
                }
            }
            for kk in 0..k {
                let b0 = _mm256_loadu_ps(b.add(kk * ldb));
                let b1 = _mm256_loadu_ps(b.add(kk * ldb + 8));
                let a_k = a.offset(kk as isize * cs);
                for (i, row) in acc.iter_mut().enumerate() {
                    let av = _mm256_set1_ps(*a_k.offset(i as isize * rs));
                    row[0] = _mm256_fmadd_ps(av, b0, row[0]);
                    row[1] = _mm256_fmadd_ps(av, b1, row[1]);
                }
            }
            for (i, row) in acc.iter().enumerate() {
                _mm256_storeu_ps(c.add(i * ldc), row[0]);
                _mm256_storeu_ps(c.add(i * ldc + 8), row[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 + seed) * 0.618).sin() * 3.0)
            .collect()
    }

    fn families() -> Vec<Isa> {
        let mut isas = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                isas.push(Isa::Avx2Fma);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                isas.push(Isa::Avx512);
            }
        }
        isas
    }

    /// The `[m, n]` product of the left operand `lhs(i, p)` and `b` (`[k, n]`), summed in f64.
    fn reference(
        m: usize,
        k: usize,
        n: usize,
        lhs: impl Fn(usize, usize) -> f32,
        b: &[f32],
    ) -> Vec<f64> {
        let mut want = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|p| lhs(i, p) as f64 * b[p * n + j] as f64).sum();
            }
        }
        want
    }

    /// Runs `product(isa, out, accumulate)` in every kernel family: the product into an output
    /// of 7s must match `want`, and the product accumulated onto it must give the same bits in
    /// every family.
    fn check_every_family(shape: &str, want: &[f64], product: impl Fn(Isa, &mut [f32], bool)) {
        let mut results = Vec::new();
        for isa in families() {
            let mut out = vec![7f32; want.len()];
            product(isa, &mut out, false);
            for (o, w) in out.iter().zip(want) {
                assert!(
                    (*o as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{isa:?} {shape}"
                );
            }
            product(isa, &mut out, true);
            results.push((isa, out));
        }
        for (isa, out) in &results[1..] {
            assert!(
                out.iter()
                    .zip(&results[0].1)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{isa:?} differs from {:?} at {shape}",
                results[0].0
            );
        }
    }

    #[test]
    fn every_kernel_family_gives_the_same_bits_and_the_right_product() {
        // Shapes with edges in every direction, transposes, a strided operand, accumulation.
        for &(m, k, n) in &[
            (1, 1, 1),
            (7, 5, 3),
            (37, 19, 45),
            (64, 16, 64),
            (130, 70, 33),
        ] {
            let (a, b) = (data(m * (k + 3), 1.0), data(k * n, 2.0));
            let lhs = Mat::strided(&a, m, k, k + 3);
            let want = reference(m, k, n, |i, p| a[i * (k + 3) + p], &b);
            let bt = super::super::kernels::transpose(&b, k, n);
            check_every_family(&format!("{m}x{k}x{n}"), &want, |isa, out, acc| {
                // The transposed right operand first, the plain one accumulated.
                let rhs = if acc {
                    Mat::new(&b, k, n)
                } else {
                    Mat::new(&bt, n, k)
                };
                matmul_with(isa, out, lhs, false, rhs, !acc, acc);
            });
        }
    }

    #[test]
    fn a_transposed_left_operand_gives_the_same_bits_in_every_family() {
        // The weight gradients' product (x^T d): the left operand read down its stored columns.
        for &(m, k, n) in &[(5, 3, 7), (37, 19, 45), (8, 40, 65), (130, 70, 100)] {
            // lhs^T is [m, k], stored as [k, m] with 3 spare columns.
            let (a, b) = (data(k * (m + 3), 1.0), data(k * n, 2.0));
            let stored = Mat::strided(&a, k, m, m + 3);
            let want = reference(m, k, n, |i, p| a[p * (m + 3) + i], &b);
            check_every_family(&format!("{m}x{k}x{n}"), &want, |isa, out, acc| {
                matmul_with(isa, out, stored, true, Mat::new(&b, k, n), false, acc);
            });
        }
    }

    #[test]
    fn a_right_operand_packed_beforehand_gives_the_bits_of_packing_it_in_the_product() {
        for &(m, k, n) in &[(1, 1, 1), (37, 19, 45), (130, 70, 33), (64, 256, 64)] {
            let (a, w) = (data(m * k, 3.0), data(k * n, 4.0));
            let lhs = Mat::new(&a, m, k);
            // `w` as the right operand, and `w` stored transposed ([n, k]) read as its transpose.
            let wt = super::super::kernels::transpose(&w, k, n);
            for isa in families() {
                for (rhs, rhs_t) in [(Mat::new(&w, k, n), false), (Mat::new(&wt, n, k), true)] {
                    let packed = PackedRhs::with_isa(isa, rhs, rhs_t);
                    for accumulate in [false, true] {
                        let mut want = data(m * n, 5.0);
                        let mut got = want.clone();
                        matmul_with(isa, &mut want, lhs, false, rhs, rhs_t, accumulate);
                        matmul_packed(&mut got, lhs, false, &packed, accumulate);
                        assert!(
                            got.iter()
                                .zip(&want)
                                .all(|(g, w)| g.to_bits() == w.to_bits()),
                            "{isa:?} {m}x{k}x{n} rhs_t {rhs_t} accumulate {accumulate}"
                        );
                    }
                }
            }
        }
    }
}
