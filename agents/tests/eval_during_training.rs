//! Evaluation during training (`run.eval_every`) and the best checkpoint (`run.keep_best`):
//! the `eval/*` columns appear exactly at the configured iterations, every other column is
//! bit-identical to a run without them (1 and 2 threads alike), a resumed run logs the same
//! eval rows, and the best copy is the highest `eval/mean_return`. Tiny cartpole runs.

mod common;

use std::path::Path;

use carrot_agents::run::{best_checkpoint, evaluate_checkpoint, read_best, read_jsonl};
use carrot_agents::run_dir::{best_checkpoint_dir, kept_checkpoint_dir};
use carrot_agents::{train_run, IterationMetrics, TrainConfig};
use common::{fresh_dir, metric_bits_where, options};

const EVAL_KEYS: [&str; 3] = ["eval/mean_return", "eval/std_return", "eval/mean_length"];

fn tiny_config() -> TrainConfig {
    let mut c = TrainConfig {
        seed: 5,
        ..Default::default()
    };
    c.ppo.num_envs = 4;
    c.ppo.num_steps = 32;
    c.ppo.total_timesteps = 4 * 32 * 6;
    c.ppo.hidden_sizes = vec![32, 32];
    c.ppo.normalize_obs = true;
    c.ppo.normalize_reward = true;
    c.run.checkpoint_every = 2;
    c.run.eval_episodes = 3;
    c
}

fn train(c: &TrainConfig, name: &str, threads: usize) -> (common::TestDir, Vec<IterationMetrics>) {
    let dir = fresh_dir(name);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| train_run(c, &dir, &options(None))).unwrap();
    let rows = read_jsonl(&dir).unwrap();
    (dir, rows)
}

/// Every value as bits, wall-clock keys left out; `eval` keeps only the `eval/*` columns,
/// otherwise they are dropped.
fn bits(rows: &[IterationMetrics], eval: bool) -> Vec<Vec<(String, u64)>> {
    metric_bits_where(rows, |k| k.starts_with("eval/") == eval)
}

fn value(row: &IterationMetrics, key: &str) -> f64 {
    row.get(key).unwrap_or_else(|| panic!("no column {key}"))
}

#[test]
fn eval_columns_appear_exactly_every_eval_every_iterations_and_change_nothing_else() {
    let plain = tiny_config();
    let mut with_eval = plain.clone();
    with_eval.run.eval_every = 2;
    with_eval.run.keep_checkpoints_every = 2;
    let (_, reference) = train(&plain, "plain", 1);
    assert!(reference
        .iter()
        .all(|r| r.get("eval/mean_return").is_none()));
    let (dir, rows) = train(&with_eval, "eval1", 1);
    let (_, rows2) = train(&with_eval, "eval2", 2);
    assert_eq!(rows.len(), 6);
    assert_eq!(bits(&rows, false), bits(&reference, false));
    assert_eq!(bits(&rows2, false), bits(&reference, false));
    assert_eq!(bits(&rows2, true), bits(&rows, true));

    for row in &rows {
        let it = value(row, "iteration") as usize;
        for key in EVAL_KEYS {
            let v = value(row, key);
            assert_eq!(
                v.is_finite(),
                it.is_multiple_of(2),
                "{key} at iteration {it}: {v}"
            );
        }
        if it.is_multiple_of(2) {
            // The evaluation of this iteration's policy: the kept copy evaluates the same.
            let kept = evaluate_checkpoint(&kept_checkpoint_dir(&dir, it), None).unwrap();
            assert_eq!(value(row, "eval/mean_return"), kept.mean_return, "{it}");
            assert_eq!(value(row, "eval/std_return"), kept.std_return);
            assert_eq!(value(row, "eval/mean_length"), kept.mean_length);
            assert!(kept.mean_length >= 8.0, "cartpole episodes last 8+ steps");
        }
    }
    // The last row's evaluation is eval.json's (the final evaluation).
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("eval.json")).unwrap()).unwrap();
    assert_eq!(
        eval["mean_return"].as_f64().unwrap(),
        value(&rows[5], "eval/mean_return")
    );
    // Rows without an evaluation have empty CSV cells, like every sparse column.
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|k| *k == "eval/mean_return")
        .unwrap();
    let cells: Vec<String> = lines
        .map(|l| l.split(',').nth(col).unwrap().to_string())
        .collect();
    let empty: Vec<bool> = cells.iter().map(String::is_empty).collect();
    assert_eq!(empty, [true, false, true, false, true, false], "{cells:?}");
    // No best copy unless asked for.
    assert!(!best_checkpoint_dir(&dir).exists());
}

#[test]
fn a_resumed_run_logs_the_same_eval_rows_and_keeps_the_same_best() {
    let mut c = tiny_config();
    c.run.eval_every = 3;
    c.run.keep_best = true;
    let (straight, reference) = train(&c, "straight", 1);
    let killed = fresh_dir("killed");
    // Killed after iteration 5: the checkpoint is from 4, the evaluation of 3 stays, row 5
    // is redone.
    train_run(&c, &killed, &options(Some(5))).unwrap();
    let resumed = train_run(&c, &killed, &options(None)).unwrap();
    assert_eq!(resumed.resumed_from, Some(4));
    let rows = read_jsonl(&killed).unwrap();
    assert_eq!(bits(&rows, true), bits(&reference, true));
    assert_eq!(bits(&rows, false), bits(&reference, false));
    let evaluated: Vec<usize> = rows
        .iter()
        .filter(|r| value(r, "eval/mean_return").is_finite())
        .map(|r| value(r, "iteration") as usize)
        .collect();
    assert_eq!(evaluated, [3, 6]);
    let (a, b) = (
        best_checkpoint(&straight).unwrap(),
        best_checkpoint(&killed).unwrap(),
    );
    assert_eq!(read_best(&a).unwrap(), read_best(&b).unwrap());
}

/// The iteration and value of the first highest `eval/mean_return`.
fn best_logged(rows: &[IterationMetrics]) -> (usize, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for row in rows {
        let v = value(row, "eval/mean_return");
        if v.is_finite() && v > best.1 {
            best = (value(row, "iteration") as usize, v);
        }
    }
    best
}

#[test]
fn keep_best_keeps_the_checkpoint_with_the_highest_eval_return() {
    let mut c = tiny_config();
    c.ppo.total_timesteps = 4 * 32 * 8;
    c.run.eval_every = 1;
    c.run.keep_best = true;
    let (dir, rows) = train(&c, "best", 1);
    let (iteration, score) = best_logged(&rows);
    let best = best_checkpoint(&dir).unwrap();
    let record = read_best(&best).unwrap();
    assert_eq!((record.iteration, record.score), (iteration, score));
    assert_eq!(record.metric, "eval/mean_return");
    assert_eq!(
        record.global_step,
        value(&rows[iteration - 1], "global_step") as u64
    );
    // The copy holds that iteration's policy: evaluating it gives the logged score.
    assert_eq!(evaluate_checkpoint(&best, None).unwrap().mean_return, score);
    assert_eq!(staged_leftovers(&dir), Vec::<String>::new());

    // A run killed between the two renames of a swap (the old copy moved aside, the new one
    // staged) finds the complete new copy when it starts again.
    let checkpoints = best.parent().unwrap().to_path_buf();
    std::fs::rename(&best, checkpoints.join(".best.next")).unwrap();
    train_run(&c, &dir, &options(None)).unwrap();
    assert_eq!(read_best(&best).unwrap(), record);
    // An incomplete staged copy (no best.json yet) is dropped for the moved-aside old one.
    std::fs::rename(&best, checkpoints.join(".best.old")).unwrap();
    std::fs::create_dir_all(checkpoints.join(".best.next")).unwrap();
    train_run(&c, &dir, &options(None)).unwrap();
    assert_eq!(read_best(&best).unwrap(), record);
    assert_eq!(staged_leftovers(&dir), Vec::<String>::new());
}

fn staged_leftovers(run_dir: &Path) -> Vec<String> {
    std::fs::read_dir(run_dir.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn bad_eval_settings_are_one_line_errors_naming_the_key() {
    let mut c = tiny_config();
    c.run.keep_best = true;
    let err = train_run(&c, &fresh_dir("nobest"), &options(None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("run.keep_best") && err.contains("run.eval_every") && !err.contains('\n'),
        "{err}"
    );
    let mut c = tiny_config();
    c.run.eval_every = 2;
    c.run.eval_episodes = 0;
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("run.eval_every") && !err.contains('\n'),
        "{err}"
    );
    // Resuming with another eval_every would change the rows: refused, key named.
    let mut c = tiny_config();
    c.run.eval_every = 2;
    let dir = fresh_dir("change");
    train_run(&c, &dir, &options(Some(2))).unwrap();
    c.run.eval_every = 1;
    let err = train_run(&c, &dir, &options(None)).unwrap_err().to_string();
    assert!(err.contains("run.eval_every"), "{err}");
    let err = toml::from_str::<TrainConfig>("[run]\neval_evry = 3\n").unwrap_err();
    assert!(err.to_string().contains("eval_evry"));
}
