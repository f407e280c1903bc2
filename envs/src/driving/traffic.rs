//! Traffic vehicles: kinematic bicycles that follow a lane path chosen at random at each
//! junction, with IDM speed control and pure-pursuit steering (see `planner`).

use rand::{Rng, RngExt};
use rapier2d::prelude::RigidBodyHandle;

use super::geometry::{dir, wrap_angle, V2};
use super::map::Map;
use super::planner::{point_along, pure_pursuit, DriverRules, Planner};

pub const TRAFFIC_WHEELBASE: f32 = 2.7;
pub const TRAFFIC_REAR: f32 = 1.5;
const PATH_LANES: usize = 4;

#[derive(Clone, Debug)]
pub struct TrafficVehicle {
    pub pos: V2,
    pub yaw: f32,
    pub speed: f32,
    pub steer: f32,
    pub accel: f32,
    /// Lanes ahead, `path[0]` the current one.
    pub path: Vec<usize>,
    /// Arc length on `path[0]`.
    pub s: f32,
    /// Fraction of the lane speed this driver aims for.
    pub speed_factor: f32,
    /// Seconds spent standing still.
    pub stopped: f32,
    pub body: RigidBodyHandle,
    /// `(lane, s bits, advisory speed at s)` as of the last re-localization, when that lane's
    /// data is in cache; planning reuses it while `path[0]` and `s` are unchanged.
    advisory_here: (usize, u32, f32),
}

impl TrafficVehicle {
    pub fn new<R: Rng + ?Sized>(
        map: &Map,
        lane: usize,
        s: f32,
        rng: &mut R,
        body: RigidBodyHandle,
    ) -> Self {
        let line = &map.lanes[lane].centre;
        let speed_factor = rng.random_range(0.8..1.0);
        let advisory = map.lanes[lane].advisory_at(s);
        let mut v = TrafficVehicle {
            pos: line.point_at(s),
            yaw: line.heading_at(s),
            speed: advisory * speed_factor * 0.6,
            steer: 0.0,
            accel: 0.0,
            path: vec![lane],
            s,
            speed_factor,
            stopped: 0.0,
            body,
            advisory_here: (lane, s.to_bits(), advisory),
        };
        v.extend_path(map, rng);
        v
    }

    fn extend_path<R: Rng + ?Sized>(&mut self, map: &Map, rng: &mut R) {
        while self.path.len() < PATH_LANES {
            let succ = &map.lanes[*self.path.last().unwrap()].successors;
            if succ.is_empty() {
                break;
            }
            self.path.push(succ[rng.random_range(0..succ.len())]);
        }
    }

    /// The lane after the current one, if planned.
    pub fn next_lane(&self) -> Option<usize> {
        self.path.get(1).copied()
    }

    /// Acceleration and steering for the next control step.
    pub fn plan(&self, me: usize, planner: &Planner) -> (f32, f32) {
        let map = planner.map;
        let limit = map.lane_info[self.path[0]].speed_limit * self.speed_factor;
        let rules = DriverRules {
            obey_lights: true,
            yield_at_junctions: true,
        };
        let advisory = match self.advisory_here {
            (lane, s, a) if lane == self.path[0] && s == self.s.to_bits() => a,
            _ => map.lanes[self.path[0]].advisory_at(self.s),
        };
        let v_cap = limit.min(advisory);
        let accel =
            planner.accel_at_advisory(me, self.pos, &self.path, self.s, self.speed, v_cap, rules);
        let ahead = 2.5 + 0.35 * self.speed;
        let target = point_along(map, &self.path, self.s, ahead);
        let steer = pure_pursuit(self.pos, self.yaw, TRAFFIC_REAR, target, TRAFFIC_WHEELBASE)
            .clamp(-0.6, 0.6);
        (accel, steer)
    }

    /// Integrates the kinematic bicycle over `dt`.
    pub fn advance(&mut self, dt: f32) {
        let v = (self.speed + self.accel * dt).max(0.0);
        let mean = 0.5 * (self.speed + v);
        self.speed = v;
        let yaw_rate = mean * self.steer.tan() / TRAFFIC_WHEELBASE;
        let mid_yaw = self.yaw + 0.5 * yaw_rate * dt;
        self.pos += dir(mid_yaw) * (mean * dt);
        self.yaw = wrap_angle(self.yaw + yaw_rate * dt);
    }

    /// Re-localizes on the lane path after moving; moves to the next lane past the end.
    /// Returns false at a dead end (the vehicle should be respawned).
    pub fn relocalize<R: Rng + ?Sized>(&mut self, map: &Map, rng: &mut R, dt: f32) -> bool {
        let line = &map.lanes[self.path[0]].centre;
        let hint = line.segment_at(self.s);
        self.s = line.project_near(self.pos, hint, 1, 4).s;
        while self.s >= map.lane_info[self.path[0]].length - 0.05 {
            if self.path.len() < 2 {
                return false;
            }
            self.path.remove(0);
            self.extend_path(map, rng);
            self.s = map.lanes[self.path[0]]
                .centre
                .project_near(self.pos, 0, 0, 4)
                .s;
            if self.s < 0.05 {
                break;
            }
        }
        let lane = &map.lanes[self.path[0]];
        self.advisory_here = (self.path[0], self.s.to_bits(), lane.advisory_at(self.s));
        self.stopped = if self.speed < 0.1 {
            self.stopped + dt
        } else {
            0.0
        };
        true
    }

    /// Puts the vehicle at the start of `lane`.
    pub fn respawn<R: Rng + ?Sized>(&mut self, map: &Map, lane: usize, s: f32, rng: &mut R) {
        let body = self.body;
        *self = TrafficVehicle::new(map, lane, s, rng, body);
    }
}
