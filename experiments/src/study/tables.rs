//! The study's tables: `results.md` (per-cell means with t-intervals, then the slope and
//! interaction tables), `results.csv`, `runs.csv`, `slopes.csv` and `expert.json`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::run_dir;
use crate::stats::regression::SlopeEstimate;
use crate::study::analysis::{Cell, Finished, Study, Trends};
use crate::study::eval::{EvalMode, HEADERS, METRICS};

/// Decimals shown for a metric in the Markdown table.
fn precision(metric: &str) -> usize {
    match metric {
        "infraction_score" | "distance_km" => 3,
        "infractions_per_km" => 2,
        _ => 1,
    }
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
        "{} held-out routes (map_seed {}, route seeds {}..{}), {}; {}. \
         Each cell is the mean over the cell's seeds (column `seeds`) ± the half-width of its \
         95% t-interval (Student t on seeds − 1 df); n/a with fewer than 2 seeds. The \
         route-to-route spread within a run is not part of the interval (every run drives \
         the same routes).\n",
        routes.routes,
        routes.env.map_seed,
        routes.route_seed,
        routes.route_seed + routes.routes as u64,
        study.policies,
        EvalMode::of(&routes.env).describe()
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
    if t.slopes.iter().any(|s| s.clustered) {
        writeln!(
            md,
            "Per group, the mean over runs (seeds) of each run's own least-squares slope of \
             held-out DS on log2({axis}) across its checkpoints, with SE = sd / √runs and a 95% \
             t-interval on runs − 1 df: the checkpoints of one run are not independent, so the \
             runs are the units. \"excludes 0\" says whether the interval lies entirely below \
             or above 0.\n"
        )?;
    } else {
        writeln!(
            md,
            "Per group, the ordinary-least-squares slope of held-out DS on log2({axis}), one \
             point per run (seed), with its standard error and 95% t-interval (n − 2 df). \
             \"excludes 0\" says whether the interval lies entirely below or above 0.\n"
        )?;
    }
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
