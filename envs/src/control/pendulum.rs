//! Pendulum swing-up as a rapier2d world: a uniform 1 m, 1 kg rod on a revolute joint to a fixed
//! anchor (Gymnasium's `3g/2l` and `3/(ml^2)` terms are exactly this rod's dynamics), driven by
//! a torque at the pivot. Constants are Gymnasium's Pendulum-v1: max torque 2 N m, max speed
//! 8 rad/s, dt 0.05 s, g = 10, 200-step limit, no physical ending.

use rand::RngExt;
use rapier2d::prelude::*;
use serde::{Deserialize, Serialize};

use super::world::{check_limits, control_snapshot, massive_body, wrap_angle, PhysicsWorld};
use crate::{env_rng, Env, EnvError, EnvRng, SignalSpec, Space, StepOutcome};

const GRAVITY: f32 = 10.0;
const MASS: f32 = 1.0;
const LENGTH: f32 = 1.0;
const MAX_TORQUE: f32 = 2.0;
const MAX_SPEED: f32 = 8.0;
const DT: f32 = 0.05;

/// Pendulum settings (`[env] id = "pendulum"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PendulumConfig {
    /// Time limit in steps (truncation).
    pub max_episode_steps: u32,
    /// Rapier solver substeps per 0.05 s step (1 is Gymnasium's own semi-implicit Euler step).
    pub solver_substeps: usize,
}

impl Default for PendulumConfig {
    fn default() -> Self {
        PendulumConfig {
            max_episode_steps: 200,
            solver_substeps: 2,
        }
    }
}

/// The torque-limited pendulum. Observation `[cos theta, sin theta, theta_dot]` with theta the
/// rod's angle from upright, counter-clockwise positive.
pub struct Pendulum {
    config: PendulumConfig,
    world: PhysicsWorld,
    rod: RigidBodyHandle,
    rng: EnvRng,
    steps: u32,
    /// The last finite `[theta, theta_dot]`, reported again if the physics blows up.
    state: [f32; 2],
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
}

impl Pendulum {
    pub fn new(config: PendulumConfig) -> Result<Self, EnvError> {
        check_limits("pendulum", config.max_episode_steps, config.solver_substeps)?;
        let (world, rod) = build_world(&config);
        let (observation_space, action_space) = spaces();
        let signal_spec = signal_spec();
        Ok(Pendulum {
            config,
            world,
            rod,
            rng: env_rng(0),
            steps: 0,
            state: [0.0; 2],
            observation_space,
            action_space,
            signal_spec,
        })
    }

    /// The physical floor of this env's step, for `carrot bench envs`: applies a small constant
    /// actuation (any rapier env must touch its bodies each step, which rapier tracks as a
    /// modification) and steps the world; no state is read, checked or written.
    pub fn step_bare_world(&mut self) {
        let rod = &mut self.world.bodies[self.rod];
        rod.reset_torques(false);
        rod.add_torque(1e-3, true);
        self.world.step();
    }

    pub fn config(&self) -> &PendulumConfig {
        &self.config
    }

    /// Puts the rod at angle `theta` from upright turning at `theta_dot` (for tests and scripted
    /// starts) and writes the observation. A non-finite state shows up as a physics failure.
    pub fn set_state(&mut self, theta: f32, theta_dot: f32, obs: &mut [f32]) {
        self.world.enable_all();
        self.place_rod(theta, theta_dot);
        if theta.is_finite() && theta_dot.is_finite() {
            self.state = [wrap_angle(theta), theta_dot];
        }
        write_obs(theta, theta_dot, obs);
    }

    fn place_rod(&mut self, theta: f32, theta_dot: f32) {
        let half = LENGTH / 2.0;
        let (sin, cos) = theta.sin_cos();
        let com = Vector::new(-half * sin, half * cos);
        // Velocity of the center of mass of a rod turning about the origin: omega x r.
        let com_vel = Vector::new(-theta_dot * com.y, theta_dot * com.x);
        self.world
            .set_body_state(self.rod, com, theta, com_vel, theta_dot);
    }
}

fn write_obs(theta: f32, theta_dot: f32, obs: &mut [f32]) {
    let (sin, cos) = theta.sin_cos();
    obs.copy_from_slice(&[cos, sin, theta_dot]);
}

/// The rapier world of the task and its bodies.
fn build_world(config: &PendulumConfig) -> (PhysicsWorld, RigidBodyHandle) {
    let mut world = PhysicsWorld::new(GRAVITY, DT, config.solver_substeps).joints_only();
    let anchor = world.bodies.insert(RigidBodyBuilder::fixed());
    let rod = world.bodies.insert(
        massive_body(MASS, MASS * LENGTH * LENGTH / 12.0)
            .translation(Vector::new(0.0, LENGTH / 2.0)),
    );
    let hinge = RevoluteJointBuilder::new()
        .local_anchor1(Vector::ZERO)
        .local_anchor2(Vector::new(0.0, -LENGTH / 2.0))
        .contacts_enabled(false);
    world.impulse_joints.insert(anchor, rod, hinge, true);
    (world, rod)
}

/// The observation and action spaces.
fn spaces() -> (Space, Space) {
    let observation_space = Space::boxed(&[
        ("cos_theta", -1.0, 1.0),
        ("sin_theta", -1.0, 1.0),
        ("theta_dot", -MAX_SPEED, MAX_SPEED),
    ]);
    let action_space = Space::boxed(&[("torque", -MAX_TORQUE, MAX_TORQUE)]);
    (observation_space, action_space)
}

/// The signals the task emits, its classic reward the default.
fn signal_spec() -> SignalSpec {
    SignalSpec::new(
        "pendulum",
        &[
            (
                "reward",
                "1",
                "Gymnasium's reward -(theta^2 + 0.1 theta_dot^2 + 0.001 torque^2), on the \
                 state before the step",
            ),
            ("cost", "1", "minus the reward (Gymnasium's cost)"),
            (
                "theta",
                "rad",
                "angle from upright after the step, in [-pi, pi)",
            ),
            ("theta_dot", "rad/s", "angular velocity after the step"),
            (
                "torque",
                "N m",
                "torque applied at the pivot during the step",
            ),
        ],
    )
    .with_default_reward("reward")
}

impl Env for Pendulum {
    spec_accessors!("pendulum");
    control_snapshot!("pendulum");

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        use std::f32::consts::PI;
        if let Some(seed) = seed {
            self.rng = env_rng(seed);
        }
        let theta = self.rng.random_range(-PI..PI);
        let theta_dot = self.rng.random_range(-1.0f32..1.0);
        self.steps = 0;
        self.set_state(theta, theta_dot, obs);
    }

    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        let torque = action[0];
        let [theta0, theta_dot0] = self.state;
        let cost = theta0 * theta0 + 0.1 * theta_dot0 * theta_dot0 + 0.001 * torque * torque;

        let rod = &mut self.world.bodies[self.rod];
        rod.reset_torques(false);
        rod.add_torque(torque, true);
        let stable = self.world.step();
        let rod = &self.world.bodies[self.rod];
        let (theta, theta_dot) = (rod.rotation().angle(), rod.angvel());
        let physics_failure = !stable || !theta.is_finite() || !theta_dot.is_finite();
        if !physics_failure {
            // Gymnasium's speed limit, applied to the body so the next step starts from it.
            let clipped = theta_dot.clamp(-MAX_SPEED, MAX_SPEED);
            if clipped != theta_dot {
                self.place_rod(theta, clipped);
            }
            self.state = [wrap_angle(theta), clipped];
        }
        self.steps += 1;
        let [theta, theta_dot] = self.state;
        write_obs(theta, theta_dot, obs);
        signals.copy_from_slice(&[-cost, cost, theta, theta_dot, torque]);
        StepOutcome {
            terminated: physics_failure,
            truncated: self.steps >= self.config.max_episode_steps,
            physics_failure,
        }
    }
}
