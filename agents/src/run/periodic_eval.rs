//! Evaluation during training (`run.eval_every`): every `eval_every` iterations the current
//! policy gets the final evaluation ([`crate::evaluate`]: deterministic actions, held-out seeds,
//! its own envs), logged as the `eval/*` columns of that iteration's metrics row (NaN in the
//! other rows, like every sparse column). Nothing of the trainer is touched, so every other
//! column is identical with and without it, and a resumed run re-evaluates the same policies.
//!
//! With `run.keep_best`, the checkpoint with the highest `eval/mean_return` so far is copied
//! to `checkpoints/best/` with `best.json`. The copy is staged in a sibling and swapped in by
//! renames; a run killed mid-swap finds the complete one again when it resumes.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::error::{AgentError, Result};
use crate::evaluate::{evaluate, EvalResult};
use crate::run_dir::{best_checkpoint_dir, write_atomic, BEST_FILE};
use crate::train::{IterationHook, IterationMetrics, Trainer};

/// The metric the best checkpoint is chosen by.
pub const BEST_METRIC: &str = "eval/mean_return";

/// `best.json`: which iteration the best checkpoint is from and its score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestRecord {
    pub iteration: usize,
    pub global_step: u64,
    /// Always [`BEST_METRIC`].
    pub metric: String,
    pub score: f64,
}

/// Reads `best.json` from a best checkpoint's directory.
pub fn read_best(dir: &Path) -> Result<BestRecord> {
    let path = dir.join(BEST_FILE);
    let text = fs::read_to_string(&path).map_err(|e| AgentError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| AgentError::io(&path, format!("corrupt: {e}")))
}

pub(crate) struct PeriodicEval {
    every: usize,
    /// The env's episode metric names, each logged as `eval/<name>`.
    metric_names: Vec<String>,
    best: Option<BestKeeper>,
}

impl PeriodicEval {
    /// `None` when `run.eval_every` is 0.
    pub fn open(config: &TrainConfig, run_dir: &Path) -> Result<Option<Self>> {
        if config.run.eval_every == 0 {
            return Ok(None);
        }
        let env = config.env.build()?;
        let metric_names = env
            .episode_metric_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let best = if config.run.keep_best {
            Some(BestKeeper::open(&best_checkpoint_dir(run_dir))?)
        } else {
            None
        };
        Ok(Some(PeriodicEval {
            every: config.run.eval_every,
            metric_names,
            best,
        }))
    }

    /// Appends the `eval/*` columns to the row of the iteration `trainer` just finished,
    /// evaluating when it is due (then returned) and keeping the best checkpoint.
    pub fn after_iteration(
        &mut self,
        trainer: &Trainer,
        hook: &dyn IterationHook,
        row: &mut IterationMetrics,
    ) -> Result<Option<EvalResult>> {
        let due = trainer.iteration().is_multiple_of(self.every);
        let result = if due {
            let config = &trainer.config;
            Some(evaluate(
                config,
                trainer.policy(),
                config.run.eval_episodes,
            )?)
        } else {
            None
        };
        let value = |f: &dyn Fn(&EvalResult) -> f64| result.as_ref().map_or(f64::NAN, f);
        row.push(BEST_METRIC, value(&|r| r.mean_return));
        row.push("eval/std_return", value(&|r| r.std_return));
        row.push("eval/mean_length", value(&|r| r.mean_length));
        for name in &self.metric_names {
            let metric = |r: &EvalResult| r.episode_metrics.get(name).copied().unwrap_or(f64::NAN);
            row.push(format!("eval/{name}"), value(&metric));
        }
        if let (Some(best), Some(r)) = (self.best.as_mut(), result.as_ref()) {
            best.offer(trainer, hook, r.mean_return)?;
        }
        Ok(result)
    }
}

/// `checkpoints/best/` and the score it holds.
struct BestKeeper {
    dir: PathBuf,
    staging: PathBuf,
    retired: PathBuf,
    score: Option<f64>,
}

impl BestKeeper {
    /// Finishes a swap a killed run left half done, then reads the kept score.
    fn open(dir: &Path) -> Result<Self> {
        let sibling = |name: &str| dir.with_file_name(name);
        let keeper = BestKeeper {
            dir: dir.to_path_buf(),
            staging: sibling(".best.next"),
            retired: sibling(".best.old"),
            score: None,
        };
        if !dir.is_dir() {
            // Killed between the two renames of `offer`: the newer copy if it is complete.
            let complete = keeper.staging.join(BEST_FILE).is_file();
            let source = if complete {
                &keeper.staging
            } else {
                &keeper.retired
            };
            if source.is_dir() {
                rename(source, dir)?;
            }
        }
        for leftover in [&keeper.staging, &keeper.retired] {
            remove_dir(leftover)?;
        }
        let score = match read_best(dir) {
            Ok(record) => Some(record.score),
            Err(_) if !dir.join(BEST_FILE).exists() => None,
            Err(e) => return Err(e),
        };
        Ok(BestKeeper { score, ..keeper })
    }

    /// Keeps the trainer's checkpoint if `score` beats the best so far (ties keep the
    /// earlier one).
    fn offer(&mut self, trainer: &Trainer, hook: &dyn IterationHook, score: f64) -> Result<()> {
        if self.score.is_some_and(|best| score <= best) || !score.is_finite() {
            return Ok(());
        }
        remove_dir(&self.staging)?;
        checkpoint::save(trainer, &self.staging, hook.save()?)?;
        let record = BestRecord {
            iteration: trainer.iteration(),
            global_step: trainer.global_step(),
            metric: BEST_METRIC.into(),
            score,
        };
        let path = self.staging.join(BEST_FILE);
        let json = serde_json::to_vec_pretty(&record).map_err(|e| AgentError::io(&path, e))?;
        write_atomic(&path, &json)?;
        if self.dir.is_dir() {
            rename(&self.dir, &self.retired)?;
        }
        rename(&self.staging, &self.dir)?;
        remove_dir(&self.retired)?;
        self.score = Some(score);
        Ok(())
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| AgentError::io(to, format!("cannot write: {e}")))
}

fn remove_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| AgentError::io(dir, format!("cannot remove: {e}")))?;
    }
    Ok(())
}
