//! Driving the held-out routes: one fixed [`RouteSet`] per study, every driver (a run's final
//! deterministic policy or the expert) on every route, per-route metrics cached per run.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use carrot_envs::driving::METRIC_NAMES;
use carrot_envs::{DrivingConfig, DrivingEnv, Env};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::run_dir;

/// How many metrics the study reports per route.
pub const NUM_METRICS: usize = 5;
/// The metrics the study reports, as named by the driving env: the leaderboard's three
/// scores, penalized infractions per km and the distance that rate is over.
pub const METRICS: [&str; NUM_METRICS] = [
    "driving_score",
    "route_completion",
    "infraction_score",
    "infractions_per_km",
    "distance_km",
];
/// Column headers of [`METRICS`] in the Markdown table.
pub const HEADERS: [&str; NUM_METRICS] = ["DS", "RC", "IS", "infractions/km", "km per route"];
/// A run's cached evaluation, inside its run directory.
pub const EVAL_FILE: &str = "held_out_eval.json";

/// Where the held-out routes come from (a cached evaluation is reused only if it matches).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteSet {
    pub env: DrivingConfig,
    pub routes: usize,
    pub route_seed: u64,
    pub max_steps: usize,
}

/// How an infraction ends a held-out route (`carrot study eval --eval-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalMode {
    /// CARLA leaderboard: collisions and red lights are counted and the route goes on.
    Leaderboard,
    /// Collisions and red lights end the route, as in training.
    Terminating,
}

impl EvalMode {
    /// The mode a held-out env was set up in.
    pub fn of(env: &DrivingConfig) -> Self {
        if env.continue_after_infractions {
            EvalMode::Leaderboard
        } else {
            EvalMode::Terminating
        }
    }

    /// The sentence the result tables use.
    pub fn describe(self) -> &'static str {
        match self {
            EvalMode::Leaderboard => {
                "leaderboard mode: collisions and red lights lower the infraction score and the \
                 route goes on; blocked, route deviation, off-road and the time limit end it"
            }
            EvalMode::Terminating => {
                "terminating mode: collisions, red lights, blocked, route deviation, off-road and \
                 the time limit end the route"
            }
        }
    }
}

/// Per-route metrics of one driver, in the order of [`METRICS`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DriverEval {
    pub routes: RouteSet,
    pub per_route: Vec<[f64; NUM_METRICS]>,
    pub mean: [f64; NUM_METRICS],
}

/// The held-out routes for runs trained on `env`: the same env on the maps of `map_seed`.
pub fn held_out(
    env: &DrivingConfig,
    routes: usize,
    map_seed: u64,
    route_seed: u64,
    max_steps: usize,
    mode: EvalMode,
) -> RouteSet {
    let mut env = env.clone();
    env.map_seed = map_seed;
    // Runs of different rewards train with their own terminations (Roach's lane deviation,
    // CaRL's off-road end); the held-out routes end the same way for all of them.
    env.terminate_on = carrot_envs::driving::terminating_default();
    env.continue_after_infractions = mode == EvalMode::Leaderboard;
    RouteSet {
        env,
        routes,
        route_seed,
        max_steps,
    }
}

/// The evaluation cached at `path` if it was made on `set`, else `compute()` (then cached). A
/// cache written with another set of metrics does not parse and is recomputed.
pub fn cached_or(
    path: &Path,
    set: &RouteSet,
    compute: impl FnOnce() -> Result<DriverEval>,
) -> Result<DriverEval> {
    if let Ok(text) = std::fs::read_to_string(path) {
        if let Ok(cached) = serde_json::from_str::<DriverEval>(&text) {
            if &cached.routes == set {
                return Ok(cached);
            }
        }
    }
    let result = compute()?;
    run_dir::write_atomic(path, serde_json::to_string_pretty(&result)?.as_bytes())?;
    Ok(result)
}

/// Drives every route of `set` with `act`, one env per route (routes run in parallel; each
/// route's result depends only on its seed).
pub fn evaluate<F>(set: &RouteSet, act: F) -> Result<DriverEval>
where
    F: Fn(&DrivingEnv, &[f32]) -> Result<[f32; 2]> + Sync,
{
    let index: Vec<usize> = METRICS
        .iter()
        .map(|m| {
            METRIC_NAMES
                .iter()
                .position(|n| n == m)
                .ok_or_else(|| anyhow!("the driving env has no metric `{m}`"))
        })
        .collect::<Result<_>>()?;
    let per_route = (0..set.routes)
        .into_par_iter()
        .map(|k| {
            let mut env = DrivingEnv::new(set.env.clone())?;
            let mut obs = vec![0f32; env.observation_space().flat_dim()];
            let mut signals = vec![0f32; env.signal_spec().len()];
            env.reset(Some(set.route_seed.wrapping_add(k as u64)), &mut obs);
            let mut ended = false;
            for _ in 0..set.max_steps {
                let action = act(&env, &obs)?;
                if env.step(&action, &mut obs, &mut signals).done() {
                    ended = true;
                    break;
                }
            }
            if !ended {
                bail!("route {k} did not end within run.eval_max_steps steps");
            }
            let mut metrics = vec![0f32; METRIC_NAMES.len()];
            env.episode_metrics(&mut metrics);
            let mut row = [0f64; NUM_METRICS];
            for (slot, &i) in row.iter_mut().zip(&index) {
                *slot = metrics[i] as f64;
            }
            Ok(row)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut mean = [0f64; NUM_METRICS];
    for row in &per_route {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v / per_route.len() as f64;
        }
    }
    Ok(DriverEval {
        routes: set.clone(),
        per_route,
        mean,
    })
}
