//! [`CartPoles`]: cart-pole envs sharing one rapier world, stepped together (one world step for
//! all of them). Env `i` of the batch gives what a lone [`super::CartPole`] gives, bit for bit.

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::rigs::{RigState, Rigs};
use super::{signal_spec, spaces, CartPoleConfig, FORCE_MAG, INIT_RANGE, THETA_LIMIT, X_LIMIT};
use crate::control::world::ControlState;
use crate::{env_rng, EnvBatch, EnvError, EnvRng, EnvSnapshot, SignalSpec, Space, StepOutcome};

/// One env's episode: its RNG, clock and last finite state.
#[derive(Clone, Serialize, Deserialize)]
struct Episode {
    rng: EnvRng,
    steps: u32,
    /// The last finite state, reported again if the physics blows up.
    state: [f32; 4],
}

/// One env's snapshot: its cart-pole's bodies and its episode.
#[derive(Serialize, Deserialize)]
struct CartPoleState {
    rig: RigState,
    episode: Episode,
}

/// `len` cart-pole envs (of one config) in one rapier world.
pub struct CartPoles {
    config: CartPoleConfig,
    rigs: Rigs,
    episodes: Vec<Episode>,
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
        super::check_config(&config)?;
        if len == 0 {
            return Err(EnvError::InvalidConfig {
                env: "cartpole".into(),
                message: "a batch of cart-poles needs at least one env".into(),
            });
        }
        let (observation_space, action_space) = spaces(config.continuous);
        let episode = Episode {
            rng: env_rng(0),
            steps: 0,
            state: [0.0; 4],
        };
        Ok(CartPoles {
            rigs: Rigs::new(len, config.solver_substeps),
            episodes: vec![episode; len],
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
        self.rigs.set_state(i, state);
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

impl EnvBatch for CartPoles {
    fn num_envs(&self) -> usize {
        self.rigs.len()
    }

    spec_accessors!("cartpole");

    fn episode_metric_names(&self) -> &[&'static str] {
        &[]
    }

    fn reset(&mut self, i: usize, seed: Option<u64>, obs: &mut [f32]) {
        let episode = &mut self.episodes[i];
        if let Some(seed) = seed {
            episode.rng = env_rng(seed);
        }
        let mut state = [0.0; 4];
        for v in &mut state {
            *v = episode.rng.random_range(-INIT_RANGE..INIT_RANGE);
        }
        episode.steps = 0;
        self.set_state(i, state, obs);
    }

    fn reset_signals(&self, _i: usize, signals: &mut [f32]) {
        signals.iter_mut().for_each(|x| *x = 0.0);
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
            let state = self.rigs.state(i);
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

    fn episode_metrics(&self, _i: usize, _out: &mut [f32]) {}

    fn snapshot(&self, i: usize) -> Result<EnvSnapshot, EnvError> {
        let state = CartPoleState {
            rig: self.rigs.rig_state(i),
            episode: self.episodes[i].clone(),
        };
        crate::snapshot::encode("cartpole", &state)
    }

    fn restore(&mut self, i: usize, snapshot: &EnvSnapshot) -> Result<(), EnvError> {
        let mismatch = |what: &str| crate::snapshot::mismatch("cartpole", what);
        // Cartpole snapshots held the whole rapier world of a one-env world before 2026-12-07;
        // they still restore, so that older runs resume.
        let (rig, episode) = match crate::snapshot::decode::<CartPoleState>("cartpole", snapshot) {
            Ok(s) => (s.rig, s.episode),
            Err(err) => {
                let Ok(s) = crate::snapshot::decode::<ControlState>("cartpole", snapshot) else {
                    return Err(err);
                };
                let rig = self
                    .rigs
                    .rig_state_in(&s.world)
                    .ok_or_else(|| mismatch("its rapier world has other bodies or joints"))?;
                let state = s
                    .state
                    .as_slice()
                    .try_into()
                    .map_err(|_| mismatch("its state has the wrong length"))?;
                let episode = Episode {
                    rng: s.rng,
                    steps: s.steps,
                    state,
                };
                (rig, episode)
            }
        };
        self.rigs.set_rig_state(i, &rig);
        self.episodes[i] = episode;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::world::ControlStateRef;

    /// Steps every env of `batch` `steps` times with the same pushes, alternating every third
    /// step; returns the observations' bits.
    fn run(batch: &mut CartPoles, steps: usize) -> Vec<u32> {
        let n = batch.num_envs();
        let (mut obs, mut signals) = (vec![0.0; 4 * n], vec![0.0; 10 * n]);
        let mut outcomes = vec![StepOutcome::default(); n];
        let mut out = Vec::new();
        for t in 0..steps {
            let actions = vec![((t / 3) % 2) as f32; n];
            batch.step(&actions, &mut obs, &mut signals, &mut outcomes);
            for (i, o) in outcomes.iter().enumerate() {
                if o.done() {
                    batch.reset(i, None, &mut obs[4 * i..4 * i + 4]);
                }
            }
            out.extend(obs.iter().map(|v| v.to_bits()));
        }
        out
    }

    #[test]
    fn a_whole_world_snapshot_of_before_2026_12_07_restores_exactly() {
        let config = CartPoleConfig::default();
        let mut original = CartPoles::new(config.clone(), 1).unwrap();
        original.reset(0, Some(3), &mut [0.0; 4]);
        run(&mut original, 23);
        let episode = &original.episodes[0];
        let old_form = ControlStateRef {
            world: original.rigs.world().state(),
            rng: &episode.rng,
            steps: episode.steps,
            state: &episode.state,
        };
        let snapshot = crate::snapshot::encode("cartpole", &old_form).unwrap();
        // Restored as env 1 of a shared world, it continues as the original.
        let mut shared = CartPoles::new(config, 2).unwrap();
        shared.reset(0, Some(8), &mut [0.0; 4]);
        shared.restore(1, &snapshot).unwrap();
        let got = run(&mut shared, 300);
        let want = run(&mut original, 300);
        let env1: Vec<u32> = got.chunks(8).flat_map(|c| c[4..].to_vec()).collect();
        assert!(env1 == want, "the restored env diverges");
        assert_eq!(shared.episodes[1].steps, original.episodes[0].steps);
    }

    #[test]
    fn a_snapshot_of_another_env_is_refused() {
        let mut batch = CartPoles::new(CartPoleConfig::default(), 1).unwrap();
        let other = crate::snapshot::encode("pendulum", &[1.0f32, 2.0]).unwrap();
        let err = batch.restore(0, &other).unwrap_err().to_string();
        assert!(err.contains("cartpole"), "{err}");
    }
}
