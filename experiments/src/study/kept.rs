//! `carrot study eval --kept` / `--at-iterations`: the held-out evaluation of the checkpoints
//! a run kept along the way (`run.keep_checkpoints_every`), to see where held-out DS stops
//! improving with the number of updates. Each kept checkpoint is one more "run" whose labels
//! gain the axis [`AXIS`] (its iteration), so the cells, intervals, tables and the
//! `ds_vs_updates` plot are the study's own; they are written to `OUT/kept/`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use carrot_agents::run_dir::{kept_checkpoint_dir, kept_iterations};

use crate::study::analysis::Finished;
use crate::study::eval::{self, RouteSet};
use crate::study::{evaluate_checkpoint, finish, read_meta, StudyEvalArgs};

/// The axis holding a kept checkpoint's iteration (PPO updates).
pub const AXIS: &str = "updates";

pub fn eval_kept(args: &StudyEvalArgs, dirs: &[PathBuf]) -> Result<()> {
    if args
        .at_iterations
        .as_ref()
        .is_some_and(|its| its.is_empty())
    {
        bail!("--at-iterations needs at least one iteration");
    }
    let mut routes: Option<RouteSet> = None;
    let mut evaluated = Vec::new();
    let mut missing = Vec::new();
    for dir in dirs {
        let meta = read_meta(dir)?;
        let iterations = match &args.at_iterations {
            Some(its) => its.clone(),
            None => kept_iterations(dir)?,
        };
        if iterations.is_empty() {
            missing.push(meta.name);
            continue;
        }
        for iteration in iterations {
            let ckpt = kept_checkpoint(dir, iteration)?;
            let result =
                evaluate_checkpoint(args, &ckpt, &ckpt.join(eval::EVAL_FILE), &mut routes)?;
            eprintln!(
                "{} @ {iteration}: DS {:.1} RC {:.1} IS {:.3} infractions/km {:.2}",
                meta.name, result.mean[0], result.mean[1], result.mean[2], result.mean[3]
            );
            let mut meta = meta.clone();
            meta.labels.push((AXIS.into(), iteration.to_string()));
            meta.numeric.insert(AXIS.into(), iteration as f64);
            evaluated.push(Finished {
                meta,
                dir: dir.clone(),
                eval: result,
            });
        }
    }
    let Some(routes) = routes else {
        bail!(
            "no kept checkpoints under {} (set run.keep_checkpoints_every before training)",
            args.dir.display()
        );
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.dir.join("study"))
        .join("kept");
    let policies = format!(
        "deterministic policy of each kept checkpoint (axis `{AXIS}`: its iteration); each \
         slope is the mean of per-run slopes over the run's checkpoints, with runs as the units"
    );
    finish(args, &out, policies, routes, evaluated, missing, Some(AXIS))
}

/// The kept checkpoint of `run` at `iteration`; a missing one is a one-line error naming it.
fn kept_checkpoint(run: &Path, iteration: usize) -> Result<PathBuf> {
    let ckpt = kept_checkpoint_dir(run, iteration);
    if !ckpt.is_dir() {
        bail!(
            "no kept checkpoint {} (iteration {iteration} is not a multiple of the run's \
             run.keep_checkpoints_every, or not reached yet)",
            ckpt.display()
        );
    }
    Ok(ckpt)
}
