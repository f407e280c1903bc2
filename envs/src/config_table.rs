//! Reading a registry's config table from any serde format. The registries read `[env]` and
//! `[reward]` as TOML tables, but a checkpoint's `state.json` writes an absent option
//! (`Option::None`) as JSON `null`, which TOML has no value for: this reader drops such
//! entries, so they read as absent again, as in the TOML the config came from.

use std::fmt;

use serde::de::{Deserializer, Error, MapAccess, SeqAccess, Visitor};

/// The key the `toml` crate hands a datetime under (a one-entry map), as its own types do.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

/// A table read with its null entries (at any depth) left out.
pub(crate) fn deserialize_table<'de, D: Deserializer<'de>>(d: D) -> Result<toml::Table, D::Error> {
    match d.deserialize_map(TableVisitor)? {
        toml::Value::Table(table) => Ok(table),
        other => Err(D::Error::custom(format!(
            "invalid type: {}, expected a table",
            other.type_str()
        ))),
    }
}

/// A map, nothing else (serde's own message names what came instead).
struct TableVisitor;

impl<'de> Visitor<'de> for TableVisitor {
    type Value = toml::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        read_map(map)
    }
}

/// A map's entries as a table (or the datetime the `toml` crate hands over as a map).
fn read_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<toml::Value, A::Error> {
    let mut table = toml::Table::new();
    while let Some(key) = map.next_key::<String>()? {
        let NullFree(value) = map.next_value()?;
        if key == TOML_DATETIME_KEY {
            if let Some(toml::Value::String(text)) = &value {
                let datetime = text.parse().map_err(A::Error::custom)?;
                return Ok(toml::Value::Datetime(datetime));
            }
        }
        if let Some(value) = value {
            table.insert(key, value);
        }
    }
    Ok(toml::Value::Table(table))
}

/// A value, or `None` for a null.
struct NullFree(Option<toml::Value>);

impl<'de> serde::Deserialize<'de> for NullFree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NullFreeVisitor).map(NullFree)
    }
}

struct NullFreeVisitor;

impl<'de> Visitor<'de> for NullFreeVisitor {
    type Value = Option<toml::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a config value")
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(toml::Value::Boolean(v)))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(toml::Value::Integer(v)))
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(|v| Some(toml::Value::Integer(v)))
            .map_err(|_| E::custom(format!("integer {v} is out of range for a config value")))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(toml::Value::Float(v)))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(toml::Value::String(v.to_string())))
    }

    fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(NullFreeVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(NullFree(item)) = seq.next_element()? {
            items.extend(item);
        }
        Ok(Some(toml::Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        read_map(map).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_json(text: &str) -> Result<toml::Table, serde_json::Error> {
        deserialize_table(&mut serde_json::Deserializer::from_str(text))
    }

    #[test]
    fn json_nulls_read_as_absent_at_any_depth() {
        let table = from_json(
            r#"{"id": "mountain_car", "continuous": false, "max_episode_steps": null,
                "terms": [{"scale": 1.5, "clip": null}, null], "seed": 7}"#,
        )
        .unwrap();
        let want: toml::Table = toml::from_str(
            "id = \"mountain_car\"\ncontinuous = false\nseed = 7\nterms = [{ scale = 1.5 }]",
        )
        .unwrap();
        assert_eq!(table, want);
    }

    #[test]
    fn toml_reads_as_before_datetimes_included() {
        let text = "id = \"driving\"\nrays = 16\nrange = 40.5\nwhen = 2026-12-07T14:00:00Z\n\
                    [comfort]\njerk = 30.0\nlist = [1, 2]";
        let via_reader = deserialize_table(toml::de::Deserializer::parse(text).unwrap()).unwrap();
        let direct: toml::Table = toml::from_str(text).unwrap();
        assert_eq!(via_reader, direct);
    }

    #[test]
    fn a_value_that_is_not_a_table_is_refused() {
        let message = |text: &str| from_json(text).unwrap_err().to_string();
        assert!(message("5").starts_with("invalid type: integer `5`, expected a table"));
        assert!(message("null").starts_with("invalid type: null, expected a table"));
        assert!(from_json(r#"{"seed": 18446744073709551615}"#)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
    }
}
