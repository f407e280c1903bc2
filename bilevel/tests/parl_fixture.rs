//! PARL runs without the unsupervised phase must stay bit-identical: the metrics of two tiny
//! pendulum runs (PEBBLE with disagreement queries, and A-PARL with a correction step) are
//! compared bit for bit with committed fixtures captured before `unsupervised_iterations`
//! existed. They were captured with candle's graph learner, so the runs pin
//! `ppo.cpu_learner = "graph"` (the PPO learner's own fixtures, for both learners, are in
//! `agents/tests/plain_ppo_fixture.rs`). `CARROT_WRITE_FIXTURES=1` rewrites them (only for a
//! deliberate numerics change, said so in the commit).

mod common;

use std::path::PathBuf;

use carrot_agents::{CpuLearner, PreferenceMethod, TrainConfig, Trainer, WALL_CLOCK_KEYS};
use carrot_bilevel::parl::ParlHook;
use common::parl;

/// Pendulum, 6 iterations of 4 x 32 steps, a session of 12 queries every 2 iterations, with
/// A-PARL's correction settings (unused by PEBBLE).
fn config(method: PreferenceMethod) -> TrainConfig {
    let mut c = parl::with_correction(parl::pendulum(method, 7, 6));
    c.ppo.cpu_learner = CpuLearner::Graph;
    c
}

/// Every metric except wall-clock ones, as `row key bits` lines (exact f64 bits in hex).
fn fingerprint(c: &TrainConfig) -> String {
    let mut hook = ParlHook::new(c, c.preference.as_ref().unwrap()).unwrap();
    let mut t = Trainer::new(c).unwrap();
    let mut out = String::new();
    let mut i = 0;
    while !t.is_done() {
        let m = t.iterate_with(&mut hook).unwrap();
        for (k, v) in &m.entries {
            if !WALL_CLOCK_KEYS.contains(&k.as_str()) {
                out.push_str(&format!("{i} {k} {:016x}\n", v.to_bits()));
            }
        }
        i += 1;
    }
    out
}

fn check(name: &str, c: &TrainConfig) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.txt"));
    let got = fingerprint(c);
    if std::env::var_os("CARROT_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert!(got.contains(" parl/queries "), "{got}");
    for (g, w) in got.lines().zip(want.lines()) {
        assert_eq!(g, w, "{name}: first differing metric");
    }
    assert_eq!(got.lines().count(), want.lines().count(), "{name}");
}

#[test]
fn pebble_without_the_phase_matches_the_committed_metrics_bit_for_bit() {
    check("parl_pebble_pendulum", &config(PreferenceMethod::Pebble));
}

#[test]
fn aparl_without_the_phase_matches_the_committed_metrics_bit_for_bit() {
    check("parl_aparl_pendulum", &config(PreferenceMethod::Aparl));
}
