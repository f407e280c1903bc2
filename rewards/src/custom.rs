//! Rewards defined outside this crate, registered by id like custom envs
//! ([`carrot_envs::register_env`]): configs name them as `[reward] id = "my_reward"` and the
//! rest of the table goes to the factory, with the env's signals to resolve names against.
//! Register before parsing any config, first thing in `main`.

use carrot_envs::{FactoryRegistry, SignalSpec};
use serde::{Deserializer, Serialize, Serializer};

use crate::{Reward, RewardConfig, RewardError};

/// Builds a reward from the `[reward]` table without its `id` (reject unknown keys in it) and
/// the env's signals.
pub type RewardFactory = fn(&toml::Table, &SignalSpec) -> Result<Box<dyn Reward>, RewardError>;

/// A registered reward chosen by a config: its id and the rest of its `[reward]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomRewardConfig {
    pub id: &'static str,
    pub params: toml::Table,
}

impl CustomRewardConfig {
    pub fn build(&self, spec: &SignalSpec) -> Result<Box<dyn Reward>, RewardError> {
        let (_, factory) = REWARDS.get(self.id).ok_or_else(|| RewardError::Invalid {
            reward: self.id.into(),
            message: "no reward is registered under this id".into(),
        })?;
        factory(&self.params, spec)
    }
}

static REWARDS: FactoryRegistry<RewardFactory> = FactoryRegistry::new("reward", RewardConfig::IDS);

/// Registers `factory` under `id`. Registering the same factory twice is a no-op; an id of a
/// built-in reward, or one already taken by another factory, is an error.
pub fn register_reward(id: &'static str, factory: RewardFactory) -> Result<(), RewardError> {
    REWARDS
        .register(id, factory, |a, b| a as usize == b as usize)
        .map_err(|message| RewardError::Invalid {
            reward: id.into(),
            message,
        })
}

/// The ids of the registered (non-built-in) rewards, sorted.
pub fn registered_reward_ids() -> Vec<&'static str> {
    REWARDS.ids()
}

/// `deserialize_with` for a `RewardConfig` field: a registered id becomes
/// [`RewardConfig::Custom`], anything else goes through the built-in registry (and its errors).
pub fn deserialize_reward_config<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<RewardConfig, D::Error> {
    REWARDS.deserialize_choice(
        d,
        |id, params| RewardConfig::Custom(CustomRewardConfig { id, params }),
        // The built-in rewards are partly struct variants: deserialized through the tagged
        // enum, whose buffered content keeps no path below `reward` itself.
        |table| carrot_envs::deserialize_tracked(toml::Value::Table(table)),
    )
}

/// `serialize_with` for a `RewardConfig` field: a custom reward is written back as its table.
pub fn serialize_reward_config<S: Serializer>(
    config: &RewardConfig,
    s: S,
) -> Result<S::Ok, S::Error> {
    match config {
        RewardConfig::Custom(custom) => {
            FactoryRegistry::<RewardFactory>::table(custom.id, &custom.params).serialize(s)
        }
        builtin => builtin.serialize(s),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::SignalReward;

    /// `scale` times the signal named `signal`.
    fn scaled(params: &toml::Table, spec: &SignalSpec) -> Result<Box<dyn Reward>, RewardError> {
        let invalid = |message: String| RewardError::Invalid {
            reward: "scaled".into(),
            message,
        };
        let signal = params
            .get("signal")
            .and_then(|v| v.as_str())
            .ok_or_else(|| invalid("needs `signal`".into()))?;
        let scale = params
            .get("scale")
            .and_then(|v| v.as_float())
            .unwrap_or(1.0);
        if let Some(key) = params.keys().find(|k| *k != "signal" && *k != "scale") {
            return Err(invalid(format!("unknown key `{key}`")));
        }
        Ok(Box::new(SignalReward::new(spec, signal, scale as f32)?))
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Holder {
        #[serde(
            deserialize_with = "deserialize_reward_config",
            serialize_with = "serialize_reward_config"
        )]
        reward: RewardConfig,
    }

    #[test]
    fn a_registered_reward_parses_builds_and_round_trips() {
        register_reward("scaled", scaled).unwrap();
        assert!(registered_reward_ids().contains(&"scaled"));
        assert!(register_reward("carl", scaled).is_err());
        let spec = SignalSpec::new("toy", &[("x", "m", "pos"), ("alive", "1", "1 per step")]);
        let holder: Holder =
            toml::from_str("[reward]\nid = \"scaled\"\nsignal = \"x\"\nscale = 2.0").unwrap();
        assert_eq!(holder.reward.id(), "scaled");
        let reward = holder.reward.build(&spec).unwrap();
        assert_eq!(reward.evaluate(&[3.0, 1.0], &mut [0.0]).0, 6.0);
        let back: Holder = toml::from_str(&toml::to_string(&holder).unwrap()).unwrap();
        assert_eq!(back.reward, holder.reward);
        let typo: Holder = toml::from_str("[reward]\nid = \"scaled\"\nsignl = \"x\"").unwrap();
        assert!(typo.reward.build(&spec).is_err());
        let missing: Holder = toml::from_str("[reward]\nid = \"scaled\"\nsignal = \"v\"").unwrap();
        let err = missing.reward.build(&spec).err().unwrap().to_string();
        assert!(err.contains("'v'"), "{err}");
        let err = toml::from_str::<Holder>("[reward]\nid = \"carl\"\nwieght = 1.0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `wieght`"), "{err}");
    }
}
