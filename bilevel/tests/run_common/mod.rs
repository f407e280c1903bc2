//! Shared fixtures of the tests that train through the real trainer: bit-level metric
//! comparison, fresh run directories and quiet run options.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

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
        .prefix(&format!("carrot-{name}-"))
        .tempdir()
        .expect("creating a temp dir");
    let path = root.path().join("run");
    TestDir { _root: root, path }
}

pub fn quiet() -> RunOptions {
    RunOptions {
        progress: ProgressMode::Quiet,
        max_iterations: None,
    }
}
