//! A downstream crate's own env and reward, trained by carrot without forking it.
//!
//! - [`PointGoal`] (`[env] id = "point_goal"`): a point mass pushed by a 2-D force towards a
//!   goal on a plane. Like every carrot env it computes no reward: each step emits signals
//!   (`progress`, `distance`, `effort`, `reached`, ...).
//! - [`GoalReach`] (`[reward] id = "goal_reach"`): a weighted sum of those signals that also
//!   ends the episode when the goal is reached (a reward-driven termination, cause `reached`).
//! - [`register`] adds both to carrot's registries; the crate's binary then runs carrot's
//!   whole command line with them (`train`, `eval`, `sweep`, `report`, `envs`, ...), so runs
//!   get the same run directory, metrics, checkpoints and resume as built-in envs.

mod env;
mod reward;

pub use env::{PointGoal, PointGoalConfig};
pub use reward::{GoalReach, GoalReachConfig};

/// The config id of [`PointGoal`].
pub const ENV_ID: &str = "point_goal";
/// The config id of [`GoalReach`].
pub const REWARD_ID: &str = "goal_reach";

/// Registers the env and the reward with carrot. Call it before any config is parsed.
pub fn register() -> Result<(), String> {
    carrot_envs::register_env(ENV_ID, env::build).map_err(|e| e.to_string())?;
    carrot_rewards::register_reward(REWARD_ID, reward::build).map_err(|e| e.to_string())
}

/// Parses a registry table into a config struct that rejects unknown keys, with a one-line
/// message naming the key.
fn parse_table<T: serde::de::DeserializeOwned>(table: &toml::Table) -> Result<T, String> {
    table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())
}
