//! The enumerable contextual bandit of the E1 tests: 3 states x 2 actions, one-step episodes,
//! every (state, action) row present once, so that weighting rows by B·P(row) turns the
//! oracle's row averages into exact expectations. A tabular softmax `PolicyF64` (no hidden
//! layer) and the entropy-regularized inner problem solved to convergence.

use candle_core::Device;
use carrot_agents::config::{Activation, PpoConfig};
use carrot_agents::gae::GaeInput;
use carrot_agents::networks::{ActorCritic, HeadKind};
use carrot_agents::{PgBatch, PolicyF64};

use super::{norm, rng};

pub const STATES: usize = 3;
pub const ACTIONS: usize = 2;
pub const ROWS: usize = STATES * ACTIONS;

pub struct Bandit {
    pub obs: Vec<f32>,
    pub actions: Vec<f32>,
    /// `[ROWS, num_signals]`.
    pub signals: Vec<f32>,
    zeros: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
}

impl Bandit {
    /// Row `s * ACTIONS + a` is state s (one-hot) and action a, with `signals_of(row)`.
    pub fn new(signals_of: impl Fn(usize) -> Vec<f32>) -> Self {
        let mut obs = vec![0f32; ROWS * STATES];
        let mut actions = vec![0f32; ROWS];
        let mut signals = Vec::new();
        for row in 0..ROWS {
            obs[row * STATES + row / ACTIONS] = 1.0;
            actions[row] = (row % ACTIONS) as f32;
            signals.extend(signals_of(row));
        }
        Bandit {
            obs,
            actions,
            signals,
            zeros: vec![0.0; ROWS],
            terminated: vec![true; ROWS],
            truncated: vec![false; ROWS],
        }
    }

    /// GAE inputs of the one-step episodes: every row terminates, values are zero.
    pub fn gae<'a>(&'a self, rewards: &'a [f32]) -> GaeInput<'a> {
        GaeInput {
            num_envs: ROWS,
            rewards,
            values: &self.zeros,
            terminated: &self.terminated,
            truncated: &self.truncated,
            truncation_values: &self.zeros,
            last_values: &self.zeros,
        }
    }

    pub fn batch(&self) -> PgBatch<'_> {
        PgBatch {
            obs: &self.obs,
            obs_dim: STATES,
            actions: &self.actions,
            action_dim: 1,
            rows: None,
        }
    }

    /// B · P(row) = B · π(a|s)/|S|, and the log-probabilities.
    pub fn row_weights(&self, policy: &PolicyF64) -> (Vec<f64>, Vec<f64>) {
        let logp = policy.log_probs(&self.batch()).unwrap();
        let w = logp
            .iter()
            .map(|lp| ROWS as f64 / STATES as f64 * lp.exp())
            .collect();
        (w, logp)
    }

    /// θ*: gradient ascent on E_π[r] + c·H̄ with the f64 surrogate gradient, for per-row
    /// rewards `rewards` and entropy coefficient `ent`, until the gradient vanishes.
    pub fn solve(&self, policy: &mut PolicyF64, rewards: &[f64], ent: f64) {
        for _ in 0..50_000 {
            let (w, logp) = self.row_weights(policy);
            let weights: Vec<f64> = w.iter().zip(rewards).map(|(w, r)| w * r).collect();
            let g = policy
                .surrogate_grad(&self.batch(), &weights, &logp, ent)
                .unwrap();
            if norm(&g) < 1e-13 {
                return;
            }
            let theta: Vec<f64> = policy
                .theta()
                .unwrap()
                .iter()
                .zip(&g)
                .map(|(t, g)| t + 3.0 * g)
                .collect();
            policy.set_theta(&theta).unwrap();
        }
        panic!("the inner problem did not converge");
    }
}

/// A tabular softmax policy over the bandit's states, from seed 1.
pub fn tabular_policy() -> PolicyF64 {
    let cfg = PpoConfig {
        hidden_sizes: vec![],
        ..PpoConfig::default()
    };
    let head = HeadKind::Categorical { n: ACTIONS };
    let net = ActorCritic::new(&cfg, STATES, head, &Device::Cpu, &mut rng(1)).unwrap();
    PolicyF64::new(&net, Activation::Tanh).unwrap()
}
