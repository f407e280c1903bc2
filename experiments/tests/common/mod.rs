//! Helpers shared by the integration tests: they drive the real `carrot` binary, or train in
//! process (quiet run options, bit-level metric comparison, a tiny driving config).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `carrot` binary cargo built for these tests.
pub fn carrot() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carrot"));
    // One thread per run keeps concurrent test binaries from oversubscribing the cores.
    command.env("RAYON_NUM_THREADS", "1");
    command
}

/// A shipped config file, by its path under `experiments/configs/`.
pub fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name)
}

/// Runs a command to completion, with its output.
pub fn run(command: &mut Command) -> Output {
    command.output().expect("cannot start the carrot binary")
}

/// Runs a command that must succeed; returns its stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed with {}:\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The `iteration` column of a run's metrics.csv.
pub fn iterations(run_dir: &Path) -> Vec<u64> {
    column(run_dir, "iteration")
        .iter()
        .map(|s| s.parse().expect("integer iteration"))
        .collect()
}

/// The raw cells of one metrics.csv column.
pub fn column(run_dir: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(run_dir.join("metrics.csv")).expect("metrics.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let index = header.iter().position(|c| *c == name).expect("column");
    lines
        .map(|l| l.split(',').nth(index).unwrap_or_default().to_string())
        .collect()
}

/// Run options without a progress bar, stopping after `max_iterations` when given.
pub fn options(max_iterations: Option<usize>) -> carrot_agents::RunOptions {
    carrot_agents::RunOptions {
        progress: carrot_agents::ProgressMode::Quiet,
        max_iterations,
    }
}

/// Every metric of every row whose key `keep` accepts, as exact bits; wall-clock keys are
/// always left out.
pub fn metric_bits_where(
    rows: &[carrot_agents::IterationMetrics],
    keep: impl Fn(&str) -> bool,
) -> Vec<Vec<(String, u64)>> {
    rows.iter()
        .map(|m| {
            m.entries
                .iter()
                .filter(|(k, _)| !carrot_agents::WALL_CLOCK_KEYS.contains(&k.as_str()) && keep(k))
                .map(|(k, v)| (k.clone(), v.to_bits()))
                .collect()
        })
        .collect()
}

/// The study's driving base config, shrunk to `iterations` iterations of 2 envs x 32 steps
/// (mini-batches of 32, a checkpoint every 2, evaluation episodes cut at 5,000 steps).
pub fn tiny_driving(iterations: u64) -> carrot_agents::TrainConfig {
    let text = std::fs::read_to_string(config("study/driving_base.toml")).unwrap();
    let mut c: carrot_agents::TrainConfig = toml::from_str(&text).unwrap();
    c.ppo.num_envs = 2;
    c.ppo.num_steps = 32;
    c.ppo.minibatch_size = Some(32);
    c.ppo.total_timesteps = 2 * 32 * iterations;
    c.run.checkpoint_every = 2;
    c.run.eval_max_steps = 5_000;
    c
}
