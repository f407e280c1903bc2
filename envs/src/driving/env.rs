//! `DrivingEnv`: episode setup (map, route, traffic, parked cars, rapier world) and the
//! control step (traffic planning, physics sub-steps, route tracking, infractions).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rand::RngExt;

use super::config::{DrivingAction, DrivingConfig};
use super::geometry::{dir, rotate, Projection, V2};
use super::map::{self, LaneHit, LightState, Map, MapFamily, Signal};
use super::observation::ObsLayout;
use super::physics::Physics;
use super::planner::{Idm, Occupant, Planner};
use super::route::Route;
use super::signals::{self, EpisodeTally, NUM_SIGNALS};
use super::traffic::TrafficVehicle;
use super::vehicle::{BodyVelocity, VehicleParams};
use crate::{env_rng, Env, EnvError, EnvRng, SignalSpec, Space, StepOutcome};

pub const CONTROL_DT: f32 = 0.1;

/// Discrete actions: 5 steering levels x 3 pedal levels, `[steer, accel]`.
pub const DISCRETE_ACTIONS: [[f32; 2]; 15] = {
    let steer = [-0.8, -0.3, 0.0, 0.3, 0.8];
    let pedal = [-1.0, 0.0, 0.5];
    let mut out = [[0.0; 2]; 15];
    let mut i = 0;
    while i < 15 {
        out[i] = [steer[i / 3], pedal[i % 3]];
        i += 1;
    }
    out
};

/// The discrete action with no steering and no pedal.
pub(crate) const NEUTRAL_ACTION: usize = 7;

/// A parked car or obstacle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obstacle {
    pub pos: V2,
    pub yaw: f32,
    pub half: V2,
}

/// A stop line at the end of a signalized lane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopLine {
    pub a: V2,
    pub b: V2,
    pub dir: V2,
    pub signal: Signal,
}

/// The ego's kinematic state as the env measures it after a step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EgoState {
    pub pos: V2,
    pub yaw: f32,
    pub vel: V2,
    pub yaw_rate: f32,
    pub body: BodyVelocity,
    pub accel: V2,
    pub lon_accel: f32,
    pub steer: f32,
    pub pedal: f32,
}

/// The top-down driving world (see the module docs of `driving`).
pub struct DrivingEnv {
    pub(crate) config: DrivingConfig,
    pub(crate) vehicle: VehicleParams,
    pub(crate) layout: ObsLayout,
    observation_space: Space,
    action_space: Space,
    spec: SignalSpec,
    pub(crate) terminate_on: Vec<usize>,
    pub(crate) rng: EnvRng,
    pub(crate) map: Arc<Map>,
    pub(crate) route: Route,
    pub(crate) physics: Physics,
    pub(crate) traffic: Vec<TrafficVehicle>,
    pub(crate) obstacles: Vec<Obstacle>,
    pub(crate) stop_lines: Vec<StopLine>,
    pub(crate) occupants: Vec<Occupant>,
    pub(crate) ego: EgoState,
    pub(crate) time: f32,
    pub(crate) steps: u32,
    pub(crate) max_steps: u32,
    /// Route tracking: the current projection and the furthest point reached.
    pub(crate) proj: Projection,
    pub(crate) max_s: f32,
    pub(crate) still_seconds: f32,
    pub(crate) ttc_hold: f32,
    pub(crate) tally: EpisodeTally,
    pub(crate) light_override: Option<LightState>,
    pub(crate) ray_dirs: Vec<V2>,
    pub(crate) ray_objects: Vec<f32>,
    pub(crate) ray_edges: Vec<f32>,
    pub(crate) hits: Vec<LaneHit>,
    pub(crate) plans: Vec<(f32, f32)>,
    pub(crate) world_ray_dirs: Vec<V2>,
}

impl DrivingEnv {
    pub fn new(config: DrivingConfig) -> Result<Self, EnvError> {
        let names = signals::signal_names();
        config.validate(&names)?;
        let terminate_on = config
            .terminate_on
            .iter()
            .map(|n| names.iter().position(|m| m == n).unwrap())
            .collect();
        let layout = ObsLayout {
            route_points: config.route_points,
            rays: config.rays,
            vehicles: config.nearest_vehicles,
        };
        let action_space = match config.action {
            DrivingAction::Continuous => {
                Space::boxed(&[("steer", -1.0, 1.0), ("accel", -1.0, 1.0)])
            }
            DrivingAction::Discrete => {
                let labels: Vec<String> = DISCRETE_ACTIONS
                    .iter()
                    .map(|a| format!("steer{:+.1}_accel{:+.1}", a[0], a[1]))
                    .collect();
                let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
                Space::discrete(&refs)
            }
        };
        let ray_dirs = (0..config.rays)
            .map(|i| std::f32::consts::TAU * i as f32 / config.rays as f32)
            .map(dir)
            .collect();
        let mut rng = env_rng(0);
        let family = config.family(0);
        let map = shared_map(family, config.map_seed);
        let route = Route::generate(&map, &mut rng, config.route_min_m, config.route_max_m);
        let vehicle = VehicleParams::default();
        let physics = Physics::new(
            CONTROL_DT / config.physics_substeps as f32,
            V2::ZERO,
            0.0,
            V2::new(vehicle.length / 2.0, vehicle.width / 2.0),
            vehicle.mass,
            vehicle.yaw_inertia,
        );
        let mut env = DrivingEnv {
            vehicle,
            layout,
            observation_space: layout.space(),
            action_space,
            spec: signals::signal_spec(),
            terminate_on,
            rng,
            map,
            route,
            physics,
            traffic: Vec::new(),
            obstacles: Vec::new(),
            stop_lines: Vec::new(),
            occupants: Vec::new(),
            ego: EgoState::default(),
            time: 0.0,
            steps: 0,
            max_steps: 1,
            proj: Projection::default(),
            max_s: 0.0,
            still_seconds: 0.0,
            ttc_hold: 0.0,
            tally: EpisodeTally::default(),
            light_override: None,
            ray_objects: vec![0.0; config.rays],
            ray_edges: vec![0.0; config.rays],
            ray_dirs,
            hits: Vec::new(),
            plans: Vec::new(),
            world_ray_dirs: Vec::new(),
            config,
        };
        let mut obs = vec![0.0; env.layout.dim()];
        env.reset(Some(0), &mut obs);
        Ok(env)
    }

    pub fn config(&self) -> &DrivingConfig {
        &self.config
    }
    pub fn map(&self) -> &Map {
        &self.map
    }
    pub fn route(&self) -> &Route {
        &self.route
    }
    pub fn traffic(&self) -> &[TrafficVehicle] {
        &self.traffic
    }
    pub fn obstacles(&self) -> &[Obstacle] {
        &self.obstacles
    }
    pub fn ego(&self) -> &EgoState {
        &self.ego
    }
    pub fn vehicle_params(&self) -> &VehicleParams {
        &self.vehicle
    }
    pub fn time(&self) -> f32 {
        self.time
    }
    /// Route completion so far (%).
    pub fn route_completion(&self) -> f32 {
        100.0 * self.max_s / self.route.length()
    }
    /// The ego's current projection on the route.
    pub fn route_projection(&self) -> Projection {
        self.proj
    }
    /// Last ray distances (objects, edges), in metres.
    pub fn rays(&self) -> (&[V2], &[f32], &[f32]) {
        (&self.ray_dirs, &self.ray_objects, &self.ray_edges)
    }
    /// Stop lines at signalized lane ends.
    pub fn stop_lines(&self) -> &[StopLine] {
        &self.stop_lines
    }
    pub fn tally(&self) -> &EpisodeTally {
        &self.tally
    }

    /// State of a light, honouring a test override.
    pub fn light_state(&self, signal: Signal) -> LightState {
        self.light_override
            .unwrap_or_else(|| self.map.light_state(signal, self.time))
    }

    fn draw_map(&mut self) -> Arc<Map> {
        let family = self.config.family(self.rng.random_range(0..usize::MAX));
        match self.config.map_pool {
            0 => Arc::new(map::generate(
                family,
                &mut env_rng(self.rng.random::<u64>()),
            )),
            pool => {
                let k = self.rng.random_range(0..pool) as u64;
                let seed =
                    crate::splitmix64(self.config.map_seed.wrapping_mul(0x1000_0000_01B3) ^ k);
                shared_map(family, seed)
            }
        }
    }

    /// Starts an episode on `route` in the current map (no traffic, no parked cars are added
    /// beyond the config's); used by `reset` and by scripted scenes.
    pub(crate) fn start_episode(&mut self) {
        let cfg = &self.config;
        let start = self.route.line.point_at(0.0);
        let yaw = self.route.line.heading_at(0.0);
        let v = &self.vehicle;
        self.physics = Physics::new(
            CONTROL_DT / cfg.physics_substeps as f32,
            start,
            yaw,
            V2::new(v.length / 2.0, v.width / 2.0),
            v.mass,
            v.yaw_inertia,
        );
        self.obstacles.clear();
        let spots = &self.map.roadside;
        let mut tries = 0;
        while self.obstacles.len() < cfg.parked.min(spots.len()) && tries < 20 * cfg.parked {
            tries += 1;
            let spot = spots[self.rng.random_range(0..spots.len())];
            let clear = (spot.pos - start).length() > 10.0
                && self
                    .obstacles
                    .iter()
                    .all(|o| (o.pos - spot.pos).length() > 6.0);
            if !clear {
                continue;
            }
            let half = if self.rng.random::<f32>() < 0.75 {
                V2::new(2.2, 0.9)
            } else {
                V2::new(0.6, 0.6)
            };
            self.obstacles.push(Obstacle {
                pos: spot.pos,
                yaw: spot.heading,
                half,
            });
        }
        for o in &self.obstacles {
            self.physics.add_static_box(o.pos, o.yaw, o.half);
        }
        self.stop_lines = self
            .map
            .lanes
            .iter()
            .filter_map(|l| {
                let signal = l.signal?;
                let end = *l.centre.pts.last()?;
                let d = l.centre.direction_at(l.length());
                let n = super::geometry::left(d) * (l.width * 0.5);
                Some(StopLine {
                    a: end + n,
                    b: end - n,
                    dir: d,
                    signal,
                })
            })
            .collect();
        self.traffic.clear();
        let half = V2::new(v.length / 2.0, v.width / 2.0);
        let mut tries = 0;
        while self.traffic.len() < cfg.traffic && tries < 30 * cfg.traffic {
            tries += 1;
            let lanes = &self.map.spawn_lanes;
            let lane = lanes[self.rng.random_range(0..lanes.len())];
            let len = self.map.lanes[lane].length();
            let s = self.rng.random_range(2.0..len - 2.0);
            let p = self.map.lanes[lane].centre.point_at(s);
            if (p - start).length() < 25.0
                || self.traffic.iter().any(|t| (t.pos - p).length() < 12.0)
            {
                continue;
            }
            let body = self.physics.add_vehicle(p, 0.0, half);
            let t = TrafficVehicle::new(&self.map, lane, s, &mut self.rng, body);
            self.physics.place_vehicle(body, t.pos, t.yaw);
            self.traffic.push(t);
        }
        self.ego = EgoState {
            pos: start,
            yaw,
            ..EgoState::default()
        };
        self.time = 0.0;
        self.steps = 0;
        let limit = cfg.time_limit_base_s + cfg.time_limit_per_m_s * self.route.length();
        self.max_steps = (limit / CONTROL_DT).ceil().max(1.0) as u32;
        self.proj = self.route.line.project_near(start, 0, 0, 4);
        self.max_s = 0.0;
        self.still_seconds = 0.0;
        self.ttc_hold = 0.0;
        self.tally = EpisodeTally {
            route_length: self.route.length(),
            ..EpisodeTally::default()
        };
        self.light_override = None;
        self.update_occupants();
        self.physics.refresh_queries();
        self.cast_rays();
    }

    /// Lane occupancy of every actor, for the drivers' planning.
    pub(crate) fn update_occupants(&mut self) {
        self.occupants.clear();
        self.map.lanes_at(self.ego.pos, 0.3, &mut self.hits);
        let k = self.route.lane_index_at(self.proj.s);
        for h in &self.hits {
            let next = if self.route.lanes[k].lane == h.lane {
                self.route.lanes.get(k + 1).map(|l| l.lane)
            } else {
                None
            };
            self.occupants.push(Occupant {
                actor: 0,
                lane: h.lane,
                s: h.s,
                speed: self.ego.body.vx.max(0.0),
                pos: self.ego.pos,
                next,
            });
        }
        for (i, t) in self.traffic.iter().enumerate() {
            self.occupants.push(Occupant {
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
            occupants: &self.occupants,
            time: self.time,
            light_override: self.light_override,
            idm: Idm::default(),
        }
    }

    pub(crate) fn cast_rays(&mut self) {
        let mut dirs = std::mem::take(&mut self.world_ray_dirs);
        dirs.clear();
        dirs.extend(self.ray_dirs.iter().map(|d| rotate(*d, self.ego.yaw)));
        let range = self.config.ray_range_m;
        self.physics
            .cast_rays(self.ego.pos, &dirs, range, &mut self.ray_objects);
        self.map
            .edge_index
            .cast_rays(self.ego.pos, &dirs, range, &mut self.ray_edges);
        self.world_ray_dirs = dirs;
    }
}

/// Maps generated from a `(family, seed)` pair are identical, so envs share them.
fn shared_map(family: MapFamily, seed: u64) -> Arc<Map> {
    type Cache = Mutex<HashMap<(MapFamily, u64), Arc<Map>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(m) = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(family, seed))
    {
        return m.clone();
    }
    let m = Arc::new(map::generate(family, &mut env_rng(seed)));
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry((family, seed))
        .or_insert(m)
        .clone()
}

impl Env for DrivingEnv {
    fn name(&self) -> &'static str {
        "driving"
    }
    fn observation_space(&self) -> &Space {
        &self.observation_space
    }
    fn action_space(&self) -> &Space {
        &self.action_space
    }
    fn signal_spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let Some(seed) = seed {
            self.rng = env_rng(seed);
        }
        self.map = self.draw_map();
        self.route = Route::generate(
            &self.map,
            &mut self.rng,
            self.config.route_min_m,
            self.config.route_max_m,
        );
        self.start_episode();
        self.write_observation(obs);
    }

    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome {
        debug_assert_eq!(signals.len(), NUM_SIGNALS);
        self.step_inner(action, obs, signals)
    }

    fn episode_metric_names(&self) -> &[&'static str] {
        &signals::METRIC_NAMES
    }

    fn episode_metrics(&self, out: &mut [f32]) {
        self.tally.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_discrete_action_neither_steers_nor_pedals() {
        assert_eq!(DISCRETE_ACTIONS[NEUTRAL_ACTION], [0.0, 0.0]);
    }
}
