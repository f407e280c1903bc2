//! The [`HypergradOracle`] of an on-policy PPO batch, in f64.
//!
//! At θ_old, on a rollout D of B rows:
//! - inner objective `J_φ(θ) = (1/|S|) Σ_{t∈S} ρ_t(θ) Â_φ,t + c_ent · H̄(θ)` on the curvature rows
//!   S (all rows by default), ρ = π_θ/π_old, `Â = (A_φ − mean A_φ)/σ_A` over all B rows with σ_A
//!   a constant of the step (or `Â = A_φ` without advantage normalization);
//! - primary gradient `g_p = (1/B) Σ_t ∇θ log π(a_t|s_t) A_p,t` over all rows;
//! - mixed product `∇_φ[∇θJ_φ · p] = Σ_t s'_t ∂A_t/∂φ`, with s_t = ∇θ log π · p from a
//!   directional difference and s' its centred, scaled form; the sum goes through the adjoint
//!   GAE (`c = Lᵀs'`) and the reward's VJP, plus `σ'(φ_γ) Σ_t s'_t ∂A_t/∂γ` for a learned discount.
//!
//! The old log-probabilities are recomputed in f64 at θ_old, so the ratio is exactly 1 there.
//! Optional per-row weights w_t multiply every row's term (s_t becomes w_t s_t).

use carrot_agents::gae::GaeInput;
use carrot_agents::{PgBatch, PolicyF64};

use crate::adjoint::{adjoint_gae, gae_with_gamma_derivative};
use crate::error::{BilevelError, Result};
use crate::hypergrad::HypergradOracle;
use crate::learned::LearnedReward;

/// The rollout and settings an oracle is built from.
pub struct OracleInputs<'a> {
    /// All rows of the rollout, step-major like `gae`.
    pub batch: PgBatch<'a>,
    /// Rows for the curvature and the directional scores; `None`: all.
    pub curvature_rows: Option<&'a [usize]>,
    /// GAE inputs with the learned rewards r_φ and the PPO critic's values.
    pub gae: GaeInput<'a>,
    /// Stored signal rows `[B x S]` the rewards were computed from.
    pub signals: &'a [f32],
    /// Primary advantages A_p (from the primary critic), one per row.
    pub primary_advantages: &'a [f64],
    pub gamma: f64,
    pub lambda: f64,
    pub ent_coef: f64,
    /// Normalize the inner advantages (PPO's `norm_adv`).
    pub normalize_advantages: bool,
    /// The discount logit φ_γ when the discount is learned (γ = σ(φ_γ) must equal `gamma`).
    pub gamma_logit: Option<f64>,
    /// Per-row weights w_t multiplying each row's term in J_φ and J_p (`None`: all 1). With
    /// enumerated rows and w_t = B · P(row), the sample averages become exact expectations.
    pub row_weights: Option<&'a [f64]>,
}

/// [`HypergradOracle`] over a [`PolicyF64`] and a [`LearnedReward`].
pub struct PolicyOracle<'a, R: LearnedReward + ?Sized> {
    policy: &'a mut PolicyF64,
    reward: &'a R,
    inputs: OracleInputs<'a>,
    old_logp: Vec<f64>,
    curvature_old_logp: Vec<f64>,
    curvature_weights: Vec<f64>,
    sigma: f64,
    d_adv_d_gamma: Vec<f64>,
}

impl<'a, R: LearnedReward + ?Sized> PolicyOracle<'a, R> {
    pub fn new(policy: &'a mut PolicyF64, reward: &'a R, inputs: OracleInputs<'a>) -> Result<Self> {
        let b = inputs.batch.len();
        let weights_len = inputs.row_weights.map_or(b, <[f64]>::len);
        if inputs.primary_advantages.len() != b || inputs.gae.rewards.len() != b || weights_len != b
        {
            return Err(BilevelError::Invalid(format!(
                "oracle: {b} rows, {} primary advantages, {} rewards",
                inputs.primary_advantages.len(),
                inputs.gae.rewards.len()
            )));
        }
        let old_logp = policy.log_probs(&inputs.batch)?;
        let (adv, d_adv_d_gamma) =
            gae_with_gamma_derivative(&inputs.gae, inputs.gamma, inputs.lambda);
        let (mean, sigma) = if inputs.normalize_advantages {
            mean_std(&adv)
        } else {
            (0.0, 1.0)
        };
        let rows: Vec<usize> = match inputs.curvature_rows {
            Some(r) => r.to_vec(),
            None => (0..b).collect(),
        };
        let w = |i: usize| inputs.row_weights.map_or(1.0, |w| w[i]);
        let curvature_weights = rows
            .iter()
            .map(|&i| w(i) * (adv[i] - mean) / sigma)
            .collect();
        let curvature_old_logp = rows.iter().map(|&i| old_logp[i]).collect();
        Ok(PolicyOracle {
            policy,
            reward,
            inputs,
            old_logp,
            curvature_old_logp,
            curvature_weights,
            sigma,
            d_adv_d_gamma,
        })
    }

    fn curvature_batch(&self) -> PgBatch<'a> {
        PgBatch {
            rows: self.inputs.curvature_rows,
            ..self.inputs.batch
        }
    }

    /// The normalized inner advantages on the curvature rows (the HVP's weights).
    pub fn curvature_weights(&self) -> &[f64] {
        &self.curvature_weights
    }
}

/// Mean and unbiased standard deviation (+1e-8), as PPO's advantage normalization.
pub fn mean_std(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt() + 1e-8)
}

impl<R: LearnedReward + ?Sized> HypergradOracle for PolicyOracle<'_, R> {
    type Error = BilevelError;

    fn primary_grad(&mut self) -> Result<Vec<f64>> {
        let batch = self.inputs.batch;
        let adv = self.inputs.primary_advantages;
        let weighted: Vec<f64> = match self.inputs.row_weights {
            Some(w) => adv.iter().zip(w).map(|(a, w)| a * w).collect(),
            None => adv.to_vec(),
        };
        Ok(self
            .policy
            .surrogate_grad(&batch, &weighted, &self.old_logp, 0.0)?)
    }

    fn hvp(&mut self, v: &[f64]) -> Result<Vec<f64>> {
        let batch = self.curvature_batch();
        let (w, old) = (&self.curvature_weights, &self.curvature_old_logp);
        Ok(self.policy.hvp(&batch, w, old, self.inputs.ent_coef, v)?)
    }

    fn mixed_vjp(&mut self, p: &[f64]) -> Result<Vec<f64>> {
        let batch = self.curvature_batch();
        let mut scores = self.policy.directional_scores(&batch, p)?;
        let b = self.inputs.batch.len();
        let rows: Vec<usize> = match self.inputs.curvature_rows {
            Some(r) => r.to_vec(),
            None => (0..b).collect(),
        };
        if let Some(w) = self.inputs.row_weights {
            scores
                .iter_mut()
                .zip(&rows)
                .for_each(|(s, &row)| *s *= w[row]);
        }
        let count = scores.len() as f64;
        let centre = if self.inputs.normalize_advantages {
            scores.iter().sum::<f64>() / b as f64
        } else {
            0.0
        };
        // s'_t = (s_t·1[t∈S] − Σ_S s / B) / (|S| σ_A) over all B rows (s already weighted).
        let mut s_prime = vec![-centre / (count * self.sigma); b];
        for (&row, s) in rows.iter().zip(&scores) {
            s_prime[row] += s / (count * self.sigma);
        }
        let c = adjoint_gae(
            &self.inputs.gae,
            &s_prime,
            self.inputs.gamma,
            self.inputs.lambda,
        );
        let mut grad = self.reward.param_vjp(self.inputs.signals, &c)?;
        if let Some(logit) = self.inputs.gamma_logit {
            let sig = 1.0 / (1.0 + (-logit).exp());
            let along: f64 = s_prime
                .iter()
                .zip(&self.d_adv_d_gamma)
                .map(|(s, d)| s * d)
                .sum();
            grad.push(sig * (1.0 - sig) * along);
        }
        Ok(grad)
    }
}
