//! Deterministic evaluation: the policy's mode (argmax / mean) over M episodes on env seeds
//! disjoint from the training seeds, observation statistics frozen.

use std::collections::BTreeMap;

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
    /// Mean of each of the env's episode metrics (for driving: route completion, infraction
    /// and driving score, ...) over the episodes that ended on their own; absent for envs
    /// without metrics and when every episode was capped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub episode_metrics: BTreeMap<String, f64>,
}

/// What the episodes evaluated so far gave.
#[derive(Default)]
struct Episodes {
    returns: Vec<f64>,
    lengths: Vec<u32>,
    capped: usize,
    metric_names: Vec<&'static str>,
    metric_sums: Vec<f64>,
    /// Episodes that ended on their own (those the metric sums cover).
    ended: usize,
}

/// Evaluates `policy` for `episodes` episodes; episode e uses env seed
/// `seed + eval_seed_offset + e`.
pub fn evaluate(config: &TrainConfig, policy: &Policy, episodes: usize) -> Result<EvalResult> {
    let base_seed = config.seed.wrapping_add(config.run.eval_seed_offset);
    let mut done = Episodes::default();
    while done.returns.len() < episodes {
        let start = done.returns.len();
        let n = WAVE.min(episodes - start);
        run_wave(
            config,
            policy,
            base_seed.wrapping_add(start as u64),
            n,
            &mut done,
        )?;
    }
    Ok(summarize(done, base_seed))
}

/// Runs `n` episodes side by side, env i seeded `first_seed + i`.
fn run_wave(
    config: &TrainConfig,
    policy: &Policy,
    first_seed: u64,
    n: usize,
    done: &mut Episodes,
) -> Result<()> {
    let mut envs = config.env.build_vec(n)?;
    done.metric_names = envs.episode_metric_names().to_vec();
    done.metric_sums.resize(done.metric_names.len(), 0.0);
    let reward = config.reward.build(envs.signal_spec())?;
    let mut buf = envs.make_buffers(reward.as_ref());
    envs.reset(first_seed, &mut buf)?;
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
            if finished[i] {
                done.ended += 1;
                for (sum, &v) in done.metric_sums.iter_mut().zip(buf.episode_metric_row(i)) {
                    *sum += v as f64;
                }
            }
        }
        if finished.iter().all(|&f| f) {
            break;
        }
    }
    done.capped += finished.iter().filter(|&&f| !f).count();
    done.returns.extend(ret);
    done.lengths.extend(len);
    Ok(())
}

fn summarize(done: Episodes, base_seed: u64) -> EvalResult {
    let Episodes {
        returns, lengths, ..
    } = &done;
    let m = returns.len().max(1) as f64;
    let mean_return = returns.iter().sum::<f64>() / m;
    let std_return = (returns
        .iter()
        .map(|r| (r - mean_return).powi(2))
        .sum::<f64>()
        / m)
        .sqrt();
    let episode_metrics = if done.ended == 0 {
        BTreeMap::new()
    } else {
        let names = done.metric_names.iter().map(|n| n.to_string());
        let means = done.metric_sums.iter().map(|s| s / done.ended as f64);
        names.zip(means).collect()
    };
    EvalResult {
        episodes: returns.len(),
        mean_return,
        std_return,
        min_return: returns.iter().copied().fold(f64::INFINITY, f64::min),
        max_return: returns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean_length: lengths.iter().map(|&l| l as f64).sum::<f64>() / m,
        seeds: (0..returns.len() as u64)
            .map(|e| base_seed.wrapping_add(e))
            .collect(),
        capped: done.capped,
        episode_metrics,
        returns: done.returns,
        lengths: done.lengths,
    }
}
