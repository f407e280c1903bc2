//! Deterministic evaluation: the policy's mode (argmax / mean) over M episodes on env seeds
//! disjoint from the training seeds, observation statistics frozen.

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::Result;
use crate::policy::Policy;

/// Envs stepped side by side during evaluation.
const WAVE: usize = 32;

/// Returns and lengths of the evaluation episodes with their summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    pub episodes: usize,
    pub mean_return: f64,
    pub std_return: f64,
    pub min_return: f64,
    pub max_return: f64,
    pub mean_length: f64,
    pub returns: Vec<f64>,
    pub lengths: Vec<u32>,
    /// The env seed of each episode.
    pub seeds: Vec<u64>,
    /// Episodes cut by `run.eval_max_steps` rather than ending on their own.
    pub capped: usize,
}

/// Evaluates `policy` for `episodes` episodes; episode e uses env seed
/// `seed + eval_seed_offset + e`.
pub fn evaluate(config: &TrainConfig, policy: &Policy, episodes: usize) -> Result<EvalResult> {
    let base_seed = config.seed.wrapping_add(config.run.eval_seed_offset);
    let mut returns = Vec::with_capacity(episodes);
    let mut lengths = Vec::with_capacity(episodes);
    let mut capped = 0;
    let mut start = 0;
    while start < episodes {
        let n = WAVE.min(episodes - start);
        let mut envs = config.env.build_vec(n)?;
        let reward = config.reward.build(envs.signal_spec())?;
        let mut buf = envs.make_buffers(reward.as_ref());
        envs.reset(base_seed.wrapping_add(start as u64), &mut buf)?;
        let act_dim = envs.action_space().flat_dim();
        let mut ret = vec![0f64; n];
        let mut len = vec![0u32; n];
        let mut finished = vec![false; n];
        let mut actions = vec![0f32; n * act_dim];
        for _ in 0..config.run.eval_max_steps {
            policy.act_mode(&buf.obs, n, &mut actions)?;
            envs.step(&actions, reward.as_ref(), &mut buf)?;
            for i in 0..n {
                if finished[i] {
                    continue;
                }
                ret[i] += buf.rewards[i] as f64;
                len[i] += 1;
                finished[i] = buf.done(i);
            }
            if finished.iter().all(|&f| f) {
                break;
            }
        }
        capped += finished.iter().filter(|&&f| !f).count();
        returns.extend(ret);
        lengths.extend(len);
        start += n;
    }
    let m = returns.len().max(1) as f64;
    let mean_return = returns.iter().sum::<f64>() / m;
    let std_return = (returns
        .iter()
        .map(|r| (r - mean_return).powi(2))
        .sum::<f64>()
        / m)
        .sqrt();
    Ok(EvalResult {
        episodes,
        mean_return,
        std_return,
        min_return: returns.iter().copied().fold(f64::INFINITY, f64::min),
        max_return: returns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean_length: lengths.iter().map(|&l| l as f64).sum::<f64>() / m,
        seeds: (0..episodes as u64)
            .map(|e| base_seed.wrapping_add(e))
            .collect(),
        returns,
        lengths,
        capped,
    })
}
