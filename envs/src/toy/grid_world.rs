//! BARFI's GridWorld as a discrete grid: the agent starts in the bottom-left cell and must
//! reach the goal in the top-right one. Moves slip to a random direction with a small
//! probability (BARFI's 10%), so seeds matter. The goal is the sparse primary signal; two
//! auxiliary signals are emitted for reward-design studies: the distance to the goal (a helpful
//! heuristic) and a distractor flag for the centre cells (a bonus there is a trap: collected
//! every step, it outweighs the goal).

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::{env_rng, Env, EnvError, EnvRng, SignalSpec, Space, StepOutcome};

/// Grid-world settings (`[env] id = "grid_world"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GridWorldConfig {
    /// Cells per side (3..=64). The goal is the far corner, the distractor the centre cell (or
    /// the centre 2 x 2 block for an even size).
    pub size: u32,
    /// Time limit in steps (truncation).
    pub max_episode_steps: u32,
    /// Probability that a move goes in a uniformly random direction instead.
    pub slip: f32,
}

impl Default for GridWorldConfig {
    fn default() -> Self {
        GridWorldConfig {
            size: 5,
            max_episode_steps: 50,
            slip: 0.1,
        }
    }
}

/// Moves `(dx, dy)` of the actions `up, right, down, left` (BARFI's order).
const MOVES: [(i32, i32); 4] = [(0, 1), (1, 0), (0, -1), (-1, 0)];

/// The grid world. Observation `[x, y]`: the agent's column and row scaled to [0, 1].
pub struct GridWorld {
    config: GridWorldConfig,
    rng: EnvRng,
    steps: u32,
    cell: (i32, i32),
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
}

impl GridWorld {
    pub fn new(config: GridWorldConfig) -> Result<Self, EnvError> {
        let invalid = |message: &str| EnvError::InvalidConfig {
            env: "grid_world".into(),
            message: message.into(),
        };
        if !(3..=64).contains(&config.size) {
            return Err(invalid("size must be in 3..=64"));
        }
        if config.max_episode_steps == 0 {
            return Err(invalid("max_episode_steps must be at least 1"));
        }
        if !(0.0..=1.0).contains(&config.slip) {
            return Err(invalid("slip must be a probability in [0, 1]"));
        }
        let signal_spec = SignalSpec::new(
            "grid_world",
            &[
                (
                    "goal_reached",
                    "1",
                    "1 on the step that enters the goal cell (the episode ends), else 0",
                ),
                (
                    "goal_distance",
                    "cells",
                    "Manhattan distance from the agent to the goal after the step",
                ),
                (
                    "distractor",
                    "1",
                    "1 while the agent is in the centre (distractor) cells after the step",
                ),
                ("x", "cells", "agent column after the step, 0 at the start"),
                ("y", "cells", "agent row after the step, 0 at the start"),
            ],
        )
        .with_default_reward("goal_reached");
        Ok(GridWorld {
            config,
            rng: env_rng(0),
            steps: 0,
            cell: (0, 0),
            observation_space: Space::boxed(&[("x", 0.0, 1.0), ("y", 0.0, 1.0)]),
            action_space: Space::discrete(&["up", "right", "down", "left"]),
            signal_spec,
        })
    }

    pub fn config(&self) -> &GridWorldConfig {
        &self.config
    }

    /// The agent's cell `(column, row)`.
    pub fn cell(&self) -> (i32, i32) {
        self.cell
    }

    fn last(&self) -> i32 {
        self.config.size as i32 - 1
    }

    /// Whether `cell` is one of the centre cells.
    pub fn is_distractor(&self, cell: (i32, i32)) -> bool {
        let centred = |c: i32| (2 * c - self.last()).abs() <= 1;
        centred(cell.0) && centred(cell.1)
    }

    fn write_obs(&self, obs: &mut [f32]) {
        let last = self.last() as f32;
        obs.copy_from_slice(&[self.cell.0 as f32 / last, self.cell.1 as f32 / last]);
    }
}

/// A grid world's whole state, for snapshots.
#[derive(Serialize, Deserialize)]
struct GridState {
    rng: EnvRng,
    steps: u32,
    cell: (i32, i32),
}

impl Env for GridWorld {
    fn name(&self) -> &'static str {
        "grid_world"
    }

    fn snapshot(&self) -> Result<crate::EnvSnapshot, EnvError> {
        let state = GridState {
            rng: self.rng.clone(),
            steps: self.steps,
            cell: self.cell,
        };
        crate::snapshot::encode("grid_world", &state)
    }

    fn restore(&mut self, snapshot: &crate::EnvSnapshot) -> Result<(), EnvError> {
        let s: GridState = crate::snapshot::decode("grid_world", snapshot)?;
        (self.rng, self.steps, self.cell) = (s.rng, s.steps, s.cell);
        Ok(())
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
        if let Some(seed) = seed {
            self.rng = env_rng(seed);
        }
        self.steps = 0;
        self.cell = (0, 0);
        self.write_obs(obs);
    }

    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        // One draw per step whether or not it slips, so the stream never depends on actions.
        let slip_draw: f32 = self.rng.random();
        let random_move = self.rng.random_range(0..MOVES.len());
        let chosen = if slip_draw < self.config.slip {
            random_move
        } else {
            (action[0] as usize).min(MOVES.len() - 1)
        };
        let (dx, dy) = MOVES[chosen];
        let last = self.last();
        self.cell = (
            (self.cell.0 + dx).clamp(0, last),
            (self.cell.1 + dy).clamp(0, last),
        );
        self.steps += 1;
        let goal = self.cell == (last, last);
        let distance = (last - self.cell.0) + (last - self.cell.1);
        self.write_obs(obs);
        signals.copy_from_slice(&[
            if goal { 1.0 } else { 0.0 },
            distance as f32,
            if self.is_distractor(self.cell) {
                1.0
            } else {
                0.0
            },
            self.cell.0 as f32,
            self.cell.1 as f32,
        ]);
        StepOutcome {
            terminated: goal,
            truncated: self.steps >= self.config.max_episode_steps,
            physics_failure: false,
        }
    }
}
