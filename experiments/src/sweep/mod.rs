//! `carrot sweep`: grids of runs from a sweep file, on a local worker pool (`run`) or as a Slurm
//! job array (`slurm`). Every run lands in `<out_dir>/runs/<run name>/`; a run whose
//! `eval.json` exists is complete and skipped, so a killed sweep is resumed by rerunning it.

mod local;
mod slurm;
mod spec;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use carrot_agents::TrainConfig;
use serde::Serialize;

use crate::run_dir::{self, RunMeta};
pub use spec::{RunCell, Sweep};

/// The sweep's manifest, written to `<out_dir>/sweep.json` for reports.
pub const MANIFEST_FILE: &str = "sweep.json";

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot sweep run experiments/configs/sweeps/tiny.toml --workers 2\n  \
    carrot sweep list experiments/configs/sweeps/tiny.toml\n  \
    carrot sweep slurm experiments/configs/sweeps/tiny.toml --submit\n  \
    carrot report runs/sweeps/tiny")]
pub struct SweepArgs {
    #[command(subcommand)]
    command: SweepCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SweepCommand {
    /// Run a sweep's runs (all pending ones on a local worker pool, or one with --index).
    #[command(after_help = "Examples:\n  \
        carrot sweep run experiments/configs/sweeps/tiny.toml\n  \
        carrot sweep run experiments/configs/sweeps/tiny.toml --workers 1\n  \
        carrot sweep run experiments/configs/sweeps/tiny.toml --index 3\n\n\
        Runs are numbered 0..N-1 (see `carrot sweep list`). Completed runs are skipped, so\n\
        rerunning a killed sweep finishes only what is missing.")]
    Run(RunArgs),
    /// Write an sbatch job-array script that runs each task with `sweep run --index`.
    #[command(after_help = "Examples:\n  \
        carrot sweep slurm experiments/configs/sweeps/tiny.toml\n  \
        carrot sweep slurm study.toml --partition cpu --time 02:00:00 --cpus-per-task 4 --submit\n\n\
        The script calls this carrot binary by its absolute path and writes every run into\n\
        the sweep directory, so it needs a file system shared with the compute nodes.")]
    Slurm(slurm::SlurmArgs),
    /// List a sweep's runs with their index and status.
    #[command(after_help = "Examples:\n  carrot sweep list experiments/configs/sweeps/tiny.toml")]
    List(SweepFileArgs),
}

/// The sweep file and where its results go.
#[derive(Debug, clap::Args)]
pub struct SweepFileArgs {
    /// Sweep file (TOML: base config, axes, seeds).
    #[arg(value_name = "SWEEP.toml")]
    pub sweep: PathBuf,
    /// Sweep directory (default: the file's `out_dir`, else runs/sweeps/ and the file's name).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    file: SweepFileArgs,
    /// Run only the run with this index (what each Slurm array task does).
    #[arg(long, value_name = "I")]
    index: Option<usize>,
    /// Runs trained at once [default: the number of cores]. Each run then uses
    /// cores / workers threads unless RAYON_NUM_THREADS is set.
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

pub fn run(args: &SweepArgs) -> Result<()> {
    match &args.command {
        SweepCommand::Run(a) => {
            let sweep = Sweep::load(&a.file.sweep, a.file.out.as_deref())?;
            match a.index {
                Some(index) => {
                    // One array task: its own cell is all it needs to check.
                    let cell = sweep.cell(index)?;
                    let config = resolve_cell(&sweep, &cell)?;
                    write_manifest(&sweep)?;
                    run_one(&sweep, &cell, &config)
                }
                None => {
                    resolve_all(&sweep)?;
                    write_manifest(&sweep)?;
                    local::run_pool(&sweep, a.workers)
                }
            }
        }
        SweepCommand::Slurm(a) => slurm::write_script(a),
        SweepCommand::List(a) => {
            let sweep = Sweep::load(&a.sweep, a.out.as_deref())?;
            for cell in sweep.cells()? {
                let status = status(&sweep.run_dir(&cell));
                println!("{:>4}  {status:<8}  {}", cell.index, cell.name);
            }
            Ok(())
        }
    }
}

fn status(dir: &Path) -> &'static str {
    if run_dir::is_complete(dir) {
        "done"
    } else if dir.join(run_dir::CONFIG_FILE).is_file() {
        "started"
    } else {
        "pending"
    }
}

/// Resolves and validates every cell's config before anything runs, so a typo in one axis
/// value fails the sweep at once instead of hours in.
pub fn resolve_all(sweep: &Sweep) -> Result<Vec<TrainConfig>> {
    sweep
        .cells()?
        .iter()
        .map(|cell| resolve_cell(sweep, cell))
        .collect()
}

/// The validated config of one cell; the error names the cell.
pub fn resolve_cell(sweep: &Sweep, cell: &RunCell) -> Result<TrainConfig> {
    let resolve = || -> Result<TrainConfig> {
        let config: TrainConfig = sweep.layers(&TrainConfig::default(), cell)?.resolve()?;
        crate::train::validate(&config)?;
        Ok(config)
    };
    resolve().with_context(|| {
        format!(
            "sweep {} run {} ({})",
            sweep.file.display(),
            cell.index,
            cell.name
        )
    })
}

/// Trains one cell in this process.
pub fn run_one(sweep: &Sweep, cell: &RunCell, config: &TrainConfig) -> Result<()> {
    let meta = RunMeta {
        name: cell.name.clone(),
        labels: cell.labels.clone(),
        numeric: cell.numeric.clone(),
        seed: cell.seed,
    };
    crate::train::train_in_dir(config, &sweep.run_dir(cell), &meta, None)
        .with_context(|| format!("run {} ({})", cell.index, cell.name))
}

#[derive(Serialize)]
struct Manifest<'a> {
    sweep_file: &'a Path,
    base_config: &'a Path,
    axes: Vec<ManifestAxis<'a>>,
    seeds: &'a [u64],
    runs: Vec<RunCell>,
}

#[derive(Serialize)]
struct ManifestAxis<'a> {
    name: &'a str,
    labels: &'a [String],
    numeric: bool,
}

/// `<out_dir>/sweep.json` (axes and runs) and a copy of the sweep file, both atomic and
/// identical whichever process writes them.
fn write_manifest(sweep: &Sweep) -> Result<()> {
    std::fs::create_dir_all(&sweep.out_dir)
        .with_context(|| format!("cannot create {}", sweep.out_dir.display()))?;
    let manifest = Manifest {
        sweep_file: &sweep.file,
        base_config: &sweep.base,
        axes: sweep
            .axes
            .iter()
            .map(|a| ManifestAxis {
                name: &a.name,
                labels: &a.labels,
                numeric: a.numeric.is_some(),
            })
            .collect(),
        seeds: &sweep.seeds,
        runs: sweep.cells()?,
    };
    run_dir::write_atomic(
        &sweep.out_dir.join(MANIFEST_FILE),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    let text = std::fs::read(&sweep.file)?;
    run_dir::write_atomic(&sweep.out_dir.join("sweep.toml"), &text)
}

/// The absolute path of this executable, for child processes and job scripts.
pub fn carrot_exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot locate the carrot executable")
}
