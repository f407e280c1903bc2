//! Kept checkpoints (`run.keep_checkpoints_every`, issue 11's pilot): keeping copies changes
//! nothing in training, the copies load and survive a resume, a bad interval is a one-line
//! error, and `carrot study eval --kept` / `--at-iterations` evaluate them on held-out routes.
//! Tiny driving runs of 8 iterations; seconds in release mode.

mod common;

use std::path::{Path, PathBuf};

use carrot_agents::run::read_jsonl;
use carrot_agents::run_dir::{checkpoint_dir, kept_checkpoint_dir, kept_iterations};
use carrot_agents::{load_checkpoint_policy, train_run, IterationMetrics, TrainConfig};
use common::{carrot, config, metric_bits_where, options, run, run_ok};

/// The study's driving base config, shrunk to 8 iterations, on a pool of 2 maps.
fn tiny_driving() -> TrainConfig {
    let mut c = common::tiny_driving(8);
    c.env = carrot_envs::EnvConfig::Driving(match c.env {
        carrot_envs::EnvConfig::Driving(mut d) => {
            d.map_pool = 2;
            d
        }
        other => panic!("not a driving config: {other:?}"),
    });
    c.run.eval_episodes = 1;
    c
}

/// Every metric of every row as bits, wall-clock keys left out.
fn comparable(rows: &[IterationMetrics]) -> Vec<Vec<(String, u64)>> {
    metric_bits_where(rows, |_| true)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Asserts two files are equal, naming the first line that differs.
fn assert_same_file(a: &Path, b: &Path) {
    let (x, y) = (read(a), read(b));
    let first = x.lines().zip(y.lines()).position(|(p, q)| p != q);
    assert!(
        x == y,
        "{a:?} and {b:?} differ at line {first:?}: {:?}",
        first.map(|i| (x.lines().nth(i), y.lines().nth(i)))
    );
}

/// The entries of a run's `checkpoints/`, sorted.
fn kept_entries(run_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run_dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn kept_checkpoints_change_nothing_load_and_survive_a_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, kept, resumed) = (
        tmp.path().join("plain"),
        tmp.path().join("kept"),
        tmp.path().join("resumed"),
    );
    let mut c = tiny_driving();
    train_run(&c, &plain, &options(None)).unwrap();
    c.run.keep_checkpoints_every = 4;
    train_run(&c, &kept, &options(None)).unwrap();
    // Killed after iteration 5 (last checkpoint: 4, kept), then resumed to the end.
    train_run(&c, &resumed, &options(Some(5))).unwrap();
    assert_eq!(kept_iterations(&resumed).unwrap(), [4]);
    train_run(&c, &resumed, &options(None)).unwrap();

    let reference = comparable(&read_jsonl(&plain).unwrap());
    assert_eq!(reference.len(), 8);
    assert_eq!(comparable(&read_jsonl(&kept).unwrap()), reference);
    assert_eq!(comparable(&read_jsonl(&resumed).unwrap()), reference);
    assert_same_file(&plain.join("eval.json"), &kept.join("eval.json"));
    assert!(!plain.join("checkpoints").exists(), "nothing kept when off");

    for run_dir in [&kept, &resumed] {
        assert_eq!(kept_iterations(run_dir).unwrap(), [4, 8]);
        assert_eq!(kept_entries(run_dir), ["iter_000004", "iter_000008"]);
    }
    // The last kept copy is the final checkpoint; the copies of both runs are the same.
    let last = kept_checkpoint_dir(&kept, 8);
    assert_same_file(
        &last.join("state.json"),
        &checkpoint_dir(&kept).join("state.json"),
    );
    // Written before the kill, so byte for byte the uninterrupted run's copy. (After a resume
    // the normalizer's f64 statistics can differ in the last bit: serde_json's default float
    // parsing is not round-trip exact.)
    assert_same_file(
        &kept_checkpoint_dir(&kept, 4).join("state.json"),
        &kept_checkpoint_dir(&resumed, 4).join("state.json"),
    );
    for it in [4, 8] {
        let weights = format!("weights-{it:06}.safetensors");
        let (a, b) = (
            kept_checkpoint_dir(&kept, it).join(&weights),
            kept_checkpoint_dir(&resumed, it).join(&weights),
        );
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{a:?} != {b:?}"
        );
    }
    let early = load_checkpoint_policy(&kept_checkpoint_dir(&kept, 4)).unwrap();
    let late = load_checkpoint_policy(&last).unwrap();
    assert_eq!((early.iteration, late.iteration), (4, 8));
    let obs = vec![0.3f32; early.policy.obs_rms.as_ref().map_or(0, |r| r.mean.len())];
    assert!(!obs.is_empty());
    assert_ne!(
        early.policy.act(&obs).unwrap(),
        late.policy.act(&obs).unwrap(),
        "the early copy holds the early weights"
    );
}

#[test]
fn keep_interval_must_be_a_multiple_of_the_checkpoint_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = tiny_driving();
    c.run.keep_checkpoints_every = 3;
    let err = train_run(&c, &tmp.path().join("run"), &options(None))
        .expect_err("keep_checkpoints_every = 3 with checkpoint_every = 2 is rejected")
        .to_string();
    assert!(err.contains("run.keep_checkpoints_every"), "{err}");
    assert!(
        err.contains("multiple of run.checkpoint_every (2)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let output = run(carrot()
        .args(["train", "--config"])
        .arg(config("cartpole.toml"))
        .args(["--set", "run.keep_checkpoints_every=3", "--run-dir"])
        .arg(tmp.path().join("cli")));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("run.keep_checkpoints_every"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// A two-seed sweep of the tiny driving runs keeping checkpoints 4 and 8, in `dir/sweep`.
fn tiny_sweep(dir: &Path) -> PathBuf {
    let file = dir.join("kept.toml");
    let base = config("study/driving_base.toml");
    let sweep = format!(
        "base = {base:?}\nseeds = [1, 2]\n\n[set]\n\
         \"env.map_pool\" = 2\n\"ppo.num_envs\" = 2\n\"ppo.num_steps\" = 32\n\
         \"ppo.minibatch_size\" = 32\n\"ppo.total_timesteps\" = 512\n\
         \"run.checkpoint_every\" = 2\n\"run.keep_checkpoints_every\" = 4\n\
         \"run.eval_episodes\" = 1\n\"run.eval_max_steps\" = 5000\n\n\
         [[axes]]\nname = \"reward\"\nkey = \"reward\"\nvalues = [{{ id = \"carl\" }}]\n\
         labels = [\"carl\"]\n"
    );
    std::fs::write(&file, sweep).unwrap();
    let out = dir.join("sweep");
    run_ok(
        carrot()
            .args(["sweep", "run"])
            .arg(&file)
            .args(["--workers", "2", "--out"])
            .arg(&out),
    );
    out
}

/// Rows of a CSV without quoted commas, as maps from column to cell.
fn csv_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn study_eval_kept_evaluates_every_kept_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tiny_sweep(tmp.path());
    let out = tmp.path().join("study");
    let eval = |extra: &[&str]| {
        let mut command = carrot();
        command
            .args(["study", "eval"])
            .arg(&sweep)
            .args(["--routes", "2", "--out"])
            .arg(&out)
            .args(extra);
        command
    };
    run_ok(&mut eval(&[]));
    let table = run_ok(&mut eval(&["--kept"]));
    let kept = out.join("kept");
    assert_eq!(
        table,
        std::fs::read_to_string(kept.join("results.md")).unwrap()
    );
    assert!(table.contains("each kept checkpoint"), "{table}");

    let runs = csv_rows(&kept.join("runs.csv"));
    let keys: Vec<(String, String)> = runs
        .iter()
        .map(|r| (r["seed"].clone(), r["updates"].clone()))
        .collect();
    let expected: Vec<(String, String)> = ["1", "2"]
        .iter()
        .flat_map(|s| ["4", "8"].map(|u| (s.to_string(), u.to_string())))
        .collect();
    assert_eq!(keys, expected, "one row per (seed, kept iteration)");
    let cells = csv_rows(&kept.join("results.csv"));
    assert_eq!(cells.len(), 2, "one cell per number of updates");
    for cell in &cells {
        assert_eq!(cell["seeds"], "2", "{cell:?}");
        let ds: f64 = cell["driving_score_mean"].parse().unwrap();
        assert!((0.0..=100.0).contains(&ds), "{cell:?}");
    }
    for ext in ["png", "svg"] {
        assert!(kept.join(format!("ds_vs_updates.{ext}")).is_file());
    }
    // The copy at the last iteration is the final policy: the same held-out DS.
    let finals = csv_rows(&out.join("runs.csv"));
    for seed in ["1", "2"] {
        let last = runs
            .iter()
            .find(|r| r["seed"] == seed && r["updates"] == "8");
        let fin = finals.iter().find(|r| r["seed"] == seed);
        assert_eq!(
            last.map(|r| &r["driving_score"]),
            fin.map(|r| &r["driving_score"])
        );
    }
    let run_dir = sweep
        .join("runs")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(kept_checkpoint_dir(&run_dir, 4)
        .join("held_out_eval.json")
        .is_file());

    run_ok(&mut eval(&["--at-iterations", "4"]));
    let only = csv_rows(&kept.join("runs.csv"));
    assert_eq!(only.len(), 2);
    assert!(only.iter().all(|r| r["updates"] == "4"));

    let output = run(&mut eval(&["--at-iterations", "4,6"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    let last_line = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last_line.contains("no kept checkpoint") && last_line.contains("iter_000006"),
        "{stderr}"
    );
}
