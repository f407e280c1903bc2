//! Envs defined outside this crate: a downstream crate registers a factory under an id, and
//! configs then name it like a built-in (`[env] id = "my_env"`), with the rest of the table
//! handed to the factory. The run directory, metrics, checkpoints and resume are the same as
//! for a built-in env (see `examples/custom_env`).
//!
//! The registry is process-wide because configs are parsed deep inside the library (layered
//! files, sweeps, checkpoints): register before parsing any config, first thing in `main`.

use serde::{Deserializer, Serialize, Serializer};

use crate::factory_registry::{deserialize_tracked, with_nested_path};
use crate::{Env, EnvConfig, EnvError, FactoryRegistry};

/// Builds one env from the `[env]` table without its `id` (reject unknown keys in it).
pub type EnvFactory = fn(&toml::Table) -> Result<Box<dyn Env>, EnvError>;

/// A registered env chosen by a config: its id and the rest of its `[env]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomEnvConfig {
    pub id: &'static str,
    pub params: toml::Table,
}

impl CustomEnvConfig {
    /// The registered env `id` with its defaults (an empty table).
    pub fn new(id: &str) -> Result<Self, EnvError> {
        let id = lookup(id).map(|(id, _)| id).ok_or_else(|| unknown(id))?;
        Ok(Self {
            id,
            params: toml::Table::new(),
        })
    }

    pub fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        let (_, factory) = lookup(self.id).ok_or_else(|| unknown(self.id))?;
        factory(&self.params)
    }
}

static ENVS: FactoryRegistry<EnvFactory> = FactoryRegistry::new("env", EnvConfig::IDS);

fn lookup(id: &str) -> Option<(&'static str, EnvFactory)> {
    ENVS.get(id)
}

fn unknown(id: &str) -> EnvError {
    EnvError::InvalidConfig {
        env: id.into(),
        message: "no env is registered under this id".into(),
    }
}

/// Registers `factory` under `id`. Registering the same factory twice is a no-op; an id of a
/// built-in env, or one already taken by another factory, is an error.
pub fn register_env(id: &'static str, factory: EnvFactory) -> Result<(), EnvError> {
    ENVS.register(id, factory, |a, b| a as usize == b as usize)
        .map_err(|message| EnvError::InvalidConfig {
            env: id.into(),
            message,
        })
}

/// The ids of the registered (non-built-in) envs, sorted.
pub fn registered_env_ids() -> Vec<&'static str> {
    ENVS.ids()
}

/// `deserialize_with` for an `EnvConfig` field: a registered id becomes
/// [`EnvConfig::Custom`], anything else goes through the built-in registry (and its errors).
pub fn deserialize_env_config<'de, D: Deserializer<'de>>(d: D) -> Result<EnvConfig, D::Error> {
    ENVS.deserialize_choice(
        d,
        |id, params| EnvConfig::Custom(CustomEnvConfig { id, params }),
        builtin_env_config,
    )
}

/// A built-in env's config deserialized as its own struct, not through the tagged enum
/// (whose buffered content keeps no key path), so that an error names its key below `[env]`.
fn builtin_env_config<E: serde::de::Error>(mut table: toml::Table) -> Result<EnvConfig, E> {
    let id = match table.get("id") {
        Some(toml::Value::String(id)) => id.clone(),
        // A missing or mistyped id: the tagged enum's own error.
        _ => return deserialize_tracked(toml::Value::Table(table)),
    };
    table.remove("id");
    let params = toml::Value::Table(table);
    Ok(match id.as_str() {
        "cartpole" => EnvConfig::Cartpole(deserialize_tracked(params)?),
        "pendulum" => EnvConfig::Pendulum(deserialize_tracked(params)?),
        "acrobot" => EnvConfig::Acrobot(deserialize_tracked(params)?),
        "mountain_car" => EnvConfig::MountainCar(deserialize_tracked(params)?),
        "driving" => EnvConfig::Driving(deserialize_tracked(params)?),
        "grid_world" => EnvConfig::GridWorld(deserialize_tracked(params)?),
        other => {
            let error =
                <toml::de::Error as serde::de::Error>::unknown_variant(other, EnvConfig::IDS);
            return Err(E::custom(with_nested_path("id", error.message())));
        }
    })
}

/// `serialize_with` for an `EnvConfig` field: a custom env is written back as its own table.
pub fn serialize_env_config<S: Serializer>(config: &EnvConfig, s: S) -> Result<S::Ok, S::Error> {
    match config {
        EnvConfig::Custom(custom) => {
            FactoryRegistry::<EnvFactory>::table(custom.id, &custom.params).serialize(s)
        }
        builtin => builtin.serialize(s),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::{CartPole, CartPoleConfig};

    fn cartpole_factory(params: &toml::Table) -> Result<Box<dyn Env>, EnvError> {
        let config: CartPoleConfig =
            params
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| EnvError::InvalidConfig {
                    env: "my_cartpole".into(),
                    message: e.message().to_string(),
                })?;
        Ok(Box::new(CartPole::new(config)?))
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Holder {
        #[serde(
            deserialize_with = "deserialize_env_config",
            serialize_with = "serialize_env_config"
        )]
        env: EnvConfig,
    }

    #[test]
    fn a_registered_id_parses_builds_and_round_trips() {
        register_env("my_cartpole", cartpole_factory).unwrap();
        register_env("my_cartpole", cartpole_factory).unwrap();
        assert!(registered_env_ids().contains(&"my_cartpole"));
        let holder: Holder =
            toml::from_str("[env]\nid = \"my_cartpole\"\ncontinuous = true").unwrap();
        let EnvConfig::Custom(custom) = &holder.env else {
            panic!("{holder:?}")
        };
        assert_eq!(custom.id, "my_cartpole");
        assert_eq!(holder.env.id(), "my_cartpole");
        let env = holder.env.build().unwrap();
        assert_eq!(env.action_space().flat_dim(), 1);
        let text = toml::to_string(&holder).unwrap();
        let back: Holder = toml::from_str(&text).unwrap();
        assert_eq!(back.env, holder.env);
        // Unknown keys reach the factory, which rejects them.
        let bad: Holder = toml::from_str("[env]\nid = \"my_cartpole\"\ncontinous = true").unwrap();
        let err = bad.env.build().err().unwrap().to_string();
        assert!(err.contains("continous"), "{err}");
    }

    #[test]
    fn every_builtin_id_parses_to_its_own_config() {
        for id in EnvConfig::IDS {
            let holder: Holder = toml::from_str(&format!("[env]\nid = \"{id}\"")).unwrap();
            assert_eq!(holder.env.id(), *id);
            assert_eq!(
                holder.env,
                toml::from_str(&format!("id = \"{id}\"")).unwrap()
            );
        }
    }

    #[test]
    fn builtins_keep_their_parsing_and_ids_cannot_be_taken() {
        let holder: Holder = toml::from_str("[env]\nid = \"pendulum\"").unwrap();
        assert_eq!(holder.env.id(), "pendulum");
        let err = toml::from_str::<Holder>("[env]\nid = \"pendulum\"\nmax_sped = 3.0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `max_sped`"), "{err}");
        let err = toml::from_str::<Holder>("[env]\nid = \"walker\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `walker`"), "{err}");
        assert!(register_env("cartpole", cartpole_factory).is_err());
        fn other(_: &toml::Table) -> Result<Box<dyn Env>, EnvError> {
            Err(EnvError::BufferShape("unused".into()))
        }
        register_env("taken", cartpole_factory).unwrap();
        assert!(register_env("taken", other).is_err());
        assert!(CustomEnvConfig::new("never_registered").is_err());
    }
}
