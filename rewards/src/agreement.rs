//! `agreement`: rewards an action for pointing the same way as a target built from signals,
//! BARFI's PD and bang-bang auxiliaries. The reward is `on_match` when
//! `action · Σ_i w_i s_i > 0` and `on_mismatch` otherwise; a zero action (mountain car's "no
//! push") or a zero target counts as a mismatch.
//!
//! Cartpole's PD auxiliary judges the push against the state it was chosen in:
//!
//! ```toml
//! [reward]
//! id = "agreement"
//! action = "force"
//! target = [{ signal = "theta_before", weight = 1.0 }, { signal = "theta_dot_before", weight = 0.1 }]
//! on_match = 1.0
//! on_mismatch = 0.0
//! ```

use carrot_envs::{SignalSpec, StepReward};
use serde::{Deserialize, Serialize};

use crate::combinators::{resolve, resolve_all, ResolvedSignal};
use crate::{Reward, RewardError, WeightedSignal};

/// Settings of the `agreement` reward.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementConfig {
    /// The signal that carries the action (e.g. cartpole's or mountain car's `force`).
    pub action: String,
    /// The weighted signals whose sum gives the direction the action should have.
    pub target: Vec<WeightedSignal>,
    #[serde(default = "one")]
    pub on_match: f32,
    #[serde(default)]
    pub on_mismatch: f32,
}

fn one() -> f32 {
    1.0
}

/// The built `agreement` reward; its single term is named `agreement`.
#[derive(Clone, Debug)]
pub struct AgreementReward {
    action: usize,
    target: Vec<ResolvedSignal>,
    on_match: f32,
    on_mismatch: f32,
    num_signals: usize,
    terms: Vec<String>,
}

impl AgreementReward {
    pub fn new(spec: &SignalSpec, config: &AgreementConfig) -> Result<Self, RewardError> {
        if !(config.on_match.is_finite() && config.on_mismatch.is_finite()) {
            return Err(RewardError::Invalid {
                reward: "agreement".into(),
                message: "on_match and on_mismatch must be finite".into(),
            });
        }
        Ok(AgreementReward {
            action: resolve("agreement", spec, &config.action)?,
            target: resolve_all("agreement", spec, &config.target)?,
            on_match: config.on_match,
            on_mismatch: config.on_mismatch,
            num_signals: spec.len(),
            terms: vec!["agreement".to_string()],
        })
    }

    /// Whether the action on this row points the way of the target.
    pub fn matches(&self, signals: &[f32]) -> bool {
        let target: f32 = self.target.iter().map(|t| t.value(signals)).sum();
        signals[self.action] * target > 0.0
    }
}

impl StepReward for AgreementReward {
    fn term_names(&self) -> &[String] {
        &self.terms
    }

    fn cause_names(&self) -> &[String] {
        &[]
    }

    fn evaluate(&self, signals: &[f32], terms: &mut [f32]) -> (f32, Option<usize>) {
        let r = if self.matches(signals) {
            self.on_match
        } else {
            self.on_mismatch
        };
        terms[0] = r;
        (r, None)
    }
}

impl Reward for AgreementReward {
    fn id(&self) -> &str {
        "agreement"
    }

    fn num_signals(&self) -> usize {
        self.num_signals
    }
}
