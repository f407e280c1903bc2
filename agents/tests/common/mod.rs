//! Helpers shared by the integration tests that train through the real trainer: fresh run
//! directories, quiet run options and bit-level metric comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use carrot_agents::{IterationMetrics, ProgressMode, RunOptions, WALL_CLOCK_KEYS};

/// A run directory that does not exist yet, inside a fresh temp dir that is removed (with
/// everything the test wrote) when this value drops.
pub struct TestDir {
    _root: tempfile::TempDir,
    path: PathBuf,
}

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// A fresh [`TestDir`] named after the test.
pub fn fresh_dir(name: &str) -> TestDir {
    let root = tempfile::Builder::new()
        .prefix(&format!("carrot-agents-{name}-"))
        .tempdir()
        .expect("creating a temp dir");
    let path = root.path().join("run");
    TestDir { _root: root, path }
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
