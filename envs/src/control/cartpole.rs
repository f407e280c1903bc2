//! CartPole as a rapier2d world: a cart sliding on the x axis (its y translation and rotation
//! locked, so no prismatic joint is needed) carrying a uniform pole on a revolute joint.
//! Constants are Gymnasium's CartPole-v1: cart 1.0 kg, pole 0.1 kg and 1 m long (half length
//! 0.5 m, a uniform rod, which is what Gymnasium's `4/3` term models), push 10 N, dt 0.02 s,
//! g = 9.8, episode over at |x| > 2.4 m or |theta| > 12 degrees, 500-step limit.

use rand::RngExt;
use rapier2d::prelude::*;
use serde::{Deserialize, Serialize};

use super::world::{check_limits, control_snapshot, massive_body, PhysicsWorld};
use crate::{env_rng, Env, EnvError, EnvRng, SignalSpec, Space, StepOutcome};

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
}

impl Default for CartPoleConfig {
    fn default() -> Self {
        CartPoleConfig {
            continuous: false,
            max_episode_steps: 500,
            solver_substeps: 2,
        }
    }
}

/// The cart-pole balancing task. Observation `[x, x_dot, theta, theta_dot]`, theta from
/// vertical, positive when the pole leans towards +x (Gymnasium's convention).
pub struct CartPole {
    config: CartPoleConfig,
    world: PhysicsWorld,
    cart: RigidBodyHandle,
    pole: RigidBodyHandle,
    rng: EnvRng,
    steps: u32,
    /// The last finite state, reported again if the physics blows up.
    state: [f32; 4],
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
}

impl CartPole {
    pub fn new(config: CartPoleConfig) -> Result<Self, EnvError> {
        check_limits("cartpole", config.max_episode_steps, config.solver_substeps)?;
        let (world, cart, pole) = build_world(&config);
        let (observation_space, action_space) = spaces(config.continuous);
        let signal_spec = signal_spec();
        Ok(CartPole {
            config,
            world,
            cart,
            pole,
            rng: env_rng(0),
            steps: 0,
            state: [0.0; 4],
            observation_space,
            action_space,
            signal_spec,
        })
    }

    /// The physical floor of this env's step, for `carrot bench envs`: applies a small constant
    /// actuation (any rapier env must touch its bodies each step, which rapier tracks as a
    /// modification) and steps the world; no state is read, checked or written.
    pub fn step_bare_world(&mut self) {
        let cart = &mut self.world.bodies[self.cart];
        cart.reset_forces(false);
        cart.add_force(Vector::new(1e-3, 0.0), true);
        self.world.step();
    }

    pub fn config(&self) -> &CartPoleConfig {
        &self.config
    }

    /// Puts the system in state `[x, x_dot, theta, theta_dot]` (for tests and scripted
    /// starts) and writes the matching observation. A non-finite state is not rejected here:
    /// the next step reports it as a physics failure.
    pub fn set_state(&mut self, state: [f32; 4], obs: &mut [f32]) {
        let [x, x_dot, theta, theta_dot] = state;
        self.world.enable_all();
        self.world.set_body_state(
            self.cart,
            Vector::new(x, 0.0),
            0.0,
            Vector::new(x_dot, 0.0),
            0.0,
        );
        // The pole turns clockwise (negative rapier angle) for positive theta.
        let (sin, cos) = theta.sin_cos();
        let com = Vector::new(x + POLE_HALF_LENGTH * sin, POLE_HALF_LENGTH * cos);
        let com_vel = Vector::new(
            x_dot + theta_dot * POLE_HALF_LENGTH * cos,
            -theta_dot * POLE_HALF_LENGTH * sin,
        );
        self.world
            .set_body_state(self.pole, com, -theta, com_vel, -theta_dot);
        if state.iter().all(|v| v.is_finite()) {
            self.state = state;
        }
        obs.copy_from_slice(&state);
    }

    fn read_state(&self) -> [f32; 4] {
        let cart = &self.world.bodies[self.cart];
        let pole = &self.world.bodies[self.pole];
        [
            cart.translation().x,
            cart.linvel().x,
            -pole.rotation().angle(),
            -pole.angvel(),
        ]
    }
}

/// The rapier world of the task and its bodies.
fn build_world(config: &CartPoleConfig) -> (PhysicsWorld, RigidBodyHandle, RigidBodyHandle) {
    let mut world = PhysicsWorld::new(GRAVITY, DT, config.solver_substeps).joints_only();
    let cart = world.bodies.insert(
        // The cart's inertia is irrelevant: its rotation is locked.
        massive_body(CART_MASS, 1.0)
            .enabled_translations(true, false)
            .lock_rotations(),
    );
    let pole_inertia = POLE_MASS * (2.0 * POLE_HALF_LENGTH).powi(2) / 12.0;
    let pole = world.bodies.insert(
        massive_body(POLE_MASS, pole_inertia).translation(Vector::new(0.0, POLE_HALF_LENGTH)),
    );
    let hinge = RevoluteJointBuilder::new()
        .local_anchor1(Vector::ZERO)
        .local_anchor2(Vector::new(0.0, -POLE_HALF_LENGTH))
        .contacts_enabled(false);
    world.impulse_joints.insert(cart, pole, hinge, true);
    (world, cart, pole)
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
    spec_accessors!("cartpole");
    control_snapshot!("cartpole");

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let Some(seed) = seed {
            self.rng = env_rng(seed);
        }
        let mut state = [0.0; 4];
        for v in &mut state {
            *v = self.rng.random_range(-INIT_RANGE..INIT_RANGE);
        }
        self.steps = 0;
        self.set_state(state, obs);
    }

    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        let force = if self.config.continuous {
            action[0] * FORCE_MAG
        } else if action[0] >= 0.5 {
            FORCE_MAG
        } else {
            -FORCE_MAG
        };
        let before = self.state;
        let cart = &mut self.world.bodies[self.cart];
        cart.reset_forces(false);
        cart.add_force(Vector::new(force, 0.0), true);
        let stable = self.world.step();
        let state = self.read_state();
        let physics_failure = !stable || !state.iter().all(|v| v.is_finite());
        if !physics_failure {
            self.state = state;
        }
        self.steps += 1;
        let [x, x_dot, theta, theta_dot] = self.state;
        obs.copy_from_slice(&self.state);
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
        StepOutcome {
            terminated: physics_failure || x.abs() > X_LIMIT || theta.abs() > THETA_LIMIT,
            truncated: self.steps >= self.config.max_episode_steps,
            physics_failure,
        }
    }
}
