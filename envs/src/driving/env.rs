//! `DrivingEnv`: the world's state, grouped into its parts (the episode's actors and rapier
//! world, route tracking, the ray sensor, the episode clock, infraction timers, scratch
//! buffers), its construction and the `Env` interface. Episode setup is in `episode`, the
//! control step in `step`, the observation in `sense`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rand::RngExt;

use super::comfort::Comfort;
use super::config::{DrivingAction, DrivingConfig};
use super::events::{continues_after, EVENTS};
use super::geometry::{Projection, V2};
use super::map::{self, LaneHit, LightState, Map, MapFamily, Signal, StopLine};
use super::metrics::{EpisodeTally, METRIC_NAMES};
use super::observation::ObsLayout;
use super::physics::Physics;
use super::planner::Occupancy;
use super::rays::RaySensor;
use super::replay::Replay;
use super::route::Route;
use super::signals::{self, NUM_SIGNALS};
use super::step::TRAFFIC_REACH_MARGIN_M;
use super::tracking::RouteTracker;
use super::traffic::TrafficVehicle;
use super::vehicle::{BodyVelocity, VehicleParams};
use crate::{env_rng, Env, EnvError, EnvRng, EnvSnapshot, SignalSpec, Space, StepOutcome};

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

/// The episode clock: control steps taken and the step limit.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EpisodeClock {
    pub time: f32,
    pub steps: u32,
    pub max_steps: u32,
}

impl EpisodeClock {
    /// Seconds until the time limit.
    pub fn time_left(&self) -> f32 {
        (self.max_steps - self.steps.min(self.max_steps)) as f32 * CONTROL_DT
    }
}

/// State that outlasts a step: standing still (for `blocked`), the time-to-collision hold,
/// the comfort filters and holds, and the last lateral distance (Roach's deviation check).
#[derive(Clone, Debug, Default)]
pub(crate) struct InfractionTimers {
    pub still_seconds: f32,
    /// Steps the TTC penalty is still held.
    pub ttc_ticks: u32,
    pub comfort: Comfort,
    pub last_lateral: f32,
}

/// The actors of an episode besides the ego, with the signalized stop lines.
#[derive(Clone, Debug, Default)]
pub(crate) struct Actors {
    pub traffic: Vec<TrafficVehicle>,
    pub obstacles: Vec<Obstacle>,
}

/// Buffers reused every step (nothing is allocated per step).
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    /// Lane occupancy of every actor, for the drivers' planning.
    pub occupancy: Occupancy,
    pub hits: Vec<LaneHit>,
    pub plans: Vec<(f32, f32)>,
    /// Traffic vehicles near the ego `(distance, index)`, for the observation.
    pub nearby: Vec<(f32, usize)>,
}

/// The env's fixed description: spaces, signals, the terminating signals.
struct Interface {
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
}

/// The top-down driving world (see the module docs of `driving`).
pub struct DrivingEnv {
    pub(crate) config: DrivingConfig,
    pub(crate) vehicle: VehicleParams,
    pub(crate) layout: ObsLayout,
    interface: Interface,
    /// Signal indices that end the episode (`terminate_on`).
    pub(crate) terminate_on: Vec<usize>,
    pub(crate) rng: EnvRng,
    pub(crate) map: Arc<Map>,
    pub(crate) physics: Physics,
    pub(crate) actors: Actors,
    pub(crate) ego: EgoState,
    pub(crate) tracker: RouteTracker,
    pub(crate) clock: EpisodeClock,
    pub(crate) timers: InfractionTimers,
    pub(crate) tally: EpisodeTally,
    pub(crate) light_override: Option<LightState>,
    pub(crate) rays: RaySensor,
    /// Traffic takes part in the physics while within this distance (m) of the ego at the
    /// start of a step (the ray range plus `TRAFFIC_REACH_MARGIN_M`); the rest only moves
    /// along its lanes. Tests widen it to compare with every vehicle simulated.
    pub(crate) traffic_reach: f32,
    pub(crate) scratch: Scratch,
    /// The current episode's RNG start and actions, for snapshots.
    pub(crate) replay: Replay,
}

impl DrivingEnv {
    pub fn new(config: DrivingConfig) -> Result<Self, EnvError> {
        let names = signals::signal_names();
        config.validate(&names)?;
        // In the evaluation mode collisions and red lights are counted but end nothing.
        let terminate_on = config
            .terminate_on
            .iter()
            .map(|n| names.iter().position(|m| m == n).unwrap())
            .filter(|&i| {
                let event = EVENTS.iter().position(|e| e.signal == names[i]);
                !(config.continue_after_infractions && event.is_some_and(continues_after))
            })
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
            interface: Interface {
                observation_space: layout.space(),
                action_space,
                signal_spec: signals::signal_spec(),
            },
            terminate_on,
            rng,
            map,
            physics,
            actors: Actors::default(),
            ego: EgoState::default(),
            tracker: RouteTracker::new(route),
            clock: EpisodeClock {
                max_steps: 1,
                ..EpisodeClock::default()
            },
            timers: InfractionTimers::default(),
            tally: EpisodeTally::default(),
            light_override: None,
            rays: RaySensor::new(config.rays, config.ray_range_m),
            traffic_reach: config.ray_range_m + TRAFFIC_REACH_MARGIN_M,
            scratch: Scratch::default(),
            replay: Replay::new(&env_rng(0)),
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
        &self.tracker.route
    }
    pub fn traffic(&self) -> &[TrafficVehicle] {
        &self.actors.traffic
    }
    pub fn obstacles(&self) -> &[Obstacle] {
        &self.actors.obstacles
    }
    pub fn ego(&self) -> &EgoState {
        &self.ego
    }
    pub fn vehicle_params(&self) -> &VehicleParams {
        &self.vehicle
    }
    pub fn time(&self) -> f32 {
        self.clock.time
    }
    /// Route completion so far (%).
    pub fn route_completion(&self) -> f32 {
        self.tracker.completion()
    }
    /// The ego's current projection on the route.
    pub fn route_projection(&self) -> Projection {
        self.tracker.proj
    }
    /// Last ray distances (objects, edges), in metres.
    pub fn rays(&self) -> (&[V2], &[f32], &[f32]) {
        let r = &self.rays;
        (&r.dirs, &r.objects, &r.edges)
    }
    /// Stop lines at signalized lane ends.
    pub fn stop_lines(&self) -> &[StopLine] {
        &self.map.stop_lines
    }
    pub fn tally(&self) -> &EpisodeTally {
        &self.tally
    }

    /// State of a light, honouring a test override.
    pub fn light_state(&self, signal: Signal) -> LightState {
        self.light_override
            .unwrap_or_else(|| self.map.light_state(signal, self.clock.time))
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
        &self.interface.observation_space
    }
    fn action_space(&self) -> &Space {
        &self.interface.action_space
    }
    fn signal_spec(&self) -> &SignalSpec {
        &self.interface.signal_spec
    }

    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let Some(seed) = seed {
            self.rng = env_rng(seed);
        }
        self.replay.start(&self.rng);
        self.map = self.draw_map();
        self.tracker.route = Route::generate(
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
        self.replay.record(action);
        self.step_inner(action, obs, signals)
    }

    fn snapshot(&self) -> Result<EnvSnapshot, EnvError> {
        self.snapshot_replay()
    }

    fn heavy_step(&self) -> bool {
        true
    }

    fn restore(&mut self, snapshot: &EnvSnapshot) -> Result<(), EnvError> {
        self.restore_replay(snapshot)
    }

    fn episode_metric_names(&self) -> &[&'static str] {
        &METRIC_NAMES
    }

    fn episode_metrics(&self, out: &mut [f32]) {
        self.tally.write(out);
    }

    fn reset_signals(&self, signals: &mut [f32]) {
        self.write_reset_signals(signals);
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
