//! Finding the runs under a directory and reading what a report needs from each: its axis
//! labels, final evaluation, best training return and learning curve.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;

use crate::metrics::{MetricsTable, STEP_COLUMN};
use crate::run_dir::{self, RunMeta};

/// Iterations in the moving mean that defines a run's best training return.
pub const BEST_WINDOW: usize = 10;

/// One run as the report sees it.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub dir: PathBuf,
    pub meta: RunMeta,
    /// Mean return of the final deterministic evaluation; `None` while the run is incomplete.
    pub final_score: Option<f64>,
    /// Highest moving mean (over [`BEST_WINDOW`] iterations) of the reported metric.
    pub best_score: Option<f64>,
    /// Mean of the reported metric over every iteration that logged it (for the training
    /// return, the area under the learning curve per iteration: BARFI's score).
    pub auc: Option<f64>,
    /// `(environment steps, reported metric)` per iteration.
    pub curve: Vec<(f64, f64)>,
}

/// An axis of the runs: its name, label order and whether it is numeric.
#[derive(Clone, Debug, Deserialize)]
pub struct AxisInfo {
    pub name: String,
    pub labels: Vec<String>,
    pub numeric: bool,
}

#[derive(Deserialize)]
struct ManifestAxes {
    axes: Vec<AxisInfo>,
}

/// Reads every run under `root` with `metric` as its curve, and the axes (from the sweep manifest when `root` is a sweep
/// directory, else from the runs' own labels).
pub fn collect(root: &Path, metric: &str) -> Result<(Vec<AxisInfo>, Vec<RunRecord>)> {
    if !root.is_dir() {
        return Err(anyhow!("{} is not a directory", root.display()));
    }
    let runs = run_dir::find_runs(root)?
        .into_iter()
        .map(|dir| read_run(&dir, metric))
        .collect::<Result<Vec<_>>>()?;
    if runs.is_empty() {
        return Err(anyhow!(
            "no runs under {} (a run directory holds a config.toml)",
            root.display()
        ));
    }
    if runs.iter().all(|r| r.curve.is_empty()) {
        return Err(anyhow!(
            "no run under {} logged `{metric}` (see a run's metrics.csv header)",
            root.display()
        ));
    }
    let manifest = root.join(crate::sweep::MANIFEST_FILE);
    let axes = if manifest.is_file() {
        let text = std::fs::read_to_string(&manifest)?;
        serde_json::from_str::<ManifestAxes>(&text)
            .with_context(|| format!("{} is corrupt", manifest.display()))?
            .axes
    } else {
        axes_from_runs(&runs)
    };
    Ok((axes, runs))
}

fn read_run(dir: &Path, metric: &str) -> Result<RunRecord> {
    let meta_path = dir.join(run_dir::RUN_META_FILE);
    let meta = if meta_path.is_file() {
        serde_json::from_str(&std::fs::read_to_string(&meta_path)?)
            .with_context(|| format!("{} is corrupt", meta_path.display()))?
    } else {
        RunMeta {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ..Default::default()
        }
    };
    let final_score = if run_dir::is_complete(dir) {
        Some(crate::eval::read_eval(dir)?.mean_return)
    } else {
        None
    };
    let metrics_path = dir.join(run_dir::METRICS_CSV);
    let curve = if metrics_path.is_file() {
        // Runs without the column (a baseline has no `outer/...` keys) have no curve.
        let table = MetricsTable::read(&metrics_path)?;
        match table.column(metric) {
            Some(_) => table
                .curve(STEP_COLUMN, metric)
                .with_context(|| metrics_path.display().to_string())?,
            None => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let values: Vec<f64> = curve.iter().map(|p| p.1).collect();
    Ok(RunRecord {
        dir: dir.to_path_buf(),
        meta,
        final_score,
        best_score: best_moving_mean(&values, BEST_WINDOW),
        auc: step_weighted_mean(&curve),
        curve,
    })
}

/// The mean of a curve over environment steps, each logged value held until the next one (an
/// iteration where no episode ended logs no return); the last value counts for one interval
/// as long as the one before it.
pub fn step_weighted_mean(curve: &[(f64, f64)]) -> Option<f64> {
    match curve {
        [] => None,
        [(_, v)] => Some(*v),
        _ => {
            let (mut sum, mut span) = (0.0, 0.0);
            for (i, &(x, v)) in curve.iter().enumerate() {
                let width = match curve.get(i + 1) {
                    Some(&(next, _)) => next - x,
                    None => x - curve[i - 1].0,
                };
                sum += v * width;
                span += width;
            }
            Some(if span > 0.0 {
                sum / span
            } else {
                plain_mean(curve)
            })
        }
    }
}

fn plain_mean(curve: &[(f64, f64)]) -> f64 {
    curve.iter().map(|p| p.1).sum::<f64>() / curve.len() as f64
}

/// The highest mean over `window` consecutive values (over all of them when there are fewer).
pub fn best_moving_mean(values: &[f64], window: usize) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let window = window.clamp(1, values.len());
    values
        .windows(window)
        .map(|w| w.iter().sum::<f64>() / window as f64)
        .max_by(f64::total_cmp)
}

fn axes_from_runs(runs: &[RunRecord]) -> Vec<AxisInfo> {
    let mut axes: Vec<AxisInfo> = Vec::new();
    for run in runs {
        for (name, label) in &run.meta.labels {
            let axis = match axes.iter_mut().position(|a| &a.name == name) {
                Some(i) => &mut axes[i],
                None => {
                    axes.push(AxisInfo {
                        name: name.clone(),
                        labels: Vec::new(),
                        numeric: true,
                    });
                    axes.last_mut().unwrap()
                }
            };
            if !axis.labels.contains(label) {
                axis.labels.push(label.clone());
            }
            axis.numeric &= run.meta.numeric.contains_key(name);
        }
    }
    for axis in &mut axes {
        if axis.numeric {
            axis.labels
                .sort_by(|a, b| label_number(a).total_cmp(&label_number(b)));
        }
    }
    axes
}

fn label_number(label: &str) -> f64 {
    label.parse().unwrap_or(f64::NAN)
}

/// The label of `run` on `axis` (`-` when the run lacks the axis).
pub fn label_of<'a>(run: &'a RunRecord, axis: &str) -> &'a str {
    run.meta
        .labels
        .iter()
        .find(|(name, _)| name == axis)
        .map_or("-", |(_, label)| label.as_str())
}

/// A group's runs keyed by their labels on the axes not grouped by.
pub type Strata<'a> = BTreeMap<Vec<String>, Vec<&'a RunRecord>>;

/// Runs grouped by their labels on `by` (in axis/label order), each group's runs split into
/// strata by their labels on the other axes.
pub fn group<'a>(
    axes: &[AxisInfo],
    by: &[String],
    runs: &'a [RunRecord],
) -> Vec<(Vec<String>, Strata<'a>)> {
    let rank = |axis: &str, label: &str| {
        axes.iter()
            .find(|a| a.name == axis)
            .and_then(|a| a.labels.iter().position(|l| l == label))
            .unwrap_or(usize::MAX)
    };
    let others: Vec<&str> = axes
        .iter()
        .map(|a| a.name.as_str())
        .filter(|a| !by.iter().any(|b| b == a))
        .collect();
    let mut groups: BTreeMap<Vec<(usize, String)>, Strata> = BTreeMap::new();
    for run in runs {
        let key = by
            .iter()
            .map(|axis| {
                let label = label_of(run, axis);
                (rank(axis, label), label.to_string())
            })
            .collect();
        let stratum = others
            .iter()
            .map(|a| label_of(run, a).to_string())
            .collect();
        groups
            .entry(key)
            .or_default()
            .entry(stratum)
            .or_default()
            .push(run);
    }
    groups
        .into_iter()
        .map(|(key, strata)| (key.into_iter().map(|(_, l)| l).collect(), strata))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_weighted_mean_holds_each_value_until_the_next() {
        // 10 for 100 steps, then 20 for 300 steps, then 40 for one more 300-step interval.
        let curve = [(100.0, 10.0), (200.0, 20.0), (500.0, 40.0)];
        let want = (10.0 * 100.0 + 20.0 * 300.0 + 40.0 * 300.0) / 700.0;
        assert!((step_weighted_mean(&curve).unwrap() - want).abs() < 1e-12);
        assert_eq!(step_weighted_mean(&[(5.0, 3.0)]), Some(3.0));
        assert_eq!(step_weighted_mean(&[]), None);
    }

    #[test]
    fn best_moving_mean_uses_whole_windows() {
        assert_eq!(best_moving_mean(&[1.0, 5.0, 3.0, 9.0], 2), Some(6.0));
        assert_eq!(best_moving_mean(&[1.0, 3.0], 10), Some(2.0));
        assert_eq!(best_moving_mean(&[], 3), None);
    }

    fn run(labels: &[(&str, &str)], seed: u64) -> RunRecord {
        RunRecord {
            dir: PathBuf::new(),
            meta: RunMeta {
                name: format!("{labels:?}{seed}"),
                labels: labels
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                numeric: labels
                    .iter()
                    .filter_map(|(a, b)| Some((a.to_string(), b.parse().ok()?)))
                    .collect(),
                seed,
            },
            final_score: Some(seed as f64),
            best_score: None,
            auc: None,
            curve: Vec::new(),
        }
    }

    #[test]
    fn groups_pool_seeds_and_stratify_other_axes() {
        let runs: Vec<RunRecord> = [("512", "a"), ("64", "a"), ("512", "b"), ("64", "b")]
            .iter()
            .flat_map(|&(mb, r)| (1..=2).map(move |s| run(&[("mb", mb), ("reward", r)], s)))
            .collect();
        let axes = axes_from_runs(&runs);
        assert_eq!(axes[0].labels, vec!["64", "512"]);
        assert!(axes[0].numeric && !axes[1].numeric);
        let all = group(&axes, &["mb".into(), "reward".into()], &runs);
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].0, vec!["64", "a"]);
        assert_eq!(all[0].1.values().map(Vec::len).sum::<usize>(), 2);
        let by_reward = group(&axes, &["reward".into()], &runs);
        assert_eq!(by_reward.len(), 2);
        // Within a reward, the two mini-batch sizes are two strata of two seeds each.
        assert_eq!(by_reward[0].1.len(), 2);
        assert!(by_reward[0].1.values().all(|s| s.len() == 2));
    }
}
