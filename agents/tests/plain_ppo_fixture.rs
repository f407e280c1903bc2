//! Plain PPO must stay bit-identical across refactors: the metrics of two tiny runs (cartpole
//! with observation and reward normalization and a KL stop; pendulum with a Gaussian head and
//! truncations) are compared bit for bit with committed fixtures, once per CPU learner:
//! `plain_ppo_*.txt` were captured with candle's graph before the trainer was split into phases
//! (`ppo.cpu_learner = "graph"` must still match them), `native_ppo_*.txt` when the native
//! learner became the default. `CARROT_WRITE_FIXTURES=1` rewrites the fixtures (only do that
//! for a deliberate numerics change, and say so in the commit).

use std::path::PathBuf;

use carrot_agents::{CpuLearner, TrainConfig, Trainer, WALL_CLOCK_KEYS};
use carrot_envs::{EnvConfig, PendulumConfig};

fn cartpole() -> TrainConfig {
    let mut c = TrainConfig {
        seed: 11,
        ..Default::default()
    };
    c.ppo.num_envs = 4;
    c.ppo.num_steps = 32;
    c.ppo.total_timesteps = 4 * 32 * 6;
    c.ppo.normalize_obs = true;
    c.ppo.normalize_reward = true;
    c.ppo.target_kl = Some(0.05);
    c.run.checkpoint_every = 2;
    c
}

fn pendulum() -> TrainConfig {
    let mut c = cartpole();
    c.env = EnvConfig::Pendulum(PendulumConfig::default());
    c.ppo.num_steps = 128;
    c.ppo.total_timesteps = 4 * 128 * 4;
    c.ppo.target_kl = None;
    c
}

/// Every metric except wall-clock ones, as `key=bits` lines (exact f64 bits in hex).
fn fingerprint(rows: &[Vec<(String, f64)>]) -> String {
    let mut out = String::new();
    for (i, m) in rows.iter().enumerate() {
        for (k, v) in m {
            if !WALL_CLOCK_KEYS.contains(&k.as_str()) {
                out.push_str(&format!("{i} {k} {:016x}\n", v.to_bits()));
            }
        }
    }
    out
}

fn train(c: &TrainConfig) -> Vec<Vec<(String, f64)>> {
    let mut t = Trainer::new(c).unwrap();
    let mut rows = Vec::new();
    while !t.is_done() {
        rows.push(t.iterate().unwrap().entries);
    }
    rows
}

fn check(name: &str, c: &TrainConfig) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.txt"));
    let got = fingerprint(&train(c));
    if std::env::var_os("CARROT_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert!(got.lines().count() > 80, "{got}");
    for (g, w) in got.lines().zip(want.lines()) {
        assert_eq!(g, w, "{name}: first differing metric");
    }
    assert_eq!(got.lines().count(), want.lines().count(), "{name}");
}

fn graph(mut c: TrainConfig) -> TrainConfig {
    c.ppo.cpu_learner = CpuLearner::Graph;
    c
}

#[test]
fn plain_ppo_cartpole_matches_the_committed_metrics_bit_for_bit() {
    check("plain_ppo_cartpole", &graph(cartpole()));
}

#[test]
fn plain_ppo_pendulum_matches_the_committed_metrics_bit_for_bit() {
    check("plain_ppo_pendulum", &graph(pendulum()));
}

#[test]
fn native_ppo_cartpole_matches_the_committed_metrics_bit_for_bit() {
    check("native_ppo_cartpole", &cartpole());
}

#[test]
fn native_ppo_pendulum_matches_the_committed_metrics_bit_for_bit() {
    check("native_ppo_pendulum", &pendulum());
}

#[test]
fn the_learners_differ_only_in_rounding() {
    // Same runs, both learners: every logged loss within a small relative distance after 6
    // updates (a wrong gradient in either would move them by far more).
    let (native, graph) = (train(&cartpole()), train(&graph(cartpole())));
    for (n, g) in native.iter().zip(&graph) {
        for ((key, a), (_, b)) in n.iter().zip(g) {
            if key.starts_with("losses/") && !key.contains("clipfrac") {
                assert!((a - b).abs() <= 2e-3 * (1.0 + b.abs()), "{key}: {a} vs {b}");
            }
        }
    }
}
