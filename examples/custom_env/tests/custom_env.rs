//! The example crate's env and reward go through carrot exactly as built-ins do: the env-API
//! checks, training with a run directory, an earned improvement, resume, bad configs, `envs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use carrot_envs::check::{check_env, CheckOptions};
use carrot_envs::{Env, SignalSpec};
use carrot_example_custom_env::{GoalReach, GoalReachConfig, PointGoal, PointGoalConfig};
use carrot_rewards::StepReward;

fn config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("point_goal.toml")
}

fn custom_env() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_custom_env"));
    command.env("RAYON_NUM_THREADS", "1");
    command
}

fn run_ok(command: &mut Command) -> Output {
    let output = command.output().expect("cannot start custom_env");
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn train(run_dir: &Path, extra: &[&str]) -> Command {
    let mut command = custom_env();
    command
        .args(["train", "--config"])
        .arg(config())
        .arg("--run-dir")
        .arg(run_dir)
        .args(extra);
    command
}

fn column(run_dir: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let index = header.iter().position(|c| *c == name).expect(name);
    lines
        .map(|l| l.split(',').nth(index).unwrap_or_default().to_string())
        .collect()
}

fn eval_mean(run_dir: &Path) -> f64 {
    let text = std::fs::read_to_string(run_dir.join("eval.json")).unwrap();
    let eval: serde_json::Value = serde_json::from_str(&text).unwrap();
    eval["mean_return"].as_f64().expect("mean_return")
}

#[test]
fn the_env_passes_carrots_env_checks() {
    let options = CheckOptions {
        max_episode_steps: Some(100),
        ..CheckOptions::default()
    };
    let report = check_env(
        || Box::new(PointGoal::new(PointGoalConfig::default()).unwrap()) as Box<dyn Env>,
        &options,
    );
    assert!(report.is_ok(), "{:?}", report.err());
}

#[test]
fn the_reward_ends_the_episode_at_the_goal() {
    let env = PointGoal::new(PointGoalConfig::default()).unwrap();
    let spec: &SignalSpec = env.signal_spec();
    let reward = GoalReach::new(GoalReachConfig::default(), spec).unwrap();
    let mut terms = [0.0; 3];
    // progress 0.1 m, effort 2, not reached: 10 * 0.1 - 0.05 * 2.
    let (r, cause) = reward.evaluate(&[0.1, 0.5, 0.0, 2.0, 0.0], &mut terms);
    assert!((r - 0.9).abs() < 1e-6 && cause.is_none(), "{r} {cause:?}");
    let (r, cause) = reward.evaluate(&[0.0, 0.05, 0.0, 0.0, 1.0], &mut terms);
    assert_eq!((r, cause), (5.0, Some(0)));
    assert_eq!(reward.cause_names(), ["reached".to_string()]);
}

#[test]
fn ppo_learns_to_reach_the_goal_and_a_killed_run_resumes_identically() {
    let dir = tempfile::tempdir().unwrap();
    let trained = dir.path().join("trained");
    run_ok(&mut train(&trained, &[]));
    for file in ["config.toml", "metrics.csv", "eval.json", "carrot.log"] {
        assert!(trained.join(file).is_file(), "{file} missing");
    }
    let stored = std::fs::read_to_string(trained.join("config.toml")).unwrap();
    assert!(stored.contains("id = \"point_goal\""), "{stored}");
    assert!(stored.contains("id = \"goal_reach\""), "{stored}");
    // The reward's own term and termination columns are logged.
    assert!(!column(&trained, "reward_terms/goal").is_empty());
    assert!(!column(&trained, "terminations/reached").is_empty());
    // An untrained policy: the same config stopped after its first iteration.
    let untrained = dir.path().join("untrained");
    run_ok(&mut train(
        &untrained,
        &[
            "--set",
            "ppo.total_timesteps=512",
            "--set",
            "run.checkpoint_every=1",
        ],
    ));
    let (before, after) = (eval_mean(&untrained), eval_mean(&trained));
    // Reaching the goal from the mean start distance (~1 m) earns about 10 x 1 + 5 = 15; the
    // untrained policy scores about 8.5 (seed 1), the trained one about 15.2.
    assert!(
        after > 13.0 && after > before + 5.0,
        "eval return {before:.2} untrained -> {after:.2} trained"
    );

    // Stopped early and resumed, the run logs the same metrics as the uninterrupted one.
    let resumed = dir.path().join("resumed");
    run_ok(&mut train(&resumed, &["--max-iterations", "40"]));
    assert!(
        !resumed.join("eval.json").exists(),
        "stopped before the end"
    );
    run_ok(&mut train(&resumed, &[]));
    // The env's own snapshot carried it across the stop: no fallback to seeded resets.
    let log = std::fs::read_to_string(resumed.join("carrot.log")).unwrap();
    assert!(log.contains("resum"), "{log}");
    assert!(!log.contains("no env snapshot"), "{log}");
    for name in ["global_step", "charts/episodic_return", "losses/approx_kl"] {
        assert_eq!(column(&resumed, name), column(&trained, name), "{name}");
    }
    assert_eq!(eval_mean(&resumed), after);
}

#[test]
fn bad_configs_get_one_line_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (set, needle) in [
        ("env.goal_radus=0.2", "goal_radus"),
        ("env.dt=-1", "dt must be a positive number"),
        ("reward.goal_bonuss=1", "goal_bonuss"),
        ("reward.id=\"signal\"", "signal"),
    ] {
        let output = train(&dir.path().join("bad"), &["--set", set])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{set}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{set}: {stderr}");
        assert!(stderr.contains(needle), "{set}: {stderr}");
        assert!(!stderr.contains("panicked"), "{set}: {stderr}");
    }
}

#[test]
fn carrot_envs_lists_the_registered_env_and_reward() {
    let all = run_ok(custom_env().arg("envs"));
    let text = String::from_utf8_lossy(&all.stdout);
    assert!(text.contains("point_goal"), "{text}");
    assert!(text.contains("goal_reach"), "{text}");
    let one = run_ok(custom_env().args(["envs", "point_goal"]));
    let text = String::from_utf8_lossy(&one.stdout);
    assert!(text.contains("reached"), "{text}");
    assert!(
        text.contains("Box(2): force_x [-1, 1], force_y [-1, 1]"),
        "{text}"
    );
}
