//! `carrot train` end to end: the run directory it leaves, and resuming after SIGKILL.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{carrot, column, config, iterations, run_ok};

/// A few hundred iterations of tiny rollouts: long enough to kill mid-way, seconds in all.
const LONG_TINY: [&str; 10] = [
    "--set",
    "ppo.num_envs=2",
    "--set",
    "ppo.num_steps=32",
    "--set",
    "ppo.total_timesteps=64000",
    "--set",
    "run.checkpoint_every=7",
    "--set",
    "run.eval_episodes=2",
];

fn train(run_dir: &Path, extra: &[&str]) -> std::process::Command {
    let mut command = carrot();
    command
        .arg("train")
        .arg("--config")
        .arg(config("cartpole.toml"))
        .args(extra)
        .arg("--run-dir")
        .arg(run_dir);
    command
}

#[test]
fn a_run_directory_holds_everything_about_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let tiny = [
        "--set",
        "ppo.total_timesteps=4096",
        "--set",
        "run.checkpoint_every=2",
        "--set",
        "run.eval_episodes=3",
    ];
    let stdout = run_ok(&mut train(&run_dir, &tiny));
    assert!(stdout.contains("mean return"), "{stdout}");
    for file in [
        "config.toml",
        "revision.txt",
        "run.json",
        "carrot.log",
        "metrics.csv",
        "metrics.jsonl",
        "eval.json",
        "learning_curve.png",
        "learning_curve.svg",
    ] {
        assert!(run_dir.join(file).is_file(), "{file} missing");
    }
    assert!(run_dir.join("checkpoint").is_dir());
    // 4096 steps in batches of 8 x 128.
    assert_eq!(iterations(&run_dir), vec![1, 2, 3, 4]);
    let stored: toml::Table = std::fs::read_to_string(run_dir.join("config.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(stored["ppo"]["total_timesteps"].as_integer(), Some(4096));
    assert_eq!(
        stored["ppo"]["gamma"].as_float(),
        Some(0.99),
        "defaults are resolved"
    );
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("eval.json")).unwrap()).unwrap();
    assert_eq!(eval["returns"].as_array().map(Vec::len), Some(3));

    // Rerunning a finished run trains nothing and changes nothing.
    let metrics = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    run_ok(&mut train(&run_dir, &tiny));
    assert_eq!(
        std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap(),
        metrics
    );
    let log = std::fs::read_to_string(run_dir.join("carrot.log")).unwrap();
    assert!(log.contains("already complete"), "{log}");

    // The same directory with another config is refused, naming the key.
    let output = train(&run_dir, &["--set", "ppo.total_timesteps=8192"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("ppo.total_timesteps"), "{stderr}");

    // `carrot eval RUN` re-evaluates the trained policy; `--run RUN` still works.
    let eval = run_ok(carrot().arg("eval").arg(&run_dir).args(["--episodes", "2"]));
    assert!(eval.contains("over 2 episodes"), "{eval}");
    let flagged = run_ok(
        carrot()
            .args(["eval", "--episodes", "2", "--run"])
            .arg(&run_dir),
    );
    assert_eq!(flagged, eval);
}

#[test]
fn a_killed_run_resumes_without_duplicated_or_missing_iterations() {
    let dir = tempfile::tempdir().unwrap();
    let killed = dir.path().join("killed");
    let mut child = train(&killed, &LONG_TINY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has logged a few checkpoint intervals, mid-way through the run.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = std::fs::read_to_string(killed.join("metrics.csv"))
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0);
        if rows >= 40 {
            break;
        }
        assert!(Instant::now() < deadline, "the run did not progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join("eval.json").exists(), "killed before the end");
    let before = iterations(&killed);
    assert!(
        before.len() >= 40 && before.len() < 1000,
        "{} rows",
        before.len()
    );

    run_ok(&mut train(&killed, &LONG_TINY));
    let log = std::fs::read_to_string(killed.join("carrot.log")).unwrap();
    assert!(log.contains("resuming run"), "{log}");
    assert!(
        log.contains("resumed from the checkpoint of iteration"),
        "{log}"
    );
    let all: Vec<u64> = (1..=1000).collect();
    assert_eq!(iterations(&killed), all, "every iteration exactly once");

    // The resumed run's metrics match an uninterrupted run's (wall-clock columns aside).
    let straight = dir.path().join("straight");
    run_ok(&mut train(&straight, &LONG_TINY));
    for name in [
        "global_step",
        "charts/episodic_return",
        "losses/policy_loss",
        "losses/value_loss",
        "losses/approx_kl",
    ] {
        assert_eq!(
            column(&killed, name),
            column(&straight, name),
            "column {name}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(killed.join("eval.json")).unwrap(),
        std::fs::read_to_string(straight.join("eval.json")).unwrap()
    );
}

/// `--max-iterations` below `run.checkpoint_every` still makes progress: each invocation runs
/// on to the next checkpoint, so reruns continue instead of redoing the same iterations.
#[test]
fn max_iterations_below_the_checkpoint_interval_still_progresses() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    for expected_last in [7u64, 14] {
        run_ok(train(&run_dir, &LONG_TINY).args(["--max-iterations", "2"]));
        assert_eq!(iterations(&run_dir).last(), Some(&expected_last));
    }
    let all = iterations(&run_dir);
    assert_eq!(all, (1..=14).collect::<Vec<u64>>());
}

/// `revision.txt`, the run banner and `carrot --version` all name the revision embedded when
/// the binary was built, not what git says at run time: here git is not even on the PATH.
#[test]
fn the_recorded_revision_is_the_one_the_binary_was_built_from() {
    let built_from = env!("CARROT_REVISION");
    assert!(!built_from.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let tiny = [
        "--set",
        "ppo.total_timesteps=1024",
        "--set",
        "run.eval_episodes=1",
    ];
    run_ok(
        train(&run_dir, &tiny)
            .current_dir(dir.path())
            .env("PATH", ""),
    );
    let recorded = std::fs::read_to_string(run_dir.join("revision.txt")).unwrap();
    assert_eq!(recorded, format!("{built_from}\n"));
    let log = std::fs::read_to_string(run_dir.join("carrot.log")).unwrap();
    assert!(log.contains(&format!("revision {built_from})")), "{log}");
    let version = run_ok(carrot().arg("--version"));
    assert_eq!(
        version.trim(),
        format!(
            "carrot {} (revision {built_from})",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn a_run_started_before_the_native_learner_resumes_only_with_the_graph_learner() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let tiny = [
        "--set",
        "ppo.total_timesteps=2048",
        "--set",
        "run.checkpoint_every=1",
        "--set",
        "run.eval_episodes=1",
        "--max-iterations",
        "1",
    ];
    let graph = ["--set", "ppo.cpu_learner=graph"];
    run_ok(train(&run_dir, &tiny).args(graph));
    // Store the config as a binary from before `ppo.cpu_learner` existed wrote it.
    let path = run_dir.join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let old: String = text
        .lines()
        .filter(|l| !l.starts_with("cpu_learner"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(old, text, "the stored config names its learner");
    std::fs::write(&path, old).unwrap();

    // With the default (native) learner it is refused, and the error says how to resume.
    let output = train(&run_dir, &tiny).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--set ppo.cpu_learner=graph"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    // With the graph learner it resumes where it stopped.
    run_ok(train(&run_dir, &tiny).args(graph));
    assert_eq!(iterations(&run_dir), vec![1, 2]);
}
