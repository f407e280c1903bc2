//! `carrot envs` (the registry listed through the binary) and `carrot render` of the control
//! tasks (valid PNGs and GIFs, random, zero and trained policies).

mod common;

use std::path::Path;

use common::{carrot, config, run, run_ok};

#[test]
fn envs_lists_every_registered_env_and_every_reward() {
    let all = run_ok(carrot().arg("envs"));
    for id in carrot_envs::EnvConfig::IDS {
        assert!(all.lines().any(|l| l == *id), "env {id} not listed:\n{all}");
    }
    for reward in ["env_default", "sum", "carl", "roach", "blend"] {
        assert!(all.lines().any(|l| l == reward), "{reward} missing:\n{all}");
    }
    let rewards = run_ok(carrot().args(["envs", "--rewards"]));
    assert!(rewards.contains("terminal_penalty"), "{rewards}");
    assert!(!rewards.contains("cartpole"), "{rewards}");
}

#[test]
fn envs_name_shows_one_env_in_full() {
    let pendulum = run_ok(carrot().args(["envs", "pendulum"]));
    let spec = carrot_envs::EnvConfig::Pendulum(Default::default())
        .build()
        .unwrap()
        .signal_spec()
        .clone();
    for signal in &spec.signals {
        let line = pendulum
            .lines()
            .find(|l| l.split_whitespace().next() == Some(signal.name))
            .unwrap_or_else(|| panic!("signal {} missing:\n{pendulum}", signal.name));
        assert!(line.contains(&format!("[{}]", signal.unit)), "{line}");
        assert!(line.contains(signal.meaning.split_whitespace().next().unwrap()));
    }
    assert!(pendulum.contains("observation: Box(3)"), "{pendulum}");
    assert!(pendulum.contains("action:      Box(1)"), "{pendulum}");
    // The config defaults are printed as an `[env]` table that parses back.
    let toml: String = pendulum
        .split_once("config defaults ([env] table):\n")
        .unwrap()
        .1
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    let parsed: carrot_envs::EnvConfig = toml::from_str(&toml).expect(&toml);
    assert_eq!(parsed.id(), "pendulum");
}

#[test]
fn an_unknown_env_is_a_one_line_error_with_a_suggestion() {
    let output = run(carrot().args(["envs", "pendulm"]));
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown env 'pendulm'"), "{stderr}");
    assert!(stderr.contains("did you mean `pendulum`?"), "{stderr}");
}

/// Width and height of a PNG, from its IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(&bytes[12..16], b"IHDR");
    (be(16), be(20))
}

/// Width, height and frame count of a GIF, decoded with the `gif` crate.
fn gif_frames(path: &Path) -> (u16, u16, usize) {
    let file = std::fs::File::open(path).unwrap();
    let mut decoder = gif::DecodeOptions::new().read_info(file).unwrap();
    let (w, h) = (decoder.width(), decoder.height());
    let mut frames = 0;
    while decoder.read_next_frame().unwrap().is_some() {
        frames += 1;
    }
    (w, h, frames)
}

#[test]
fn render_writes_a_valid_png_and_gif_for_every_control_env() {
    let dir = tempfile::tempdir().unwrap();
    for (env, policy) in [
        ("cartpole", "random"),
        ("pendulum", "zero"),
        ("acrobot", "random"),
        ("mountain_car", "zero"),
    ] {
        let png = dir.path().join(format!("{env}.png"));
        let gif = dir.path().join(format!("{env}.gif"));
        let out = run_ok(
            carrot()
                .args(["render", "--env", env, "--policy", policy])
                .args(["--size", "96", "--steps", "6", "--every", "2"])
                .arg("--png")
                .arg(&png)
                .arg("--gif")
                .arg(&gif),
        );
        assert!(out.contains(&format!("driver: {policy}")), "{out}");
        assert_eq!(png_size(&png), (96, 96), "{env}");
        let (w, h, frames) = gif_frames(&gif);
        assert_eq!((w, h), (96, 96), "{env}");
        // Steps 0, 2, 4, 6, or fewer frames plus the end frame when the episode ended early.
        assert!((2..=4).contains(&frames), "{env}: {frames} frames");
    }
    let bad = run(carrot().args(["render", "--env", "cartpole", "--policy", "greedy"]));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--policy"));
}

#[test]
fn render_acts_with_a_trained_cartpole_policy() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    run_ok(
        carrot()
            .args(["train", "--config"])
            .arg(config("cartpole.toml"))
            .args(["--set", "ppo.num_envs=2", "--set", "ppo.num_steps=16"])
            .args([
                "--set",
                "ppo.minibatch_size=16",
                "--set",
                "ppo.total_timesteps=64",
            ])
            .args(["--set", "run.eval_episodes=1"])
            .arg("--run-dir")
            .arg(&run_dir),
    );
    let gif = dir.path().join("policy.gif");
    let out = run_ok(
        carrot()
            .args([
                "render", "--size", "64", "--steps", "5", "--every", "1", "--run",
            ])
            .arg(&run_dir)
            .arg("--png")
            .arg(dir.path().join("policy.png"))
            .arg("--gif")
            .arg(&gif),
    );
    assert!(out.contains("driver: policy"), "{out}");
    assert!(gif_frames(&gif).2 >= 2);
}
