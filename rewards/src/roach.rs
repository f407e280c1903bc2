//! The shaped Roach-style reward that CaRL compares against:
//! `r = r_speed + r_position + r_rotation + r_action + r_terminal`. Roach's own terminations
//! (its lateral deviation, no off-road end) are the env's: `terminate_on` set to
//! `carrot_envs::driving::ROACH_TERMINATIONS`.

use carrot_envs::{SignalSpec, StepReward};
use serde::{Deserialize, Serialize};

use crate::events::{cause_names, signal_indices, EventIndices};
use crate::{Reward, RewardError};

/// Weights and constants of the shaped reward.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoachConfig {
    /// `r_speed = speed_weight * (1 - |v - v_desired| / v_max)`.
    pub speed_weight: f32,
    pub v_max: f32,
    /// `r_position = -position_weight * lateral_distance`.
    pub position_weight: f32,
    /// `r_rotation = -rotation_weight * |heading_error|`.
    pub rotation_weight: f32,
    /// `r_action = -action_penalty` when the steering changed by more than `steer_change_threshold`.
    pub action_penalty: f32,
    pub steer_change_threshold: f32,
    /// `r_terminal = -terminal_penalty` on any episode end, minus `speed` for collisions and
    /// red lights when `speed_penalty` is set.
    pub terminal_penalty: f32,
    pub speed_penalty: bool,
}

impl Default for RoachConfig {
    fn default() -> Self {
        RoachConfig {
            speed_weight: 1.0,
            v_max: 6.0,
            position_weight: 0.5,
            rotation_weight: 1.0,
            action_penalty: 0.1,
            steer_change_threshold: 0.01,
            terminal_penalty: 1.0,
            speed_penalty: true,
        }
    }
}

const TERMS: [&str; 5] = ["speed", "position", "rotation", "action", "terminal"];
signal_indices! {
    /// The signals Roach's formula reads.
    RoachSignals {
        speed,
        desired_speed,
        lateral_distance,
        heading_error,
        steer_change,
    }
}

/// The Roach-style shaped reward built against a driving env's signals.
#[derive(Clone, Debug)]
pub struct RoachReward {
    config: RoachConfig,
    sig: RoachSignals,
    events: EventIndices,
    num_signals: usize,
    terms: Vec<String>,
    causes: Vec<String>,
}

impl RoachReward {
    pub fn new(spec: &SignalSpec, config: RoachConfig) -> Result<Self, RewardError> {
        if config.v_max.is_nan() || config.v_max <= 0.0 {
            return Err(RewardError::Invalid {
                reward: "roach".into(),
                message: "v_max must be positive".into(),
            });
        }
        Ok(RoachReward {
            sig: RoachSignals::resolve("roach", spec)?,
            events: EventIndices::resolve("roach", spec)?,
            config,
            num_signals: spec.len(),
            terms: TERMS.iter().map(|s| s.to_string()).collect(),
            causes: cause_names(),
        })
    }
}

impl StepReward for RoachReward {
    fn term_names(&self) -> &[String] {
        &self.terms
    }

    fn cause_names(&self) -> &[String] {
        &self.causes
    }

    fn evaluate(&self, s: &[f32], terms: &mut [f32]) -> (f32, Option<usize>) {
        let c = &self.config;
        let i = &self.sig;
        let v = s[i.speed];
        let speed = c.speed_weight * (1.0 - (v - s[i.desired_speed]).abs() / c.v_max);
        let position = -c.position_weight * s[i.lateral_distance].abs();
        let rotation = -c.rotation_weight * s[i.heading_error].abs();
        let action = if s[i.steer_change].abs() > c.steer_change_threshold {
            -c.action_penalty
        } else {
            0.0
        };
        // Every episode end (time-outs and finished routes included) pays the terminal term.
        let mut terminal = if self.events.ended(s) {
            -c.terminal_penalty
        } else {
            0.0
        };
        if c.speed_penalty && self.events.penalized(s) {
            terminal -= v.abs();
        }
        terms.copy_from_slice(&[speed, position, rotation, action, terminal]);
        (
            speed + position + rotation + action + terminal,
            self.events.cause(s),
        )
    }
}

impl Reward for RoachReward {
    fn id(&self) -> &str {
        "roach"
    }
    fn num_signals(&self) -> usize {
        self.num_signals
    }
}
