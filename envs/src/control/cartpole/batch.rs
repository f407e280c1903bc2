//! [`CartPoles`]: cart-pole envs sharing one rapier world, stepped together (one world step for
//! all of them). Env `i` of the batch gives what a lone [`super::CartPole`] gives, bit for bit.

use super::rigs::CartPoleRig;
use super::{signal_spec, spaces, CartPoleConfig, DT, FORCE_MAG, GRAVITY, INIT_RANGE};
use super::{THETA_LIMIT, X_LIMIT};
use crate::control::rigs::{rig_batch, uniform_start, Episode, SharedRigs};
use crate::control::world::PhysicsWorld;
use crate::{EnvBatch, EnvError, EnvSnapshot, SignalSpec, Space, StepOutcome};

/// `len` cart-pole envs (of one config) in one rapier world.
pub struct CartPoles {
    config: CartPoleConfig,
    rigs: SharedRigs<CartPoleRig>,
    episodes: Vec<Episode<4>>,
    /// This step's push on each cart (N) and whether its physics blew up.
    forces: Vec<f32>,
    failed: Vec<bool>,
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
}

impl CartPoles {
    /// `len` envs (at least 1) after validating `config`.
    pub fn new(config: CartPoleConfig, len: usize) -> Result<Self, EnvError> {
        config.check(len)?;
        let world = PhysicsWorld::new(GRAVITY, DT, config.solver_substeps).joints_only();
        let (observation_space, action_space) = spaces(config.continuous);
        Ok(CartPoles {
            rigs: SharedRigs::new(world, len),
            episodes: vec![Episode::default(); len],
            forces: vec![0.0; len],
            failed: vec![false; len],
            config,
            observation_space,
            action_space,
            signal_spec: signal_spec(),
        })
    }

    pub fn config(&self) -> &CartPoleConfig {
        &self.config
    }

    /// Puts env `i` in state `[x, x_dot, theta, theta_dot]` and writes the matching
    /// observation. A non-finite state is not rejected here: the next step reports it as a
    /// physics failure.
    pub fn set_state(&mut self, i: usize, state: [f32; 4], obs: &mut [f32]) {
        self.rigs.set_cart_pole_state(i, state);
        if state.iter().all(|v| v.is_finite()) {
            self.episodes[i].state = state;
        }
        obs.copy_from_slice(&state);
    }

    /// See [`super::CartPole::step_bare_world`].
    pub fn step_bare_world(&mut self) {
        self.rigs.step_bare();
    }

    fn force(&self, action: &[f32]) -> f32 {
        if self.config.continuous {
            action[0] * FORCE_MAG
        } else if action[0] >= 0.5 {
            FORCE_MAG
        } else {
            -FORCE_MAG
        }
    }
}

rig_batch!("cartpole", CartPoles, {
    fn reset(&mut self, i: usize, seed: Option<u64>, obs: &mut [f32]) {
        let state = uniform_start(self.episodes[i].restart(seed), INIT_RANGE);
        self.set_state(i, state, obs);
    }

    fn step(
        &mut self,
        actions: &[f32],
        obs: &mut [f32],
        signals: &mut [f32],
        outcomes: &mut [StepOutcome],
    ) {
        let a = self.action_space.flat_dim();
        for (i, action) in actions.chunks(a).enumerate() {
            self.forces[i] = self.force(action);
            self.rigs.push(i, self.forces[i]);
        }
        self.rigs.step(&mut self.failed);
        let s = self.signal_spec.len();
        for (i, ((obs, signals), outcome)) in obs
            .chunks_mut(4)
            .zip(signals.chunks_mut(s))
            .zip(outcomes.iter_mut())
            .enumerate()
        {
            let force = self.forces[i];
            let episode = &mut self.episodes[i];
            let before = episode.state;
            let state = self.rigs.cart_pole_state(i);
            let physics_failure = self.failed[i] || !state.iter().all(|v| v.is_finite());
            if !physics_failure {
                episode.state = state;
            }
            episode.steps += 1;
            let [x, x_dot, theta, theta_dot] = episode.state;
            obs.copy_from_slice(&episode.state);
            let [xb, x_dot_b, theta_b, theta_dot_b] = before;
            signals.copy_from_slice(&[
                1.0,
                x,
                x_dot,
                theta,
                theta_dot,
                force,
                xb,
                x_dot_b,
                theta_b,
                theta_dot_b,
            ]);
            *outcome = StepOutcome {
                terminated: physics_failure || x.abs() > X_LIMIT || theta.abs() > THETA_LIMIT,
                truncated: episode.steps >= self.config.max_episode_steps,
                physics_failure,
            };
        }
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::cartpole::rigs::named_snapshot_for_tests;
    use crate::control::rigs::test_support::{check_older_snapshot_restores, whole_world_snapshot};

    #[test]
    fn a_whole_world_snapshot_of_before_2026_12_07_restores_exactly() {
        check_older_snapshot_restores(
            |len| CartPoles::new(CartPoleConfig::default(), len).unwrap(),
            |batch| whole_world_snapshot("cartpole", &batch.rigs, &batch.episodes[0]),
        );
    }

    #[test]
    fn a_named_field_snapshot_of_2026_12_07_restores_exactly() {
        check_older_snapshot_restores(
            |len| CartPoles::new(CartPoleConfig::default(), len).unwrap(),
            |batch| named_snapshot_for_tests(&batch.rigs, &batch.episodes[0]),
        );
    }

    #[test]
    fn a_snapshot_of_another_env_is_refused() {
        let mut batch = CartPoles::new(CartPoleConfig::default(), 1).unwrap();
        let other = crate::snapshot::encode("pendulum", &[1.0f32, 2.0]).unwrap();
        let err = batch.restore(0, &other).unwrap_err().to_string();
        assert!(err.contains("cartpole"), "{err}");
    }
}
