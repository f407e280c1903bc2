//! The study's analysis: per cell (seeds pooled) the mean of every metric with a 95% t-interval
//! over seeds, and the trend of driving score along the numeric axis: per group of the other
//! axes the OLS slope of the per-seed DS on log2 of the axis value (DS per doubling; with kept
//! checkpoints, several points per run, the mean of per-run slopes), and for every two groups
//! that differ on one axis the difference of their slopes (the interaction).
//! All statistics come from [`crate::stats`]; [`crate::study::tables`] writes them out.

use std::path::PathBuf;

use crate::run_dir::RunMeta;
use crate::stats::regression::{self, SlopeEstimate};
use crate::stats::student_t::{self, MeanInterval};
use crate::study::eval::{DriverEval, RouteSet, METRICS};

/// `(axis, label)` pairs of a sweep cell.
pub type Labels = Vec<(String, String)>;

/// A finished run with its held-out evaluation.
pub struct Finished {
    pub meta: RunMeta,
    pub dir: PathBuf,
    pub eval: DriverEval,
}

/// Everything the outputs are made of.
pub struct Study {
    /// The command that regenerates the outputs.
    pub command: String,
    /// Which policy of each run drove the routes (said in `results.md`).
    pub policies: String,
    pub routes: RouteSet,
    pub finished: Vec<Finished>,
    /// Names of the runs that have not finished.
    pub missing: Vec<String>,
    pub expert: DriverEval,
}

/// The finished runs sharing their labels on every axis but the seed.
pub struct Cell<'a> {
    pub labels: Labels,
    pub runs: Vec<&'a Finished>,
    /// Per metric of [`METRICS`]: the mean over seeds with its 95% t-interval (`None` with
    /// fewer than 2 seeds).
    pub intervals: Vec<Option<MeanInterval>>,
}

impl Cell<'_> {
    pub fn mean(&self, metric: usize) -> f64 {
        let values: Vec<f64> = self.runs.iter().map(|r| r.eval.mean[metric]).collect();
        crate::stats::mean(&values)
    }
}

/// Cells in label order: numeric labels by value, others by text, axis by axis.
pub fn cells(finished: &[Finished]) -> Vec<Cell<'_>> {
    let mut groups: Vec<(Labels, Vec<&Finished>)> = Vec::new();
    for run in finished {
        match groups
            .iter_mut()
            .find(|(labels, _)| labels == &run.meta.labels)
        {
            Some((_, runs)) => runs.push(run),
            None => groups.push((run.meta.labels.clone(), vec![run])),
        }
    }
    let key = |labels: &[(String, String)], meta: &RunMeta| -> Vec<(f64, String)> {
        labels
            .iter()
            .map(|(axis, label)| {
                let value = meta.numeric.get(axis).copied().unwrap_or(0.0);
                (value, label.clone())
            })
            .collect()
    };
    groups.sort_by(|a, b| {
        let (ka, kb) = (key(&a.0, &a.1[0].meta), key(&b.0, &b.1[0].meta));
        ka.iter()
            .zip(&kb)
            .map(|(x, y)| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    groups
        .into_iter()
        .map(|(labels, runs)| {
            let intervals = (0..METRICS.len())
                .map(|m| {
                    let values: Vec<f64> = runs.iter().map(|r| r.eval.mean[m]).collect();
                    student_t::mean_interval(&values)
                })
                .collect();
            Cell {
                labels,
                runs,
                intervals,
            }
        })
        .collect()
}

/// The position of the first axis with numeric values (the trend's x), if any.
pub fn numeric_axis(cells: &[Cell]) -> Option<usize> {
    let cell = cells.first()?;
    cell.labels
        .iter()
        .position(|(axis, _)| cell.runs[0].meta.numeric.contains_key(axis))
}

/// A cell's name without its label on axis `skip`: `reward=carl`, or `all runs`.
pub fn group_name(labels: &[(String, String)], skip: usize) -> String {
    let parts: Vec<String> = labels
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, (axis, label))| format!("{axis}={label}"))
        .collect();
    if parts.is_empty() {
        "all runs".into()
    } else {
        parts.join(", ")
    }
}

/// A run's name and its (log2 x, DS) points.
type RunPoints = (String, Vec<(f64, f64)>);

/// The slope of DS on log2 of the numeric axis for one group of the other axes.
pub struct GroupSlope {
    pub name: String,
    /// Labels on the other axes.
    pub labels: Labels,
    /// Runs (independent trainings) behind the slope.
    pub runs: usize,
    /// Whether runs gave several points (kept checkpoints): the slope is then the mean of
    /// per-run slopes ([`regression::clustered_slope`]), not one OLS fit over all points.
    pub clustered: bool,
    /// `None` with too few runs, a single axis value, or an axis value <= 0.
    pub estimate: Option<SlopeEstimate>,
}

/// DS per doubling of the numeric axis, per group, and the pairwise interactions.
pub struct Trends {
    pub axis: String,
    pub slopes: Vec<GroupSlope>,
    /// `(contrast, slope difference)` for groups that differ on exactly one axis.
    pub interactions: Vec<(String, SlopeEstimate)>,
}

pub fn trends(cells: &[Cell], x_axis: usize) -> Trends {
    let axis = cells[0].labels[x_axis].0.clone();
    // Per group of the other axes, the points of each run (one, or one per kept checkpoint).
    let mut groups: Vec<(Labels, Vec<RunPoints>)> = Vec::new();
    for cell in cells {
        let mut others = cell.labels.clone();
        others.remove(x_axis);
        let runs = match groups.iter_mut().find(|(labels, _)| labels == &others) {
            Some((_, runs)) => runs,
            None => {
                groups.push((others, Vec::new()));
                &mut groups.last_mut().expect("just pushed").1
            }
        };
        for r in &cell.runs {
            let x = r.meta.numeric.get(&axis).copied().unwrap_or(f64::NAN);
            let point = (x.log2(), r.eval.mean[0]);
            match runs.iter_mut().find(|(name, _)| name == &r.meta.name) {
                Some((_, points)) => points.push(point),
                None => runs.push((r.meta.name.clone(), vec![point])),
            }
        }
    }
    let slopes: Vec<GroupSlope> = groups
        .into_iter()
        .map(|(labels, runs)| {
            let valid = runs.iter().flat_map(|r| &r.1).all(|p| p.0.is_finite());
            let clustered = runs.iter().any(|r| r.1.len() > 1);
            let estimate = if !valid {
                None
            } else if clustered {
                let clusters: Vec<&[(f64, f64)]> = runs.iter().map(|r| r.1.as_slice()).collect();
                regression::clustered_slope(&clusters)
            } else {
                let points: Vec<(f64, f64)> = runs.iter().map(|r| r.1[0]).collect();
                regression::ols_slope(&points)
            };
            GroupSlope {
                name: group_name(&labels, usize::MAX),
                runs: runs.len(),
                clustered,
                estimate,
                labels,
            }
        })
        .collect();
    let mut interactions = Vec::new();
    for (i, a) in slopes.iter().enumerate() {
        for b in &slopes[i + 1..] {
            let differing: Vec<usize> = (0..a.labels.len())
                .filter(|&k| a.labels[k] != b.labels[k])
                .collect();
            let (Some(ea), Some(eb), [k]) = (&a.estimate, &b.estimate, differing.as_slice()) else {
                continue;
            };
            let mut contrast = format!(
                "{}: {} − {}",
                a.labels[*k].0, a.labels[*k].1, b.labels[*k].1
            );
            let shared = group_name(&a.labels, *k);
            if a.labels.len() > 1 {
                contrast += &format!(" (at {shared})");
            }
            interactions.push((contrast, regression::slope_difference(ea, eb)));
        }
    }
    Trends {
        axis,
        slopes,
        interactions,
    }
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
