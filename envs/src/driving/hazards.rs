//! What the ego runs into or towards: red lights crossed, leaving the road, time-to-collision,
//! the next light on the route, and Roach's desired speed near hazards.

use super::env::DrivingEnv;
use super::geometry::{boxes_overlap, dir, rotate, segments_intersect, to_frame, V2};
use super::map::LightState;

/// The footprint is sampled on a grid of this many points per side for the off-road check.
const FOOTPRINT_GRID: i32 = 3;
/// Time-to-collision: constant-velocity projections at `TTC_FIRST_S + k * TTC_STEP_S`.
const TTC_FIRST_S: f32 = 0.1;
const TTC_STEP_S: f32 = 0.2;
const TTC_PROJECTIONS: usize = 5;
/// Actors further than this plus both speeds (m, m/s over the horizon) are skipped.
const TTC_REACH_M: f32 = 5.0;
/// Roach's desired speed: a vehicle ahead within this lateral band and distance lowers it,
/// ramping from zero at `VEHICLE_STOP_M` over `RAMP_M`; likewise a red or yellow light on the
/// route.
const VEHICLE_BAND_M: f32 = 2.5;
const VEHICLE_NEAR_M: f32 = 9.5;
const VEHICLE_STOP_M: f32 = 8.0;
const LIGHT_NEAR_M: f32 = 18.0;
const LIGHT_STOP_M: f32 = 5.0;
const RAMP_M: f32 = 5.0;
/// The next light is looked for on route lanes starting within this distance (m).
const LIGHT_LOOKAHEAD_M: f32 = 100.0;
/// A route lane "reaches the stop line" when it ends this close to its lane's end (m), and a
/// stop line counts as ahead until the ego is this far past it (m).
const LANE_END_TOLERANCE_M: f32 = 0.5;
const STOP_LINE_PASSED_M: f32 = 0.5;

impl DrivingEnv {
    /// Did the ego cross a stop line at red moving from `from` to `to`?
    pub(crate) fn ran_red_light(&self, from: V2, to: V2) -> bool {
        self.actors.stop_lines.iter().any(|l| {
            (to - from).dot(l.dir) > 0.0
                && segments_intersect(from, to, l.a, l.b)
                && self.light_state(l.signal) == LightState::Red
        })
    }

    /// Fraction of the ego footprint outside the drivable area, from grid sample points.
    pub(crate) fn off_road_fraction(&self) -> f32 {
        let (hx, hy) = (self.vehicle.length / 2.0, self.vehicle.width / 2.0);
        let reach = FOOTPRINT_GRID / 2;
        let mut outside = 0;
        for i in -reach..=reach {
            for j in -reach..=reach {
                let local = V2::new(i as f32 * hx, j as f32 * hy);
                if !self
                    .map
                    .drivable(self.ego.pos + rotate(local, self.ego.yaw))
                {
                    outside += 1;
                }
            }
        }
        outside as f32 / (FOOTPRINT_GRID * FOOTPRINT_GRID) as f32
    }

    /// Roach's target speed: v_max, lowered near a vehicle ahead or a red or yellow light on the
    /// route (as Roach).
    pub(crate) fn desired_speed(&self, limit: f32) -> f32 {
        let v_max = if self.config.desired_speed_from_limit {
            limit
        } else {
            self.config.desired_speed_max
        };
        let mut v = v_max;
        for t in &self.actors.traffic {
            let local = to_frame(t.pos, self.ego.pos, self.ego.yaw);
            let d = local.length();
            if local.x > 0.0 && local.y.abs() < VEHICLE_BAND_M && d < VEHICLE_NEAR_M {
                v = v.min(v_max * ((d - VEHICLE_STOP_M).clamp(0.0, RAMP_M) / RAMP_M));
            }
        }
        if let Some((state, d)) = self.next_light() {
            if state != LightState::Green && d < LIGHT_NEAR_M {
                v = v.min(v_max * ((d - LIGHT_STOP_M).clamp(0.0, RAMP_M) / RAMP_M));
            }
        }
        v
    }

    /// The next light on the route ahead of the ego and the distance to its stop line.
    pub fn next_light(&self) -> Option<(LightState, f32)> {
        let route = &self.tracker.route;
        let s = self.tracker.proj.s;
        let k = route.lane_index_at(s);
        for rl in &route.lanes[k..] {
            let lane = &self.map.lanes[rl.lane];
            let at_end = (rl.lane_s0 + rl.end - rl.start) >= lane.length() - LANE_END_TOLERANCE_M;
            if let (Some(signal), true) = (lane.signal, at_end) {
                let d = rl.end - s;
                if d > -STOP_LINE_PASSED_M {
                    return Some((self.light_state(signal), d.max(0.0)));
                }
            }
            if rl.end - s > LIGHT_LOOKAHEAD_M {
                break;
            }
        }
        None
    }

    /// Does a constant-velocity projection over the next second overlap another actor?
    pub(crate) fn ttc_violation(&self) -> bool {
        let e = &self.ego;
        let half = V2::new(self.vehicle.length / 2.0, self.vehicle.width / 2.0);
        let reach = TTC_REACH_M + e.vel.length();
        let check = |pos: V2, yaw: f32, vel: V2, ohalf: V2| {
            if (pos - e.pos).length() > reach + TTC_REACH_M + vel.length() {
                return false;
            }
            (0..TTC_PROJECTIONS).any(|i| {
                let t = TTC_FIRST_S + TTC_STEP_S * i as f32;
                boxes_overlap(e.pos + e.vel * t, e.yaw, half, pos + vel * t, yaw, ohalf)
            })
        };
        self.actors
            .traffic
            .iter()
            .any(|t| check(t.pos, t.yaw, dir(t.yaw) * t.speed, half))
            || self
                .actors
                .obstacles
                .iter()
                .any(|o| check(o.pos, o.yaw, V2::ZERO, o.half))
    }
}
