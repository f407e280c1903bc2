//! The synthetic teacher of B-Pref (Lee et al., 2021): labels segment pairs by the true reward.
//!
//! For a pair (σ0, σ1) with masked true-reward sums R0, R1 (plain sums) and myopic sums
//! R0γ, R1γ (step k of L weighted γ^(L−1−k), so the latest steps count most; γ = 1 gives the
//! plain sums), in this order:
//! 1. skip: when `skip > 0` and max(R0, R1) < skip·scale the pair gets no label;
//! 2. the label: β = ∞ gives y = 1\[R1γ > R0γ\]; a finite β draws y ~ Bernoulli(σ(β(R1γ − R0γ)));
//! 3. a mistake flips y with probability `mistake`;
//! 4. equal: when `equal > 0` and |R1 − R0| < equal·scale, y = 0.5 (overrides 2 and 3).
//!
//! `scale` is the caller's typical segment-return magnitude (B-Pref uses the mean episode
//! return times L / episode length). Like B-Pref, skip and equal use the plain sums. Every
//! non-skipped pair consumes exactly two uniforms from the teacher's own RNG, whatever the
//! settings, so the stream stays aligned across configs. The RNG serializes with the teacher
//! for checkpoints.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::parl::config::TeacherConfig;
use crate::parl::segments::Segment;

/// Counts since the last [`TeacherStats::default`]; `agreement()` is the fraction of hard labels
/// (not 0.5, not skipped) that match the true order 1\[R1 > R0\] of the plain sums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TeacherStats {
    pub queried: u64,
    pub skipped: u64,
    pub equal: u64,
    pub hard: u64,
    pub agree: u64,
}

impl TeacherStats {
    pub fn agreement(&self) -> f64 {
        if self.hard == 0 {
            f64::NAN
        } else {
            self.agree as f64 / self.hard as f64
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Teacher {
    pub config: TeacherConfig,
    rng: Pcg64Mcg,
    pub stats: TeacherStats,
}

impl Teacher {
    pub fn new(config: TeacherConfig, seed: u64) -> Self {
        Teacher {
            config,
            rng: Pcg64Mcg::seed_from_u64(seed),
            stats: TeacherStats::default(),
        }
    }

    /// Masked sum of true rewards with myopic weights γ^(L−1−k).
    pub fn segment_return(&self, seg: &Segment) -> f64 {
        myopic_return(&seg.true_rewards, &seg.mask, self.config.gamma)
    }

    /// Labels a pair of segments; `None` means skipped.
    pub fn label(&mut self, seg0: &Segment, seg1: &Segment, scale: f64) -> Option<f32> {
        let plain = (seg0.true_return(), seg1.true_return());
        let myopic = (self.segment_return(seg0), self.segment_return(seg1));
        self.label_returns(plain, myopic, scale)
    }

    /// The labelling rule on precomputed (plain, myopic) returns of (σ0, σ1).
    pub fn label_returns(
        &mut self,
        plain: (f64, f64),
        myopic: (f64, f64),
        scale: f64,
    ) -> Option<f32> {
        let cfg = &self.config;
        self.stats.queried += 1;
        if cfg.skip > 0.0 && plain.0.max(plain.1) < cfg.skip * scale {
            self.stats.skipped += 1;
            return None;
        }
        let (u_label, u_mistake) = (self.rng.random::<f64>(), self.rng.random::<f64>());
        let diff = myopic.1 - myopic.0;
        let mut y = match cfg.beta {
            None => diff > 0.0,
            Some(beta) => u_label < sigmoid(beta * diff),
        };
        if u_mistake < cfg.mistake {
            y = !y;
        }
        if cfg.equal > 0.0 && (plain.1 - plain.0).abs() < cfg.equal * scale {
            self.stats.equal += 1;
            return Some(0.5);
        }
        self.stats.hard += 1;
        if y == (plain.1 > plain.0) {
            self.stats.agree += 1;
        }
        Some(if y { 1.0 } else { 0.0 })
    }
}

/// Σ_k mask_k·r_k·γ^(L−1−k) in f64.
pub fn myopic_return(rewards: &[f32], mask: &[f32], gamma: f64) -> f64 {
    let l = rewards.len();
    rewards
        .iter()
        .zip(mask)
        .enumerate()
        .map(|(k, (&r, &m))| r as f64 * m as f64 * gamma.powi((l - 1 - k) as i32))
        .sum()
}

pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}
