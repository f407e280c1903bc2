//! `carrot`: the command line of the carrot RL suite.
//!
//! - `train` / `eval`: one PPO run in a run directory (config, revision, metrics, checkpoints,
//!   evaluation, log, learning curve).
//! - `sweep run` / `sweep slurm`: grids of runs from a sweep file, on a local worker pool or as a
//!   Slurm job array.
//! - `report`: aggregates a sweep (mean, IQM, stratified bootstrap CIs) into tables and plots.
//! - `render` and `bench`: videos of policies and throughput benchmarks.

mod bench_bilevel;
mod bench_driving;
mod bench_envs;
mod bench_learner;
mod eval;
mod layered;
mod metrics;
mod plotting;
mod render;
mod report;
mod run_dir;
mod stats;
mod study;
mod sweep;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "carrot",
    version,
    about = "carrot: rapier2d environments, PPO on candle, reward modules and experiment tools",
    after_help = "Examples:\n  \
        carrot train --config experiments/configs/cartpole.toml\n  \
        carrot eval --run runs/cartpole\n  \
        carrot sweep run experiments/configs/sweeps/tiny.toml --workers 2\n  \
        carrot report runs/sweeps/tiny\n\n\
        Run `carrot <command> --help` for the options of each command."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
    /// Render episodes of an env or a trained policy.
    Render(render::RenderArgs),
    /// Throughput benchmarks.
    Bench(BenchArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot bench envs --help\n  \
    carrot bench learner --help\n  \
    carrot bench driving --help")]
struct BenchArgs {
    #[command(subcommand)]
    which: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Environment stepping throughput.
    Envs(bench_envs::BenchEnvsArgs),
    /// PPO learner throughput (samples per second through an epoch).
    Learner(bench_learner::BenchLearnerArgs),
    /// Driving-world throughput.
    Driving(bench_driving::BenchDrivingArgs),
    /// The cost of BARFI's outer step against a plain PPO iteration, and peak memory.
    Bilevel(bench_bilevel::BenchBilevelArgs),
}

fn main() -> ExitCode {
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
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", layered::one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run_command(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Study(args) => study::run(args),
        Command::Report(args) => report::run(args),
        Command::Render(args) => render::run(args),
        Command::Bench(args) => match &args.which {
            BenchCommand::Envs(a) => bench_envs::run(a),
            BenchCommand::Learner(a) => bench_learner::run(a),
            BenchCommand::Driving(a) => bench_driving::run(a),
            BenchCommand::Bilevel(a) => bench_bilevel::run(a),
        },
    }
}
