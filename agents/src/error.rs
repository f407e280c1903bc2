//! The one error type of the agents crate: every variant renders as a single line that names
//! the problem.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid config: {key}: {message}")]
    Config { key: String, message: String },
    #[error("env: {0}")]
    Env(#[from] carrot_envs::EnvError),
    #[error("reward: {0}")]
    Reward(#[from] carrot_rewards::RewardError),
    #[error("tensor error: {0}")]
    Tensor(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("no checkpoint in {0} (train the run first, or check the path)")]
    MissingCheckpoint(PathBuf),
    #[error("iteration {iteration}: {what} is not finite; training stopped, the last good checkpoint is kept")]
    NonFinite { iteration: usize, what: String },
    #[error("device: {0}")]
    Device(String),
    /// An error of an outer loop driving the trainer through an iteration hook.
    #[error("outer loop: {0}")]
    Outer(String),
}

impl From<candle_core::Error> for AgentError {
    fn from(e: candle_core::Error) -> Self {
        // candle errors can span several lines (backtraces); keep the first.
        let text = e.to_string();
        AgentError::Tensor(text.lines().next().unwrap_or("unknown").to_string())
    }
}

impl AgentError {
    pub fn config(key: &str, message: impl Into<String>) -> Self {
        AgentError::Config {
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        AgentError::Io {
            path: path.into(),
            message: e.to_string(),
        }
    }
}

pub type Result<T, E = AgentError> = std::result::Result<T, E>;
