//! The run directory: one module owns its layout (every file name), the atomic write, the
//! config-difference check. Training ([`crate::run`], [`crate::checkpoint`]) and the `carrot`
//! command line both go through it; the CLI adds only its extras (revision, lock, log).
//!
//! ```text
//! run_dir/
//!   config.toml       resolved config (every key, defaults included)      CLI
//!   revision.txt      git revision of the code that started the run       CLI
//!   run.json          name, sweep axis labels and seed ([`RunMeta`])       CLI
//!   carrot.log        what the command printed, across resumes            CLI
//!   metrics.jsonl     one JSON object per iteration                       training
//!   metrics.csv       the same rows as CSV                                training
//!   checkpoint/       weights-<it>.safetensors + collection-<it>.json (envs) + state.json  training
//!   checkpoints/iter_<it>/  kept copies (run.keep_checkpoints_every)      training
//!   checkpoints/best/ best eval/mean_return so far + best.json (run.keep_best) training
//!   eval.json         the final deterministic evaluation                  training
//!   learning_curve.png/.svg                                               CLI
//! ```
//!
//! A run is complete once `eval.json` exists. Every file is written through a temporary
//! sibling renamed into place, so a killed process never leaves half a file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{AgentError, Result};

pub const CONFIG_FILE: &str = "config.toml";
pub const REVISION_FILE: &str = "revision.txt";
pub const RUN_META_FILE: &str = "run.json";
pub const LOG_FILE: &str = "carrot.log";
pub const METRICS_JSONL: &str = "metrics.jsonl";
pub const METRICS_CSV: &str = "metrics.csv";
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// Where the kept checkpoint copies (`run.keep_checkpoints_every`) live.
pub const KEPT_CHECKPOINTS_DIR: &str = "checkpoints";
pub const EVAL_FILE: &str = "eval.json";
/// Inside the best checkpoint's directory: its iteration and score ([`best_checkpoint_dir`]).
pub const BEST_FILE: &str = "best.json";
/// Stem of the learning-curve plot (`.png` and `.svg`).
pub const LEARNING_CURVE: &str = "learning_curve";

/// What `carrot report` needs to know about a run besides its results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub name: String,
    /// `(axis, label)` pairs of a sweep cell; empty for a lone run.
    #[serde(default)]
    pub labels: Vec<(String, String)>,
    /// Numeric axis values by axis name.
    #[serde(default)]
    pub numeric: BTreeMap<String, f64>,
    pub seed: u64,
}

/// The checkpoint directory of a run.
pub fn checkpoint_dir(run_dir: &Path) -> PathBuf {
    run_dir.join(CHECKPOINT_DIR)
}

/// The kept copy of the checkpoint written at `iteration`: `checkpoints/iter_000500/`.
pub fn kept_checkpoint_dir(run_dir: &Path, iteration: usize) -> PathBuf {
    run_dir
        .join(KEPT_CHECKPOINTS_DIR)
        .join(format!("iter_{iteration:06}"))
}

/// The copy of the checkpoint with the best `eval/mean_return` so far (`run.keep_best`):
/// `checkpoints/best/`.
pub fn best_checkpoint_dir(run_dir: &Path) -> PathBuf {
    run_dir.join(KEPT_CHECKPOINTS_DIR).join("best")
}

/// The iterations of the run's kept checkpoints, ascending (none without a `checkpoints/`).
pub fn kept_iterations(run_dir: &Path) -> Result<Vec<usize>> {
    let dir = run_dir.join(KEPT_CHECKPOINTS_DIR);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| AgentError::io(&dir, format!("cannot read directory: {e}")))?;
    let mut found: Vec<usize> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("iter_")?.parse().ok())
        .collect();
    found.sort_unstable();
    Ok(found)
}

/// Whether the run in `dir` has finished (its evaluation is written).
pub fn is_complete(dir: &Path) -> bool {
    dir.join(EVAL_FILE).is_file()
}

/// `dir/.tmp.<pid>.<name>`: where [`write_atomic_with`] writes before the rename.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".tmp.{}.{name}", std::process::id()))
}

/// Lets `write` fill a temporary sibling of `path`, then renames it into place.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<(), String>,
) -> Result<()> {
    let tmp = temp_sibling(path);
    let written = write(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
    written.map_err(|e| {
        // A failed write (a full disk, say) must not leave its partial temp file behind.
        let _ = std::fs::remove_file(&tmp);
        AgentError::io(path, format!("cannot write: {e}"))
    })
}

/// Writes `bytes` to `path` atomically (temporary sibling, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| {
        let mut file = File::create(tmp).map_err(|e| e.to_string())?;
        file.write_all(bytes).map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())
    })
}

/// Reads a run's `run.json`; a run without one is named after its directory.
pub fn read_meta(dir: &Path) -> Result<RunMeta> {
    let path = dir.join(RUN_META_FILE);
    if !path.is_file() {
        return Ok(RunMeta {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ..Default::default()
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|e| AgentError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| AgentError::io(&path, format!("corrupt: {e}")))
}

/// Every run directory under `root` (directories holding a `config.toml`), sorted.
pub fn find_runs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join(CONFIG_FILE).is_file() {
            found.push(dir);
            continue;
        }
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| AgentError::io(&dir, format!("cannot read directory: {e}")))?;
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The first dotted key where two configs differ, `None` when they are equal.
///
/// `ppo.device` is not compared: where the tensors live is a choice of each invocation, not
/// part of the run, so a run started on a GPU resumes on a CPU and a failed `cuda` start
/// leaves a directory that a `cpu` start can still use.
pub fn config_difference(a: &TrainConfig, b: &TrainConfig) -> Option<String> {
    let mut b = b.clone();
    b.ppo.device = a.ppo.device;
    if *a == b {
        return None;
    }
    let (x, y) = (
        serde_json::to_value(a).ok()?,
        serde_json::to_value(&b).ok()?,
    );
    Some(first_difference(&x, &y, String::new()).unwrap_or_else(|| "?".into()))
}

/// The value at a dotted key of a config, as text (for error messages).
pub fn config_value(config: &TrainConfig, key: &str) -> String {
    let value = serde_json::to_value(config).unwrap_or_default();
    key.split('.')
        .try_fold(&value, |v, k| v.get(k))
        .map_or("?".into(), |v| v.to_string())
}

fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(p) = first_difference(u, v, child) {
                            return Some(p);
                        }
                    }
                    _ => return Some(child),
                }
            }
            None
        }
        _ => (a != b).then_some(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp."))
            .collect()
    }

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn failed_write_removes_its_temp_file_and_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.json");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |tmp| {
            std::fs::write(tmp, b"partial").unwrap();
            Err("No space left on device".into())
        })
        .unwrap_err();
        assert!(err.to_string().contains("No space left"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
    }

    #[test]
    fn failed_rename_removes_its_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory where the file should go: the rename fails.
        let path = dir.path().join("occupied");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"x").unwrap();
        assert!(write_atomic(&path, b"new").is_err());
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
    }
}
