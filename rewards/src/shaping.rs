//! Potential-based reward shaping (Ng et al. 1999), the classic baseline for adding auxiliary
//! rewards without changing the optimal policy, applied to a stored rollout:
//!
//! `r'_t = r_p,t + γ Φ_t (1 − terminated_t) − Φ_{t−1} [step t−1 is in the same episode]`
//!
//! with `Φ_t = Σ_i κ_i r_aux,i` on step t's post-step signals, i.e. Φ of the state the step led
//! to. The state an episode starts in has no stored signals, so its potential is taken as 0
//! (a constant per start state, which leaves the optimal policy unchanged). Per episode the
//! shaping telescopes: `Σ_t γ^t (r'_t − r_p,t) = γ^T Φ_{T−1} (1 − terminated_{T−1})`.
//! Shaping needs the previous step, so it is not a per-step reward: an outer loop relabels the
//! rollout with it, carrying Φ of each env's last row across rollout boundaries.

use carrot_envs::SignalSpec;

use crate::mix::{Component, RewardTerm};
use crate::reward::check_rows;
use crate::RewardError;

/// The rows of a stored rollout, step-major `[T*N]`: row `t * num_envs + n` is env n at step t.
#[derive(Clone, Copy, Debug)]
pub struct RolloutRows<'a> {
    pub num_envs: usize,
    /// The primary (env-side) rewards r_p.
    pub rewards: &'a [f32],
    pub terminated: &'a [bool],
    pub truncated: &'a [bool],
}

fn invalid(message: String) -> RewardError {
    RewardError::Invalid {
        reward: "pbrs".into(),
        message,
    }
}

/// Shapes `rows.rewards` with per-row `potentials` (see the module docs). `carry[n]` holds Φ of
/// env n's last row in the previous rollout if that row did not end its episode, else 0 (all
/// zeros after a reset); it is updated for the next rollout.
pub fn pbrs_relabel(
    rows: RolloutRows<'_>,
    potentials: &[f64],
    gamma: f64,
    carry: &mut [f64],
) -> Result<Vec<f32>, RewardError> {
    let (n, b) = (rows.num_envs, rows.rewards.len());
    if n == 0 || b % n != 0 {
        return Err(invalid(format!("{b} rows do not split over {n} envs")));
    }
    if [
        potentials.len(),
        rows.terminated.len(),
        rows.truncated.len(),
    ] != [b; 3]
    {
        return Err(invalid(format!(
            "rewards, potentials, terminated and truncated must all have {b} rows"
        )));
    }
    if carry.len() != n {
        return Err(invalid(format!("carry has {} envs, not {n}", carry.len())));
    }
    if !(0.0..=1.0).contains(&gamma) {
        return Err(invalid(format!("gamma {gamma} is not in [0, 1]")));
    }
    let mut out = vec![0.0; b];
    for (row, shaped) in out.iter_mut().enumerate() {
        let env = row % n;
        let phi = potentials[row];
        let next = if rows.terminated[row] { 0.0 } else { phi };
        *shaped = (rows.rewards[row] as f64 + gamma * next - carry[env]) as f32;
        carry[env] = if rows.terminated[row] || rows.truncated[row] {
            0.0
        } else {
            phi
        };
    }
    Ok(out)
}

/// Potential-based shaping with `Φ = Σ_i κ_i r_aux,i` (entries as in `mix`: `weight` is κ).
pub struct PotentialShaping {
    aux: Vec<Component>,
    num_signals: usize,
}

impl PotentialShaping {
    pub fn new(spec: &SignalSpec, aux: &[RewardTerm]) -> Result<Self, RewardError> {
        if aux.is_empty() {
            return Err(invalid("needs at least one auxiliary reward".into()));
        }
        Ok(PotentialShaping {
            aux: aux
                .iter()
                .map(|t| Component::build("pbrs", spec, t))
                .collect::<Result<_, _>>()?,
            num_signals: spec.len(),
        })
    }

    /// Φ of every row of `signals` `[B x S]`.
    pub fn potentials(&self, signals: &[f32]) -> Result<Vec<f64>, RewardError> {
        let s = self.num_signals;
        let b = signals.len().checked_div(s).unwrap_or(0);
        check_rows("pbrs", s, signals, b)?;
        Ok(signals
            .chunks_exact(s.max(1))
            .take(b)
            .map(|row| {
                self.aux
                    .iter()
                    .map(|c| c.weighted(row).0 as f64)
                    .sum::<f64>()
            })
            .collect())
    }

    /// The shaped rewards of a stored rollout whose signals are `signals` `[T*N x S]`.
    pub fn relabel(
        &self,
        rows: RolloutRows<'_>,
        signals: &[f32],
        gamma: f64,
        carry: &mut [f64],
    ) -> Result<Vec<f32>, RewardError> {
        check_rows("pbrs", self.num_signals, signals, rows.rewards.len())?;
        pbrs_relabel(rows, &self.potentials(signals)?, gamma, carry)
    }
}
