//! The control step, in named phases: read the action, simulate traffic and the ego through the
//! physics sub-steps, measure the ego, track the route, detect the events, update the sensors
//! and timers, tally the episode, write the signals, decide whether the episode ends.

use super::config::DrivingAction;
use super::env::{DrivingEnv, EgoState, CONTROL_DT, DISCRETE_ACTIONS, NEUTRAL_ACTION};
use super::events::{Event, Fired, EVENTS};
use super::geometry::{dir, left, rotate, wrap_angle, Line, V2};
use super::signals::Sig;
use super::vehicle::BodyVelocity;
use crate::StepOutcome;
use rand::RngExt;

/// Below this speed (m/s) the ego counts as standing still (for `blocked`, and CaRL skips the
/// time-to-collision check).
const STILL_SPEED: f32 = 0.1;
/// Roach's lateral deviation: a jump of more than this (m) in one step raises the threshold
/// to the new distance plus `ROACH_JUMP_SLACK_M` instead; the check adds `ROACH_EPS_M`.
const ROACH_JUMP_M: f32 = 0.8;
const ROACH_JUMP_SLACK_M: f32 = 0.5;
const ROACH_EPS_M: f32 = 0.01;
/// Beyond half the lane width plus this margin (m), or heading off by more than this angle,
/// the ego is outside the route's lanes.
const OUTSIDE_LANE_MARGIN_M: f32 = 0.5;
const WRONG_DIRECTION_RAD: f32 = std::f32::consts::FRAC_PI_2;
/// A traffic vehicle stopped this long (s) this far from the ego (m) is respawned.
const TRAFFIC_STUCK_S: f32 = 60.0;
const TRAFFIC_STUCK_FAR_M: f32 = 60.0;
/// Respawns keep this far from the ego and from other vehicles (m), start this far into a
/// spawn lane or an entry lane (m), with this many attempts.
const RESPAWN_CLEAR_OF_EGO_M: f32 = 40.0;
const RESPAWN_SPACING_M: f32 = 15.0;
const RESPAWN_LANE_MARGIN_M: f32 = 2.0;
const RESPAWN_ENTRY_S_M: f32 = 1.0;
const RESPAWN_TRIES: usize = 20;
/// A traffic vehicle takes part in the physics while it is within the ray range plus this
/// margin (m) of the ego at the start of a step: enough for a vehicle's box and a closing
/// speed of 150 m/s over the step. Farther away it can neither touch the ego nor meet a ray by
/// the step's end (`keep_ray_range_simulated` checks, and brings it back if it ever could).
pub(crate) const TRAFFIC_REACH_MARGIN_M: f32 = 20.0;

/// Collisions the ego started during the step's physics sub-steps.
#[derive(Clone, Copy, Debug, Default)]
struct Contacts {
    vehicle: bool,
    obstacle: bool,
}

/// The route lane under the ego and how the ego sits in it.
#[derive(Clone, Copy, Debug)]
struct LaneView {
    speed_limit: f32,
    width: f32,
    in_junction: bool,
    heading_error: f32,
    outside: bool,
}

impl DrivingEnv {
    pub(crate) fn step_inner(
        &mut self,
        action: &[f32],
        obs: &mut [f32],
        sig: &mut [f32],
    ) -> StepOutcome {
        let (steer, pedal) = self.decode_action(action);
        let prev = self.ego;
        let contacts = self.simulate(steer, pedal);
        self.clock.time += CONTROL_DT;
        self.clock.steps += 1;
        if !self.measure_ego(&prev, steer, pedal) {
            return self.recover_from_blow_up(&prev, obs, sig);
        }
        self.relocalize_traffic();
        let moved = (self.ego.pos - prev.pos).length();
        let route_step = self.tracker.advance(self.ego.pos, moved);
        let lane = self.lane_view();
        let fired = self.detect_events(&prev, contacts, route_step.finished);
        self.update_occupants();
        self.keep_ray_range_simulated();
        self.cast_rays();
        let ttc = self.update_ttc_hold();
        self.update_comfort();
        self.tally_step(moved, lane.outside, &fired);
        self.write_signals(sig, &prev, &lane, &fired, route_step.progress, moved, ttc);
        self.write_privileged_signals(sig);
        let outcome = self.decide_end(sig, &fired);
        self.write_observation(obs);
        outcome
    }

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
    fn simulate(&mut self, steer: f32, pedal: f32) -> Contacts {
        self.plan_traffic();
        let substeps = self.config.physics_substeps;
        let dt = CONTROL_DT / substeps as f32;
        let v = self.vehicle;
        let angle = steer * v.max_steer;
        let mut contacts = Contacts::default();
        self.update_simulated_traffic();
        for _ in 0..substeps {
            let (_, yaw, vel, yaw_rate) = self.physics.ego_state();
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
            for t in self.actors.traffic.iter_mut() {
                let before = (t.pos.to_array().map(f32::to_bits), t.yaw.to_bits());
                t.advance(dt);
                // A standing vehicle's body is already where it should be; left untouched,
                // rapier does not reprocess it.
                if t.simulated && (t.pos.to_array().map(f32::to_bits), t.yaw.to_bits()) != before {
                    self.physics.set_vehicle_pose(t.body, t.pos, t.yaw);
                }
            }
            self.physics.step();
            let (vehicle, obstacle) = self.physics.take_collisions();
            contacts.vehicle |= vehicle;
            contacts.obstacle |= obstacle;
        }
        contacts
    }

    /// Puts the traffic within reach of the ego into the physics and takes the rest out.
    fn update_simulated_traffic(&mut self) {
        self.simulate_traffic_within(self.traffic_reach, true);
    }

    /// Puts back into the physics any vehicle that came within half the reach margin of the
    /// ray range during the step (never, short of a 150 m/s closing speed), so that the rays
    /// see every vehicle they can reach.
    fn keep_ray_range_simulated(&mut self) {
        let near = self.config.ray_range_m + TRAFFIC_REACH_MARGIN_M / 2.0;
        if self.simulate_traffic_within(near, false) {
            self.physics.refresh_queries();
        }
    }

    /// Puts every vehicle within `reach` of the ego into the physics, and when `take_out`
    /// takes the others out; true when a vehicle came in.
    fn simulate_traffic_within(&mut self, reach: f32, take_out: bool) -> bool {
        let ego = self.ego.pos;
        let mut came_in = false;
        for t in self.actors.traffic.iter_mut() {
            let simulated = (t.pos - ego).length() <= reach;
            if simulated != t.simulated && (simulated || take_out) {
                t.simulated = simulated;
                self.physics
                    .set_vehicle_simulated(t.body, simulated, t.pos, t.yaw);
                came_in |= simulated;
            }
        }
        came_in
    }

    /// Every traffic driver chooses its acceleration and steering for this step.
    fn plan_traffic(&mut self) {
        // The lane data the drivers read is scattered over the map; with many envs it is out
        // of cache by the next step. Asking for it all first overlaps the misses: the records
        // for every driver, then (the records arriving) what they point to.
        for t in &self.actors.traffic {
            t.prefetch_lane_records(&self.map);
        }
        for t in &self.actors.traffic {
            t.prefetch_lane_data(&self.map);
        }
        let mut plans = std::mem::take(&mut self.scratch.plans);
        plans.clear();
        {
            let planner = self.planner();
            plans.extend(
                self.actors
                    .traffic
                    .iter()
                    .enumerate()
                    .map(|(i, t)| t.plan(i + 1, &planner)),
            );
        }
        for (t, &(accel, steer)) in self.actors.traffic.iter_mut().zip(&plans) {
            t.accel = accel;
            t.steer = steer;
        }
        self.scratch.plans = plans;
    }

    /// Reads the ego's new state from the physics; false when it went non-finite.
    fn measure_ego(&mut self, prev: &EgoState, steer: f32, pedal: f32) -> bool {
        let (pos, yaw, vel, yaw_rate) = self.physics.ego_state();
        if !(pos.is_finite() && yaw.is_finite() && vel.is_finite() && yaw_rate.is_finite()) {
            return false;
        }
        let accel = (vel - prev.vel) / CONTROL_DT;
        self.ego = EgoState {
            pos,
            yaw,
            vel,
            yaw_rate,
            body: body_velocity(vel, yaw, yaw_rate),
            accel,
            lon_accel: accel.dot(dir(yaw)),
            steer,
            pedal,
        };
        true
    }

    /// Puts the ego back where it was, at rest, and ends the episode with zero signals.
    fn recover_from_blow_up(
        &mut self,
        prev: &EgoState,
        obs: &mut [f32],
        sig: &mut [f32],
    ) -> StepOutcome {
        self.physics
            .set_ego_state(prev.pos, prev.yaw, V2::ZERO, 0.0);
        self.ego.vel = V2::ZERO;
        self.write_observation(obs);
        sig.iter_mut().for_each(|x| *x = 0.0);
        StepOutcome {
            terminated: true,
            truncated: false,
            physics_failure: true,
        }
    }

    fn relocalize_traffic(&mut self) {
        for i in 0..self.actors.traffic.len() {
            let t = &mut self.actors.traffic[i];
            let alive = t.relocalize(&self.map, &mut self.rng, CONTROL_DT);
            let far_from_ego = (t.pos - self.ego.pos).length() > TRAFFIC_STUCK_FAR_M;
            let stuck = t.stopped > TRAFFIC_STUCK_S && far_from_ego;
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
        for _ in 0..RESPAWN_TRIES {
            let (lane, s) = if entries.is_empty() {
                let lanes = &self.map.spawn_lanes;
                let lane = lanes[self.rng.random_range(0..lanes.len())];
                let end = self.map.lanes[lane].length() - RESPAWN_LANE_MARGIN_M;
                (lane, self.rng.random_range(RESPAWN_LANE_MARGIN_M..end))
            } else {
                let lane = entries[self.rng.random_range(0..entries.len())];
                (lane, RESPAWN_ENTRY_S_M)
            };
            let p = self.map.lanes[lane].centre.point_at(s);
            let clear = (p - self.ego.pos).length() > RESPAWN_CLEAR_OF_EGO_M
                && self
                    .actors
                    .traffic
                    .iter()
                    .enumerate()
                    .all(|(j, t)| j == i || (t.pos - p).length() > RESPAWN_SPACING_M);
            if clear {
                let map = self.map.clone();
                let t = &mut self.actors.traffic[i];
                t.respawn(&map, lane, s, &mut self.rng);
                self.physics.place_vehicle(t.body, t.pos, t.yaw);
                return;
            }
        }
    }

    /// The route lane at the ego's projection and the ego's heading error and lane keeping.
    fn lane_view(&self) -> LaneView {
        let route = &self.tracker.route;
        let proj = self.tracker.proj;
        let lane = &self.map.lane_info[route.lanes[route.lane_index_at(proj.s)].lane];
        let route_heading = route
            .line
            .segment_direction(route.line.segment_at_from(proj.seg, proj.s));
        let heading_error = wrap_angle(route_heading.y.atan2(route_heading.x) - self.ego.yaw);
        let outside = heading_error.abs() > WRONG_DIRECTION_RAD
            || proj.dist > lane.width * 0.5 + OUTSIDE_LANE_MARGIN_M;
        LaneView {
            speed_limit: lane.speed_limit,
            width: lane.width,
            in_junction: lane.in_junction,
            heading_error,
            outside,
        }
    }

    /// The step's events (the time-out is decided in [`DrivingEnv::decide_end`]); updates the
    /// standing-still timer.
    fn detect_events(&mut self, prev: &EgoState, contacts: Contacts, finished: bool) -> Fired {
        let red = self.ran_red_light(prev.pos, self.ego.pos);
        let still = self.ego.body.vx.abs() < STILL_SPEED && self.ego.vel.length() < STILL_SPEED;
        let timers = &mut self.timers;
        timers.still_seconds = if still {
            timers.still_seconds + CONTROL_DT
        } else {
            0.0
        };
        let blocked = timers.still_seconds > self.config.blocked_seconds;
        if blocked {
            timers.still_seconds = 0.0;
        }
        let mut fired = [false; EVENTS.len()];
        fired[Event::CollisionVehicle as usize] = contacts.vehicle;
        fired[Event::CollisionStatic as usize] = contacts.obstacle;
        fired[Event::RedLight as usize] = red;
        fired[Event::Blocked as usize] = blocked;
        fired[Event::RouteDeviation as usize] =
            self.tracker.proj.dist > self.config.route_deviation_m;
        fired[Event::OffRoad as usize] = self.is_off_road();
        fired[Event::RouteFinished as usize] = finished;
        fired[Event::LaneDeviation as usize] = self.roach_lane_deviation();
        fired
    }

    /// Roach's lateral deviation: beyond `max(lane_deviation_min_m, last distance)`, unless
    /// the distance jumped (a re-projection), in which case the threshold follows it.
    fn roach_lane_deviation(&mut self) -> bool {
        let lateral = self.tracker.proj.dist;
        let last = self.timers.last_lateral;
        let threshold = if lateral - last > ROACH_JUMP_M {
            lateral + ROACH_JUMP_SLACK_M
        } else {
            self.config.lane_deviation_min_m.max(last)
        };
        self.timers.last_lateral = lateral;
        lateral > threshold + ROACH_EPS_M
    }

    /// Smooths the ego's accelerations and yaw and updates the comfort holds.
    fn update_comfort(&mut self) {
        let e = &self.ego;
        let lat_accel = e.accel.dot(left(dir(e.yaw)));
        self.timers.comfort.update(
            e.lon_accel,
            lat_accel,
            e.yaw,
            CONTROL_DT,
            &self.config.comfort_limits,
            self.config.comfort_penalty_ticks,
        );
    }

    /// Starts the time-to-collision hold on a violation (checked only while the ego moves, as
    /// CaRL); true while it is held, `ttc_penalty_ticks` steps from the violation on.
    fn update_ttc_hold(&mut self) -> bool {
        let timers = &mut self.timers;
        timers.ttc_ticks = timers.ttc_ticks.saturating_sub(1);
        if self.ego.vel.length() >= STILL_SPEED && self.ttc_violation() {
            self.timers.ttc_ticks = self.config.ttc_penalty_ticks;
        }
        self.timers.ttc_ticks > 0
    }

    fn tally_step(&mut self, moved: f32, outside: bool, fired: &Fired) {
        let t = &mut self.tally;
        t.route_completion = self.tracker.completion();
        t.distance += moved;
        if outside {
            t.off_route_distance += moved;
        }
        for (e, (count, &f)) in t.counts.iter_mut().zip(fired).enumerate() {
            if e != Event::Timeout as usize {
                *count += f as u32;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn write_signals(
        &self,
        sig: &mut [f32],
        prev: &EgoState,
        lane: &LaneView,
        fired: &Fired,
        progress: f32,
        moved: f32,
        ttc: bool,
    ) {
        let flag = |b: bool| b as u32 as f32;
        let e = &self.ego;
        let proj = self.tracker.proj;
        for (e, &f) in fired.iter().enumerate() {
            sig[event_signal(e)] = flag(f);
        }
        sig[Sig::Progress as usize] = progress;
        sig[Sig::RouteCompletion as usize] = self.tracker.completion();
        sig[Sig::Distance as usize] = moved;
        sig[Sig::OutsideRouteLanes as usize] = flag(lane.outside);
        sig[Sig::Speed as usize] = e.body.vx;
        sig[Sig::SpeedLimit as usize] = lane.speed_limit;
        sig[Sig::TtcViolation as usize] = flag(ttc);
        let comfort = &self.timers.comfort.latest;
        sig[Sig::LonAccel as usize] = comfort.lon_accel;
        sig[Sig::LatAccel as usize] = comfort.lat_accel;
        sig[Sig::Jerk as usize] = comfort.jerk;
        sig[Sig::LonJerk as usize] = comfort.lon_jerk;
        sig[Sig::YawRate as usize] = comfort.yaw_rate;
        sig[Sig::YawAccel as usize] = comfort.yaw_accel;
        sig[Sig::LateralOffset as usize] = proj.lateral;
        sig[Sig::LaneWidth as usize] = lane.width;
        sig[Sig::InJunction as usize] = flag(lane.in_junction);
        sig[Sig::DesiredSpeed as usize] = self.desired_speed(lane.speed_limit);
        sig[Sig::LateralDistance as usize] = proj.dist;
        sig[Sig::HeadingError as usize] = lane.heading_error;
        sig[Sig::SteerChange as usize] = (e.steer - prev.steer).abs();
        sig[Sig::Steer as usize] = e.steer;
        sig[Sig::AccelCmd as usize] = e.pedal;
        sig[Sig::TimeLeft as usize] = self.clock.time_left();
        sig[Sig::RouteLeft as usize] = self.tracker.left();
    }

    /// The state-valued signals of the state just reset into (see `Env::reset_signals`):
    /// route and lane geometry, speed, the clock, the timers and CaRL's privileged inputs;
    /// transition signals (progress, events, commands, comfort filters) stay 0.
    pub(crate) fn write_reset_signals(&self, sig: &mut [f32]) {
        sig.iter_mut().for_each(|x| *x = 0.0);
        let lane = self.lane_view();
        let proj = self.tracker.proj;
        sig[Sig::RouteCompletion as usize] = self.tracker.completion();
        sig[Sig::Speed as usize] = self.ego.body.vx;
        sig[Sig::SpeedLimit as usize] = lane.speed_limit;
        sig[Sig::LateralOffset as usize] = proj.lateral;
        sig[Sig::LaneWidth as usize] = lane.width;
        sig[Sig::InJunction as usize] = lane.in_junction as u32 as f32;
        sig[Sig::DesiredSpeed as usize] = self.desired_speed(lane.speed_limit);
        sig[Sig::LateralDistance as usize] = proj.dist;
        sig[Sig::HeadingError as usize] = lane.heading_error;
        sig[Sig::TimeLeft as usize] = self.clock.time_left();
        sig[Sig::RouteLeft as usize] = self.tracker.left();
        self.write_privileged_signals(sig);
    }

    /// CaRL's privileged value inputs, each scaled to about [0, 1].
    fn write_privileged_signals(&self, sig: &mut [f32]) {
        let clock = &self.clock;
        let length = self.tracker.route.length();
        let held = self.timers.comfort.held();
        let comfort_ticks = self.config.comfort_penalty_ticks as f32;
        sig[Sig::ComfortViolations as usize] = held.iter().filter(|&&h| h > 0).count() as f32;
        sig[Sig::TimeLeftFrac as usize] =
            clock.max_steps.saturating_sub(clock.steps) as f32 / clock.max_steps as f32;
        sig[Sig::RouteLeftFrac as usize] = self.tracker.left() / length;
        sig[Sig::RouteLengthKm as usize] = length / 1000.0;
        sig[Sig::BlockedLeftFrac as usize] =
            (1.0 - self.timers.still_seconds / self.config.blocked_seconds).clamp(0.0, 1.0);
        sig[Sig::TtcHoldLeft as usize] =
            self.timers.ttc_ticks as f32 / self.config.ttc_penalty_ticks as f32;
        for (k, h) in held.iter().enumerate() {
            sig[Sig::ComfortHoldLeftLonAccel as usize + k] = *h as f32 / comfort_ticks;
        }
    }

    /// The one place that decides whether the episode ends: on the route's end or a
    /// `terminate_on` signal (terminated), else at the time limit (truncated).
    fn decide_end(&mut self, sig: &mut [f32], fired: &Fired) -> StepOutcome {
        let finished = fired[Event::RouteFinished as usize];
        let terminated = finished || self.terminate_on.iter().any(|&i| sig[i] > 0.5);
        let truncated = self.clock.steps >= self.clock.max_steps && !terminated;
        if truncated {
            sig[Sig::Timeout as usize] = 1.0;
            self.tally.counts[Event::Timeout as usize] += 1;
        }
        sig[Sig::Terminated as usize] = terminated as u32 as f32;
        StepOutcome {
            terminated,
            truncated,
            physics_failure: false,
        }
    }
}

/// The signal index of event `e`: the event signals follow [`EVENTS`]'s order from
/// `collision_vehicle` on (checked by a test in `events`).
pub(crate) fn event_signal(e: usize) -> usize {
    Sig::CollisionVehicle as usize + e
}

fn body_velocity(vel: V2, yaw: f32, yaw_rate: f32) -> BodyVelocity {
    let local = rotate(vel, -yaw);
    BodyVelocity {
        vx: local.x,
        vy: local.y,
        yaw_rate,
    }
}
