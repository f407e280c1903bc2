//! Hooks for scripted scenes (tests, demos): new routes, ego placement, stopped vehicles,
//! forced light states.

use super::env::{DrivingEnv, EgoState};
use super::geometry::{dir, Line, V2};
use super::map::LightState;
use super::route::Route;
use super::traffic::TrafficVehicle;
use super::vehicle::BodyVelocity;

impl DrivingEnv {
    /// Forces every light to one state (`None` restores the signal plans). For scripted scenes.
    pub fn override_lights(&mut self, state: Option<LightState>) {
        self.light_override = state;
        self.replay.mark_scripted();
    }

    /// Replaces the route (and restarts the episode on it). For scripted scenes and demos.
    pub fn restart_on_route(&mut self, route: Route, obs: &mut [f32]) {
        self.tracker.route = route;
        self.start_episode();
        self.replay.mark_scripted();
        self.write_observation(obs);
    }

    /// Puts the ego at `pos`/`yaw` moving forward at `speed`, keeping the route. For scripted
    /// scenes; route tracking is re-anchored at the nearest route point.
    pub fn place_ego(&mut self, pos: V2, yaw: f32, speed: f32, obs: &mut [f32]) {
        self.replay.mark_scripted();
        let vel = dir(yaw) * speed;
        self.physics.set_ego_state(pos, yaw, vel, 0.0);
        self.ego = EgoState {
            pos,
            yaw,
            vel,
            body: BodyVelocity {
                vx: speed,
                ..Default::default()
            },
            ..EgoState::default()
        };
        self.tracker.proj = self.tracker.route.line.project(pos);
        self.physics.refresh_queries();
        self.update_occupants();
        self.cast_rays();
        self.write_observation(obs);
    }

    /// Adds a traffic vehicle standing still (its driver holds it) `ahead` metres along the
    /// route from the ego's projection, on the route lane. For scripted collisions.
    pub fn add_stopped_vehicle_on_route(&mut self, ahead: f32) {
        self.replay.mark_scripted();
        let route = &self.tracker.route;
        let s = (self.tracker.proj.s + ahead).min(route.length());
        let rl = route.lanes[route.lane_index_at(s)];
        let lane_s = rl.lane_s0 + (s - rl.start);
        let v = &self.vehicle;
        let half = V2::new(v.length / 2.0, v.width / 2.0);
        let body = self.physics.add_vehicle(V2::ZERO, 0.0, half);
        let mut t = TrafficVehicle::new(&self.map, rl.lane, lane_s, &mut self.rng, body);
        t.speed = 0.0;
        t.speed_factor = 0.0;
        self.physics.place_vehicle(body, t.pos, t.yaw);
        self.actors.traffic.push(t);
        self.physics.refresh_queries();
        self.update_occupants();
    }
}
