//! `carrot report`: aggregates the runs under a directory by their sweep axes (seeds pooled)
//! into a Markdown table, CSV files and plots, following the rliable recommendations: mean and
//! interquartile mean with 95% stratified-bootstrap confidence intervals.

mod collect;
mod paired;
mod plots;
mod table;
mod target;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::metrics::RETURN_COLUMN;
use crate::stats::{self, ScoreInterval, Statistic};
use collect::{AxisInfo, RunRecord};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot report runs/sweeps/tiny\n  \
    carrot report runs/sweeps/study --by reward\n  \
    carrot report runs/sweeps/study --reference 88.5 --reference-label expert\n  \
    carrot report runs/sweeps/grid_world_sweep --metric outer/phi/distractor --out /tmp/phi\n\n\
    Writes report.md, scores.csv, runs.csv, learning_curves.png/.svg and, for each numeric\n\
    axis, final_vs_<axis>.png/.svg into DIR/report (or --out). With --metric, the curves,\n\
    best and AUC columns are of that column; final stays the evaluation return.")]
pub struct ReportArgs {
    /// A sweep directory, or any directory with run directories below it.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Group by these axes only (comma-separated; '' pools all runs); runs that differ on the
    /// other axes are pooled as strata of the bootstrap [default: every axis].
    #[arg(long, value_delimiter = ',', value_name = "AXIS,...")]
    pub by: Option<Vec<String>>,
    /// Output directory [default: DIR/report].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A reference score drawn as a dashed line in the final-score plots.
    #[arg(long, value_name = "SCORE")]
    pub reference: Option<f64>,
    /// Legend label of --reference.
    #[arg(long, default_value = "reference", value_name = "TEXT")]
    pub reference_label: String,
    /// The logged column that the curves, the best score and the AUC are computed from, e.g.
    /// `outer/phi/<aux>` for BARFI's learned weights.
    #[arg(long, default_value = RETURN_COLUMN, value_name = "KEY")]
    pub metric: String,
    /// Seed-matched differences B − A between two labels of one axis, per cell of the other
    /// axes (repeatable), e.g. `method:pebble_disagreement:aparl`; written to
    /// `paired_<axis>_<a>_<b>.csv`
    /// and a section of `report.md`.
    #[arg(long, value_name = "AXIS:A:B")]
    pub paired: Vec<paired::PairedSpec>,
    /// How much of the numeric axis `--along` (a query budget) each label of AXIS needs to
    /// reach `--fraction` of label REF's final score (e.g. `method:oracle`), with returns
    /// normalized between the untrained policy and REF; written to `target_<axis>_<ref>.csv`
    /// and a section of `report.md`.
    #[arg(long, value_name = "AXIS:REF", requires = "along")]
    pub fraction_of: Option<target::ReferenceSpec>,
    /// The numeric axis of `--fraction-of`.
    #[arg(long, value_name = "AXIS", requires = "fraction_of")]
    pub along: Option<String>,
    /// The fraction of `--fraction-of`.
    #[arg(long, default_value_t = 0.9, value_name = "F")]
    pub fraction: f64,
}

impl ReportArgs {
    /// The command that regenerates this report, for the report itself.
    fn command_line(&self) -> String {
        let mut line = format!("carrot report {}", self.dir.display());
        if let Some(by) = &self.by {
            line += &format!(" --by {}", by.join(","));
        }
        if self.metric != RETURN_COLUMN {
            line += &format!(" --metric {}", self.metric);
        }
        for p in &self.paired {
            line += &format!(" --paired {}:{}:{}", p.axis, p.a, p.b);
        }
        if let (Some(r), Some(along)) = (&self.fraction_of, &self.along) {
            line += &format!(" --fraction-of {}:{} --along {along}", r.axis, r.label);
            if self.fraction != 0.9 {
                line += &format!(" --fraction {}", self.fraction);
            }
        }
        if let Some(out) = &self.out {
            line += &format!(" --out {}", out.display());
        }
        if let Some(reference) = self.reference {
            line += &format!(
                " --reference {reference} --reference-label '{}'",
                self.reference_label
            );
        }
        line
    }
}

/// Aggregates of one group of runs.
pub struct GroupSummary<'a> {
    /// Labels on the grouping axes.
    pub labels: Vec<String>,
    /// Runs by stratum (labels on the other axes).
    pub strata: Vec<Vec<&'a RunRecord>>,
    pub complete: usize,
    pub incomplete: usize,
    pub final_mean: ScoreInterval,
    pub final_iqm: ScoreInterval,
    pub best_mean: ScoreInterval,
    pub best_iqm: ScoreInterval,
    pub auc_mean: ScoreInterval,
}

pub fn run(args: &ReportArgs) -> Result<()> {
    let (axes, runs) = collect::collect(&args.dir, &args.metric)?;
    let by: Vec<String> = match &args.by {
        Some(by) => {
            // `--by ''` pools every run into one group, stratified by all axes.
            let by: Vec<String> = by.iter().filter(|b| !b.is_empty()).cloned().collect();
            for name in &by {
                if !axes.iter().any(|a| &a.name == name) {
                    let known: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
                    bail!("--by: no axis `{name}` (axes: {})", known.join(", "));
                }
            }
            by
        }
        None => axes.iter().map(|a| a.name.clone()).collect(),
    };
    let groups = summarize(&axes, &by, &runs);
    let out = args.out.clone().unwrap_or_else(|| args.dir.join("report"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;

    let reference = args.reference.map(|r| (r, args.reference_label.as_str()));
    let command = args.command_line();
    let tables = table::Tables {
        root: &args.dir,
        command: &command,
        metric: &args.metric,
    };
    let mut written = table::write_all(&out, &tables, &axes, &by, &groups, &runs)?;
    if !args.paired.is_empty() || args.fraction_of.is_some() {
        let report_md = out.join("report.md");
        let mut text = std::fs::read_to_string(&report_md)?;
        for spec in &args.paired {
            let rows = paired::paired_rows(&axes, &runs, spec)?;
            let (section, path) = paired::write(&out, &axes, spec, &rows)?;
            text += &section;
            written.push(path);
        }
        if let (Some(spec), Some(along)) = (&args.fraction_of, &args.along) {
            let table = target::target_rows(&axes, &runs, spec, along, args.fraction)?;
            let (section, path) = target::write(&out, spec, along, args.fraction, &table)?;
            text += &section;
            written.push(path);
        }
        crate::run_dir::write_atomic(&report_md, text.as_bytes())?;
    }
    written.extend(plots::learning_curves(&out, &by, &groups, &args.metric)?);
    written.extend(plots::final_scores(&out, &axes, &by, &groups, reference)?);

    print!("{}", std::fs::read_to_string(out.join("report.md"))?);
    for path in written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn summarize<'a>(axes: &[AxisInfo], by: &[String], runs: &'a [RunRecord]) -> Vec<GroupSummary<'a>> {
    collect::group(axes, by, runs)
        .into_iter()
        .map(|(labels, strata)| {
            let strata: Vec<Vec<&RunRecord>> = strata.into_values().collect();
            let scores = |pick: fn(&RunRecord) -> Option<f64>| -> Vec<Vec<f64>> {
                strata
                    .iter()
                    .map(|s| {
                        s.iter()
                            .filter(|r| r.final_score.is_some())
                            .filter_map(|r| pick(r))
                            .collect()
                    })
                    .collect()
            };
            let finals = scores(|r| r.final_score);
            let bests = scores(|r| r.best_score);
            let aucs = scores(|r| r.auc);
            let seed = stats::BOOTSTRAP_SEED;
            let total: usize = strata.iter().map(Vec::len).sum();
            let complete = finals.iter().map(Vec::len).sum();
            GroupSummary {
                labels,
                complete,
                incomplete: total - complete,
                final_mean: stats::estimate(&finals, Statistic::Mean, seed),
                final_iqm: stats::estimate(&finals, Statistic::Iqm, seed),
                best_mean: stats::estimate(&bests, Statistic::Mean, seed),
                best_iqm: stats::estimate(&bests, Statistic::Iqm, seed),
                auc_mean: stats::estimate(&aucs, Statistic::Mean, seed),
                strata,
            }
        })
        .collect()
}

/// A group's name for legends and tables: `reward=carl, mb=256`, or `all runs`.
pub fn group_name(by: &[String], labels: &[String]) -> String {
    if by.is_empty() {
        return "all runs".into();
    }
    by.iter()
        .zip(labels)
        .map(|(axis, label)| format!("{axis}={label}"))
        .collect::<Vec<_>>()
        .join(", ")
}
