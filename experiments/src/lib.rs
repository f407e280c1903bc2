//! `carrot`: the command line of the carrot RL suite, as a library (`main.rs` only parses and
//! exits), so the commands can be tested and reused.
//!
//! - `train` / `eval`: one PPO run in a run directory (config, revision, metrics, checkpoints,
//!   evaluation, log, learning curve).
//! - `sweep run` / `sweep slurm`: grids of runs from a sweep file, on a local worker pool or as a
//!   Slurm job array.
//! - `report`: aggregates a sweep (mean, IQM, stratified bootstrap CIs) into tables and plots.
//! - `envs`: every env (spaces, signals, config defaults) and every reward.
//! - `render` and `bench`: pictures and videos of envs and policies, throughput benchmarks.

//! - `study eval`: the driving study's held-out evaluation and its analysis.

pub mod bench;
pub mod envs_cmd;
pub mod eval;
pub mod layered;
pub mod metrics;
pub mod plotting;
pub mod render;
pub mod report;
pub mod run_dir;
pub mod stats;
pub mod study;
pub mod suggest;
pub mod sweep;
pub mod train;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "carrot",
    version = concat!(env!("CARGO_PKG_VERSION"), " (revision ", env!("CARROT_REVISION"), ")"),
    about = "carrot: rapier2d environments, PPO on candle, reward modules and experiment tools",
    after_help = "Examples:\n  \
        carrot train --config experiments/configs/cartpole.toml\n  \
        carrot eval runs/cartpole\n  \
        carrot sweep run experiments/configs/sweeps/tiny.toml --workers 2\n  \
        carrot report runs/sweeps/tiny\n\n\
        Run `carrot <command> --help` for the options of each command."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one PPO run from a config (resumes an interrupted run in the same run directory).
    Train(train::TrainArgs),
    /// Evaluate the final (or latest) policy of a run directory.
    Eval(eval::EvalArgs),
    /// Run a sweep locally or on Slurm.
    Sweep(sweep::SweepArgs),
    /// The driving study's held-out evaluation (policies and the expert on fixed routes).
    Study(study::StudyArgs),
    /// Aggregate runs under a directory into tables and plots.
    Report(report::ReportArgs),
    /// List every env (spaces, signals, config defaults) and every reward.
    Envs(envs_cmd::EnvsArgs),
    /// Render episodes of an env or a trained policy.
    Render(render::RenderArgs),
    /// Throughput benchmarks.
    Bench(bench::BenchArgs),
}

/// Runs the parsed command.
pub fn run_command(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Study(args) => study::run(args),
        Command::Report(args) => report::run(args),
        Command::Envs(args) => envs_cmd::run(args),
        Command::Render(args) => render::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
