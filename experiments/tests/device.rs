//! The device is not part of a run: a run trained on a GPU is evaluated, rendered and resumed
//! on a CPU-only build, and a `--device cuda` start that cannot work leaves nothing behind.

mod common;

use std::path::Path;

use common::{carrot, column, iterations, run, run_ok};

/// A 4-iteration driving run of tiny batches (driving, so that `carrot render` can drive it).
const TINY_DRIVING: [&str; 18] = [
    "--set",
    "env.id=driving",
    "--set",
    "reward.id=carl",
    "--set",
    "ppo.num_envs=2",
    "--set",
    "ppo.num_steps=16",
    "--set",
    "ppo.minibatch_size=16",
    "--set",
    "ppo.total_timesteps=128",
    "--set",
    "run.checkpoint_every=2",
    "--set",
    "run.eval_episodes=1",
    "--set",
    "run.eval_max_steps=20",
];

fn train(run_dir: &Path, extra: &[&str]) -> std::process::Command {
    let mut command = carrot();
    command
        .arg("train")
        .args(TINY_DRIVING)
        .args(extra)
        .arg("--run-dir")
        .arg(run_dir);
    command
}

/// Rewrites `ppo.device` in the run's config.toml and checkpoint, as a CUDA build leaves them.
fn mark_as_trained_on_cuda(run_dir: &Path) {
    let config_path = run_dir.join("config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    assert!(config.contains("device = \"cpu\""), "{config}");
    std::fs::write(
        &config_path,
        config.replace("device = \"cpu\"", "device = \"cuda\""),
    )
    .unwrap();
    // As text: the state holds 128-bit RNG states that a JSON value would round.
    let state_path = run_dir.join("checkpoint/state.json");
    let state = std::fs::read_to_string(&state_path).unwrap();
    assert_eq!(state.matches("\"device\": \"cpu\"").count(), 1, "{state}");
    std::fs::write(
        &state_path,
        state.replace("\"device\": \"cpu\"", "\"device\": \"cuda\""),
    )
    .unwrap();
}

#[test]
fn a_cuda_start_without_cuda_fails_cleanly_and_leaves_no_run_directory() {
    if cfg!(feature = "cuda") {
        return; // this build may start on CUDA
    }
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let output = run(&mut train(&run_dir, &["--device", "cuda"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`ppo.device`") && stderr.contains("--features cuda"),
        "{stderr}"
    );
    assert!(!run_dir.exists(), "a failed start must leave nothing");
    // The same command on the CPU then starts the run.
    run_ok(&mut train(&run_dir, &[]));
    assert_eq!(iterations(&run_dir), vec![1, 2, 3, 4]);
}

#[test]
fn a_run_trained_on_cuda_is_evaluated_rendered_and_resumed_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    run_ok(&mut train(&run_dir, &["--max-iterations", "2"]));
    assert_eq!(iterations(&run_dir), vec![1, 2]);
    let eval = |dir: &Path| run_ok(carrot().arg("eval").arg(dir).args(["--episodes", "1"]));
    let on_cpu = eval(&run_dir);
    mark_as_trained_on_cuda(&run_dir);

    // The same weights give the same evaluation.
    assert_eq!(eval(&run_dir), on_cpu);
    let gif = dir.path().join("policy.gif");
    let rendered = run_ok(
        carrot()
            .args(["render", "--steps", "4", "--every", "1", "--size", "64"])
            .arg("--run")
            .arg(&run_dir)
            .arg("--png")
            .arg(dir.path().join("policy.png"))
            .arg("--gif")
            .arg(&gif),
    );
    assert!(rendered.contains("driver: policy"), "{rendered}");
    assert!(std::fs::metadata(&gif).unwrap().len() > 0);

    // Resuming on the CPU continues the run as if it had never stopped.
    run_ok(&mut train(&run_dir, &[]));
    let log = std::fs::read_to_string(run_dir.join("carrot.log")).unwrap();
    assert!(
        log.contains("resumed from the checkpoint of iteration 2"),
        "{log}"
    );
    let straight = dir.path().join("straight");
    run_ok(&mut train(&straight, &[]));
    assert_eq!(iterations(&run_dir), vec![1, 2, 3, 4]);
    for name in ["global_step", "losses/policy_loss", "losses/value_loss"] {
        assert_eq!(column(&run_dir, name), column(&straight, name), "{name}");
    }
}
