//! Actor-critic MLPs on candle.
//!
//! Weights are created on the host from a seeded RNG (orthogonal init, as CleanRL: hidden
//! layers gain sqrt(2), policy head 0.01, value head 1, biases 0) and then become candle
//! `Var`s, so a seed fixes the initial network on every device. Linear weights are stored
//! `[in, out]` so the forward pass is a plain `x.matmul(w)` without a transpose.
//!
//! With `ppo.critic_signals` (k privileged critic inputs) the rows fed to the network are
//! `[observation | privileged values]`: the critic trunk takes all `obs_dim + k` columns, the
//! actor the first `obs_dim` (it also accepts rows of exactly `obs_dim`, as evaluation passes).

use candle_core::{DType, Device, Result as CResult, Tensor, Var};
use carrot_envs::Space;
use rand::Rng;

use crate::config::{Activation, DeviceKind, PolicyHead, PpoConfig};
use crate::distributions::{standard_normal, ActionDist, HostDist};
use crate::error::{AgentError, Result};
use crate::native::{DenseIndex, NetLayout};
use crate::ops::{fused_linear, softplus, Act};

/// The action distribution family and its size, resolved against the env's action space.
#[derive(Clone, Debug, PartialEq)]
pub enum HeadKind {
    Categorical {
        n: usize,
    },
    Gaussian {
        dim: usize,
    },
    /// Beta over (0, 1) per dimension, mapped affinely to `[low, high]`.
    Beta {
        low: Vec<f32>,
        high: Vec<f32>,
    },
}

impl HeadKind {
    pub fn resolve(choice: PolicyHead, space: &Space) -> Result<Self> {
        let key = "ppo.policy_head";
        match (choice, space) {
            (PolicyHead::Auto | PolicyHead::Categorical, Space::Discrete { n, .. }) => {
                Ok(HeadKind::Categorical { n: *n })
            }
            (PolicyHead::Auto | PolicyHead::Gaussian, Space::Box { low, .. }) => {
                Ok(HeadKind::Gaussian { dim: low.len() })
            }
            (PolicyHead::Beta, Space::Box { low, high, .. }) => {
                if low.iter().chain(high).any(|v| !v.is_finite()) {
                    return Err(AgentError::config(
                        key,
                        "beta needs finite action bounds; this env's action space is unbounded",
                    ));
                }
                Ok(HeadKind::Beta {
                    low: low.clone(),
                    high: high.clone(),
                })
            }
            (PolicyHead::Categorical, Space::Box { .. }) => Err(AgentError::config(
                key,
                "categorical needs a discrete action space; this env's is continuous",
            )),
            (_, Space::Discrete { .. }) => Err(AgentError::config(
                key,
                "gaussian and beta need a continuous action space; this env's is discrete",
            )),
        }
    }

    /// Floats per stored action.
    pub fn action_dim(&self) -> usize {
        match self {
            HeadKind::Categorical { .. } => 1,
            HeadKind::Gaussian { dim } => *dim,
            HeadKind::Beta { low, .. } => low.len(),
        }
    }

    /// Width of the policy head's linear output.
    fn head_width(&self) -> usize {
        match self {
            HeadKind::Categorical { n } => *n,
            HeadKind::Gaussian { dim } => *dim,
            HeadKind::Beta { low, .. } => 2 * low.len(),
        }
    }

    /// Writes the env action for a stored action (Beta: (0, 1) -> bounds; others unchanged).
    pub fn env_action(&self, stored: &[f32], out: &mut [f32]) {
        match self {
            HeadKind::Beta { low, high } => {
                for (o, (&x, (&lo, &hi))) in
                    out.iter_mut().zip(stored.iter().zip(low.iter().zip(high)))
                {
                    *o = lo + (hi - lo) * x;
                }
            }
            _ => out.copy_from_slice(stored),
        }
    }
}

/// The candle device for a config choice.
pub fn make_device(kind: DeviceKind) -> Result<Device> {
    match kind {
        DeviceKind::Cpu => Ok(Device::Cpu),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => Device::new_cuda(0).map_err(|e| AgentError::Device(e.to_string())),
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => Err(AgentError::Device(
            "device = \"cuda\" needs carrot built with --features cuda".into(),
        )),
    }
}

/// A dense layer `y = x w + b` with `w: [in, out]`.
struct Linear {
    w: Var,
    b: Var,
}

/// The part of the network a parameter tensor belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamGroup {
    /// Actor trunk, policy head, log-std: moves only the policy.
    Actor,
    /// Critic trunk and value head: moves only the value.
    Critic,
    /// The shared trunk (`ppo.shared_trunk = true`): moves both.
    Shared,
}

/// Policy and value networks with named parameters.
pub struct ActorCritic {
    head: HeadKind,
    /// Observation columns (the actor's input width).
    obs_dim: usize,
    /// Privileged columns after the observation, seen by the critic only.
    privileged_dim: usize,
    activation: Activation,
    /// Actor trunk, or the shared trunk.
    actor: Vec<Linear>,
    /// Critic trunk; empty with a shared trunk.
    critic: Vec<Linear>,
    policy: Linear,
    value: Linear,
    log_std: Option<Var>,
    params: Vec<(String, Var)>,
    device: Device,
}

/// Orthogonal `[rows, cols]` matrix scaled by `gain` (Saxe et al.; torch's `orthogonal_`
/// semantics: orthonormal rows or columns, whichever are fewer), from Gram-Schmidt on a
/// Gaussian matrix drawn from `rng`.
pub fn orthogonal<R: Rng + ?Sized>(rng: &mut R, rows: usize, cols: usize, gain: f64) -> Vec<f32> {
    let (long, short) = (rows.max(cols), rows.min(cols));
    // `short` vectors of length `long`, orthonormalized in order.
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(short);
    while q.len() < short {
        let mut v: Vec<f64> = (0..long).map(|_| standard_normal(rng)).collect();
        for u in &q {
            let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= dot * b);
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-8 {
            v.iter_mut().for_each(|a| *a /= norm);
            q.push(v);
        }
    }
    let mut out = vec![0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            // Columns orthonormal when rows >= cols, rows orthonormal otherwise.
            let val = if rows >= cols { q[c][r] } else { q[r][c] };
            out[r * cols + c] = (gain * val) as f32;
        }
    }
    out
}

impl ActorCritic {
    pub fn new<R: Rng + ?Sized>(
        cfg: &PpoConfig,
        obs_dim: usize,
        head: HeadKind,
        device: &Device,
        rng: &mut R,
    ) -> Result<Self> {
        let mut params = Vec::new();
        let mut layer = |name: String, fan_in: usize, fan_out: usize, gain: f64, rng: &mut R| {
            let w = orthogonal(rng, fan_in, fan_out, gain);
            let w = Var::from_vec(w, (fan_in, fan_out), device)?;
            let b = Var::zeros(fan_out, DType::F32, device)?;
            params.push((format!("{name}.weight"), w.clone()));
            params.push((format!("{name}.bias"), b.clone()));
            CResult::Ok(Linear { w, b })
        };
        let hidden_gain = 2f64.sqrt();
        let privileged_dim = cfg.critic_signals.len();
        let mut trunk = |prefix: &str, rng: &mut R| {
            let mut fan_in = if prefix == "critic" {
                obs_dim + privileged_dim
            } else {
                obs_dim
            };
            let mut layers = Vec::new();
            for (i, &h) in cfg.hidden_sizes.iter().enumerate() {
                layers.push(layer(format!("{prefix}.{i}"), fan_in, h, hidden_gain, rng)?);
                fan_in = h;
            }
            CResult::Ok((layers, fan_in))
        };
        let (actor, actor_out) = trunk(if cfg.shared_trunk { "trunk" } else { "actor" }, rng)?;
        let (critic, critic_out) = if cfg.shared_trunk {
            (Vec::new(), actor_out)
        } else {
            trunk("critic", rng)?
        };
        let policy = layer("policy".into(), actor_out, head.head_width(), 0.01, rng)?;
        let value = layer("value".into(), critic_out, 1, 1.0, rng)?;
        let log_std = match head {
            HeadKind::Gaussian { dim } => {
                let init = vec![cfg.log_std_init as f32; dim];
                let v = Var::from_vec(init, dim, device)?;
                params.push(("log_std".into(), v.clone()));
                Some(v)
            }
            _ => None,
        };
        Ok(ActorCritic {
            head,
            obs_dim,
            privileged_dim,
            activation: cfg.activation,
            actor,
            critic,
            policy,
            value,
            log_std,
            params,
            device: device.clone(),
        })
    }

    pub fn head(&self) -> &HeadKind {
        &self.head
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Parameters in a fixed order with their checkpoint names.
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// Which part of the network each of [`params`](Self::params) belongs to, in order.
    pub fn param_groups(&self) -> Vec<ParamGroup> {
        self.params
            .iter()
            .map(|(name, _)| match name.split('.').next() {
                Some("trunk") => ParamGroup::Shared,
                Some("critic" | "value") => ParamGroup::Critic,
                _ => ParamGroup::Actor,
            })
            .collect()
    }

    /// The network's shape for the native learner, with parameter indices in
    /// [`params`](Self::params) order (actor or shared trunk, critic trunk, policy, value,
    /// log-std).
    pub(crate) fn layout(&self) -> NetLayout {
        let mut next = 0;
        let mut index = |l: &Linear| {
            let (fan_in, fan_out) = l.w.as_tensor().dims2().expect("2-d weight");
            next += 2;
            DenseIndex {
                fan_in,
                fan_out,
                weight: next - 2,
                bias: next - 1,
            }
        };
        let actor = self.actor.iter().map(&mut index).collect();
        let critic = self.critic.iter().map(&mut index).collect();
        let (policy, value) = (index(&self.policy), index(&self.value));
        NetLayout {
            head: self.head.clone(),
            obs_dim: self.obs_dim,
            privileged_dim: self.privileged_dim,
            relu: self.activation == Activation::Relu,
            actor,
            critic,
            policy,
            value,
            log_std: self.log_std.as_ref().map(|_| next),
            sizes: self.params.iter().map(|(_, v)| v.elem_count()).collect(),
        }
    }

    pub fn num_parameters(&self) -> usize {
        self.params.iter().map(|(_, v)| v.elem_count()).sum()
    }

    fn hidden(&self, x: &Tensor, l: &Linear) -> CResult<Tensor> {
        let act = match self.activation {
            Activation::Tanh => Act::Tanh,
            Activation::Relu => Act::Relu,
        };
        fused_linear(x, l.w.as_tensor(), l.b.as_tensor(), act)
    }

    fn output(x: &Tensor, l: &Linear) -> CResult<Tensor> {
        fused_linear(x, l.w.as_tensor(), l.b.as_tensor(), Act::Identity)
    }

    fn trunk(&self, obs: &Tensor, layers: &[Linear]) -> CResult<Tensor> {
        let mut x = obs.clone();
        for l in layers {
            x = self.hidden(&x, l)?;
        }
        Ok(x)
    }

    /// Observation columns; the critic's rows have [`privileged_dim`](Self::privileged_dim)
    /// more.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Privileged critic-only columns (`ppo.critic_signals`).
    pub fn privileged_dim(&self) -> usize {
        self.privileged_dim
    }

    /// The actor's columns of `rows`: all of them when they are exactly `obs_dim` wide, else the
    /// first `obs_dim` of critic-wide rows.
    fn actor_input(&self, rows: &Tensor) -> CResult<Tensor> {
        match rows.dim(1)? {
            w if w == self.obs_dim => Ok(rows.clone()),
            w if w == self.obs_dim + self.privileged_dim => {
                rows.narrow(1, 0, self.obs_dim)?.contiguous()
            }
            w => Err(self.width_error(w)),
        }
    }

    /// `rows` when they carry the critic's `obs_dim + privileged_dim` columns.
    fn critic_input<'a>(&self, rows: &'a Tensor) -> CResult<&'a Tensor> {
        match rows.dim(1)? {
            w if w == self.obs_dim + self.privileged_dim => Ok(rows),
            w => Err(self.width_error(w)),
        }
    }

    fn width_error(&self, width: usize) -> candle_core::Error {
        candle_core::Error::Msg(format!(
            "network input has {width} columns, expected {} observation + {} privileged critic",
            self.obs_dim, self.privileged_dim
        ))
    }

    /// Action distribution and values `[B]` for rows `[B, obs_dim + privileged_dim]`.
    pub fn forward(&self, obs: &Tensor) -> CResult<(ActionDist, Tensor)> {
        let actor_features = self.trunk(&self.actor_input(obs)?, &self.actor)?;
        let critic_features = if self.critic.is_empty() {
            actor_features.clone()
        } else {
            self.trunk(self.critic_input(obs)?, &self.critic)?
        };
        let value = Self::output(&critic_features, &self.value)?.squeeze(1)?;
        Ok((self.dist_from(&actor_features)?, value))
    }

    /// Values `[B]` only, for rows `[B, obs_dim + privileged_dim]`.
    pub fn value(&self, obs: &Tensor) -> CResult<Tensor> {
        let features = if self.critic.is_empty() {
            self.trunk(obs, &self.actor)?
        } else {
            self.trunk(self.critic_input(obs)?, &self.critic)?
        };
        Self::output(&features, &self.value)?.squeeze(1)
    }

    /// Action distribution only, for rows of `obs_dim` or `obs_dim + privileged_dim` columns.
    pub fn dist(&self, obs: &Tensor) -> CResult<ActionDist> {
        self.dist_from(&self.trunk(&self.actor_input(obs)?, &self.actor)?)
    }

    fn dist_from(&self, features: &Tensor) -> CResult<ActionDist> {
        let out = Self::output(features, &self.policy)?;
        Ok(match &self.head {
            HeadKind::Categorical { .. } => ActionDist::Categorical { logits: out },
            HeadKind::Gaussian { .. } => ActionDist::Gaussian {
                mean: out,
                log_std: self
                    .log_std
                    .as_ref()
                    .expect("gaussian head has a log-std")
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

    /// Runs the policy without gradients and copies its parameters to the host.
    pub fn host_outputs(&self, obs: &Tensor, with_value: bool) -> CResult<HostOutputs> {
        let obs = obs.detach();
        let (dist, value) = if with_value {
            let (d, v) = self.forward(&obs)?;
            (d, Some(v))
        } else {
            (self.dist(&obs)?, None)
        };
        let values = match value {
            Some(v) => v.to_vec1::<f32>()?,
            None => Vec::new(),
        };
        let flat = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let params = match &dist {
            ActionDist::Categorical { logits } => HostDistParams::Categorical {
                logits: flat(logits)?,
            },
            ActionDist::Gaussian { mean, log_std } => HostDistParams::Gaussian {
                mean: flat(mean)?,
                log_std: flat(log_std)?,
            },
            ActionDist::Beta { alpha, beta } => HostDistParams::Beta {
                alpha: flat(alpha)?,
                beta: flat(beta)?,
            },
        };
        Ok(HostOutputs {
            head: self.head.clone(),
            params,
            values,
        })
    }
}

/// The distribution parameters of a batch, row-major, on the host.
pub enum HostDistParams {
    /// `[B, n]`
    Categorical { logits: Vec<f32> },
    /// `mean: [B, dim]`; `log_std: [dim]`, shared by every row.
    Gaussian { mean: Vec<f32>, log_std: Vec<f32> },
    /// `[B, dim]` each.
    Beta { alpha: Vec<f32>, beta: Vec<f32> },
}

/// Distribution parameters and values of a batch, on the host.
pub struct HostOutputs {
    head: HeadKind,
    pub params: HostDistParams,
    /// `[B]`, empty when values were not asked for.
    pub values: Vec<f32>,
}

impl HostOutputs {
    /// The distribution of row `i`.
    pub fn dist(&self, i: usize) -> HostDist<'_> {
        let width = match &self.head {
            HeadKind::Categorical { n } => *n,
            head => head.action_dim(),
        };
        let row = i * width..(i + 1) * width;
        match &self.params {
            HostDistParams::Categorical { logits } => HostDist::Categorical {
                logits: &logits[row],
            },
            HostDistParams::Gaussian { mean, log_std } => HostDist::Gaussian {
                mean: &mean[row],
                log_std,
            },
            HostDistParams::Beta { alpha, beta } => HostDist::Beta {
                alpha: &alpha[row.clone()],
                beta: &beta[row],
            },
        }
    }
}

#[cfg(test)]
#[path = "networks_tests.rs"]
mod tests;
