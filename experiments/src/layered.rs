//! Layered configuration: built-in defaults, then a TOML file, then `--set key.path=value`
//! overrides, merged as `toml::Value` trees and deserialized once at the end.
//!
//! Merging is recursive over tables, with one rule for registries selected by `id` (envs,
//! rewards): when an overlay table names a different `id` than the table below it, it replaces
//! that table whole, so the fields of the old choice don't leak into the new one.
//!
//! Every error is one line and names the offending key path (`ppo.learning_rate`), which
//! `serde_path_to_error` tracks during deserialization.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use toml::{Table, Value};

/// A config tree built up layer by layer.
#[derive(Clone, Debug)]
pub struct Layers {
    tree: Table,
}

impl Layers {
    /// Starts from the serialized built-in defaults of `T`.
    pub fn from_defaults<T: Serialize>(defaults: &T) -> Result<Self> {
        let tree = Table::try_from(defaults).context("serializing the built-in defaults")?;
        Ok(Self { tree })
    }

    /// Merges a TOML file over the current tree.
    pub fn merge_file(&mut self, path: &Path) -> Result<()> {
        let overlay = read_toml_file(path)?;
        merge_tables(&mut self.tree, overlay);
        Ok(())
    }

    /// Merges an already-parsed table over the current tree.
    pub fn merge_table(&mut self, overlay: Table) {
        merge_tables(&mut self.tree, overlay);
    }

    /// Applies one `key.path=value` override.
    pub fn apply_set(&mut self, assignment: &str) -> Result<()> {
        let (path, value) = parse_assignment(assignment)?;
        self.set_path(&path, value)
    }

    /// Sets `value` at the dotted `path`, creating intermediate tables.
    pub fn set_path(&mut self, path: &str, value: Value) -> Result<()> {
        let overlay = nest(path, value)?;
        merge_tables(&mut self.tree, overlay);
        Ok(())
    }

    #[cfg(test)]
    pub fn tree(&self) -> &Table {
        &self.tree
    }

    /// Deserializes the merged tree, naming the key path of any error.
    pub fn resolve<T: DeserializeOwned>(&self) -> Result<T> {
        deserialize_table(self.tree.clone())
    }
}

/// Deserializes a table into `T` with one-line errors that name the key path.
pub fn deserialize_table<T: DeserializeOwned>(table: Table) -> Result<T> {
    serde_path_to_error::deserialize(Value::Table(table)).map_err(|err| {
        let path = err.path().to_string();
        let error: toml::de::Error = err.into_inner();
        // A registry (env, reward) deserializes a built-in choice in a second pass and reports
        // the key path below its own table with the message.
        let (nested, message) = carrot_envs::split_nested_path(error.message());
        let mut path = carrot_envs::join_key_paths(&path, nested.unwrap_or(""));
        let message = one_line(message);
        // Inside tagged enums (env, reward) the path stops at the enum: add the unknown key.
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            if !path.ends_with(field) {
                path = if path == "." || path.is_empty() {
                    field.to_string()
                } else {
                    format!("{path}.{field}")
                };
            }
        }
        if path == "." || path.is_empty() {
            anyhow!("config: {message}")
        } else {
            anyhow!("config key `{path}`: {message}")
        }
    })
}

/// Reads and parses a TOML file, with a one-line `file:line:column: message` error.
pub fn read_toml_file(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    parse_toml(&text).map_err(|e| anyhow!("{}:{e}", path.display()))
}

/// Parses TOML text; the error is `line:column: message` on one line.
pub fn parse_toml(text: &str) -> Result<Table> {
    text.parse::<Table>().map_err(|err| {
        let position = err
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("{line}:{column}: ")
            })
            .unwrap_or_default();
        anyhow!("{position}{}", one_line(err.message()))
    })
}

/// Splits `key.path=value`; the value is read as a TOML value (`3`, `1e-3`, `[64, 64]`,
/// `{ id = "carl" }`, `true`), or taken as a plain string when it is not one (`pendulum`).
pub fn parse_assignment(assignment: &str) -> Result<(String, Value)> {
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| anyhow!("--set `{assignment}`: expected key.path=value"))?;
    let path = path.trim();
    if path.is_empty() || path.split('.').any(|part| part.trim().is_empty()) {
        bail!("--set `{assignment}`: the key path is empty or has an empty segment");
    }
    Ok((path.to_string(), parse_value(raw.trim())))
}

/// A TOML value from command-line text, falling back to a string.
pub fn parse_value(raw: &str) -> Value {
    format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

/// `a.b.c` + value into `{ a = { b = { c = value } } }`.
fn nest(path: &str, value: Value) -> Result<Table> {
    let mut parts: Vec<&str> = path.split('.').map(str::trim).collect();
    let leaf = parts.pop().filter(|p| !p.is_empty());
    let leaf = leaf.ok_or_else(|| anyhow!("empty key path"))?;
    let mut table = Table::new();
    table.insert(leaf.to_string(), value);
    for part in parts.into_iter().rev() {
        if part.is_empty() {
            bail!("key path `{path}` has an empty segment");
        }
        let mut outer = Table::new();
        outer.insert(part.to_string(), Value::Table(table));
        table = outer;
    }
    Ok(table)
}

/// Recursively merges `overlay` into `base` (see the module docs for the `id` rule).
pub fn merge_tables(base: &mut Table, overlay: Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(below)), Value::Table(above)) => {
                let switches_choice = match (below.get("id"), above.get("id")) {
                    (Some(old), Some(new)) => old != new,
                    _ => false,
                };
                if switches_choice {
                    *below = above;
                } else {
                    merge_tables(below, above);
                }
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Collapses a possibly multi-line message to one line.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        rate: f64,
        sizes: Vec<u32>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "id", rename_all = "snake_case", deny_unknown_fields)]
    enum Choice {
        Plain,
        Scaled { scale: f64 },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Top {
        seed: u64,
        inner: Inner,
        choice: Choice,
    }

    fn defaults() -> Top {
        Top {
            seed: 1,
            inner: Inner {
                rate: 0.5,
                sizes: vec![4],
            },
            choice: Choice::Scaled { scale: 2.0 },
        }
    }

    #[test]
    fn layers_apply_in_order() {
        let mut layers = Layers::from_defaults(&defaults()).unwrap();
        layers.merge_table(parse_toml("seed = 7\n[inner]\nrate = 0.25").unwrap());
        layers.apply_set("inner.sizes=[8, 8]").unwrap();
        layers.apply_set("seed=9").unwrap();
        let top: Top = layers.resolve().unwrap();
        assert_eq!(top.seed, 9);
        assert_eq!(top.inner.rate, 0.25);
        assert_eq!(top.inner.sizes, vec![8, 8]);
        assert_eq!(top.choice, Choice::Scaled { scale: 2.0 });
    }

    #[test]
    fn switching_a_tagged_choice_drops_the_old_fields() {
        let mut layers = Layers::from_defaults(&defaults()).unwrap();
        layers.apply_set("choice.id=plain").unwrap();
        assert_eq!(layers.resolve::<Top>().unwrap().choice, Choice::Plain);
    }

    #[test]
    fn unknown_and_mistyped_keys_name_their_path() {
        let mut layers = Layers::from_defaults(&defaults()).unwrap();
        layers.apply_set("inner.rat=1.0").unwrap();
        let err = layers.resolve::<Top>().unwrap_err().to_string();
        assert!(err.contains("inner") && err.contains("rat"), "{err}");
        assert!(!err.contains('\n'));

        let mut layers = Layers::from_defaults(&defaults()).unwrap();
        layers.apply_set("inner.rate=fast").unwrap();
        let err = layers.resolve::<Top>().unwrap_err().to_string();
        assert!(err.contains("`inner.rate`"), "{err}");
    }

    /// A registry choice below a list: the reward registry's second pass reports the path
    /// below its own table, which joins the path tracked down to it.
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Term {
        #[serde(
            deserialize_with = "carrot_rewards::deserialize_reward_config",
            serialize_with = "carrot_rewards::serialize_reward_config"
        )]
        reward: carrot_rewards::RewardConfig,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Terms {
        terms: Vec<Term>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct EnvHolder {
        #[serde(
            deserialize_with = "carrot_envs::deserialize_env_config",
            serialize_with = "carrot_envs::serialize_env_config"
        )]
        env: carrot_envs::EnvConfig,
    }

    #[test]
    fn a_mistyped_key_of_a_builtin_env_is_named() {
        let text = "[env]\nid = \"driving\"\ntraffic = \"many\"";
        let err = deserialize_table::<EnvHolder>(parse_toml(text).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config key `env.traffic`: invalid type"),
            "{err}"
        );
        let text = "[env]\nid = \"cartpole\"\nmax_episode_steps = 500";
        let holder: EnvHolder = deserialize_table(parse_toml(text).unwrap()).unwrap();
        assert_eq!(holder.env.id(), "cartpole");
    }

    fn terms_error(text: &str) -> String {
        deserialize_table::<Terms>(parse_toml(text).unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_inside_a_registry_choice_name_the_full_path() {
        let ok = "terms = [{ reward = { id = \"env_default\" } }, { reward = { id = \"carl\" } }]";
        assert!(deserialize_table::<Terms>(parse_toml(ok).unwrap()).is_ok());
        let err = terms_error(
            "terms = [{ reward = { id = \"carl\" } }, { reward = { id = \"carll\" } }]",
        );
        assert!(
            err.starts_with("config key `terms[1].reward.id`: unknown variant `carll`"),
            "{err}"
        );
        let err = terms_error("terms = [{ reward = { id = \"carl\", wieght = 1.0 } }]");
        assert!(
            err.starts_with("config key `terms[0].reward.wieght`: unknown field"),
            "{err}"
        );
        assert!(!err.contains('\u{1}') && !err.contains('\u{2}'), "{err:?}");
        // The id's own type error stays at the id.
        let err = terms_error("terms = [{ reward = { id = 3 } }]");
        assert!(err.starts_with("config key `terms[0].reward"), "{err}");
    }

    #[test]
    fn syntax_errors_are_one_line_with_position() {
        let err = parse_toml("seed = 1\n[inner\nrate = 2")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("2:"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn set_values_parse_as_toml_or_string() {
        assert_eq!(parse_value("3"), Value::Integer(3));
        assert_eq!(parse_value("1e-3"), Value::Float(1e-3));
        assert_eq!(parse_value("pendulum"), Value::String("pendulum".into()));
        assert!(parse_value("{ id = \"carl\" }").is_table());
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("a..b=1").is_err());
    }
}
