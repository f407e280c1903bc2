//! The study's plots: held-out DS against the numeric axis (means with 95% t-interval bars and
//! every seed's DS as a small point), and the DS of training episodes against env steps.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::plotting::{draw_chart, Chart, Series, Style};
use crate::run_dir;
use crate::study::analysis::{group_name, Cell};

/// `ds_vs_<axis>.png/.svg`: DS against the axis at `x_axis` (labels evenly spaced, so sizes
/// that double give a log scale), one line per combination of the other axes.
pub fn ds_vs_axis(
    out: &Path,
    cells: &[Cell],
    x_axis: usize,
    expert_ds: f64,
) -> Result<Vec<PathBuf>> {
    let x_name = cells[0].labels[x_axis].0.clone();
    let x_value = |cell: &Cell| cell.runs[0].meta.numeric[&x_name];
    let mut ticks: Vec<(f64, String)> = Vec::new();
    for cell in cells {
        if !ticks.iter().any(|t| t.0 == x_value(cell)) {
            ticks.push((x_value(cell), cell.labels[x_axis].1.clone()));
        }
    }
    ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut lines: Vec<Series> = Vec::new();
    let mut seeds: Vec<Series> = Vec::new();
    for cell in cells {
        let rank = ticks.iter().position(|t| t.0 == x_value(cell)).unwrap_or(0) as f64;
        let name = match group_name(&cell.labels, x_axis) {
            n if n == "all runs" => "policy".to_string(),
            n => n,
        };
        let i = match lines.iter().position(|s| s.label == name) {
            Some(i) => i,
            None => {
                lines.push(Series {
                    label: name,
                    points: Vec::new(),
                    band: Vec::new(),
                    style: Style::Markers,
                });
                seeds.push(Series {
                    label: String::new(),
                    points: Vec::new(),
                    band: Vec::new(),
                    style: Style::Points {
                        of: lines.len() - 1,
                    },
                });
                lines.len() - 1
            }
        };
        lines[i].points.push((rank, cell.mean(0)));
        if let Some(e) = &cell.intervals[0] {
            lines[i].band.push((rank, e.low(), e.high()));
        }
        seeds[i]
            .points
            .extend(cell.runs.iter().map(|r| (rank, r.eval.mean[0])));
    }
    let labels: Vec<String> = ticks.into_iter().map(|t| t.1).collect();
    let format = move |x: f64| {
        let r = x.round();
        if (x - r).abs() > 1e-6 || r < 0.0 {
            return String::new();
        }
        labels.get(r as usize).cloned().unwrap_or_default()
    };
    let title = format!(
        "Held-out driving score vs {x_name} (mean over seeds ± 95% t-interval; dots: seeds)"
    );
    let chart = Chart {
        title: &title,
        x_desc: &x_name,
        y_desc: "driving score (held-out routes)",
        x_format: Some(&format),
        reference: Some((expert_ds, "expert")),
    };
    let stem = out.join(format!("ds_vs_{}", run_dir::path_safe(&x_name)));
    lines.extend(seeds);
    Ok(draw_chart(&stem, &chart, &lines)?.to_vec())
}

/// `(x, low, high)` of a shaded band.
type Band = Vec<(f64, f64, f64)>;

/// Bins of the training-DS curves.
const CURVE_BINS: usize = 30;
/// The training metrics column with the mean DS of the episodes finished in an iteration.
const TRAINING_DS: &str = "episode/driving_score";

/// `training_ds.png/.svg`: the DS of training episodes against env steps, per cell (mean over
/// seeds of each run's mean in equal step bins; the band spans the seeds' min and max).
pub fn training_curves(out: &Path, cells: &[Cell]) -> Result<Vec<PathBuf>> {
    let mut series = Vec::new();
    for cell in cells {
        let mut curves = Vec::new();
        for run in &cell.runs {
            let path = run.dir.join(run_dir::METRICS_CSV);
            if !path.is_file() {
                // Committed study runs keep their checkpoints but not their per-iteration logs.
                eprintln!(
                    "training curves: {} has no {}, left out",
                    run.meta.name,
                    run_dir::METRICS_CSV
                );
                continue;
            }
            let metrics = crate::metrics::MetricsTable::read(&path)?;
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
        let (points, band) = binned_mean_and_range(&curves, end);
        let label: Vec<String> = cell
            .labels
            .iter()
            .map(|(a, l)| format!("{a}={l}"))
            .collect();
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

/// Per step bin of `(0, end]`: the mean over curves of each curve's mean in the bin, and the
/// min and max of those means (bins where some curve has no point are skipped).
fn binned_mean_and_range(curves: &[Vec<(f64, f64)>], end: f64) -> (Vec<(f64, f64)>, Band) {
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
        let mean = means.iter().sum::<f64>() / means.len() as f64;
        let min = means.iter().copied().fold(f64::INFINITY, f64::min);
        let max = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        points.push((hi, mean));
        band.push((hi, min, max));
    }
    (points, band)
}
