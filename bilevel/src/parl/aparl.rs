//! The A-PARL correction (design §2.5): the term PEBBLE's alternation ignores, that the
//! preference pairs are drawn from the current policy, which depends on ν.
//!
//! On the session's on-policy pairs, after the Bradley–Terry (term-1) training:
//! 1. ℓ_i = log P_ν(y_i | σ0_i, σ1_i) from the ensemble-mean segment returns, b = mean ℓ;
//! 2. per-row weights `w_t = Σ_{i: t ∈ σ0_i ∪ σ1_i} (ℓ_i − b) / N_pairs`, and
//!    u = Σ_t w_t ∇θ log π(a_t|s_t), the score-function gradient of the expected preference
//!    log-likelihood: the oracle's "primary gradient" with advantages B·w_t;
//! 3. p = Neumann(H of J_ν, u) with Â_ν from the current relabel, then the mixed product
//!    ∇_ν[∇θJ_ν · p] through the adjoint GAE and the ensemble's `param_vjp` (the same
//!    [`crate::oracle::PolicyOracle`] and [`crate::hypergrad::hypergradient`] as BARFI);
//! 4. ν ← ν + η_c · correction on every member (it is the gradient through the ensemble mean).

use carrot_agents::{Collected, PgBatch, PolicyF64, PpoConfig, Trainer};

use crate::error::{BilevelError, Result};
use crate::hypergrad::hypergradient;
use crate::learned::LearnedReward;
use crate::neumann::{norm, NeumannSettings};
use crate::oracle::{OracleInputs, PolicyOracle};
use crate::parl::buffer::PreferencePair;
use crate::parl::model::RewardModel;

/// The reward model read over full env signal rows, as the oracle needs it.
struct ModelOnSignals<'a> {
    model: &'a RewardModel,
    num_signals: usize,
}

impl LearnedReward for ModelOnSignals<'_> {
    fn param_names(&self) -> Vec<String> {
        (0..self.model.num_parameters())
            .map(|i| format!("nu_{i}"))
            .collect()
    }

    fn params(&self) -> Vec<f64> {
        self.model.parameters_f64()
    }

    fn set_params(&mut self, _phi: &[f64]) -> Result<()> {
        Err(BilevelError::Invalid(
            "the A-PARL oracle reads the reward model only".into(),
        ))
    }

    fn num_signals(&self) -> usize {
        self.num_signals
    }

    fn relabel(&self, signals: &[f32], out: &mut [f32]) {
        let r = self
            .model
            .evaluate_signals(signals, self.num_signals)
            .expect("rows of the model's own width");
        out.copy_from_slice(&r);
    }

    fn param_vjp(&self, signals: &[f32], weights: &[f64]) -> Result<Vec<f64>> {
        let rows = self.model.select_inputs(signals, self.num_signals);
        self.model
            .param_vjp(&rows, weights)
            .map_err(|e| BilevelError::Invalid(e.to_string()))
    }
}

/// Neumann settings of the correction.
#[derive(Clone, Copy, Debug)]
pub struct CorrectionSettings {
    pub step: f64,
    pub neumann: NeumannSettings,
}

/// log σ(x) = −softplus(−x), stable for any x.
fn log_sigmoid(x: f64) -> f64 {
    -((-x).max(0.0) + (-(x.abs())).exp().ln_1p())
}

/// Per-row weights w_t of the session's pairs over `rows` rollout rows.
pub fn row_weights(model: &RewardModel, pairs: &[PreferencePair], rows: usize) -> Result<Vec<f64>> {
    let mut w = vec![0f64; rows];
    if pairs.is_empty() {
        return Ok(w);
    }
    let segs: Vec<_> = pairs.iter().flat_map(|p| [&p.seg0, &p.seg1]).collect();
    let returns = model
        .member_segment_returns(&segs)
        .map_err(|e| BilevelError::Invalid(e.to_string()))?;
    let e = returns.len() as f64;
    let ell: Vec<f64> = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let d = returns.iter().map(|r| r[2 * i + 1] - r[2 * i]).sum::<f64>() / e;
            let y = p.label as f64;
            y * log_sigmoid(d) + (1.0 - y) * log_sigmoid(-d)
        })
        .collect();
    let baseline = ell.iter().sum::<f64>() / ell.len() as f64;
    let n = pairs.len() as f64;
    for (p, l) in pairs.iter().zip(&ell) {
        for &row in p.seg0.rows.iter().chain(&p.seg1.rows) {
            w[row] += (l - baseline) / n;
        }
    }
    Ok(w)
}

/// Computes the correction on the trainer's fresh rollout and applies it with `settings.step`;
/// returns its norm.
pub fn apply_correction(
    model: &mut RewardModel,
    pairs: &[PreferencePair],
    trainer: &Trainer,
    collected: &Collected,
    settings: CorrectionSettings,
) -> Result<f64> {
    let ro = trainer.rollout();
    let ppo: &PpoConfig = &trainer.config.ppo;
    let b = ro.len();
    let weights = row_weights(model, pairs, b)?;
    let score_advantages: Vec<f64> = weights.iter().map(|w| w * b as f64).collect();
    let learned = model
        .evaluate_signals(&ro.signals, ro.num_signals)
        .map_err(|e| BilevelError::Invalid(e.to_string()))?;
    let correction = {
        let reward = ModelOnSignals {
            model,
            num_signals: ro.num_signals,
        };
        let mut gae = trainer.gae_input(&collected.last_values);
        gae.rewards = &learned;
        let inputs = OracleInputs {
            batch: PgBatch {
                obs: &ro.obs,
                obs_dim: ro.obs_dim,
                actions: &ro.actions,
                action_dim: ro.action_dim,
                rows: None,
            },
            curvature_rows: None,
            gae,
            signals: &ro.signals,
            primary_advantages: &score_advantages,
            gamma: ppo.gamma,
            lambda: ppo.gae_lambda,
            ent_coef: ppo.ent_coef,
            normalize_advantages: ppo.norm_adv,
            gamma_logit: None,
            row_weights: None,
        };
        let mut policy = PolicyF64::new(trainer.network(), ppo.activation)?;
        let mut oracle = PolicyOracle::new(&mut policy, &reward, inputs)?;
        hypergradient(&mut oracle, &settings.neumann, false)?.grad
    };
    let moved: Vec<f64> = model
        .parameters_f64()
        .iter()
        .zip(&correction)
        .map(|(nu, c)| nu + settings.step * c)
        .collect();
    model
        .set_parameters_f64(&moved)
        .map_err(|e| BilevelError::Invalid(e.to_string()))?;
    Ok(norm(&correction))
}
