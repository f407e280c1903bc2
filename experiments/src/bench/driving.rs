//! `carrot bench driving`: env steps per second of the driving world on one core, for several
//! traffic densities, map families and drivers (random actions or the expert).

use std::time::Instant;

use anyhow::{bail, Context};
use carrot_envs::driving::{DrivingConfig, DrivingEnv, Expert, MapFamily};
use carrot_envs::{env_rng, Env};
use rand::RngExt;
use serde::Serialize;

/// Options of `carrot bench driving`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot bench driving\n  \
    carrot bench driving --vehicles 30 --maps town --driver random --steps 5000\n  \
    carrot bench driving --json driving_bench.json")]
pub struct BenchDrivingArgs {
    /// Traffic vehicle counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "0,10,30")]
    pub vehicles: Vec<usize>,
    /// Map families to measure: town, rural, highway.
    #[arg(long, value_delimiter = ',', default_value = "town,rural,highway")]
    pub maps: Vec<String>,
    /// Driver: "random" (uniform actions, many short episodes) or "expert" (full routes).
    #[arg(long, default_value = "expert")]
    pub driver: String,
    /// Env steps per measurement.
    #[arg(long, default_value_t = 20_000)]
    pub steps: u64,
    /// Physics sub-steps per control step.
    #[arg(long, default_value_t = 2)]
    pub substeps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
struct Measurement {
    map: String,
    vehicles: usize,
    driver: String,
    steps: u64,
    episodes: u64,
    seconds: f64,
    steps_per_second: f64,
    /// Steps per second of this thread's CPU time (Linux), insensitive to other load.
    steps_per_cpu_second: Option<f64>,
}

fn parse_family(name: &str) -> anyhow::Result<MapFamily> {
    MapFamily::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .with_context(|| format!("unknown map family '{name}' (town, rural, highway)"))
}

/// CPU time of the calling thread in seconds (Linux), so rates on a shared machine are not
/// diluted by other processes' load.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// Steps one env on the calling thread for `steps` steps; returns (wall seconds, CPU seconds,
/// episodes).
fn measure(
    config: DrivingConfig,
    driver: &str,
    steps: u64,
    seed: u64,
) -> anyhow::Result<(f64, Option<f64>, u64)> {
    let mut env = DrivingEnv::new(config)?;
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    let mut sig = vec![0.0; env.signal_spec().len()];
    let mut action = [0.0f32; 2];
    let mut rng = env_rng(seed);
    let expert = Expert::default();
    env.reset(Some(seed), &mut obs);
    let mut episodes = 0;
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    for _ in 0..steps {
        if driver == "expert" {
            action = expert.act(&env);
        } else {
            action[0] = rng.random_range(-1.0..1.0);
            action[1] = rng.random_range(-1.0..1.0);
        }
        if env.step(&action, &mut obs, &mut sig).done() {
            episodes += 1;
            env.reset(None, &mut obs);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_start.and_then(|a| thread_cpu_seconds().map(|b| b - a));
    Ok((wall, cpu, episodes))
}

pub fn run(args: &BenchDrivingArgs) -> anyhow::Result<()> {
    if !["random", "expert"].contains(&args.driver.as_str()) {
        bail!(
            "--driver must be 'random' or 'expert', got '{}'",
            args.driver
        );
    }
    let families = args
        .maps
        .iter()
        .map(|m| parse_family(m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    println!(
        "driving env, one core, {} driver, {} physics sub-steps, {} steps per row (episode resets included)",
        args.driver, args.substeps, args.steps
    );
    println!(
        "{:<8} {:>8} {:>12} {:>16} {:>9}",
        "map", "vehicles", "steps/s", "steps/cpu-s", "episodes"
    );
    let mut results = Vec::new();
    for &family in &families {
        for &vehicles in &args.vehicles {
            let config = DrivingConfig {
                map: family,
                traffic: vehicles,
                physics_substeps: args.substeps,
                ..DrivingConfig::default()
            };
            let (seconds, cpu, episodes) = measure(config, &args.driver, args.steps, args.seed)?;
            let rate = args.steps as f64 / seconds;
            let cpu_rate = cpu.map(|c| args.steps as f64 / c);
            println!(
                "{:<8} {:>8} {:>12.0} {:>16} {:>9}",
                family.name(),
                vehicles,
                rate,
                cpu_rate.map_or("n/a".into(), |r| format!("{r:.0}")),
                episodes
            );
            results.push(Measurement {
                map: family.name().into(),
                vehicles,
                driver: args.driver.clone(),
                steps: args.steps,
                episodes,
                seconds,
                steps_per_second: rate,
                steps_per_cpu_second: cpu_rate,
            });
        }
    }
    if let Some(path) = &args.json {
        crate::run_dir::write_atomic(path, serde_json::to_string_pretty(&results)?.as_bytes())?;
    }
    Ok(())
}
