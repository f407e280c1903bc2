//! The implicit hypergradient of a bilevel problem, over an oracle for the inner problem.
//!
//! Inner: θ*(φ) maximizes J_φ(θ). Outer: maximize J_p(θ*(φ)). By the implicit-function theorem
//! `dJ_p/dφ = ∇_φ[∇θJ_φ(θ) · p]` with `p = −H⁻¹ g_p`, `H = ∇²θ J_φ`, `g_p = ∇θ J_p`, and p
//! held constant in the φ-derivative. p comes from the Neumann series of
//! [`crate::neumann`]; K = 0 gives the first-order direction `α g_p`.

use crate::neumann::{cosine, neumann_series, norm, NeumannResult, NeumannSettings};

/// What the hypergradient needs from the inner problem at the current θ.
pub trait HypergradOracle {
    type Error;
    /// g_p = ∇θ J_p(θ).
    fn primary_grad(&mut self) -> Result<Vec<f64>, Self::Error>;
    /// H v with H = ∇²θ J_φ(θ).
    fn hvp(&mut self, v: &[f64]) -> Result<Vec<f64>, Self::Error>;
    /// ∇_φ [∇θ J_φ(θ) · p], p held constant.
    fn mixed_vjp(&mut self, p: &[f64]) -> Result<Vec<f64>, Self::Error>;
}

/// One hypergradient and its diagnostics.
#[derive(Clone, Debug)]
pub struct Hypergradient {
    /// dJ_p/dφ (without any regularizer).
    pub grad: Vec<f64>,
    /// ‖g_p‖.
    pub primary_grad_norm: f64,
    /// The series that gave p.
    pub series: NeumannResult,
    /// Cosine between this gradient and the first-order one (`None` for K = 0 or when not
    /// asked for).
    pub cos_fo: Option<f64>,
}

/// Computes dJ_p/dφ. With `compare_fo` and K > 0, also the first-order gradient's cosine
/// with it (one extra mixed product, no extra HVP).
pub fn hypergradient<O: HypergradOracle>(
    oracle: &mut O,
    settings: &NeumannSettings,
    compare_fo: bool,
) -> Result<Hypergradient, O::Error> {
    let g_p = oracle.primary_grad()?;
    let series = neumann_series(&g_p, settings, |v| oracle.hvp(v))?;
    let grad = oracle.mixed_vjp(&series.p)?;
    let cos_fo = if compare_fo && settings.terms > 0 {
        let fo_p: Vec<f64> = g_p.iter().map(|g| settings.alpha * g).collect();
        let fo = oracle.mixed_vjp(&fo_p)?;
        Some(cosine(&grad, &fo))
    } else {
        None
    };
    Ok(Hypergradient {
        grad,
        primary_grad_norm: norm(&g_p),
        series,
        cos_fo,
    })
}

/// |λ_max(H)| estimated by `iterations` power iterations from `start` (e.g. g_p): each applies
/// H once and takes ‖Hv‖ / ‖v‖. Returns 0 for a zero start.
pub fn spectral_radius<O: HypergradOracle>(
    oracle: &mut O,
    start: &[f64],
    iterations: usize,
) -> Result<f64, O::Error> {
    let mut v = start.to_vec();
    let mut radius = 0.0;
    for _ in 0..iterations {
        let n = norm(&v);
        if !(n > 0.0 && n.is_finite()) {
            return Ok(0.0);
        }
        v.iter_mut().for_each(|x| *x /= n);
        v = oracle.hvp(&v)?;
        radius = norm(&v);
    }
    Ok(radius)
}
