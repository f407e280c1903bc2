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
//!
//! Steps 1–3 are public without a trainer ([`weighted_row_weights`], [`correction`]) so the
//! enumerable E1 fixture (`tests/parl_e1.rs`) checks term 1 + correction against a finite
//! difference of the upper objective; [`apply_correction`] is the run's thin wrapper.

use carrot_agents::gae::GaeInput;
use carrot_agents::{Collected, PgBatch, PolicyF64, PpoConfig, Trainer};

use crate::error::{BilevelError, Result};
use crate::hypergrad::hypergradient;
use crate::learned::LearnedReward;
use crate::neumann::{cosine, norm, NeumannSettings};
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

/// Per-row weights w_t of the session's pairs over `rows` rollout rows (each pair counts 1/N).
pub fn row_weights(model: &RewardModel, pairs: &[PreferencePair], rows: usize) -> Result<Vec<f64>> {
    pair_row_weights(model, pairs, None, rows)
}

/// Per-row weights when the pairs are an enumerated distribution with probabilities q_i
/// (summing to 1) instead of N samples: `w_t = Σ_{i: t ∈ σ0_i ∪ σ1_i} q_i (ℓ_i − b)`,
/// b = Σ_i q_i ℓ_i. Then `Σ_t w_t ∇θ log π(a_t|s_t)` is the exact score-function gradient of
/// `G = Σ_i q_i ℓ_i` when q_i is the product of the pair's row probabilities.
pub fn weighted_row_weights(
    model: &RewardModel,
    pairs: &[PreferencePair],
    probabilities: &[f64],
    rows: usize,
) -> Result<Vec<f64>> {
    if probabilities.len() != pairs.len() {
        return Err(BilevelError::Invalid(format!(
            "{} pair probabilities for {} pairs",
            probabilities.len(),
            pairs.len()
        )));
    }
    pair_row_weights(model, pairs, Some(probabilities), rows)
}

fn pair_row_weights(
    model: &RewardModel,
    pairs: &[PreferencePair],
    probabilities: Option<&[f64]>,
    rows: usize,
) -> Result<Vec<f64>> {
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
    let n = pairs.len() as f64;
    let baseline = match probabilities {
        None => ell.iter().sum::<f64>() / ell.len() as f64,
        Some(q) => ell.iter().zip(q).map(|(l, q)| l * q).sum(),
    };
    for (i, (p, l)) in pairs.iter().zip(&ell).enumerate() {
        let share = match probabilities {
            None => (l - baseline) / n,
            Some(q) => q[i] * (l - baseline),
        };
        for &row in p.seg0.rows.iter().chain(&p.seg1.rows) {
            w[row] += share;
        }
    }
    Ok(w)
}

/// Term 1, the Bradley–Terry gradient at fixed θ: ∇_ν (1/N) Σ_i ℓ_i over the pairs, whose
/// segments are rows of the rollout `signals` (`[B, num_signals]`). With d_i the
/// ensemble-mean return difference, ∂ℓ_i/∂d_i = y_i − σ(d_i), so each real row of σ1_i gets
/// weight (y_i − σ(d_i))/N, each of σ0_i its negative, and one `param_vjp` gives the gradient.
pub fn term1_gradient(
    model: &RewardModel,
    pairs: &[PreferencePair],
    signals: &[f32],
    num_signals: usize,
) -> Result<Vec<f64>> {
    let rows = signals.len() / num_signals.max(1);
    let mut w = vec![0f64; rows];
    if !pairs.is_empty() {
        let segs: Vec<_> = pairs.iter().flat_map(|p| [&p.seg0, &p.seg1]).collect();
        let returns = model
            .member_segment_returns(&segs)
            .map_err(|e| BilevelError::Invalid(e.to_string()))?;
        let e = returns.len() as f64;
        let n = pairs.len() as f64;
        for (i, p) in pairs.iter().enumerate() {
            let d = returns.iter().map(|r| r[2 * i + 1] - r[2 * i]).sum::<f64>() / e;
            let g = (p.label as f64 - 1.0 / (1.0 + (-d).exp())) / n;
            for &row in &p.seg1.rows {
                w[row] += g;
            }
            for &row in &p.seg0.rows {
                w[row] -= g;
            }
        }
    }
    model
        .param_vjp(&model.select_inputs(signals, num_signals), &w)
        .map_err(|e| BilevelError::Invalid(e.to_string()))
}

/// What one applied correction did.
#[derive(Clone, Copy, Debug)]
pub struct CorrectionReport {
    /// ‖correction‖.
    pub norm: f64,
    /// The step it was applied with.
    pub step: f64,
    /// ‖term 1‖ at the ν the correction was computed at (after the session's training).
    pub term1_norm: f64,
    /// Cosine between term 1 and the correction there.
    pub cos_term1: f64,
}

/// The rollout and inner-problem settings the correction reads besides the model, the row
/// weights and the policy (those of the PPO update that follows the session).
pub struct CorrectionProblem<'a> {
    /// All rows of the rollout, step-major like `gae`.
    pub batch: PgBatch<'a>,
    /// GAE inputs with the PPO critic's values; the rewards are replaced by r_ν of `signals`.
    pub gae: GaeInput<'a>,
    /// Env signal rows `[B, num_signals]`.
    pub signals: &'a [f32],
    pub num_signals: usize,
    pub gamma: f64,
    pub lambda: f64,
    pub ent_coef: f64,
    pub normalize_advantages: bool,
    /// Probabilities of enumerated rows as in [`OracleInputs::row_weights`] (B · P(row));
    /// `None` for a sampled rollout. The pair weights already carry the rows' probabilities,
    /// so the score advantages are divided by these.
    pub row_weights: Option<&'a [f64]>,
}

/// The correction (dθ*/dν)ᵀ u at `policy`'s θ, with u = Σ_t w_t ∇θ log π(a_t|s_t) for the
/// per-row `weights` of [`row_weights`]: `p = Neumann(H of J_ν, u) ≈ −H⁻¹u`, then
/// `∇_ν[∇θJ_ν · p]` through the adjoint GAE and the model's `param_vjp`.
pub fn correction(
    model: &RewardModel,
    weights: &[f64],
    policy: &mut PolicyF64,
    problem: CorrectionProblem,
    neumann: &NeumannSettings,
) -> Result<Vec<f64>> {
    let b = problem.batch.len();
    if weights.len() != b {
        return Err(BilevelError::Invalid(format!(
            "{} row weights for {b} rows",
            weights.len()
        )));
    }
    // The oracle's primary gradient is (1/B) Σ_t A_t ∇θ log π (times its row weights).
    let score_advantages: Vec<f64> = match problem.row_weights {
        None => weights.iter().map(|w| w * b as f64).collect(),
        Some(rw) => weights
            .iter()
            .zip(rw)
            .map(|(w, r)| w * b as f64 / r)
            .collect(),
    };
    let learned = model
        .evaluate_signals(problem.signals, problem.num_signals)
        .map_err(|e| BilevelError::Invalid(e.to_string()))?;
    let reward = ModelOnSignals {
        model,
        num_signals: problem.num_signals,
    };
    let inputs = OracleInputs {
        batch: problem.batch,
        curvature_rows: None,
        gae: GaeInput {
            rewards: &learned,
            ..problem.gae
        },
        signals: problem.signals,
        primary_advantages: &score_advantages,
        gamma: problem.gamma,
        lambda: problem.lambda,
        ent_coef: problem.ent_coef,
        normalize_advantages: problem.normalize_advantages,
        gamma_logit: None,
        row_weights: problem.row_weights,
    };
    let mut oracle = PolicyOracle::new(policy, &reward, inputs)?;
    Ok(hypergradient(&mut oracle, neumann, false)?.grad)
}

/// Computes the correction on the trainer's fresh rollout and applies it with `settings.step`.
pub fn apply_correction(
    model: &mut RewardModel,
    pairs: &[PreferencePair],
    trainer: &Trainer,
    collected: &Collected,
    settings: CorrectionSettings,
) -> Result<CorrectionReport> {
    let ro = trainer.rollout();
    let ppo: &PpoConfig = &trainer.config.ppo;
    let weights = row_weights(model, pairs, ro.len())?;
    let problem = CorrectionProblem {
        batch: PgBatch {
            obs: &ro.obs,
            obs_dim: ro.obs_dim,
            actions: &ro.actions,
            action_dim: ro.action_dim,
            rows: None,
        },
        gae: trainer.gae_input(&collected.last_values),
        signals: &ro.signals,
        num_signals: ro.num_signals,
        gamma: ppo.gamma,
        lambda: ppo.gae_lambda,
        ent_coef: ppo.ent_coef,
        normalize_advantages: ppo.norm_adv,
        row_weights: None,
    };
    let mut policy = PolicyF64::new(trainer.network(), ppo.activation)?;
    let correction = correction(model, &weights, &mut policy, problem, &settings.neumann)?;
    let term1 = term1_gradient(model, pairs, &ro.signals, ro.num_signals)?;
    let moved: Vec<f64> = model
        .parameters_f64()
        .iter()
        .zip(&correction)
        .map(|(nu, c)| nu + settings.step * c)
        .collect();
    model
        .set_parameters_f64(&moved)
        .map_err(|e| BilevelError::Invalid(e.to_string()))?;
    Ok(CorrectionReport {
        norm: norm(&correction),
        step: settings.step,
        term1_norm: norm(&term1),
        cos_term1: cosine(&term1, &correction),
    })
}
