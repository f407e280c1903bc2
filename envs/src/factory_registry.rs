//! `FactoryRegistry`: factories registered by id, process-wide, and the config tables that name
//! them. The env registry ([`crate::register_env`]) and the reward registry in
//! `carrot-rewards` are two of these.
//!
//! A registry reads its config table whole before it knows whether the id is a registered or a
//! built-in one, so a built-in choice is deserialized from that table in a second pass, out of
//! reach of the caller's key-path tracking (`serde_path_to_error`). The second pass therefore
//! tracks its own path, and the error carries that path below the table up to the caller, which
//! joins it to its own ([`split_nested_path`]); serde errors hold only a message, so the path
//! travels inside it between two control characters no config key contains.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::de::{DeserializeOwned, Error as _};
use serde::Deserializer;

const NESTED_PATH_START: char = '\u{1}';
const NESTED_PATH_END: char = '\u{2}';

/// An error message that names the key path of its cause below the value being deserialized.
pub fn with_nested_path(path: &str, message: &str) -> String {
    if path.is_empty() || path == "." {
        return message.to_string();
    }
    format!("{NESTED_PATH_START}{path}{NESTED_PATH_END}{message}")
}

/// A message of [`with_nested_path`] split into its key path (`None` when it names none) and
/// the message proper.
pub fn split_nested_path(message: &str) -> (Option<&str>, &str) {
    message
        .strip_prefix(NESTED_PATH_START)
        .and_then(|rest| rest.split_once(NESTED_PATH_END))
        .map_or((None, message), |(path, message)| (Some(path), message))
}

/// `outer` and `inner` key paths joined (`a.b` + `c[0].d`, or `a` + `[0]`); `.` or an empty
/// string is the empty path.
pub fn join_key_paths(outer: &str, inner: &str) -> String {
    let empty = |p: &str| p.is_empty() || p == ".";
    match (empty(outer), empty(inner)) {
        (_, true) => outer.to_string(),
        (true, false) => inner.to_string(),
        (false, false) if inner.starts_with('[') => format!("{outer}{inner}"),
        (false, false) => format!("{outer}.{inner}"),
    }
}

/// Deserializes `T` from `value`, tracking key paths: an error names its path below `value`
/// ([`with_nested_path`]), including the path a nested registry reported below itself.
pub fn deserialize_tracked<T: DeserializeOwned, E: serde::de::Error>(
    value: toml::Value,
) -> Result<T, E> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let error: toml::de::Error = err.into_inner();
        let (nested, message) = split_nested_path(error.message());
        let path = join_key_paths(&path, nested.unwrap_or(""));
        E::custom(with_nested_path(&path, message))
    })
}

/// Factories of one kind (`"env"`, `"reward"`) by id; the built-in ids cannot be taken.
pub struct FactoryRegistry<F: 'static> {
    kind: &'static str,
    builtin: &'static [&'static str],
    factories: RwLock<BTreeMap<&'static str, F>>,
}

impl<F: Copy + 'static> FactoryRegistry<F> {
    pub const fn new(kind: &'static str, builtin: &'static [&'static str]) -> Self {
        FactoryRegistry {
            kind,
            builtin,
            factories: RwLock::new(BTreeMap::new()),
        }
    }

    /// Registers `factory` under `id`. Registering a factory `same` as the one already there is
    /// a no-op; a built-in id, or one taken by another factory, is an error (its message).
    pub fn register(
        &self,
        id: &'static str,
        factory: F,
        same: impl Fn(F, F) -> bool,
    ) -> Result<(), String> {
        if self.builtin.contains(&id) {
            return Err(format!("this id is a built-in {}'s", self.kind));
        }
        let mut map = self.factories.write().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some(existing) if !same(*existing, factory) => Err(format!(
                "another {} is already registered under this id",
                self.kind
            )),
            _ => {
                map.insert(id, factory);
                Ok(())
            }
        }
    }

    /// The registered factory of `id`, with the id as registered.
    pub fn get(&self, id: &str) -> Option<(&'static str, F)> {
        let map = self.factories.read().unwrap_or_else(|e| e.into_inner());
        map.get_key_value(id).map(|(k, f)| (*k, *f))
    }

    /// The registered ids, sorted.
    pub fn ids(&self) -> Vec<&'static str> {
        let map = self.factories.read().unwrap_or_else(|e| e.into_inner());
        map.keys().copied().collect()
    }

    /// The registered id a config table names, taken out of the table (which then holds the
    /// factory's parameters); `None`, the table untouched, for any other id.
    pub fn claim(&self, table: &mut toml::Table) -> Option<&'static str> {
        let id = table
            .get("id")
            .and_then(|id| id.as_str())
            .and_then(|id| self.get(id))
            .map(|(id, _)| id)?;
        table.remove("id");
        Some(id)
    }

    /// The body of a registry's `deserialize_with`: a table naming a registered id becomes
    /// `custom(id, parameters)`; any other is the built-in `builtin(table)`, which must keep
    /// the key path of an error ([`deserialize_tracked`]); an unknown id is reported at `id`.
    pub fn deserialize_choice<'de, D, T>(
        &self,
        d: D,
        custom: impl FnOnce(&'static str, toml::Table) -> T,
        builtin: impl FnOnce(toml::Table) -> Result<T, D::Error>,
    ) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
    {
        let mut table = crate::config_table::deserialize_table(d)?;
        if let Some(id) = self.claim(&mut table) {
            return Ok(custom(id, table));
        }
        if let Some(toml::Value::String(id)) = table.get("id") {
            if !self.builtin.contains(&id.as_str()) {
                let error = toml::de::Error::unknown_variant(id, self.builtin);
                return Err(D::Error::custom(with_nested_path("id", error.message())));
            }
        }
        builtin(table)
    }

    /// The config table of a registered choice: its parameters with the `id` put back.
    pub fn table(id: &str, params: &toml::Table) -> toml::Table {
        let mut table = params.clone();
        table.insert("id".into(), toml::Value::String(id.into()));
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_paths_join_below_the_outer_path() {
        assert_eq!(join_key_paths("reward", "id"), "reward.id");
        assert_eq!(
            join_key_paths("reward", "terms[0].reward"),
            "reward.terms[0].reward"
        );
        assert_eq!(join_key_paths("terms", "[2].weight"), "terms[2].weight");
        assert_eq!(join_key_paths(".", "id"), "id");
        assert_eq!(join_key_paths("env", "."), "env");
        let message = with_nested_path("terms[1].id", "unknown variant `x`");
        assert_eq!(
            split_nested_path(&message),
            (Some("terms[1].id"), "unknown variant `x`")
        );
        assert_eq!(split_nested_path("plain"), (None, "plain"));
        assert_eq!(with_nested_path(".", "plain"), "plain");
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[allow(dead_code)]
        weight: f32,
    }

    #[test]
    fn a_tracked_pass_reports_its_path_and_a_nested_one() {
        let value: toml::Value = toml::from_str("weight = \"heavy\"").unwrap();
        let err = deserialize_tracked::<Inner, toml::de::Error>(value).unwrap_err();
        assert_eq!(split_nested_path(err.message()).0, Some("weight"));
        // A message that already carries a nested path (a registry below) is joined below the
        // path tracked down to it.
        let nested = toml::Value::Table(toml::Table::from_iter([(
            "weight".to_string(),
            toml::Value::Float(1.0),
        )]));
        let err = deserialize_tracked::<Holder, toml::de::Error>(toml::Value::Table(
            toml::Table::from_iter([(
                "items".to_string(),
                toml::Value::Array(vec![nested.clone(), bad()]),
            )]),
        ))
        .unwrap_err();
        assert_eq!(
            split_nested_path(err.message()).0,
            Some("items[1].weight.deep")
        );
    }

    fn bad() -> toml::Value {
        toml::Value::Table(toml::Table::from_iter([(
            "weight".to_string(),
            toml::Value::Boolean(true),
        )]))
    }

    /// Fails with a nested path of its own, as a registry does.
    #[derive(Debug)]
    struct Deep;

    impl<'de> serde::Deserialize<'de> for Deep {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            match toml::Value::deserialize(d)? {
                toml::Value::Boolean(_) => Err(D::Error::custom(with_nested_path("deep", "no"))),
                _ => Ok(Deep),
            }
        }
    }

    #[derive(Debug, serde::Deserialize)]
    struct Item {
        #[allow(dead_code)]
        weight: Deep,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Holder {
        #[allow(dead_code)]
        items: Vec<Item>,
    }
}
