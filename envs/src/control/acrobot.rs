//! Acrobot as a rapier2d world: two links in a chain of revolute joints hanging from a fixed
//! anchor, with a torque only at the joint between the links. Constants are Gymnasium's
//! Acrobot-v1: links 1 m long and 1 kg, centers of mass at 0.5 m, moments of inertia 1 kg m^2
//! about the centers of mass, g = 9.8, dt 0.2 s, torques {-1, 0, +1} N m, joint speeds capped at
//! 4 pi and 9 pi rad/s, goal when the tip rises 1 m above the anchor, 500-step limit. In a
//! VecEnv, `envs_per_world` acrobots share a rapier world ([`Acrobots`]).

use rapier2d::prelude::*;
use serde::{Deserialize, Serialize};

use super::rigs::{
    env_from_batch_of_one, grouped_config, rig_batch, uniform_start, Episode, Rig, SharedRigs,
};
use super::world::{massive_body, wrap_angle, PhysicsWorld};
use crate::{EnvBatch, EnvError, EnvSnapshot, SignalSpec, Space, StepOutcome, VecEnv};

const GRAVITY: f32 = 9.8;
const LINK_LENGTH: f32 = 1.0;
const LINK_MASS: f32 = 1.0;
const LINK_COM: f32 = 0.5;
const LINK_INERTIA: f32 = 1.0;
const DT: f32 = 0.2;
const MAX_VEL_1: f32 = 4.0 * std::f32::consts::PI;
const MAX_VEL_2: f32 = 9.0 * std::f32::consts::PI;
const TORQUES: [f32; 3] = [-1.0, 0.0, 1.0];
const INIT_RANGE: f32 = 0.1;

/// Acrobot settings (`[env] id = "acrobot"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcrobotConfig {
    /// Time limit in steps (truncation).
    pub max_episode_steps: u32,
    /// Rapier solver substeps per 0.2 s step. Gymnasium integrates with RK4 over the whole
    /// step; 8 substeps of 25 ms track it closely.
    pub solver_substeps: usize,
    /// Envs of a VecEnv that share one rapier world (see [`Acrobots`]): the same results bit
    /// for bit whatever this is, rapier's per-step overhead paid once per world.
    pub envs_per_world: usize,
}

impl Default for AcrobotConfig {
    fn default() -> Self {
        AcrobotConfig {
            max_episode_steps: 500,
            solver_substeps: 8,
            envs_per_world: 64,
        }
    }
}

grouped_config!("acrobot", AcrobotConfig, Acrobots);

/// Two links hanging from their own fixed anchor: shoulder and elbow joints.
#[derive(Clone, Copy)]
struct AcrobotRig {
    links: [RigidBodyHandle; 2],
    joints: [ImpulseJointHandle; 2],
}

impl Rig for AcrobotRig {
    fn add(world: &mut PhysicsWorld) -> Self {
        let anchor = world.bodies.insert(RigidBodyBuilder::fixed());
        // Link frames: origin at the center of mass, the link pointing along -y at angle 0.
        let link1 = world.bodies.insert(massive_body(LINK_MASS, LINK_INERTIA));
        let link2 = world.bodies.insert(massive_body(LINK_MASS, LINK_INERTIA));
        let shoulder = RevoluteJointBuilder::new()
            .local_anchor1(Vector::ZERO)
            .local_anchor2(Vector::new(0.0, LINK_COM))
            .contacts_enabled(false);
        let elbow = RevoluteJointBuilder::new()
            .local_anchor1(Vector::new(0.0, LINK_COM - LINK_LENGTH))
            .local_anchor2(Vector::new(0.0, LINK_COM))
            .contacts_enabled(false);
        let shoulder = world.impulse_joints.insert(anchor, link1, shoulder, true);
        let elbow = world.impulse_joints.insert(link1, link2, elbow, true);
        AcrobotRig {
            links: [link1, link2],
            joints: [shoulder, elbow],
        }
    }

    fn bodies(&self) -> &[RigidBodyHandle] {
        &self.links
    }

    fn joints(&self) -> &[ImpulseJointHandle] {
        &self.joints
    }
}

/// `len` acrobot envs (of one config) in one rapier world, stepped together. Env `i` gives
/// what a lone [`Acrobot`] gives, bit for bit.
pub struct Acrobots {
    config: AcrobotConfig,
    rigs: SharedRigs<AcrobotRig>,
    episodes: Vec<Episode<4>>,
    failed: Vec<bool>,
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
}

impl Acrobots {
    /// `len` envs (at least 1) after validating `config`.
    pub fn new(config: AcrobotConfig, len: usize) -> Result<Self, EnvError> {
        config.check(len)?;
        let world = PhysicsWorld::new(GRAVITY, DT, config.solver_substeps).joints_only();
        let (observation_space, action_space) = spaces();
        Ok(Acrobots {
            rigs: SharedRigs::new(world, len),
            episodes: vec![Episode::default(); len],
            failed: vec![false; len],
            config,
            observation_space,
            action_space,
            signal_spec: signal_spec(),
        })
    }

    pub fn config(&self) -> &AcrobotConfig {
        &self.config
    }

    /// Puts env `i`'s links in state `[theta1, theta2, theta1_dot, theta2_dot]` and writes the
    /// observation. A non-finite state shows up as a physics failure at the next step.
    pub fn set_state(&mut self, i: usize, state: [f32; 4], obs: &mut [f32]) {
        self.rigs.enable(i);
        self.place_links(i, state);
        if state.iter().all(|v| v.is_finite()) {
            self.episodes[i].state = [
                wrap_angle(state[0]),
                wrap_angle(state[1]),
                state[2],
                state[3],
            ];
        }
        write_obs(&state, obs);
    }

    /// The physical floor of a step, for `carrot bench envs`: small constant torques on every
    /// link (any rapier env must touch its bodies each step, which rapier tracks as a
    /// modification) and the world step; no state is read, checked or written.
    pub fn step_bare_world(&mut self) {
        for i in 0..self.rigs.len() {
            self.apply_torque(i, 1e-3);
        }
        self.rigs.world_mut().step();
    }

    /// The motor at env `i`'s elbow: it turns link 2 and reacts on link 1.
    fn apply_torque(&mut self, i: usize, torque: f32) {
        let [link1, link2] = self.rigs.rig(i).links;
        for (link, torque) in [(link1, -torque), (link2, torque)] {
            let body = self.rigs.body_mut(link);
            body.reset_torques(false);
            body.add_torque(torque, true);
        }
    }

    /// Sets env `i`'s bodies' poses and velocities from joint coordinates.
    fn place_links(&mut self, i: usize, [theta1, theta2, omega1, omega2]: [f32; 4]) {
        let down = |angle: f32| {
            let (sin, cos) = angle.sin_cos();
            Vector::new(sin, -cos)
        };
        // Velocity of point `r` (relative to a point moving at `base`) turning at `omega`.
        let turn =
            |base: Vector, omega: f32, r: Vector| base + Vector::new(-omega * r.y, omega * r.x);
        let abs2 = theta1 + theta2;
        let omega_abs2 = omega1 + omega2;
        let com1 = down(theta1) * LINK_COM;
        let elbow = down(theta1) * LINK_LENGTH;
        let com2 = elbow + down(abs2) * LINK_COM;
        let vel1 = turn(Vector::ZERO, omega1, com1);
        let elbow_vel = turn(Vector::ZERO, omega1, elbow);
        let vel2 = turn(elbow_vel, omega_abs2, com2 - elbow);
        let [link1, link2] = self.rigs.rig(i).links;
        let world = self.rigs.world_mut();
        world.set_body_state(link1, com1, theta1, vel1, omega1);
        world.set_body_state(link2, com2, abs2, vel2, omega_abs2);
    }

    fn read_state(&self, i: usize) -> [f32; 4] {
        let [link1, link2] = self.rigs.rig(i).links;
        let (link1, link2) = (self.rigs.body(link1), self.rigs.body(link2));
        let theta1 = link1.rotation().angle();
        let theta2 = wrap_angle(link2.rotation().angle() - theta1);
        [
            theta1,
            theta2,
            link1.angvel(),
            link2.angvel() - link1.angvel(),
        ]
    }
}

rig_batch!("acrobot", Acrobots, {
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
        let torque = |action: f32| TORQUES[(action as usize).min(TORQUES.len() - 1)];
        for (i, &action) in actions.iter().enumerate() {
            self.apply_torque(i, torque(action));
        }
        self.rigs.step(&mut self.failed);
        let s = self.signal_spec.len();
        for (i, ((obs, signals), outcome)) in obs
            .chunks_mut(6)
            .zip(signals.chunks_mut(s))
            .zip(outcomes.iter_mut())
            .enumerate()
        {
            let state = self.read_state(i);
            let physics_failure = self.failed[i] || !state.iter().all(|v| v.is_finite());
            if !physics_failure {
                let clipped = [
                    state[0],
                    state[1],
                    state[2].clamp(-MAX_VEL_1, MAX_VEL_1),
                    state[3].clamp(-MAX_VEL_2, MAX_VEL_2),
                ];
                // Gymnasium's speed caps, applied to the bodies so the next step starts from
                // them.
                if clipped != state {
                    self.place_links(i, clipped);
                }
                self.episodes[i].state = clipped;
            }
            let episode = &mut self.episodes[i];
            episode.steps += 1;
            let [theta1, theta2, omega1, omega2] = episode.state;
            let height = tip_height(theta1, theta2);
            let goal = !physics_failure && height > 1.0;
            write_obs(&episode.state, obs);
            let reward = if goal { 0.0 } else { -1.0 };
            let torque = torque(actions[i]);
            signals.copy_from_slice(&[reward, height, theta1, theta2, omega1, omega2, torque]);
            *outcome = StepOutcome {
                terminated: goal || physics_failure,
                truncated: episode.steps >= self.config.max_episode_steps,
                physics_failure,
            };
        }
    }
});

/// The two-link swing-up. State `[theta1, theta2, theta1_dot, theta2_dot]`: theta1 is the first
/// link's angle from hanging straight down, theta2 the second link's angle relative to the
/// first, both counter-clockwise positive. Observation
/// `[cos theta1, sin theta1, cos theta2, sin theta2, theta1_dot, theta2_dot]`.
pub struct Acrobot {
    batch: Acrobots,
}

impl Acrobot {
    /// Puts the links in state `[theta1, theta2, theta1_dot, theta2_dot]` (for tests and
    /// scripted starts) and writes the observation. A non-finite state shows up as a physics
    /// failure at the next step.
    pub fn set_state(&mut self, state: [f32; 4], obs: &mut [f32]) {
        self.batch.set_state(0, state, obs);
    }
}

env_from_batch_of_one!(Acrobot, Acrobots, AcrobotConfig);

fn write_obs(state: &[f32; 4], obs: &mut [f32]) {
    let (s1, c1) = state[0].sin_cos();
    let (s2, c2) = state[1].sin_cos();
    obs.copy_from_slice(&[c1, s1, c2, s2, state[2], state[3]]);
}

fn tip_height(theta1: f32, theta2: f32) -> f32 {
    -LINK_LENGTH * (theta1.cos() + (theta1 + theta2).cos())
}

/// The observation and action spaces.
fn spaces() -> (Space, Space) {
    let observation_space = Space::boxed(&[
        ("cos_theta1", -1.0, 1.0),
        ("sin_theta1", -1.0, 1.0),
        ("cos_theta2", -1.0, 1.0),
        ("sin_theta2", -1.0, 1.0),
        ("theta1_dot", -MAX_VEL_1, MAX_VEL_1),
        ("theta2_dot", -MAX_VEL_2, MAX_VEL_2),
    ]);
    let action_space = Space::discrete(&["torque_minus_1", "torque_0", "torque_plus_1"]);
    (observation_space, action_space)
}

/// The signals the task emits, its classic reward the default.
fn signal_spec() -> SignalSpec {
    SignalSpec::new(
        "acrobot",
        &[
            (
                "reward",
                "1",
                "Gymnasium's reward: -1 per step, 0 on the step that reaches the goal",
            ),
            (
                "tip_height",
                "m",
                "height of the second link's tip above the anchor (goal: > 1)",
            ),
            (
                "theta1",
                "rad",
                "first link's angle from hanging down, in [-pi, pi)",
            ),
            (
                "theta2",
                "rad",
                "second link's angle relative to the first, in [-pi, pi)",
            ),
            ("theta1_dot", "rad/s", "first joint's angular velocity"),
            ("theta2_dot", "rad/s", "second joint's angular velocity"),
            (
                "torque",
                "N m",
                "torque applied at the second joint during the step",
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
            |len| Acrobots::new(AcrobotConfig::default(), len).unwrap(),
            |batch| whole_world_snapshot("acrobot", &batch.rigs, &batch.episodes[0]),
        );
    }
}
