//! The `Reward` trait: a `StepReward` that can also recompute rewards over stored signals and
//! expose learnable parameters.

use carrot_envs::StepReward;

use crate::RewardError;

/// Rewards, terms and termination causes recomputed over a stored batch of signals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchRewards {
    /// `[B]` rewards.
    pub rewards: Vec<f32>,
    /// `[B x K]` terms, K = `term_names().len()`.
    pub terms: Vec<f32>,
    /// `[B]` reward-driven termination cause index, or -1.
    pub causes: Vec<i32>,
}

/// A reward module. The per-step path ([`StepReward::evaluate`]) runs inside the vectorized
/// env; [`Reward::evaluate_batch`] recomputes rewards over stored signals `[B x S]`.
///
/// Learned rewards (bi-level blends, preference models) expose their weights as one flat host
/// `f64` vector ([`Reward::parameters`], [`Reward::set_parameters`], named entry by entry in
/// [`Reward::parameter_names`]) and the gradient of a weighted sum of their rewards with
/// respect to it ([`Reward::param_vjp`]). Flat f64 keeps the outer loops (Adam on φ, Neumann
/// series, checkpoints) in one precision and free of tensor shapes; a tensor-backed reward
/// flattens its tensors in a fixed order. Fixed rewards have no parameters.
pub trait Reward: StepReward + Send {
    /// Config id, e.g. `"carl"`.
    fn id(&self) -> &str;

    /// Number of signals per row this reward was built for.
    fn num_signals(&self) -> usize;

    /// Recomputes rewards over `signals` laid out `[B x num_signals]`.
    fn evaluate_batch(&self, signals: &[f32]) -> BatchRewards {
        let s = self.num_signals();
        let k = self.term_names().len();
        let b = signals.len().checked_div(s).unwrap_or(0);
        let mut out = BatchRewards {
            rewards: vec![0.0; b],
            terms: vec![0.0; b * k],
            causes: vec![-1; b],
        };
        for (i, row) in signals.chunks_exact(s.max(1)).enumerate().take(b) {
            let (r, cause) = self.evaluate(row, &mut out.terms[i * k..(i + 1) * k]);
            out.rewards[i] = r;
            out.causes[i] = cause.map_or(-1, |c| c as i32);
        }
        out
    }

    /// Learnable parameters, flattened in a fixed order (empty for fixed rewards).
    fn parameters(&self) -> Vec<f64> {
        Vec::new()
    }

    /// One name per entry of [`Reward::parameters`], for logs such as `outer/phi/<name>`.
    fn parameter_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// Replaces the learnable parameters (same length and order as [`Reward::parameters`]).
    fn set_parameters(&mut self, params: &[f64]) -> Result<(), RewardError> {
        if params.is_empty() {
            Ok(())
        } else {
            Err(RewardError::Invalid {
                reward: self.id().to_string(),
                message: "this reward has no learnable parameters".into(),
            })
        }
    }

    /// The vector-Jacobian product `∇_φ Σ_k weights_k · r_φ(signals_k)` over rows `[B x S]`
    /// with `B = weights.len()`, flattened like [`Reward::parameters`]. Used by outer loops,
    /// never per step. Rewards without parameters return an empty vector.
    fn param_vjp(&self, signals: &[f32], weights: &[f64]) -> Result<Vec<f64>, RewardError> {
        check_rows(self.id(), self.num_signals(), signals, weights.len())?;
        if self.parameters().is_empty() {
            Ok(Vec::new())
        } else {
            Err(RewardError::Invalid {
                reward: self.id().to_string(),
                message: "this reward has parameters but no gradient".into(),
            })
        }
    }
}

/// Checks that `signals` holds exactly `rows` rows of `num_signals` values.
pub(crate) fn check_rows(
    reward: &str,
    num_signals: usize,
    signals: &[f32],
    rows: usize,
) -> Result<(), RewardError> {
    if signals.len() == rows * num_signals {
        Ok(())
    } else {
        Err(RewardError::Invalid {
            reward: reward.to_string(),
            message: format!(
                "{} signal values are not {rows} rows of {num_signals} signals",
                signals.len()
            ),
        })
    }
}
