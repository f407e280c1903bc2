//! One PPO gradient step on a mini-batch: forward, loss, backward, global grad-norm clip and
//! Adam. Shared by the trainer and the learner benchmark.

use candle_core::{Device, Tensor};

use crate::error::{AgentError, Result};
use crate::losses::{
    normalize_advantages, ppo_loss, Evaluation, LossCoefs, LossStats, PpoLoss, Targets,
};
use crate::networks::ActorCritic;
use crate::optimizer::{clip_grad_norm, host_grads, write_params, Adam};

/// A mini-batch on the host, row-major.
#[derive(Clone, Debug, Default)]
pub struct Minibatch {
    pub len: usize,
    /// `[M, D]`
    pub obs: Vec<f32>,
    /// `[M, A]` in the distribution's stored form.
    pub actions: Vec<f32>,
    pub old_logp: Vec<f32>,
    pub old_values: Vec<f32>,
    pub advantages: Vec<f32>,
    pub returns: Vec<f32>,
}

impl Minibatch {
    pub fn with_capacity(len: usize, obs_dim: usize, action_dim: usize) -> Self {
        Minibatch {
            len,
            obs: vec![0.0; len * obs_dim],
            actions: vec![0.0; len * action_dim],
            old_logp: vec![0.0; len],
            old_values: vec![0.0; len],
            advantages: vec![0.0; len],
            returns: vec![0.0; len],
        }
    }
}

/// Step settings.
#[derive(Clone, Copy, Debug)]
pub struct StepSettings {
    pub coefs: LossCoefs,
    pub max_grad_norm: f64,
    pub norm_adv: bool,
    pub learning_rate: f64,
}

/// Diagnostics of one step: the loss statistics and the gradient norm before clipping.
#[derive(Clone, Copy, Debug)]
pub struct StepStats {
    pub losses: LossStats,
    pub grad_norm: f64,
}

const LOSS_NAMES: [&str; 5] = [
    "policy loss",
    "value loss",
    "entropy",
    "approx_kl",
    "clipfrac",
];

/// Runs one gradient step, updating the network, its host parameter copies and Adam.
/// Non-finite losses or gradients are an error naming `iteration`, with nothing updated.
pub fn gradient_step(
    net: &ActorCritic,
    params: &mut [Vec<f32>],
    adam: &mut Adam,
    mb: &mut Minibatch,
    s: &StepSettings,
    iteration: usize,
) -> Result<StepStats> {
    gradient_step_phases(net, params, adam, mb, s, iteration, &mut |_| {})
}

/// Names of the phases [`gradient_step_phases`] reports, in order.
pub const STEP_PHASES: [&str; 9] = [
    "advantages + host -> tensors",
    "forward (MLPs)",
    "log-prob + entropy",
    "loss",
    "read loss stats",
    "backward",
    "grads -> host",
    "clip + adam",
    "params -> vars",
];

/// The PPO loss of `mb` (advantages as given) under `net`, with the graph back to its
/// parameters; calls `phase_done(i)` as each of the first four [`STEP_PHASES`] ends.
pub fn minibatch_loss(
    net: &ActorCritic,
    mb: &Minibatch,
    coefs: &LossCoefs,
    phase_done: &mut dyn FnMut(usize),
) -> Result<PpoLoss> {
    let dev: &Device = net.device();
    let m = mb.len;
    let obs = Tensor::from_slice(&mb.obs, (m, mb.obs.len() / m), dev)?;
    let act = Tensor::from_slice(&mb.actions, (m, mb.actions.len() / m), dev)?;
    let col = |v: &[f32]| Tensor::from_slice(v, m, dev);
    let (old_logp, old_values) = (col(&mb.old_logp)?, col(&mb.old_values)?);
    let (adv, ret) = (col(&mb.advantages)?, col(&mb.returns)?);
    phase_done(0);
    let (dist, values) = net.forward(&obs)?;
    phase_done(1);
    let logp = dist.log_prob(&act)?;
    let entropy = dist.entropy()?;
    phase_done(2);
    let loss = ppo_loss(
        &Evaluation {
            logp: &logp,
            entropy: &entropy,
            values: &values,
        },
        &Targets {
            old_logp: &old_logp,
            old_values: &old_values,
            advantages: &adv,
            returns: &ret,
        },
        coefs,
    )?;
    phase_done(3);
    Ok(loss)
}

/// [`gradient_step`] calling `phase_done(i)` as each of [`STEP_PHASES`] ends (for profiling).
pub fn gradient_step_phases(
    net: &ActorCritic,
    params: &mut [Vec<f32>],
    adam: &mut Adam,
    mb: &mut Minibatch,
    s: &StepSettings,
    iteration: usize,
    phase_done: &mut dyn FnMut(usize),
) -> Result<StepStats> {
    if s.norm_adv {
        normalize_advantages(&mut mb.advantages);
    }
    let loss = minibatch_loss(net, mb, &s.coefs, phase_done)?;
    let stats = loss.stats.to_vec1::<f32>()?;
    phase_done(4);
    if let Some(bad) = stats.iter().position(|v| !v.is_finite()) {
        return Err(AgentError::NonFinite {
            iteration,
            what: LOSS_NAMES[bad].into(),
        });
    }
    let grads = loss.total.backward()?;
    phase_done(5);
    let mut g = host_grads(net.params(), &grads)?;
    phase_done(6);
    let grad_norm = clip_grad_norm(&mut g, s.max_grad_norm);
    if !grad_norm.is_finite() {
        return Err(AgentError::NonFinite {
            iteration,
            what: "gradient norm".into(),
        });
    }
    adam.update(params, &g, s.learning_rate);
    phase_done(7);
    write_params(net.params(), params)?;
    phase_done(8);
    Ok(StepStats {
        losses: LossStats::from_stats(&stats),
        grad_norm,
    })
}
