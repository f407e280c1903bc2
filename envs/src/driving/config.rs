//! The driving env's configuration, validated when the env is built.

use serde::{Deserialize, Serialize};

use super::comfort::ComfortLimits;
use super::events::terminating_default;
use super::map::MapFamily;
use crate::EnvError;

/// How the policy's action is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrivingAction {
    /// `[steer, accel]` in [-1, 1]^2; steer > 0 turns left, accel < 0 brakes.
    Continuous,
    /// One of 5 steering levels x 3 pedal levels (see `DISCRETE_ACTIONS`).
    Discrete,
}

/// Config of the `driving` env. Every field has a default; unknown keys are rejected.
///
/// ```toml
/// [env]
/// id = "driving"
/// map = "town"
/// traffic = 10
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrivingConfig {
    /// Map family: "town", "rural" or "highway"; `maps` mixes several (one drawn per episode).
    pub map: MapFamily,
    /// When non-empty, each episode draws its family from this list instead of `map`.
    pub maps: Vec<MapFamily>,
    /// Maps come from a pool of `map_pool` seeds per family derived from `map_seed`; each
    /// episode draws one. `map_pool = 1` is a single fixed map; `0` a new map every episode.
    /// Use another `map_seed` for held-out evaluation maps.
    pub map_seed: u64,
    pub map_pool: usize,
    /// Number of traffic vehicles.
    pub traffic: usize,
    /// Number of parked cars and roadside obstacles.
    pub parked: usize,
    /// Route length range in metres.
    pub route_min_m: f32,
    pub route_max_m: f32,
    /// Episode time limit: `time_limit_base_s + time_limit_per_m_s * route length`.
    pub time_limit_base_s: f32,
    pub time_limit_per_m_s: f32,
    /// Route points in the observation, and their spacing (m).
    pub route_points: usize,
    pub route_point_spacing_m: f32,
    /// Nearest vehicles in the observation, and the radius they are searched in (m).
    pub nearest_vehicles: usize,
    pub vehicle_radius_m: f32,
    /// Number of rays in the ring, and their range (m).
    pub rays: usize,
    pub ray_range_m: f32,
    /// Physics sub-steps per 0.1 s control step.
    pub physics_substeps: usize,
    pub action: DrivingAction,
    /// Signals that end the episode (see the signal list); `route_finished` always does. The
    /// env is the one place that decides an episode's end; reward modules only see it (the
    /// `terminated` signal). Default: every event of `EVENTS` marked terminating.
    pub terminate_on: Vec<String>,
    /// Seconds below 0.1 m/s before `blocked` fires.
    pub blocked_seconds: f32,
    /// Control steps `ttc_violation` stays 1 after a violation (CaRL's `ttc_penalty_ticks`).
    pub ttc_penalty_ticks: u32,
    /// Control steps each violated comfort limit stays counted (CaRL's
    /// `comfort_penalty_ticks`), and the six limits (CaRL's CARLA values by default).
    pub comfort_penalty_ticks: u32,
    pub comfort_limits: ComfortLimits,
    /// Roach's lateral-deviation event fires beyond `max(lane_deviation_min_m, last lateral
    /// distance)` from the route (Roach's `min_thresh_lat_dist`, 3.5 m).
    pub lane_deviation_min_m: f32,
    /// Evaluation mode of the CARLA leaderboard: collisions and red lights are counted (and
    /// lower the infraction score) but do not end the episode. Every episode reports the mode
    /// in the metric `continues_after_infractions`.
    pub continue_after_infractions: bool,
    /// Distance from the route (m) that counts as `route_deviation`.
    pub route_deviation_m: f32,
    /// Roach's v_max for `desired_speed` (m/s); with `desired_speed_from_limit` the lane's
    /// speed limit is used instead.
    pub desired_speed_max: f32,
    pub desired_speed_from_limit: bool,
}

impl Default for DrivingConfig {
    fn default() -> Self {
        DrivingConfig {
            map: MapFamily::Town,
            maps: Vec::new(),
            map_seed: 0,
            map_pool: 64,
            traffic: 10,
            parked: 12,
            route_min_m: 300.0,
            route_max_m: 1000.0,
            time_limit_base_s: 60.0,
            time_limit_per_m_s: 0.8,
            route_points: 10,
            route_point_spacing_m: 4.0,
            nearest_vehicles: 6,
            vehicle_radius_m: 50.0,
            rays: 16,
            ray_range_m: 40.0,
            physics_substeps: 2,
            action: DrivingAction::Continuous,
            terminate_on: terminating_default(),
            blocked_seconds: 90.0,
            ttc_penalty_ticks: 500,
            comfort_penalty_ticks: 500,
            comfort_limits: ComfortLimits::default(),
            lane_deviation_min_m: 3.5,
            continue_after_infractions: false,
            route_deviation_m: 30.0,
            desired_speed_max: 6.0,
            desired_speed_from_limit: false,
        }
    }
}

impl DrivingConfig {
    pub fn validate(&self, signal_names: &[&str]) -> Result<(), EnvError> {
        let fail = |message: String| {
            Err(EnvError::InvalidConfig {
                env: "driving".into(),
                message,
            })
        };
        let positive = [
            ("route_min_m", self.route_min_m),
            ("route_point_spacing_m", self.route_point_spacing_m),
            ("vehicle_radius_m", self.vehicle_radius_m),
            ("ray_range_m", self.ray_range_m),
            ("blocked_seconds", self.blocked_seconds),
            ("route_deviation_m", self.route_deviation_m),
            ("desired_speed_max", self.desired_speed_max),
            ("lane_deviation_min_m", self.lane_deviation_min_m),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return fail(format!("{name} must be positive, got {v}"));
            }
        }
        for (name, v) in [
            ("time_limit_base_s", self.time_limit_base_s),
            ("time_limit_per_m_s", self.time_limit_per_m_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return fail(format!("{name} must be >= 0, got {v}"));
            }
        }
        if !(self.route_max_m >= self.route_min_m && self.route_max_m <= 5000.0) {
            return fail(format!(
                "route_max_m must lie in route_min_m..=5000, got {}",
                self.route_max_m
            ));
        }
        if self.time_limit_base_s + self.time_limit_per_m_s * self.route_min_m < 1.0 {
            return fail("the time limit must be at least one second".into());
        }
        if !(1..=16).contains(&self.physics_substeps) {
            return fail(format!(
                "physics_substeps must be in 1..=16, got {}",
                self.physics_substeps
            ));
        }
        if self.traffic > 200 || self.parked > 200 {
            return fail("traffic and parked are limited to 200 each".into());
        }
        if self.rays > 256 || self.route_points > 100 || self.nearest_vehicles > 64 {
            return fail("rays <= 256, route_points <= 100, nearest_vehicles <= 64".into());
        }
        let l = &self.comfort_limits;
        let magnitudes = [l.lat_accel, l.jerk, l.lon_jerk, l.yaw_rate, l.yaw_accel];
        if !(l.lon_accel_min < l.lon_accel_max && magnitudes.iter().all(|m| *m > 0.0)) {
            return fail(
                "comfort_limits: lon_accel_min must be below lon_accel_max and every other \
                 limit positive"
                    .into(),
            );
        }
        for (name, ticks) in [
            ("ttc_penalty_ticks", self.ttc_penalty_ticks),
            ("comfort_penalty_ticks", self.comfort_penalty_ticks),
        ] {
            if ticks == 0 {
                return fail(format!("{name} must be at least 1"));
            }
        }
        for name in &self.terminate_on {
            if !signal_names.contains(&name.as_str()) {
                return fail(format!(
                    "terminate_on names unknown signal '{name}' (signals: {})",
                    signal_names.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The family of an episode, given a uniform draw.
    pub fn family(&self, draw: usize) -> MapFamily {
        if self.maps.is_empty() {
            self.map
        } else {
            self.maps[draw % self.maps.len()]
        }
    }
}
