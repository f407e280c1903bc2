//! `point_goal`: a point mass on a square arena, pushed by a bounded 2-D force, with a goal
//! drawn at each reset. Explicit state, seeded by `reset(Some(seed))`, truncated at a time
//! limit; reaching the goal is a signal, and the reward decides whether it ends the episode.

use carrot_envs::{env_rng, Env, EnvError, EnvRng, EnvSnapshot, SignalSpec, Space, StepOutcome};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::{parse_table, ENV_ID};

/// `[env] id = "point_goal"` settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PointGoalConfig {
    /// Half the side of the square arena (m); walls stop the mass.
    pub arena: f32,
    /// Acceleration at full force (m/s²).
    pub max_accel: f32,
    /// Velocity damping per second.
    pub damping: f32,
    /// Control step (s).
    pub dt: f32,
    /// Distance at which the goal counts as reached (m).
    pub goal_radius: f32,
    /// Time limit in steps (truncation).
    pub max_episode_steps: u32,
}

impl Default for PointGoalConfig {
    fn default() -> Self {
        PointGoalConfig {
            arena: 1.0,
            max_accel: 4.0,
            damping: 2.0,
            dt: 0.05,
            goal_radius: 0.1,
            max_episode_steps: 100,
        }
    }
}

/// Signals, in order: what a reward can be built from.
const SIGNALS: [(&str, &str, &str); 5] = [
    (
        "progress",
        "m",
        "decrease of the distance to the goal this step",
    ),
    ("distance", "m", "distance to the goal after the step"),
    ("speed", "m/s", "speed after the step"),
    ("effort", "1", "squared norm of the applied force (action)"),
    ("reached", "1", "1 when the goal is within goal_radius"),
];

/// The env. Observation: position, velocity, and the goal relative to the mass.
pub struct PointGoal {
    config: PointGoalConfig,
    state: State,
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
}

/// Everything that changes while the env runs: what a checkpoint saves so that a resumed run
/// continues mid-episode exactly.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    rng: EnvRng,
    steps: u32,
    position: [f32; 2],
    velocity: [f32; 2],
    goal: [f32; 2],
}

/// The registry factory: the `[env]` table (without `id`) to an env.
pub(crate) fn build(table: &toml::Table) -> Result<Box<dyn Env>, EnvError> {
    let config = parse_table(table).map_err(|message| EnvError::InvalidConfig {
        env: ENV_ID.into(),
        message,
    })?;
    Ok(Box::new(PointGoal::new(config)?))
}

impl PointGoal {
    pub fn new(config: PointGoalConfig) -> Result<Self, EnvError> {
        let invalid = |message: &str| EnvError::InvalidConfig {
            env: ENV_ID.into(),
            message: message.into(),
        };
        let positive = [
            ("arena", config.arena),
            ("max_accel", config.max_accel),
            ("dt", config.dt),
            ("goal_radius", config.goal_radius),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(invalid(&format!("{key} must be a positive number")));
        }
        if !(config.damping.is_finite() && config.damping >= 0.0) {
            return Err(invalid("damping must be 0 or more"));
        }
        if config.max_episode_steps == 0 {
            return Err(invalid("max_episode_steps must be at least 1"));
        }
        let a = config.arena;
        let v = config.max_accel / config.damping.max(1.0);
        let observation_space = Space::boxed(&[
            ("x", -a, a),
            ("y", -a, a),
            ("vx", -v, v),
            ("vy", -v, v),
            ("goal_dx", -2.0 * a, 2.0 * a),
            ("goal_dy", -2.0 * a, 2.0 * a),
        ]);
        let action_space = Space::boxed(&[("force_x", -1.0, 1.0), ("force_y", -1.0, 1.0)]);
        Ok(PointGoal {
            config,
            state: State {
                rng: env_rng(0),
                steps: 0,
                position: [0.0; 2],
                velocity: [0.0; 2],
                goal: [0.0; 2],
            },
            observation_space,
            action_space,
            signal_spec: SignalSpec::new(ENV_ID, &SIGNALS),
        })
    }

    fn distance(&self) -> f32 {
        let s = &self.state;
        (s.goal[0] - s.position[0]).hypot(s.goal[1] - s.position[1])
    }

    fn observe(&self, obs: &mut [f32]) {
        let s = &self.state;
        obs.copy_from_slice(&[
            s.position[0],
            s.position[1],
            s.velocity[0],
            s.velocity[1],
            s.goal[0] - s.position[0],
            s.goal[1] - s.position[1],
        ]);
    }
}

impl Env for PointGoal {
    fn name(&self) -> &'static str {
        ENV_ID
    }
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }
    fn action_space(&self) -> &Space {
        &self.action_space
    }
    fn signal_spec(&self) -> &SignalSpec {
        &self.signal_spec
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        let s = &mut self.state;
        if let Some(seed) = seed {
            s.rng = env_rng(seed);
        }
        let a = self.config.arena;
        s.position = [s.rng.random_range(-a..a), s.rng.random_range(-a..a)];
        s.goal = [s.rng.random_range(-a..a), s.rng.random_range(-a..a)];
        s.velocity = [0.0; 2];
        s.steps = 0;
        self.observe(obs);
    }

    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        let before = self.distance();
        let (c, s) = (&self.config, &mut self.state);
        let keep = (1.0 - c.damping * c.dt).max(0.0);
        for ((velocity, position), force) in s.velocity.iter_mut().zip(&mut s.position).zip(action)
        {
            let v = *velocity * keep + force * c.max_accel * c.dt;
            let p = *position + v * c.dt;
            // A wall stops the mass along that axis.
            let clamped = p.clamp(-c.arena, c.arena);
            *velocity = if clamped == p { v } else { 0.0 };
            *position = clamped;
        }
        s.steps += 1;
        let (steps, speed) = (s.steps, s.velocity[0].hypot(s.velocity[1]));
        let distance = self.distance();
        signals.copy_from_slice(&[
            before - distance,
            distance,
            speed,
            action[0] * action[0] + action[1] * action[1],
            f32::from(distance < self.config.goal_radius),
        ]);
        self.observe(obs);
        StepOutcome {
            terminated: false,
            truncated: steps >= self.config.max_episode_steps,
            physics_failure: false,
        }
    }

    fn reset_signals(&self, signals: &mut [f32]) {
        signals.iter_mut().for_each(|x| *x = 0.0);
        signals[1] = self.distance();
    }

    fn snapshot(&self) -> Result<EnvSnapshot, EnvError> {
        EnvSnapshot::from_state(ENV_ID, &self.state)
    }

    fn restore(&mut self, snapshot: &EnvSnapshot) -> Result<(), EnvError> {
        self.state = snapshot.to_state(ENV_ID)?;
        Ok(())
    }
}
