//! Mountain car as a rapier2d world: a 1 kg car (a frictionless ball that cannot spin, so it
//! slides like Gymnasium's point car) on a fixed polyline track of height `0.1 sin(3x)`,
//! stopped on the left by a wall at x = -1.2, with an engine that pushes along the track. The
//! engine is too weak to climb the right hill directly: the car must swing back and forth to
//! build up energy, as in Gymnasium's MountainCar-v0 (discrete, -1 per step, 200 steps) and
//! MountainCarContinuous-v0 (100 at the goal minus 0.1 action^2 per step, 999 steps).
//!
//! Gymnasium's update (`v += 0.001 a - 0.0025 cos(3x)`) is a small-slope law; the shallow
//! track (slopes up to 0.3) keeps real gravity (9.8 m/s^2) close to it, and the step, forces
//! and speed cap are scaled so that the valley swing and the engine-to-gravity ratios match
//! Gymnasium's. Released at rest, the car swings back to the same height on the other side,
//! swing after swing, within a few mm (one-sided polyline, no contact recycling, one solver
//! substep: the settings under which rapier's contact neither drains nor pumps energy here).

use rand::RngExt;
use rapier2d::prelude::*;
use serde::{Deserialize, Serialize};

use super::world::{check_limits, control_snapshot, PhysicsWorld};
use crate::{env_rng, Env, EnvError, EnvRng, SignalSpec, Space, StepOutcome};

const GRAVITY: f32 = 9.8;
const HILL_AMPLITUDE: f32 = 0.1;
const MIN_POSITION: f32 = -1.2;
const MAX_POSITION: f32 = 0.6;
const GOAL_POSITION: f32 = 0.5;
const TRACK_START: f32 = -1.6;
const TRACK_END: f32 = 1.0;
const TRACK_CELLS: usize = 260;
const CAR_RADIUS: f32 = 0.05;
const CAR_MASS: f32 = 1.0;
/// Control step: the car's small oscillation in the valley lasts ~72 steps, as in Gymnasium.
const DT: f32 = 0.03;
/// Speed limit: Gymnasium's 0.07 per step, 1.2x the speed needed to reach the goal from rest.
const MAX_SPEED: f32 = 2.4;
/// Engine force of the discrete pushes and at full continuous throttle: 0.4x and 0.6x the
/// steepest pull of gravity along the track (2.94 N on the 1 kg car), Gymnasium's ratios
/// (0.001 and 0.0015 against 0.0025): the discrete push cannot climb out of the valley in one
/// go, and full throttle only manages it from a run-up (as in Gymnasium, where it is marginal).
const DISCRETE_FORCE: f32 = 1.2;
const CONTINUOUS_FORCE: f32 = 1.8;

/// Track height at `x`.
fn track_height(x: f32) -> f32 {
    HILL_AMPLITUDE * (3.0 * x).sin()
}

/// The track polyline, built once and shared by every env (rapier shapes are reference
/// counted), so that many envs do not each carry a copy through the cache.
fn track_shape() -> SharedShape {
    static TRACK: std::sync::OnceLock<SharedShape> = std::sync::OnceLock::new();
    TRACK
        .get_or_init(|| {
            let width = TRACK_END - TRACK_START;
            // Right to left: an oriented polyline is solid on the right of its direction, here
            // below the track. One-sided matters: a two-sided polyline or a heightfield makes
            // the car snag on every internal vertex, which acts like strong friction.
            let vertices = (0..=TRACK_CELLS)
                .rev()
                .map(|i| {
                    let x = TRACK_START + width * i as f32 / TRACK_CELLS as f32;
                    Vector::new(x, track_height(x))
                })
                .collect();
            SharedShape::new(Polyline::with_flags(
                vertices,
                None,
                PolylineFlags::ORIENTED,
            ))
        })
        .clone()
}

fn track_slope(x: f32) -> f32 {
    3.0 * HILL_AMPLITUDE * (3.0 * x).cos()
}

/// Mountain car settings (`[env] id = "mountain_car"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MountainCarConfig {
    /// One continuous throttle in [-1, 1] (MountainCarContinuous) instead of three pushes.
    pub continuous: bool,
    /// Time limit in steps; Gymnasium's (200 discrete, 999 continuous) when absent.
    pub max_episode_steps: Option<u32>,
    /// Rapier solver substeps per 0.03 s step (default 1: the swing height holds within a few
    /// mm over many swings; more substeps let the contact pump a little energy in).
    pub solver_substeps: Option<usize>,
}

impl MountainCarConfig {
    pub fn episode_limit(&self) -> u32 {
        self.max_episode_steps
            .unwrap_or(if self.continuous { 999 } else { 200 })
    }

    fn substeps(&self) -> usize {
        self.solver_substeps.unwrap_or(1)
    }
}

/// The mountain car task. Observation `[position, velocity]`: the car's x (m) and x-velocity
/// (m/s); the goal is x >= 0.5 while moving right.
pub struct MountainCar {
    config: MountainCarConfig,
    world: PhysicsWorld,
    car: RigidBodyHandle,
    rng: EnvRng,
    steps: u32,
    /// The last finite `[position, velocity]`, reported again if the physics blows up.
    state: [f32; 2],
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
}

impl MountainCar {
    pub fn new(config: MountainCarConfig) -> Result<Self, EnvError> {
        check_limits("mountain_car", config.episode_limit(), config.substeps())?;
        let (world, car) = build_world(&config);
        let (observation_space, action_space) = spaces(config.continuous);
        let signal_spec = signal_spec(config.continuous);
        Ok(MountainCar {
            config,
            world,
            car,
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
        let car = &mut self.world.bodies[self.car];
        car.reset_forces(false);
        car.add_force(Vector::new(1e-3, 0.0), true);
        self.world.step();
    }

    pub fn config(&self) -> &MountainCarConfig {
        &self.config
    }

    /// Puts the car on the track at `position` moving along it with x-velocity `velocity` (for
    /// tests and scripted starts) and writes the observation.
    pub fn set_state(&mut self, position: f32, velocity: f32, obs: &mut [f32]) {
        self.world.enable_all();
        let slope = track_slope(position);
        let stretch = (1.0 + slope * slope).sqrt();
        // Resting on the tangent line: the center sits one radius along the normal.
        let center = Vector::new(position, track_height(position) + CAR_RADIUS * stretch);
        let linvel = Vector::new(velocity, velocity * slope);
        self.world
            .set_body_state(self.car, center, 0.0, linvel, 0.0);
        if position.is_finite() && velocity.is_finite() {
            self.state = [position, velocity];
        }
        obs.copy_from_slice(&[position, velocity]);
    }
}

/// The rapier world of the task and its bodies.
fn build_world(config: &MountainCarConfig) -> (PhysicsWorld, RigidBodyHandle) {
    // No joints, so the thread's shared pipeline gives the same bits, and many cars' worlds
    // keep one pipeline's buffers in cache instead of one each.
    let mut world = PhysicsWorld::new(GRAVITY, DT, config.substeps()).with_thread_pipeline();
    // Recycled contacts may be a few cm stale, which on a curved track pumps energy in.
    world.params.contact_recycling = false;
    let track = world.bodies.insert(RigidBodyBuilder::fixed());
    let ground = ColliderBuilder::new(track_shape())
        .friction(0.0)
        .restitution(0.0);
    world
        .colliders
        .insert_with_parent(ground, track, &mut world.bodies);
    let wall_half_width = 0.1;
    let wall = ColliderBuilder::cuboid(wall_half_width, 2.0)
        .translation(Vector::new(
            MIN_POSITION - CAR_RADIUS - wall_half_width,
            0.0,
        ))
        .friction(0.0)
        .restitution(0.0);
    world
        .colliders
        .insert_with_parent(wall, track, &mut world.bodies);
    let car = world.bodies.insert(
        RigidBodyBuilder::dynamic()
            .lock_rotations()
            .can_sleep(false),
    );
    let body = ColliderBuilder::ball(CAR_RADIUS)
        .mass(CAR_MASS)
        .friction(0.0)
        .restitution(0.0);
    world
        .colliders
        .insert_with_parent(body, car, &mut world.bodies);
    (world, car)
}

/// The observation and action spaces.
fn spaces(continuous: bool) -> (Space, Space) {
    let observation_space = Space::boxed(&[
        ("position", MIN_POSITION, MAX_POSITION),
        ("velocity", -MAX_SPEED, MAX_SPEED),
    ]);
    let action_space = if continuous {
        Space::boxed(&[("throttle", -1.0, 1.0)])
    } else {
        Space::discrete(&["push_left", "no_push", "push_right"])
    };
    (observation_space, action_space)
}

/// The signals the task emits, its classic reward the default.
fn signal_spec(continuous: bool) -> SignalSpec {
    let reward_meaning = if continuous {
        "Gymnasium's reward: 100 on reaching the goal, minus 0.1 throttle^2 every step"
    } else {
        "Gymnasium's reward: -1 per step"
    };
    SignalSpec::new(
        "mountain_car",
        &[
            ("reward", "1", reward_meaning),
            ("position", "m", "car x after the step (goal at 0.5)"),
            ("velocity", "m/s", "car x-velocity after the step"),
            (
                "height",
                "m",
                "car height on the track, 0.1 sin(3 position)",
            ),
            (
                "goal_reached",
                "1",
                "1 on the step that reaches the goal, else 0",
            ),
            (
                "effort",
                "1",
                "squared throttle in [-1, 1] (a push counts 1)",
            ),
            ("force", "N", "engine force along the track during the step"),
        ],
    )
    .with_default_reward("reward")
}

impl Env for MountainCar {
    spec_accessors!("mountain_car");
    control_snapshot!("mountain_car");

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let Some(seed) = seed {
            self.rng = env_rng(seed);
            // A fresh world: the narrow phase keeps the car's contact with the track (its
            // warm-start impulses) across a teleport, so a reseeded car would not replay what a
            // new one plays. An unseeded reset (autoreset) keeps the world, as it always did, so
            // runs keep their trajectories.
            let (world, car) = build_world(&self.config);
            self.world = world;
            self.car = car;
        }
        let position = self.rng.random_range(-0.6f32..-0.4);
        self.steps = 0;
        self.set_state(position, 0.0, obs);
    }

    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        let (throttle, force) = if self.config.continuous {
            (action[0], action[0] * CONTINUOUS_FORCE)
        } else {
            let push = action[0] - 1.0;
            (push, push * DISCRETE_FORCE)
        };
        let car = &mut self.world.bodies[self.car];
        let x = car.translation().x;
        let slope = track_slope(x);
        let along = Vector::new(1.0, slope) / (1.0 + slope * slope).sqrt();
        car.reset_forces(false);
        car.add_force(along * force, true);
        let stable = self.world.step();
        let car = &self.world.bodies[self.car];
        let mut linvel = car.linvel();
        let position = car.translation().x;
        let physics_failure = !stable || !position.is_finite() || !linvel.is_finite();
        if !physics_failure {
            let speed = linvel.length();
            if speed > MAX_SPEED {
                linvel *= MAX_SPEED / speed;
                self.world.bodies[self.car].set_linvel(linvel, true);
            }
            // Contact slop can leave the car a hair past the wall.
            self.state = [position.clamp(MIN_POSITION, MAX_POSITION), linvel.x];
        }
        self.steps += 1;
        let [position, velocity] = self.state;
        let goal = !physics_failure && position >= GOAL_POSITION && velocity >= 0.0;
        let effort = throttle * throttle;
        let reward = if self.config.continuous {
            let bonus = if goal { 100.0 } else { 0.0 };
            bonus - 0.1 * effort
        } else {
            -1.0
        };
        obs.copy_from_slice(&self.state);
        signals.copy_from_slice(&[
            reward,
            position,
            velocity,
            track_height(position),
            if goal { 1.0 } else { 0.0 },
            effort,
            force,
        ]);
        StepOutcome {
            terminated: goal || physics_failure,
            truncated: self.steps >= self.config.episode_limit(),
            physics_failure,
        }
    }
}
