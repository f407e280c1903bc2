//! The PARL / A-PARL settings: the `[preference]` section of a run, defined in
//! `carrot-agents` as `TrainConfig.preference` (one config type through the CLI, sweeps, resume
//! and `config.toml`) and re-exported here under the names the PARL components use
//! ([`ParlConfig`], [`Method`]), plus [`resolve_inputs`], which checks the reward model's
//! inputs against the env's signals and the true reward's own.

pub use carrot_agents::preference_config::{
    ModelConfig, PreferenceConfig, PreferenceMethod, Selection, TeacherConfig,
};

pub use carrot_agents::preference_config::PreferenceConfig as ParlConfig;
pub use carrot_agents::preference_config::PreferenceMethod as Method;

use crate::parl::{ParlError, Result};

/// Rejects an input that is a signal of the true reward (`deny`), or one the env lacks;
/// returns the input indices into the env's signal list.
pub fn resolve_inputs(
    inputs: &[String],
    signals: &[String],
    deny: &[String],
) -> Result<Vec<usize>> {
    inputs
        .iter()
        .map(|name| {
            if deny.contains(name) {
                return Err(ParlError::Input {
                    signal: name.clone(),
                    message: "is a signal of the true reward; the reward model must not read it"
                        .into(),
                });
            }
            signals
                .iter()
                .position(|s| s == name)
                .ok_or_else(|| ParlError::Input {
                    signal: name.clone(),
                    message: format!(
                        "is not a signal of this env (signals: {})",
                        signals.join(", ")
                    ),
                })
        })
        .collect()
}
