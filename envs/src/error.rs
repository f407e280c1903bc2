//! The envs' error type: one-line messages naming the env, signal or config key at fault.

/// Everything that can go wrong when building or stepping an env, each a one-line message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvError {
    #[error("env {env_index}: action dimension {dim} is {value}, actions must be finite")]
    NonFiniteAction {
        env_index: usize,
        dim: usize,
        value: f32,
    },
    #[error("env {env_index}: action has {got} values, the action space has {expected}")]
    ActionShape {
        env_index: usize,
        expected: usize,
        got: usize,
    },
    #[error("env '{env}' has no signal '{name}' (it emits: {available})")]
    UnknownSignal {
        env: String,
        name: String,
        available: String,
    },
    #[error("invalid config for env '{env}': {message}")]
    InvalidConfig { env: String, message: String },
    #[error("buffer shape mismatch: {0}")]
    BufferShape(String),
    #[error("env '{env}' does not support snapshots (implement Env::snapshot and Env::restore)")]
    SnapshotUnsupported { env: String },
    #[error("env '{env}': cannot restore the snapshot: {message}")]
    Snapshot { env: String, message: String },
}
