//! CartPole as a rapier2d world: a cart sliding on the x axis (its y translation and rotation
//! locked, so no prismatic joint is needed) carrying a uniform pole on a revolute joint.
//! Constants are Gymnasium's CartPole-v1: cart 1.0 kg, pole 0.1 kg and 1 m long (half length
//! 0.5 m, a uniform rod, which is what Gymnasium's `4/3` term models), push 10 N, dt 0.02 s,
//! g = 9.8, episode over at |x| > 2.4 m or |theta| > 12 degrees, 500-step limit.

use serde::{Deserialize, Serialize};

use super::rigs::{env_from_batch_of_one, grouped_config};
use crate::{EnvError, SignalSpec, Space, VecEnv};

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
    /// Puts the system in state `[x, x_dot, theta, theta_dot]` (for tests and scripted
    /// starts) and writes the matching observation. A non-finite state is not rejected here:
    /// the next step reports it as a physics failure.
    pub fn set_state(&mut self, state: [f32; 4], obs: &mut [f32]) {
        self.batch.set_state(0, state, obs);
    }
}

grouped_config!("cartpole", CartPoleConfig, CartPoles);

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

env_from_batch_of_one!(CartPole, CartPoles, CartPoleConfig);
