//! `carrot report --paired AXIS:A:B`: the seed-matched difference B − A between two labels of
//! one axis, per cell of the other axes. Seeds share env and network initializations, so a
//! paired difference is the sharpest test of "B beats A" (A-PARL against PEBBLE, BARFI-Neumann
//! against FO). Only seeds complete under both labels count; the interval is a 95% Student-t
//! interval over those seeds, with the bootstrap's percentile interval beside it, and "B > A"
//! counts the seeds where B won.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::collect::{label_of, AxisInfo, RunRecord};
use crate::run_dir::write_atomic;
use crate::stats::{self, student_t, Statistic};

/// The `--paired` comparison: `axis`, then labels `a` (the baseline) and `b`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairedSpec {
    pub axis: String,
    pub a: String,
    pub b: String,
}

impl std::str::FromStr for PairedSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split(':').collect::<Vec<_>>()[..] {
            [axis, a, b] if !axis.is_empty() && !a.is_empty() && !b.is_empty() => Ok(PairedSpec {
                axis: axis.into(),
                a: a.into(),
                b: b.into(),
            }),
            _ => Err(format!(
                "`{s}`: expected AXIS:A:B, e.g. method:pebble:aparl"
            )),
        }
    }
}

/// One cell's seed-matched differences.
pub struct PairedRow {
    /// Labels on the other axes.
    pub cell: Vec<String>,
    pub seeds: Vec<u64>,
    /// B − A of the final evaluation, per seed.
    pub final_diff: Vec<f64>,
    /// B − A of the AUC, per seed.
    pub auc_diff: Vec<f64>,
}

/// Differences per cell of the axes other than `spec.axis`, in axis-label order.
pub fn paired_rows(
    axes: &[AxisInfo],
    runs: &[RunRecord],
    spec: &PairedSpec,
) -> Result<Vec<PairedRow>> {
    let Some(axis) = axes.iter().find(|a| a.name == spec.axis) else {
        let known: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
        bail!(
            "--paired: no axis `{}` (axes: {})",
            spec.axis,
            known.join(", ")
        );
    };
    for label in [&spec.a, &spec.b] {
        if !axis.labels.contains(label) {
            bail!(
                "--paired: axis `{}` has no label `{label}` (labels: {})",
                spec.axis,
                axis.labels.join(", ")
            );
        }
    }
    let others: Vec<&AxisInfo> = axes.iter().filter(|a| a.name != spec.axis).collect();
    let rank = |cell: &[String]| -> Vec<usize> {
        others
            .iter()
            .zip(cell)
            .map(|(a, l)| a.labels.iter().position(|x| x == l).unwrap_or(usize::MAX))
            .collect()
    };
    // cell -> seed -> (A run, B run)
    type Pair<'a> = (Option<&'a RunRecord>, Option<&'a RunRecord>);
    let mut cells: BTreeMap<Vec<String>, BTreeMap<u64, Pair>> = BTreeMap::new();
    for run in runs {
        let label = label_of(run, &spec.axis);
        let cell: Vec<String> = others
            .iter()
            .map(|a| label_of(run, &a.name).to_string())
            .collect();
        let slot = cells
            .entry(cell)
            .or_default()
            .entry(run.meta.seed)
            .or_default();
        if label == spec.a {
            slot.0 = Some(run);
        } else if label == spec.b {
            slot.1 = Some(run);
        }
    }
    let mut rows: Vec<PairedRow> = cells
        .into_iter()
        .map(|(cell, seeds)| {
            let mut row = PairedRow {
                cell,
                seeds: Vec::new(),
                final_diff: Vec::new(),
                auc_diff: Vec::new(),
            };
            for (seed, pair) in seeds {
                let (Some(a), Some(b)) = pair else { continue };
                let (Some(fa), Some(fb)) = (a.final_score, b.final_score) else {
                    continue;
                };
                row.seeds.push(seed);
                row.final_diff.push(fb - fa);
                row.auc_diff
                    .push(b.auc.unwrap_or(f64::NAN) - a.auc.unwrap_or(f64::NAN));
            }
            row
        })
        .filter(|r| !r.seeds.is_empty())
        .collect();
    rows.sort_by_key(|r| rank(&r.cell));
    Ok(rows)
}

fn interval_cells(diffs: &[f64]) -> (String, String) {
    let t = student_t::mean_interval(diffs).map_or("n/a".into(), |m| {
        format!("{:+.3} [{:+.3}, {:+.3}]", m.mean, m.low(), m.high())
    });
    let b = stats::estimate(&[diffs.to_vec()], Statistic::Mean, stats::BOOTSTRAP_SEED);
    let boot = if b.value.is_nan() {
        "n/a".into()
    } else {
        format!("[{:+.3}, {:+.3}]", b.low, b.high)
    };
    (t, boot)
}

/// The Markdown section and `paired_<axis>_<a>_<b>.csv`; returns the section and the written path.
pub fn write(
    out: &Path,
    axes: &[AxisInfo],
    spec: &PairedSpec,
    rows: &[PairedRow],
) -> Result<(String, PathBuf)> {
    let others: Vec<&str> = axes
        .iter()
        .map(|a| a.name.as_str())
        .filter(|a| *a != spec.axis)
        .collect();
    let mut md = format!(
        "\n## Paired: {b} − {a} on `{axis}`\n\nSeed-matched differences ({b} minus {a}) per cell; only seeds complete under both count. Mean with its 95% Student-t interval over seeds, then the 95% bootstrap percentile interval; `{b} > {a}` counts the seeds {b} won. An interval that contains 0 is no evidence of a difference.\n\n",
        a = spec.a,
        b = spec.b,
        axis = spec.axis
    );
    // With no other axis there is one cell: it still gets a first column, so the table keeps
    // its shape.
    let header: Vec<String> = if others.is_empty() {
        vec!["cell".into()]
    } else {
        others.iter().map(|s| s.to_string()).collect()
    };
    let cell_label = |row: &PairedRow, sep: &str| {
        if row.cell.is_empty() {
            "all".to_string()
        } else {
            row.cell.join(sep)
        }
    };
    let _ = writeln!(
        md,
        "| {} | seeds | final diff, t-interval | bootstrap | {b} > {a} | AUC diff, t-interval | bootstrap |",
        header.join(" | "),
        a = spec.a,
        b = spec.b
    );
    let _ = writeln!(md, "|{}", " --- |".repeat(header.len() + 6));
    let mut csv = format!(
        "{},seeds,final_diff_mean,final_diff_low,final_diff_high,final_wins,auc_diff_mean,auc_diff_low,auc_diff_high\n",
        header.join(",")
    );
    for row in rows {
        let (ft, fb) = interval_cells(&row.final_diff);
        let (at, ab) = interval_cells(&row.auc_diff);
        let wins = row.final_diff.iter().filter(|d| **d > 0.0).count();
        let _ = writeln!(
            md,
            "| {} | {} | {ft} | {fb} | {wins}/{} | {at} | {ab} |",
            cell_label(row, " | "),
            row.seeds.len(),
            row.seeds.len()
        );
        let f = student_t::mean_interval(&row.final_diff);
        let a = student_t::mean_interval(&row.auc_diff);
        let num = |m: Option<student_t::MeanInterval>,
                   pick: fn(&student_t::MeanInterval) -> f64| {
            m.map_or("".into(), |m| pick(&m).to_string())
        };
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{wins},{},{},{}",
            cell_label(row, ","),
            row.seeds.len(),
            num(f, |m| m.mean),
            num(f, |m| m.low()),
            num(f, |m| m.high()),
            num(a, |m| m.mean),
            num(a, |m| m.low()),
            num(a, |m| m.high()),
        );
    }
    let path = out.join(format!("paired_{}_{}_{}.csv", spec.axis, spec.a, spec.b));
    write_atomic(&path, csv.as_bytes())?;
    Ok((md, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_dir::RunMeta;

    fn run(method: &str, budget: &str, seed: u64, final_score: Option<f64>) -> RunRecord {
        RunRecord {
            dir: PathBuf::from(format!("{method}-{budget}-{seed}")),
            meta: RunMeta {
                name: String::new(),
                labels: vec![
                    ("budget".into(), budget.into()),
                    ("method".into(), method.into()),
                ],
                numeric: Default::default(),
                seed,
            },
            final_score,
            best_score: final_score,
            auc: final_score.map(|f| f / 2.0),
            curve: Vec::new(),
        }
    }

    fn axes() -> Vec<AxisInfo> {
        let axis = |name: &str, labels: &[&str]| AxisInfo {
            name: name.into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            numeric: false,
        };
        vec![
            axis("budget", &["q50", "q100"]),
            axis("method", &["pebble", "aparl"]),
        ]
    }

    #[test]
    fn differences_are_seed_matched_and_skip_unpaired_or_incomplete_seeds() {
        let runs = vec![
            run("pebble", "q100", 1, Some(10.0)),
            run("aparl", "q100", 1, Some(13.0)),
            run("pebble", "q100", 2, Some(20.0)),
            run("aparl", "q100", 2, Some(19.0)),
            run("pebble", "q100", 3, Some(5.0)), // no aparl seed 3
            run("pebble", "q50", 1, Some(1.0)),
            run("aparl", "q50", 1, None), // incomplete
            run("pebble", "q50", 2, Some(2.0)),
            run("aparl", "q50", 2, Some(6.0)),
        ];
        let spec: PairedSpec = "method:pebble:aparl".parse().unwrap();
        let rows = paired_rows(&axes(), &runs, &spec).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].cell, vec!["q50".to_string()], "axis label order");
        assert_eq!(rows[0].seeds, vec![2]);
        assert_eq!(rows[0].final_diff, vec![4.0]);
        assert_eq!(rows[1].seeds, vec![1, 2]);
        assert_eq!(rows[1].final_diff, vec![3.0, -1.0]);
        assert_eq!(rows[1].auc_diff, vec![1.5, -0.5]);
        let dir = std::env::temp_dir().join(format!("carrot-paired-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (md, path) = write(&dir, &axes(), &spec, &rows).unwrap();
        assert!(md.contains("| q100 | 2 | +1.000 ["), "{md}");
        assert!(md.contains("| 1/2 |"), "{md}");
        let csv = std::fs::read_to_string(path).unwrap();
        assert!(csv.starts_with("budget,seeds,final_diff_mean"), "{csv}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_single_axis_gives_one_well_formed_row() {
        let only_method = vec![axes().remove(1)];
        let runs = vec![
            run("pebble", "q100", 1, Some(10.0)),
            run("aparl", "q100", 1, Some(13.0)),
        ];
        let spec: PairedSpec = "method:pebble:aparl".parse().unwrap();
        let rows = paired_rows(&only_method, &runs, &spec).unwrap();
        assert!(rows[0].cell.is_empty());
        let dir = std::env::temp_dir().join(format!("carrot-paired1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (md, path) = write(&dir, &only_method, &spec, &rows).unwrap();
        let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        let columns = |l: &str| l.matches('|').count();
        assert_eq!(table.len(), 3, "{md}");
        assert!(
            table.iter().all(|l| columns(l) == columns(table[0])),
            "{md}"
        );
        assert!(table[2].starts_with("| all | 1 |"), "{md}");
        let csv = std::fs::read_to_string(path).unwrap();
        assert!(
            csv.starts_with("cell,seeds,") && csv.contains("\nall,1,"),
            "{csv}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_axes_labels_and_malformed_specs_are_errors() {
        let runs = vec![run("pebble", "q50", 1, Some(1.0))];
        let err = |s: &str| {
            paired_rows(&axes(), &runs, &s.parse().unwrap())
                .err()
                .unwrap()
                .to_string()
        };
        assert!(err("seed:a:b").contains("no axis `seed`"));
        assert!(err("method:pebble:oracle").contains("no label `oracle`"));
        assert!("method:pebble".parse::<PairedSpec>().is_err());
        assert!("method::aparl".parse::<PairedSpec>().is_err());
    }
}
