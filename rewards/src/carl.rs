//! The CaRL route-completion reward (arXiv 2504.17838):
//! `r_t = dRC_t * prod(soft factors) - T`, with T on the step of a collision or a red-light
//! run. The env ends the episode (its `terminate_on`); the reward names the cause.

use carrot_envs::{SignalSpec, StepReward};
use serde::{Deserialize, Serialize};

use crate::events::{cause_names, signal_indices, EventIndices};
use crate::{Reward, RewardError};

/// Config of the CaRL reward; every factor and termination can be switched off for ablations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CarlConfig {
    /// Penalty T subtracted on a step with a vehicle or static collision or a red-light run.
    /// Which events end the episode is the env's `terminate_on`.
    pub terminal_penalty: f32,
    /// Factor 0 while outside the route's lanes.
    pub outside_lanes_factor: bool,
    /// `max(0, 1 - (v - v_limit) / speeding_tolerance)` when above the limit.
    pub speeding_factor: bool,
    pub speeding_tolerance: f32,
    /// Factor `ttc_value` while a time-to-collision violation is held.
    pub ttc_factor: bool,
    pub ttc_value: f32,
    /// `1 - comfort_weight * violated / 6` over the six comfort limits, each held violated
    /// for a while: the env's `comfort_violations` (limits and hold are the env's
    /// `comfort_limits` and `comfort_penalty_ticks`, as they need the signals' history).
    pub comfort_factor: bool,
    pub comfort_weight: f32,
    /// `1 - clip(|lateral offset| / (lane_width / 2), 0, 1)` outside junctions.
    pub lane_centering_factor: bool,
}

impl Default for CarlConfig {
    fn default() -> Self {
        CarlConfig {
            terminal_penalty: 1.0,
            outside_lanes_factor: true,
            speeding_factor: true,
            speeding_tolerance: 2.23,
            ttc_factor: true,
            ttc_value: 0.5,
            comfort_factor: true,
            comfort_weight: 0.5,
            lane_centering_factor: true,
        }
    }
}

const TERMS: [&str; 7] = [
    "progress",
    "factor_outside_lanes",
    "factor_speeding",
    "factor_ttc",
    "factor_comfort",
    "factor_lane_centering",
    "penalty",
];

signal_indices! {
    /// The signals CaRL's formula reads.
    CarlSignals {
        progress,
        outside_route_lanes,
        speed,
        speed_limit,
        ttc_violation,
        comfort_violations,
        lateral_offset,
        lane_width,
        in_junction,
    }
}

/// The CaRL reward built against a driving env's signals.
#[derive(Clone, Debug)]
pub struct CarlReward {
    config: CarlConfig,
    sig: CarlSignals,
    events: EventIndices,
    num_signals: usize,
    terms: Vec<String>,
    causes: Vec<String>,
}

impl CarlReward {
    pub fn new(spec: &SignalSpec, config: CarlConfig) -> Result<Self, RewardError> {
        if config.speeding_tolerance.is_nan() || config.speeding_tolerance <= 0.0 {
            return Err(RewardError::Invalid {
                reward: "carl".into(),
                message: "speeding_tolerance must be positive".into(),
            });
        }
        Ok(CarlReward {
            sig: CarlSignals::resolve("carl", spec)?,
            events: EventIndices::resolve("carl", spec)?,
            config,
            num_signals: spec.len(),
            terms: TERMS.iter().map(|s| s.to_string()).collect(),
            causes: cause_names(),
        })
    }
}

impl StepReward for CarlReward {
    fn term_names(&self) -> &[String] {
        &self.terms
    }

    fn cause_names(&self) -> &[String] {
        &self.causes
    }

    fn evaluate(&self, s: &[f32], terms: &mut [f32]) -> (f32, Option<usize>) {
        let c = &self.config;
        let i = &self.sig;
        let progress = s[i.progress].max(0.0);
        let outside = if c.outside_lanes_factor && s[i.outside_route_lanes] > 0.5 {
            0.0
        } else {
            1.0
        };
        let speeding = if c.speeding_factor {
            let over = (s[i.speed] - s[i.speed_limit]).max(0.0);
            (1.0 - over / c.speeding_tolerance).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let ttc = if c.ttc_factor && s[i.ttc_violation] > 0.5 {
            c.ttc_value
        } else {
            1.0
        };
        let comfort = if c.comfort_factor {
            1.0 - c.comfort_weight * s[i.comfort_violations].clamp(0.0, 6.0) / 6.0
        } else {
            1.0
        };
        let centering = if c.lane_centering_factor && s[i.in_junction] < 0.5 {
            let half = (s[i.lane_width] * 0.5).max(1e-3);
            1.0 - (s[i.lateral_offset].abs() / half).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let penalty = if self.events.penalized(s) {
            c.terminal_penalty
        } else {
            0.0
        };
        let r = progress * outside * speeding * ttc * comfort * centering - penalty;
        terms.copy_from_slice(&[
            progress, outside, speeding, ttc, comfort, centering, -penalty,
        ]);
        (r, self.events.cause(s))
    }
}

impl Reward for CarlReward {
    fn id(&self) -> &str {
        "carl"
    }
    fn num_signals(&self) -> usize {
        self.num_signals
    }
}
