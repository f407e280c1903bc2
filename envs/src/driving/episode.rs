//! Episode setup on the current map and route: a fresh rapier world with the ego at the route's
//! start, parked cars and obstacles at roadside spots, stop lines, traffic on spawn lanes; and
//! the per-step bookkeeping the drivers and sensors share (lane occupancy, the ray ring).

use rand::RngExt;

use super::env::CONTROL_DT;
use super::env::{Actors, DrivingEnv, EgoState, EpisodeClock, InfractionTimers, Obstacle};
use super::geometry::{Line, V2};
use super::metrics::EpisodeTally;
use super::physics::Physics;
use super::planner::{Idm, Occupant, Planner};
use super::traffic::TrafficVehicle;

/// Parked cars keep this far from the ego's start and from each other (m).
const PARKED_CLEAR_OF_START_M: f32 = 10.0;
const PARKED_SPACING_M: f32 = 6.0;
/// Placement attempts per parked car.
const PARKED_TRIES_PER_CAR: usize = 20;
/// Share of parked cars (the rest are small obstacles), and their half extents (m).
const PARKED_CAR_SHARE: f32 = 0.75;
const PARKED_CAR_HALF: V2 = V2::new(2.2, 0.9);
const OBSTACLE_HALF: V2 = V2::new(0.6, 0.6);
/// Traffic spawns this far from the ego's start and from each other (m), not within this
/// distance of a lane's ends, with this many attempts per vehicle.
const TRAFFIC_CLEAR_OF_START_M: f32 = 25.0;
const TRAFFIC_SPACING_M: f32 = 12.0;
const TRAFFIC_LANE_END_MARGIN_M: f32 = 2.0;
const TRAFFIC_TRIES_PER_VEHICLE: usize = 30;
/// The ego occupies every lane within this distance of its centre (m).
const EGO_LANE_RADIUS_M: f32 = 0.3;

impl DrivingEnv {
    /// Starts an episode on the current route in the current map; used by `reset` and by
    /// scripted scenes.
    pub(crate) fn start_episode(&mut self) {
        let line = &self.tracker.route.line;
        let (start, yaw) = (line.point_at(0.0), line.heading_at(0.0));
        let v = &self.vehicle;
        let half = V2::new(v.length / 2.0, v.width / 2.0);
        self.physics = Physics::new(
            CONTROL_DT / self.config.physics_substeps as f32,
            start,
            yaw,
            half,
            v.mass,
            v.yaw_inertia,
        );
        self.actors = Actors::default();
        self.place_parked(start);
        self.place_traffic(start, half);
        self.ego = EgoState {
            pos: start,
            yaw,
            ..EgoState::default()
        };
        let length = self.tracker.route.length();
        let limit = self.config.time_limit_base_s + self.config.time_limit_per_m_s * length;
        self.clock = EpisodeClock {
            time: 0.0,
            steps: 0,
            max_steps: (limit / CONTROL_DT).ceil().max(1.0) as u32,
        };
        self.tracker.restart(start);
        self.timers = InfractionTimers::default();
        self.tally = EpisodeTally {
            route_length: length,
            continues_after_infractions: self.config.continue_after_infractions,
            ..EpisodeTally::default()
        };
        self.light_override = None;
        self.update_occupants();
        self.physics.refresh_queries();
        self.rays.forget_edges();
        self.cast_rays();
    }

    fn place_parked(&mut self, start: V2) {
        let spots = &self.map.roadside;
        let wanted = self.config.parked.min(spots.len());
        let obstacles = &mut self.actors.obstacles;
        let mut tries = 0;
        while obstacles.len() < wanted && tries < PARKED_TRIES_PER_CAR * self.config.parked {
            tries += 1;
            let spot = spots[self.rng.random_range(0..spots.len())];
            let clear = (spot.pos - start).length() > PARKED_CLEAR_OF_START_M
                && obstacles
                    .iter()
                    .all(|o| (o.pos - spot.pos).length() > PARKED_SPACING_M);
            if !clear {
                continue;
            }
            let half = if self.rng.random::<f32>() < PARKED_CAR_SHARE {
                PARKED_CAR_HALF
            } else {
                OBSTACLE_HALF
            };
            obstacles.push(Obstacle {
                pos: spot.pos,
                yaw: spot.heading,
                half,
            });
        }
        for o in obstacles.iter() {
            self.physics.add_static_box(o.pos, o.yaw, o.half);
        }
    }

    fn place_traffic(&mut self, start: V2, half: V2) {
        let wanted = self.config.traffic;
        let mut tries = 0;
        while self.actors.traffic.len() < wanted && tries < TRAFFIC_TRIES_PER_VEHICLE * wanted {
            tries += 1;
            let lanes = &self.map.spawn_lanes;
            let lane = lanes[self.rng.random_range(0..lanes.len())];
            let len = self.map.lanes[lane].length();
            let margin = TRAFFIC_LANE_END_MARGIN_M;
            let s = self.rng.random_range(margin..len - margin);
            let p = self.map.lanes[lane].centre.point_at(s);
            if (p - start).length() < TRAFFIC_CLEAR_OF_START_M
                || self
                    .actors
                    .traffic
                    .iter()
                    .any(|t| (t.pos - p).length() < TRAFFIC_SPACING_M)
            {
                continue;
            }
            let body = self.physics.add_vehicle(p, 0.0, half);
            let t = TrafficVehicle::new(&self.map, lane, s, &mut self.rng, body);
            self.physics.place_vehicle(body, t.pos, t.yaw);
            self.actors.traffic.push(t);
        }
    }

    /// Lane occupancy of every actor, for the drivers' planning.
    pub(crate) fn update_occupants(&mut self) {
        let scratch = &mut self.scratch;
        scratch.occupancy.clear(self.map.lanes.len());
        self.map
            .lanes_at(self.ego.pos, EGO_LANE_RADIUS_M, &mut scratch.hits);
        let route = &self.tracker.route;
        let k = route.lane_index_at(self.tracker.proj.s);
        for h in &scratch.hits {
            let next = if route.lanes[k].lane == h.lane {
                route.lanes.get(k + 1).map(|l| l.lane)
            } else {
                None
            };
            scratch.occupancy.push(Occupant {
                actor: 0,
                lane: h.lane,
                s: h.s,
                speed: self.ego.body.vx.max(0.0),
                pos: self.ego.pos,
                next,
            });
        }
        for (i, t) in self.actors.traffic.iter().enumerate() {
            scratch.occupancy.push(Occupant {
                actor: i + 1,
                lane: t.path[0],
                s: t.s,
                speed: t.speed,
                pos: t.pos,
                next: t.next_lane(),
            });
        }
    }

    pub(crate) fn planner(&self) -> Planner<'_> {
        Planner {
            map: &self.map,
            occupancy: &self.scratch.occupancy,
            time: self.clock.time,
            light_override: self.light_override,
            idm: Idm::default(),
        }
    }

    pub(crate) fn cast_rays(&mut self) {
        self.rays
            .cast(&self.physics, &self.map, self.ego.pos, self.ego.yaw);
    }
}
