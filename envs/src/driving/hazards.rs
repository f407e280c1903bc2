//! What the ego runs into or towards: red lights crossed, leaving the road, time-to-collision,
//! the next light on the route, and Roach's desired speed near hazards.

use super::env::DrivingEnv;
use super::geometry::{boxes_overlap_along, dir, rotate_by, segments_intersect, Frame, V2};
use super::map::LightState;
use super::traffic::TrafficVehicle;

/// The off-road check samples the footprint on a 3 x 3 grid, at these multiples of the half
/// length and half width: the centre first, then the edge midpoints, then the corners.
const FOOTPRINT_SAMPLES: [(i32, i32); 9] = [
    (0, 0),
    (1, 0),
    (-1, 0),
    (0, 1),
    (0, -1),
    (1, 1),
    (1, -1),
    (-1, 1),
    (-1, -1),
];
/// Share of the footprint outside the drivable area that counts as `off_road`.
const OFF_ROAD_SHARE: f32 = 0.95;
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
        let lines = &self.map.stop_lines;
        self.map.stop_line_grid.any_near(from, to, |i| {
            let l = &lines[i];
            (to - from).dot(l.dir) > 0.0
                && segments_intersect(from, to, l.a, l.b)
                && self.light_state(l.signal) == LightState::Red
        })
    }

    /// More than `OFF_ROAD_SHARE` of the ego footprint's sample points lie outside the drivable
    /// area. Points are tested most likely on the road first, and the test stops as soon as
    /// the share can no longer be exceeded.
    pub(crate) fn is_off_road(&self) -> bool {
        let (hx, hy) = (self.vehicle.length / 2.0, self.vehicle.width / 2.0);
        let total = FOOTPRINT_SAMPLES.len();
        let outside_share = |on_road: usize| (total - on_road) as f32 / total as f32;
        let (sin, cos) = self.ego.yaw.sin_cos();
        let mut on_road = 0;
        for (i, j) in FOOTPRINT_SAMPLES {
            let local = V2::new(i as f32 * hx, j as f32 * hy);
            if self.map.drivable(self.ego.pos + rotate_by(local, sin, cos)) {
                on_road += 1;
                if outside_share(on_road) <= OFF_ROAD_SHARE {
                    return false;
                }
            }
        }
        outside_share(on_road) > OFF_ROAD_SHARE
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
        let ego_frame = Frame::new(self.ego.pos, self.ego.yaw);
        for t in &self.actors.traffic {
            let local = ego_frame.to_local(t.pos);
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
            let lane = &self.map.lane_info[rl.lane];
            let at_end = (rl.lane_s0 + rl.end - rl.start) >= lane.length - LANE_END_TOLERANCE_M;
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
        let ego_dir = dir(e.yaw);
        let check = |pos: V2, yaw: f32, vel: V2, ohalf: V2| {
            if (pos - e.pos).length() > reach + TTC_REACH_M + vel.length() {
                return false;
            }
            let other_dir = dir(yaw);
            (0..TTC_PROJECTIONS).any(|i| {
                let t = TTC_FIRST_S + TTC_STEP_S * i as f32;
                boxes_overlap_along(
                    e.pos + e.vel * t,
                    ego_dir,
                    half,
                    pos + vel * t,
                    other_dir,
                    ohalf,
                )
            })
        };
        // `check`'s first test with a bound on the velocity's length (rounding keeps
        // `|dir(yaw) * speed|` far below it): a vehicle it rules out needs no sine and cosine.
        let out_of_reach = |t: &TrafficVehicle| {
            let speed_bound = t.speed.abs() * (1.0 + 1e-3) + 1e-3;
            (t.pos - e.pos).length() > reach + TTC_REACH_M + speed_bound
        };
        self.actors
            .traffic
            .iter()
            .any(|t| !out_of_reach(t) && check(t.pos, t.yaw, dir(t.yaw) * t.speed, half))
            || self
                .actors
                .obstacles
                .iter()
                .any(|o| check(o.pos, o.yaw, V2::ZERO, o.half))
    }
}
