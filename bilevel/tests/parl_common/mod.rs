//! Shared fixtures for the PARL tests: synthetic rollouts and segments.
#![allow(dead_code)]

use carrot_bilevel::parl::segments::Segment;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// A synthetic step-major rollout with random episode ends. Signals per row:
/// `[x0, x1, env, episode id, step]`; the true reward is `2·x0 − x1`.
pub struct FakeRollout {
    pub num_envs: usize,
    pub num_steps: usize,
    pub signals: Vec<f32>,
    pub rewards: Vec<f32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
}

pub const NUM_SIGNALS: usize = 5;

pub fn true_reward(signals: &[f32]) -> f32 {
    2.0 * signals[0] - signals[1]
}

impl FakeRollout {
    /// Each step ends its episode by termination with `p_term`, by truncation with `p_trunc`.
    pub fn random(num_envs: usize, num_steps: usize, p_term: f64, p_trunc: f64, seed: u64) -> Self {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let rows = num_envs * num_steps;
        let mut r = FakeRollout {
            num_envs,
            num_steps,
            signals: vec![0.0; rows * NUM_SIGNALS],
            rewards: vec![0.0; rows],
            terminated: vec![false; rows],
            truncated: vec![false; rows],
        };
        let mut episode = vec![0u32; num_envs];
        for t in 0..num_steps {
            for (i, ep) in episode.iter_mut().enumerate() {
                let row = t * num_envs + i;
                let s = &mut r.signals[row * NUM_SIGNALS..(row + 1) * NUM_SIGNALS];
                s[0] = rng.random::<f32>() * 2.0 - 1.0;
                s[1] = rng.random::<f32>() * 2.0 - 1.0;
                s[2] = i as f32;
                s[3] = *ep as f32;
                s[4] = t as f32;
                r.rewards[row] = true_reward(s);
                let u = rng.random::<f64>();
                if u < p_term {
                    r.terminated[row] = true;
                } else if u < p_term + p_trunc {
                    r.truncated[row] = true;
                }
                if r.terminated[row] || r.truncated[row] {
                    *ep += 1;
                }
            }
        }
        r
    }

    pub fn view(&self) -> carrot_bilevel::parl::RolloutView<'_> {
        carrot_bilevel::parl::RolloutView::new(
            self.num_envs,
            self.num_steps,
            NUM_SIGNALS,
            &self.signals,
            &self.rewards,
            &self.terminated,
            &self.truncated,
        )
        .unwrap()
    }
}

/// A segment of `length` steps over `num_inputs` uniform(−1, 1) inputs with the last `padded`
/// steps masked; rewards from `reward(inputs_row)`.
pub fn random_segment(
    rng: &mut Pcg64Mcg,
    length: usize,
    num_inputs: usize,
    padded: usize,
    reward: &dyn Fn(&[f32]) -> f32,
) -> Segment {
    let mut seg = Segment {
        env: 0,
        start_step: 0,
        rows: Vec::new(),
        inputs: vec![0.0; length * num_inputs],
        true_rewards: vec![0.0; length],
        mask: vec![0.0; length],
    };
    for k in 0..length - padded {
        let x = &mut seg.inputs[k * num_inputs..(k + 1) * num_inputs];
        x.iter_mut()
            .for_each(|v| *v = rng.random::<f32>() * 2.0 - 1.0);
        seg.true_rewards[k] = reward(x);
        seg.mask[k] = 1.0;
        seg.rows.push(k);
    }
    seg
}

/// Segment with given per-step rewards and mask (inputs zero).
pub fn reward_segment(rewards: &[f32], mask: &[f32]) -> Segment {
    Segment {
        env: 0,
        start_step: 0,
        rows: (0..rewards.len()).collect(),
        inputs: vec![0.0; rewards.len()],
        true_rewards: rewards.to_vec(),
        mask: mask.to_vec(),
    }
}
