//! The actor evaluated in f64, for outer loops that need second-order information by finite
//! differences (bilevel reward learning: Hessian-vector products, directional scores).
//!
//! [`PolicyF64`] copies the actor's parameters (trunk, policy head, Gaussian log-std) out of an
//! [`ActorCritic`] into its own `Var`s, by default in f64, and evaluates them with the same
//! [`ActionDist`] code as PPO (the ops fall back to candle's generic kernels off f32), so f32 and
//! f64 mean the same thing. θ is the flat concatenation of those parameters in checkpoint order.
//!
//! Every pass runs over fixed chunks of [`CHUNK_ROWS`] rows (in parallel) and adds the chunk
//! results in chunk order, in f64: results do not depend on the thread count, and nothing of
//! size batch × parameters is formed.

use candle_core::{DType, Device, Tensor, Var};
use rayon::prelude::*;

use crate::config::Activation;
use crate::distributions::ActionDist;
use crate::error::{AgentError, Result};
use crate::networks::{ActorCritic, HeadKind};
use crate::ops::{fused_linear, softplus, Act};

/// Rows per chunk of every pass.
pub const CHUNK_ROWS: usize = 512;

/// Rows of a rollout seen by the policy: observations as the policy saw them and stored
/// actions, both row-major f32, optionally restricted to a subset of rows.
#[derive(Clone, Copy, Debug)]
pub struct PgBatch<'a> {
    pub obs: &'a [f32],
    pub obs_dim: usize,
    pub actions: &'a [f32],
    pub action_dim: usize,
    /// Rows to use, in this order; `None`: all rows.
    pub rows: Option<&'a [usize]>,
}

impl PgBatch<'_> {
    /// Number of rows in the batch (the subset's size when restricted).
    pub fn len(&self) -> usize {
        match self.rows {
            Some(r) => r.len(),
            None => self.obs.len() / self.obs_dim.max(1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Observations and actions of batch rows `start..end` as f64.
    fn gather(&self, start: usize, end: usize) -> (Vec<f64>, Vec<f64>) {
        let (od, ad) = (self.obs_dim, self.action_dim);
        let mut obs = Vec::with_capacity((end - start) * od);
        let mut act = Vec::with_capacity((end - start) * ad);
        for k in start..end {
            let row = self.rows.map_or(k, |r| r[k]);
            obs.extend(self.obs[row * od..(row + 1) * od].iter().map(|&v| v as f64));
            act.extend(
                self.actions[row * ad..(row + 1) * ad]
                    .iter()
                    .map(|&v| v as f64),
            );
        }
        (obs, act)
    }
}

/// The actor of an [`ActorCritic`] in its own parameters, evaluated in `dtype` (f64 by default).
pub struct PolicyF64 {
    head: HeadKind,
    act: Act,
    /// Hidden layers then the policy head, `(w [in, out], b [out])`.
    layers: Vec<(Var, Var)>,
    log_std: Option<Var>,
    /// All actor `Var`s in θ order.
    vars: Vec<Var>,
    dtype: DType,
    device: Device,
}

impl PolicyF64 {
    /// An f64 copy of `net`'s actor. `activation` must be the one `net` was built with.
    pub fn new(net: &ActorCritic, activation: Activation) -> Result<Self> {
        Self::with_dtype(net, activation, DType::F64)
    }

    /// The same in another dtype (`F32` gives the f32 variant, for precision studies).
    pub fn with_dtype(net: &ActorCritic, activation: Activation, dtype: DType) -> Result<Self> {
        let device = net.device().clone();
        let find = |name: &str| net.params().iter().find(|(n, _)| n == name).map(|(_, v)| v);
        if find("trunk.0.weight").is_some() {
            return Err(AgentError::config(
                "ppo.shared_trunk",
                "the f64 policy needs separate actor and critic trunks (shared_trunk = false)",
            ));
        }
        let copy = |v: &Var| -> Result<Var> { Ok(Var::from_tensor(&v.to_dtype(dtype)?)?) };
        let mut layers = Vec::new();
        for i in 0.. {
            let (Some(w), Some(b)) = (
                find(&format!("actor.{i}.weight")),
                find(&format!("actor.{i}.bias")),
            ) else {
                break;
            };
            layers.push((copy(w)?, copy(b)?));
        }
        let (Some(w), Some(b)) = (find("policy.weight"), find("policy.bias")) else {
            return Err(AgentError::config("ppo", "network has no policy head"));
        };
        layers.push((copy(w)?, copy(b)?));
        let log_std = find("log_std").map(copy).transpose()?;
        let mut vars: Vec<Var> = layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect();
        vars.extend(log_std.clone());
        let act = match activation {
            Activation::Tanh => Act::Tanh,
            Activation::Relu => Act::Relu,
        };
        Ok(PolicyF64 {
            head: net.head().clone(),
            act,
            layers,
            log_std,
            vars,
            dtype,
            device,
        })
    }

    /// Names of `net`'s parameters that make up θ, in θ order (trunk, head, log-std).
    pub fn actor_param_names(net: &ActorCritic) -> Vec<String> {
        let names = || net.params().iter().map(|(n, _)| n.clone());
        let mut out: Vec<String> = names().filter(|n| n.starts_with("actor.")).collect();
        out.extend(names().filter(|n| n.starts_with("policy.")));
        out.extend(names().filter(|n| n == "log_std"));
        out
    }

    pub fn head(&self) -> &HeadKind {
        &self.head
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// |θ|.
    pub fn num_params(&self) -> usize {
        self.vars.iter().map(|v| v.elem_count()).sum()
    }

    /// The flattened actor parameters.
    pub fn theta(&self) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.num_params());
        for v in &self.vars {
            out.extend(v.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?);
        }
        Ok(out)
    }

    /// Overwrites the actor parameters with `theta` (rounded to the policy's dtype).
    pub fn set_theta(&mut self, theta: &[f64]) -> Result<()> {
        if theta.len() != self.num_params() {
            return Err(AgentError::config(
                "theta",
                format!(
                    "{} values for {} parameters",
                    theta.len(),
                    self.num_params()
                ),
            ));
        }
        let mut at = 0;
        for v in &self.vars {
            let n = v.elem_count();
            let t = Tensor::from_slice(&theta[at..at + n], v.shape(), &self.device)?;
            v.set(&t.to_dtype(self.dtype)?)?;
            at += n;
        }
        Ok(())
    }

    fn dist(&self, obs: &Tensor) -> candle_core::Result<ActionDist> {
        let (last, hidden) = self.layers.split_last().expect("a policy head");
        let mut x = obs.clone();
        for (w, b) in hidden {
            x = fused_linear(&x, w.as_tensor(), b.as_tensor(), self.act)?;
        }
        let out = fused_linear(&x, last.0.as_tensor(), last.1.as_tensor(), Act::Identity)?;
        Ok(match &self.head {
            HeadKind::Categorical { .. } => ActionDist::Categorical { logits: out },
            HeadKind::Gaussian { .. } => ActionDist::Gaussian {
                mean: out,
                log_std: self
                    .log_std
                    .as_ref()
                    .expect("gaussian log-std")
                    .as_tensor()
                    .clone(),
            },
            HeadKind::Beta { low, .. } => {
                let d = low.len();
                ActionDist::Beta {
                    alpha: (softplus(&out.narrow(1, 0, d)?)? + 1.0)?,
                    beta: (softplus(&out.narrow(1, d, d)?)? + 1.0)?,
                }
            }
        })
    }

    /// The distribution and stored actions of batch rows `start..end`.
    fn chunk(&self, batch: &PgBatch, start: usize, end: usize) -> Result<(ActionDist, Tensor)> {
        let (obs, act) = batch.gather(start, end);
        let m = end - start;
        let obs = Tensor::from_vec(obs, (m, batch.obs_dim), &self.device)?.to_dtype(self.dtype)?;
        let act =
            Tensor::from_vec(act, (m, batch.action_dim), &self.device)?.to_dtype(self.dtype)?;
        Ok((self.dist(&obs)?, act))
    }

    /// log π(a_t | s_t) per batch row.
    pub fn log_probs(&self, batch: &PgBatch) -> Result<Vec<f64>> {
        let parts = chunked(batch.len(), |start, end| {
            let (dist, act) = self.chunk(batch, start, end)?;
            Ok(dist
                .log_prob(&act)?
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?)
        })?;
        Ok(parts.concat())
    }

    /// ∇θ [ (1/B) Σ_t w_t exp(log π_θ(a_t|s_t) − old_logp_t) + ent_coef · (1/B) Σ_t H_t ].
    pub fn surrogate_grad(
        &self,
        batch: &PgBatch,
        weights: &[f64],
        old_logp: &[f64],
        ent_coef: f64,
    ) -> Result<Vec<f64>> {
        let b = batch.len();
        check_len("weights", weights.len(), b)?;
        check_len("old_logp", old_logp.len(), b)?;
        let parts = chunked(b, |start, end| {
            let (dist, act) = self.chunk(batch, start, end)?;
            let col = |v: &[f64]| -> Result<Tensor> {
                let t = Tensor::from_slice(&v[start..end], end - start, &self.device)?;
                Ok(t.to_dtype(self.dtype)?)
            };
            let ratio = dist.log_prob(&act)?.sub(&col(old_logp)?)?.exp()?;
            let mut objective = (ratio.mul(&col(weights)?)?.sum_all()? / b as f64)?;
            if ent_coef != 0.0 {
                objective = (objective + (dist.entropy()?.sum_all()? * (ent_coef / b as f64))?)?;
            }
            let grads = objective.backward()?;
            let mut flat = Vec::with_capacity(self.num_params());
            for v in &self.vars {
                match grads.get(v.as_tensor()) {
                    Some(g) => {
                        flat.extend(g.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
                    }
                    None => flat.extend(std::iter::repeat_n(0.0, v.elem_count())),
                }
            }
            Ok(flat)
        })?;
        let mut total = vec![0f64; self.num_params()];
        for part in &parts {
            total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
        }
        Ok(total)
    }

    /// The finite-difference step for a unit direction at θ: 1e-5 · max(1, ‖θ‖∞).
    fn fd_step(theta: &[f64]) -> f64 {
        1e-5 * theta.iter().fold(1f64, |m, v| m.max(v.abs()))
    }

    /// Runs `f` at θ + ε v̂ and θ − ε v̂ (θ restored afterwards); returns both results, ε and ‖v‖.
    fn central<T>(
        &mut self,
        v: &[f64],
        mut f: impl FnMut(&Self) -> Result<T>,
    ) -> Result<Option<(T, T, f64, f64)>> {
        let theta = self.theta()?;
        check_len("direction", v.len(), theta.len())?;
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Ok(None);
        }
        let eps = Self::fd_step(&theta);
        let shifted = |sign: f64| -> Vec<f64> {
            theta
                .iter()
                .zip(v)
                .map(|(t, d)| t + sign * eps * d / norm)
                .collect()
        };
        self.set_theta(&shifted(1.0))?;
        let plus = f(self);
        self.set_theta(&shifted(-1.0))?;
        let minus = f(self);
        self.set_theta(&theta)?;
        Ok(Some((plus?, minus?, eps, norm)))
    }

    /// s_t = ∇θ log π(a_t|s_t) · p per row, by a central difference along p̂.
    pub fn directional_scores(&mut self, batch: &PgBatch, p: &[f64]) -> Result<Vec<f64>> {
        match self.central(p, |pol| pol.log_probs(batch))? {
            None => Ok(vec![0.0; batch.len()]),
            Some((plus, minus, eps, norm)) => Ok(plus
                .iter()
                .zip(&minus)
                .map(|(a, b)| (a - b) / (2.0 * eps) * norm)
                .collect()),
        }
    }

    /// H v, H the Hessian of the surrogate of [`surrogate_grad`](Self::surrogate_grad), by a
    /// central difference of its gradient along v̂.
    pub fn hvp(
        &mut self,
        batch: &PgBatch,
        weights: &[f64],
        old_logp: &[f64],
        ent_coef: f64,
        v: &[f64],
    ) -> Result<Vec<f64>> {
        let grad = |pol: &Self| pol.surrogate_grad(batch, weights, old_logp, ent_coef);
        match self.central(v, grad)? {
            None => Ok(vec![0.0; v.len()]),
            Some((plus, minus, eps, norm)) => Ok(plus
                .iter()
                .zip(&minus)
                .map(|(a, b)| (a - b) / (2.0 * eps) * norm)
                .collect()),
        }
    }
}

fn check_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(AgentError::config(
            what,
            format!("has {got} entries, expected {want}"),
        ))
    }
}

/// Runs `f(start, end)` on each fixed chunk of `rows` (in parallel), results in chunk order.
fn chunked<T: Send>(rows: usize, f: impl Fn(usize, usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    let chunks = rows.div_ceil(CHUNK_ROWS);
    (0..chunks)
        .into_par_iter()
        .map(|c| f(c * CHUNK_ROWS, ((c + 1) * CHUNK_ROWS).min(rows)))
        .collect()
}
