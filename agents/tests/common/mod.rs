//! Helpers shared by the integration tests that train through the real trainer: fresh run
//! directories, quiet run options and bit-level metric comparison.
#![allow(dead_code)]

use std::path::PathBuf;

use carrot_agents::{IterationMetrics, ProgressMode, RunOptions, WALL_CLOCK_KEYS};

/// An empty run directory under the temp dir, unique to this test binary's process.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("carrot-agents-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Run options without a progress bar, stopping after `max_iterations` when given.
pub fn options(max_iterations: Option<usize>) -> RunOptions {
    RunOptions {
        progress: ProgressMode::Quiet,
        max_iterations,
    }
}

/// Every metric of every row whose key `keep` accepts, as exact bits; wall-clock keys are
/// always left out.
pub fn metric_bits_where(
    rows: &[IterationMetrics],
    keep: impl Fn(&str) -> bool,
) -> Vec<Vec<(String, u64)>> {
    rows.iter()
        .map(|m| {
            m.entries
                .iter()
                .filter(|(k, _)| !WALL_CLOCK_KEYS.contains(&k.as_str()) && keep(k))
                .map(|(k, v)| (k.clone(), v.to_bits()))
                .collect()
        })
        .collect()
}

/// Every metric of every row as exact bits, wall-clock keys left out.
pub fn metric_bits(rows: &[IterationMetrics]) -> Vec<Vec<(String, u64)>> {
    metric_bits_where(rows, |_| true)
}
