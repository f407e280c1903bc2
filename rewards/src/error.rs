//! The rewards' error type: one-line messages naming the reward and the signal or key at fault.

/// Errors raised while building or evaluating a reward, each a one-line message.
#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    #[error("reward '{reward}': {source}")]
    MissingSignal {
        reward: String,
        #[source]
        source: carrot_envs::EnvError,
    },
    #[error("reward '{reward}': env '{env}' declares no classic reward signal; name one with [reward] id = \"signal\", signal = \"...\"")]
    NoDefaultReward { reward: String, env: String },
    #[error("reward '{reward}': {message}")]
    Invalid { reward: String, message: String },
    #[error("reward '{reward}': tensor error: {source}")]
    Tensor {
        reward: String,
        #[source]
        source: candle_core::Error,
    },
}
