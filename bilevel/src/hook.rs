//! BARFI as a trainer [`IterationHook`], and [`train_barfi_run`]: a BARFI run on disk.
//!
//! The env-side `[reward]` of the run is the primary: it decides terminations, the logged
//! `charts/episodic_return` and `eval.json`. The hook relabels `rollout.rewards` from the stored
//! signals with the learned reward, overrides γ, asks for a critic refit after an outer step,
//! and saves its outer state in the trainer's checkpoint.

use std::path::Path;

use carrot_agents::error::Result as AgentResult;
use carrot_agents::{
    train_run_with, AgentError, Collected, HookOutput, IterationHook, IterationMetrics, RunOptions,
    RunSummary, TrainConfig, Trainer,
};

use crate::barfi::{Barfi, RolloutView};
use crate::config::OuterConfig;
use crate::error::Result;
use crate::learned::LearnedReward;

fn outer_error(e: impl std::fmt::Display) -> AgentError {
    AgentError::Outer(e.to_string())
}

/// [`Barfi`] driving a [`Trainer`].
pub struct BarfiHook<R: LearnedReward> {
    barfi: Barfi<R>,
    /// Value-only epochs on the relabelled returns after φ moved.
    refit_epochs: usize,
}

impl<R: LearnedReward> BarfiHook<R> {
    /// Checks `outer` against `config` and the reward against the env's signals.
    pub fn new(config: &TrainConfig, outer: &OuterConfig, reward: R) -> Result<Self> {
        if !config.ppo.critic_signals.is_empty() {
            return Err(crate::error::BilevelError::config(
                "ppo.critic_signals",
                "must be empty with a BARFI outer loop (its f64 actor reads the stored rows as \
                 observations); primary and pbrs runs take it",
            ));
        }
        let env = config.env.build().map_err(AgentError::from)?;
        let spec_len = env.signal_spec().len();
        if reward.num_signals() != spec_len {
            return Err(crate::error::BilevelError::config(
                "outer.reward",
                format!(
                    "reads {} signals, the env emits {spec_len}",
                    reward.num_signals()
                ),
            ));
        }
        let obs_dim = env.observation_space().flat_dim();
        let barfi = Barfi::new(outer, &config.ppo, reward, obs_dim, config.seed)?;
        Ok(BarfiHook {
            barfi,
            refit_epochs: 1,
        })
    }

    pub fn barfi(&self) -> &Barfi<R> {
        &self.barfi
    }
}

impl<R: LearnedReward> IterationHook for BarfiHook<R> {
    fn after_collect(&mut self, t: &mut Trainer, c: &Collected) -> AgentResult<HookOutput> {
        let iteration = t.iteration();
        let ro = t.rollout();
        let view = RolloutView {
            num_envs: ro.num_envs,
            obs: &ro.obs,
            obs_dim: ro.obs_dim,
            actions: &ro.actions,
            action_dim: ro.action_dim,
            signals: &ro.signals,
            primary_rewards: &ro.env_rewards,
            values: &ro.values,
            truncation_values: &ro.truncation_values,
            last_values: &c.last_values,
            terminated: &ro.terminated,
            truncated: &ro.truncated,
        };
        let mut rewards = vec![0f32; ro.len()];
        let outcome = self
            .barfi
            .on_rollout(iteration, t.network(), &view, &mut rewards)
            .map_err(outer_error)?;
        t.rollout_mut().rewards.copy_from_slice(&rewards);
        let mut metrics = IterationMetrics::default();
        for (k, v) in outcome.metrics {
            metrics.push(k, v);
        }
        Ok(HookOutput {
            gamma: Some(outcome.gamma),
            refit_critic_epochs: if outcome.stepped {
                self.refit_epochs
            } else {
                0
            },
            metrics,
        })
    }

    fn save(&self) -> AgentResult<Option<serde_json::Value>> {
        serde_json::to_value(self.barfi.state())
            .map(Some)
            .map_err(outer_error)
    }

    fn restore(&mut self, state: Option<serde_json::Value>) -> AgentResult<()> {
        let Some(state) = state else {
            return Err(outer_error(
                "the checkpoint has no outer state (not a BARFI run)",
            ));
        };
        let state = serde_json::from_value(state).map_err(outer_error)?;
        self.barfi.restore(state).map_err(outer_error)
    }
}

/// A BARFI run in `run_dir` with a reward built by the caller: [`carrot_agents::train_run_with`] with a [`BarfiHook`].
pub fn train_barfi_run<R: LearnedReward>(
    config: &TrainConfig,
    outer: &OuterConfig,
    reward: R,
    run_dir: &Path,
    opts: &RunOptions,
) -> Result<RunSummary> {
    let mut hook = BarfiHook::new(config, outer, reward)?;
    Ok(train_run_with(config, run_dir, opts, &mut hook)?)
}
