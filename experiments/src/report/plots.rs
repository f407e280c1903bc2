//! The report's plots: learning curves per group with 95% CI bands, and final scores against
//! each numeric axis (one line per value of the other grouping axes).

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::collect::AxisInfo;
use super::{group_name, GroupSummary};
use crate::metrics::moving_mean;
use crate::plotting::{draw_chart, format_number, Chart, Series, Style};
use crate::stats::{self, Statistic};

/// Points on the common step grid of a group's learning curve.
const CURVE_POINTS: usize = 80;
/// Each run's training return is smoothed by a trailing mean over this many iterations.
const SMOOTHING_WINDOW: usize = 10;

/// `learning_curves.png/.svg`: mean training return per group over environment steps (each
/// run smoothed over [`SMOOTHING_WINDOW`] iterations), with a stratified-bootstrap 95% band (the runs per group in the title),
/// from the group's complete runs.
pub fn learning_curves(
    out: &Path,
    by: &[String],
    groups: &[GroupSummary],
    metric: &str,
) -> Result<Vec<PathBuf>> {
    let series: Vec<Series> = groups
        .iter()
        .filter_map(|g| group_curve(g).map(|(points, band)| (g, points, band)))
        .map(|(g, points, band)| Series {
            label: group_name(by, &g.labels),
            points,
            band,
            style: Style::Line,
        })
        .collect();
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let runs: Vec<usize> = groups.iter().map(|g| g.complete).collect();
    let title = format!("Learning curves (mean, {})", stats::bootstrap_label(&runs));
    let chart = Chart {
        title: &title,
        x_desc: "environment steps",
        y_desc: &format!("{metric} (10-iteration moving mean)"),
        x_format: None,
        reference: None,
    };
    Ok(draw_chart(&out.join("learning_curves"), &chart, &series)?.to_vec())
}

type Band = Vec<(f64, f64, f64)>;

fn group_curve(g: &GroupSummary) -> Option<(Vec<(f64, f64)>, Band)> {
    let strata: Vec<Vec<Vec<(f64, f64)>>> = g
        .strata
        .iter()
        .map(|s| {
            s.iter()
                .filter(|r| r.final_score.is_some() && !r.curve.is_empty())
                .map(|r| moving_mean(&r.curve, SMOOTHING_WINDOW))
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect();
    let curves = strata.iter().flatten();
    let start = curves
        .clone()
        .map(|c| c[0].0)
        .fold(f64::NEG_INFINITY, f64::max);
    let end = curves
        .map(|c| c[c.len() - 1].0)
        .fold(f64::INFINITY, f64::min);
    if !(start.is_finite() && end.is_finite()) {
        return None;
    }
    let steps = if end > start { CURVE_POINTS } else { 1 };
    let mut points = Vec::with_capacity(steps);
    let mut band = Vec::with_capacity(steps);
    for i in 0..steps {
        let x = start + (end - start) * i as f64 / (steps.max(2) - 1) as f64;
        let values: Vec<Vec<f64>> = strata
            .iter()
            .map(|s| s.iter().map(|c| interpolate(c, x)).collect())
            .collect();
        let e = stats::estimate(&values, Statistic::Mean, stats::BOOTSTRAP_SEED);
        points.push((x, e.value));
        band.push((x, e.low, e.high));
    }
    Some((points, band))
}

/// Linear interpolation of a curve sorted by x, clamped at its ends.
fn interpolate(curve: &[(f64, f64)], x: f64) -> f64 {
    let i = curve.partition_point(|p| p.0 < x);
    if i == 0 {
        return curve[0].1;
    }
    if i == curve.len() {
        return curve[i - 1].1;
    }
    let (x0, y0) = curve[i - 1];
    let (x1, y1) = curve[i];
    if x1 == x0 {
        y1
    } else {
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
}

/// `final_vs_<axis>.png/.svg` for every numeric grouping axis; with none, `final_scores` with
/// one marker per group.
pub fn final_scores(
    out: &Path,
    axes: &[AxisInfo],
    by: &[String],
    groups: &[GroupSummary],
    reference: Option<(f64, &str)>,
) -> Result<Vec<PathBuf>> {
    let numeric: Vec<(usize, &AxisInfo)> = by
        .iter()
        .enumerate()
        .filter_map(|(i, name)| Some((i, axes.iter().find(|a| &a.name == name)?)))
        .filter(|(_, a)| a.numeric)
        .collect();
    let runs: Vec<usize> = groups
        .iter()
        .filter(|g| !g.final_mean.value.is_nan())
        .map(|g| g.complete)
        .collect();
    let interval = stats::bootstrap_label(&runs);
    let mut written = Vec::new();
    for &(position, axis) in &numeric {
        let series = lines_along_axis(by, groups, position, axis);
        let labels = axis.labels.clone();
        let format = move |x: f64| tick_label(&labels, x);
        let title = format!(
            "Final evaluation return vs {} (mean, {interval})",
            axis.name
        );
        let chart = Chart {
            title: &title,
            x_desc: &axis.name,
            y_desc: "final evaluation return",
            x_format: Some(&format),
            reference,
        };
        let stem = out.join(format!(
            "final_vs_{}",
            crate::run_dir::path_safe(&axis.name)
        ));
        written.extend(draw_chart(&stem, &chart, &series)?);
    }
    if numeric.is_empty() {
        written.extend(final_per_group(out, by, groups, &interval, reference)?);
    }
    Ok(written)
}

/// The scored groups as lines along the axis at `position` of `by`: one line per combination
/// of the other grouping axes; x is the label's rank on the axis, so sizes that double are
/// evenly spaced (a log scale for the usual sweeps).
fn lines_along_axis(
    by: &[String],
    groups: &[GroupSummary],
    position: usize,
    axis: &AxisInfo,
) -> Vec<Series> {
    let mut lines: Vec<(Vec<String>, Series)> = Vec::new();
    for g in groups.iter().filter(|g| !g.final_mean.value.is_nan()) {
        let Some(rank) = axis.labels.iter().position(|l| l == &g.labels[position]) else {
            continue;
        };
        let (rest_axes, rest_labels): (Vec<String>, Vec<String>) = by
            .iter()
            .zip(&g.labels)
            .enumerate()
            .filter(|(i, _)| *i != position)
            .map(|(_, (a, l))| (a.clone(), l.clone()))
            .unzip();
        // Groups come in axis order, so lines appear in the order of their labels.
        let index = match lines.iter().position(|(key, _)| key == &rest_labels) {
            Some(i) => i,
            None => {
                let series = Series {
                    label: group_name(&rest_axes, &rest_labels),
                    points: Vec::new(),
                    band: Vec::new(),
                    style: Style::Markers,
                };
                lines.push((rest_labels, series));
                lines.len() - 1
            }
        };
        let line = &mut lines[index].1;
        let x = rank as f64;
        line.points.push((x, g.final_mean.value));
        line.band.push((x, g.final_mean.low, g.final_mean.high));
    }
    lines.into_iter().map(|(_, s)| s).collect()
}

/// `final_scores.png/.svg`: one marker per scored group, for groupings without a numeric axis.
fn final_per_group(
    out: &Path,
    by: &[String],
    groups: &[GroupSummary],
    interval: &str,
    reference: Option<(f64, &str)>,
) -> Result<[PathBuf; 2]> {
    let scored: Vec<&GroupSummary> = groups
        .iter()
        .filter(|g| !g.final_mean.value.is_nan())
        .collect();
    let names: Vec<String> = scored.iter().map(|g| group_name(by, &g.labels)).collect();
    let series = Series {
        label: "final evaluation return".into(),
        points: scored
            .iter()
            .enumerate()
            .map(|(i, g)| (i as f64, g.final_mean.value))
            .collect(),
        band: scored
            .iter()
            .enumerate()
            .map(|(i, g)| (i as f64, g.final_mean.low, g.final_mean.high))
            .collect(),
        style: Style::Markers,
    };
    let format = move |x: f64| tick_label(&names, x);
    let title = format!("Final evaluation return per group (mean, {interval})");
    let chart = Chart {
        title: &title,
        x_desc: "group",
        y_desc: "final evaluation return",
        x_format: Some(&format),
        reference,
    };
    draw_chart(&out.join("final_scores"), &chart, &[series])
}

/// The label at an integer tick position, blank between positions.
fn tick_label(labels: &[String], x: f64) -> String {
    let rank = x.round();
    if (x - rank).abs() > 1e-6 || rank < 0.0 {
        return String::new();
    }
    labels.get(rank as usize).cloned().unwrap_or_else(|| {
        if labels.is_empty() {
            format_number(x)
        } else {
            String::new()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_is_linear_and_clamped() {
        let c = [(0.0, 0.0), (10.0, 100.0), (20.0, 50.0)];
        assert_eq!(interpolate(&c, 5.0), 50.0);
        assert_eq!(interpolate(&c, 15.0), 75.0);
        assert_eq!(interpolate(&c, -3.0), 0.0);
        assert_eq!(interpolate(&c, 30.0), 50.0);
    }

    #[test]
    fn ticks_show_labels_at_integer_positions_only() {
        let labels = vec!["64".to_string(), "128".to_string()];
        assert_eq!(tick_label(&labels, 1.0), "128");
        assert_eq!(tick_label(&labels, 0.5), "");
        assert_eq!(tick_label(&labels, 2.0), "");
    }
}
