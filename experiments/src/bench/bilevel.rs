//! `carrot bench bilevel`: what BARFI's outer loop costs on top of PPO.
//!
//! For each batch size, one config (default: the B1 cartpole PD config) is trained for a few
//! iterations as plain PPO, BARFI-FO and BARFI-Neumann, with an outer step on every iteration
//! (`every = 1`, `warmup = 0`). The outer step's cost is a method's median iteration time minus
//! plain PPO's (it includes the primary critic's fit), also given as a ratio to one plain
//! iteration. Peak resident memory (VmHWM) is read after each batch size; it is the process's
//! high-water mark, so it only grows down the table.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use carrot_agents::{OuterMethod, TrainConfig, Trainer};

use crate::train::resolve;

/// Options of `carrot bench bilevel`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
    carrot bench bilevel\n  \
    carrot bench bilevel --batch 4096 --iterations 5\n  \
    carrot bench bilevel --config experiments/configs/bilevel/barfi/grid_world.toml --batch 4096")]
pub struct BenchBilevelArgs {
    /// A config with an `[outer]` section.
    #[arg(
        long,
        default_value = "experiments/configs/bilevel/barfi/cartpole_pd.toml"
    )]
    pub config: PathBuf,
    /// Rollout batch sizes (num_envs x num_steps; num_envs is kept, num_steps follows).
    #[arg(long, value_delimiter = ',', default_values_t = vec![4096, 65536])]
    pub batch: Vec<usize>,
    /// Timed iterations per method (after one untimed iteration).
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// Neumann terms K.
    #[arg(long, default_value_t = 5)]
    pub neumann_k: usize,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median wall time of one iteration, in ms.
fn iteration_ms(config: &TrainConfig, iterations: usize) -> Result<f64> {
    let mut hook = carrot_bilevel::build_hook(config)?;
    let mut noop = carrot_agents::NoHook;
    let hook: &mut dyn carrot_agents::IterationHook = match hook.as_mut() {
        Some(h) => h.as_mut(),
        None => &mut noop,
    };
    let mut trainer = Trainer::new(config)?;
    let mut times = Vec::new();
    for i in 0..=iterations {
        let started = Instant::now();
        trainer.iterate_with(hook)?;
        if i > 0 {
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(median(times))
}

/// Peak resident memory of this process in MiB (Linux), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(args: &BenchBilevelArgs) -> Result<()> {
    let base = resolve(Some(&args.config), &[])?;
    let outer = base
        .outer
        .clone()
        .with_context(|| format!("{} has no [outer] section", args.config.display()))?;
    println!(
        "config {} (env {}), {} timed iterations per method, an outer step every iteration",
        args.config.display(),
        base.env.id(),
        args.iterations
    );
    println!(
        "| batch | method | ms / iteration | outer step ms | x plain iteration | peak RSS MiB |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for &batch in &args.batch {
        let mut config = base.clone();
        let n = config.ppo.num_envs;
        config.ppo.num_steps = batch.div_ceil(n);
        config.ppo.minibatch_size = None;
        config.ppo.total_timesteps = ((args.iterations + 1) * n * config.ppo.num_steps) as u64;
        config.run.eval_episodes = 0;
        let mut plain_ms = f64::NAN;
        for (label, method) in [
            ("plain", OuterMethod::Primary),
            ("fo", OuterMethod::Fo),
            ("neumann", OuterMethod::Neumann),
        ] {
            let mut o = outer.clone();
            o.method = method;
            o.every = 1;
            o.warmup = 0;
            o.neumann_k = args.neumann_k;
            o.hessian_batch = 0;
            config.outer = Some(o);
            let ms = iteration_ms(&config, args.iterations)?;
            if method == OuterMethod::Primary {
                plain_ms = ms;
            }
            let rss = peak_rss_mib().map_or("n/a".into(), |m| format!("{m:.0}"));
            println!(
                "| {} | {label} | {ms:.1} | {:.1} | {:.2} | {rss} |",
                n * config.ppo.num_steps,
                ms - plain_ms,
                ms / plain_ms
            );
        }
    }
    Ok(())
}
