//! `carrot eval`: deterministic evaluation of a trained run, and reading `eval.json`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;

use crate::run_dir::EVAL_FILE;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot eval runs/cartpole\n  \
    carrot eval runs/sweeps/tiny/runs/seed=1 --episodes 50\n  \
    carrot eval runs/cartpole --best\n\n\
    Evaluates the run's latest checkpoint with the deterministic policy (argmax / mean) on\n\
    env seeds disjoint from the training seeds, and prints mean, std and per-episode returns\n\
    (and the env's episode metrics, e.g. the driving score). --best evaluates the best\n\
    checkpoint kept by run.keep_best instead.")]
pub struct EvalArgs {
    /// Run directory made by `carrot train`.
    #[arg(value_name = "RUN", required_unless_present = "run_flag")]
    pub run: Option<PathBuf>,
    /// The run directory as an option, as older versions took it.
    #[arg(long = "run", value_name = "DIR", conflicts_with = "run", hide = true)]
    pub run_flag: Option<PathBuf>,
    /// Episodes to evaluate [default: the run's `run.eval_episodes`].
    #[arg(long, value_name = "N")]
    pub episodes: Option<usize>,
    /// Evaluate the best checkpoint (`checkpoints/best/`, kept with `run.keep_best`).
    #[arg(long)]
    pub best: bool,
    /// Also write the result as JSON to this file (the run's own eval.json is left as is).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The part of `eval.json` that reports read.
#[derive(Clone, Debug, Deserialize)]
pub struct EvalRecord {
    pub mean_return: f64,
    #[serde(default)]
    pub std_return: f64,
    #[serde(default)]
    pub returns: Vec<f64>,
}

pub fn read_eval(dir: &Path) -> Result<EvalRecord> {
    let path = dir.join(EVAL_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow!("{} is corrupt: {e}", path.display()))
}

/// One line describing a run's evaluation.
pub fn summary_line(dir: &Path) -> Result<String> {
    let eval = read_eval(dir)?;
    Ok(format!(
        "evaluation of {}: mean return {:.2} ± {:.2} over {} episodes",
        dir.display(),
        eval.mean_return,
        eval.std_return,
        eval.returns.len()
    ))
}

impl EvalArgs {
    /// The run directory, given positionally or with `--run`.
    pub fn run_dir(&self) -> Result<&Path> {
        self.run
            .as_deref()
            .or(self.run_flag.as_deref())
            .ok_or_else(|| anyhow!("name the run directory: carrot eval RUN"))
    }
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let run = args.run_dir()?;
    let (result, which) = if args.best {
        let ckpt = carrot_agents::run::best_checkpoint(run)?;
        let record = carrot_agents::run::read_best(&ckpt)?;
        let result = carrot_agents::run::evaluate_checkpoint(&ckpt, args.episodes)?;
        let which = format!(
            "best checkpoint (iteration {}, {} {:.2}) of ",
            record.iteration, record.metric, record.score
        );
        (result, which)
    } else {
        (
            carrot_agents::evaluate_run(run, args.episodes)?,
            String::new(),
        )
    };
    println!(
        "evaluation of {which}{}: mean return {:.2} ± {:.2} (min {:.2}, max {:.2}) over {} episodes, \
         mean length {:.1}{}",
        run.display(),
        result.mean_return,
        result.std_return,
        result.min_return,
        result.max_return,
        result.episodes,
        result.mean_length,
        if result.capped > 0 {
            format!(", {} cut at run.eval_max_steps", result.capped)
        } else {
            String::new()
        }
    );
    let returns: Vec<String> = result.returns.iter().map(|r| format!("{r:.2}")).collect();
    println!("returns: {}", returns.join(" "));
    if !result.episode_metrics.is_empty() {
        let metrics: Vec<String> = result
            .episode_metrics
            .iter()
            .map(|(name, v)| format!("{name} {v:.2}"))
            .collect();
        println!("episode metrics (mean): {}", metrics.join(", "));
    }
    if let Some(out) = &args.out {
        crate::run_dir::write_atomic(out, serde_json::to_string_pretty(&result)?.as_bytes())?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
