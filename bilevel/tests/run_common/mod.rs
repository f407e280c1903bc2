//! Shared fixtures of the tests that train through the real trainer: bit-level metric
//! comparison, fresh run directories and quiet run options.
#![allow(dead_code)]

use std::path::PathBuf;

use carrot_agents::{IterationMetrics, ProgressMode, RunOptions, WALL_CLOCK_KEYS};

/// Every metric of every row as bits, wall-clock keys left out.
pub fn comparable(rows: &[IterationMetrics]) -> Vec<Vec<(String, u64)>> {
    rows.iter()
        .map(|m| {
            m.entries
                .iter()
                .filter(|(k, _)| !WALL_CLOCK_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.to_bits()))
                .collect()
        })
        .collect()
}

/// An empty run directory under the temp dir, unique to this process.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("carrot-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn quiet() -> RunOptions {
    RunOptions {
        progress: ProgressMode::Quiet,
        max_iterations: None,
    }
}
