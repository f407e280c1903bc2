//! Traffic vehicles: kinematic bicycles that follow a lane path chosen at random at each
//! junction, with IDM speed control and pure-pursuit steering (see `planner`).

use rand::{Rng, RngExt};
use rapier2d::prelude::RigidBodyHandle;

use super::geometry::{dir, wrap_angle, Line, V2};
use super::map::Map;
use super::planner::{point_along, pure_pursuit, DriverRules, Planner};

pub const TRAFFIC_WHEELBASE: f32 = 2.7;
pub const TRAFFIC_REAR: f32 = 1.5;
const PATH_LANES: usize = 4;

/// A traffic vehicle's lanes ahead, at most `PATH_LANES`, held inline: the drivers read them
/// every step, and a separate allocation per vehicle costs a cache miss each time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LanePath {
    lanes: [usize; PATH_LANES],
    len: usize,
}

impl LanePath {
    fn starting_at(lane: usize) -> Self {
        LanePath {
            lanes: [lane; PATH_LANES],
            len: 1,
        }
    }

    /// Appends `lane`; the path must not be full.
    fn push(&mut self, lane: usize) {
        self.lanes[self.len] = lane;
        self.len += 1;
    }

    /// Drops the first lane.
    fn pop_front(&mut self) {
        self.lanes.copy_within(1..self.len, 0);
        self.len -= 1;
    }
}

impl std::ops::Deref for LanePath {
    type Target = [usize];

    fn deref(&self) -> &[usize] {
        &self.lanes[..self.len]
    }
}

#[derive(Clone, Debug)]
pub struct TrafficVehicle {
    pub pos: V2,
    pub yaw: f32,
    pub speed: f32,
    pub steer: f32,
    pub accel: f32,
    /// Lanes ahead, `path[0]` the current one.
    pub path: LanePath,
    /// Arc length on `path[0]`.
    pub s: f32,
    /// The segment of `path[0]`'s centre line holding `s` as of the last re-localization (a
    /// hint for the next look-ups on that line).
    seg: usize,
    /// Fraction of the lane speed this driver aims for.
    pub speed_factor: f32,
    /// Seconds spent standing still.
    pub stopped: f32,
    pub body: RigidBodyHandle,
    /// Whether `body` takes part in the physics (it does while the vehicle is within the
    /// ego's reach).
    pub simulated: bool,
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
        let line = map.lane_line(lane);
        let speed_factor = rng.random_range(0.8..1.0);
        let seg = line.segment_at(s);
        let advisory = line.advisory(seg);
        let mut v = TrafficVehicle {
            pos: line.point_at(s),
            yaw: line.heading_at(s),
            speed: advisory * speed_factor * 0.6,
            steer: 0.0,
            accel: 0.0,
            path: LanePath::starting_at(lane),
            s,
            seg,
            speed_factor,
            stopped: 0.0,
            body,
            simulated: true,
            advisory_here: (lane, s.to_bits(), advisory),
        };
        v.extend_path(map, rng);
        v
    }

    fn extend_path<R: Rng + ?Sized>(&mut self, map: &Map, rng: &mut R) {
        while self.path.len() < PATH_LANES {
            let succ = map.successors(*self.path.last().unwrap());
            if succ.is_empty() {
                break;
            }
            self.path
                .push(succ[rng.random_range(0..succ.len())] as usize);
        }
    }

    /// Asks the memory system for the records of the lanes ahead, which planning reads; reads
    /// nothing itself. The first of two passes over all drivers ([`Self::prefetch_lane_data`]
    /// is the second), so the drivers' misses overlap instead of following one another.
    pub fn prefetch_lane_records(&self, map: &Map) {
        for &l in self.path.iter() {
            prefetch(&map.lane_info[l]);
        }
    }

    /// Asks for what planning reads beyond the lanes' records (which this reads): the centre
    /// line at the vehicle, the lanes' merge and conflict lists.
    pub fn prefetch_lane_data(&self, map: &Map) {
        // Two cache lines of vertices from the vehicle on: the steering target lies ahead.
        let ahead = map
            .lane_line(self.path[0])
            .vertices()
            .get(self.seg..)
            .unwrap_or(&[]);
        prefetch(ahead.as_ptr());
        prefetch(ahead.get(LINE_VERTICES..).unwrap_or(&[]).as_ptr());
        for &l in self.path.iter() {
            prefetch(map.merges(l).as_ptr());
            prefetch(map.conflicts(l).as_ptr());
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
            _ => map.lane_line(self.path[0]).advisory_at(self.s),
        };
        let v_cap = limit.min(advisory);
        let accel =
            planner.accel_at_advisory(me, self.pos, &self.path, self.s, self.speed, v_cap, rules);
        let ahead = 2.5 + 0.35 * self.speed;
        let target = point_along(map, &self.path, self.s, self.seg, ahead);
        let steer = pure_pursuit(self.pos, self.yaw, TRAFFIC_REAR, target, TRAFFIC_WHEELBASE)
            .clamp(-0.6, 0.6);
        (accel, steer)
    }

    /// Integrates the kinematic bicycle over `dt`.
    pub fn advance(&mut self, dt: f32) {
        let v = (self.speed + self.accel * dt).max(0.0);
        let mean = 0.5 * (self.speed + v);
        self.speed = v;
        // Standing still, the step below adds signed zeros to the pose, which changes no bits
        // of a finite non-zero coordinate: skip its tangent, sine and cosine.
        let changes_bits = |x: f32| x == 0.0 || !x.is_finite();
        if mean == 0.0
            && self.steer.is_finite()
            && dt.is_finite()
            && ![self.pos.x, self.pos.y, self.yaw]
                .into_iter()
                .any(changes_bits)
        {
            self.yaw = wrap_angle(self.yaw);
            return;
        }
        let yaw_rate = mean * self.steer.tan() / TRAFFIC_WHEELBASE;
        let mid_yaw = self.yaw + 0.5 * yaw_rate * dt;
        self.pos += dir(mid_yaw) * (mean * dt);
        self.yaw = wrap_angle(self.yaw + yaw_rate * dt);
    }

    /// Re-localizes on the lane path after moving; moves to the next lane past the end.
    /// Returns false at a dead end (the vehicle should be respawned).
    pub fn relocalize<R: Rng + ?Sized>(&mut self, map: &Map, rng: &mut R, dt: f32) -> bool {
        let line = map.lane_line(self.path[0]);
        let hint = line.segment_at_from(self.seg, self.s);
        let mut projection = line.project_near(self.pos, hint, 1, 4);
        self.s = projection.s;
        while self.s >= map.lane_info[self.path[0]].length - 0.05 {
            if self.path.len() < 2 {
                return false;
            }
            self.path.pop_front();
            self.extend_path(map, rng);
            projection = map.lane_line(self.path[0]).project_near(self.pos, 0, 0, 4);
            self.s = projection.s;
            if self.s < 0.05 {
                break;
            }
        }
        let line = map.lane_line(self.path[0]);
        self.seg = line.segment_at_from(projection.seg, self.s);
        self.advisory_here = (self.path[0], self.s.to_bits(), line.advisory(self.seg));
        self.stopped = if self.speed < 0.1 {
            self.stopped + dt
        } else {
            0.0
        };
        true
    }

    /// Puts the vehicle at the start of `lane`.
    pub fn respawn<R: Rng + ?Sized>(&mut self, map: &Map, lane: usize, s: f32, rng: &mut R) {
        let (body, simulated) = (self.body, self.simulated);
        *self = TrafficVehicle::new(map, lane, s, rng, body);
        self.simulated = simulated;
    }
}

/// Lane vertices in a cache line.
const LINE_VERTICES: usize = 64 / std::mem::size_of::<crate::driving::map::LaneVertex>();

/// A hint to bring the cache line at `x` into L1; it reads nothing and cannot fault.
#[inline(always)]
fn prefetch<T>(x: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never dereferences its address (any address is allowed).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(x.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
