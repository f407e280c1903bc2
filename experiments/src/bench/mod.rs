//! `carrot bench ...`: throughput benchmarks that print figures (never timed tests).
//!
//! - [`envs`]: env stepping throughput; [`driving`]: the driving world's;
//! - [`learner`]: PPO learner throughput (and end-to-end cartpole);
//! - [`parity`]: the custom ops' device paths against the CPU (losses and gradients per head);
//! - [`bilevel`]: the cost of BARFI's outer step and peak memory;
//! - [`parl`]: the cost of preference learning (relabel, feedback rounds, A-PARL);
//! - [`checkpoint`]: a checkpoint's size and write / restore time;
//! - [`trial`]: a change to the env code against the code it replaces, in one process.

pub mod bilevel;
pub mod checkpoint;
pub mod driving;
pub mod envs;
pub mod learner;
pub mod parity;
pub mod parl;
mod timing;
pub mod trial;

use clap::Subcommand;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot bench envs --env cartpole,pendulum\n  \
    carrot bench learner --batch 4096 --hidden 64\n  \
    carrot bench parity --device portable\n  \
    carrot bench driving --vehicles 0,30\n  \
    carrot bench bilevel\n  \
    carrot bench parl\n  \
    carrot bench checkpoint --envs 8,128\n  \
    carrot bench trial --env driving --num-envs 128\n\n\
    Run `carrot bench <benchmark> --help` for the options and examples of each.")]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Environment stepping throughput.
    Envs(envs::BenchEnvsArgs),
    /// PPO learner throughput (samples per second through an epoch).
    Learner(learner::BenchLearnerArgs),
    /// Losses and gradients on a device path against the CPU custom ops, per policy head.
    Parity(parity::BenchParityArgs),
    /// Driving-world throughput.
    Driving(driving::BenchDrivingArgs),
    /// The cost of BARFI's outer step against a plain PPO iteration, and peak memory.
    Bilevel(bilevel::BenchBilevelArgs),
    /// The cost of preference learning (PEBBLE, A-PARL) against oracle PPO.
    Parl(parl::BenchParlArgs),
    /// A checkpoint's size and write / restore time (envs snapshotted mid-episode).
    Checkpoint(checkpoint::BenchCheckpointArgs),
    /// A change to the env code (behind `carrot_envs::trial()`) against the code it
    /// replaces, switched every few VecEnv steps in one process.
    Trial(trial::BenchTrialArgs),
}

/// Runs the chosen benchmark.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match &args.which {
        BenchCommand::Envs(a) => envs::run(a),
        BenchCommand::Learner(a) => learner::run(a),
        BenchCommand::Parity(a) => parity::run(a),
        BenchCommand::Driving(a) => driving::run(a),
        BenchCommand::Bilevel(a) => bilevel::run(a),
        BenchCommand::Parl(a) => parl::run(a),
        BenchCommand::Checkpoint(a) => checkpoint::run(a),
        BenchCommand::Trial(a) => trial::run(a),
    }
}
