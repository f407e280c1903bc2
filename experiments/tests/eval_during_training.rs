//! Evaluation during training through the CLI and the other run paths: `carrot report
//! --metric eval/mean_return` reads the eval curve (only the evaluated iterations), `carrot
//! eval RUN --best` evaluates the kept best checkpoint, a bilevel run logs its task return
//! as `eval/*` without changing its training, and driving runs log the env's episode
//! metrics (driving score, route completion, infraction score). Tiny runs, seconds each.

mod common;

use std::path::Path;

use carrot_agents::run::{best_checkpoint, read_best, read_jsonl};
use carrot_agents::{IterationMetrics, TrainConfig};
use common::{carrot, column, config, metric_bits_where, options, run_ok};

fn value(row: &IterationMetrics, key: &str) -> f64 {
    row.get(key).unwrap_or_else(|| panic!("no column {key}"))
}

/// The iterations whose row has a finite `key`.
fn logged_at(rows: &[IterationMetrics], key: &str) -> Vec<usize> {
    rows.iter()
        .filter(|r| value(r, key).is_finite())
        .map(|r| value(r, "iteration") as usize)
        .collect()
}

/// Every value but the `eval/*` and wall-clock ones, as bits.
fn training_bits(rows: &[IterationMetrics]) -> Vec<Vec<(String, u64)>> {
    metric_bits_where(rows, |k| !k.starts_with("eval/"))
}

fn eval_json(run_dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("eval.json")).unwrap()).unwrap()
}

/// `(steps, value)` of the iterations that logged `eval/mean_return`, from metrics.csv.
fn eval_curve(run_dir: &Path) -> Vec<(f64, f64)> {
    let steps = column(run_dir, "global_step");
    let values = column(run_dir, "eval/mean_return");
    steps
        .iter()
        .zip(&values)
        .filter(|(_, v)| !v.is_empty())
        .map(|(s, v)| (s.parse().unwrap(), v.parse().unwrap()))
        .collect()
}

#[test]
fn report_reads_the_eval_curve_and_eval_best_evaluates_the_kept_copy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    for seed in ["1", "2"] {
        run_ok(
            carrot()
                .args(["train", "--config"])
                .arg(config("cartpole.toml"))
                .arg("--run-dir")
                .arg(out.join(format!("seed={seed}")))
                .args(["--set", &format!("seed={seed}")])
                .args(["--set", "ppo.num_envs=4", "--set", "ppo.num_steps=32"])
                .args(["--set", "ppo.total_timesteps=1024"])
                .args([
                    "--set",
                    "run.checkpoint_every=2",
                    "--set",
                    "run.eval_episodes=3",
                ])
                .args(["--set", "run.eval_every=2", "--set", "run.keep_best=true"]),
        );
    }
    let report_dir = dir.path().join("report");
    let report = run_ok(
        carrot()
            .arg("report")
            .arg(&out)
            .args(["--metric", "eval/mean_return", "--out"])
            .arg(&report_dir),
    );
    assert!(report.contains("eval/mean_return"), "{report}");
    let runs_csv = std::fs::read_to_string(report_dir.join("runs.csv")).unwrap();
    let mut lines = runs_csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let mut checked = 0;
    for row in lines {
        let cells: Vec<&str> = row.split(',').collect();
        let run_dir = Path::new(cells[col("dir")]);
        let curve = eval_curve(run_dir);
        // Iterations 2, 4, 6, 8 evaluated; the others logged no value and are no points.
        assert_eq!(curve.len(), 4, "{curve:?}");
        let mean = curve.iter().map(|p| p.1).sum::<f64>() / 4.0;
        let best: f64 = cells[col("best")].parse().unwrap();
        assert!((best - mean).abs() < 1e-9, "{row} vs {curve:?}");
        // Equal spacing: the step-weighted mean is the plain mean.
        let auc: f64 = cells[col("auc")].parse().unwrap();
        assert!((auc - mean).abs() < 1e-9, "{row} vs {curve:?}");
        let last = curve[3].1;
        assert_eq!(cells[col("final")].parse::<f64>().unwrap(), last);

        let record = read_best(&best_checkpoint(run_dir).unwrap()).unwrap();
        let top = curve.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(record.score, top);
        let printed = run_ok(carrot().arg("eval").arg(run_dir).arg("--best"));
        let want = format!(
            "best checkpoint (iteration {}, eval/mean_return {:.2})",
            record.iteration, record.score
        );
        assert!(printed.contains(&want), "{printed}");
        assert!(
            printed.contains(&format!("mean return {:.2}", record.score)),
            "{printed}"
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
    // A run without a best copy: a one-line error naming the setting.
    let plain = dir.path().join("plain");
    run_ok(
        carrot()
            .args(["train", "--config"])
            .arg(config("cartpole.toml"))
            .arg("--run-dir")
            .arg(&plain)
            .args([
                "--set",
                "ppo.total_timesteps=1024",
                "--set",
                "run.eval_episodes=1",
            ]),
    );
    let output = carrot()
        .arg("eval")
        .arg(&plain)
        .arg("--best")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("run.keep_best"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// BARFI's cartpole setting, shrunk to 6 iterations.
fn tiny_barfi() -> TrainConfig {
    let text = std::fs::read_to_string(config("bilevel/barfi/cartpole_pd.toml")).unwrap();
    let mut c: TrainConfig = toml::from_str(&text).unwrap();
    c.ppo.num_envs = 4;
    c.ppo.num_steps = 32;
    c.ppo.num_minibatches = 2;
    c.ppo.total_timesteps = 4 * 32 * 6;
    c.ppo.hidden_sizes = vec![16, 16];
    c.run.checkpoint_every = 2;
    c.run.eval_episodes = 2;
    let outer = c.outer.as_mut().unwrap();
    outer.hessian_batch = 64;
    outer.critic_minibatch = 32;
    outer.critic_hidden = vec![16];
    c
}

#[test]
fn a_bilevel_run_logs_the_task_return_as_eval_without_changing_training() {
    let dir = tempfile::tempdir().unwrap();
    let plain = tiny_barfi();
    let mut with_eval = plain.clone();
    with_eval.run.eval_every = 2;
    with_eval.run.keep_best = true;
    let (a, b) = (dir.path().join("plain"), dir.path().join("eval"));
    carrot_bilevel::train_run(&plain, &a, &options(None)).unwrap();
    carrot_bilevel::train_run(&with_eval, &b, &options(None)).unwrap();
    let (reference, rows) = (read_jsonl(&a).unwrap(), read_jsonl(&b).unwrap());
    assert!(
        reference[0]
            .entries
            .iter()
            .any(|(k, _)| k.starts_with("outer/")),
        "a BARFI run logs its outer loop"
    );
    assert_eq!(training_bits(&rows), training_bits(&reference));
    assert_eq!(logged_at(&rows, "eval/mean_return"), [2, 4, 6]);
    // The env-side [reward] is the task reward: the last evaluation is eval.json's.
    assert_eq!(
        value(&rows[5], "eval/mean_return"),
        eval_json(&b)["mean_return"].as_f64().unwrap()
    );
    assert_eq!(eval_json(&a), eval_json(&b));
    // The best copy carries the outer loop's state like every checkpoint.
    let best = best_checkpoint(&b).unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(best.join("state.json")).unwrap()).unwrap();
    assert!(state.get("outer").is_some_and(|o| !o.is_null()));
    assert_eq!(state["iteration"], read_best(&best).unwrap().iteration);
}

/// The study's driving base config, shrunk to 4 iterations, evaluated every 2.
fn tiny_driving() -> TrainConfig {
    let mut c = common::tiny_driving(4);
    c.run.eval_episodes = 2;
    c.run.eval_every = 2;
    c
}

#[test]
fn driving_runs_log_driving_score_route_completion_and_infraction_score() {
    let dir = tempfile::tempdir().unwrap();
    let c = tiny_driving();
    carrot_agents::train_run(&c, dir.path(), &options(None)).unwrap();
    let rows = read_jsonl(dir.path()).unwrap();
    for key in [
        "eval/mean_return",
        "eval/driving_score",
        "eval/route_completion",
        "eval/infraction_score",
    ] {
        assert_eq!(logged_at(&rows, key), [2, 4], "{key}");
    }
    for row in rows
        .iter()
        .filter(|r| (value(r, "iteration") as usize).is_multiple_of(2))
    {
        let (ds, rc, is) = (
            value(row, "eval/driving_score"),
            value(row, "eval/route_completion"),
            value(row, "eval/infraction_score"),
        );
        assert!(
            (0.0..=100.0).contains(&ds) && (0.0..=100.0).contains(&rc),
            "{ds} {rc}"
        );
        assert!((0.0..=1.0).contains(&is), "{is}");
        assert!(
            ds <= rc + 1e-4,
            "driving score = route completion x infraction score"
        );
    }
    // eval.json carries the same episode metrics as the last evaluation row.
    let metrics = &eval_json(dir.path())["episode_metrics"];
    for name in ["driving_score", "route_completion", "infraction_score"] {
        assert_eq!(
            metrics[name].as_f64().unwrap(),
            value(&rows[3], &format!("eval/{name}")),
            "{name}"
        );
    }
}
