//! The driving world's events as reward modules see them. The list itself is the env's
//! ([`carrot_envs::driving::EVENTS`]); the env alone decides when an episode ends (its
//! `terminate_on`), and the rewards read that decision from its `terminated` and `timeout`
//! signals. Also: [`signal_indices!`], named indices of the signals a reward reads.

use carrot_envs::driving::EVENTS;
use carrot_envs::SignalSpec;

use crate::RewardError;

/// Declares a struct with one `usize` field per signal, each named like the signal it holds
/// the index of, and `resolve(reward, spec)` that looks every name up (a missing signal is an
/// error naming the reward and the signal).
macro_rules! signal_indices {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub(crate) struct $name {
            $(pub $field: usize,)*
        }

        impl $name {
            pub(crate) fn resolve(
                reward: &str,
                spec: &carrot_envs::SignalSpec,
            ) -> Result<Self, crate::RewardError> {
                let [$($field),*] = crate::combinators::resolve_all_names(
                    reward,
                    spec,
                    [$(stringify!($field)),*],
                )?;
                Ok($name { $($field),* })
            }
        }
    };
}
pub(crate) use signal_indices;

signal_indices! {
    /// The signals that tell a reward how the env ended the episode.
    EndSignals { terminated, timeout }
}

/// Event signals resolved against a spec.
#[derive(Clone, Debug)]
pub(crate) struct EventIndices {
    events: [usize; EVENTS.len()],
    end: EndSignals,
}

impl EventIndices {
    pub(crate) fn resolve(reward: &str, spec: &SignalSpec) -> Result<Self, RewardError> {
        Ok(EventIndices {
            events: crate::combinators::resolve_all_names(reward, spec, EVENTS.map(|e| e.signal))?,
            end: EndSignals::resolve(reward, spec)?,
        })
    }

    /// Whether event `e` (an index into [`EVENTS`]) fired this step.
    pub(crate) fn fired(&self, signals: &[f32], e: usize) -> bool {
        signals[self.events[e]] > 0.5
    }

    /// Whether a collision or a red light (CaRL's penalized events) happened this step.
    pub(crate) fn penalized(&self, signals: &[f32]) -> bool {
        (0..EVENTS.len()).any(|e| EVENTS[e].penalized && self.fired(signals, e))
    }

    /// Whether the env ended the episode this step (a termination or the time limit).
    pub(crate) fn ended(&self, signals: &[f32]) -> bool {
        signals[self.end.terminated] > 0.5 || signals[self.end.timeout] > 0.5
    }

    /// The cause of an episode end this step: the first event (in [`EVENTS`] order) that fired.
    /// Returning it also makes a time-out terminal for learning, as CaRL's PPO treats every
    /// end as terminal.
    pub(crate) fn cause(&self, signals: &[f32]) -> Option<usize> {
        if !self.ended(signals) {
            return None;
        }
        (0..EVENTS.len()).find(|&e| self.fired(signals, e))
    }
}

pub(crate) fn cause_names() -> Vec<String> {
    EVENTS.iter().map(|e| e.signal.to_string()).collect()
}
