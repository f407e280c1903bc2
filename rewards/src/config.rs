//! The reward registry: `RewardConfig`, the typed `[reward]` table that names a reward by `id`
//! and builds it against an env's signals.

use carrot_envs::SignalSpec;
use serde::{Deserialize, Serialize};

use crate::{
    custom::CustomRewardConfig, AgreementConfig, AgreementReward, BlendConfig, BlendReward,
    CarlConfig, CarlReward, MixReward, ProductReward, Reward, RewardError, RewardTerm, RoachConfig,
    RoachReward, SignalReward, SumReward, Transform, WeightedSignal,
};

/// The reward registry, selected by `id` in a config file:
///
/// ```toml
/// [reward]
/// id = "sum"
/// terms = [{ signal = "alive", weight = 1.0 }, { signal = "force", weight = -0.01 }]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "id", rename_all = "snake_case", deny_unknown_fields)]
pub enum RewardConfig {
    /// The env's classic reward signal (Gymnasium's reward for the control tasks). A struct
    /// variant without fields, so that `deny_unknown_fields` rejects stray keys.
    EnvDefault {},
    /// One signal, optionally transformed (`transform = "abs"`), times `scale`.
    Signal {
        signal: String,
        #[serde(default = "one")]
        scale: f32,
        #[serde(default)]
        transform: Transform,
    },
    /// A weighted sum of signals.
    Sum { terms: Vec<WeightedSignal> },
    /// `scale` times the product of weighted signals.
    Product {
        factors: Vec<WeightedSignal>,
        #[serde(default = "one")]
        scale: f32,
    },
    /// CaRL's route-completion reward.
    Carl(CarlConfig),
    /// The shaped Roach-style reward.
    Roach(RoachConfig),
    /// A weighted sum of rewards or of single named terms of rewards (the naive sum).
    Mix { terms: Vec<RewardTerm> },
    /// `on_match` when an action signal points the way of a weighted sum of signals.
    Agreement(AgreementConfig),
    /// BARFI's learned blend of a primary reward with auxiliary ones.
    Blend(BlendConfig),
    /// A reward registered by a downstream crate ([`crate::register_reward`]). Config fields
    /// parse it through [`crate::deserialize_reward_config`]; serde's derive never sees it.
    #[serde(skip)]
    Custom(CustomRewardConfig),
}

impl Default for RewardConfig {
    fn default() -> Self {
        RewardConfig::EnvDefault {}
    }
}

fn one() -> f32 {
    1.0
}

impl RewardConfig {
    /// Every built-in reward id.
    pub const IDS: &'static [&'static str] = &[
        "env_default",
        "signal",
        "sum",
        "product",
        "carl",
        "roach",
        "mix",
        "agreement",
        "blend",
    ];

    pub fn id(&self) -> &'static str {
        match self {
            RewardConfig::EnvDefault {} => "env_default",
            RewardConfig::Signal { .. } => "signal",
            RewardConfig::Sum { .. } => "sum",
            RewardConfig::Product { .. } => "product",
            RewardConfig::Carl(_) => "carl",
            RewardConfig::Roach(_) => "roach",
            RewardConfig::Mix { .. } => "mix",
            RewardConfig::Agreement(_) => "agreement",
            RewardConfig::Blend(_) => "blend",
            RewardConfig::Custom(c) => c.id,
        }
    }

    /// Resolves signal names against `spec` and builds the reward.
    pub fn build(&self, spec: &SignalSpec) -> Result<Box<dyn Reward>, RewardError> {
        Ok(match self {
            RewardConfig::EnvDefault {} => {
                let name = spec
                    .default_reward
                    .ok_or_else(|| RewardError::NoDefaultReward {
                        reward: self.id().into(),
                        env: spec.env.into(),
                    })?;
                Box::new(SignalReward::new(spec, name, 1.0)?)
            }
            RewardConfig::Signal {
                signal,
                scale,
                transform,
            } => Box::new(SignalReward::new(spec, signal, *scale)?.with_transform(*transform)),
            RewardConfig::Sum { terms } => Box::new(SumReward::new(spec, terms)?),
            RewardConfig::Product { factors, scale } => {
                Box::new(ProductReward::new(spec, factors, *scale)?)
            }
            RewardConfig::Carl(c) => Box::new(CarlReward::new(spec, c.clone())?),
            RewardConfig::Roach(c) => Box::new(RoachReward::new(spec, c.clone())?),
            RewardConfig::Mix { terms } => Box::new(MixReward::new(spec, terms)?),
            RewardConfig::Agreement(c) => Box::new(AgreementReward::new(spec, c)?),
            RewardConfig::Blend(c) => Box::new(BlendReward::new(spec, c)?),
            RewardConfig::Custom(c) => c.build(spec)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_parse_and_reject_unknown_keys() {
        let cfg: RewardConfig =
            toml::from_str("id = \"sum\"\nterms = [{ signal = \"a\", weight = 2.0 }]").unwrap();
        assert!(matches!(cfg, RewardConfig::Sum { .. }));
        let err = toml::from_str::<RewardConfig>("id = \"signal\"\nsignal = \"a\"\nscal = 2.0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("scal"), "{err}");
        assert!(toml::from_str::<RewardConfig>("id = \"nope\"").is_err());
    }

    #[test]
    fn env_default_uses_the_declared_signal() {
        let spec = SignalSpec::new("toy", &[("x", "m", "pos"), ("alive", "1", "1 per step")])
            .with_default_reward("alive");
        let r = RewardConfig::EnvDefault {}.build(&spec).unwrap();
        let mut t = [0.0];
        assert_eq!(r.evaluate(&[5.0, 1.0], &mut t).0, 1.0);
        let bare = SignalSpec::new("bare", &[("x", "m", "pos")]);
        assert!(RewardConfig::EnvDefault {}.build(&bare).is_err());
    }
}
