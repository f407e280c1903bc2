//! Env snapshots for exact resume: an env's full state as JSON text ([`EnvSnapshot`]), written by
//! [`crate::Env::snapshot`] and read back by [`crate::Env::restore`] into an env built from the
//! same config. Floats round-trip bit-exactly (serde_json's `float_roundtrip`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::EnvError;

/// One env's state as JSON text (text rather than a `serde_json::Value`: the env RNGs hold
/// 128-bit integers, which a `Value` cannot).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnvSnapshot(String);

impl EnvSnapshot {
    /// Serializes an env's own state type (what `Env::snapshot` of an env outside this crate
    /// returns); `env` names the env in errors.
    pub fn from_state<T: Serialize + ?Sized>(env: &str, state: &T) -> Result<Self, EnvError> {
        encode(env, state)
    }

    /// Reads the snapshot back into the env's state type (for `Env::restore`).
    pub fn to_state<T: DeserializeOwned>(&self, env: &str) -> Result<T, EnvError> {
        decode(env, self)
    }

    /// The snapshot's JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

/// Serializes `state` as the snapshot of env `env`.
pub(crate) fn encode<T: Serialize + ?Sized>(env: &str, state: &T) -> Result<EnvSnapshot, EnvError> {
    serde_json::to_string(state)
        .map(EnvSnapshot)
        .map_err(|e| EnvError::Snapshot {
            env: env.into(),
            message: e.to_string(),
        })
}

/// Reads a snapshot of env `env` back into its state type.
pub(crate) fn decode<T: DeserializeOwned>(
    env: &str,
    snapshot: &EnvSnapshot,
) -> Result<T, EnvError> {
    serde_json::from_str(&snapshot.0).map_err(|e| EnvError::Snapshot {
        env: env.into(),
        message: e.to_string(),
    })
}

/// The error of a snapshot that does not fit the env it is restored into.
pub(crate) fn mismatch(env: &str, message: impl Into<String>) -> EnvError {
    EnvError::Snapshot {
        env: env.into(),
        message: message.into(),
    }
}
