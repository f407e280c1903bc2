//! Training runs on disk, the API the `carrot` CLI drives.
//!
//! A run directory holds `metrics.jsonl`, `metrics.csv`, `checkpoint/` and, once training has
//! finished, `eval.json`. [`train_run`] starts a run or resumes it from its last checkpoint;
//! [`evaluate_run`] re-evaluates a trained run; [`load_policy`] gives the trained policy to
//! other tools (rendering).

mod metrics;
mod periodic_eval;
mod progress;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

pub use metrics::{read_jsonl, MetricsWriter, CSV as METRICS_CSV, JSONL as METRICS_JSONL};
pub use periodic_eval::{read_best, BestRecord, BEST_METRIC};
pub use progress::ProgressMode;

use crate::checkpoint::{self, checkpoint_dir, load_tensors, read_state};
use crate::config::{DeviceKind, TrainConfig};
use crate::error::{AgentError, Result};
use crate::evaluate::{evaluate, EvalResult};
use crate::policy::Policy;
use crate::run_dir::{
    best_checkpoint_dir, config_difference, config_value, kept_checkpoint_dir, temp_sibling,
    write_atomic,
};
use crate::train::{IterationHook, NoHook, PhaseSeconds, Trainer};
use periodic_eval::PeriodicEval;
use progress::Progress;

pub use crate::run_dir::EVAL_FILE;

/// Options of one invocation (not part of the run's identity).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub progress: ProgressMode,
    /// Stop after this many iterations in this invocation (a checkpoint is written only at
    /// the usual points); `None` trains to the end.
    pub max_iterations: Option<usize>,
}

/// What a call to [`train_run`] did.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    /// Iteration the run resumed from, if it did.
    pub resumed_from: Option<usize>,
    pub iterations: usize,
    pub num_iterations: usize,
    pub global_step: u64,
    pub finished: bool,
    /// Env steps per second over this invocation's training iterations.
    pub steps_per_second: f64,
    /// Where this invocation's training iterations spent their time.
    pub phase_seconds: PhaseSeconds,
    pub wall_seconds: f64,
    pub eval: Option<EvalResult>,
    /// Lines for the run's log (for example a resume that had to reset the envs).
    pub notes: Vec<String>,
}

/// Trains `config` in `run_dir`, resuming from `run_dir/checkpoint` if there is one.
///
/// Writes a metrics row per iteration, a checkpoint every `run.checkpoint_every` iterations
/// and at the end, and after the last iteration a deterministic evaluation (`eval.json`).
/// Errors (bad config, NaN losses, a checkpoint of another network) are one line; the last
/// good checkpoint is never overwritten by a failed iteration.
pub fn train_run(config: &TrainConfig, run_dir: &Path, opts: &RunOptions) -> Result<RunSummary> {
    if config.outer.is_some() {
        return Err(AgentError::config(
            "outer",
            "bilevel runs go through carrot_bilevel::train_run (the carrot CLI dispatches on it)",
        ));
    }
    train_run_with(config, run_dir, opts, &mut NoHook)
}

/// [`train_run`] with an [`IterationHook`] driving every iteration; the hook's state
/// ([`IterationHook::save`]) is saved in the same atomic checkpoint as the trainer's and
/// restored on resume, so a killed-and-resumed run replays an uninterrupted one.
pub fn train_run_with(
    config: &TrainConfig,
    run_dir: &Path,
    opts: &RunOptions,
    hook: &mut dyn IterationHook,
) -> Result<RunSummary> {
    crate::runtime::tune_for_cpu_training();
    // On a rayon worker, the env and learner's parallel sections join inline instead of paying
    // a cross-thread wake-up each (from a non-pool thread this moves the run onto the pool).
    rayon::scope(|_| train_run_on_pool(config, run_dir, opts, hook))
}

fn train_run_on_pool(
    config: &TrainConfig,
    run_dir: &Path,
    opts: &RunOptions,
    hook: &mut dyn IterationHook,
) -> Result<RunSummary> {
    let started = Instant::now();
    config.validate()?;
    fs::create_dir_all(run_dir).map_err(|e| AgentError::io(run_dir, e))?;
    let ckpt = checkpoint_dir(run_dir);
    let mut trainer = Trainer::new(config)?;
    let mut notes = Vec::new();
    let resumed_from = resume(config, run_dir, &mut trainer, hook, &mut notes)?;
    let mut writer = MetricsWriter::open(run_dir, trainer.iteration())?;
    let mut periodic = PeriodicEval::open(config, run_dir)?;
    let mut last_eval = None;
    let mut progress = Progress::new(opts.progress, trainer.iteration(), trainer.num_iterations());
    let (start_step, train_clock) = (trainer.global_step(), Instant::now());
    let mut done_now = 0;
    while !trainer.is_done() && opts.max_iterations.is_none_or(|m| done_now < m) {
        let mut m = trainer.iterate_with(hook)?;
        if let Some(periodic) = periodic.as_mut() {
            last_eval = periodic.after_iteration(&trainer, hook, &mut m)?;
        }
        writer.write(&m)?;
        progress.update(&m);
        done_now += 1;
        let it = trainer.iteration();
        if it.is_multiple_of(config.run.checkpoint_every) || trainer.is_done() {
            let outer = hook.save()?;
            let keep = config.run.keep_checkpoints_every;
            if keep > 0 && it.is_multiple_of(keep) {
                // Before the main checkpoint: a run killed in between redoes this iteration.
                keep_checkpoint(&trainer, &kept_checkpoint_dir(run_dir, it), outer.clone())?;
            }
            checkpoint::save(&trainer, &ckpt, outer)?;
        }
    }
    progress.finish();
    let train_seconds = train_clock.elapsed().as_secs_f64();
    let eval = if trainer.is_done() && config.run.eval_episodes > 0 {
        // An evaluation of the last iteration is the final one (same policy, seeds, episodes).
        let result = match last_eval {
            Some(result) => result,
            None => evaluate(config, trainer.policy(), config.run.eval_episodes)?,
        };
        write_eval(run_dir, &result)?;
        Some(result)
    } else {
        None
    };
    Ok(RunSummary {
        run_dir: run_dir.to_path_buf(),
        resumed_from,
        iterations: trainer.iteration(),
        num_iterations: trainer.num_iterations(),
        global_step: trainer.global_step(),
        finished: trainer.is_done(),
        steps_per_second: (trainer.global_step() - start_step) as f64 / train_seconds.max(1e-9),
        phase_seconds: trainer.phase_seconds(),
        wall_seconds: started.elapsed().as_secs_f64(),
        eval,
        notes,
    })
}

/// Restores the trainer, its envs and the hook from the run's checkpoint, if there is one,
/// after checking that the config is the run's; returns the checkpoint's iteration. A
/// checkpoint without an env snapshot resumes with seeded env resets, said in `notes`.
fn resume(
    config: &TrainConfig,
    run_dir: &Path,
    trainer: &mut Trainer,
    hook: &mut dyn IterationHook,
    notes: &mut Vec<String>,
) -> Result<Option<usize>> {
    let ckpt = checkpoint_dir(run_dir);
    match read_state(&ckpt) {
        Ok(_) => {
            let state = checkpoint::restore(trainer, &ckpt)?;
            let mut comparable = config.clone();
            if config.run.eval_every == 0 {
                // Only the final evaluation uses them: it may change on resume.
                comparable.run.eval_episodes = state.config.run.eval_episodes;
                comparable.run.eval_max_steps = state.config.run.eval_max_steps;
            }
            if let Some(key) = config_difference(&state.config, &comparable) {
                return Err(AgentError::config(
                    &key,
                    format!(
                        "differs from the run in {} (checkpoint value {}); resume with the same config or use a new run dir",
                        run_dir.display(),
                        config_value(&state.config, &key)
                    ),
                ));
            }
            if !checkpoint::restore_collection(trainer, &ckpt, &state)? {
                let note = format!(
                    "the checkpoint of iteration {} holds no env snapshot (written by an older \
                     carrot, or env '{}' cannot snapshot): the envs restart from seeded resets, \
                     so this run no longer replays an uninterrupted one exactly",
                    state.iteration,
                    config.env.id()
                );
                notes.push(note);
            }
            hook.restore(state.outer)?;
            Ok(Some(state.iteration))
        }
        Err(AgentError::MissingCheckpoint(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Saves a copy of the checkpoint into `dir` (a temporary sibling renamed into place). An
/// existing copy is left as it is: a resumed run reproduces it exactly.
fn keep_checkpoint(trainer: &Trainer, dir: &Path, outer: Option<serde_json::Value>) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let tmp = temp_sibling(dir);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| AgentError::io(&tmp, e))?;
    }
    checkpoint::save(trainer, &tmp, outer)?;
    fs::rename(&tmp, dir).map_err(|e| AgentError::io(dir, format!("cannot write: {e}")))
}

fn write_eval(run_dir: &Path, result: &EvalResult) -> Result<()> {
    let path = run_dir.join(EVAL_FILE);
    let json = serde_json::to_vec_pretty(result).map_err(|e| AgentError::io(&path, e))?;
    write_atomic(&path, &json)
}

/// A trained policy loaded from a run's checkpoint.
pub struct LoadedPolicy {
    pub config: TrainConfig,
    pub iteration: usize,
    pub policy: Policy,
}

/// Loads the policy of the last checkpoint in `run_dir`, on the CPU whatever device trained
/// it (the returned config says `cpu`): evaluation and rendering step small batches, and a
/// run trained on a GPU stays loadable, with the same results, on a build without CUDA.
pub fn load_policy(run_dir: &Path) -> Result<LoadedPolicy> {
    load_checkpoint_policy(&checkpoint_dir(run_dir))
}

/// Loads the policy of the checkpoint in `ckpt` (a run's `checkpoint/` or a kept copy,
/// [`kept_checkpoint_dir`]), on the CPU as [`load_policy`].
pub fn load_checkpoint_policy(ckpt: &Path) -> Result<LoadedPolicy> {
    crate::runtime::tune_for_cpu_training();
    let state = read_state(ckpt)?;
    let mut config = state.config.clone();
    config.ppo.device = DeviceKind::Cpu;
    let env = config.env.build()?;
    let obs_dim = env.observation_space().flat_dim();
    let mut policy = Policy::new(&config, obs_dim, env.action_space())?;
    load_tensors(ckpt, &state, &policy.net, None)?;
    policy.obs_rms = state.obs_rms;
    Ok(LoadedPolicy {
        iteration: state.iteration,
        policy,
        config,
    })
}

/// Evaluates the run's last checkpoint deterministically over `episodes` episodes (default:
/// the config's `run.eval_episodes`) on the evaluation seeds.
pub fn evaluate_run(run_dir: &Path, episodes: Option<usize>) -> Result<EvalResult> {
    evaluate_checkpoint(&checkpoint_dir(run_dir), episodes)
}

/// [`evaluate_run`] on the checkpoint in `ckpt` (a run's `checkpoint/`, a kept copy or the
/// best one, [`best_checkpoint_dir`]).
pub fn evaluate_checkpoint(ckpt: &Path, episodes: Option<usize>) -> Result<EvalResult> {
    let policy = load_checkpoint_policy(ckpt)?;
    let n = episodes.unwrap_or(policy.config.run.eval_episodes).max(1);
    evaluate(&policy.config, &policy.policy, n)
}

/// The best checkpoint of a run trained with `run.keep_best` (`checkpoints/best/`).
pub fn best_checkpoint(run_dir: &Path) -> Result<PathBuf> {
    let dir = best_checkpoint_dir(run_dir);
    if dir.join(crate::run_dir::BEST_FILE).is_file() {
        Ok(dir)
    } else {
        Err(AgentError::io(
            &dir,
            "no best checkpoint (train with run.keep_best = true and run.eval_every > 0)",
        ))
    }
}
