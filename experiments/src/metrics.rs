//! Reading a run's `metrics.csv` (one row per training iteration) and drawing its learning
//! curve.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::plotting::{self, Chart, Series, Style};

/// The x axis of learning curves: environment steps so far.
pub const STEP_COLUMN: &str = "global_step";
/// The y axis of learning curves: mean return of the episodes that ended in the iteration.
pub const RETURN_COLUMN: &str = "charts/episodic_return";

/// A numeric table: named columns, one row per iteration; empty cells are NaN.
#[derive(Clone, Debug)]
pub struct MetricsTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<f64>>,
}

impl MetricsTable {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = lines.next().ok_or_else(|| anyhow!("empty metrics file"))?;
        let columns: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != columns.len() {
                bail!(
                    "row {} has {} cells, the header has {}",
                    i + 2,
                    cells.len(),
                    columns.len()
                );
            }
            rows.push(
                cells
                    .iter()
                    .map(|c| c.trim().parse::<f64>().unwrap_or(f64::NAN))
                    .collect(),
            );
        }
        Ok(Self { columns, rows })
    }

    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let index = self.columns.iter().position(|c| c == name)?;
        Some(self.rows.iter().map(|r| r[index]).collect())
    }

    /// `(x, y)` points of two columns, skipping rows where either is not finite.
    pub fn curve(&self, x: &str, y: &str) -> Result<Vec<(f64, f64)>> {
        let xs = self
            .column(x)
            .ok_or_else(|| anyhow!("metrics have no column `{x}`"))?;
        let ys = self
            .column(y)
            .ok_or_else(|| anyhow!("metrics have no column `{y}`"))?;
        Ok(xs
            .into_iter()
            .zip(ys)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .collect())
    }
}

/// Iterations averaged by the smoothed learning curve.
const SMOOTHING_WINDOW: usize = 10;

/// Trailing moving mean of the y values (over fewer points at the start).
pub fn moving_mean(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let mut sum = 0.0;
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            sum += y;
            if i >= window {
                sum -= points[i - window].1;
            }
            (x, sum / (i + 1).min(window) as f64)
        })
        .collect()
}

/// Draws `learning_curve.png` / `.svg` for one run directory; returns the PNG path.
pub fn plot_run_curve(run_dir: &Path, title: &str) -> Result<PathBuf> {
    let metrics = MetricsTable::read(&run_dir.join(crate::run_dir::METRICS_CSV))?;
    let points = metrics.curve(STEP_COLUMN, RETURN_COLUMN)?;
    let smoothed = moving_mean(&points, SMOOTHING_WINDOW);
    let series = [
        Series {
            label: "per iteration".into(),
            points,
            band: Vec::new(),
            style: Style::Line,
        },
        Series {
            label: format!("moving mean of {SMOOTHING_WINDOW} iterations"),
            points: smoothed,
            band: Vec::new(),
            style: Style::Line,
        },
    ];
    let chart = Chart {
        title,
        x_desc: "environment steps",
        y_desc: "episodic return (training episodes)",
        x_format: None,
        reference: None,
    };
    let [png, _svg] = plotting::draw_chart(&run_dir.join("learning_curve"), &chart, &series)?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_parses_with_empty_cells() {
        let m = MetricsTable::parse(
            "iteration,global_step,charts/episodic_return\n1,512,\n2,1024,20.5\n",
        )
        .unwrap();
        assert_eq!(m.column("global_step"), Some(vec![512.0, 1024.0]));
        assert_eq!(
            m.curve(STEP_COLUMN, RETURN_COLUMN).unwrap(),
            vec![(1024.0, 20.5)]
        );
        assert!(m.curve("nope", RETURN_COLUMN).is_err());
        assert!(MetricsTable::parse("a,b\n1\n").is_err());
    }

    #[test]
    fn moving_mean_trails_over_the_window() {
        let points = [(1.0, 2.0), (2.0, 4.0), (3.0, 6.0), (4.0, 10.0)];
        let smooth = moving_mean(&points, 2);
        assert_eq!(smooth, vec![(1.0, 2.0), (2.0, 3.0), (3.0, 5.0), (4.0, 8.0)]);
    }
}
