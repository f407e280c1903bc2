//! `carrot sweep slurm`: an sbatch script with one array task per run. Task `i` runs
//! `carrot sweep run SWEEP --out DIR --index i`, which trains cell `i` into the sweep directory
//! (or returns at once when that run is already complete).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{carrot_exe, resolve_all, write_manifest, Sweep, SweepFileArgs};
use crate::run_dir;

#[derive(Debug, clap::Args)]
pub struct SlurmArgs {
    #[command(flatten)]
    file: SweepFileArgs,
    /// Where to write the script [default: <sweep dir>/sweep.sbatch].
    #[arg(long, value_name = "PATH")]
    script: Option<PathBuf>,
    /// Slurm partition (`#SBATCH --partition`).
    #[arg(long)]
    partition: Option<String>,
    /// Time limit per task, e.g. 02:00:00 (`#SBATCH --time`).
    #[arg(long)]
    time: Option<String>,
    /// CPUs per task; each run uses that many threads.
    #[arg(long, default_value_t = 1, value_name = "N")]
    cpus_per_task: usize,
    /// Memory per task, e.g. 4G (`#SBATCH --mem`).
    #[arg(long)]
    mem: Option<String>,
    /// Run at most this many tasks at once (`--array=0-(N-1)%K`).
    #[arg(long, value_name = "K")]
    max_parallel: Option<usize>,
    /// Submit the script with sbatch after writing it.
    #[arg(long)]
    submit: bool,
}

pub fn write_script(args: &SlurmArgs) -> Result<()> {
    let sweep = Sweep::load(&args.file.sweep, args.file.out.as_deref())?;
    resolve_all(&sweep)?;
    write_manifest(&sweep)?;
    if args.cpus_per_task == 0 {
        bail!("--cpus-per-task must be at least 1");
    }
    let logs = sweep.out_dir.join("slurm");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let script_path = match &args.script {
        Some(p) => std::path::absolute(p)?,
        None => sweep.out_dir.join("sweep.sbatch"),
    };
    let text = script(
        &sweep,
        args,
        &carrot_exe()?,
        &std::env::current_dir()?,
        &logs,
    );
    run_dir::write_atomic(&script_path, text.as_bytes())?;
    println!(
        "wrote {} ({} array tasks)",
        script_path.display(),
        sweep.len()
    );
    if args.submit {
        let output = Command::new("sbatch")
            .arg(&script_path)
            .output()
            .context("cannot run sbatch (is Slurm installed and on PATH?)")?;
        if !output.status.success() {
            bail!(
                "sbatch failed: {}",
                crate::layered::one_line(&String::from_utf8_lossy(&output.stderr))
            );
        }
        print!("{}", String::from_utf8_lossy(&output.stdout));
    } else {
        println!("submit it with: sbatch {}", script_path.display());
    }
    Ok(())
}

fn script(sweep: &Sweep, args: &SlurmArgs, exe: &Path, workdir: &Path, logs: &Path) -> String {
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let stem = sweep
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    let mut s = String::from("#!/bin/bash\n");
    let _ = writeln!(
        s,
        "# carrot sweep {}: {} runs",
        sweep.file.display(),
        sweep.len()
    );
    let _ = writeln!(s, "#SBATCH --job-name=carrot-{}", run_dir::path_safe(&stem));
    let throttle = args
        .max_parallel
        .map(|k| format!("%{k}"))
        .unwrap_or_default();
    let _ = writeln!(s, "#SBATCH --array=0-{}{throttle}", sweep.len() - 1);
    let _ = writeln!(s, "#SBATCH --ntasks=1");
    let _ = writeln!(s, "#SBATCH --cpus-per-task={}", args.cpus_per_task);
    let _ = writeln!(s, "#SBATCH --chdir={}", workdir.display());
    let _ = writeln!(s, "#SBATCH --output={}/%A_%a.out", logs.display());
    for (flag, value) in [
        ("partition", &args.partition),
        ("time", &args.time),
        ("mem", &args.mem),
    ] {
        if let Some(v) = value {
            let _ = writeln!(s, "#SBATCH --{flag}={v}");
        }
    }
    s.push_str("set -euo pipefail\n");
    s.push_str("export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n");
    let _ = writeln!(
        s,
        "exec {} sweep run {} --out {} --index \"$SLURM_ARRAY_TASK_ID\"",
        q(exe),
        q(&sweep.file),
        q(&sweep.out_dir)
    );
    s
}

/// Single-quotes a word for bash.
fn shell_quote(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=,:".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_protects_spaces_and_quotes() {
        assert_eq!(shell_quote("/a/b-c.toml"), "/a/b-c.toml");
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
