//! `FactoryRegistry`: factories registered by id, process-wide, and the config tables that name
//! them. The env registry ([`crate::register_env`]) and the reward registry in
//! `carrot-rewards` are two of these.

use std::collections::BTreeMap;
use std::sync::RwLock;

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

    /// The config table of a registered choice: its parameters with the `id` put back.
    pub fn table(id: &str, params: &toml::Table) -> toml::Table {
        let mut table = params.clone();
        table.insert("id".into(), toml::Value::String(id.into()));
        table
    }
}
