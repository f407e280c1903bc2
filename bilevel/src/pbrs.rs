//! Potential-based shaping (Ng et al. 1999) as a trainer hook: BARFI's classic baseline.
//!
//! The learner sees `r_p + γ Φ(s') − Φ(s)` with `Φ = Σ_i κ_i aux_i` over the auxiliaries of the
//! `[outer] reward` blend, and `r_p` the run's own `[reward]` (which still ends episodes and
//! scores the run). Φ of each env's last row is carried across rollouts and saved in the
//! checkpoint (the envs go on mid-episode after a resume); a checkpoint without it (older
//! carrot, whose resume resets the envs) restarts the carry at zero.

use carrot_agents::error::Result as AgentResult;
use carrot_agents::{
    AgentError, Collected, HookOutput, IterationHook, IterationMetrics, TrainConfig, Trainer,
};
use carrot_rewards::{PotentialShaping, RewardConfig, RolloutRows};

use crate::error::{BilevelError, Result};

/// The PBRS relabel of every rollout.
pub struct PbrsHook {
    shaping: PotentialShaping,
    carry: Vec<f64>,
    gamma: f64,
}

impl PbrsHook {
    /// Φ from the auxiliaries of `reward`, which must be a `blend`.
    pub fn new(config: &TrainConfig, reward: &RewardConfig) -> Result<Self> {
        let RewardConfig::Blend(blend) = reward else {
            return Err(BilevelError::config(
                "outer.reward",
                format!(
                    "method = \"pbrs\" takes its potential from a `blend`'s auxiliaries, not `{}`",
                    reward.id()
                ),
            ));
        };
        let env = config.env.build().map_err(AgentError::from)?;
        let shaping = PotentialShaping::new(env.signal_spec(), &blend.aux)
            .map_err(|e| BilevelError::config("outer.reward", e.to_string()))?;
        Ok(PbrsHook {
            shaping,
            carry: vec![0.0; config.ppo.num_envs],
            gamma: config.ppo.gamma,
        })
    }
}

impl IterationHook for PbrsHook {
    fn after_collect(&mut self, t: &mut Trainer, _c: &Collected) -> AgentResult<HookOutput> {
        let ro = t.rollout();
        let rows = RolloutRows {
            num_envs: ro.num_envs,
            rewards: &ro.env_rewards,
            terminated: &ro.terminated,
            truncated: &ro.truncated,
        };
        let shaped = self
            .shaping
            .relabel(rows, &ro.signals, self.gamma, &mut self.carry)
            .map_err(|e| AgentError::Outer(e.to_string()))?;
        let shaping_mean = shaped
            .iter()
            .zip(&ro.env_rewards)
            .map(|(s, r)| (s - r) as f64)
            .sum::<f64>()
            / shaped.len().max(1) as f64;
        t.rollout_mut().rewards.copy_from_slice(&shaped);
        let mut metrics = IterationMetrics::default();
        metrics.push("outer/shaping_mean", shaping_mean);
        Ok(HookOutput {
            metrics,
            ..HookOutput::default()
        })
    }

    fn save(&self) -> AgentResult<Option<serde_json::Value>> {
        Ok(Some(serde_json::json!({ "carry": self.carry })))
    }

    fn restore(&mut self, state: Option<serde_json::Value>) -> AgentResult<()> {
        let carry = state.as_ref().and_then(|s| s.get("carry"));
        match carry.map(|c| serde_json::from_value::<Vec<f64>>(c.clone())) {
            Some(Ok(c)) if c.len() == self.carry.len() => self.carry = c,
            Some(_) => {
                return Err(AgentError::Outer(
                    "the checkpoint's pbrs carry does not fit ppo.num_envs".into(),
                ))
            }
            None => self.carry.fill(0.0),
        }
        Ok(())
    }
}
