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

/// The whole `carrot` command line: parse, run, and report an error as one line with a
/// non-zero exit code. A downstream binary that registers its own envs and rewards
/// (`carrot_envs::register_env`, `carrot_rewards::register_reward`) calls this afterwards and
/// gets every command with them (see `examples/custom_env`).
pub fn cli_main() -> std::process::ExitCode {
    use clap::Parser;
    // Sets process-wide environment variables, so it runs before any other thread exists.
    carrot_agents::runtime::tune_for_cpu_training();
    // `carrot sweep list | head` must end quietly, as other command-line tools do, instead of
    // panicking on the broken pipe: restore the default SIGPIPE action Rust's runtime ignores.
    // SAFETY: called before any other thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // Run the command on a rayon worker: parallel sections started from a worker join inline,
    // where started from the main thread each one pays a cross-thread wake-up and sleep.
    let result = rayon::scope(|_| run_command(&cli));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            let line = layered::one_line(&format!("{err:#}"));
            eprintln!("error: {}", suggest::with_suggestion(&line));
            std::process::ExitCode::FAILURE
        }
    }
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
