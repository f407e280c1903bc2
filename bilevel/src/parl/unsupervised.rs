//! PEBBLE's unsupervised pre-training (Lee et al. 2021, B-Pref's `unsuper` phase): before the
//! first feedback session the learner maximizes a particle-based estimate of its state entropy,
//! so that the first queries see diverse behaviour instead of the near-identical segments of a
//! random policy (which tie under a sparse true reward such as acrobot's).
//!
//! For every row of a rollout the intrinsic reward is `ln(1 + ‖s − s_kNN‖)`, with `s_kNN` the
//! k-th nearest neighbour of `s` among the rollout's other rows (Singh et al. 2003's estimator
//! up to constants), in the space of the reward model's inputs (the post-step signals), each
//! input standardized by its running mean and variance. The reward handed to PPO is divided by
//! the running std of the intrinsic reward, as B-Pref does (`s_ent_stats`, no mean subtraction).
//! Both running statistics are checkpointed.

use carrot_agents::normalization::RunningMeanStd;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows per rayon task of the k-NN search (each row's result is independent of the split).
const ROWS_PER_TASK: usize = 64;
/// As in `RunningMeanStd::normalize`.
const VAR_EPSILON: f64 = 1e-8;

/// For each row of `rows` (`[n, dim]`), the Euclidean distance to its k-th nearest other row
/// (`k` clamped to `n − 1`; 0 for a single row). Exact and in a fixed order: squared distances
/// summed over the dimensions in order, the k-th smallest selected per row, whatever the
/// number of threads.
pub fn knn_distances(rows: &[f64], dim: usize, k: usize) -> Vec<f64> {
    assert!(dim > 0 && rows.len().is_multiple_of(dim) && k > 0);
    let n = rows.len() / dim;
    if n < 2 {
        return vec![0.0; n];
    }
    let k = k.min(n - 1);
    (0..n)
        .into_par_iter()
        .with_min_len(ROWS_PER_TASK)
        .map_init(
            || Vec::with_capacity(n - 1),
            |squared: &mut Vec<f64>, i| {
                let row = &rows[i * dim..(i + 1) * dim];
                squared.clear();
                for (j, other) in rows.chunks_exact(dim).enumerate() {
                    if j != i {
                        squared.push(row.iter().zip(other).map(|(a, b)| (a - b) * (a - b)).sum());
                    }
                }
                let (_, kth, _) = squared.select_nth_unstable_by(k - 1, f64::total_cmp);
                kth.sqrt()
            },
        )
        .collect()
}

/// `ln(1 + d)` per distance: the per-particle state-entropy reward.
pub fn entropy_rewards(distances: &[f64]) -> Vec<f64> {
    distances.iter().map(|d| d.ln_1p()).collect()
}

/// One rollout's intrinsic rewards.
#[derive(Clone, Debug)]
pub struct IntrinsicRewards {
    /// Per row, `ln(1 + d_k)` divided by the running std: what PPO trains on.
    pub rewards: Vec<f32>,
    /// The mean of `ln(1 + d_k)` over the rows before that division (a spread measure).
    pub raw_mean: f64,
}

/// The state-entropy reward with its running statistics (the checkpointed state of the phase).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateEntropy {
    k: usize,
    /// Running mean and variance of each input over every row of the phase so far (Gymnasium's
    /// `RunningMeanStd`: Chan et al.'s batch update in f64, prior count 1e-4).
    inputs: RunningMeanStd,
    /// Running variance of `ln(1 + d_k)` over every row of the phase so far (same update).
    reward: RunningMeanStd,
}

impl StateEntropy {
    pub fn new(num_inputs: usize, k: usize) -> Self {
        StateEntropy {
            k,
            inputs: RunningMeanStd::new(num_inputs),
            reward: RunningMeanStd::new(1),
        }
    }

    /// The intrinsic rewards of a rollout's input rows `[n, num_inputs]` (row order kept).
    /// Folds the rows into the input statistics first and standardizes them with the result;
    /// likewise folds the raw rewards into the reward statistics before dividing by their std.
    pub fn rewards(&mut self, rows: &[f32]) -> IntrinsicRewards {
        let dim = self.inputs.mean.len();
        self.inputs.update(rows);
        let scale: Vec<f64> = self
            .inputs
            .var
            .iter()
            .map(|v| (v + VAR_EPSILON).sqrt())
            .collect();
        let standardized: Vec<f64> = rows
            .chunks_exact(dim)
            .flat_map(|row| {
                row.iter()
                    .zip(&self.inputs.mean)
                    .zip(&scale)
                    .map(|((&x, m), s)| (x as f64 - m) / s)
            })
            .collect();
        let raw = entropy_rewards(&knn_distances(&standardized, dim, self.k));
        let raw_f32: Vec<f32> = raw.iter().map(|&r| r as f32).collect();
        self.reward.update(&raw_f32);
        let std = (self.reward.var[0] + VAR_EPSILON).sqrt();
        IntrinsicRewards {
            rewards: raw.iter().map(|r| (r / std) as f32).collect(),
            raw_mean: raw.iter().sum::<f64>() / raw.len().max(1) as f64,
        }
    }
}
