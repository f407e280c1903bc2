//! The report's tables: `report.md` (Markdown), `scores.csv` (one row per group) and
//! `runs.csv` (one row per run).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::collect::{label_of, AxisInfo, RunRecord, BEST_WINDOW};
use super::{group_name, GroupSummary};
use crate::run_dir::write_atomic;
use crate::stats::{ScoreInterval, BOOTSTRAP_REPS, MIN_BOOTSTRAP_RUNS};

/// What the tables say about where they come from.
pub struct Tables<'a> {
    pub root: &'a Path,
    /// The command that regenerates them.
    pub command: &'a str,
    /// The column of the best and AUC scores.
    pub metric: &'a str,
}

pub fn write_all(
    out: &Path,
    t: &Tables,
    axes: &[AxisInfo],
    by: &[String],
    groups: &[GroupSummary],
    runs: &[RunRecord],
) -> Result<Vec<PathBuf>> {
    let files = [
        (out.join("report.md"), markdown(t, by, groups, runs)),
        (out.join("scores.csv"), scores_csv(by, groups)),
        (out.join("runs.csv"), runs_csv(axes, runs)),
    ];
    for (path, text) in &files {
        write_atomic(path, text.as_bytes())?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

fn cell(e: &ScoreInterval) -> String {
    if e.value.is_nan() {
        "n/a".into()
    } else {
        let digits = precision(e.value.abs().max(e.high.abs()).max(e.low.abs()));
        format!(
            "{:.digits$} [{:.digits$}, {:.digits$}]",
            e.value, e.low, e.high
        )
    }
}

/// Decimals that keep about three significant digits (one for large scores).
fn precision(magnitude: f64) -> usize {
    match magnitude {
        m if m >= 100.0 => 1,
        m if m >= 10.0 => 2,
        _ => 3,
    }
}

fn markdown(t: &Tables, by: &[String], groups: &[GroupSummary], runs: &[RunRecord]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Report: {}\n", t.root.display());
    let _ = writeln!(s, "Regenerate with `{}`.\n", t.command);
    let complete = runs.iter().filter(|r| r.final_score.is_some()).count();
    let per_group: Vec<usize> = groups.iter().map(|g| g.complete).collect();
    let (fewest, most) = (
        per_group.iter().copied().min().unwrap_or(0),
        per_group.iter().copied().max().unwrap_or(0),
    );
    let per_group = if fewest == most {
        format!("{fewest} complete runs per group")
    } else {
        format!("{fewest}-{most} complete runs per group")
    };
    let _ = writeln!(
        s,
        "{} runs, {complete} complete. Scores are returns; each cell is the estimate with its \
         95% stratified-bootstrap percentile interval ({BOOTSTRAP_REPS} resamples, seeded) over \
         the group's complete runs ({per_group}, column `runs`). \
         Final: mean return of the final deterministic evaluation. Best: highest \
         {BEST_WINDOW}-iteration moving mean of `{}`. AUC: mean of `{}` over training \
         env steps, each logged value held until the next. IQM: mean of the middle 50% of runs.\n",
        runs.len(),
        t.metric,
        t.metric
    );
    if fewest < MIN_BOOTSTRAP_RUNS {
        let _ = writeln!(
            s,
            "Groups whose runs are marked * have fewer than {MIN_BOOTSTRAP_RUNS}: their intervals are \
             unreliable (a percentile bootstrap over so few runs is close to their min-max \
             range and covers far less than 95%; with 3 runs about 75%).\n"
        );
    }
    let mut header: Vec<String> = by.to_vec();
    if by.is_empty() {
        header.push("group".into());
    }
    header.extend(
        [
            "runs",
            "final mean",
            "final IQM",
            "best mean",
            "best IQM",
            "AUC mean",
        ]
        .map(String::from),
    );
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(s, "|{}", " --- |".repeat(header.len()));
    for g in groups {
        let mut row: Vec<String> = g.labels.clone();
        if by.is_empty() {
            row.push(group_name(by, &g.labels));
        }
        let few = if g.complete < MIN_BOOTSTRAP_RUNS {
            "*"
        } else {
            ""
        };
        let runs = if g.incomplete > 0 {
            format!("{}{few} (+{} incomplete)", g.complete, g.incomplete)
        } else {
            format!("{}{few}", g.complete)
        };
        row.extend([
            runs,
            cell(&g.final_mean),
            cell(&g.final_iqm),
            cell(&g.best_mean),
            cell(&g.best_iqm),
            cell(&g.auc_mean),
        ]);
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    s
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

fn scores_csv(by: &[String], groups: &[GroupSummary]) -> String {
    let mut header: Vec<String> = by.iter().map(|a| csv_field(a)).collect();
    header.extend(["runs", "incomplete"].map(String::from));
    for stat in [
        "final_mean",
        "final_iqm",
        "best_mean",
        "best_iqm",
        "auc_mean",
    ] {
        header.extend([stat.into(), format!("{stat}_low"), format!("{stat}_high")]);
    }
    let mut s = header.join(",") + "\n";
    for g in groups {
        let mut row: Vec<String> = g.labels.iter().map(|l| csv_field(l)).collect();
        row.extend([g.complete.to_string(), g.incomplete.to_string()]);
        for e in [
            &g.final_mean,
            &g.final_iqm,
            &g.best_mean,
            &g.best_iqm,
            &g.auc_mean,
        ] {
            row.extend([number(e.value), number(e.low), number(e.high)]);
        }
        s += &(row.join(",") + "\n");
    }
    s
}

fn runs_csv(axes: &[AxisInfo], runs: &[RunRecord]) -> String {
    let axes: Vec<&String> = axes.iter().map(|a| &a.name).collect();
    let mut header: Vec<String> = vec!["run".into()];
    header.extend(axes.iter().map(|a| csv_field(a)));
    header.extend(["seed", "complete", "final", "best", "auc", "dir"].map(String::from));
    let mut s = header.join(",") + "\n";
    for run in runs {
        let mut row = vec![csv_field(&run.meta.name)];
        row.extend(axes.iter().map(|a| csv_field(label_of(run, a))));
        row.extend([
            run.meta.seed.to_string(),
            run.final_score.is_some().to_string(),
            run.final_score.map(number).unwrap_or_default(),
            run.best_score.map(number).unwrap_or_default(),
            run.auc.map(number).unwrap_or_default(),
            csv_field(&run.dir.display().to_string()),
        ]);
        s += &(row.join(",") + "\n");
    }
    s
}
