//! `carrot bench parl`: what preference learning costs on top of PPO.
//!
//! Per batch size, a config (default: the P1 pendulum config) runs a few iterations as
//! - `oracle`: plain PPO on the true reward;
//! - `relabel`: PEBBLE with its only session at iteration 0, so a timed iteration pays just the
//!   relabelling of the rollout by the reward-model ensemble;
//! - `pebble session`: a feedback session on every iteration (segments, query selection,
//!   teacher labels, reward-model training, relabel);
//! - `aparl session`: the same plus the A-PARL correction.
//!
//! Each row gives the median iteration time and its excess over the row before it, so the
//! excesses are the relabel, one feedback round (mostly reward-model training) and the
//! correction. Then whole runs of the config with its own session schedule give the end-to-end
//! ratio to the oracle run (the target is at most 2x); they exclude the final
//! evaluation and checkpoint writes, which every method shares.

use std::path::PathBuf;

use anyhow::{Context, Result};
use carrot_agents::{PreferenceMethod, TrainConfig};

use crate::bench::timing::{iteration_ms, iteration_times_ms, peak_rss_mib};
use crate::train::resolve;

/// Options of `carrot bench parl`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
    carrot bench parl\n  \
    carrot bench parl --batch 65536 --iterations 3 --timesteps 0\n  \
    carrot bench parl --config experiments/configs/bilevel/parl/pendulum.toml --timesteps 100000")]
pub struct BenchParlArgs {
    /// A config with a `[preference]` section.
    #[arg(long, default_value = "experiments/configs/bilevel/parl/pendulum.toml")]
    pub config: PathBuf,
    /// Rollout batch sizes (num_envs x num_steps; num_envs is kept, num_steps follows).
    #[arg(long, value_delimiter = ',', default_values_t = vec![4096, 65536])]
    pub batch: Vec<usize>,
    /// Timed iterations per mode (after one untimed iteration).
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// Env steps of the end-to-end runs (default: the config's `ppo.total_timesteps`; 0 skips
    /// them).
    #[arg(long)]
    pub timesteps: Option<u64>,
}

fn with_method(base: &TrainConfig, method: PreferenceMethod) -> TrainConfig {
    let mut config = base.clone();
    if let Some(p) = config.preference.as_mut() {
        p.method = method;
    }
    config
}

fn per_iteration_table(base: &TrainConfig, args: &BenchParlArgs) -> Result<()> {
    println!("| batch | mode | ms / iteration | excess over the row above, ms | x oracle iteration | peak RSS MiB |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for &batch in &args.batch {
        let mut config = base.clone();
        let n = config.ppo.num_envs;
        config.ppo.num_steps = batch.div_ceil(n);
        config.ppo.minibatch_size = None;
        config.ppo.total_timesteps = ((args.iterations + 1) * n * config.ppo.num_steps) as u64;
        config.run.eval_episodes = 0;
        let every_iteration = |method| {
            let mut c = with_method(&config, method);
            let p = c.preference.as_mut().expect("checked");
            p.session_every = 1;
            p.max_queries = p.queries_per_session * (args.iterations + 1);
            c
        };
        let mut relabel = with_method(&config, PreferenceMethod::Pebble);
        relabel.preference.as_mut().expect("checked").session_every = args.iterations + 1;
        let modes = [
            ("oracle", with_method(&config, PreferenceMethod::Oracle)),
            ("relabel", relabel),
            ("pebble session", every_iteration(PreferenceMethod::Pebble)),
            ("aparl session", every_iteration(PreferenceMethod::Aparl)),
        ];
        let (mut oracle_ms, mut previous_ms) = (f64::NAN, f64::NAN);
        for (label, c) in modes {
            let ms = iteration_ms(&c, args.iterations)?;
            if label == "oracle" {
                oracle_ms = ms;
                previous_ms = ms;
            }
            let rss = peak_rss_mib().map_or("n/a".into(), |m| format!("{m:.0}"));
            println!(
                "| {} | {label} | {ms:.1} | {:.1} | {:.2} | {rss} |",
                n * config.ppo.num_steps,
                ms - previous_ms,
                ms / oracle_ms
            );
            previous_ms = ms;
        }
    }
    Ok(())
}

fn end_to_end_table(base: &TrainConfig, timesteps: u64) -> Result<()> {
    let mut config = base.clone();
    config.ppo.total_timesteps = timesteps;
    config.run.eval_episodes = 0;
    let iterations = config.ppo.num_iterations().max(1);
    println!(
        "\nwhole runs: {timesteps} env steps ({iterations} iterations) with the config's session schedule"
    );
    println!("| method | wall s | x oracle |");
    println!("| --- | --- | --- |");
    let mut oracle_s = f64::NAN;
    for (label, method) in [
        ("oracle", PreferenceMethod::Oracle),
        ("pebble", PreferenceMethod::Pebble),
        ("aparl", PreferenceMethod::Aparl),
    ] {
        let c = with_method(&config, method);
        let seconds = iteration_times_ms(&c, iterations - 1)?.iter().sum::<f64>() / 1e3;
        if method == PreferenceMethod::Oracle {
            oracle_s = seconds;
        }
        println!("| {label} | {seconds:.1} | {:.2} |", seconds / oracle_s);
    }
    Ok(())
}

pub fn run(args: &BenchParlArgs) -> Result<()> {
    let base = resolve(Some(&args.config), &[])?;
    let preference = base
        .preference
        .as_ref()
        .with_context(|| format!("{} has no [preference] section", args.config.display()))?;
    println!(
        "config {} (env {}), {} timed iterations per mode, {} queries per session, reward model {} x {:?} with {} steps per session",
        args.config.display(),
        base.env.id(),
        args.iterations,
        preference.queries_per_session,
        preference.model.members,
        preference.model.hidden,
        preference.model.steps,
    );
    per_iteration_table(&base, args)?;
    let timesteps = args.timesteps.unwrap_or(base.ppo.total_timesteps);
    if timesteps > 0 {
        end_to_end_table(&base, timesteps)?;
    }
    Ok(())
}
