//! `carrot study eval`: the driving study's held-out evaluation and analysis (issues 5 and 11).
//! Every finished run under a sweep directory drives the same fixed set of held-out routes
//! (maps from a `map_seed` no training run saw, fixed route seeds) with its final deterministic
//! policy, and so does the rule-based [`carrot_envs::driving::Expert`].
//!
//! - `eval`: driving the routes, with a per-run cache.
//! - `analysis`: per cell (seeds pooled) the mean of DS, RC, IS and infractions per km with a
//!   95% t-interval over seeds; per group of the other axes the OLS slope of DS on log2 of the
//!   numeric axis (e.g. the mini-batch) and the differences of slopes (interactions).
//! - `tables`: writes them out.
//! - `plots`: `ds_vs_<axis>.png/.svg` (means, intervals and per-seed points, the expert as
//!   the dashed reference) and `training_ds.png/.svg`.
//! - `kept`: `--kept` / `--at-iterations`: the same evaluation of the kept checkpoints
//!   (`run.keep_checkpoints_every`), with the iteration as one more axis, `updates`.
//! - `control`: `carrot study control`: the grid against control C at equal samples.
//! - `contrast`: `carrot study contrast`: Welch differences between named cells of runs.csv
//!   files.
//! - `runs_csv`: reading the runs.csv those two commands analyse.

mod analysis;
mod contrast;
mod control;
mod eval;
mod kept;
mod plots;
mod runs_csv;
mod tables;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use carrot_envs::driving::Expert;
use carrot_envs::{DrivingEnv, EnvConfig};

use crate::run_dir::{self, RunMeta};
use crate::study::analysis::{Finished, Study};
use crate::study::eval::RouteSet;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot study eval runs/sweeps/carl_vs_roach --out experiments/results/carl_study\n  \
    carrot study eval --help")]
pub struct StudyArgs {
    #[command(subcommand)]
    which: StudyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StudyCommand {
    /// Evaluate a driving sweep's final policies and the expert on held-out routes.
    Eval(StudyEvalArgs),
    /// Compare the grid with control C at equal samples (bigger mini-batch or more updates).
    Control(control::StudyControlArgs),
    /// Differences of a metric between named cells of runs.csv files (Welch's t).
    Contrast(contrast::StudyContrastArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot study eval runs/sweeps/carl_vs_roach --out experiments/results/carl_study\n  \
    carrot study eval runs/sweeps/carl_vs_roach_smoke --routes 8\n  \
    carrot study eval runs/sweeps/town_scaling_pilot --kept\n\n\
    Runs whose training has not finished are listed as missing. Each run's per-route results\n\
    are cached in <run>/held_out_eval.json (recomputed when the settings change).\n\
    With --kept or --at-iterations, the kept checkpoints (run.keep_checkpoints_every) drive\n\
    the routes instead, finished or not, cached in <run>/checkpoints/iter_<it>/; the outputs\n\
    (per cell and number of updates) go to OUT/kept.")]
pub struct StudyEvalArgs {
    /// A sweep directory of driving runs.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Output directory [default: DIR/study].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Held-out routes per policy.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub routes: usize,
    /// Map seed of the held-out maps (training used the config's `env.map_seed`).
    #[arg(long, default_value_t = 1_000_003, value_name = "SEED")]
    pub map_seed: u64,
    /// Route k uses env seed `route_seed + k`.
    #[arg(long, default_value_t = 0, value_name = "SEED")]
    pub route_seed: u64,
    /// How an infraction ends a held-out route: `leaderboard` (the CARLA leaderboard's: a
    /// collision or red light lowers the infraction score and the route goes on) or
    /// `terminating` (it ends the route, as in training). Either way every policy is judged
    /// with the same termination set (the env's default), whatever its reward trained with.
    #[arg(long, value_enum, default_value_t = eval::EvalMode::Leaderboard)]
    pub eval_mode: eval::EvalMode,
    /// Evaluate every kept checkpoint of every run (run.keep_checkpoints_every).
    #[arg(long, conflicts_with = "at_iterations")]
    pub kept: bool,
    /// Evaluate the kept checkpoints of these iterations (each run must have them).
    #[arg(long, value_delimiter = ',', value_name = "IT,IT,...")]
    pub at_iterations: Option<Vec<usize>>,
}

pub fn run(args: &StudyArgs) -> Result<()> {
    match &args.which {
        StudyCommand::Eval(a) => eval_sweep(a),
        StudyCommand::Control(a) => control::run(a),
        StudyCommand::Contrast(a) => contrast::run(a),
    }
}

fn eval_sweep(args: &StudyEvalArgs) -> Result<()> {
    if args.routes == 0 {
        bail!("--routes must be at least 1");
    }
    let dirs = run_dir::find_runs(&args.dir)?;
    if dirs.is_empty() {
        bail!("no runs under {}", args.dir.display());
    }
    if args.kept || args.at_iterations.is_some() {
        return kept::eval_kept(args, &dirs);
    }
    let mut routes: Option<RouteSet> = None;
    let mut finished = Vec::new();
    let mut missing = Vec::new();
    for dir in dirs {
        let meta = read_meta(&dir)?;
        if !run_dir::is_complete(&dir) {
            missing.push(meta.name);
            continue;
        }
        let ckpt = carrot_agents::checkpoint::checkpoint_dir(&dir);
        let result = evaluate_checkpoint(args, &ckpt, &dir.join(eval::EVAL_FILE), &mut routes)?;
        eprintln!(
            "{}: DS {:.1} RC {:.1} IS {:.3} infractions/km {:.2}",
            meta.name, result.mean[0], result.mean[1], result.mean[2], result.mean[3]
        );
        finished.push(Finished {
            meta,
            dir,
            eval: result,
        });
    }
    let Some(routes) = routes else {
        bail!("no finished runs under {}", args.dir.display());
    };
    let out = args.out.clone().unwrap_or_else(|| args.dir.join("study"));
    let policies = "final deterministic policy".to_string();
    finish(args, &out, policies, routes, finished, missing, None)
}

/// Drives the routes with the expert, writes the outputs into `out` and prints the table.
/// `x_axis` names the trend's axis (default: the first numeric one); the training curves are
/// drawn only without it.
pub(crate) fn finish(
    args: &StudyEvalArgs,
    out: &Path,
    policies: String,
    routes: RouteSet,
    finished: Vec<Finished>,
    missing: Vec<String>,
    x_axis: Option<&str>,
) -> Result<()> {
    let expert = Expert::default();
    let expert_eval = eval::evaluate(
        &routes,
        |env: &DrivingEnv, _obs: &[f32]| Ok(expert.act(env)),
    )?;
    eprintln!("expert: DS {:.1}", expert_eval.mean[0]);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let study = Study {
        command: command_line(args),
        policies,
        routes,
        finished,
        missing,
        expert: expert_eval,
    };
    let written = write_outputs(out, &study, x_axis)?;
    print!("{}", std::fs::read_to_string(out.join("results.md"))?);
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The held-out evaluation of the policy in checkpoint directory `ckpt`, cached at `cache`;
/// `routes` is the study's route set, fixed by the first run (every run must share its env).
pub(crate) fn evaluate_checkpoint(
    args: &StudyEvalArgs,
    ckpt: &Path,
    cache: &Path,
    routes: &mut Option<RouteSet>,
) -> Result<eval::DriverEval> {
    let policy = carrot_agents::load_checkpoint_policy(ckpt).map_err(|e| anyhow!("{e}"))?;
    let EnvConfig::Driving(env) = &policy.config.env else {
        bail!("{}: not a driving run", ckpt.display());
    };
    let set = eval::held_out(
        env,
        args.routes,
        args.map_seed,
        args.route_seed,
        policy.config.run.eval_max_steps,
        args.eval_mode,
    );
    match routes {
        None => *routes = Some(set.clone()),
        Some(r) if r.env != set.env => {
            bail!(
                "{}: its env config differs from the other runs",
                ckpt.display()
            )
        }
        Some(_) => {}
    }
    eval::cached_or(cache, &set, || {
        eval::evaluate(&set, |_env: &DrivingEnv, obs: &[f32]| {
            let action = policy.policy.act(obs).map_err(|e| anyhow!("{e}"))?;
            Ok([action[0], action[1]])
        })
    })
}

/// Writes the tables and the plots; returns the paths written.
fn write_outputs(out: &Path, study: &Study, x_axis: Option<&str>) -> Result<Vec<PathBuf>> {
    let cells = analysis::cells(&study.finished);
    let x = match x_axis {
        Some(name) => cells
            .first()
            .and_then(|c| c.labels.iter().position(|(axis, _)| axis == name)),
        None => analysis::numeric_axis(&cells),
    };
    let trends = x.map(|x| (x, analysis::trends(&cells, x)));
    let mut written = tables::write_tables(out, study, &cells, trends.as_ref().map(|t| &t.1))?;
    if let Some((x_axis, _)) = &trends {
        written.extend(plots::ds_vs_axis(
            out,
            &cells,
            *x_axis,
            study.expert.mean[0],
        )?);
    }
    if x_axis.is_none() {
        written.extend(plots::training_curves(out, &cells)?);
    }
    Ok(written)
}

pub(crate) fn read_meta(dir: &Path) -> Result<RunMeta> {
    let path = dir.join(run_dir::RUN_META_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is corrupt", path.display()))
}

fn command_line(args: &StudyEvalArgs) -> String {
    let mut line = format!(
        "carrot study eval {} --routes {} --map-seed {} --route-seed {} --eval-mode {}",
        args.dir.display(),
        args.routes,
        args.map_seed,
        args.route_seed,
        match args.eval_mode {
            eval::EvalMode::Leaderboard => "leaderboard",
            eval::EvalMode::Terminating => "terminating",
        }
    );
    if let Some(out) = &args.out {
        line += &format!(" --out {}", out.display());
    }
    if args.kept {
        line += " --kept";
    }
    if let Some(its) = &args.at_iterations {
        let its: Vec<String> = its.iter().map(usize::to_string).collect();
        line += &format!(" --at-iterations {}", its.join(","));
    }
    line
}
