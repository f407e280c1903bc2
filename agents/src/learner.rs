//! One PPO gradient step on a mini-batch: forward, loss, backward, global grad-norm clip and
//! Adam. Shared by the trainer and the learner benchmark.

use std::ops::Range;

use candle_core::{Device, Tensor};

use crate::config::CpuLearner;
use crate::error::{AgentError, Result};
use crate::losses::{
    normalize_advantages, ppo_loss, Evaluation, LossCoefs, LossStats, PpoLoss, Targets,
};
use crate::native;
use crate::networks::ActorCritic;
use crate::ops::PortableOps;
use crate::optimizer::{clip_grad_norm, host_grads, host_params, write_params, Adam};

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
    /// The CPU learner (other devices use candle's graph).
    pub cpu_learner: CpuLearner,
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

/// Whether a gradient of `net` under `choice` runs the native learner: on the CPU, unless the
/// graph is asked for or [`PortableOps`] forces candle primitives on this thread.
pub fn runs_native(net: &ActorCritic, choice: CpuLearner) -> bool {
    choice == CpuLearner::Native && net.device().is_cpu() && !PortableOps::is_active()
}

/// Names of the phases [`gradient_step_phases`] reports, in order (the graph learner; the
/// native one reports the end of phase 6, loss and gradients, and the last two).
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

/// On the CPU, mini-batches longer than this many rows are evaluated in chunks of this many
/// rows and their gradients summed (each chunk's loss weighted by its share of the rows), so
/// the activations of a pass stay in cache instead of streaming through memory: at batch
/// 32,768 with hidden 64 one pass over the whole mini-batch ran at about 60% of the
/// per-sample speed of a 4,096-row pass. Mini-batches up to this size take one pass, exactly
/// as before chunking existed; longer ones differ from one pass in the last bits only.
pub const CPU_CHUNK_ROWS: usize = 4096;

/// The row ranges one gradient evaluation of an `m`-row mini-batch runs over on `dev`.
fn row_chunks(m: usize, dev: &Device) -> Vec<Range<usize>> {
    if !dev.is_cpu() || m <= CPU_CHUNK_ROWS {
        return std::iter::once(0..m).collect();
    }
    (0..m)
        .step_by(CPU_CHUNK_ROWS)
        .map(|a| a..(a + CPU_CHUNK_ROWS).min(m))
        .collect()
}

/// The PPO loss of `mb` (advantages as given) under `net`, with the graph back to its
/// parameters; calls `phase_done(i)` as each of the first four [`STEP_PHASES`] ends.
pub fn minibatch_loss(
    net: &ActorCritic,
    mb: &Minibatch,
    coefs: &LossCoefs,
    phase_done: &mut dyn FnMut(usize),
) -> Result<PpoLoss> {
    rows_loss(net, mb, 0..mb.len, coefs, phase_done)
}

/// [`minibatch_loss`] of the rows `rows` of `mb` alone (a mean over those rows).
fn rows_loss(
    net: &ActorCritic,
    mb: &Minibatch,
    rows: Range<usize>,
    coefs: &LossCoefs,
    phase_done: &mut dyn FnMut(usize),
) -> Result<PpoLoss> {
    let dev: &Device = net.device();
    let m = rows.len();
    let (obs_dim, act_dim) = (mb.obs.len() / mb.len, mb.actions.len() / mb.len);
    fn block<'a>(v: &'a [f32], rows: &Range<usize>, width: usize) -> &'a [f32] {
        &v[rows.start * width..rows.end * width]
    }
    let obs = Tensor::from_slice(block(&mb.obs, &rows, obs_dim), (m, obs_dim), dev)?;
    let act = Tensor::from_slice(block(&mb.actions, &rows, act_dim), (m, act_dim), dev)?;
    let col = |v: &[f32]| Tensor::from_slice(block(v, &rows, 1), m, dev);
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
    step(net, params, adam, mb, s, iteration, phase_done, None)
}

/// [`gradient_step_phases`]; the native learner adds the CPU time of its own phases to
/// `native_times` when given.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step(
    net: &ActorCritic,
    params: &mut [Vec<f32>],
    adam: &mut Adam,
    mb: &mut Minibatch,
    s: &StepSettings,
    iteration: usize,
    phase_done: &mut dyn FnMut(usize),
    native_times: Option<&native::PhaseTimes>,
) -> Result<StepStats> {
    if s.norm_adv {
        normalize_advantages(&mut mb.advantages);
    }
    let mut check = |stats: &[f32]| match stats.iter().position(|v| !v.is_finite()) {
        Some(bad) => Err(AgentError::NonFinite {
            iteration,
            what: LOSS_NAMES[bad].into(),
        }),
        None => Ok(()),
    };
    let (stats, mut g) = if runs_native(net, s.cpu_learner) {
        let (stats, g) = native_loss_and_grads(net, params, mb, &s.coefs, native_times)?;
        phase_done(6);
        check(&stats)?;
        (stats, g)
    } else {
        graph_loss_and_grads(net, mb, &s.coefs, phase_done, &mut check)?
    };
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

/// The loss statistics of `mb` (advantages as given) and every parameter's gradient on the
/// host, through the learner [`runs_native`] picks for `choice`.
pub fn loss_and_grads(
    net: &ActorCritic,
    mb: &Minibatch,
    coefs: &LossCoefs,
    choice: CpuLearner,
) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
    if runs_native(net, choice) {
        native_loss_and_grads(net, &host_params(net.params())?, mb, coefs, None)
    } else {
        graph_loss_and_grads(net, mb, coefs, &mut |_| {}, &mut |_| Ok(()))
    }
}

/// The native learner's loss statistics and gradients of `mb` under `params` (the host copy
/// of `net`'s parameters); `times` collects its phases when profiling.
pub(crate) fn native_loss_and_grads(
    net: &ActorCritic,
    params: &[Vec<f32>],
    mb: &Minibatch,
    coefs: &LossCoefs,
    times: Option<&native::PhaseTimes>,
) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
    native::loss_and_grads(&net.layout(), params, mb, coefs, times)
        .map_err(|e| AgentError::Tensor(format!("native learner: {e}")))
}

/// The graph learner's loss statistics of `mb` (advantages as given) and every parameter's
/// gradient on the host, over row chunks of [`CPU_CHUNK_ROWS`]: each chunk's loss is weighted
/// by its share of the rows, so the sums are the whole mini-batch's mean loss and its gradient.
/// `check(stats)` sees each chunk's statistics before its backward pass. Calls
/// `phase_done(i)` for phases 0 to 6 of [`STEP_PHASES`], once per chunk.
pub fn graph_loss_and_grads(
    net: &ActorCritic,
    mb: &Minibatch,
    coefs: &LossCoefs,
    phase_done: &mut dyn FnMut(usize),
    check: &mut dyn FnMut(&[f32]) -> Result<()>,
) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
    // The first chunk sets the sums and later ones add to them. A whole mini-batch is one chunk
    // of weight 1: no rescaling, and its f32 statistics go through f64 and back unchanged, so
    // one pass is bit for bit what it was before chunking.
    let mut stats_sum: Vec<f64> = Vec::new();
    let mut g_sum: Vec<Vec<f32>> = Vec::new();
    for rows in row_chunks(mb.len, net.device()) {
        let weight = rows.len() as f64 / mb.len as f64;
        let loss = rows_loss(net, mb, rows, coefs, phase_done)?;
        let stats = loss.stats.to_vec1::<f32>()?;
        phase_done(4);
        check(&stats)?;
        let weighted = stats.iter().map(|&v| weight * v as f64);
        if stats_sum.is_empty() {
            stats_sum = weighted.collect();
        } else {
            stats_sum
                .iter_mut()
                .zip(weighted)
                .for_each(|(a, b)| *a += b);
        }
        let total = if weight == 1.0 {
            loss.total
        } else {
            loss.total.affine(weight, 0.0)?
        };
        let grads = total.backward()?;
        phase_done(5);
        let g = host_grads(net.params(), &grads)?;
        if g_sum.is_empty() {
            g_sum = g;
        } else {
            for (sum, part) in g_sum.iter_mut().zip(&g) {
                sum.iter_mut().zip(part).for_each(|(a, b)| *a += b);
            }
        }
        phase_done(6);
    }
    Ok((stats_sum.into_iter().map(|v| v as f32).collect(), g_sum))
}

#[cfg(test)]
#[path = "learner_tests.rs"]
pub(crate) mod tests;
