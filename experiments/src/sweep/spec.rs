//! Sweep files and the deterministic enumeration of their runs.
//!
//! ```toml
//! base = "../cartpole.toml"          # relative to the sweep file
//! out_dir = "runs/sweeps/tiny"       # optional, relative to the working directory
//! seeds = [1, 2, 3]
//!
//! [set]                              # overrides shared by every run
//! "ppo.total_timesteps" = 4096
//!
//! [[axes]]                           # a grid axis over one key ...
//! key = "ppo.minibatch_size"
//! values = [64, 128, 256]
//! with = { "ppo.num_steps" = [16, 32, 64] }   # ... with keys that move along with it
//!
//! [[axes]]
//! name = "reward"
//! key = "reward"
//! values = [{ id = "env_default" }, { id = "signal", signal = "alive" }]
//! labels = ["classic", "alive"]
//! ```
//!
//! Runs are the cartesian product of the axes (first axis outermost) times the seeds
//! (innermost), so run `i` is the same cell on every machine. Each run is named by its axis
//! labels and seed, e.g. `reward=classic,ppo.minibatch_size=64,seed=1`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::layered::{self, Layers};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    base: PathBuf,
    #[serde(default)]
    out_dir: Option<PathBuf>,
    seeds: Vec<u64>,
    #[serde(default)]
    set: Table,
    #[serde(default)]
    axes: Vec<AxisFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisFile {
    #[serde(default)]
    name: Option<String>,
    key: String,
    values: Vec<Value>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    with: BTreeMap<String, Vec<Value>>,
}

/// One axis of a sweep: a name, labelled points and the overrides each point applies.
#[derive(Clone, Debug)]
pub struct Axis {
    pub name: String,
    pub labels: Vec<String>,
    /// The numeric value of each point, when all of the axis' values are numbers.
    pub numeric: Option<Vec<f64>>,
    /// For each point, the `(key path, value)` overrides it applies.
    pub points: Vec<Vec<(String, Value)>>,
}

/// A parsed sweep file.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The sweep file, absolute.
    pub file: PathBuf,
    pub base: PathBuf,
    pub out_dir: PathBuf,
    pub seeds: Vec<u64>,
    pub set: Vec<(String, Value)>,
    pub axes: Vec<Axis>,
}

/// One cell of a sweep: axis labels plus a seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunCell {
    pub index: usize,
    pub name: String,
    /// `(axis name, label)` in axis order.
    pub labels: Vec<(String, String)>,
    /// Numeric axis values by axis name (for plots against an axis).
    pub numeric: BTreeMap<String, f64>,
    pub seed: u64,
}

impl Sweep {
    /// Reads a sweep file. `out_override` replaces the file's `out_dir`.
    pub fn load(path: &Path, out_override: Option<&Path>) -> Result<Self> {
        let file = std::path::absolute(path)
            .with_context(|| format!("cannot resolve sweep file {}", path.display()))?;
        let table = layered::read_toml_file(&file)?;
        let raw: SweepFile = layered::deserialize_table(table)
            .map_err(|e| anyhow!("sweep file {}: {e}", file.display()))?;
        let here = file.parent().unwrap_or(Path::new("."));
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sweep".into());
        let out_dir = match out_override {
            Some(dir) => dir.to_path_buf(),
            None => raw
                .out_dir
                .clone()
                .unwrap_or_else(|| Path::new("runs").join("sweeps").join(&stem)),
        };
        let sweep = Sweep {
            base: here.join(&raw.base),
            out_dir: std::path::absolute(&out_dir)?,
            seeds: raw.seeds,
            set: raw.set.into_iter().collect(),
            axes: raw
                .axes
                .into_iter()
                .enumerate()
                .map(|(i, a)| build_axis(i, a))
                .collect::<Result<_>>()
                .map_err(|e| anyhow!("sweep file {}: {e}", file.display()))?,
            file,
        };
        sweep.check()?;
        Ok(sweep)
    }

    fn check(&self) -> Result<()> {
        let file = self.file.display();
        if self.seeds.is_empty() {
            bail!("sweep file {file}: `seeds` is empty");
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(seed) = self.seeds.iter().find(|s| !seen.insert(**s)) {
            bail!("sweep file {file}: seed {seed} is listed twice");
        }
        let mut names = std::collections::HashSet::new();
        for axis in &self.axes {
            if !names.insert(axis.name.as_str()) || axis.name == "seed" {
                bail!("sweep file {file}: axis name `{}` is used twice", axis.name);
            }
        }
        Ok(())
    }

    /// Number of runs: product of the axis sizes times the seeds.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.labels.len()).product::<usize>() * self.seeds.len()
    }

    /// Whether the sweep has no runs (no seeds, or an axis without values).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The directory of run `cell`.
    pub fn run_dir(&self, cell: &RunCell) -> PathBuf {
        self.out_dir.join("runs").join(&cell.name)
    }

    /// Cell `index` of the enumeration (seeds innermost, first axis outermost).
    pub fn cell(&self, index: usize) -> Result<RunCell> {
        let total = self.len();
        if index >= total {
            bail!("run index {index} is out of range: the sweep has {total} runs (0..{total})");
        }
        let seed = self.seeds[index % self.seeds.len()];
        let picks = self.picks(index);
        let labels: Vec<(String, String)> = self
            .axes
            .iter()
            .zip(&picks)
            .map(|(axis, &p)| (axis.name.clone(), axis.labels[p].clone()))
            .collect();
        let numeric = self
            .axes
            .iter()
            .zip(&picks)
            .filter_map(|(axis, &p)| Some((axis.name.clone(), axis.numeric.as_ref()?[p])))
            .collect();
        let mut name: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        name.push(format!("seed={seed}"));
        Ok(RunCell {
            index,
            name: name.join(","),
            labels,
            numeric,
            seed,
        })
    }

    /// The point picked on each axis by run `index`.
    fn picks(&self, index: usize) -> Vec<usize> {
        let mut rest = index / self.seeds.len();
        let mut picks = vec![0; self.axes.len()];
        for (pick, axis) in picks.iter_mut().zip(&self.axes).rev() {
            *pick = rest % axis.labels.len();
            rest /= axis.labels.len();
        }
        picks
    }

    pub fn cells(&self) -> Result<Vec<RunCell>> {
        (0..self.len()).map(|i| self.cell(i)).collect()
    }

    /// The config layers of a cell: defaults, base file, shared `set`, axis points, seed.
    pub fn layers<T: Serialize>(&self, defaults: &T, cell: &RunCell) -> Result<Layers> {
        let mut layers = Layers::from_defaults(defaults)?;
        layers.merge_file(&self.base)?;
        for (key, value) in &self.set {
            layers.set_path(key, value.clone())?;
        }
        for (axis, &p) in self.axes.iter().zip(&self.picks(cell.index)) {
            for (key, value) in &axis.points[p] {
                layers.set_path(key, value.clone())?;
            }
        }
        layers.set_path("seed", Value::Integer(cell.seed as i64))?;
        Ok(layers)
    }
}

fn build_axis(position: usize, raw: AxisFile) -> Result<Axis> {
    let name = sanitize_label(raw.name.as_deref().unwrap_or(&raw.key));
    let where_ = format!("axis {position} (`{name}`)");
    let count = raw.values.len();
    if count == 0 {
        bail!("{where_}: `values` is empty");
    }
    for (key, values) in &raw.with {
        if values.len() != count {
            bail!(
                "{where_}: `with.{key}` has {} values, `values` has {count}",
                values.len()
            );
        }
    }
    let labels = match raw.labels {
        Some(labels) if labels.len() != count => {
            bail!(
                "{where_}: `labels` has {} entries, `values` has {count}",
                labels.len()
            )
        }
        Some(labels) => labels,
        None => raw
            .values
            .iter()
            .map(|v| {
                default_label(v).ok_or_else(|| {
                    anyhow!("{where_}: value {v} needs a label; add `labels = [...]`")
                })
            })
            .collect::<Result<_>>()?,
    };
    let labels: Vec<String> = labels.iter().map(|l| sanitize_label(l)).collect();
    let mut unique = std::collections::HashSet::new();
    if let Some(dup) = labels.iter().find(|l| !unique.insert(l.as_str())) {
        bail!("{where_}: label `{dup}` appears twice");
    }
    let numeric = raw
        .values
        .iter()
        .map(|v| match v {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        })
        .collect::<Option<Vec<f64>>>();
    let points = (0..count)
        .map(|i| {
            let mut point = vec![(raw.key.clone(), raw.values[i].clone())];
            point.extend(raw.with.iter().map(|(k, vs)| (k.clone(), vs[i].clone())));
            point
        })
        .collect();
    Ok(Axis {
        name,
        labels,
        numeric,
        points,
    })
}

/// A label for a value: scalars print as themselves, tables by their `id`.
fn default_label(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Table(t) => t.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Labels become directory names: keep them to a portable character set.
fn sanitize_label(label: &str) -> String {
    label
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '+' | '-' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const SWEEP: &str = r#"
base = "base.toml"
seeds = [1, 2]
[set]
"a.b" = 3
[[axes]]
key = "mb"
values = [64, 128, 256]
with = { "steps" = [8, 16, 32] }
[[axes]]
name = "reward"
key = "reward"
values = [{ id = "x" }, { id = "y", scale = 2.0 }]
"#;

    #[test]
    fn enumeration_is_a_stable_grid() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "base.toml", "");
        let file = write(dir.path(), "s.toml", SWEEP);
        let sweep = Sweep::load(&file, None).unwrap();
        assert_eq!(sweep.len(), 12);
        let cells = sweep.cells().unwrap();
        assert_eq!(cells[0].name, "mb=64,reward=x,seed=1");
        assert_eq!(cells[1].name, "mb=64,reward=x,seed=2");
        assert_eq!(cells[2].name, "mb=64,reward=y,seed=1");
        assert_eq!(cells[11].name, "mb=256,reward=y,seed=2");
        assert_eq!(cells[5].numeric.get("mb"), Some(&128.0));
        assert!(!cells[5].numeric.contains_key("reward"));
        let names: std::collections::HashSet<_> = cells.iter().map(|c| &c.name).collect();
        assert_eq!(names.len(), 12);
        assert!(sweep.cell(12).is_err());
        assert_eq!(sweep.out_dir, std::path::absolute("runs/sweeps/s").unwrap());
    }

    #[test]
    fn layers_carry_the_cell_overrides() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "base.toml", "seed = 0\nmb = 1\n");
        let file = write(dir.path(), "s.toml", SWEEP);
        let sweep = Sweep::load(&file, None).unwrap();
        let cell = sweep.cell(7).unwrap(); // mb=128, reward=y, seed=2
        let tree = sweep.layers(&Table::new(), &cell).unwrap().tree().clone();
        assert_eq!(tree["mb"].as_integer(), Some(128));
        assert_eq!(tree["steps"].as_integer(), Some(16));
        assert_eq!(tree["seed"].as_integer(), Some(2));
        assert_eq!(tree["a"]["b"].as_integer(), Some(3));
        assert_eq!(tree["reward"]["scale"].as_float(), Some(2.0));
    }

    #[test]
    fn malformed_sweeps_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "base.toml", "");
        for (text, needle) in [
            ("base = \"base.toml\"\nseeds = []", "seeds"),
            ("base = \"base.toml\"\nseeds = [1, 1]", "twice"),
            ("base = \"base.toml\"\nseeds = [1]\nextra = 2", "extra"),
            (
                "base = \"base.toml\"\nseeds = [1]\n[[axes]]\nkey = \"a\"\nvalues = [1, 2]\nwith = { b = [1] }",
                "with.b",
            ),
            (
                "base = \"base.toml\"\nseeds = [1]\n[[axes]]\nkey = \"a\"\nvalues = [[1], [2]]",
                "label",
            ),
        ] {
            let file = write(dir.path(), "bad.toml", text);
            let err = Sweep::load(&file, None).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
