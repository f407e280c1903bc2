//! The command line's extras in a run directory: preparing it (the resolved config, checked
//! against a stored one), the code revision, the lock and the log. The layout itself (file
//! names, atomic writes, the config-difference check, run metadata) is owned by
//! `carrot_agents::run_dir`.
//!
//! ```text
//! run_dir/
//!   config.toml       resolved config (every key, defaults included)
//!   revision.txt      git revision the binary that started the run was built from
//!   run.json          name, sweep axis labels and seed (what `carrot report` groups by)
//!   carrot.log        what the command printed, one timestamped line each, across resumes
//!   metrics.jsonl/.csv, checkpoints, eval.json   written by training
//!   learning_curve.png/.svg
//! ```
//!
//! A run is complete once `eval.json` exists; every file here is written atomically (a
//! temporary sibling renamed into place), so a killed process never leaves half a file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use carrot_agents::TrainConfig;

pub use carrot_agents::run_dir::{
    find_runs, is_complete, RunMeta, CONFIG_FILE, EVAL_FILE, LOG_FILE, METRICS_CSV, REVISION_FILE,
    RUN_META_FILE,
};

/// Writes `bytes` to `path` atomically (the run directory's one writer, in `carrot-agents`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(carrot_agents::run_dir::write_atomic(path, bytes)?)
}

/// Serializes a config the way it is stored in `config.toml`.
pub fn config_to_toml(config: &TrainConfig) -> Result<String> {
    toml::to_string(config).context("serializing the resolved config")
}

/// Creates (or reopens) a run directory for `config`.
///
/// A directory that already holds a config must hold the same one, so that rerunning a command
/// resumes its run and never mixes two runs; the error names the first key that differs. The
/// returned lock must be held while training in the directory.
pub fn prepare(dir: &Path, config: &TrainConfig, meta: &RunMeta) -> Result<(bool, RunLock)> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create run directory {}", dir.display()))?;
    let lock = lock(dir)?;
    let config_path = dir.join(CONFIG_FILE);
    let resumed = config_path.is_file();
    if resumed {
        let stored_text = std::fs::read_to_string(&config_path)
            .with_context(|| format!("cannot read {}", config_path.display()))?;
        let mut stored_table = crate::layered::parse_toml(&stored_text)
            .with_context(|| format!("{} is corrupt", config_path.display()))?;
        fill_legacy_values(&mut stored_table);
        // Through the defaults, so a run stored before a new key got its default still matches.
        let mut layers = crate::layered::Layers::from_defaults(&TrainConfig::default())?;
        layers.merge_table(stored_table);
        let stored: TrainConfig = layers
            .resolve()
            .with_context(|| format!("{} no longer parses", config_path.display()))?;
        if let Some(key) = carrot_agents::run_dir::config_difference(&stored, config) {
            if let Some(set) = legacy_resume_hint(&key, &stored) {
                bail!(
                    "run directory {} holds a run trained with {} (every run started before \
                     that key existed); resume it with {set}, or pass another --run-dir",
                    dir.display(),
                    set.trim_start_matches("--set "),
                );
            }
            bail!(
                "run directory {} holds a run with a different config (key `{key}` differs); \
                 pass another --run-dir to start a new run",
                dir.display()
            );
        }
    } else {
        write_atomic(&config_path, config_to_toml(config)?.as_bytes())?;
        write_atomic(&dir.join(REVISION_FILE), format!("{REVISION}\n").as_bytes())?;
    }
    write_atomic(
        &dir.join(RUN_META_FILE),
        serde_json::to_string_pretty(meta)?.as_bytes(),
    )?;
    Ok((resumed, lock))
}

/// Keys whose default changed what a run does, with the value every run stored before the key
/// existed was trained with: `(table, key, value as --set writes it)`.
const KEYS_WITH_A_LEGACY_VALUE: [(&str, &str, &str); 1] = [
    // The native CPU learner became the default on 2026-12-07; candle's graph trained before.
    ("ppo", "cpu_learner", "graph"),
];

/// A stored config from before a key of [`KEYS_WITH_A_LEGACY_VALUE`] existed gets the value its
/// run was trained with, not today's default, so that resuming it never changes what it does
/// half way.
fn fill_legacy_values(stored: &mut toml::Table) {
    for (table, key, value) in KEYS_WITH_A_LEGACY_VALUE {
        if let Some(toml::Value::Table(t)) = stored.get_mut(table) {
            t.entry(key)
                .or_insert_with(|| toml::Value::String(value.into()));
        }
    }
}

/// For a config difference at `key`, the `--set` that resumes the stored run, where the
/// stored run holds a legacy value (see [`KEYS_WITH_A_LEGACY_VALUE`]).
fn legacy_resume_hint(key: &str, stored: &TrainConfig) -> Option<String> {
    let stored = toml::Table::try_from(stored).ok()?;
    KEYS_WITH_A_LEGACY_VALUE
        .iter()
        .find(|(table, k, value)| {
            key == format!("{table}.{k}")
                && stored
                    .get(*table)
                    .and_then(|t| t.get(*k))
                    .and_then(|v| v.as_str())
                    == Some(value)
        })
        .map(|(table, k, value)| format!("--set {table}.{k}={value}"))
}

/// An exclusive lock on a run directory, held while a process trains in it, so that two
/// processes (a local sweep and a Slurm task, say) never write the same run. The kernel drops
/// it when the process ends, however it ends.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

pub fn lock(dir: &Path) -> Result<RunLock> {
    use std::os::fd::AsRawFd;
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: flock on a file descriptor this function owns; no memory is involved.
    let status = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if status != 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::WouldBlock {
            bail!(
                "run directory {} is in use by another carrot process",
                dir.display()
            );
        }
        return Err(err).with_context(|| format!("cannot lock {}", path.display()));
    }
    Ok(RunLock { _file: file })
}

/// The git revision of the source this binary was built from (`-dirty` when it had
/// uncommitted changes, `unknown` when built without git), embedded by `build.rs`: what ran,
/// whatever the checkout holds by the time the binary runs.
pub const REVISION: &str = env!("CARROT_REVISION");

/// A log that appends timestamped lines to a file and echoes them to stderr.
pub struct RunLog {
    file: Mutex<File>,
}

impl RunLog {
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(LOG_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open log {}", path.display()))?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    pub fn line(&self, message: &str) {
        eprintln!("{message}");
        self.record(message);
    }

    /// Appends to the log file only.
    pub fn record(&self, message: &str) {
        if let Ok(mut file) = self.file.lock() {
            // A full disk must not stop training; the line still reached stderr.
            let _ = writeln!(file, "{} {message}", utc_timestamp());
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for now, without a date-time dependency.
pub fn utc_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A directory name made from free text (config stems, `--set` overrides).
pub fn path_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '+' | '-' | '=' | ',' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_checks_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let config = TrainConfig::default();
        let meta = RunMeta {
            name: "run".into(),
            ..Default::default()
        };
        let (resumed, lock) = prepare(&run, &config, &meta).unwrap();
        assert!(!resumed);
        let err = prepare(&run, &config, &meta).err().unwrap().to_string();
        assert!(err.contains("in use"), "{err}");
        drop(lock);
        assert!(prepare(&run, &config, &meta).unwrap().0);
        // The device is not part of the run.
        let mut on_gpu = config.clone();
        on_gpu.ppo.device = carrot_agents::DeviceKind::Cuda;
        assert!(prepare(&run, &on_gpu, &meta).unwrap().0);
        let mut other = on_gpu.clone();
        other.ppo.learning_rate = 1e-3;
        let err = prepare(&run, &other, &meta).unwrap_err().to_string();
        assert!(err.contains("`ppo.learning_rate`"), "{err}");
        let stored: TrainConfig =
            toml::from_str(&std::fs::read_to_string(run.join(CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(stored, config);
        assert!(!std::fs::read_to_string(run.join(REVISION_FILE))
            .unwrap()
            .is_empty());
        assert_eq!(find_runs(dir.path()).unwrap(), vec![run]);
    }

    #[test]
    fn timestamps_are_iso8601() {
        let t = utc_timestamp();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
