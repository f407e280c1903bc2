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
    carrot bench driving --json driving_bench.json\n  \
    carrot bench driving --driver random --steps 5000 --digest")]
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
    /// Also print a fingerprint of each row's trajectory (every observation, signal and end
    /// flag, bit for bit), to check that a speed-up leaves behaviour unchanged. Slows the rows.
    #[arg(long)]
    pub digest: bool,
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
    /// FNV-1a hash of the trajectory (with `--digest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
}

/// FNV-1a over the bits of the trajectory's floats and flags.
struct Digest(u64);

impl Digest {
    fn new() -> Self {
        Digest(0xcbf2_9ce4_8422_2325)
    }
    fn word(&mut self, w: u32) {
        for b in w.to_le_bytes() {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn floats(&mut self, xs: &[f32]) {
        xs.iter().for_each(|x| self.word(x.to_bits()));
    }
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

/// What one row measured.
struct Row {
    wall: f64,
    cpu: Option<f64>,
    episodes: u64,
    digest: Option<u64>,
}

/// Generates the maps of the config's pool before the clock starts: a pooled map is made on
/// its first draw and then shared by every env, so an untimed env resets until it has almost
/// surely drawn each of them (8 draws per map leave a given map undrawn with odds e^-8).
pub(crate) fn warm_map_cache(config: &DrivingConfig, seed: u64) -> anyhow::Result<()> {
    let mut env = DrivingEnv::new(config.clone())?;
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    env.reset(Some(seed ^ 0x5eed), &mut obs);
    for _ in 0..8 * config.map_pool {
        env.reset(None, &mut obs);
    }
    Ok(())
}

/// Steps one env on the calling thread for `steps` steps (hashing the trajectory when
/// `digest`).
fn measure(
    config: DrivingConfig,
    driver: &str,
    steps: u64,
    seed: u64,
    digest: bool,
) -> anyhow::Result<Row> {
    warm_map_cache(&config, seed)?;
    let mut env = DrivingEnv::new(config)?;
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    let mut sig = vec![0.0; env.signal_spec().len()];
    let mut action = [0.0f32; 2];
    let mut rng = env_rng(seed);
    let expert = Expert::default();
    env.reset(Some(seed), &mut obs);
    let mut hash = digest.then(Digest::new);
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
        let outcome = env.step(&action, &mut obs, &mut sig);
        if let Some(h) = hash.as_mut() {
            h.floats(&obs);
            h.floats(&sig);
            h.word(outcome.terminated as u32 | (outcome.truncated as u32) << 1);
        }
        if outcome.done() {
            episodes += 1;
            env.reset(None, &mut obs);
            if let Some(h) = hash.as_mut() {
                h.floats(&obs);
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_start.and_then(|a| thread_cpu_seconds().map(|b| b - a));
    Ok(Row {
        wall,
        cpu,
        episodes,
        digest: hash.map(|h| h.0),
    })
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
        "driving env, one core, {} driver, {} physics sub-steps, {} steps per row (episode resets included; pooled maps made before timing)",
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
            let row = measure(config, &args.driver, args.steps, args.seed, args.digest)?;
            let (seconds, episodes) = (row.wall, row.episodes);
            let rate = args.steps as f64 / seconds;
            let cpu_rate = row.cpu.map(|c| args.steps as f64 / c);
            let digest = row.digest.map(|d| format!("{d:016x}"));
            println!(
                "{:<8} {:>8} {:>12.0} {:>16} {:>9} {}",
                family.name(),
                vehicles,
                rate,
                cpu_rate.map_or("n/a".into(), |r| format!("{r:.0}")),
                episodes,
                digest.as_deref().unwrap_or("")
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
                digest,
            });
        }
    }
    if let Some(path) = &args.json {
        crate::run_dir::write_atomic(path, serde_json::to_string_pretty(&results)?.as_bytes())?;
    }
    Ok(())
}
