//! `carrot study control`: control C of the CaRL study against its grid, at equal samples.
//!
//! The grid holds the number of updates U fixed and grows the mini-batch m through the number
//! of envs, so its cell m sees U · m / m₀ mini-batches' worth of samples (m₀: the smallest).
//! Control C keeps m₀ and trains longer, keeping a checkpoint every U updates, so its kept
//! checkpoint at U · m / m₀ updates has seen the same samples as grid cell m with mini-batch
//! m₀. Per reward and m: grid − control (Welch's t, 95% interval), the "bigger mini-batch at
//! equal data" effect; and across rewards the difference of those differences. CaRL's claim
//! predicts carl's difference ≥ 0 and roach's < 0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::plotting::{draw_chart, Chart, Series, Style};
use crate::run_dir::write_atomic;
use crate::stats::student_t;
use crate::stats::welch::MeanContrast;
use crate::study::runs_csv::RunsCsv;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot study control --grid experiments/results/carl_study_v2/runs.csv \\\n    \
    --control experiments/results/carl_study_v2/control/kept/runs.csv \\\n    \
    --grid-updates 2000 --control-minibatch 256 --out experiments/results/carl_study_v2/control\n\n\
    --grid is the runs.csv of `carrot study eval` on the grid (columns reward, minibatch, seed\n\
    and the metrics); --control is the runs.csv of `carrot study eval --kept` on control C\n\
    (columns reward, updates, seed and the metrics).")]
pub struct StudyControlArgs {
    /// The grid's per-run held-out results (`runs.csv` of `carrot study eval`).
    #[arg(long, value_name = "CSV")]
    pub grid: PathBuf,
    /// Control C's per-run, per-kept-checkpoint results (`kept/runs.csv`).
    #[arg(long, value_name = "CSV")]
    pub control: PathBuf,
    /// The grid's fixed number of PPO updates per run.
    #[arg(long, value_name = "U")]
    pub grid_updates: usize,
    /// Control C's mini-batch size (the grid's smallest).
    #[arg(long, value_name = "M")]
    pub control_minibatch: usize,
    /// The metric compared (a column of both files).
    #[arg(long, default_value = "driving_score", value_name = "COLUMN")]
    pub metric: String,
    /// Output directory for control.md, control.csv and ds_vs_samples.png/.svg.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Per (reward, x): the metric of every seed, x being the mini-batch (grid) or updates (control).
type Groups = BTreeMap<(String, usize), Vec<f64>>;

/// One samples-matched comparison.
struct Row {
    reward: String,
    minibatch: usize,
    control_updates: usize,
    grid: Vec<f64>,
    control: Vec<f64>,
    difference: Option<MeanContrast>,
}

pub fn run(args: &StudyControlArgs) -> Result<()> {
    if args.grid_updates == 0 || args.control_minibatch == 0 {
        bail!("--grid-updates and --control-minibatch must be at least 1");
    }
    let grid = read_groups(&args.grid, "minibatch", &args.metric)?;
    let control = read_groups(&args.control, "updates", &args.metric)?;
    let rows = matched_rows(&grid, &control, args.grid_updates, args.control_minibatch)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let md = markdown(args, &rows);
    write_atomic(&args.out.join("control.md"), md.as_bytes())?;
    write_atomic(&args.out.join("control.csv"), csv(&rows).as_bytes())?;
    plot(args, &grid, &control)?;
    print!("{md}");
    Ok(())
}

/// Reads `reward,<x_column>,seed,...` rows into groups of the metric's values.
fn read_groups(path: &Path, x_column: &str, metric: &str) -> Result<Groups> {
    let csv = RunsCsv::read(path)?;
    let (reward, x, value) = (
        csv.column("reward")?,
        csv.column(x_column)?,
        csv.column(metric)?,
    );
    let mut groups = Groups::new();
    for row in csv.rows() {
        let x: usize = row.parse(x, x_column)?;
        let v: f64 = row.parse(value, metric)?;
        groups
            .entry((row.field(reward)?.to_string(), x))
            .or_default()
            .push(v);
    }
    Ok(groups)
}

fn matched_rows(grid: &Groups, control: &Groups, updates: usize, m0: usize) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for ((reward, minibatch), values) in grid {
        if minibatch % m0 != 0 {
            bail!("grid mini-batch {minibatch} is not a multiple of --control-minibatch {m0}");
        }
        let control_updates = updates * minibatch / m0;
        let Some(matched) = control.get(&(reward.clone(), control_updates)) else {
            continue;
        };
        rows.push(Row {
            reward: reward.clone(),
            minibatch: *minibatch,
            control_updates,
            grid: values.clone(),
            control: matched.clone(),
            difference: MeanContrast::difference(values, matched),
        });
    }
    if rows.is_empty() {
        bail!("no grid cell has a samples-matched control checkpoint (updates = {updates} x minibatch / {m0})");
    }
    Ok(rows)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn mean_cell(values: &[f64]) -> String {
    match student_t::mean_interval(values) {
        Some(e) => format!("{:.1} ± {:.1} ({})", e.mean, e.half_width, values.len()),
        None => format!("{:.1} ({})", mean(values), values.len()),
    }
}

fn contrast_cells(c: &Option<MeanContrast>) -> [String; 3] {
    match c {
        Some(c) => [
            format!("{:+.1} [{:.1}, {:.1}]", c.estimate, c.low(), c.high()),
            format!("{:.1}", c.df()),
            match (c.excludes_zero(), c.estimate < 0.0) {
                (true, true) => "yes (< 0)".into(),
                (true, false) => "yes (> 0)".into(),
                (false, _) => "no".into(),
            },
        ],
        None => ["n/a".into(), "n/a".into(), "n/a".into()],
    }
}

fn markdown(args: &StudyControlArgs, rows: &[Row]) -> String {
    let m0 = args.control_minibatch;
    let mut md = format!(
        "# Bigger mini-batch or more data: the grid against control C\n\n\
         `{metric}` per run. Grid cell m: mini-batch m, {u} updates. Control: mini-batch {m0} \
         at its kept checkpoint of {u} x m / {m0} updates, so both have seen the same env \
         samples. Only the row at the control runs' last checkpoint compares finished runs: \
         an earlier checkpoint is mid-run, so under a learning-rate schedule \
         (`ppo.anneal_lr`) it was taken at a higher learning rate than a run that ended \
         there. Cells: mean ± half-width of the 95% t-interval over seeds (seeds in \
         brackets). Difference: grid − control, Welch's t (95% interval, Welch-Satterthwaite \
         df). CaRL's claim predicts carl's difference ≥ 0 and roach's < 0.\n\n\
         Regenerate: `carrot study control --grid {grid} --control {control} --grid-updates \
         {u} --control-minibatch {m0} --metric {metric} --out {out}`\n\n\
         | reward | mini-batch | control updates | grid | control | grid − control | df | excludes 0 |\n\
         |---|---|---|---|---|---|---|---|\n",
        metric = args.metric,
        u = args.grid_updates,
        grid = args.grid.display(),
        control = args.control.display(),
        out = args.out.display(),
    );
    for r in rows {
        let [diff, df, excludes] = contrast_cells(&r.difference);
        md += &format!(
            "| {} | {} | {} | {} | {} | {diff} | {df} | {excludes} |\n",
            r.reward,
            r.minibatch,
            r.control_updates,
            mean_cell(&r.grid),
            mean_cell(&r.control),
        );
    }
    let rewards: Vec<&str> = {
        let mut names: Vec<&str> = rows.iter().map(|r| r.reward.as_str()).collect();
        names.dedup();
        names
    };
    if rewards.len() >= 2 {
        md += &format!(
            "\n## Interaction: ({a}'s grid − control) − ({b}'s grid − control)\n\n\
             Positive: a bigger mini-batch at equal data helps {a} more than {b} (CaRL's claim \
             predicts > 0). Welch-Satterthwaite df over all four groups.\n\n\
             | mini-batch | difference [95% t-interval] | df | excludes 0 |\n|---|---|---|---|\n",
            a = rewards[0],
            b = rewards[1],
        );
        for a in rows.iter().filter(|r| r.reward == rewards[0]) {
            let b = rows
                .iter()
                .find(|r| r.reward == rewards[1] && r.minibatch == a.minibatch);
            let interaction = match (b, &a.difference) {
                (Some(b), Some(da)) => b.difference.as_ref().map(|db| da.minus(db)),
                _ => None,
            };
            let [diff, df, excludes] = contrast_cells(&interaction);
            md += &format!("| {} | {diff} | {df} | {excludes} |\n", a.minibatch);
        }
    }
    md
}

fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "reward,minibatch,control_updates,grid_mean,grid_seeds,control_mean,control_seeds,\
         difference,se,df,low,high\n",
    );
    for r in rows {
        let d = r.difference.as_ref();
        let num = |f: &dyn Fn(&MeanContrast) -> f64| d.map(|d| format!("{:.4}", f(d)));
        let na = || "".to_string();
        out += &format!(
            "{},{},{},{:.4},{},{:.4},{},{},{},{},{},{}\n",
            r.reward,
            r.minibatch,
            r.control_updates,
            mean(&r.grid),
            r.grid.len(),
            mean(&r.control),
            r.control.len(),
            num(&|d| d.estimate).unwrap_or_else(na),
            num(&|d| d.se()).unwrap_or_else(na),
            num(&|d| d.df()).unwrap_or_else(na),
            num(&|d| d.low()).unwrap_or_else(na),
            num(&|d| d.high()).unwrap_or_else(na),
        );
    }
    out
}

/// `ds_vs_samples.png/.svg`: per reward, the grid (mini-batch grows with the samples) and the
/// control (mini-batch fixed) against log2 of the samples over the smallest cell's.
fn plot(args: &StudyControlArgs, grid: &Groups, control: &Groups) -> Result<()> {
    let (u, m0) = (args.grid_updates as f64, args.control_minibatch as f64);
    let mut series: Vec<Series> = Vec::new();
    let mut add = |label: String, points: Vec<(f64, &Vec<f64>)>| {
        let of = series.len();
        let mut line = Series {
            label,
            points: Vec::new(),
            band: Vec::new(),
            style: Style::Markers,
        };
        let mut seeds = Series {
            label: String::new(),
            points: Vec::new(),
            band: Vec::new(),
            style: Style::Points { of },
        };
        for (x, values) in points {
            line.points.push((x, mean(values)));
            if let Some(e) = student_t::mean_interval(values) {
                line.band.push((x, e.low(), e.high()));
            }
            seeds.points.extend(values.iter().map(|v| (x, *v)));
        }
        series.push(line);
        series.push(seeds);
    };
    let rewards: Vec<String> = {
        let mut r: Vec<String> = grid.keys().map(|(r, _)| r.clone()).collect();
        r.dedup();
        r
    };
    for reward in &rewards {
        // Samples relative to the smallest cell: m / m0 for the grid, updates / U for control.
        let grid_points = points_of(grid, reward, m0);
        let control_points = points_of(control, reward, u);
        add(format!("{reward}, grid (mini-batch grows)"), grid_points);
        add(
            format!("{reward}, control (mini-batch {m0})"),
            control_points,
        );
    }
    let format = |x: f64| ratio_label(2f64.powf(x));
    let chart = Chart {
        title: "Held-out DS at equal samples: bigger mini-batch (grid) or more updates (control)",
        x_desc: "env samples, relative to the smallest grid cell (log scale)",
        y_desc: &args.metric,
        x_format: Some(&format),
        reference: None,
    };
    draw_chart(&args.out.join("ds_vs_samples"), &chart, &series)?;
    Ok(())
}

/// A tick label for a sample ratio. Ticks fall between powers of 2 too, and 1.4x must not read
/// as "1x".
fn ratio_label(ratio: f64) -> String {
    if (ratio - ratio.round()).abs() < 0.05 {
        format!("{}x", ratio.round())
    } else {
        format!("{ratio:.1}x")
    }
}

/// Per x of `reward`'s groups: log2(x / scale) and the values.
fn points_of<'a>(groups: &'a Groups, reward: &str, scale: f64) -> Vec<(f64, &'a Vec<f64>)> {
    groups
        .iter()
        .filter(|((r, _), _)| r == reward)
        .map(|((_, x), values)| ((*x as f64 / scale).log2(), values))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::ratio_label;

    #[test]
    fn ratio_labels_keep_a_decimal_between_integers() {
        assert_eq!(ratio_label(1.0), "1x");
        assert_eq!(ratio_label(8.0000001), "8x");
        assert_eq!(ratio_label(2f64.sqrt()), "1.4x");
        assert_eq!(ratio_label(2f64.powf(2.5)), "5.7x");
    }
}
