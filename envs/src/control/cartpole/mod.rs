//! CartPole as a rapier2d world: a cart sliding on the x axis (its y translation and rotation
//! locked, so no prismatic joint is needed) carrying a uniform pole on a revolute joint.
//! Constants are Gymnasium's CartPole-v1: cart 1.0 kg, pole 0.1 kg and 1 m long (half length
//! 0.5 m, a uniform rod, which is what Gymnasium's `4/3` term models), push 10 N, dt 0.02 s,
//! g = 9.8, episode over at |x| > 2.4 m or |theta| > 12 degrees, 500-step limit.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::world::check_limits;
use crate::{Env, EnvBatch, EnvError, EnvSnapshot, SignalSpec, Space, StepOutcome, VecEnv};

mod batch;
mod rigs;

pub use batch::CartPoles;

const GRAVITY: f32 = 9.8;
const CART_MASS: f32 = 1.0;
const POLE_MASS: f32 = 0.1;
const POLE_HALF_LENGTH: f32 = 0.5;
const FORCE_MAG: f32 = 10.0;
const DT: f32 = 0.02;
const X_LIMIT: f32 = 2.4;
const THETA_LIMIT: f32 = 12.0 * std::f32::consts::PI / 180.0;
const INIT_RANGE: f32 = 0.05;

/// CartPole settings (`[env] id = "cartpole"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CartPoleConfig {
    /// One continuous action in [-1, 1] scaling the 10 N push, instead of two discrete pushes.
    pub continuous: bool,
    /// Time limit in steps (truncation).
    pub max_episode_steps: u32,
    /// Rapier solver substeps per 0.02 s step: more is closer to the exact rigid-body motion
    /// (and the joint holds tighter), fewer is faster. 2 keeps the pivot within ~0.2 mm.
    pub solver_substeps: usize,
    /// Envs of a VecEnv that share one rapier world. Each cart-pole is its own island, so
    /// results are the same bit for bit whatever this is; a shared world pays rapier's
    /// per-step overhead once for all its envs (several times faster from a few dozen on),
    /// while VecEnv spreads whole worlds over threads.
    pub envs_per_world: usize,
}

impl Default for CartPoleConfig {
    fn default() -> Self {
        CartPoleConfig {
            continuous: false,
            max_episode_steps: 500,
            solver_substeps: 2,
            envs_per_world: 64,
        }
    }
}

/// The cart-pole balancing task. Observation `[x, x_dot, theta, theta_dot]`, theta from
/// vertical, positive when the pole leans towards +x (Gymnasium's convention).
pub struct CartPole {
    batch: CartPoles,
}

impl CartPole {
    pub fn new(config: CartPoleConfig) -> Result<Self, EnvError> {
        Ok(CartPole {
            batch: CartPoles::new(config, 1)?,
        })
    }

    /// The physical floor of this env's step, for `carrot bench envs`: applies a small constant
    /// actuation (any rapier env must touch its bodies each step, which rapier tracks as a
    /// modification) and steps the world; no state is read, checked or written.
    pub fn step_bare_world(&mut self) {
        self.batch.step_bare_world();
    }

    pub fn config(&self) -> &CartPoleConfig {
        self.batch.config()
    }

    /// Puts the system in state `[x, x_dot, theta, theta_dot]` (for tests and scripted
    /// starts) and writes the matching observation. A non-finite state is not rejected here:
    /// the next step reports it as a physics failure.
    pub fn set_state(&mut self, state: [f32; 4], obs: &mut [f32]) {
        self.batch.set_state(0, state, obs);
    }
}

/// Checks a config: the limits every control task has, and at least one env per world.
fn check_config(config: &CartPoleConfig) -> Result<(), EnvError> {
    check_limits("cartpole", config.max_episode_steps, config.solver_substeps)?;
    if config.envs_per_world == 0 {
        return Err(EnvError::InvalidConfig {
            env: "cartpole".into(),
            message: "envs_per_world must be at least 1".into(),
        });
    }
    Ok(())
}

impl CartPoleConfig {
    /// The envs each rapier world of a VecEnv of `num_envs` cart-poles holds, in order:
    /// `envs_per_world` at a time (at least 1), the last world the rest.
    pub fn worlds(&self, num_envs: usize) -> impl Iterator<Item = Range<usize>> {
        super::rigs::worlds(self.envs_per_world, num_envs)
    }
}

/// A VecEnv of `num_envs` cart-poles, `config.envs_per_world` to a rapier world.
pub(crate) fn build_vec(config: &CartPoleConfig, num_envs: usize) -> Result<VecEnv, EnvError> {
    check_config(config)?;
    super::rigs::grouped_vec(config.envs_per_world, num_envs, |len| {
        CartPoles::new(config.clone(), len)
    })
}

/// The observation and action spaces.
fn spaces(continuous: bool) -> (Space, Space) {
    let inf = f32::INFINITY;
    let observation_space = Space::boxed(&[
        ("cart_position", -2.0 * X_LIMIT, 2.0 * X_LIMIT),
        ("cart_velocity", -inf, inf),
        ("pole_angle", -2.0 * THETA_LIMIT, 2.0 * THETA_LIMIT),
        ("pole_angular_velocity", -inf, inf),
    ]);
    let action_space = if continuous {
        Space::boxed(&[("push", -1.0, 1.0)])
    } else {
        Space::discrete(&["push_left", "push_right"])
    };
    (observation_space, action_space)
}

/// The signals the task emits, its classic reward the default.
fn signal_spec() -> SignalSpec {
    SignalSpec::new(
        "cartpole",
        &[
            ("alive", "1", "1 for every step taken (Gymnasium's reward)"),
            (
                "x",
                "m",
                "cart position after the step, 0 at the track center",
            ),
            ("x_dot", "m/s", "cart velocity after the step"),
            (
                "theta",
                "rad",
                "pole angle from vertical after the step, + towards +x",
            ),
            ("theta_dot", "rad/s", "pole angular velocity after the step"),
            (
                "force",
                "N",
                "horizontal force applied to the cart during the step",
            ),
            // The state the action was chosen in, so a reward can judge the action against
            // it (BARFI's PD auxiliary). Appended last so earlier indices never move.
            ("x_before", "m", "cart position before the step"),
            ("x_dot_before", "m/s", "cart velocity before the step"),
            (
                "theta_before",
                "rad",
                "pole angle from vertical before the step, + towards +x",
            ),
            (
                "theta_dot_before",
                "rad/s",
                "pole angular velocity before the step",
            ),
        ],
    )
    .with_default_reward("alive")
}

impl Env for CartPole {
    fn name(&self) -> &'static str {
        self.batch.name()
    }

    fn observation_space(&self) -> &Space {
        self.batch.observation_space()
    }

    fn action_space(&self) -> &Space {
        self.batch.action_space()
    }

    fn signal_spec(&self) -> &SignalSpec {
        self.batch.signal_spec()
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.batch.reset(0, seed, obs);
    }

    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        let mut outcome = [StepOutcome::default()];
        self.batch.step(action, obs, signals, &mut outcome);
        outcome[0]
    }

    fn snapshot(&self) -> Result<EnvSnapshot, EnvError> {
        self.batch.snapshot(0)
    }

    fn restore(&mut self, snapshot: &EnvSnapshot) -> Result<(), EnvError> {
        self.batch.restore(0, snapshot)
    }
}
