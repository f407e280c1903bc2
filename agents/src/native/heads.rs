//! One row of the policy head and the PPO loss, fused: the row's log-probability and entropy,
//! its loss terms, and the gradient of the mini-batch's mean loss with respect to the row's
//! head outputs and value, in one visit. The formulas are those of
//! [`ActionDist`](crate::distributions::ActionDist) and [`ppo_loss`](crate::losses::ppo_loss);
//! the derivatives are written out here:
//!
//! - categorical: `∂logp/∂o_j = [j = a] - p_j`, `∂H/∂o_j = -p_j (log p_j + H)`;
//! - Gaussian: `∂logp/∂μ = z/σ`, `∂logp/∂log σ = z² - 1`, `∂H/∂log σ = 1`;
//! - Beta (α, β = softplus(o) + 1): `∂logp/∂α = ln x - ψ(α) + ψ(α+β)`,
//!   `∂H/∂α = -(α-1) ψ'(α) + (α+β-2) ψ'(α+β)` (β alike), times `sigmoid(o)`.

use crate::distributions::BETA_EPS;
use crate::losses::LossCoefs;
use crate::networks::HeadKind;

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;

/// Sums over rows of the loss statistics, in [`LossStats::KEYS`](crate::losses::LossStats::KEYS)
/// order: policy loss, value loss, entropy, approx_kl, clip fraction.
pub(super) type StatSums = [f64; 5];

/// What the rollout recorded for one row (advantage already normalized if wanted).
#[derive(Clone, Copy)]
pub(super) struct RowTargets {
    pub old_logp: f32,
    pub old_value: f32,
    pub advantage: f32,
    pub ret: f32,
}

/// The head and loss settings of one gradient evaluation.
pub(super) struct HeadLoss<'a> {
    pub head: &'a HeadKind,
    /// Gaussian: `log σ` and `1/σ` per dimension.
    pub log_std: &'a [f32],
    pub inv_std: Vec<f64>,
    pub coefs: LossCoefs,
    /// `1 / M` for an `M`-row mini-batch: every row's share of the mean.
    pub inv_rows: f64,
}

impl HeadLoss<'_> {
    /// Scratch floats [`row`](Self::row) needs.
    pub fn scratch_len(&self) -> usize {
        match self.head {
            HeadKind::Beta { low, .. } => 4 * low.len(),
            _ => 0,
        }
    }

    /// Evaluates row `o` (head outputs), `action` and `value`; adds its loss terms to `stats`
    /// and returns `∂loss/∂value` after writing `∂loss/∂o` into `d_o` and adding
    /// `∂loss/∂log σ` to `d_log_std` (Gaussian).
    #[allow(clippy::too_many_arguments)]
    pub fn row(
        &self,
        o: &[f32],
        action: &[f32],
        value: f32,
        t: RowTargets,
        d_o: &mut [f32],
        d_log_std: &mut [f64],
        scratch: &mut [f64],
        stats: &mut StatSums,
    ) -> f32 {
        let mut d_value = 0.0;
        let mut loss = |logp: f64, entropy: f64| {
            let (g_logp, g_entropy, g_value) = self.loss_row(logp, entropy, value, t, stats);
            d_value = g_value;
            (g_logp, g_entropy)
        };
        match self.head {
            HeadKind::Categorical { .. } => categorical(o, action[0] as usize, d_o, &mut loss),
            HeadKind::Gaussian { .. } => {
                self.gaussian(o, action, d_o, d_log_std, &mut loss);
            }
            HeadKind::Beta { .. } => beta(o, action, d_o, scratch, &mut loss),
        }
        d_value as f32
    }

    /// The row's PPO loss terms into `stats`; returns the mean loss's derivatives with respect
    /// to the row's log-probability, entropy and value.
    fn loss_row(
        &self,
        logp: f64,
        entropy: f64,
        value: f32,
        t: RowTargets,
        stats: &mut StatSums,
    ) -> (f64, f64, f64) {
        let c = &self.coefs;
        let adv = t.advantage as f64;
        let logratio = logp - t.old_logp as f64;
        let ratio = logratio.exp();
        let clipped = ratio.clamp(1.0 - c.clip_coef, 1.0 + c.clip_coef);
        let (unclipped_pg, clipped_pg) = (-adv * ratio, -adv * clipped);
        stats[0] += unclipped_pg.max(clipped_pg);
        let g_logp = if unclipped_pg >= clipped_pg {
            -adv * ratio * self.inv_rows
        } else {
            0.0
        };

        let (v, old, ret) = (value as f64, t.old_value as f64, t.ret as f64);
        let unclipped_err = (v - ret) * (v - ret);
        let vf = c.vf_coef * self.inv_rows;
        let g_value = if c.clip_vloss {
            let delta = v - old;
            let v_clipped = old + delta.clamp(-c.clip_coef, c.clip_coef);
            let clipped_err = (v_clipped - ret) * (v_clipped - ret);
            if unclipped_err >= clipped_err {
                stats[1] += 0.5 * unclipped_err;
                vf * (v - ret)
            } else {
                stats[1] += 0.5 * clipped_err;
                if delta.abs() <= c.clip_coef {
                    vf * (v_clipped - ret)
                } else {
                    0.0
                }
            }
        } else {
            stats[1] += 0.5 * unclipped_err;
            vf * (v - ret)
        };
        stats[2] += entropy;
        stats[3] += (ratio - 1.0) - logratio;
        stats[4] += f64::from((ratio - 1.0).abs() > c.clip_coef);
        (g_logp, -c.ent_coef * self.inv_rows, g_value)
    }

    fn gaussian(
        &self,
        mean: &[f32],
        action: &[f32],
        d_o: &mut [f32],
        d_log_std: &mut [f64],
        loss: &mut impl FnMut(f64, f64) -> (f64, f64),
    ) {
        let (mut logp, mut entropy) = (0.0, 0.0);
        for d in 0..mean.len() {
            let ls = self.log_std[d] as f64;
            let z = (action[d] as f64 - mean[d] as f64) * self.inv_std[d];
            logp += -0.5 * z * z - ls - HALF_LN_2PI;
            entropy += ls + 0.5 + HALF_LN_2PI;
        }
        let (g_logp, g_entropy) = loss(logp, entropy);
        for d in 0..mean.len() {
            let z = (action[d] as f64 - mean[d] as f64) * self.inv_std[d];
            d_o[d] = (g_logp * z * self.inv_std[d]) as f32;
            d_log_std[d] += g_logp * (z * z - 1.0) + g_entropy;
        }
    }
}

fn categorical(
    logits: &[f32],
    action: usize,
    d_o: &mut [f32],
    loss: &mut impl FnMut(f64, f64) -> (f64, f64),
) {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let mut total = 0.0;
    for (e, &l) in d_o.iter_mut().zip(logits) {
        let v = (l as f64 - max).exp();
        *e = v as f32;
        total += v;
    }
    let lse = max + total.ln();
    let mut entropy = 0.0;
    for &l in logits {
        let logp_j = l as f64 - lse;
        entropy -= logp_j.exp() * logp_j;
    }
    let (g_logp, g_entropy) = loss(logits[action] as f64 - lse, entropy);
    for (j, (d, &l)) in d_o.iter_mut().zip(logits).enumerate() {
        let logp_j = l as f64 - lse;
        let p = logp_j.exp();
        let indicator = if j == action { 1.0 } else { 0.0 };
        *d = (g_logp * (indicator - p) - g_entropy * p * (logp_j + entropy)) as f32;
    }
}

/// `softplus(o)` and its derivative `sigmoid(o)`.
fn softplus_sigmoid(o: f32) -> (f64, f64) {
    let o = o as f64;
    let e = (-o.abs()).exp();
    let sigmoid = if o >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (o.max(0.0) + e.ln_1p(), sigmoid)
}

fn beta(
    o: &[f32],
    action: &[f32],
    d_o: &mut [f32],
    scratch: &mut [f64],
    loss: &mut impl FnMut(f64, f64) -> (f64, f64),
) {
    let dims = action.len();
    let (mut logp, mut entropy) = (0.0, 0.0);
    for d in 0..dims {
        let (sp_a, sig_a) = softplus_sigmoid(o[d]);
        let (sp_b, sig_b) = softplus_sigmoid(o[dims + d]);
        let (a, b) = (sp_a + 1.0, sp_b + 1.0);
        let x = (action[d].clamp(BETA_EPS, 1.0 - BETA_EPS)) as f64;
        let ((lg_a, dg_a, tg_a), (lg_b, dg_b, tg_b)) = (gamma_family(a), gamma_family(b));
        let (lg_s, dg_s, tg_s) = gamma_family(a + b);
        let log_beta = lg_a + lg_b - lg_s;
        let (ln_x, ln_1mx) = (x.ln(), (1.0 - x).ln());
        logp += (a - 1.0) * ln_x + (b - 1.0) * ln_1mx - log_beta;
        entropy += log_beta - (a - 1.0) * dg_a - (b - 1.0) * dg_b + (a + b - 2.0) * dg_s;
        let s = &mut scratch[4 * d..4 * d + 4];
        s[0] = (ln_x - dg_a + dg_s) * sig_a;
        s[1] = (ln_1mx - dg_b + dg_s) * sig_b;
        s[2] = (-(a - 1.0) * tg_a + (a + b - 2.0) * tg_s) * sig_a;
        s[3] = (-(b - 1.0) * tg_b + (a + b - 2.0) * tg_s) * sig_b;
    }
    let (g_logp, g_entropy) = loss(logp, entropy);
    for d in 0..dims {
        let s = &scratch[4 * d..4 * d + 4];
        d_o[d] = (g_logp * s[0] + g_entropy * s[2]) as f32;
        d_o[dims + d] = (g_logp * s[1] + g_entropy * s[3]) as f32;
    }
}

/// `(ln Γ(x), ψ(x), ψ'(x))` for `x >= 1`, sharing one shift: the recurrences move the argument to
/// at least 8 and the asymptotic series finish there (all three within about 1e-11).
pub(super) fn gamma_family(x: f64) -> (f64, f64, f64) {
    const SERIES_FROM: f64 = 8.0;
    let (mut y, mut product, mut digamma, mut trigamma) = (x, 1.0, 0.0, 0.0);
    while y < SERIES_FROM {
        let inv = 1.0 / y;
        product *= y;
        digamma -= inv;
        trigamma += inv * inv;
        y += 1.0;
    }
    let (inv, ln_y) = (1.0 / y, y.ln());
    let inv2 = inv * inv;
    let lgamma = (y - 0.5) * ln_y - y
        + HALF_LN_2PI
        + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)));
    digamma += ln_y
        - 0.5 * inv
        - inv2
            * (1.0 / 12.0
                - inv2
                    * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))));
    trigamma += inv
        + 0.5 * inv2
        + inv * inv2 * (1.0 / 6.0 - inv2 * (1.0 / 30.0 - inv2 * (1.0 / 42.0 - inv2 / 30.0)));
    (lgamma - product.ln(), digamma, trigamma)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{digamma_f64, lgamma_f64, trigamma_f64};

    #[test]
    fn gamma_family_matches_the_reference_series() {
        for &x in &[1.0, 1.000_001, 1.5, 2.0, 3.7, 7.99, 8.0, 12.5, 150.0, 1e4] {
            let (lg, dg, tg) = gamma_family(x);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-11 * (1.0 + b.abs());
            assert!(
                close(lg, lgamma_f64(x)),
                "lgamma({x}) {lg} vs {}",
                lgamma_f64(x)
            );
            assert!(
                close(dg, digamma_f64(x)),
                "digamma({x}) {dg} vs {}",
                digamma_f64(x)
            );
            assert!(
                close(tg, trigamma_f64(x)),
                "trigamma({x}) {tg} vs {}",
                trigamma_f64(x)
            );
        }
        // Known values: ln Γ(1) = 0, ψ(1) = -γ, ψ'(1) = π²/6.
        let (lg, dg, tg) = gamma_family(1.0);
        assert!(lg.abs() < 1e-11 && (dg + 0.577_215_664_901_532_9).abs() < 1e-11);
        assert!((tg - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-11);
    }
}
