//! Driving snapshots by replay. Every episode builds a fresh rapier world, map and actors from
//! the env's RNG alone, so the RNG right before the episode's reset plus the actions stepped
//! since then determine the whole state (rapier world, traffic, timers, tally). A snapshot
//! stores those two; restoring resets from that RNG and steps the actions again, which
//! reproduces the state bit for bit at the cost of replaying the current episode.

use serde::{Deserialize, Serialize};

use super::env::DrivingEnv;
use super::signals::NUM_SIGNALS;
use crate::snapshot::{decode, encode, mismatch};
use crate::{Env, EnvError, EnvRng, EnvSnapshot};

const NAME: &str = "driving";

/// What an episode is replayed from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Replay {
    /// The RNG right before the episode's reset drew its map, route and actors.
    start_rng: EnvRng,
    /// The actions of the episode so far, `[steps x action_dim]` as `step` received them.
    actions: Vec<f32>,
    /// A scripted scene changed the episode (`scene`): it cannot be replayed.
    #[serde(skip)]
    scripted: bool,
}

impl Replay {
    pub fn new(rng: &EnvRng) -> Self {
        Replay {
            start_rng: rng.clone(),
            actions: Vec::new(),
            scripted: false,
        }
    }

    /// A new episode starts from `rng`.
    pub fn start(&mut self, rng: &EnvRng) {
        self.start_rng = rng.clone();
        self.actions.clear();
        self.scripted = false;
    }

    pub fn record(&mut self, action: &[f32]) {
        self.actions.extend_from_slice(action);
    }

    pub fn mark_scripted(&mut self) {
        self.scripted = true;
    }
}

impl DrivingEnv {
    pub(crate) fn snapshot_replay(&self) -> Result<EnvSnapshot, EnvError> {
        if self.replay.scripted {
            return Err(mismatch(
                NAME,
                "a scripted scene (route, ego or lights set by hand) cannot be snapshotted",
            ));
        }
        encode(NAME, &self.replay)
    }

    pub(crate) fn restore_replay(&mut self, snapshot: &EnvSnapshot) -> Result<(), EnvError> {
        let replay: Replay = decode(NAME, snapshot)?;
        let dim = self.action_space().flat_dim();
        if !replay.actions.len().is_multiple_of(dim) {
            return Err(mismatch(
                NAME,
                format!("its actions are not rows of {dim} values"),
            ));
        }
        let steps = replay.actions.len() / dim;
        let mut obs = vec![0.0; self.observation_space().flat_dim()];
        let mut signals = vec![0.0; NUM_SIGNALS];
        self.rng = replay.start_rng;
        self.reset(None, &mut obs);
        for (t, action) in replay.actions.chunks_exact(dim).enumerate() {
            let outcome = self.step(action, &mut obs, &mut signals);
            if outcome.done() && t + 1 < steps {
                return Err(mismatch(
                    NAME,
                    format!("its episode ends after {} of {steps} steps", t + 1),
                ));
            }
        }
        Ok(())
    }
}
