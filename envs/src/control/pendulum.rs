//! Pendulum swing-up as a rapier2d world: a uniform 1 m, 1 kg rod on a revolute joint to a fixed
//! anchor (Gymnasium's `3g/2l` and `3/(ml^2)` terms are exactly this rod's dynamics), driven by
//! a torque at the pivot. Constants are Gymnasium's Pendulum-v1: max torque 2 N m, max speed
//! 8 rad/s, dt 0.05 s, g = 10, 200-step limit, no physical ending. In a VecEnv,
//! `envs_per_world` pendulums share a rapier world ([`Pendulums`]).

use rand::RngExt;
use rapier2d::prelude::*;
use serde::{Deserialize, Serialize};

use super::rigs::{env_from_batch_of_one, grouped_config, rig_batch, Episode, Rig, SharedRigs};
use super::world::{massive_body, wrap_angle, PhysicsWorld};
use crate::{EnvBatch, EnvError, EnvSnapshot, SignalSpec, Space, StepOutcome, VecEnv};

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
    /// Envs of a VecEnv that share one rapier world (see [`Pendulums`]): the same results bit
    /// for bit whatever this is, rapier's per-step overhead paid once per world.
    pub envs_per_world: usize,
}

impl Default for PendulumConfig {
    fn default() -> Self {
        PendulumConfig {
            max_episode_steps: 200,
            solver_substeps: 2,
            envs_per_world: 64,
        }
    }
}

grouped_config!("pendulum", PendulumConfig, Pendulums);

/// A rod hinged to its own fixed anchor.
#[derive(Clone, Copy)]
struct PendulumRig {
    rod: [RigidBodyHandle; 1],
    hinge: [ImpulseJointHandle; 1],
}

impl Rig for PendulumRig {
    fn add(world: &mut PhysicsWorld) -> Self {
        let anchor = world.bodies.insert(RigidBodyBuilder::fixed());
        let rod = world.bodies.insert(
            massive_body(MASS, MASS * LENGTH * LENGTH / 12.0)
                .translation(Vector::new(0.0, LENGTH / 2.0)),
        );
        let hinge = RevoluteJointBuilder::new()
            .local_anchor1(Vector::ZERO)
            .local_anchor2(Vector::new(0.0, -LENGTH / 2.0))
            .contacts_enabled(false);
        let hinge = world.impulse_joints.insert(anchor, rod, hinge, true);
        PendulumRig {
            rod: [rod],
            hinge: [hinge],
        }
    }

    fn bodies(&self) -> &[RigidBodyHandle] {
        &self.rod
    }

    fn joints(&self) -> &[ImpulseJointHandle] {
        &self.hinge
    }
}

/// `len` pendulum envs (of one config) in one rapier world, stepped together. Env `i` gives
/// what a lone [`Pendulum`] gives, bit for bit.
pub struct Pendulums {
    config: PendulumConfig,
    rigs: SharedRigs<PendulumRig>,
    episodes: Vec<Episode<2>>,
    failed: Vec<bool>,
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
}

impl Pendulums {
    /// `len` envs (at least 1) after validating `config`.
    pub fn new(config: PendulumConfig, len: usize) -> Result<Self, EnvError> {
        config.check(len)?;
        let world = PhysicsWorld::new(GRAVITY, DT, config.solver_substeps).joints_only();
        let (observation_space, action_space) = spaces();
        Ok(Pendulums {
            rigs: SharedRigs::new(world, len),
            episodes: vec![Episode::default(); len],
            failed: vec![false; len],
            config,
            observation_space,
            action_space,
            signal_spec: signal_spec(),
        })
    }

    pub fn config(&self) -> &PendulumConfig {
        &self.config
    }

    /// Puts env `i`'s rod at angle `theta` from upright turning at `theta_dot` and writes the
    /// observation. A non-finite state shows up as a physics failure.
    pub fn set_state(&mut self, i: usize, theta: f32, theta_dot: f32, obs: &mut [f32]) {
        self.rigs.enable(i);
        self.place_rod(i, theta, theta_dot);
        if theta.is_finite() && theta_dot.is_finite() {
            self.episodes[i].state = [wrap_angle(theta), theta_dot];
        }
        write_obs(theta, theta_dot, obs);
    }

    /// The physical floor of a step, for `carrot bench envs`: a small constant torque on every
    /// rod (any rapier env must touch its bodies each step, which rapier tracks as a
    /// modification) and the world step; no state is read, checked or written.
    pub fn step_bare_world(&mut self) {
        for i in 0..self.rigs.len() {
            let rod = self.rigs.body_mut(self.rigs.rig(i).rod[0]);
            rod.reset_torques(false);
            rod.add_torque(1e-3, true);
        }
        self.rigs.world_mut().step();
    }

    fn place_rod(&mut self, i: usize, theta: f32, theta_dot: f32) {
        let half = LENGTH / 2.0;
        let (sin, cos) = theta.sin_cos();
        let com = Vector::new(-half * sin, half * cos);
        // Velocity of the center of mass of a rod turning about the origin: omega x r.
        let com_vel = Vector::new(-theta_dot * com.y, theta_dot * com.x);
        let rod = self.rigs.rig(i).rod[0];
        self.rigs
            .world_mut()
            .set_body_state(rod, com, theta, com_vel, theta_dot);
    }
}

rig_batch!("pendulum", Pendulums, {
    fn reset(&mut self, i: usize, seed: Option<u64>, obs: &mut [f32]) {
        use std::f32::consts::PI;
        let rng = self.episodes[i].restart(seed);
        let theta = rng.random_range(-PI..PI);
        let theta_dot = rng.random_range(-1.0f32..1.0);
        self.set_state(i, theta, theta_dot, obs);
    }

    fn step(
        &mut self,
        actions: &[f32],
        obs: &mut [f32],
        signals: &mut [f32],
        outcomes: &mut [StepOutcome],
    ) {
        for (i, action) in actions.iter().enumerate() {
            let rod = self.rigs.body_mut(self.rigs.rig(i).rod[0]);
            rod.reset_torques(false);
            rod.add_torque(*action, true);
        }
        self.rigs.step(&mut self.failed);
        let s = self.signal_spec.len();
        for (i, ((obs, signals), outcome)) in obs
            .chunks_mut(3)
            .zip(signals.chunks_mut(s))
            .zip(outcomes.iter_mut())
            .enumerate()
        {
            let torque = actions[i];
            let [theta0, theta_dot0] = self.episodes[i].state;
            let cost = theta0 * theta0 + 0.1 * theta_dot0 * theta_dot0 + 0.001 * torque * torque;
            let rod = self.rigs.body(self.rigs.rig(i).rod[0]);
            let (theta, theta_dot) = (rod.rotation().angle(), rod.angvel());
            let physics_failure = self.failed[i] || !theta.is_finite() || !theta_dot.is_finite();
            if !physics_failure {
                // Gymnasium's speed limit, applied to the body so the next step starts from it.
                let clipped = theta_dot.clamp(-MAX_SPEED, MAX_SPEED);
                if clipped != theta_dot {
                    self.place_rod(i, theta, clipped);
                }
                self.episodes[i].state = [wrap_angle(theta), clipped];
            }
            let episode = &mut self.episodes[i];
            episode.steps += 1;
            let [theta, theta_dot] = episode.state;
            write_obs(theta, theta_dot, obs);
            signals.copy_from_slice(&[-cost, cost, theta, theta_dot, torque]);
            *outcome = StepOutcome {
                terminated: physics_failure,
                truncated: episode.steps >= self.config.max_episode_steps,
                physics_failure,
            };
        }
    }
});

/// The torque-limited pendulum. Observation `[cos theta, sin theta, theta_dot]` with theta the
/// rod's angle from upright, counter-clockwise positive.
pub struct Pendulum {
    batch: Pendulums,
}

impl Pendulum {
    /// Puts the rod at angle `theta` from upright turning at `theta_dot` (for tests and scripted
    /// starts) and writes the observation. A non-finite state shows up as a physics failure.
    pub fn set_state(&mut self, theta: f32, theta_dot: f32, obs: &mut [f32]) {
        self.batch.set_state(0, theta, theta_dot, obs);
    }
}

env_from_batch_of_one!(Pendulum, Pendulums, PendulumConfig);

fn write_obs(theta: f32, theta_dot: f32, obs: &mut [f32]) {
    let (sin, cos) = theta.sin_cos();
    obs.copy_from_slice(&[cos, sin, theta_dot]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::rigs::test_support::{check_older_snapshot_restores, whole_world_snapshot};

    #[test]
    fn a_whole_world_snapshot_of_before_2026_12_07_restores_exactly() {
        check_older_snapshot_restores(
            |len| Pendulums::new(PendulumConfig::default(), len).unwrap(),
            |batch| whole_world_snapshot("pendulum", &batch.rigs, &batch.episodes[0]),
        );
    }
}
