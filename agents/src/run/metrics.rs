//! Per-iteration metrics files: `metrics.jsonl` (one JSON object per iteration, keys in a fixed
//! order) and `metrics.csv` (same columns). On resume both are cut back to the checkpoint's
//! iteration, so a killed-and-resumed run has no duplicated or missing rows. The same rows go to
//! a TensorBoard event file (`tensorboard/`, see [`crate::tensorboard`]) at `global_step`; on
//! resume it is regenerated from the kept rows.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{AgentError, Result};
use crate::tensorboard::EventWriter;
use crate::train::IterationMetrics;

pub use crate::run_dir::{METRICS_CSV as CSV, METRICS_JSONL as JSONL};

/// Appends metrics rows to both files.
pub struct MetricsWriter {
    jsonl: (PathBuf, File),
    csv: (PathBuf, File),
    csv_has_header: bool,
    events: EventWriter,
    run_dir: PathBuf,
}

fn wall_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Writes one metrics row as TensorBoard scalars at its `global_step`.
fn write_events(events: &mut EventWriter, m: &IterationMetrics, run_dir: &Path) -> Result<()> {
    let step = m.get("global_step").unwrap_or(0.0) as i64;
    let scalars: Vec<(&str, f64)> = m
        .entries
        .iter()
        .filter(|(k, _)| k != "global_step" && k != "iteration")
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    events
        .write_scalars(step, wall_time(), &scalars)
        .and_then(|()| events.flush())
        .map_err(|e| AgentError::io(run_dir, e))
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| AgentError::io(path, e))
}

fn number(v: f64) -> String {
    if v.is_finite() {
        // Integers print without a fraction, everything else round-trips exactly.
        if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{}", v as i64)
        } else {
            format!("{v:?}")
        }
    } else {
        String::new()
    }
}

impl MetricsWriter {
    /// Opens the files in `run_dir`, keeping only rows with `iteration <= keep_through`.
    pub fn open(run_dir: &Path, keep_through: usize) -> Result<Self> {
        let jsonl = run_dir.join(JSONL);
        let csv = run_dir.join(CSV);
        truncate_jsonl(&jsonl, keep_through)?;
        let csv_has_header = truncate_csv(&csv, keep_through)?;
        let mut events =
            EventWriter::create(run_dir, wall_time()).map_err(|e| AgentError::io(run_dir, e))?;
        if jsonl.exists() {
            for row in read_jsonl(run_dir)? {
                write_events(&mut events, &row, run_dir)?;
            }
        }
        Ok(MetricsWriter {
            jsonl: (jsonl.clone(), open_append(&jsonl)?),
            csv: (csv.clone(), open_append(&csv)?),
            csv_has_header,
            events,
            run_dir: run_dir.to_path_buf(),
        })
    }

    pub fn write(&mut self, m: &IterationMetrics) -> Result<()> {
        let fields: Vec<String> = m
            .entries
            .iter()
            .map(|(k, v)| {
                let value = if v.is_finite() {
                    number(*v)
                } else {
                    "null".into()
                };
                format!("{}:{value}", serde_json::Value::from(k.as_str()))
            })
            .collect();
        let line = format!("{{{}}}\n", fields.join(","));
        let (path, file) = &mut self.jsonl;
        file.write_all(line.as_bytes())
            .map_err(|e| AgentError::io(path.as_path(), e))?;
        let (path, file) = &mut self.csv;
        let mut text = String::new();
        if !self.csv_has_header {
            let keys: Vec<&str> = m.entries.iter().map(|(k, _)| k.as_str()).collect();
            text.push_str(&keys.join(","));
            text.push('\n');
            self.csv_has_header = true;
        }
        let values: Vec<String> = m.entries.iter().map(|(_, v)| number(*v)).collect();
        text.push_str(&values.join(","));
        text.push('\n');
        file.write_all(text.as_bytes())
            .map_err(|e| AgentError::io(path.as_path(), e))?;
        write_events(&mut self.events, m, &self.run_dir)
    }
}

fn rewrite(path: &Path, lines: &[&str]) -> Result<()> {
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    crate::run_dir::write_atomic(path, text.as_bytes())
}

fn truncate_jsonl(path: &Path, keep_through: usize) -> Result<()> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(());
    };
    let keep: Vec<&str> = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("iteration").and_then(|i| i.as_u64()))
                .is_some_and(|i| i as usize <= keep_through)
        })
        .collect();
    rewrite(path, &keep)
}

/// Returns whether the kept file has a header.
fn truncate_csv(path: &Path, keep_through: usize) -> Result<bool> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(false);
    };
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(false);
    };
    let Some(col) = header.split(',').position(|k| k == "iteration") else {
        rewrite(path, &[])?;
        return Ok(false);
    };
    let mut keep = vec![header];
    keep.extend(lines.filter(|line| {
        line.split(',')
            .nth(col)
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|i| i <= keep_through)
    }));
    rewrite(path, &keep)?;
    Ok(true)
}

/// Reads `metrics.jsonl` back as rows of (key, value); `null` becomes NaN.
pub fn read_jsonl(run_dir: &Path) -> Result<Vec<IterationMetrics>> {
    let path = run_dir.join(JSONL);
    let text = fs::read_to_string(&path).map_err(|e| AgentError::io(&path, e))?;
    text.lines()
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| AgentError::io(&path, e))?;
            let obj = v
                .as_object()
                .ok_or_else(|| AgentError::io(&path, "row is not an object"))?;
            Ok(IterationMetrics {
                entries: obj
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN)))
                    .collect(),
            })
        })
        .collect()
}
