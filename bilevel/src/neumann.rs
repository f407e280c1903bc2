//! The truncated Neumann series for −H⁻¹g over a Hessian-vector-product closure.
//!
//! With H the Hessian of the *maximized* inner objective (negative definite near an optimum),
//! `p_K = α Σ_{k=0..K} (I + αH)^k g` tends to −H⁻¹g when the spectral radius of I + αH is below
//! one. K = 0 gives `α g`, the first-order direction. The policy-gradient Hessian is indefinite,
//! so with small K this is a truncated unroll rather than a converged inverse; a guard stops
//! the series when a term grows past `guard · ‖g‖` and reports it, so the caller can shrink α.

/// Settings of one series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeumannSettings {
    /// Number of terms after the first (K = 0: first order).
    pub terms: usize,
    /// Step α; the series converges for 0 < α < 2/|λ_max(H)| with H negative definite.
    pub alpha: f64,
    /// Divergence guard: stop when ‖v_k‖ > guard · ‖g‖.
    pub guard: f64,
}

/// The series' result.
#[derive(Clone, Debug, PartialEq)]
pub struct NeumannResult {
    /// `α Σ_{k ≤ used} (I + αH)^k g`.
    pub p: Vec<f64>,
    /// Terms actually added after the first (equals `terms` unless the guard fired).
    pub used: usize,
    /// True when the guard stopped the series.
    pub diverged: bool,
    /// Largest ‖v_k‖ / ‖g‖ seen (1 when K = 0), including a term the guard rejected.
    pub growth: f64,
}

/// Euclidean norm.
pub fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

/// Dot product, summed in order.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Cosine of two vectors (0 when either is zero).
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let n = norm(a) * norm(b);
    if n > 0.0 {
        dot(a, b) / n
    } else {
        0.0
    }
}

/// Runs the series from `g` with `hvp(v) = H v`. A rejected term is not added.
pub fn neumann_series<E>(
    g: &[f64],
    settings: &NeumannSettings,
    mut hvp: impl FnMut(&[f64]) -> Result<Vec<f64>, E>,
) -> Result<NeumannResult, E> {
    let g_norm = norm(g);
    let mut v = g.to_vec();
    let mut p = g.to_vec();
    let (mut used, mut diverged, mut growth) = (0, false, 1f64);
    for _ in 0..settings.terms {
        let hv = hvp(&v)?;
        v.iter_mut()
            .zip(&hv)
            .for_each(|(x, h)| *x += settings.alpha * h);
        let ratio = if g_norm > 0.0 { norm(&v) / g_norm } else { 0.0 };
        growth = growth.max(ratio);
        if !ratio.is_finite() || ratio > settings.guard {
            diverged = true;
            break;
        }
        p.iter_mut().zip(&v).for_each(|(x, y)| *x += y);
        used += 1;
    }
    p.iter_mut().for_each(|x| *x *= settings.alpha);
    Ok(NeumannResult {
        p,
        used,
        diverged,
        growth,
    })
}
