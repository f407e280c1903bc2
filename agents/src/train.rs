//! The PPO training loop: a [`Trainer`] owns the envs, the network, the optimizer and every RNG,
//! and [`Trainer::iterate`] runs one rollout plus one update.
//!
//! Seeding: the network init, the action sampler and the mini-batch shuffler each get their own
//! PCG stream derived from the config seed. The envs restart from seeded resets at the start of
//! every checkpoint segment (`run.checkpoint_every` iterations; segment k resets env i with
//! seed `seed + k N + i`), so the state at a segment boundary is fully described by what a
//! checkpoint saves, and a resumed run replays the uninterrupted one exactly.

use std::time::Instant;

use candle_core::{Device, Tensor};
use carrot_envs::{splitmix64, EnvRng, StepBuffers, VecEnv};
use carrot_rewards::Reward;
use rand::{RngExt, SeedableRng};

use crate::config::TrainConfig;
use crate::error::{AgentError, Result};
use crate::gae::{compute_gae, GaeInput};
use crate::learner::{gradient_step, Minibatch, StepSettings};
use crate::losses::LossCoefs;
use crate::networks::{make_device, ActorCritic, HeadKind};
use crate::normalization::{RewardScaler, RunningMeanStd};
use crate::optimizer::{host_params, Adam};
use crate::rollout::{explained_variance, mean, EpisodeStats, RolloutBuffer};

/// An RNG stream for `purpose` derived from the run seed.
pub(crate) fn stream(seed: u64, purpose: u64) -> EnvRng {
    EnvRng::seed_from_u64(splitmix64(seed ^ splitmix64(purpose)))
}
pub(crate) const INIT_STREAM: u64 = 1;
const ACTION_STREAM: u64 = 2;
const SHUFFLE_STREAM: u64 = 3;

/// One iteration's logged values, in a fixed key order. NaN means "no value" (for example no
/// episode ended); it is written as `null` in JSON and an empty CSV cell.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub entries: Vec<(String, f64)>,
}

impl Metrics {
    fn push(&mut self, key: impl Into<String>, value: f64) {
        self.entries.push((key.into(), value));
    }

    pub fn get(&self, key: &str) -> Option<f64> {
        self.entries.iter().find(|(k, _)| k == key).map(|e| e.1)
    }
}

/// Keys whose values depend on wall-clock time, excluded from determinism comparisons.
pub const WALL_CLOCK_KEYS: &[&str] = &["charts/SPS"];

/// The full state of a training run.
pub struct Trainer {
    pub config: TrainConfig,
    envs: VecEnv,
    reward: Box<dyn Reward>,
    step_buf: StepBuffers,
    pub(crate) net: ActorCritic,
    pub(crate) params: Vec<Vec<f32>>,
    pub(crate) adam: Adam,
    pub(crate) obs_rms: Option<RunningMeanStd>,
    pub(crate) reward_scaler: Option<RewardScaler>,
    pub(crate) action_rng: EnvRng,
    pub(crate) shuffle_rng: EnvRng,
    /// Completed iterations.
    pub(crate) iteration: usize,
    pub(crate) global_step: u64,
    rollout: RolloutBuffer,
    /// Current observations as the policy sees them `[N, D]`.
    policy_obs: Vec<f32>,
    device: Device,
    sps_clock: Option<(Instant, u64)>,
    last_returns: Vec<f64>,
}

impl Trainer {
    pub fn new(config: &TrainConfig) -> Result<Self> {
        config.validate()?;
        let ppo = &config.ppo;
        let envs = config.env.build_vec(ppo.num_envs)?;
        let reward = config.reward.build(envs.signal_spec())?;
        let step_buf = envs.make_buffers(reward.as_ref());
        let head = HeadKind::resolve(ppo.policy_head, envs.action_space())?;
        let device = make_device(ppo.device)?;
        let obs_dim = envs.observation_space().flat_dim();
        let mut init_rng = stream(config.seed, INIT_STREAM);
        let net = ActorCritic::new(ppo, obs_dim, head, &device, &mut init_rng)?;
        let params = host_params(net.params())?;
        let adam = Adam::new(&params.iter().map(Vec::len).collect::<Vec<_>>());
        let rollout = RolloutBuffer::new(
            ppo.num_envs,
            ppo.num_steps,
            obs_dim,
            net.head().action_dim(),
            envs.signal_spec().len(),
        );
        Ok(Trainer {
            config: config.clone(),
            obs_rms: ppo.normalize_obs.then(|| RunningMeanStd::new(obs_dim)),
            reward_scaler: ppo
                .normalize_reward
                .then(|| RewardScaler::new(ppo.num_envs, ppo.gamma)),
            action_rng: stream(config.seed, ACTION_STREAM),
            shuffle_rng: stream(config.seed, SHUFFLE_STREAM),
            iteration: 0,
            global_step: 0,
            policy_obs: vec![0.0; ppo.num_envs * obs_dim],
            envs,
            reward,
            step_buf,
            net,
            params,
            adam,
            rollout,
            device,
            sps_clock: None,
            last_returns: Vec::new(),
        })
    }

    pub fn iteration(&self) -> usize {
        self.iteration
    }

    pub fn global_step(&self) -> u64 {
        self.global_step
    }

    pub fn num_iterations(&self) -> usize {
        self.config.ppo.num_iterations()
    }

    pub fn is_done(&self) -> bool {
        self.iteration >= self.num_iterations()
    }

    pub fn network(&self) -> &ActorCritic {
        &self.net
    }

    pub fn obs_rms(&self) -> Option<&RunningMeanStd> {
        self.obs_rms.as_ref()
    }

    /// Returns of the episodes that ended during the last iteration.
    pub fn last_episode_returns(&self) -> &[f64] {
        &self.last_returns
    }

    /// The stored rollout of the last iteration (signals included).
    pub fn rollout(&self) -> &RolloutBuffer {
        &self.rollout
    }

    /// Learning rate for the next iteration (CleanRL's linear annealing).
    pub fn learning_rate(&self) -> f64 {
        let ppo = &self.config.ppo;
        if ppo.anneal_lr {
            let frac = 1.0 - self.iteration as f64 / self.num_iterations() as f64;
            frac * ppo.learning_rate
        } else {
            ppo.learning_rate
        }
    }

    /// Resets every env from its segment seed.
    fn start_segment(&mut self) -> Result<()> {
        let n = self.config.ppo.num_envs as u64;
        let segment = (self.iteration / self.config.run.checkpoint_every) as u64;
        let seed = self.config.seed.wrapping_add(segment * n);
        self.envs.reset(seed, &mut self.step_buf)?;
        if let Some(s) = &mut self.reward_scaler {
            s.reset_returns();
        }
        self.observe_step_obs();
        Ok(())
    }

    /// Updates observation statistics and writes the policy's view of `step_buf.obs`.
    fn observe_step_obs(&mut self) {
        self.policy_obs.copy_from_slice(&self.step_buf.obs);
        if let Some(rms) = &mut self.obs_rms {
            rms.update(&self.step_buf.obs);
            rms.normalize(&mut self.policy_obs, self.config.ppo.normalize_clip);
        }
    }

    fn tensor(&self, data: &[f32], rows: usize) -> Result<Tensor> {
        Ok(Tensor::from_slice(
            data,
            (rows, data.len() / rows.max(1)),
            &self.device,
        )?)
    }

    /// Collects one rollout into `self.rollout`, returning V(obs) after the last step.
    fn collect(&mut self, stats: &mut EpisodeStats) -> Result<Vec<f32>> {
        let (n, d) = (self.config.ppo.num_envs, self.rollout.obs_dim);
        let a = self.rollout.action_dim;
        let s = self.rollout.num_signals;
        let clip = self.config.ppo.normalize_clip;
        let act_dim = self.envs.action_space().flat_dim();
        let mut env_actions = vec![0f32; n * act_dim];
        for t in 0..self.config.ppo.num_steps {
            let base = t * n;
            let obs = self.tensor(&self.policy_obs, n)?;
            let out = self.net.host_outputs(&obs, true)?;
            self.rollout.obs[base * d..(base + n) * d].copy_from_slice(&self.policy_obs);
            for i in 0..n {
                let stored = &mut self.rollout.actions[(base + i) * a..(base + i + 1) * a];
                let logp = out.dist(i).sample(&mut self.action_rng, stored);
                self.net
                    .head()
                    .env_action(stored, &mut env_actions[i * act_dim..(i + 1) * act_dim]);
                self.rollout.logp[base + i] = logp;
                self.rollout.values[base + i] = out.values[i];
            }
            self.envs
                .step(&env_actions, self.reward.as_ref(), &mut self.step_buf)?;
            self.global_step += n as u64;
            stats.record(&self.step_buf);
            let buf = &self.step_buf;
            let rewards = &mut self.rollout.rewards[base..base + n];
            rewards.copy_from_slice(&buf.rewards);
            let done: Vec<bool> = (0..n).map(|i| buf.done(i)).collect();
            if let Some(scaler) = &mut self.reward_scaler {
                scaler.scale(rewards, &done, clip);
            }
            self.rollout.terminated[base..base + n].copy_from_slice(&buf.terminated);
            self.rollout.truncated[base..base + n].copy_from_slice(&buf.truncated);
            self.rollout.signals[base * s..(base + n) * s].copy_from_slice(&buf.signals);
            self.bootstrap_truncations(base)?;
            self.observe_step_obs();
        }
        let obs = self.tensor(&self.policy_obs, n)?;
        Ok(self.net.value(&obs)?.to_vec1::<f32>()?)
    }

    /// V(final observation) of the envs truncated at this step, normalized with the current
    /// statistics.
    fn bootstrap_truncations(&mut self, base: usize) -> Result<()> {
        let buf = &self.step_buf;
        let rows: Vec<usize> = (0..buf.num_envs)
            .filter(|&i| buf.truncated[i] && !buf.terminated[i])
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let mut final_obs: Vec<f32> = rows
            .iter()
            .flat_map(|&i| buf.final_obs_row(i).iter().copied())
            .collect();
        if let Some(rms) = &self.obs_rms {
            rms.normalize(&mut final_obs, self.config.ppo.normalize_clip);
        }
        let obs = self.tensor(&final_obs, rows.len())?;
        let values = self.net.value(&obs)?.to_vec1::<f32>()?;
        for (&i, v) in rows.iter().zip(values) {
            self.rollout.truncation_values[base + i] = v;
        }
        Ok(())
    }

    /// Runs one iteration (rollout + update) and returns its metrics.
    pub fn iterate(&mut self) -> Result<Metrics> {
        if self.is_done() {
            return Err(AgentError::config(
                "ppo.total_timesteps",
                "the run already reached its total_timesteps",
            ));
        }
        let clock = *self
            .sps_clock
            .get_or_insert_with(|| (Instant::now(), self.global_step));
        if self
            .iteration
            .is_multiple_of(self.config.run.checkpoint_every)
        {
            self.start_segment()?;
        }
        let lr = self.learning_rate();
        let spec = self.envs.signal_spec().clone();
        let mut stats = EpisodeStats::new(
            spec.len(),
            self.reward.term_names().len(),
            self.envs.episode_metric_names().len(),
            self.reward.cause_names().len(),
        );
        let last_values = self.collect(&mut stats)?;
        let (advantages, returns) = compute_gae(
            &GaeInput {
                num_envs: self.config.ppo.num_envs,
                rewards: &self.rollout.rewards,
                values: &self.rollout.values,
                terminated: &self.rollout.terminated,
                truncated: &self.rollout.truncated,
                truncation_values: &self.rollout.truncation_values,
                last_values: &last_values,
            },
            self.config.ppo.gamma,
            self.config.ppo.gae_lambda,
        );
        let update = self.update(&advantages, &returns, lr)?;
        self.iteration += 1;
        self.last_returns.clone_from(&stats.returns);

        let mut m = Metrics::default();
        m.push("iteration", self.iteration as f64);
        m.push("global_step", self.global_step as f64);
        m.push("charts/episodic_return", mean(&stats.returns));
        m.push("charts/episodic_length", mean(&stats.lengths));
        m.push("charts/episodes", stats.episodes() as f64);
        let elapsed = clock.0.elapsed().as_secs_f64().max(1e-9);
        m.push("charts/SPS", (self.global_step - clock.1) as f64 / elapsed);
        m.push("charts/learning_rate", lr);
        let names = [
            "losses/policy_loss",
            "losses/value_loss",
            "losses/entropy",
            "losses/approx_kl",
            "losses/clipfrac",
        ];
        for (k, v) in names.iter().zip(update.stats) {
            m.push(*k, v);
        }
        m.push(
            "losses/explained_variance",
            explained_variance(&self.rollout.values, &returns),
        );
        m.push("losses/grad_norm", update.grad_norm);
        m.push("losses/epochs", update.epochs as f64);
        let per_episode = |sum: f64| sum / stats.episodes() as f64;
        for (name, &sum) in spec.names().zip(&stats.signal_sums) {
            m.push(format!("signals/{name}"), per_episode(sum));
        }
        for (name, &sum) in self.reward.term_names().iter().zip(&stats.term_sums) {
            m.push(format!("reward_terms/{name}"), per_episode(sum));
        }
        let metric_names = self.envs.episode_metric_names();
        for (name, &sum) in metric_names.iter().zip(&stats.metric_sums) {
            m.push(format!("episode/{name}"), per_episode(sum));
        }
        m.push("terminations/terminated", stats.terminated as f64);
        m.push("terminations/truncated", stats.truncated as f64);
        m.push(
            "terminations/physics_failure",
            stats.physics_failures as f64,
        );
        for (name, &c) in self.reward.cause_names().iter().zip(&stats.causes) {
            m.push(format!("terminations/{name}"), c as f64);
        }
        Ok(m)
    }

    /// PPO epochs over the rollout.
    fn update(&mut self, advantages: &[f32], returns: &[f32], lr: f64) -> Result<UpdateStats> {
        let ppo = &self.config.ppo;
        let batch = self.rollout.len();
        let mb_len = ppo.minibatch_len();
        let (d, a) = (self.rollout.obs_dim, self.rollout.action_dim);
        let settings = StepSettings {
            coefs: LossCoefs {
                clip_coef: ppo.clip_coef,
                clip_vloss: ppo.clip_vloss,
                ent_coef: ppo.ent_coef,
                vf_coef: ppo.vf_coef,
            },
            max_grad_norm: ppo.max_grad_norm,
            norm_adv: ppo.norm_adv,
            learning_rate: lr,
        };
        let (epochs_max, target_kl) = (ppo.update_epochs, ppo.target_kl);
        let mut order: Vec<usize> = (0..batch).collect();
        let mut sums = [0f64; 5];
        let (mut count, mut grad_norm_sum, mut epochs) = (0usize, 0f64, 0usize);
        let mut mb = Minibatch::with_capacity(mb_len, d, a);
        let r = &self.rollout;
        for _ in 0..epochs_max {
            epochs += 1;
            for i in (1..batch).rev() {
                let j = self.shuffle_rng.random_range(0..=i);
                order.swap(i, j);
            }
            let mut last_kl = 0.0;
            for chunk in order.chunks(mb_len) {
                for (k, &idx) in chunk.iter().enumerate() {
                    mb.obs[k * d..(k + 1) * d].copy_from_slice(&r.obs[idx * d..(idx + 1) * d]);
                    mb.actions[k * a..(k + 1) * a]
                        .copy_from_slice(&r.actions[idx * a..(idx + 1) * a]);
                    mb.old_logp[k] = r.logp[idx];
                    mb.old_values[k] = r.values[idx];
                    mb.advantages[k] = advantages[idx];
                    mb.returns[k] = returns[idx];
                }
                let step = gradient_step(
                    &self.net,
                    &mut self.params,
                    &mut self.adam,
                    &mut mb,
                    &settings,
                    self.iteration + 1,
                )?;
                for (s, v) in sums.iter_mut().zip(&step.losses) {
                    *s += *v as f64;
                }
                grad_norm_sum += step.grad_norm;
                count += 1;
                last_kl = step.losses[3] as f64;
            }
            if target_kl.is_some_and(|kl| last_kl > kl) {
                break;
            }
        }
        Ok(UpdateStats {
            stats: sums.map(|s| s / count as f64),
            grad_norm: grad_norm_sum / count as f64,
            epochs,
        })
    }
}

struct UpdateStats {
    /// Means over mini-batches of policy loss, value loss, entropy, approx KL, clip fraction.
    stats: [f64; 5],
    grad_norm: f64,
    epochs: usize,
}
