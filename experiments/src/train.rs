//! `carrot train`: resolve a layered config, prepare the run directory, train (resuming from
//! the last checkpoint when the directory already holds this run), plot the learning curve and
//! print the evaluation.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use carrot_agents::{AgentError, RunOptions, TrainConfig};

use crate::layered::Layers;
use crate::run_dir::{self, RunLog, RunMeta};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot train --config experiments/configs/cartpole.toml\n  \
    carrot train --config experiments/configs/pendulum.toml --set seed=2 --set ppo.learning_rate=1e-3\n  \
    carrot train --config experiments/configs/cartpole.toml --set env.id=acrobot --run-dir runs/acrobot\n  \
    carrot train --config experiments/configs/cartpole.toml --print-config\n\n\
    Rerunning the same command resumes an interrupted run from its last checkpoint; a finished\n\
    run is not trained again.")]
pub struct TrainArgs {
    /// TOML config file, merged over the built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override one key after the file, e.g. `--set ppo.num_envs=16`; repeatable, applied in
    /// order. Values are TOML (`3`, `1e-3`, `[64, 64]`, `{ id = "sum", terms = [...] }`) or
    /// bare strings.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run directory (default: runs/ and the config's name, plus the --set overrides).
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Where tensors live (the same as `--set ppo.device=...`); `cuda` needs a build with
    /// `--features cuda`. Not part of the run: a run resumes on either device.
    #[arg(long, value_parser = ["cpu", "cuda"])]
    pub device: Option<String>,
    /// Print the resolved config and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Stop after this many iterations in this invocation, rounded up to the next checkpoint
    /// (`run.checkpoint_every`) so that the progress is saved; rerun the command to continue.
    #[arg(long, value_name = "N")]
    pub max_iterations: Option<usize>,
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let mut sets = args.set.clone();
    if let Some(device) = &args.device {
        sets.push(format!("ppo.device={device}"));
    }
    let config = resolve(args.config.as_deref(), &sets)?;
    if args.print_config {
        print!("{}", run_dir::config_to_toml(&config)?);
        return Ok(());
    }
    let dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| default_run_dir(args.config.as_deref(), &args.set));
    let meta = RunMeta {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into()),
        seed: config.seed,
        ..Default::default()
    };
    train_in_dir(&config, &dir, &meta, args.max_iterations)
}

/// Defaults, then the file, then the overrides; validated.
pub fn resolve(file: Option<&Path>, sets: &[String]) -> Result<TrainConfig> {
    let mut layers = Layers::from_defaults(&TrainConfig::default())?;
    if let Some(file) = file {
        layers.merge_file(file)?;
    }
    for assignment in sets {
        layers.apply_set(assignment)?;
    }
    let config: TrainConfig = layers.resolve()?;
    validate(&config)?;
    Ok(config)
}

/// The config's own checks plus building the env and reward it names, so that a bad config
/// fails before a run directory is made.
pub fn validate(config: &TrainConfig) -> Result<()> {
    config.validate()?;
    // A device this build or machine lacks fails here, before a run directory exists.
    carrot_agents::networks::make_device(config.ppo.device).map_err(|e| match e {
        AgentError::Device(message) => anyhow!("config key `ppo.device`: {message}"),
        other => anyhow!("config key `ppo.device`: {other}"),
    })?;
    let env = config
        .env
        .build()
        .map_err(|e| anyhow!("config key `env`: {e}"))?;
    config
        .reward
        .build(env.signal_spec())
        .map_err(|e| anyhow!("config key `reward`: {e}"))?;
    config.ppo.resolve_critic_signals(env.signal_spec())?;
    carrot_bilevel::check(config)?;
    Ok(())
}

fn default_run_dir(config: Option<&Path>, sets: &[String]) -> PathBuf {
    let stem = config
        .and_then(|c| c.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "default".into());
    let mut name = vec![stem];
    name.extend(sets.iter().map(|s| s.replace(' ', "")));
    Path::new("runs").join(run_dir::path_safe(&name.join(",")))
}

/// Trains `config` in `dir` (resuming or skipping as the directory says), then plots and
/// prints the evaluation. Shared by `carrot train` and the sweep runner.
pub fn train_in_dir(
    config: &TrainConfig,
    dir: &Path,
    meta: &RunMeta,
    max_iterations: Option<usize>,
) -> Result<()> {
    let (resumed, _lock) = run_dir::prepare(dir, config, meta)?;
    let log = RunLog::open(dir)?;
    if run_dir::is_complete(dir) {
        log.line(&format!("run {} is already complete", dir.display()));
    } else {
        log.line(&format!(
            "{} run {} (env {}, reward {}, seed {}, revision {})",
            if resumed { "resuming" } else { "starting" },
            dir.display(),
            config.env.id(),
            config.reward.id(),
            config.seed,
            run_dir::REVISION,
        ));
        let finished = launch(config, dir, &log, max_iterations)?;
        if !finished {
            log.line(&format!(
                "stopped before the end; rerun the same command to continue {}",
                dir.display()
            ));
            return Ok(());
        }
    }
    let title = format!(
        "{} (env {}, reward {}, seed {})",
        meta.name,
        config.env.id(),
        config.reward.id(),
        config.seed
    );
    match crate::metrics::plot_run_curve(dir, &title) {
        Ok(png) => log.line(&format!("learning curve: {}", png.display())),
        Err(e) => log.line(&format!("no learning curve: {e:#}")),
    }
    let summary = if dir.join(run_dir::EVAL_FILE).is_file() {
        crate::eval::summary_line(dir)?
    } else {
        format!(
            "{}: trained, not evaluated (run.eval_episodes = 0)",
            dir.display()
        )
    };
    log.record(&summary);
    println!("{summary}");
    Ok(())
}

/// `n` iterations from where `dir`'s run stands, rounded up so that the stop lands on a
/// checkpoint: a run stopped between checkpoints would redo those iterations on every rerun.
fn to_checkpoint(config: &TrainConfig, dir: &Path, n: usize) -> usize {
    let every = config.run.checkpoint_every.max(1);
    let start =
        carrot_agents::checkpoint::read_state(&carrot_agents::checkpoint::checkpoint_dir(dir))
            .map_or(0, |s| s.iteration);
    (start + n).next_multiple_of(every) - start
}

/// Hands the run to the trainer (through its outer loop when `config.outer` is set); returns
/// whether training finished.
fn launch(
    config: &TrainConfig,
    dir: &Path,
    log: &RunLog,
    max_iterations: Option<usize>,
) -> Result<bool> {
    let options = RunOptions {
        max_iterations: max_iterations.map(|n| to_checkpoint(config, dir, n)),
        ..Default::default()
    };
    let summary = carrot_bilevel::train_run(config, dir, &options)?;
    if let Some(from) = summary.resumed_from {
        log.line(&format!("resumed from the checkpoint of iteration {from}"));
    }
    for note in &summary.notes {
        log.line(note);
    }
    log.line(&format!(
        "trained to iteration {}/{} ({} env steps) at {:.0} env steps/s, {:.1} s",
        summary.iterations,
        summary.num_iterations,
        summary.global_step,
        summary.steps_per_second,
        summary.wall_seconds
    ));
    log.line(&summary.phase_seconds.describe());
    Ok(summary.finished)
}
