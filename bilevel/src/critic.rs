//! The primary critic V_p: a small f32 tanh MLP with its own Adam, fitted every iteration on
//! the primary λ-returns, so the primary advantages A_p of the hypergradient do not depend on
//! the PPO critic (which learns the learned reward's values).
//!
//! The rollout does not store the observation after a truncation or after its last step, so
//! V_p(s_t) stands in for V_p(s_{t+1}) there (see [`PrimaryCritic::primary_advantages`]).

use candle_core::{DType, Device, Tensor, Var};
use carrot_agents::gae::{compute_gae, GaeInput};
use carrot_agents::networks::orthogonal;
use carrot_agents::ops::{fused_linear, Act};
use carrot_agents::optimizer::Adam;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Rows per forward pass when evaluating.
const EVAL_ROWS: usize = 4096;

/// Fitting settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CriticSettings {
    pub learning_rate: f64,
    pub epochs: usize,
    pub minibatch_size: usize,
}

/// Everything that changes while fitting, for checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CriticState {
    #[serde(with = "crate::exact::f32_rows")]
    pub params: Vec<Vec<f32>>,
    #[serde(with = "crate::exact::f32_rows")]
    pub adam_m: Vec<Vec<f32>>,
    #[serde(with = "crate::exact::f32_rows")]
    pub adam_v: Vec<Vec<f32>>,
    pub adam_step: u64,
    #[serde(with = "crate::exact::rng_text")]
    pub rng: Pcg64Mcg,
}

/// V_p with its optimizer and shuffle RNG.
pub struct PrimaryCritic {
    obs_dim: usize,
    /// Hidden layers (tanh) then the scalar output.
    vars: Vec<(Var, Var)>,
    host: Vec<Vec<f32>>,
    adam: Adam,
    rng: Pcg64Mcg,
    settings: CriticSettings,
    device: Device,
}

impl PrimaryCritic {
    /// Orthogonal init from `seed` (hidden gain √2, output gain 1, zero biases).
    pub fn new(
        obs_dim: usize,
        hidden: &[usize],
        settings: CriticSettings,
        seed: u64,
    ) -> Result<Self> {
        let device = Device::Cpu;
        let mut init = Pcg64Mcg::seed_from_u64(seed);
        let mut vars = Vec::new();
        let mut host = Vec::new();
        let mut fan_in = obs_dim;
        let widths: Vec<(usize, f64)> = hidden
            .iter()
            .map(|&h| (h, 2f64.sqrt()))
            .chain([(1, 1.0)])
            .collect();
        for (out, gain) in widths {
            let w = orthogonal(&mut init, fan_in, out, gain);
            vars.push((
                Var::from_vec(w.clone(), (fan_in, out), &device)?,
                Var::zeros(out, DType::F32, &device)?,
            ));
            host.push(w);
            host.push(vec![0.0; out]);
            fan_in = out;
        }
        let sizes: Vec<usize> = host.iter().map(Vec::len).collect();
        Ok(PrimaryCritic {
            obs_dim,
            vars,
            host,
            adam: Adam::new(&sizes),
            rng: Pcg64Mcg::seed_from_u64(seed ^ 0x5eed_c417),
            settings,
            device,
        })
    }

    fn forward(&self, obs: &Tensor) -> candle_core::Result<Tensor> {
        let (last, hidden) = self.vars.split_last().expect("an output layer");
        let mut x = obs.clone();
        for (w, b) in hidden {
            x = fused_linear(&x, w.as_tensor(), b.as_tensor(), Act::Tanh)?;
        }
        fused_linear(&x, last.0.as_tensor(), last.1.as_tensor(), Act::Identity)?.squeeze(1)
    }

    /// V_p of each row of `obs` `[B x obs_dim]`.
    pub fn values(&self, obs: &[f32]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(obs.len() / self.obs_dim);
        for chunk in obs.chunks(EVAL_ROWS * self.obs_dim) {
            let rows = chunk.len() / self.obs_dim;
            let x = Tensor::from_slice(chunk, (rows, self.obs_dim), &self.device)?;
            out.extend(self.forward(&x)?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// `epochs` passes of shuffled mini-batches on 0.5 (V − target)²; returns the last
    /// epoch's mean loss.
    pub fn fit(&mut self, obs: &[f32], targets: &[f32]) -> Result<f64> {
        let b = targets.len();
        let mb = self.settings.minibatch_size.clamp(1, b.max(1));
        let mut order: Vec<usize> = (0..b).collect();
        let (mut x, mut y) = (vec![0f32; mb * self.obs_dim], vec![0f32; mb]);
        let mut last_loss = 0.0;
        for _ in 0..self.settings.epochs {
            for i in (1..b).rev() {
                order.swap(i, self.rng.random_range(0..=i));
            }
            let (mut sum, mut count) = (0.0, 0);
            for batch in order.chunks_exact(mb) {
                for (k, &row) in batch.iter().enumerate() {
                    let src = &obs[row * self.obs_dim..(row + 1) * self.obs_dim];
                    x[k * self.obs_dim..(k + 1) * self.obs_dim].copy_from_slice(src);
                    y[k] = targets[row];
                }
                sum += self.step(&x, &y)?;
                count += 1;
            }
            last_loss = sum / count.max(1) as f64;
        }
        Ok(last_loss)
    }

    fn step(&mut self, x: &[f32], y: &[f32]) -> Result<f64> {
        let m = y.len();
        let obs = Tensor::from_slice(x, (m, self.obs_dim), &self.device)?;
        let target = Tensor::from_slice(y, m, &self.device)?;
        let loss = (self.forward(&obs)?.sub(&target)?.sqr()?.mean_all()? * 0.5)?;
        let grads = loss.backward()?;
        let mut g = Vec::with_capacity(self.host.len());
        for (w, b) in &self.vars {
            for v in [w, b] {
                g.push(match grads.get(v.as_tensor()) {
                    Some(t) => t.flatten_all()?.to_vec1::<f32>()?,
                    None => vec![0.0; v.elem_count()],
                });
            }
        }
        self.adam
            .update(&mut self.host, &g, self.settings.learning_rate);
        self.write_vars()?;
        Ok(loss.to_scalar::<f32>()? as f64)
    }

    fn write_vars(&self) -> Result<()> {
        let flat = self.vars.iter().flat_map(|(w, b)| [w, b]);
        for (var, val) in flat.zip(&self.host) {
            var.set(&Tensor::from_slice(val, var.shape(), &self.device)?)?;
        }
        Ok(())
    }

    /// Primary advantages and λ-returns `GAE_{γ,λ}(r_p, V_p)` over a rollout layout, with
    /// V_p(s_t) standing in for the unstored next observation at truncations and at the end.
    pub fn primary_advantages(
        &self,
        obs: &[f32],
        layout: &GaeInput,
        gamma: f64,
        lambda: f64,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let values = self.values(obs)?;
        let n = layout.num_envs;
        let last_values = values[values.len() - n..].to_vec();
        let input = GaeInput {
            num_envs: n,
            rewards: layout.rewards,
            values: &values,
            terminated: layout.terminated,
            truncated: layout.truncated,
            truncation_values: &values,
            last_values: &last_values,
        };
        Ok(compute_gae(&input, gamma, lambda))
    }

    pub fn state(&self) -> CriticState {
        CriticState {
            params: self.host.clone(),
            adam_m: self.adam.m.clone(),
            adam_v: self.adam.v.clone(),
            adam_step: self.adam.step,
            rng: self.rng.clone(),
        }
    }

    pub fn restore(&mut self, state: CriticState) -> Result<()> {
        let sizes = |v: &[Vec<f32>]| v.iter().map(Vec::len).collect::<Vec<_>>();
        if sizes(&state.params) != sizes(&self.host) {
            return Err(crate::error::BilevelError::Invalid(
                "primary critic: checkpoint shapes differ from the config".into(),
            ));
        }
        self.host = state.params;
        self.adam.m = state.adam_m;
        self.adam.v = state.adam_v;
        self.adam.step = state.adam_step;
        self.rng = state.rng;
        self.write_vars()
    }
}
