//! `carrot bench bilevel`: what BARFI's outer loop costs on top of PPO.
//!
//! For each batch size, one config (default: the B1 cartpole PD config) is trained for a few
//! iterations as plain PPO, BARFI-FO and BARFI-Neumann, with an outer step on every iteration
//! (`every = 1`, `warmup = 0`). The outer step's cost is a method's median iteration time minus
//! plain PPO's (it includes the primary critic's fit), also given as a ratio to one plain
//! iteration. Peak resident memory (VmHWM) is read after each batch size; it is the process's
//! high-water mark, so it only grows down the table.

use std::path::PathBuf;

use anyhow::{Context, Result};
use carrot_agents::OuterMethod;

use crate::bench::timing::{iteration_ms, peak_rss_mib};
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
