//! `carrot train` resumes exactly without resetting the envs: a driving run killed with SIGKILL
//! and resumed (checkpointing every iteration) writes the same metrics.csv and eval.json as
//! one that never checkpoints mid-run; a checkpoint from before env snapshots resumes with a
//! line in carrot.log.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{carrot, config, iterations, run_ok};

/// A small town world: 2 envs, 3 traffic vehicles, episodes of up to 150 steps, a privileged
/// critic; 300 iterations of 32 steps, seconds in all.
const DRIVING: &str = r#"
seed = 4
[env]
id = "driving"
map = "town"
map_pool = 2
traffic = 3
parked = 1
route_min_m = 60.0
route_max_m = 90.0
time_limit_base_s = 15.0
time_limit_per_m_s = 0.0
[reward]
id = "carl"
[ppo]
num_envs = 2
num_steps = 32
total_timesteps = 19200
update_epochs = 1
policy_head = "beta"
normalize_obs = true
critic_signals = ["time_left_frac", "route_left_frac"]
[run]
eval_episodes = 2
eval_max_steps = 200
"#;

fn train(file: &Path, run_dir: &Path, every: usize) -> std::process::Command {
    let mut command = carrot();
    command
        .arg("train")
        .arg("--config")
        .arg(file)
        .args(["--set", &format!("run.checkpoint_every={every}")])
        .arg("--run-dir")
        .arg(run_dir);
    command
}

/// metrics.csv without its wall-clock column.
fn metrics(run_dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let sps = header.iter().position(|c| *c == "charts/SPS").unwrap();
    text.lines()
        .map(|line| {
            let cells = line.split(',').enumerate().filter(|(i, _)| *i != sps);
            cells.map(|(_, c)| c).collect::<Vec<_>>().join(",")
        })
        .collect()
}

fn rows(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("metrics.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn a_killed_driving_run_resumes_as_if_never_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("driving.toml");
    std::fs::write(&file, DRIVING).unwrap();
    let killed = dir.path().join("killed");
    let mut child = train(&file, &killed, 1)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while rows(&killed) < 30 {
        assert!(Instant::now() < deadline, "the run did not progress");
        assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL, mid-episode: episodes outlast a 32-step rollout
    child.wait().unwrap();
    let before = rows(&killed);
    assert!((30..300).contains(&before), "{before} rows before the kill");

    run_ok(&mut train(&file, &killed, 1));
    let log = std::fs::read_to_string(killed.join("carrot.log")).unwrap();
    assert!(log.contains("resumed from the checkpoint"), "{log}");
    assert!(!log.contains("no env snapshot"), "{log}");
    assert_eq!(iterations(&killed), (1..=300).collect::<Vec<u64>>());

    let straight = dir.path().join("straight");
    run_ok(&mut train(&file, &straight, 1000));
    assert_eq!(metrics(&killed), metrics(&straight));
    assert_eq!(
        std::fs::read_to_string(killed.join("eval.json")).unwrap(),
        std::fs::read_to_string(straight.join("eval.json")).unwrap()
    );
}

#[test]
fn a_checkpoint_from_before_env_snapshots_resumes_and_the_log_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let tiny = [
        "--set",
        "ppo.num_envs=2",
        "--set",
        "ppo.num_steps=32",
        "--set",
        "ppo.total_timesteps=512",
        "--set",
        "run.eval_episodes=1",
    ];
    let cartpole = config("cartpole.toml");
    let mut first = train(&cartpole, &run_dir, 2);
    run_ok(first.args(tiny).args(["--max-iterations", "4"]));
    // What an older carrot wrote: state.json without collection_file, no env snapshot.
    let ckpt = run_dir.join("checkpoint");
    let state = std::fs::read_to_string(ckpt.join("state.json")).unwrap();
    let field = ",\n  \"collection_file\": \"collection-000004.json\"";
    assert!(state.contains(field), "{state}");
    std::fs::write(ckpt.join("state.json"), state.replace(field, "")).unwrap();
    std::fs::remove_file(ckpt.join("collection-000004.json")).unwrap();

    run_ok(train(&cartpole, &run_dir, 2).args(tiny));
    assert_eq!(iterations(&run_dir), (1..=8).collect::<Vec<u64>>());
    let log = std::fs::read_to_string(run_dir.join("carrot.log")).unwrap();
    let note = log
        .lines()
        .find(|l| l.contains("holds no env snapshot"))
        .unwrap_or_else(|| panic!("no note in carrot.log:\n{log}"));
    assert!(note.contains("seeded resets"), "{note}");
    assert!(run_dir.join("eval.json").is_file());
}
