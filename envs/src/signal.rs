//! Signals: the named per-step quantities an env emits instead of a reward, and the spec that
//! reward modules resolve their names against once.

use serde::Serialize;

use crate::EnvError;

/// One named per-step quantity an env emits for reward modules and episode statistics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignalInfo {
    pub name: &'static str,
    pub unit: &'static str,
    pub meaning: &'static str,
}

/// The fixed layout of an env's signal vector. Rewards resolve names to indices once.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignalSpec {
    pub env: &'static str,
    pub signals: Vec<SignalInfo>,
    /// The signal that is the env's classic scalar reward (Gymnasium's), if it has one.
    pub default_reward: Option<&'static str>,
}

impl SignalSpec {
    /// Builds a spec from `(name, unit, meaning)` rows.
    pub fn new(env: &'static str, rows: &[(&'static str, &'static str, &'static str)]) -> Self {
        let signals = rows
            .iter()
            .map(|&(name, unit, meaning)| SignalInfo {
                name,
                unit,
                meaning,
            })
            .collect::<Vec<_>>();
        debug_assert!(
            signals
                .iter()
                .enumerate()
                .all(|(i, s)| signals[..i].iter().all(|t| t.name != s.name)),
            "duplicate signal name in {env}"
        );
        SignalSpec {
            env,
            signals,
            default_reward: None,
        }
    }

    /// Marks `name` as the env's classic reward (it must be one of the signals).
    pub fn with_default_reward(mut self, name: &'static str) -> Self {
        assert!(
            self.signals.iter().any(|s| s.name == name),
            "{name} is not a signal of {}",
            self.env
        );
        self.default_reward = Some(name);
        self
    }

    pub fn len(&self) -> usize {
        self.signals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signals.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.signals.iter().map(|s| s.name)
    }

    /// Index of `name`, or an error that names the env and lists what it does emit.
    pub fn index_of(&self, name: &str) -> Result<usize, EnvError> {
        self.signals
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| EnvError::UnknownSignal {
                env: self.env.to_string(),
                name: name.to_string(),
                available: self.names().collect::<Vec<_>>().join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_signal_names_env_and_alternatives() {
        let spec = SignalSpec::new("toy", &[("alive", "1", "one per step"), ("x", "m", "pos")]);
        assert_eq!(spec.index_of("x").unwrap(), 1);
        let msg = spec.index_of("speed").unwrap_err().to_string();
        assert!(
            msg.contains("speed") && msg.contains("toy") && msg.contains("alive, x"),
            "{msg}"
        );
    }
}
