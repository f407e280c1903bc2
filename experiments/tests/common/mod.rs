//! Helpers shared by the integration tests: they drive the real `carrot` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `carrot` binary cargo built for these tests.
pub fn carrot() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carrot"));
    // One thread per run keeps concurrent test binaries from oversubscribing the cores.
    command.env("RAYON_NUM_THREADS", "1");
    command
}

/// A shipped config file, by its path under `experiments/configs/`.
pub fn config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name)
}

/// Runs a command to completion, with its output.
pub fn run(command: &mut Command) -> Output {
    command.output().expect("cannot start the carrot binary")
}

/// Runs a command that must succeed; returns its stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed with {}:\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The `iteration` column of a run's metrics.csv.
pub fn iterations(run_dir: &Path) -> Vec<u64> {
    column(run_dir, "iteration")
        .iter()
        .map(|s| s.parse().expect("integer iteration"))
        .collect()
}

/// The raw cells of one metrics.csv column.
pub fn column(run_dir: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(run_dir.join("metrics.csv")).expect("metrics.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let index = header.iter().position(|c| *c == name).expect("column");
    lines
        .map(|l| l.split(',').nth(index).unwrap_or_default().to_string())
        .collect()
}
