//! The extension point between rollout collection and the PPO update, for outer loops
//! (bilevel reward learning) that relabel rewards, override the discount, refit the critic and
//! log their own metrics. Plain PPO runs with [`NoHook`] and is bit-identical to a trainer
//! without hooks.

use crate::error::Result;
use crate::rollout::EpisodeStats;
use crate::train::{IterationMetrics, Trainer};

/// What collection produced besides the rollout buffer itself.
#[derive(Clone, Debug)]
pub struct Collected {
    /// The episodes that ended during the rollout, scored by the env-side `[reward]`.
    pub stats: EpisodeStats,
    /// V(obs) after the last step, `[N]`.
    pub last_values: Vec<f32>,
    /// The learning rate of this iteration's update.
    pub lr: f64,
}

/// What a hook asks of the rest of the iteration.
#[derive(Clone, Debug, Default)]
pub struct HookOutput {
    /// Discount for GAE instead of `ppo.gamma` (reward scaling keeps `ppo.gamma`).
    pub gamma: Option<f64>,
    /// Value-only epochs on this iteration's returns before the PPO update (0: none).
    pub refit_critic_epochs: usize,
    /// Logged after the trainer's own keys.
    pub metrics: IterationMetrics,
}

/// Called by [`Trainer::iterate_with`] once per iteration.
///
/// Order: collect, [`after_collect`](Self::after_collect) (`rollout.rewards` still holds the
/// env-side rewards, unscaled, and may be overwritten), reward scaling, GAE, optional critic
/// refit, PPO update, [`after_update`](Self::after_update), metrics.
pub trait IterationHook: Send {
    fn after_collect(&mut self, trainer: &mut Trainer, collected: &Collected)
        -> Result<HookOutput>;

    /// After the PPO update, for bookkeeping that must see the new parameters.
    fn after_update(&mut self, _trainer: &mut Trainer) -> Result<IterationMetrics> {
        Ok(IterationMetrics::default())
    }

    /// The hook's own state (outer parameters, optimizer, RNG streams), saved as JSON inside the
    /// same atomic checkpoint as the trainer's.
    fn save(&self) -> Result<Option<serde_json::Value>> {
        Ok(None)
    }

    /// Restores what [`save`](Self::save) returned; called on resume with the checkpoint's
    /// value (`None` for a checkpoint written without outer state).
    fn restore(&mut self, _state: Option<serde_json::Value>) -> Result<()> {
        Ok(())
    }
}

/// Plain PPO: changes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHook;

impl IterationHook for NoHook {
    fn after_collect(&mut self, _: &mut Trainer, _: &Collected) -> Result<HookOutput> {
        Ok(HookOutput::default())
    }
}
