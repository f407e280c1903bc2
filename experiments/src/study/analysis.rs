//! The study's analysis: per cell (seeds pooled) the mean of every metric with a 95% t-interval
//! over seeds, and the trend of driving score along the numeric axis: per group of the other
//! axes the OLS slope of the per-seed DS on log2 of the axis value (DS per doubling), and for
//! every two groups that differ on one axis the difference of their slopes (the interaction).
//! All statistics come from [`crate::stats`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::run_dir::{self, RunMeta};
use crate::stats::regression::{self, SlopeEstimate};
use crate::stats::student_t::{self, MeanInterval};
use crate::study::eval::{DriverEval, RouteSet, HEADERS, METRICS};

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

/// The slope of DS on log2 of the numeric axis for one group of the other axes.
pub struct GroupSlope {
    pub name: String,
    /// Labels on the other axes.
    pub labels: Labels,
    pub runs: usize,
    /// `None` with fewer than 3 runs, a single axis value, or an axis value <= 0.
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
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for cell in cells {
        let mut others = cell.labels.clone();
        others.remove(x_axis);
        let points = cell.runs.iter().map(|r| {
            let x = r.meta.numeric.get(&axis).copied().unwrap_or(f64::NAN);
            (x.log2(), r.eval.mean[0])
        });
        match groups.iter_mut().find(|(labels, _)| labels == &others) {
            Some((_, p)) => p.extend(points),
            None => groups.push((others, points.collect())),
        }
    }
    let slopes: Vec<GroupSlope> = groups
        .into_iter()
        .map(|(labels, points)| {
            let valid = points.iter().all(|p| p.0.is_finite());
            GroupSlope {
                name: group_name(&labels, usize::MAX),
                runs: points.len(),
                estimate: valid.then(|| regression::ols_slope(&points)).flatten(),
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

/// Decimals shown for a metric in the Markdown table.
fn precision(metric: &str) -> usize {
    match metric {
        "infraction_score" => 3,
        "infractions_per_km" => 2,
        _ => 1,
    }
}

/// Writes the tables and the plots; returns the paths written.
pub fn write_outputs(out: &Path, study: &Study) -> Result<Vec<PathBuf>> {
    let cells = cells(&study.finished);
    let trends = numeric_axis(&cells).map(|x| (x, trends(&cells, x)));
    let mut written = write_tables(out, study, &cells, trends.as_ref().map(|t| &t.1))?;
    if let Some((x_axis, _)) = &trends {
        written.extend(crate::study::plots::ds_vs_axis(
            out,
            &cells,
            *x_axis,
            study.expert.mean[0],
        )?);
    }
    written.extend(crate::study::plots::training_curves(out, &cells)?);
    Ok(written)
}

/// `results.md`, `results.csv`, `runs.csv`, `expert.json` and, with a numeric axis,
/// `slopes.csv`.
pub fn write_tables(
    out: &Path,
    study: &Study,
    cells: &[Cell],
    trends: Option<&Trends>,
) -> Result<Vec<PathBuf>> {
    let mut md = cells_markdown(study, cells)?;
    let mut files = vec![
        ("results.csv", cells_csv(cells)),
        ("runs.csv", runs_csv(&study.finished)),
        ("expert.json", serde_json::to_string_pretty(&study.expert)?),
    ];
    if let Some(trends) = trends {
        md += &trends_markdown(trends)?;
        files.push(("slopes.csv", slopes_csv(trends)));
    }
    files.insert(0, ("results.md", md));
    let mut written = Vec::new();
    for (name, text) in files {
        let path = out.join(name);
        run_dir::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

fn axes(cells: &[Cell]) -> Vec<String> {
    cells
        .first()
        .map(|c| c.labels.iter().map(|(a, _)| a.clone()).collect())
        .unwrap_or_default()
}

fn cells_markdown(study: &Study, cells: &[Cell]) -> Result<String> {
    let routes = &study.routes;
    let mut md = String::new();
    writeln!(md, "# Held-out evaluation\n")?;
    writeln!(
        md,
        "{} held-out routes (map_seed {}, route seeds {}..{}), final deterministic policy. \
         Each cell is the mean over the cell's seeds (column `seeds`) ± the half-width of its \
         95% t-interval (Student t on seeds − 1 df); n/a with fewer than 2 seeds. The \
         route-to-route spread within a run is not part of the interval (every run drives \
         the same routes).\n",
        routes.routes,
        routes.env.map_seed,
        routes.route_seed,
        routes.route_seed + routes.routes as u64
    )?;
    writeln!(md, "Regenerate: `{}`\n", study.command)?;
    let axes = axes(cells);
    let mut header = axes.clone();
    header.push("seeds".into());
    header.extend(HEADERS.iter().map(|h| format!("{h} (mean ± 95% t)")));
    writeln!(md, "| {} |", header.join(" | "))?;
    writeln!(md, "|{}", "---|".repeat(header.len()))?;
    for cell in cells {
        let mut row: Vec<String> = cell.labels.iter().map(|(_, l)| l.clone()).collect();
        row.push(cell.runs.len().to_string());
        for (m, metric) in METRICS.iter().enumerate() {
            let p = precision(metric);
            row.push(match &cell.intervals[m] {
                Some(e) => format!("{:.p$} ± {:.p$}", e.mean, e.half_width),
                None => format!("{:.p$} ± n/a", cell.mean(m)),
            });
        }
        writeln!(md, "| {} |", row.join(" | "))?;
    }
    let mut expert_row = vec!["expert".to_string()];
    expert_row.extend(axes.iter().skip(1).map(|_| "-".to_string()));
    expert_row.push("-".into());
    expert_row.extend(
        study
            .expert
            .mean
            .iter()
            .zip(METRICS)
            .map(|(v, m)| format!("{v:.p$}", p = precision(m))),
    );
    writeln!(md, "| {} |", expert_row.join(" | "))?;
    if !study.missing.is_empty() {
        writeln!(
            md,
            "\nNot finished (left out): {}",
            study.missing.join(", ")
        )?;
    }
    Ok(md)
}

/// `mean, low, high` per metric; low and high are empty where there is no interval.
fn cells_csv(cells: &[Cell]) -> String {
    let mut csv = axes(cells).join(",") + ",seeds";
    for m in METRICS {
        csv += &format!(",{m}_mean,{m}_low,{m}_high");
    }
    csv.push('\n');
    for cell in cells {
        let mut line: Vec<String> = cell.labels.iter().map(|(_, l)| l.clone()).collect();
        line.push(cell.runs.len().to_string());
        for m in 0..METRICS.len() {
            line.push(format!("{:.4}", cell.mean(m)));
            match &cell.intervals[m] {
                Some(e) => line.extend([e.low(), e.high()].map(|v| format!("{v:.4}"))),
                None => line.extend([String::new(), String::new()]),
            }
        }
        csv += &(line.join(",") + "\n");
    }
    csv
}

fn runs_csv(finished: &[Finished]) -> String {
    let axes: Vec<String> = finished
        .first()
        .map(|f| f.meta.labels.iter().map(|(a, _)| a.clone()).collect())
        .unwrap_or_default();
    let mut csv = axes.join(",") + ",seed";
    for m in METRICS {
        csv += &format!(",{m}");
    }
    csv.push('\n');
    for Finished { meta, eval, .. } in finished {
        let mut line: Vec<String> = meta.labels.iter().map(|(_, l)| l.clone()).collect();
        line.push(meta.seed.to_string());
        line.extend(eval.mean.iter().map(|v| format!("{v:.4}")));
        csv += &(line.join(",") + "\n");
    }
    csv
}

/// "yes (< 0)", "yes (> 0)" or "no".
fn excludes_zero(e: &SlopeEstimate) -> &'static str {
    match (e.excludes_zero(), e.slope < 0.0) {
        (true, true) => "yes (< 0)",
        (true, false) => "yes (> 0)",
        (false, _) => "no",
    }
}

/// Slope, SE, df, interval and "excludes 0" as table cells; about three significant digits of
/// the interval's largest bound (two decimals for DS-sized slopes).
fn estimate_cells(e: &SlopeEstimate) -> [String; 5] {
    let magnitude = e.low().abs().max(e.high().abs());
    let d = if magnitude > 0.0 && magnitude.is_finite() {
        (2 - magnitude.log10().floor() as i32).clamp(1, 6) as usize
    } else {
        2
    };
    [
        format!("{:.d$}", e.slope),
        format!("{:.d$}", e.se),
        format!("{:.1}", e.df),
        format!("[{:.d$}, {:.d$}]", e.low(), e.high()),
        excludes_zero(e).to_string(),
    ]
}

fn trends_markdown(t: &Trends) -> Result<String> {
    let axis = &t.axis;
    let mut md = String::new();
    writeln!(md, "\n## Driving score per doubling of {axis}\n")?;
    writeln!(
        md,
        "Per group, the ordinary-least-squares slope of held-out DS on log2({axis}), one point \
         per run (seed), with its standard error and 95% t-interval (n − 2 df). \"excludes 0\" \
         says whether the interval lies entirely below or above 0.\n"
    )?;
    writeln!(
        md,
        "| group | runs | slope (DS per doubling) | SE | df | 95% t-interval | excludes 0 |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for s in &t.slopes {
        let cells = match &s.estimate {
            Some(e) => estimate_cells(e).to_vec(),
            None => vec!["n/a".to_string(); 5],
        };
        writeln!(md, "| {} | {} | {} |", s.name, s.runs, cells.join(" | "))?;
    }
    if t.interactions.is_empty() {
        return Ok(md);
    }
    writeln!(
        md,
        "\nInteraction with log2({axis}): the difference of two groups' slopes, SE = \
         sqrt(SE_a² + SE_b²), Welch–Satterthwaite df, 95% t-interval.\n"
    )?;
    writeln!(
        md,
        "| contrast | slope difference | SE | df | 95% t-interval | excludes 0 |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for (contrast, e) in &t.interactions {
        writeln!(md, "| {contrast} | {} |", estimate_cells(e).join(" | "))?;
    }
    Ok(md)
}

/// One row per slope and per interaction; groups are named with `; ` between axes so that no
/// field holds a comma.
fn slopes_csv(t: &Trends) -> String {
    let mut csv = format!(
        "kind,group,runs,slope_per_doubling_of_{},se,df,low,high,excludes_zero\n",
        run_dir::path_safe(&t.axis)
    );
    let row = |kind: &str, name: &str, runs: usize, e: Option<&SlopeEstimate>| -> String {
        let values = match e {
            Some(e) => {
                [e.slope, e.se, e.df, e.low(), e.high()]
                    .map(|v| format!("{v:.6}"))
                    .join(",")
                    + &format!(",{}", e.excludes_zero())
            }
            None => ",,,,,".to_string(),
        };
        format!("{kind},{},{runs},{values}\n", name.replace(", ", "; "))
    };
    for s in &t.slopes {
        csv += &row("slope", &s.name, s.runs, s.estimate.as_ref());
    }
    for (contrast, e) in &t.interactions {
        csv += &row("interaction", contrast, e.n, Some(e));
    }
    csv
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
