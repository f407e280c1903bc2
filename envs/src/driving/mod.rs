//! The driving world: a top-down 2D counterpart of the CARLA / nuPlan setting used by CaRL.
//!
//! - Maps from a seed in three families ([`MapFamily`]): a signalized town grid, curvy rural
//!   roads with give-way T-junctions, a three-lane road with merging on-ramps.
//! - The ego is a rapier rigid body pushed by single-track tire forces (kinematic at walking
//!   pace, able to skid at speed), controlled at 10 Hz with physics sub-steps.
//! - Traffic follows lanes with IDM + pure pursuit, obeys lights and gives way at junctions;
//!   every vehicle is a rapier body, so ego collisions come from rapier's contact events.
//!   Only the vehicles within the ray range plus 20 m of the ego take part in a physics step:
//!   the others can neither touch the ego nor meet a ray in it, and leaving them out changes
//!   no bit of what the env reports (tested); with 10 vehicles a step costs about a fifth less.
//! - A lane-level route per episode; the signals a reward designer needs (CaRL's route
//!   progress, terminating infractions and soft factors, Roach's shaped quantities), and
//!   CARLA-leaderboard episode metrics (route completion, infraction score, driving score).
//! - [`Expert`]: the rule-based driver on the ego's route, for tests, baselines and demos.
//!
//! Modelling choices worth knowing:
//! - Traffic bodies are kinematic: they push the ego in a crash but are not pushed, and
//!   traffic-traffic contacts are not simulated (their drivers keep their distance).
//! - Town signals run protected phases (one approach green at a time, 8 s green, 3 s yellow,
//!   1 s all-red); rural T-junctions and highway merges are unsignalized give-way junctions.
//! - Maps come from a pool of seeds per family (`map_pool`, `map_seed`), generated once and
//!   shared by every env in the process (about 0.8 MB per map: the default 64 per family take
//!   about 50 MB a family); road edges form a query-only rapier scene per map.
//! - Observation layout: see [`ObsLayout`] (module `observation`); signals: [`SIGNAL_ROWS`];
//!   events (what can end an episode, with their leaderboard factors): [`EVENTS`]; episode
//!   metrics: [`METRIC_NAMES`] and [`EpisodeTally`].
//! - Comfort, TTC and metrics follow CaRL's CARLA code and the CARLA leaderboard (`comfort`:
//!   smoothed signals and held limits; TTC held `ttc_penalty_ticks` and skipped while stopped;
//!   no factor for a route time-out; `continue_after_infractions` is the leaderboard's
//!   evaluation mode). Privileged value inputs as CaRL's: `time_left_frac`, `route_left_frac`,
//!   `route_length_km`, `blocked_left_frac`, `ttc_hold_left`, `comfort_hold_left_*`.
//! - Code map: `env` (the state, in parts), `episode` (setup), `step` (the control step in
//!   phases), `tracking` (route progress), `hazards` (red lights, off-road, time-to-collision,
//!   desired speed), `rays`, `sense` (observation), `physics` (the rapier world), `scene`
//!   (hooks for scripted scenes), `replay` (snapshots).

mod comfort;
mod config;
mod edges;
mod env;
mod episode;
mod events;
mod expert;
pub mod geometry;
mod hazards;
pub mod map;
mod metrics;
mod observation;
mod physics;
pub mod planner;
mod rays;
mod replay;
pub mod route;
mod scene;
mod sense;
mod signals;
mod step;
mod tracking;
mod traffic;
mod vehicle;

pub use comfort::{ComfortLimits, COMFORT_LIMITS};
pub use config::{DrivingAction, DrivingConfig};
pub use env::{DrivingEnv, EgoState, Obstacle, CONTROL_DT, DISCRETE_ACTIONS};
pub use events::{
    terminating_default, Event, EventInfo, EVENTS, PENALTY_RED_LIGHT, PENALTY_STATIC,
    PENALTY_VEHICLE, ROACH_TERMINATIONS,
};
pub use expert::Expert;
pub use geometry::boxes_overlap;
pub use map::{LightState, Map, MapFamily, StopLine};
pub use metrics::{EpisodeTally, METRIC_NAMES};
pub use observation::ObsLayout;
pub use signals::SIGNAL_ROWS;
pub use traffic::{LanePath, TrafficVehicle};
pub use vehicle::{BodyVelocity, VehicleParams};
