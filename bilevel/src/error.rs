//! The bilevel crate's error: one line naming the problem.

#[derive(Debug, thiserror::Error)]
pub enum BilevelError {
    #[error("invalid config: {key}: {message}")]
    Config { key: String, message: String },
    #[error(transparent)]
    Agent(#[from] carrot_agents::AgentError),
    #[error("tensor error: {0}")]
    Tensor(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<candle_core::Error> for BilevelError {
    fn from(e: candle_core::Error) -> Self {
        let text = e.to_string();
        BilevelError::Tensor(text.lines().next().unwrap_or("unknown").to_string())
    }
}

impl BilevelError {
    pub fn config(key: &str, message: impl Into<String>) -> Self {
        BilevelError::Config {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = BilevelError> = std::result::Result<T, E>;
