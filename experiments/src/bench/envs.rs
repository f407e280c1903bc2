//! `carrot bench envs`: env steps per second of every control task through [`VecEnv`] at
//! several env counts and rayon thread counts, next to the bare rapier world step of the same
//! body layout (the physical floor: the worlds stepped with nothing else, chunked over the same
//! threads; cart-poles, pendulums and acrobots share worlds as their VecEnv does).
//! `--env driving` measures the driving world the same way (no bare-world floor) at each of
//! `--vehicles` traffic counts. `--repeats K` measures every cell K times, in K rounds over all
//! the cells (so load that comes and goes touches every cell alike), and summarizes each cell
//! as the median (min-max) of its rounds.

use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use carrot_envs::{
    Acrobots, CartPoles, DrivingConfig, Env, EnvBatch, EnvConfig, MountainCar, NoReward, Pendulums,
    StepBuffers, VecEnv,
};
use rayon::prelude::*;

use crate::bench::timing::median;

/// The envs this benchmark knows the bare world of.
const CONTROL_IDS: [&str; 4] = ["cartpole", "pendulum", "acrobot", "mountain_car"];

/// Options of `carrot bench envs`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
    carrot bench envs\n  \
    carrot bench envs --env cartpole,pendulum --num-envs 8,64 --threads 1,2\n  \
    carrot bench envs --env driving --vehicles 0,30 --num-envs 8\n  \
    carrot bench envs --env driving --vehicles 10 --num-envs 1,128 --map-pool 1\n  \
    carrot bench envs --env driving --vehicles 10 --num-envs 1,128 --copies\n  \
    carrot bench envs --env driving --vehicles 10 --num-envs 64,128 --threads 1 --seconds 1 --repeats 9\n  \
    valgrind --tool=cachegrind carrot bench envs --env driving --vehicles 10 --num-envs 128 --threads 1 --steps 200\n  \
    carrot bench envs --env cartpole --json envs_bench.json")]
pub struct BenchEnvsArgs {
    /// Env ids to measure: control tasks and `driving` (default: all control tasks).
    #[arg(long = "env", value_delimiter = ',')]
    pub envs: Vec<String>,
    /// Traffic vehicle counts of the driving world (with `--env driving`).
    #[arg(long, value_delimiter = ',', default_values_t = vec![0, 10, 30])]
    pub vehicles: Vec<usize>,
    /// Map pool of the driving world (the env's `map_pool`; default: the env's default, 64
    /// maps): 1 puts every env on one map, which separates the maps' share of cache misses
    /// at large N from the envs' own.
    #[arg(long)]
    pub map_pool: Option<usize>,
    /// Numbers of parallel envs.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 8, 64, 512])]
    pub num_envs: Vec<usize>,
    /// Rayon thread counts.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 2])]
    pub threads: Vec<usize>,
    /// Seconds of stepping per measurement (each cell measures the env and the floor).
    #[arg(long, default_value_t = 0.6)]
    pub seconds: f64,
    /// Step exactly this many VecEnv steps per measurement (after a tenth as many, at least
    /// one, to warm up) instead of for `--seconds`: a fixed workload for counting tools such
    /// as cachegrind, whose counts per env-step are the difference of two runs with different
    /// `--steps` divided by the difference in env-steps.
    #[arg(long, conflicts_with = "seconds")]
    pub steps: Option<u64>,
    /// Master seed of the envs and the random actions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Make every env a copy of the first (one seed, one action row for all, so also one
    /// map): what N costs when consecutive envs do the same work, each in its own memory.
    /// The floor is measured as usual.
    #[arg(long)]
    pub copies: bool,
    /// Measure every cell this many times, in rounds over all the cells, and summarize each
    /// cell as the median (min-max) of its rounds: on a machine whose neighbours' load comes
    /// and goes, one measurement can be off by tens of percent.
    #[arg(long, default_value_t = 1)]
    pub repeats: usize,
    /// Also write every measured cell as JSON here (with `--repeats`, the medians, and every
    /// round's rates in `*_rounds`).
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// One measured cell as `--json` writes it (rates in env steps per second; `null` where the
/// figure does not exist: no floor for the driving world, no CPU clock off Linux).
#[derive(serde::Serialize)]
struct CellJson {
    env: String,
    num_envs: usize,
    threads: usize,
    steps_per_second: f64,
    steps_per_cpu_second: Option<f64>,
    floor_steps_per_second: Option<f64>,
    floor_steps_per_cpu_second: Option<f64>,
    /// Each round's `steps_per_second` and `steps_per_cpu_second`, in round order.
    steps_per_second_rounds: Vec<f64>,
    steps_per_cpu_second_rounds: Vec<Option<f64>>,
}

/// A measured VecEnv rate, kept to compare thread counts.
struct Cell {
    env: String,
    num_envs: usize,
    threads: usize,
    env_rate: Rate,
    floor_rate: Rate,
}

impl Cell {
    /// The cell's rounds (the same cell measured once per round) as one JSON row of medians.
    fn to_json(rounds: &[&Cell]) -> CellJson {
        let first = rounds[0];
        let finite = |x: f64| x.is_finite().then_some(x);
        let walls = |rate: fn(&Cell) -> &Rate| -> Vec<f64> {
            rounds.iter().map(|c| rate(c).wall).collect()
        };
        let cpus = |rate: fn(&Cell) -> &Rate| -> Option<f64> {
            let all: Option<Vec<f64>> = rounds.iter().map(|c| rate(c).cpu).collect();
            all.map(median)
        };
        CellJson {
            env: first.env.clone(),
            num_envs: first.num_envs,
            threads: first.threads,
            steps_per_second: median(walls(|c| &c.env_rate)),
            steps_per_cpu_second: cpus(|c| &c.env_rate),
            floor_steps_per_second: finite(median(walls(|c| &c.floor_rate))),
            floor_steps_per_cpu_second: cpus(|c| &c.floor_rate),
            steps_per_second_rounds: walls(|c| &c.env_rate),
            steps_per_cpu_second_rounds: rounds.iter().map(|c| c.env_rate.cpu).collect(),
        }
    }
}

/// A rate as "median (min-max)" of its rounds, or the one rate.
fn spread(rates: &[f64]) -> String {
    let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match rates {
        [one] => thousands(*one),
        _ => format!(
            "{} ({}-{})",
            thousands(median(rates.to_vec())),
            thousands(lo),
            thousands(hi)
        ),
    }
}

/// The row format shared by the header and every measured cell; the first column is `$width`
/// wide (the longest label's width).
macro_rules! table_row {
    ($width:expr; $label:expr, $($arg:expr),* $(,)?) => {
        println!(
            "{:<w$} {:>5} {:>7} {:>12} {:>12} {:>10} {:>12} {:>12} {:>10}",
            $label,
            $($arg),*,
            w = $width
        )
    };
}

pub fn run(args: &BenchEnvsArgs) -> anyhow::Result<()> {
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        bail!("--seconds must be positive, got {}", args.seconds);
    }
    if args.steps == Some(0) {
        bail!("--steps must be at least 1");
    }
    if args.num_envs.contains(&0) || args.threads.contains(&0) || args.repeats == 0 {
        bail!("--num-envs, --threads and --repeats must be at least 1");
    }
    let targets = targets(args)?;
    let width = targets
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0)
        .max(14);
    print_header(measurement_budget(args), width);
    // `rounds[r][i]`: cell `i` measured in round `r`.
    let mut rounds: Vec<Vec<Cell>> = Vec::new();
    for round in 0..args.repeats {
        if args.repeats > 1 {
            println!("round {} of {}", round + 1, args.repeats);
        }
        let mut cells: Vec<Cell> = Vec::new();
        for (id, config) in &targets {
            for &n in &args.num_envs {
                for &threads in &args.threads {
                    let cell = measure_cell(id, config, n, threads, args, width, &cells)?;
                    cells.push(cell);
                }
            }
        }
        rounds.push(cells);
    }
    let per_cell: Vec<Vec<&Cell>> = (0..rounds[0].len())
        .map(|i| rounds.iter().map(|cells| &cells[i]).collect())
        .collect();
    if args.repeats > 1 {
        print_summary(&per_cell, args.repeats, width);
    }
    if let Some(path) = &args.json {
        let rows: Vec<CellJson> = per_cell.iter().map(|r| Cell::to_json(r)).collect();
        crate::run_dir::write_atomic(path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    }
    Ok(())
}

/// Each cell's env steps/s and env steps per CPU-second as the median (min-max) of its rounds.
fn print_summary(per_cell: &[Vec<&Cell>], repeats: usize, width: usize) {
    println!("median (min-max) of {repeats} rounds");
    println!(
        "{:<width$} {:>5} {:>7} {:>34} {:>34}",
        "env", "N", "threads", "env steps/s", "env/cpu-s"
    );
    for rounds in per_cell {
        let walls: Vec<f64> = rounds.iter().map(|c| c.env_rate.wall).collect();
        let cpus: Option<Vec<f64>> = rounds.iter().map(|c| c.env_rate.cpu).collect();
        println!(
            "{:<width$} {:>5} {:>7} {:>34} {:>34}",
            rounds[0].env,
            rounds[0].num_envs,
            rounds[0].threads,
            spread(&walls),
            cpus.map_or_else(|| "-".into(), |c| spread(&c)),
        );
    }
}

/// The labelled env configs to measure: each control task asked for, and the driving world
/// once per traffic count.
fn targets(args: &BenchEnvsArgs) -> anyhow::Result<Vec<(String, EnvConfig)>> {
    let ids: Vec<String> = if args.envs.is_empty() {
        CONTROL_IDS.iter().map(|s| s.to_string()).collect()
    } else {
        args.envs.clone()
    };
    let mut targets: Vec<(String, EnvConfig)> = Vec::new();
    for id in &ids {
        if id == "driving" {
            for &v in &args.vehicles {
                let defaults = DrivingConfig::default();
                let config = DrivingConfig {
                    traffic: v,
                    map_pool: args.map_pool.unwrap_or(defaults.map_pool),
                    ..defaults
                };
                let label = match args.map_pool {
                    Some(p) => format!("driving/{v}veh/pool{p}"),
                    None => format!("driving/{v}veh"),
                };
                targets.push((label, EnvConfig::Driving(config)));
            }
        } else if CONTROL_IDS.contains(&id.as_str()) {
            targets.push((id.clone(), toml::from_str(&format!("id = {id:?}"))?));
        } else {
            bail!("`bench envs` measures {CONTROL_IDS:?} and \"driving\", not '{id}'");
        }
    }
    if args.copies {
        targets
            .iter_mut()
            .for_each(|(label, _)| label.push_str("/copies"));
    }
    Ok(targets)
}

/// How long each measurement steps: `--steps`, else `--seconds`.
fn measurement_budget(args: &BenchEnvsArgs) -> Budget {
    match args.steps {
        Some(steps) => Budget::Steps(steps),
        None => Budget::Time(Duration::from_secs_f64(args.seconds)),
    }
}

fn print_header(budget: Budget, width: usize) {
    println!(
        "env steps/s through VecEnv vs the bare rapier world step (floor), {budget} per measurement"
    );
    println!("(per cpu-s: env steps per CPU-second of this process, robust to other load)");
    table_row!(
        width;
        "env",
        "N",
        "threads",
        "env steps/s",
        "floor/s",
        "env/floor",
        "vs 1 thread",
        "env/cpu-s",
        "floor/cpu-s"
    );
}

/// Measures `config` with `n` envs on a pool of `threads` (and its bare world when it has
/// one), prints the row and returns the cell; `earlier` holds the one-thread rate to compare.
fn measure_cell(
    id: &str,
    config: &EnvConfig,
    n: usize,
    threads: usize,
    args: &BenchEnvsArgs,
    width: usize,
    earlier: &[Cell],
) -> anyhow::Result<Cell> {
    let (seed, budget) = (args.seed, measurement_budget(args));
    let has_floor = !matches!(config, EnvConfig::Driving(_));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("building the rayon pool")?;
    let env_rate = pool.install(|| measure_vec_env(config, n, seed, args.copies, budget))?;
    let floor_rate = if has_floor {
        pool.install(|| measure_floor(config, n, seed, budget))?
    } else {
        Rate::UNKNOWN
    };
    let one_thread = earlier
        .iter()
        .find(|c| c.env == id && c.num_envs == n && c.threads == 1)
        .filter(|_| threads > 1)
        .map(|c| format!("{:.2}x", env_rate.wall / c.env_rate.wall))
        .unwrap_or_default();
    let per_cpu = |r: Rate| r.cpu.map(thousands).unwrap_or_else(|| "-".into());
    let (floor, ratio) = if floor_rate.wall.is_nan() {
        ("-".to_string(), "-".to_string())
    } else {
        (
            thousands(floor_rate.wall),
            format!("{:.2}", env_rate.wall / floor_rate.wall),
        )
    };
    table_row!(
        width;
        id,
        n,
        threads,
        thousands(env_rate.wall),
        floor,
        ratio,
        one_thread,
        per_cpu(env_rate),
        per_cpu(floor_rate)
    );
    Ok(Cell {
        env: id.to_string(),
        num_envs: n,
        threads,
        env_rate,
        floor_rate,
    })
}

/// Env steps per second of `VecEnv::step` with uniformly random actions; with `copies`, every
/// env is reset with `seed` and steps with the first env's action.
fn measure_vec_env(
    config: &EnvConfig,
    n: usize,
    seed: u64,
    copies: bool,
    budget: Budget,
) -> anyhow::Result<Rate> {
    if let EnvConfig::Driving(c) = config {
        // Maps are built on their first draw: build them before the clock starts.
        super::driving::warm_map_cache(c, seed)?;
    }
    let mut envs: VecEnv = config.build_vec(n)?;
    let mut buf: StepBuffers = envs.make_buffers(&NoReward);
    if copies {
        envs.reset_each(&vec![seed; n], &mut buf)?;
    } else {
        envs.reset(seed, &mut buf)?;
    }
    let batches = action_batches(&envs, seed, copies);
    let mut k = 0;
    let mut step = |envs: &mut VecEnv, buf: &mut StepBuffers| -> anyhow::Result<()> {
        k = (k + 1) % batches.len();
        envs.step(&batches[k], &NoReward, buf)?;
        Ok(())
    };
    timed(budget, n, || step(&mut envs, &mut buf))
}

/// A rotating set of 16 pre-drawn random action batches for `envs` (each row one env's
/// action; with `copies`, every row the first), which keeps the RNG out of the timing.
pub(crate) fn action_batches(envs: &VecEnv, seed: u64, copies: bool) -> Vec<Vec<f32>> {
    let mut rng = carrot_envs::env_rng(seed ^ 0xAC71_0115);
    let space = envs.action_space();
    let (n, d) = (envs.num_envs(), space.flat_dim());
    (0..16)
        .map(|_| {
            let mut a = vec![0.0; n * d];
            a.chunks_mut(d).for_each(|row| space.sample(&mut rng, row));
            if copies {
                let (first, rest) = a.split_at_mut(d);
                rest.chunks_mut(d)
                    .for_each(|row| row.copy_from_slice(first));
            }
            a
        })
        .collect()
}

/// The env's rapier world alone, stepped in the same thread chunks as a VecEnv: one world per
/// `envs_per_world` envs for the tasks whose envs share worlds, one per env for mountain cars.
enum BareWorld {
    CartPoles(CartPoles),
    Pendulums(Pendulums),
    Acrobots(Acrobots),
    MountainCar(MountainCar),
}

impl BareWorld {
    /// The world of envs `first..first + len` (several only for tasks whose envs share
    /// worlds), each reset with its VecEnv seed.
    fn new(config: &EnvConfig, seed: u64, first: usize, len: usize) -> anyhow::Result<Self> {
        let seed_of = |j: usize| carrot_envs::env_seed(seed, first + j);
        let reset_all = |batch: &mut dyn EnvBatch| {
            let mut obs = vec![0.0; batch.observation_space().flat_dim()];
            for j in 0..len {
                batch.reset(j, Some(seed_of(j)), &mut obs);
            }
        };
        Ok(match config {
            EnvConfig::Cartpole(c) => {
                let mut batch = CartPoles::new(c.clone(), len)?;
                reset_all(&mut batch);
                BareWorld::CartPoles(batch)
            }
            EnvConfig::Pendulum(c) => {
                let mut batch = Pendulums::new(c.clone(), len)?;
                reset_all(&mut batch);
                BareWorld::Pendulums(batch)
            }
            EnvConfig::Acrobot(c) => {
                let mut batch = Acrobots::new(c.clone(), len)?;
                reset_all(&mut batch);
                BareWorld::Acrobots(batch)
            }
            EnvConfig::MountainCar(c) => {
                BareWorld::MountainCar(reset(MountainCar::new(c.clone())?, seed_of(0)))
            }
            other => bail!("no bare world for env '{}'", other.id()),
        })
    }

    fn step(&mut self) {
        match self {
            BareWorld::CartPoles(e) => e.step_bare_world(),
            BareWorld::Pendulums(e) => e.step_bare_world(),
            BareWorld::Acrobots(e) => e.step_bare_world(),
            BareWorld::MountainCar(e) => e.step_bare_world(),
        }
    }
}

/// `env` after a reset with `seed`.
fn reset<E: Env>(mut env: E, seed: u64) -> E {
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    env.reset(Some(seed), &mut obs);
    env
}

fn measure_floor(config: &EnvConfig, n: usize, seed: u64, budget: Budget) -> anyhow::Result<Rate> {
    let ranges: Vec<Range<usize>> = match config {
        EnvConfig::Cartpole(c) => c.worlds(n).collect(),
        EnvConfig::Pendulum(c) => c.worlds(n).collect(),
        EnvConfig::Acrobot(c) => c.worlds(n).collect(),
        _ => (0..n).map(|i| i..i + 1).collect(),
    };
    let mut worlds = ranges
        .into_iter()
        .map(|envs| BareWorld::new(config, seed, envs.start, envs.len()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let chunk = worlds.len().div_ceil(rayon::current_num_threads().max(1));
    timed(budget, n, || {
        worlds
            .par_chunks_mut(chunk)
            .for_each(|c| c.iter_mut().for_each(BareWorld::step));
        Ok(())
    })
}

/// Env steps per wall-clock second and per second of CPU time of this process (Linux only;
/// the latter is what the code costs when other processes share the cores).
#[derive(Clone, Copy, Debug)]
struct Rate {
    wall: f64,
    cpu: Option<f64>,
}

impl Rate {
    /// No measurement (the driving world has no bare-world floor).
    const UNKNOWN: Rate = Rate {
        wall: f64::NAN,
        cpu: None,
    };
}

/// How long a measurement steps.
#[derive(Clone, Copy, Debug)]
enum Budget {
    /// About this long, after a tenth of it to warm up.
    Time(Duration),
    /// Exactly this many calls, after a tenth as many (at least one) to warm up.
    Steps(u64),
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::Time(d) => write!(f, "{:.1} s", d.as_secs_f64()),
            Budget::Steps(k) => write!(f, "{k} steps"),
        }
    }
}

/// Calls `step` (which advances `n` envs) within `budget` after a short warm-up.
fn timed(
    budget: Budget,
    n: usize,
    mut step: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Rate> {
    let warmup = Instant::now();
    match budget {
        Budget::Time(d) => {
            while warmup.elapsed() < d / 10 {
                step()?;
            }
        }
        Budget::Steps(k) => {
            for _ in 0..(k / 10).max(1) {
                step()?;
            }
        }
    }
    let cpu_start = process_cpu_seconds();
    let start = Instant::now();
    let more = |calls: usize| match budget {
        Budget::Time(d) => start.elapsed() < d,
        Budget::Steps(k) => (calls as u64) < k,
    };
    let mut calls = 0;
    while more(calls) {
        step()?;
        calls += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    let steps = calls * n;
    let cpu = cpu_start
        .zip(process_cpu_seconds())
        .map(|(a, b)| b - a)
        .filter(|&used| used > 0.0)
        .map(|used| steps as f64 / used);
    Ok(Rate {
        wall: steps as f64 / wall,
        cpu,
    })
}

/// User + system CPU seconds of this process from `/proc/self/stat` (100 ticks per second,
/// Linux's USER_HZ), or None elsewhere.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// `1234567.8` as `1,234,568`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments for `envs` with one cell per list and the shortest timing.
    fn bench_args(envs: &[&str]) -> BenchEnvsArgs {
        BenchEnvsArgs {
            envs: envs.iter().map(|e| e.to_string()).collect(),
            num_envs: vec![1],
            vehicles: vec![0],
            map_pool: None,
            threads: vec![1],
            seconds: 0.01,
            steps: None,
            seed: 0,
            copies: false,
            repeats: 1,
            json: None,
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn cpu_time_is_read_and_grows() {
        let before = process_cpu_seconds().expect("/proc/self/stat");
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(100) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0 && process_cpu_seconds().unwrap() > before);
    }

    /// A step budget makes exactly that many calls after its warm-up of a tenth (at least
    /// one), and counts `n` env steps per call.
    #[test]
    fn a_step_budget_calls_exactly_that_many_after_its_warm_up() {
        for (k, warm_up) in [(25, 2), (3, 1), (1, 1)] {
            let mut calls = 0;
            let rate = timed(Budget::Steps(k), 4, || {
                calls += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!(calls, k + warm_up, "budget of {k} steps");
            assert!(rate.wall > 0.0);
        }
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
    }

    #[test]
    fn every_env_steps_in_the_benchmark_harness() {
        for id in CONTROL_IDS {
            let config: EnvConfig = toml::from_str(&format!("id = {id:?}")).unwrap();
            let short = Budget::Time(Duration::from_millis(5));
            for copies in [false, true] {
                assert!(measure_vec_env(&config, 3, 0, copies, short).unwrap().wall > 0.0);
            }
            assert!(measure_floor(&config, 3, 0, short).unwrap().wall > 0.0);
        }
        let driving: EnvConfig = toml::from_str("id = \"driving\"\ntraffic = 2").unwrap();
        assert!(
            measure_vec_env(&driving, 2, 0, true, Budget::Steps(3))
                .unwrap()
                .wall
                > 0.0
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        let args = BenchEnvsArgs {
            num_envs: vec![0],
            ..bench_args(&["cartpole"])
        };
        assert!(run(&args).is_err());
        let args = bench_args(&["no_such_env"]);
        assert!(run(&args).unwrap_err().to_string().contains("no_such_env"));
        let args = BenchEnvsArgs {
            repeats: 0,
            ..bench_args(&["cartpole"])
        };
        assert!(run(&args).unwrap_err().to_string().contains("--repeats"));
        let args = BenchEnvsArgs {
            steps: Some(0),
            ..bench_args(&["cartpole"])
        };
        assert!(run(&args).unwrap_err().to_string().contains("--steps"));
    }

    #[test]
    fn repeats_measure_every_cell_once_per_round_and_report_the_median() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("envs.json");
        let args = BenchEnvsArgs {
            num_envs: vec![1, 2],
            repeats: 3,
            json: Some(path.clone()),
            ..bench_args(&["cartpole"])
        };
        run(&args).unwrap();
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(rows.len(), 2, "one row per cell, not per round");
        for row in &rows {
            let mut rounds: Vec<f64> = row["steps_per_second_rounds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(rounds.len(), 3);
            assert!(rounds.iter().all(|&r| r > 0.0));
            rounds.sort_by(f64::total_cmp);
            assert_eq!(row["steps_per_second"].as_f64().unwrap(), rounds[1]);
            assert_eq!(
                row["steps_per_cpu_second_rounds"].as_array().unwrap().len(),
                3
            );
        }
        assert_eq!(rows[1]["num_envs"], 2);
    }

    #[test]
    fn a_spread_is_the_median_and_range_of_several_rounds() {
        assert_eq!(spread(&[1234.0]), "1,234");
        assert_eq!(spread(&[3000.0, 1000.0, 2000.0]), "2,000 (1,000-3,000)");
    }

    #[test]
    fn json_has_one_row_per_cell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("envs.json");
        let args = BenchEnvsArgs {
            num_envs: vec![2],
            threads: vec![1, 2],
            json: Some(path.clone()),
            ..bench_args(&["cartpole", "driving"])
        };
        run(&args).unwrap();
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0]["env"], "cartpole");
        assert_eq!(rows[1]["threads"], 2);
        assert!(rows[0]["steps_per_second"].as_f64().unwrap() > 0.0);
        assert!(rows[0]["floor_steps_per_second"].as_f64().unwrap() > 0.0);
        assert_eq!(rows[2]["env"], "driving/0veh");
        assert!(rows[2]["floor_steps_per_second"].is_null());
    }

    #[test]
    fn a_map_pool_reaches_the_driving_config_and_its_label() {
        let args = BenchEnvsArgs {
            vehicles: vec![3],
            map_pool: Some(1),
            ..bench_args(&["driving"])
        };
        let cells = targets(&args).unwrap();
        assert_eq!(cells[0].0, "driving/3veh/pool1");
        match &cells[0].1 {
            EnvConfig::Driving(d) => assert_eq!((d.map_pool, d.traffic), (1, 3)),
            other => panic!("not a driving config: {other:?}"),
        }
        let default = targets(&BenchEnvsArgs {
            map_pool: None,
            ..args
        })
        .unwrap();
        assert_eq!(default[0].0, "driving/3veh");
        let copies = targets(&BenchEnvsArgs {
            copies: true,
            ..bench_args(&["cartpole", "driving"])
        })
        .unwrap();
        assert_eq!(copies[0].0, "cartpole/copies");
        assert_eq!(copies[1].0, "driving/0veh/copies");
        match &default[0].1 {
            EnvConfig::Driving(d) => assert_eq!(d.map_pool, DrivingConfig::default().map_pool),
            other => panic!("not a driving config: {other:?}"),
        }
    }
}
