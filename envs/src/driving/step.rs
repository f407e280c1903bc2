//! The control step: traffic planning, physics sub-steps, route tracking, infractions and
//! the per-step signals.

use super::config::DrivingAction;
use super::env::{DrivingEnv, EgoState, CONTROL_DT, DISCRETE_ACTIONS, NEUTRAL_ACTION};
use super::geometry::{
    boxes_overlap, dir, left, rotate, segments_intersect, to_frame, wrap_angle, V2,
};
use super::map::LightState;
use super::signals::Sig;
use super::vehicle::BodyVelocity;
use crate::StepOutcome;
use rand::RngExt;

impl DrivingEnv {
    /// Reads the action as `(steer, pedal)`; non-finite values count as zero.
    fn decode_action(&self, action: &[f32]) -> (f32, f32) {
        let clean = |x: f32| {
            if x.is_finite() {
                x.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        };
        match self.config.action {
            DrivingAction::Continuous => (
                clean(action.first().copied().unwrap_or(0.0)),
                clean(action.get(1).copied().unwrap_or(0.0)),
            ),
            DrivingAction::Discrete => {
                let a = action.first().copied().unwrap_or(0.0);
                let i = if a.is_finite() {
                    (a.round().max(0.0) as usize).min(DISCRETE_ACTIONS.len() - 1)
                } else {
                    NEUTRAL_ACTION
                };
                (DISCRETE_ACTIONS[i][0], DISCRETE_ACTIONS[i][1])
            }
        }
    }

    /// Moves traffic and the ego through one control step of physics sub-steps.
    fn simulate(&mut self, steer: f32, pedal: f32) -> (bool, bool) {
        let mut plans = std::mem::take(&mut self.plans);
        plans.clear();
        {
            let planner = self.planner();
            plans.extend(
                self.traffic
                    .iter()
                    .enumerate()
                    .map(|(i, t)| t.plan(i + 1, &planner)),
            );
        }
        for (t, &(accel, steer)) in self.traffic.iter_mut().zip(&plans) {
            t.accel = accel;
            t.steer = steer;
        }
        self.plans = plans;
        let substeps = self.config.physics_substeps;
        let dt = CONTROL_DT / substeps as f32;
        let v = self.vehicle;
        let angle = steer * v.max_steer;
        let (mut hit_vehicle, mut hit_static) = (false, false);
        for _ in 0..substeps {
            let (pos, yaw, vel, yaw_rate) = self.physics.ego_state();
            let _ = pos;
            let body = body_velocity(vel, yaw, yaw_rate);
            let next = v.advance(body, angle, pedal, dt);
            let new_yaw = yaw + next.yaw_rate * dt;
            let target = rotate(V2::new(next.vx, next.vy), new_yaw);
            self.physics.push_ego(
                target - vel,
                next.yaw_rate - yaw_rate,
                v.mass,
                v.yaw_inertia,
            );
            for t in self.traffic.iter_mut() {
                t.advance(dt);
                self.physics.set_vehicle_pose(t.body, t.pos, t.yaw);
            }
            self.physics.step();
            let (a, b) = self.physics.take_collisions();
            hit_vehicle |= a;
            hit_static |= b;
        }
        (hit_vehicle, hit_static)
    }

    fn relocalize_traffic(&mut self) {
        for i in 0..self.traffic.len() {
            let alive = self.traffic[i].relocalize(&self.map, &mut self.rng, CONTROL_DT);
            let far_from_ego = (self.traffic[i].pos - self.ego.pos).length() > 60.0;
            let stuck = self.traffic[i].stopped > 60.0 && far_from_ego;
            if !alive || stuck {
                self.respawn_traffic(i);
            }
        }
    }

    /// Moves vehicle `i` to a free spot far from the ego: a lane start where the map has
    /// entries (highway), anywhere on a spawn lane otherwise.
    fn respawn_traffic(&mut self, i: usize) {
        let entries: Vec<usize> = (0..self.map.lanes.len())
            .filter(|&l| self.map.lanes[l].predecessors.is_empty())
            .collect();
        for _ in 0..20 {
            let (lane, s) = if entries.is_empty() {
                let lanes = &self.map.spawn_lanes;
                let lane = lanes[self.rng.random_range(0..lanes.len())];
                (
                    lane,
                    self.rng
                        .random_range(2.0..self.map.lanes[lane].length() - 2.0),
                )
            } else {
                (entries[self.rng.random_range(0..entries.len())], 1.0)
            };
            let p = self.map.lanes[lane].centre.point_at(s);
            let clear = (p - self.ego.pos).length() > 40.0
                && self
                    .traffic
                    .iter()
                    .enumerate()
                    .all(|(j, t)| j == i || (t.pos - p).length() > 15.0);
            if clear {
                let map = self.map.clone();
                self.traffic[i].respawn(&map, lane, s, &mut self.rng);
                let t = &self.traffic[i];
                self.physics.place_vehicle(t.body, t.pos, t.yaw);
                return;
            }
        }
    }

    /// Did the ego cross a stop line at red moving from `from` to `to`?
    fn ran_red_light(&self, from: V2, to: V2) -> bool {
        self.stop_lines.iter().any(|l| {
            (to - from).dot(l.dir) > 0.0
                && segments_intersect(from, to, l.a, l.b)
                && self.light_state(l.signal) == LightState::Red
        })
    }

    /// Fraction of the ego footprint outside the drivable area, from 3 x 3 sample points.
    fn off_road_fraction(&self) -> f32 {
        let (hx, hy) = (self.vehicle.length / 2.0, self.vehicle.width / 2.0);
        let mut outside = 0;
        for i in -1..=1 {
            for j in -1..=1 {
                let local = V2::new(i as f32 * hx, j as f32 * hy);
                if !self
                    .map
                    .drivable(self.ego.pos + rotate(local, self.ego.yaw))
                {
                    outside += 1;
                }
            }
        }
        outside as f32 / 9.0
    }

    pub(crate) fn step_inner(
        &mut self,
        action: &[f32],
        obs: &mut [f32],
        sig: &mut [f32],
    ) -> StepOutcome {
        let (steer, pedal) = self.decode_action(action);
        let prev = self.ego;
        let (hit_vehicle, hit_static) = self.simulate(steer, pedal);
        self.time += CONTROL_DT;
        self.steps += 1;
        let (pos, yaw, vel, yaw_rate) = self.physics.ego_state();
        if !(pos.is_finite() && yaw.is_finite() && vel.is_finite() && yaw_rate.is_finite()) {
            self.physics
                .set_ego_state(prev.pos, prev.yaw, V2::ZERO, 0.0);
            self.ego.vel = V2::ZERO;
            self.write_observation(obs);
            sig.iter_mut().for_each(|x| *x = 0.0);
            return StepOutcome {
                terminated: true,
                truncated: false,
                physics_failure: true,
            };
        }
        let accel = (vel - prev.vel) / CONTROL_DT;
        let heading = dir(yaw);
        self.ego = EgoState {
            pos,
            yaw,
            vel,
            yaw_rate,
            body: body_velocity(vel, yaw, yaw_rate),
            accel,
            lon_accel: accel.dot(heading),
            steer,
            pedal,
        };
        self.relocalize_traffic();

        // Route progress: only while moving forward along the route past the furthest point
        // reached, capped by the distance actually driven (no gains from teleports or jumps).
        let moved = (pos - prev.pos).length();
        let proj = self.route.line.project_near(pos, self.proj.seg, 3, 12);
        let proj = if proj.dist > 15.0 {
            self.route.line.project(pos)
        } else {
            proj
        };
        let forward = proj.s - self.proj.s;
        self.proj = proj;
        let before = self.max_s;
        if proj.dist <= 10.0 && proj.s > self.max_s && forward > 0.0 {
            self.max_s += (proj.s - self.max_s).min(forward).min(moved + 0.5);
        }
        let finished = self.max_s >= self.route.length() - 1.0;
        if finished {
            self.max_s = self.route.length();
        }
        let progress = 100.0 * (self.max_s - before) / self.route.length();
        let rc = self.route_completion();

        let k = self.route.lane_index_at(proj.s);
        let map = self.map.clone();
        let lane = &map.lanes[self.route.lanes[k].lane];
        let route_heading = self.route.line.direction_at(proj.s);
        let heading_error = wrap_angle(route_heading.y.atan2(route_heading.x) - yaw);
        let outside =
            heading_error.abs() > std::f32::consts::FRAC_PI_2 || proj.dist > lane.width * 0.5 + 0.5;
        let red = self.ran_red_light(prev.pos, pos);
        self.still_seconds = if self.ego.body.vx.abs() < 0.1 && vel.length() < 0.1 {
            self.still_seconds + CONTROL_DT
        } else {
            0.0
        };
        let blocked = self.still_seconds > self.config.blocked_seconds;
        if blocked {
            self.still_seconds = 0.0;
        }
        let deviation = proj.dist > self.config.route_deviation_m;
        let off_road = self.off_road_fraction() > 0.95;
        let timeout = self.steps >= self.max_steps;

        self.update_occupants();
        self.cast_rays();
        if self.ttc_violation() {
            self.ttc_hold = self.config.ttc_hold_seconds.max(CONTROL_DT);
        }
        let ttc = self.ttc_hold > 1e-6;
        self.ttc_hold = (self.ttc_hold - CONTROL_DT).max(0.0);

        let t = &mut self.tally;
        t.route_completion = rc;
        t.distance += moved;
        if outside {
            t.off_route_distance += moved;
        }
        t.collisions_vehicle += hit_vehicle as u32;
        t.collisions_static += hit_static as u32;
        t.red_lights += red as u32;
        t.off_road += off_road as u32;
        t.route_deviation += deviation as u32;
        t.blocked += blocked as u32;

        let flag = |b: bool| b as u32 as f32;
        let jerk = (accel - prev.accel).length() / CONTROL_DT;
        let lon_jerk = (self.ego.lon_accel - prev.lon_accel) / CONTROL_DT;
        sig[Sig::Progress as usize] = progress;
        sig[Sig::RouteCompletion as usize] = rc;
        sig[Sig::Distance as usize] = moved;
        sig[Sig::CollisionVehicle as usize] = flag(hit_vehicle);
        sig[Sig::CollisionStatic as usize] = flag(hit_static);
        sig[Sig::RedLight as usize] = flag(red);
        sig[Sig::Blocked as usize] = flag(blocked);
        sig[Sig::RouteDeviation as usize] = flag(deviation);
        sig[Sig::OffRoad as usize] = flag(off_road);
        sig[Sig::Timeout as usize] = 0.0;
        sig[Sig::RouteFinished as usize] = flag(finished);
        sig[Sig::OutsideRouteLanes as usize] = flag(outside);
        sig[Sig::Speed as usize] = self.ego.body.vx;
        sig[Sig::SpeedLimit as usize] = lane.speed_limit;
        sig[Sig::TtcViolation as usize] = flag(ttc);
        sig[Sig::LonAccel as usize] = self.ego.lon_accel;
        sig[Sig::LatAccel as usize] = accel.dot(left(heading));
        sig[Sig::Jerk as usize] = jerk;
        sig[Sig::LonJerk as usize] = lon_jerk;
        sig[Sig::YawRate as usize] = yaw_rate;
        sig[Sig::YawAccel as usize] = (yaw_rate - prev.yaw_rate) / CONTROL_DT;
        sig[Sig::LateralOffset as usize] = proj.lateral;
        sig[Sig::LaneWidth as usize] = lane.width;
        sig[Sig::InJunction as usize] = flag(lane.in_junction());
        sig[Sig::DesiredSpeed as usize] = self.desired_speed(lane.speed_limit);
        sig[Sig::LateralDistance as usize] = proj.dist;
        sig[Sig::HeadingError as usize] = heading_error;
        sig[Sig::SteerChange as usize] = (steer - prev.steer).abs();
        sig[Sig::Steer as usize] = steer;
        sig[Sig::AccelCmd as usize] = pedal;
        sig[Sig::TimeLeft as usize] =
            (self.max_steps - self.steps.min(self.max_steps)) as f32 * CONTROL_DT;
        sig[Sig::RouteLeft as usize] = self.route.length() - self.max_s;

        let terminated = finished || self.terminate_on.iter().any(|&i| sig[i] > 0.5);
        let truncated = timeout && !terminated;
        if truncated {
            sig[Sig::Timeout as usize] = 1.0;
            self.tally.timeouts += 1;
        }
        self.write_observation(obs);
        StepOutcome {
            terminated,
            truncated,
            physics_failure: false,
        }
    }

    /// Roach's target speed: v_max, lowered near a vehicle ahead (within 9.5 m) or a red light
    /// on the route (within 18 m).
    fn desired_speed(&self, limit: f32) -> f32 {
        let v_max = if self.config.desired_speed_from_limit {
            limit
        } else {
            self.config.desired_speed_max
        };
        let mut v = v_max;
        for t in &self.traffic {
            let local = to_frame(t.pos, self.ego.pos, self.ego.yaw);
            let d = local.length();
            if local.x > 0.0 && local.y.abs() < 2.5 && d < 9.5 {
                v = v.min(v_max * ((d - 8.0).clamp(0.0, 5.0) / 5.0));
            }
        }
        if let Some((state, d)) = self.next_light() {
            if state == LightState::Red && d < 18.0 {
                v = v.min(v_max * ((d - 5.0).clamp(0.0, 5.0) / 5.0));
            }
        }
        v
    }

    /// The next light on the route ahead of the ego and the distance to its stop line.
    pub fn next_light(&self) -> Option<(LightState, f32)> {
        let k = self.route.lane_index_at(self.proj.s);
        for rl in &self.route.lanes[k..] {
            let lane = &self.map.lanes[rl.lane];
            let at_end = (rl.lane_s0 + rl.end - rl.start) >= lane.length() - 0.5;
            if let (Some(signal), true) = (lane.signal, at_end) {
                let d = rl.end - self.proj.s;
                if d > -0.5 {
                    return Some((self.light_state(signal), d.max(0.0)));
                }
            }
            if rl.end - self.proj.s > 100.0 {
                break;
            }
        }
        None
    }

    /// Does a constant-velocity projection 0.1-0.9 s ahead overlap another actor?
    fn ttc_violation(&self) -> bool {
        let e = &self.ego;
        let half = V2::new(self.vehicle.length / 2.0, self.vehicle.width / 2.0);
        let reach = 5.0 + e.vel.length();
        let check = |pos: V2, yaw: f32, vel: V2, ohalf: V2| {
            if (pos - e.pos).length() > reach + 5.0 + vel.length() {
                return false;
            }
            (0..5).any(|i| {
                let t = 0.1 + 0.2 * i as f32;
                boxes_overlap(e.pos + e.vel * t, e.yaw, half, pos + vel * t, yaw, ohalf)
            })
        };
        self.traffic
            .iter()
            .any(|t| check(t.pos, t.yaw, dir(t.yaw) * t.speed, half))
            || self
                .obstacles
                .iter()
                .any(|o| check(o.pos, o.yaw, V2::ZERO, o.half))
    }
}

fn body_velocity(vel: V2, yaw: f32, yaw_rate: f32) -> BodyVelocity {
    let local = rotate(vel, -yaw);
    BodyVelocity {
        vx: local.x,
        vy: local.y,
        yaw_rate,
    }
}
