//! `carrot study eval`: the driving-study evaluation (issue 5). Every finished run under a sweep
//! directory drives the same fixed set of held-out routes (maps from a `map_seed` no training
//! run saw, fixed route seeds) with its final deterministic policy, and so does the rule-based
//! [`Expert`]. Per run: mean driving score (DS), route completion (RC), infraction score (IS)
//! and infractions per km; per cell (seeds pooled): their mean with a 95% percentile-bootstrap
//! interval over seeds. Writes `results.md`, `results.csv`, `runs.csv`, `expert.json` and
//! `ds_vs_<axis>.png/.svg` (DS against the numeric axis, one line per other cell, the expert's
//! DS as the dashed reference line).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use carrot_envs::driving::{Expert, METRIC_NAMES};
use carrot_envs::{DrivingConfig, DrivingEnv, Env, EnvConfig};
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::plotting::{draw_chart, Chart, Series, Style};
use crate::run_dir::{self, RunMeta};

/// The metrics the study reports, as named by the driving env.
const METRICS: [&str; 4] = [
    "driving_score",
    "route_completion",
    "infraction_score",
    "infractions_per_km",
];
const HEADERS: [&str; 4] = ["DS", "RC", "IS", "infractions/km"];
const BOOTSTRAP_REPS: usize = 10_000;
const BOOTSTRAP_SEED: u64 = 0x5EED_CA77;
const EVAL_FILE: &str = "held_out_eval.json";

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
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot study eval runs/sweeps/carl_vs_roach --out experiments/results/carl_study\n  \
    carrot study eval runs/sweeps/carl_vs_roach_smoke --routes 8\n\n\
    Runs whose training has not finished are listed as missing. Each run's per-route results\n\
    are cached in <run>/held_out_eval.json (recomputed when the settings change).")]
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
}

/// Where the held-out routes come from (a cached evaluation is reused only if it matches).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct RouteSet {
    env: DrivingConfig,
    routes: usize,
    route_seed: u64,
    max_steps: usize,
}

/// Per-route metrics of one driver, in the order of [`METRICS`].
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DriverEval {
    routes: RouteSet,
    per_route: Vec<[f64; 4]>,
    mean: [f64; 4],
}

/// Mean and 95% interval of one metric over a cell's seeds.
#[derive(Clone, Copy, Debug)]
struct SeedMeanInterval {
    mean: f64,
    low: f64,
    high: f64,
}

pub fn run(args: &StudyArgs) -> Result<()> {
    match &args.which {
        StudyCommand::Eval(a) => eval(a),
    }
}

fn eval(args: &StudyEvalArgs) -> Result<()> {
    if args.routes == 0 {
        bail!("--routes must be at least 1");
    }
    let dirs = run_dir::find_runs(&args.dir)?;
    if dirs.is_empty() {
        bail!("no runs under {}", args.dir.display());
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
        let policy =
            carrot_agents::load_policy(&dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
        let EnvConfig::Driving(env) = &policy.config.env else {
            bail!("{}: not a driving run", dir.display());
        };
        let set = held_out(env, args, policy.config.run.eval_max_steps);
        match &routes {
            None => routes = Some(set.clone()),
            Some(r) if r.env != set.env => {
                bail!(
                    "{}: its env config differs from the other runs",
                    dir.display()
                )
            }
            Some(_) => {}
        }
        let result = cached_or(&dir.join(EVAL_FILE), &set, || {
            evaluate(&set, |_env: &DrivingEnv, obs: &[f32]| {
                let action = policy.policy.act(obs).map_err(|e| anyhow!("{e}"))?;
                Ok([action[0], action[1]])
            })
        })?;
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
    let expert = Expert::default();
    let expert_eval = evaluate(
        &routes,
        |env: &DrivingEnv, _obs: &[f32]| Ok(expert.act(env)),
    )?;
    eprintln!("expert: DS {:.1}", expert_eval.mean[0]);

    let out = args.out.clone().unwrap_or_else(|| args.dir.join("study"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let command = command_line(args);
    let cells = cells(&finished);
    let written = write_outputs(
        &out,
        &command,
        &routes,
        &cells,
        &finished,
        &missing,
        &expert_eval,
    )?;
    print!("{}", std::fs::read_to_string(out.join("results.md"))?);
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn read_meta(dir: &Path) -> Result<RunMeta> {
    let path = dir.join(run_dir::RUN_META_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is corrupt", path.display()))
}

fn held_out(env: &DrivingConfig, args: &StudyEvalArgs, max_steps: usize) -> RouteSet {
    let mut env = env.clone();
    env.map_seed = args.map_seed;
    RouteSet {
        env,
        routes: args.routes,
        route_seed: args.route_seed,
        max_steps,
    }
}

fn cached_or(
    path: &Path,
    set: &RouteSet,
    compute: impl FnOnce() -> Result<DriverEval>,
) -> Result<DriverEval> {
    if let Ok(text) = std::fs::read_to_string(path) {
        if let Ok(cached) = serde_json::from_str::<DriverEval>(&text) {
            if &cached.routes == set {
                return Ok(cached);
            }
        }
    }
    let result = compute()?;
    run_dir::write_atomic(path, serde_json::to_string_pretty(&result)?.as_bytes())?;
    Ok(result)
}

/// Drives every route of `set` with `act`, one env per route (routes run in parallel; each
/// route's result depends only on its seed).
fn evaluate<F>(set: &RouteSet, act: F) -> Result<DriverEval>
where
    F: Fn(&DrivingEnv, &[f32]) -> Result<[f32; 2]> + Sync,
{
    let index: Vec<usize> = METRICS
        .iter()
        .map(|m| {
            METRIC_NAMES
                .iter()
                .position(|n| n == m)
                .ok_or_else(|| anyhow!("the driving env has no metric `{m}`"))
        })
        .collect::<Result<_>>()?;
    let per_route = (0..set.routes)
        .into_par_iter()
        .map(|k| {
            let mut env = DrivingEnv::new(set.env.clone())?;
            let mut obs = vec![0f32; env.observation_space().flat_dim()];
            let mut signals = vec![0f32; env.signal_spec().len()];
            env.reset(Some(set.route_seed.wrapping_add(k as u64)), &mut obs);
            let mut ended = false;
            for _ in 0..set.max_steps {
                let action = act(&env, &obs)?;
                if env.step(&action, &mut obs, &mut signals).done() {
                    ended = true;
                    break;
                }
            }
            if !ended {
                bail!("route {k} did not end within run.eval_max_steps steps");
            }
            let mut metrics = vec![0f32; METRIC_NAMES.len()];
            env.episode_metrics(&mut metrics);
            let mut row = [0f64; 4];
            for (slot, &i) in row.iter_mut().zip(&index) {
                *slot = metrics[i] as f64;
            }
            Ok(row)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut mean = [0f64; 4];
    for row in &per_route {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v / per_route.len() as f64;
        }
    }
    Ok(DriverEval {
        routes: set.clone(),
        per_route,
        mean,
    })
}

/// A finished run with its held-out evaluation.
struct Finished {
    meta: RunMeta,
    dir: PathBuf,
    eval: DriverEval,
}

/// Finished runs grouped by their labels on every axis but the seed, in label order.
type Cells<'a> = Vec<(Vec<(String, String)>, Vec<&'a Finished>)>;

fn cells(finished: &[Finished]) -> Cells<'_> {
    let mut cells: Cells = Vec::new();
    for run in finished {
        match cells
            .iter_mut()
            .find(|(labels, _)| labels == &run.meta.labels)
        {
            Some((_, runs)) => runs.push(run),
            None => cells.push((run.meta.labels.clone(), vec![run])),
        }
    }
    // Numeric labels sort by value, others by text, axis by axis.
    let key = |labels: &[(String, String)], meta: &RunMeta| -> Vec<(f64, String)> {
        labels
            .iter()
            .map(|(axis, label)| {
                (
                    meta.numeric.get(axis).copied().unwrap_or(0.0),
                    label.clone(),
                )
            })
            .collect()
    };
    cells.sort_by(|a, b| {
        let (ka, kb) = (key(&a.0, &a.1[0].meta), key(&b.0, &b.1[0].meta));
        ka.iter()
            .zip(&kb)
            .map(|(x, y)| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    cells
}

/// Mean of `values` with a 95% percentile-bootstrap interval (seeded, so reproducible).
fn bootstrap(values: &[f64]) -> SeedMeanInterval {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n.max(1) as f64;
    if n < 2 {
        return SeedMeanInterval {
            mean,
            low: mean,
            high: mean,
        };
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(BOOTSTRAP_SEED);
    let mut means: Vec<f64> = (0..BOOTSTRAP_REPS)
        .map(|_| (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (BOOTSTRAP_REPS - 1) as f64).round()) as usize];
    SeedMeanInterval {
        mean,
        low: at(0.025),
        high: at(0.975),
    }
}

/// Decimals shown for a metric in the Markdown table.
fn precision(metric: &str) -> usize {
    match metric {
        "infraction_score" => 3,
        "infractions_per_km" => 2,
        _ => 1,
    }
}

fn command_line(args: &StudyEvalArgs) -> String {
    let mut line = format!(
        "carrot study eval {} --routes {} --map-seed {} --route-seed {}",
        args.dir.display(),
        args.routes,
        args.map_seed,
        args.route_seed
    );
    if let Some(out) = &args.out {
        line += &format!(" --out {}", out.display());
    }
    line
}

fn write_outputs(
    out: &Path,
    command: &str,
    routes: &RouteSet,
    cells: &Cells,
    finished: &[Finished],
    missing: &[String],
    expert: &DriverEval,
) -> Result<Vec<PathBuf>> {
    let axes: Vec<String> = cells
        .first()
        .map(|(labels, _)| labels.iter().map(|(a, _)| a.clone()).collect())
        .unwrap_or_default();
    let estimates: Vec<Vec<SeedMeanInterval>> = cells
        .iter()
        .map(|(_, runs)| {
            (0..METRICS.len())
                .map(|m| bootstrap(&runs.iter().map(|r| r.eval.mean[m]).collect::<Vec<_>>()))
                .collect()
        })
        .collect();

    let mut md = String::new();
    writeln!(md, "# Held-out evaluation\n")?;
    writeln!(
        md,
        "{} held-out routes (map_seed {}, route seeds {}..{}), final deterministic policy; \
         per cell the mean over seeds with a 95% bootstrap interval.\n",
        routes.routes,
        routes.env.map_seed,
        routes.route_seed,
        routes.route_seed + routes.routes as u64
    )?;
    writeln!(md, "Regenerate: `{command}`\n")?;
    let mut header = axes.clone();
    header.push("seeds".into());
    header.extend(HEADERS.iter().map(|h| h.to_string()));
    writeln!(md, "| {} |", header.join(" | "))?;
    writeln!(md, "|{}", "---|".repeat(header.len()))?;
    let mut csv = axes.join(",");
    csv += ",seeds";
    for m in METRICS {
        csv += &format!(",{m}_mean,{m}_low,{m}_high");
    }
    csv.push('\n');
    for ((labels, runs), est) in cells.iter().zip(&estimates) {
        let mut row: Vec<String> = labels.iter().map(|(_, l)| l.clone()).collect();
        row.push(runs.len().to_string());
        row.extend(est.iter().zip(METRICS).map(|(e, m)| {
            let p = precision(m);
            format!("{:.p$} [{:.p$}, {:.p$}]", e.mean, e.low, e.high)
        }));
        writeln!(md, "| {} |", row.join(" | "))?;
        let mut line: Vec<String> = labels.iter().map(|(_, l)| l.clone()).collect();
        line.push(runs.len().to_string());
        for e in est {
            line.extend([e.mean, e.low, e.high].map(|v| format!("{v:.4}")));
        }
        csv += &line.join(",");
        csv.push('\n');
    }
    let mut expert_row: Vec<String> = axes.iter().map(|_| "expert".to_string()).collect();
    expert_row.truncate(1);
    expert_row.extend(axes.iter().skip(1).map(|_| "-".to_string()));
    expert_row.push("-".into());
    expert_row.extend(
        expert
            .mean
            .iter()
            .zip(METRICS)
            .map(|(v, m)| format!("{v:.p$}", p = precision(m))),
    );
    writeln!(md, "| {} |", expert_row.join(" | "))?;
    if !missing.is_empty() {
        writeln!(md, "\nNot finished (left out): {}", missing.join(", "))?;
    }

    let mut runs_csv = axes.join(",");
    runs_csv += ",seed";
    for m in METRICS {
        runs_csv += &format!(",{m}");
    }
    runs_csv.push('\n');
    for Finished { meta, eval, .. } in finished {
        let mut line: Vec<String> = meta.labels.iter().map(|(_, l)| l.clone()).collect();
        line.push(meta.seed.to_string());
        line.extend(eval.mean.iter().map(|v| format!("{v:.4}")));
        runs_csv += &line.join(",");
        runs_csv.push('\n');
    }

    let mut written = Vec::new();
    for (name, text) in [
        ("results.md", md),
        ("results.csv", csv),
        ("runs.csv", runs_csv),
        ("expert.json", serde_json::to_string_pretty(expert)?),
    ] {
        let path = out.join(name);
        run_dir::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    written.extend(plot(out, &axes, cells, &estimates, expert.mean[0])?);
    written.extend(training_curves(out, cells)?);
    Ok(written)
}

/// DS against the numeric axis (labels evenly spaced: sizes that double give a log scale),
/// one line per combination of the other axes.
fn plot(
    out: &Path,
    axes: &[String],
    cells: &Cells,
    estimates: &[Vec<SeedMeanInterval>],
    expert_ds: f64,
) -> Result<Vec<PathBuf>> {
    let numeric = cells.first().and_then(|(labels, runs)| {
        labels
            .iter()
            .position(|(axis, _)| runs[0].meta.numeric.contains_key(axis))
    });
    let Some(x_axis) = numeric else {
        return Ok(Vec::new());
    };
    let mut ticks: Vec<(f64, String)> = Vec::new();
    for (labels, runs) in cells {
        let value = runs[0].meta.numeric[&labels[x_axis].0];
        if !ticks.iter().any(|t| t.0 == value) {
            ticks.push((value, labels[x_axis].1.clone()));
        }
    }
    ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut lines: Vec<(String, Series)> = Vec::new();
    for ((labels, runs), est) in cells.iter().zip(estimates) {
        let value = runs[0].meta.numeric[&labels[x_axis].0];
        let rank = ticks.iter().position(|t| t.0 == value).unwrap_or(0) as f64;
        let name: Vec<String> = labels
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != x_axis)
            .map(|(_, (a, l))| format!("{a}={l}"))
            .collect();
        let name = if name.is_empty() {
            "policy".to_string()
        } else {
            name.join(", ")
        };
        let i = match lines.iter().position(|(n, _)| n == &name) {
            Some(i) => i,
            None => {
                lines.push((
                    name.clone(),
                    Series {
                        label: name,
                        points: Vec::new(),
                        band: Vec::new(),
                        style: Style::Markers,
                    },
                ));
                lines.len() - 1
            }
        };
        lines[i].1.points.push((rank, est[0].mean));
        lines[i].1.band.push((rank, est[0].low, est[0].high));
    }
    let labels: Vec<String> = ticks.into_iter().map(|t| t.1).collect();
    let format = move |x: f64| {
        let r = x.round();
        if (x - r).abs() > 1e-6 || r < 0.0 {
            return String::new();
        }
        labels.get(r as usize).cloned().unwrap_or_default()
    };
    let x_name = &axes[x_axis];
    let title = format!("Held-out driving score vs {x_name} (mean over seeds, 95% CI)");
    let chart = Chart {
        title: &title,
        x_desc: x_name,
        y_desc: "driving score (held-out routes)",
        x_format: Some(&format),
        reference: Some((expert_ds, "expert")),
    };
    let stem = out.join(format!("ds_vs_{}", run_dir::path_safe(x_name)));
    let series: Vec<Series> = lines.into_iter().map(|(_, s)| s).collect();
    Ok(draw_chart(&stem, &chart, &series)?.to_vec())
}

/// Bins of the training-DS curves.
const CURVE_BINS: usize = 30;
/// The training metrics column with the mean DS of the episodes finished in an iteration.
const TRAINING_DS: &str = "episode/driving_score";

/// `training_ds.png/.svg`: the DS of training episodes against env steps, per cell (mean over
/// seeds of each run's mean in equal step bins; the band spans the seeds' min and max).
fn training_curves(out: &Path, cells: &Cells) -> Result<Vec<PathBuf>> {
    let mut series = Vec::new();
    for (labels, runs) in cells {
        let mut curves = Vec::new();
        for run in runs {
            let metrics = crate::metrics::MetricsTable::read(&run.dir.join(run_dir::METRICS_CSV))?;
            let curve = metrics.curve(crate::metrics::STEP_COLUMN, TRAINING_DS)?;
            curves.push(
                curve
                    .into_iter()
                    .filter(|p| p.1.is_finite())
                    .collect::<Vec<_>>(),
            );
        }
        let end = curves
            .iter()
            .filter_map(|c| c.last().map(|p| p.0))
            .fold(f64::INFINITY, f64::min);
        if curves.is_empty() || !end.is_finite() || end <= 0.0 {
            continue;
        }
        let width = end / CURVE_BINS as f64;
        let mut points = Vec::new();
        let mut band = Vec::new();
        for b in 0..CURVE_BINS {
            let (lo, hi) = (b as f64 * width, (b + 1) as f64 * width);
            let means: Vec<f64> = curves
                .iter()
                .filter_map(|c| {
                    let inside: Vec<f64> = c
                        .iter()
                        .filter(|p| p.0 > lo && p.0 <= hi + 1e-9)
                        .map(|p| p.1)
                        .collect();
                    (!inside.is_empty()).then(|| inside.iter().sum::<f64>() / inside.len() as f64)
                })
                .collect();
            if means.len() < curves.len() {
                continue;
            }
            let x = hi;
            let mean = means.iter().sum::<f64>() / means.len() as f64;
            let min = means.iter().copied().fold(f64::INFINITY, f64::min);
            let max = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            points.push((x, mean));
            band.push((x, min, max));
        }
        let label: Vec<String> = labels.iter().map(|(a, l)| format!("{a}={l}")).collect();
        series.push(Series {
            label: label.join(", "),
            points,
            band,
            style: Style::Line,
        });
    }
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let chart = Chart {
        title: "Driving score of training episodes (mean over seeds, band: min-max)",
        x_desc: "environment steps",
        y_desc: "training-episode driving score",
        x_format: None,
        reference: None,
    };
    Ok(draw_chart(&out.join("training_ds"), &chart, &series)?.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_interval_brackets_the_mean() {
        let e = bootstrap(&[10.0, 20.0, 60.0]);
        assert!((e.mean - 30.0).abs() < 1e-9);
        assert!(e.low >= 10.0 && e.low < e.mean && e.high > e.mean && e.high <= 60.0);
        let one = bootstrap(&[5.0]);
        assert_eq!((one.low, one.high), (5.0, 5.0));
    }
}
