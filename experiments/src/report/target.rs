//! `carrot report --fraction-of AXIS:REF --along BUDGET`: how much of a numeric axis (a query
//! budget) each method needs to reach a fraction (default 0.9) of a reference label's final
//! score (the oracle).
//!
//! Returns are normalized between the untrained policy and the reference, so that negative
//! returns (pendulum) work: `s = (final − R₀)/(R_ref − R₀)`, where R₀ is the mean first logged
//! return over every run (the initial, untrained policy; seeds share it across methods) and
//! R_ref the mean final score of the reference's runs over all of its cells (the reference
//! ignores the budget). Per method and cell of the other axes, the budget where the mean
//! normalized final first reaches the fraction is interpolated linearly between the two
//! budgets around the crossing; "> max" when it never does, "≤ min" when the smallest budget
//! already does. The per-budget cells carry the 95% t-interval of the mean normalized score
//! over seeds (R₀ and R_ref held fixed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::collect::{label_of, AxisInfo, RunRecord};
use crate::run_dir::write_atomic;
use crate::stats::student_t;

/// `--fraction-of AXIS:REF`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceSpec {
    pub axis: String,
    pub label: String,
}

impl std::str::FromStr for ReferenceSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once(':') {
            Some((axis, label)) if !axis.is_empty() && !label.is_empty() => Ok(ReferenceSpec {
                axis: axis.into(),
                label: label.into(),
            }),
            _ => Err(format!("`{s}`: expected AXIS:LABEL, e.g. method:oracle")),
        }
    }
}

/// One method's row in one cell of the other axes.
pub struct TargetRow {
    pub cell: Vec<String>,
    pub method: String,
    /// (budget, mean normalized final, 95% t half-width, seeds) in budget order.
    pub points: Vec<(f64, f64, f64, usize)>,
    /// Interpolated budget to reach the fraction; `None` if never reached.
    pub budget_needed: Option<f64>,
}

/// The budget where the piecewise-linear curve of `points` (budget, score) first reaches `goal`.
pub fn crossing(points: &[(f64, f64)], goal: f64) -> Option<f64> {
    let first = points.first()?;
    if first.1 >= goal {
        return Some(first.0);
    }
    points.windows(2).find_map(|w| {
        let ((b0, s0), (b1, s1)) = (w[0], w[1]);
        (s1 >= goal).then(|| b0 + (goal - s0) / (s1 - s0) * (b1 - b0))
    })
}

pub struct TargetTable {
    /// The axes other than the method and budget axes, in the order of `TargetRow::cell`.
    pub other_axes: Vec<String>,
    pub initial: f64,
    pub reference: f64,
    pub rows: Vec<TargetRow>,
}

/// Checks the axes of `--fraction-of` and `--along`; returns the method axis.
fn check_axes<'a>(axes: &'a [AxisInfo], spec: &ReferenceSpec, along: &str) -> Result<&'a AxisInfo> {
    let find = |name: &str| axes.iter().find(|a| a.name == name);
    let known = || {
        axes.iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(method_axis) = find(&spec.axis) else {
        bail!("--fraction-of: no axis `{}` (axes: {})", spec.axis, known());
    };
    if !method_axis.labels.contains(&spec.label) {
        bail!(
            "--fraction-of: axis `{}` has no label `{}` (labels: {})",
            spec.axis,
            spec.label,
            method_axis.labels.join(", ")
        );
    }
    match find(along) {
        None => bail!("--along: no axis `{along}` (axes: {})", known()),
        Some(a) if !a.numeric => bail!("--along: axis `{along}` is not numeric"),
        Some(_) => Ok(method_axis),
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// (cell ranks on `others`, method rank) -> budget bits -> scores normalized by `scale`.
type NormalizedCells = BTreeMap<(Vec<usize>, usize), BTreeMap<u64, Vec<f64>>>;

fn normalized_cells(
    runs: &[RunRecord],
    method_axis: &AxisInfo,
    reference_label: &str,
    others: &[&AxisInfo],
    along: &str,
    scale: impl Fn(f64) -> f64,
) -> NormalizedCells {
    let rank = |axis: &AxisInfo, label: &str| axis.labels.iter().position(|l| l == label);
    let mut cells = NormalizedCells::new();
    for run in runs {
        let method = label_of(run, &method_axis.name);
        let (Some(final_score), Some(&budget)) = (run.final_score, run.meta.numeric.get(along))
        else {
            continue;
        };
        let Some(m) = rank(method_axis, method).filter(|_| method != reference_label) else {
            continue;
        };
        let cell: Option<Vec<usize>> = others
            .iter()
            .map(|a| rank(a, label_of(run, &a.name)))
            .collect();
        let Some(cell) = cell else { continue };
        cells
            .entry((cell, m))
            .or_default()
            .entry(budget.to_bits())
            .or_default()
            .push(scale(final_score));
    }
    cells
}

pub fn target_rows(
    axes: &[AxisInfo],
    runs: &[RunRecord],
    spec: &ReferenceSpec,
    along: &str,
    fraction: f64,
) -> Result<TargetTable> {
    let method_axis = check_axes(axes, spec, along)?;
    let starts: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.curve.first().map(|p| p.1))
        .collect();
    let reference_finals: Vec<f64> = runs
        .iter()
        .filter(|r| label_of(r, &spec.axis) == spec.label)
        .filter_map(|r| r.final_score)
        .collect();
    if starts.is_empty() || reference_finals.is_empty() {
        bail!(
            "--fraction-of: no complete `{}` runs or no logged curves",
            spec.label
        );
    }
    let (initial, reference) = (mean(&starts), mean(&reference_finals));
    let others: Vec<&AxisInfo> = axes
        .iter()
        .filter(|a| a.name != spec.axis && a.name != along)
        .collect();
    let cells = normalized_cells(runs, method_axis, &spec.label, &others, along, |f| {
        (f - initial) / (reference - initial)
    });
    let rows = cells
        .into_iter()
        .map(|((cell, m), budgets)| {
            let mut points: Vec<(f64, f64, f64, usize)> = budgets
                .into_iter()
                .map(|(bits, scores)| {
                    let half = student_t::mean_interval(&scores).map_or(f64::NAN, |i| i.half_width);
                    (f64::from_bits(bits), mean(&scores), half, scores.len())
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let curve: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1)).collect();
            TargetRow {
                cell: others
                    .iter()
                    .zip(&cell)
                    .map(|(a, &i)| a.labels[i].clone())
                    .collect(),
                method: method_axis.labels[m].clone(),
                budget_needed: crossing(&curve, fraction),
                points,
            }
        })
        .collect();
    Ok(TargetTable {
        other_axes: others.iter().map(|a| a.name.clone()).collect(),
        initial,
        reference,
        rows,
    })
}

/// The Markdown section and `target_<axis>_<ref>.csv`.
pub fn write(
    out: &Path,
    spec: &ReferenceSpec,
    along: &str,
    fraction: f64,
    table: &TargetTable,
) -> Result<(String, PathBuf)> {
    let mut budgets: Vec<f64> = table
        .rows
        .iter()
        .flat_map(|r| r.points.iter().map(|p| p.0))
        .collect();
    budgets.sort_by(f64::total_cmp);
    budgets.dedup();
    let mut md = format!(
        "\n## `{along}` needed to reach {pct}% of `{label}`\n\nNormalized final score s = (final − R₀)/(R_ref − R₀) with R₀ = {r0:.2} (mean first logged return of all runs: the untrained policies) and R_ref = {rr:.2} (mean final of `{label}`). Cells: mean s over seeds ± the 95% t half-width (R₀, R_ref fixed). Last column: the `{along}` where the mean first reaches {fraction}, interpolated linearly between budgets.\n\n",
        pct = fraction * 100.0,
        label = spec.label,
        r0 = table.initial,
        rr = table.reference,
    );
    let other_header = table.other_axes.clone();
    let budget_header: Vec<String> = budgets.iter().map(|b| format!("{along} {b}")).collect();
    let mut header = other_header.clone();
    header.push(spec.axis.clone());
    header.extend(budget_header);
    header.push(format!("{along} to {fraction}"));
    let _ = writeln!(md, "| {} |", header.join(" | "));
    let _ = writeln!(md, "|{}", " --- |".repeat(header.len()));
    let mut csv: String = other_header.iter().map(|h| format!("{h},")).collect();
    let _ = writeln!(
        csv,
        "{},{along},normalized_mean,half_width,seeds",
        spec.axis
    );
    for row in &table.rows {
        let mut cells = row.cell.clone();
        cells.push(row.method.clone());
        for b in &budgets {
            cells.push(match row.points.iter().find(|p| p.0 == *b) {
                Some(&(_, m, h, n)) if h.is_finite() => format!("{m:.2} ± {h:.2} (n={n})"),
                Some(&(_, m, _, n)) => format!("{m:.2} (n={n})"),
                None => "–".into(),
            });
        }
        let max = row.points.last().map_or(f64::NAN, |p| p.0);
        cells.push(match row.budget_needed {
            Some(b) if row.points.first().is_some_and(|p| p.0 == b) => format!("≤ {b}"),
            Some(b) => format!("{b:.0}"),
            None => format!("> {max}"),
        });
        let _ = writeln!(md, "| {} |", cells.join(" | "));
        for &(b, m, h, n) in &row.points {
            let mut line = row.cell.clone();
            line.push(row.method.clone());
            let _ = writeln!(csv, "{},{b},{m},{h},{n}", line.join(","));
        }
    }
    let path = out.join(format!("target_{}_{}.csv", spec.axis, spec.label));
    write_atomic(&path, csv.as_bytes())?;
    Ok((md, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_dir::RunMeta;

    fn run(method: &str, budget: f64, seed: u64, start: f64, final_score: f64) -> RunRecord {
        RunRecord {
            dir: PathBuf::new(),
            meta: RunMeta {
                name: String::new(),
                labels: vec![
                    ("budget".into(), format!("q{budget}")),
                    ("method".into(), method.into()),
                ],
                numeric: [("budget".to_string(), budget)].into_iter().collect(),
                seed,
            },
            final_score: Some(final_score),
            best_score: None,
            auc: None,
            curve: vec![(0.0, start), (1.0, final_score)],
        }
    }

    #[test]
    fn budgets_are_read_on_the_normalized_scale_between_untrained_and_reference() {
        let axis = |name: &str, labels: &[&str], numeric| AxisInfo {
            name: name.into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            numeric,
        };
        let axes = vec![
            axis("budget", &["q50", "q100"], true),
            axis("method", &["oracle", "pebble"], false),
        ];
        // R0 = -1000 (every run starts there), R_ref = -200: s = (final + 1000) / 800.
        let runs = vec![
            run("oracle", 50.0, 1, -1000.0, -200.0),
            run("oracle", 100.0, 1, -1000.0, -200.0),
            run("pebble", 50.0, 1, -1000.0, -600.0), // s = 0.5
            run("pebble", 50.0, 2, -1000.0, -520.0), // s = 0.6
            run("pebble", 100.0, 1, -1000.0, -200.0), // s = 1.0
            run("pebble", 100.0, 2, -1000.0, -280.0), // s = 0.9
        ];
        let spec: ReferenceSpec = "method:oracle".parse().unwrap();
        let t = target_rows(&axes, &runs, &spec, "budget", 0.9).unwrap();
        assert_eq!((t.initial, t.reference), (-1000.0, -200.0));
        assert_eq!(t.rows.len(), 1, "the reference gets no row");
        let row = &t.rows[0];
        assert_eq!(row.method, "pebble");
        assert!((row.points[0].1 - 0.55).abs() < 1e-12 && (row.points[1].1 - 0.95).abs() < 1e-12);
        // 0.9 between 0.55 at 50 and 0.95 at 100: 50 + 0.35 / 0.4 * 50.
        assert!((row.budget_needed.unwrap() - 93.75).abs() < 1e-9);
        assert!(
            target_rows(&axes, &runs, &spec, "method", 0.9).is_err(),
            "not numeric"
        );
        let bad: ReferenceSpec = "method:nope".parse().unwrap();
        assert!(target_rows(&axes, &runs, &bad, "budget", 0.9).is_err());
    }

    #[test]
    fn crossing_interpolates_and_reports_never_and_at_once() {
        let pts = [(50.0, 0.5), (100.0, 0.8), (200.0, 1.0)];
        assert_eq!(crossing(&pts, 0.9), Some(150.0));
        assert_eq!(crossing(&pts, 0.4), Some(50.0));
        assert_eq!(crossing(&pts, 1.1), None);
        assert_eq!(crossing(&[], 0.9), None);
    }
}
