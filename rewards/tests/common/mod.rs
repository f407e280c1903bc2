//! Helpers shared by the reward integration tests.

#![allow(dead_code)]

use carrot_rewards::{RewardConfig, SignalSpec, Transform};

/// A toy env with five signals.
pub fn spec() -> SignalSpec {
    SignalSpec::new(
        "toy",
        &[
            ("goal", "1", "sparse primary signal"),
            ("dist", "m", "distance to the goal"),
            ("v", "m/s", "signed velocity"),
            ("force", "N", "the action as applied"),
            ("pos", "m", "position in [-1, 1]"),
        ],
    )
}

/// `rows` rows of deterministic pseudo-random signals in [-2, 2] (an LCG, no RNG crate).
pub fn random_rows(rows: usize, num_signals: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..rows * num_signals)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

pub fn signal(name: &str) -> RewardConfig {
    RewardConfig::Signal {
        signal: name.into(),
        scale: 1.0,
        transform: Transform::Identity,
    }
}

/// Parses `text` as a `[reward]` table.
pub fn parse(text: &str) -> Result<RewardConfig, String> {
    toml::from_str::<RewardConfig>(text).map_err(|e| e.to_string())
}
