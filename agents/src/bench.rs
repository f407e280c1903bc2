//! Learner throughput on synthetic batches, for `carrot bench learner`: PPO epochs through the
//! real gradient step, and a per-phase profile of one step. Also the loss and gradients of one
//! mini-batch on the host, for `carrot bench parity` (device paths against the CPU custom ops).

use std::time::{Duration, Instant};

use candle_core::Tensor;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::config::{CpuLearner, DeviceKind, PpoConfig};
use crate::distributions::standard_normal;
use crate::error::{AgentError, Result};
use crate::learner::{
    gradient_step, gradient_step_phases, loss_and_grads, runs_native, step, Minibatch,
    StepSettings, STEP_PHASES,
};
use crate::losses::LossCoefs;
use crate::networks::{make_device, ActorCritic, HeadKind};
use crate::optimizer::{host_params, Adam};

/// One learner configuration to time.
#[derive(Clone, Debug)]
pub struct LearnerBench {
    pub batch: usize,
    pub hidden: usize,
    pub minibatches: usize,
    pub obs_dim: usize,
    pub head: HeadKind,
    pub epochs: usize,
    pub profile: bool,
    /// Where the network and the step's tensors live.
    pub device: DeviceKind,
    /// The CPU learner (ignored off the CPU).
    pub cpu_learner: CpuLearner,
}

/// Timings of one configuration.
#[derive(Clone, Debug, Serialize)]
pub struct LearnerResult {
    pub batch: usize,
    pub hidden: usize,
    pub minibatch: usize,
    pub ms_per_epoch: f64,
    pub ms_per_step: f64,
    pub samples_per_second: f64,
    pub profile_ms: Option<Vec<(String, f64)>>,
}

/// A synthetic batch whose old log-probabilities come from the network itself (ratio ~ 1).
pub fn synthetic_batch(net: &ActorCritic, obs_dim: usize, len: usize) -> Result<Minibatch> {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
    let head = net.head().clone();
    let a = head.action_dim();
    let mut mb = Minibatch::with_capacity(len, obs_dim, a);
    let normal = |rng: &mut rand_pcg::Pcg64Mcg| standard_normal(rng) as f32;
    mb.obs.iter_mut().for_each(|x| *x = normal(&mut rng));
    for row in mb.actions.chunks_mut(a) {
        match head {
            HeadKind::Categorical { n } => row[0] = rng.random_range(0..n) as f32,
            HeadKind::Gaussian { .. } => row.iter_mut().for_each(|x| *x = normal(&mut rng)),
            HeadKind::Beta { .. } => row
                .iter_mut()
                .for_each(|x| *x = 0.05 + 0.9 * rng.random::<f32>()),
        }
    }
    mb.advantages.iter_mut().for_each(|x| *x = normal(&mut rng));
    mb.returns.iter_mut().for_each(|x| *x = normal(&mut rng));
    let obs = Tensor::from_slice(&mb.obs, (len, obs_dim), net.device())?;
    let act = Tensor::from_slice(&mb.actions, (len, a), net.device())?;
    let (dist, values) = net.forward(&obs)?;
    mb.old_logp = dist.log_prob(&act)?.to_vec1::<f32>()?;
    mb.old_values = values.to_vec1::<f32>()?;
    Ok(mb)
}

/// [`synthetic_batch`] with recorded log-probabilities and values moved off the network's own
/// (seeded), so that ratios spread around 1, some clipped, and approx_kl and clipfrac are not 0.
pub fn parity_batch(net: &ActorCritic, obs_dim: usize, len: usize) -> Result<Minibatch> {
    let mut mb = synthetic_batch(net, obs_dim, len)?;
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(11);
    for v in mb.old_logp.iter_mut().chain(&mut mb.old_values) {
        *v += 0.2 * standard_normal(&mut rng) as f32;
    }
    Ok(mb)
}

/// The PPO loss of one mini-batch and the gradient of every parameter, read to the host.
#[derive(Clone, Debug)]
pub struct LossGradients {
    /// The loss statistics, in [`LossStats::KEYS`](crate::losses::LossStats::KEYS) order.
    pub stats: Vec<f32>,
    /// `(parameter name, flattened gradient)` in [`ActorCritic::params`] order.
    pub grads: Vec<(String, Vec<f32>)>,
}

/// The learner's loss of `mb` (advantages as given) under `net` and its parameter gradients,
/// through the same code as a gradient step, on `net`'s device, the learner `choice` picks on
/// the CPU and the current thread's op paths ([`crate::ops::PortableOps`]).
pub fn loss_gradients(
    net: &ActorCritic,
    mb: &Minibatch,
    coefs: &LossCoefs,
    choice: CpuLearner,
) -> Result<LossGradients> {
    let (stats, grads) = loss_and_grads(net, mb, coefs, choice)?;
    let names = net.params().iter().map(|(name, _)| name.clone());
    Ok(LossGradients {
        stats,
        grads: names.zip(grads).collect(),
    })
}

/// Times PPO epochs of `spec` on a synthetic batch.
pub fn bench_learner(spec: &LearnerBench) -> Result<LearnerResult> {
    let (batch, hidden) = (spec.batch, spec.hidden);
    if spec.minibatches == 0 || !batch.is_multiple_of(spec.minibatches) {
        return Err(AgentError::config(
            "minibatches",
            format!("{} must divide the batch {batch}", spec.minibatches),
        ));
    }
    let cfg = PpoConfig {
        hidden_sizes: vec![hidden, hidden],
        ..Default::default()
    };
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
    let dev = make_device(spec.device)?;
    let net = ActorCritic::new(&cfg, spec.obs_dim, spec.head.clone(), &dev, &mut rng)?;
    let mut params = host_params(net.params())?;
    let mut adam = Adam::new(&params.iter().map(Vec::len).collect::<Vec<_>>());
    let mb_len = batch / spec.minibatches;
    let template = synthetic_batch(&net, spec.obs_dim, mb_len)?;
    let settings = StepSettings {
        coefs: LossCoefs {
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.01,
            vf_coef: 0.5,
        },
        max_grad_norm: 0.5,
        norm_adv: true,
        learning_rate: 3e-4,
        cpu_learner: spec.cpu_learner,
    };
    let mut epoch = |count: usize| -> Result<Duration> {
        let start = Instant::now();
        for _ in 0..count * spec.minibatches {
            let mut mb = template.clone();
            gradient_step(&net, &mut params, &mut adam, &mut mb, &settings, 1)?;
        }
        Ok(start.elapsed())
    };
    epoch(1)?;
    let elapsed = epoch(spec.epochs.max(1))?.as_secs_f64() / spec.epochs.max(1) as f64;
    let profile_ms = if spec.profile {
        Some(profile_step(
            &net,
            &template,
            &settings,
            spec.epochs.max(1),
        )?)
    } else {
        None
    };
    Ok(LearnerResult {
        batch,
        hidden,
        minibatch: mb_len,
        ms_per_epoch: elapsed * 1e3,
        ms_per_step: elapsed * 1e3 / spec.minibatches as f64,
        samples_per_second: batch as f64 / elapsed,
        profile_ms,
    })
}

/// Mean time of each phase of a gradient step, in ms. The graph learner's phases are wall
/// time; the native learner's are CPU time summed over its threads (its chunks run the phases
/// interleaved on every thread), followed by the wall time of the whole gradient evaluation and
/// of the optimizer step.
pub fn profile_step(
    net: &ActorCritic,
    template: &Minibatch,
    s: &StepSettings,
    reps: usize,
) -> Result<Vec<(String, f64)>> {
    let mut params = host_params(net.params())?;
    let mut adam = Adam::new(&params.iter().map(Vec::len).collect::<Vec<_>>());
    if runs_native(net, s.cpu_learner) {
        return profile_native(net, template, s, reps, &mut params, &mut adam);
    }
    let mut totals = [0f64; STEP_PHASES.len()];
    for _ in 0..reps {
        let mut mb = template.clone();
        let mut lap = Instant::now();
        let mut phase_done = |i: usize| {
            totals[i] += lap.elapsed().as_secs_f64() * 1e3;
            lap = Instant::now();
        };
        gradient_step_phases(net, &mut params, &mut adam, &mut mb, s, 1, &mut phase_done)?;
    }
    Ok(STEP_PHASES
        .iter()
        .zip(totals)
        .map(|(n, t)| (n.to_string(), t / reps as f64))
        .collect())
}

fn profile_native(
    net: &ActorCritic,
    template: &Minibatch,
    s: &StepSettings,
    reps: usize,
    params: &mut [Vec<f32>],
    adam: &mut Adam,
) -> Result<Vec<(String, f64)>> {
    let times = crate::native::PhaseTimes::default();
    // Wall time up to the end of phase 6 (loss + gradient) and after it (clip, Adam, vars).
    let mut wall = [0f64; 2];
    for _ in 0..reps {
        let mut mb = template.clone();
        let mut lap = Instant::now();
        let mut phase_done = |i: usize| {
            wall[usize::from(i > 6)] += lap.elapsed().as_secs_f64() * 1e3;
            lap = Instant::now();
        };
        step(
            net,
            params,
            adam,
            &mut mb,
            s,
            1,
            &mut phase_done,
            Some(&times),
        )?;
    }
    let per_rep = |v: f64| v / reps as f64;
    let mut rows: Vec<(String, f64)> = crate::native::PHASES
        .iter()
        .zip(times.millis())
        .map(|(n, t)| (format!("{n} (CPU, all threads)"), per_rep(t)))
        .collect();
    rows.push(("loss + gradient (wall)".into(), per_rep(wall[0])));
    rows.push((
        "clip + adam + params -> vars (wall)".into(),
        per_rep(wall[1]),
    ));
    Ok(rows)
}
