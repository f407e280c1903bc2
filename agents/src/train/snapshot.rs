//! What collection carries from one iteration to the next, for checkpoints that resume
//! exactly: the envs mid-episode ([`VecEnvSnapshot`]: every env's state and RNG, the running
//! episode statistics, the current observations) and the policy's view of those observations.
//! The rest of the carried state (normalizers with the reward scaler's running returns, RNG
//! streams) is in the checkpoint's `state.json`. Reward modules are stateless per env (their
//! `evaluate` takes `&self`), so there is nothing of theirs to save.

use carrot_envs::{EnvError, VecEnvSnapshot};
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Result};
use crate::train::Trainer;

/// The collection state of a [`Trainer`] between iterations.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CollectionState {
    pub envs: VecEnvSnapshot,
    /// The observations as the policy sees them (normalized when it did, privileged critic
    /// inputs appended): normalizing again would update the statistics twice.
    pub policy_obs: Vec<f32>,
}

impl Trainer {
    /// The collection state, or `None` when there is none to carry (before the first
    /// iteration) or the env cannot snapshot ([`EnvError::SnapshotUnsupported`]).
    pub fn collection_state(&self) -> Result<Option<CollectionState>> {
        if self.needs_reset {
            return Ok(None);
        }
        match self.envs.snapshot(&self.step_buf) {
            Ok(envs) => Ok(Some(CollectionState {
                envs,
                policy_obs: self.policy_obs.clone(),
            })),
            Err(EnvError::SnapshotUnsupported { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Restores [`Trainer::collection_state`] of a trainer built from the same config, so the
    /// next iteration steps the envs on from where that one stood.
    pub fn restore_collection_state(&mut self, state: &CollectionState) -> Result<()> {
        if state.policy_obs.len() != self.policy_obs.len() {
            return Err(AgentError::config(
                "ppo.num_envs",
                "the checkpoint's env snapshot holds a different number of observations",
            ));
        }
        self.envs.restore(&state.envs, &mut self.step_buf)?;
        self.policy_obs.copy_from_slice(&state.policy_obs);
        self.needs_reset = false;
        Ok(())
    }
}
