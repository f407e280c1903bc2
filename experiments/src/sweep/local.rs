//! The local worker pool: each pending run is a child `carrot sweep run --index I` process,
//! at most `workers` at a time. A child's output goes to `<run dir>/stdout.log`; a run that
//! fails does not stop the others, and the sweep reports all failures at the end.

use std::fs::OpenOptions;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

use super::{carrot_exe, RunCell, Sweep};
use crate::run_dir;

pub fn run_pool(sweep: &Sweep, workers: Option<usize>) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = workers.unwrap_or(cores);
    if workers == 0 {
        bail!("--workers must be at least 1");
    }
    let cells = sweep.cells()?;
    let pending: Vec<&RunCell> = cells
        .iter()
        .filter(|c| !run_dir::is_complete(&sweep.run_dir(c)))
        .collect();
    let threads_per_run = (cores / workers).max(1);
    eprintln!(
        "sweep {}: {} runs, {} complete, {} to run on {} workers ({} threads each) into {}",
        sweep.file.display(),
        cells.len(),
        cells.len() - pending.len(),
        pending.len(),
        workers.min(pending.len().max(1)),
        threads_per_run,
        sweep.out_dir.display()
    );
    let exe = carrot_exe()?;
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(pending.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(cell) = pending.get(i) else { break };
                let outcome = run_child(&exe, sweep, cell, threads_per_run);
                let line = match &outcome {
                    Ok(()) => format!("[{}/{}] done    {}", i + 1, pending.len(), cell.name),
                    Err(e) => format!("[{}/{}] FAILED  {}: {e:#}", i + 1, pending.len(), cell.name),
                };
                eprintln!("{line}");
                if outcome.is_err() {
                    failures.lock().unwrap().push(cell.name.clone());
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    if !failures.is_empty() {
        bail!(
            "{} of {} runs failed ({}); see carrot.log and stdout.log in their run directories, \
             then rerun the sweep to retry them",
            failures.len(),
            pending.len(),
            failures.join("; ")
        );
    }
    eprintln!(
        "sweep complete: {} runs in {}",
        cells.len(),
        sweep.out_dir.display()
    );
    Ok(())
}

fn run_child(exe: &std::path::Path, sweep: &Sweep, cell: &RunCell, threads: usize) -> Result<()> {
    let dir = sweep.run_dir(cell);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let log_path = dir.join("stdout.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let mut command = Command::new(exe);
    command
        .args(["sweep", "run"])
        .arg(&sweep.file)
        .arg("--out")
        .arg(&sweep.out_dir)
        .arg("--index")
        .arg(cell.index.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        command.env("RAYON_NUM_THREADS", threads.to_string());
    }
    let status = command
        .status()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    if !status.success() {
        let last = std::fs::read_to_string(&log_path)
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| l.starts_with("error:"))
                    .map(str::to_string)
            })
            .unwrap_or_else(|| format!("exit status {status}"));
        bail!("{last}");
    }
    Ok(())
}
