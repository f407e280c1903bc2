//! `carrot bench checkpoint`: what a checkpoint costs (size on disk, write and restore time)
//! now that it carries the envs mid-episode, for several env counts of one config (default:
//! the CaRL town study's base). Each env count trains a few iterations so the envs stand
//! mid-episode, then writes the checkpoint and restores it into a fresh trainer. Restoring a
//! driving env replays its current episode, so the restore time grows with the steps taken
//! since the envs' last resets.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use carrot_agents::checkpoint::{restore, restore_collection, save};
use carrot_agents::Trainer;

use crate::bench::timing::median;
use crate::train::resolve;

/// Options of `carrot bench checkpoint`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
    carrot bench checkpoint\n  \
    carrot bench checkpoint --envs 8,128 --iterations 2 --repeats 3\n  \
    carrot bench checkpoint --config experiments/configs/cartpole.toml --envs 4,64")]
pub struct BenchCheckpointArgs {
    /// The run config (its num_envs is replaced by each of --envs).
    #[arg(
        long,
        default_value = "experiments/configs/study/town_scaling_base.toml"
    )]
    pub config: PathBuf,
    /// Env counts to measure.
    #[arg(long, value_delimiter = ',', default_values_t = vec![8, 128])]
    pub envs: Vec<usize>,
    /// Training iterations before the checkpoint (the envs' depth into their episodes).
    #[arg(long, default_value_t = 2)]
    pub iterations: usize,
    /// Writes and restores timed per env count (the median is printed).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
}

/// Total size of the files in `dir`, and of its env snapshot.
fn sizes(dir: &Path) -> Result<(u64, u64)> {
    let (mut total, mut envs) = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let len = entry.metadata()?.len();
        total += len;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("collection-")
        {
            envs += len;
        }
    }
    Ok((total, envs))
}

pub fn run(args: &BenchCheckpointArgs) -> Result<()> {
    let base = resolve(Some(&args.config), &[])?;
    let scratch =
        std::env::temp_dir().join(format!("carrot-bench-checkpoint-{}", std::process::id()));
    println!(
        "config {} (env {}), {} x {} steps before the checkpoint, median of {} writes and restores",
        args.config.display(),
        base.env.id(),
        args.iterations,
        base.ppo.num_steps,
        args.repeats.max(1)
    );
    println!("| envs | checkpoint bytes | of which env snapshot | write ms | restore ms |");
    println!("| --- | --- | --- | --- | --- |");
    for &n in &args.envs {
        let mut config = base.clone();
        config.ppo.num_envs = n;
        config.ppo.minibatch_size = None;
        config.ppo.total_timesteps = ((args.iterations + 1) * n * config.ppo.num_steps) as u64;
        config.run.eval_episodes = 0;
        let mut trainer = Trainer::new(&config)?;
        for _ in 0..args.iterations {
            trainer.iterate()?;
        }
        let dir = scratch.join(format!("envs{n}"));
        let (mut writes, mut restores) = (Vec::new(), Vec::new());
        for _ in 0..args.repeats.max(1) {
            let started = Instant::now();
            save(&trainer, &dir, None)?;
            writes.push(started.elapsed().as_secs_f64() * 1e3);
            let mut fresh = Trainer::new(&config)?;
            let started = Instant::now();
            let state = restore(&mut fresh, &dir)?;
            let restored = restore_collection(&mut fresh, &dir, &state)?;
            restores.push(started.elapsed().as_secs_f64() * 1e3);
            anyhow::ensure!(restored, "env '{}' wrote no snapshot", config.env.id());
        }
        let (total, envs) = sizes(&dir)?;
        println!(
            "| {n} | {total} | {envs} | {:.1} | {:.1} |",
            median(writes),
            median(restores)
        );
    }
    std::fs::remove_dir_all(&scratch)
        .with_context(|| format!("cannot remove {}", scratch.display()))
}
