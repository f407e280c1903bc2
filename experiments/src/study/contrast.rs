//! `carrot study contrast`: differences of a per-run metric between named cells of one or more
//! `runs.csv` files of `carrot study eval`, each with Welch's t 95% interval (the statistics of
//! [`crate::stats::welch`], as every study table uses).
//!
//! A cell is a row's label columns, the ones before `seed`, joined with `,` (`fo`, or
//! `carl,256` for a file with columns `reward,minibatch,seed,...`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::run_dir::write_atomic;
use crate::stats::welch::MeanContrast;
use crate::study::runs_csv::RunsCsv;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot study contrast experiments/results/bilevel/barfi/town/held_out/runs.csv \\\n    \
    --contrast 'neumann - carl' --contrast 'fo - naive'\n  \
    carrot study contrast a/runs.csv b/runs.csv --metric route_completion --contrast 'x - y' \\\n    \
    --out contrasts.md\n\n\
    Each CSV is a runs.csv of `carrot study eval` (label columns, `seed`, then the metrics);\n\
    a cell is its label columns joined with ',' (e.g. 'carl,256').")]
pub struct StudyContrastArgs {
    /// runs.csv files of `carrot study eval`; their cells are pooled by name.
    #[arg(value_name = "CSV", required = true)]
    pub runs: Vec<PathBuf>,
    /// A difference of cells, written 'A - B'.
    #[arg(long = "contrast", value_name = "'A - B'", required = true)]
    pub contrasts: Vec<String>,
    /// The metric compared (a column of every file).
    #[arg(long, default_value = "driving_score", value_name = "COLUMN")]
    pub metric: String,
    /// Also write the table here (markdown).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &StudyContrastArgs) -> Result<()> {
    let mut cells: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for path in &args.runs {
        for (cell, value) in read_cells(path, &args.metric)? {
            cells.entry(cell).or_default().push(value);
        }
    }
    let mut md = format!(
        "| contrast | {m}: difference of means | 95% Welch t-interval | df | excludes 0 |\n\
         |---|---|---|---|---|\n",
        m = args.metric
    );
    for text in &args.contrasts {
        let (a, b) = text
            .split_once(" - ")
            .with_context(|| format!("--contrast '{text}': write it as 'A - B'"))?;
        let group = |name: &str| {
            cells.get(name.trim()).with_context(|| {
                let known: Vec<&str> = cells.keys().map(String::as_str).collect();
                format!(
                    "--contrast '{text}': no cell `{}` (cells: {})",
                    name.trim(),
                    known.join(", ")
                )
            })
        };
        let (va, vb) = (group(a)?, group(b)?);
        let c = MeanContrast::difference(va, vb).with_context(|| {
            format!(
                "--contrast '{text}': each cell needs at least 2 runs ({} and {})",
                va.len(),
                vb.len()
            )
        })?;
        md += &format!(
            "| {} − {} | {:+.1} | [{:+.1}, {:+.1}] | {:.1} | {} |\n",
            a.trim(),
            b.trim(),
            c.estimate,
            c.low(),
            c.high(),
            c.df(),
            if c.excludes_zero() { "yes" } else { "no" }
        );
    }
    print!("{md}");
    if let Some(out) = &args.out {
        write_atomic(out, md.as_bytes())?;
    }
    Ok(())
}

/// `(cell, metric)` per row of a runs.csv.
fn read_cells(path: &Path, metric: &str) -> Result<Vec<(String, f64)>> {
    let csv = RunsCsv::read(path)?;
    let (seed, value) = (csv.column("seed")?, csv.column(metric)?);
    csv.rows()
        .map(|row| Ok((row.joined_before(seed)?, row.parse(value, metric)?)))
        .collect()
}
