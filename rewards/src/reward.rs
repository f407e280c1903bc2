//! The `Reward` trait: a `StepReward` that can also recompute rewards over stored signals and
//! expose learnable parameters.

use carrot_envs::StepReward;

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
/// Learned rewards (bi-level blends, preference models) expose their weights through
/// [`Reward::parameters`] / [`Reward::set_parameters`] as candle tensors so an outer loop can
/// update them; fixed rewards have none.
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

    /// Learnable parameters, if any.
    fn parameters(&self) -> Vec<candle_core::Tensor> {
        Vec::new()
    }

    /// Replaces learnable parameters (same shapes as [`Reward::parameters`]).
    fn set_parameters(&mut self, params: &[candle_core::Tensor]) -> Result<(), crate::RewardError> {
        if params.is_empty() {
            Ok(())
        } else {
            Err(crate::RewardError::Invalid {
                reward: self.id().to_string(),
                message: "this reward has no learnable parameters".into(),
            })
        }
    }
}
