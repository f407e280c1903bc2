use carrot_envs::SignalSpec;
use serde::{Deserialize, Serialize};

use crate::RewardError;

/// The driving world's episode-ending events, in the order they are reported as causes.
pub const EVENTS: [&str; 8] = [
    "collision_vehicle",
    "collision_static",
    "red_light",
    "blocked",
    "route_deviation",
    "off_road",
    "timeout",
    "route_finished",
];

/// Which events end the episode (each switchable for ablations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Terminations {
    pub collision_vehicle: bool,
    pub collision_static: bool,
    pub red_light: bool,
    pub blocked: bool,
    pub route_deviation: bool,
    pub off_road: bool,
    pub timeout: bool,
    pub route_finished: bool,
}

impl Default for Terminations {
    fn default() -> Self {
        Terminations {
            collision_vehicle: true,
            collision_static: true,
            red_light: true,
            blocked: true,
            route_deviation: true,
            off_road: true,
            timeout: true,
            route_finished: true,
        }
    }
}

impl Terminations {
    fn enabled(&self) -> [bool; 8] {
        [
            self.collision_vehicle,
            self.collision_static,
            self.red_light,
            self.blocked,
            self.route_deviation,
            self.off_road,
            self.timeout,
            self.route_finished,
        ]
    }
}

/// Event signals resolved against a spec, with the termination switches applied.
#[derive(Clone, Debug)]
pub(crate) struct EventIndices {
    indices: [usize; 8],
    enabled: [bool; 8],
}

/// Cause index of a vehicle or static collision or a red light: the CaRL-penalized events.
pub(crate) const PENALIZED: [usize; 3] = [0, 1, 2];

impl EventIndices {
    pub(crate) fn resolve(
        reward: &str,
        spec: &SignalSpec,
        terminations: &Terminations,
    ) -> Result<Self, RewardError> {
        Ok(EventIndices {
            indices: crate::combinators::resolve_all_names(reward, spec, EVENTS)?,
            enabled: terminations.enabled(),
        })
    }

    /// Whether event `e` (an index into [`EVENTS`]) fired this step.
    pub(crate) fn fired(&self, signals: &[f32], e: usize) -> bool {
        signals[self.indices[e]] > 0.5
    }

    /// The first enabled event that fired this step.
    pub(crate) fn termination(&self, signals: &[f32]) -> Option<usize> {
        (0..EVENTS.len()).find(|&e| self.enabled[e] && self.fired(signals, e))
    }
}

pub(crate) fn cause_names() -> Vec<String> {
    EVENTS.iter().map(|s| s.to_string()).collect()
}
