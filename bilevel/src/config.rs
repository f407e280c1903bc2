//! The `[outer]` section of a BARFI run: defined in `carrot-agents` as `TrainConfig.outer`
//! (one config type through the CLI, sweeps, resume and `config.toml`), re-exported here.

pub use carrot_agents::outer_config::{OuterConfig, OuterMethod};

use crate::error::{BilevelError, Result};

/// Parses a TOML `[outer]` table (unknown keys are an error naming the key).
pub fn parse_outer(text: &str) -> Result<OuterConfig> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let msg = e.message().lines().next().unwrap_or("invalid").to_string();
        BilevelError::config("outer", msg)
    })
}
