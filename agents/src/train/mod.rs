//! The PPO training loop: a [`Trainer`] owns the envs, the network, the optimizer and every RNG,
//! and [`Trainer::iterate`] runs one rollout plus one update; [`Trainer::iterate_with`] runs an
//! [`IterationHook`] between the two (`collect` and `update` are the submodules of the phases).
//!
//! Seeding: the network init, the action sampler and the mini-batch shuffler each get their own
//! PCG stream derived from the config seed. The envs are reset once, before the first
//! iteration (env i with seed `seed + i`), and then autoreset forever: checkpoints carry the
//! envs mid-episode ([`CollectionState`]), so `run.checkpoint_every` changes nothing in
//! training and a resumed run replays the uninterrupted one exactly. A checkpoint without that
//! state (older carrot, or an env without snapshots) resumes with a seeded reset instead (env
//! i with seed `seed + k N + i` at iteration k x `checkpoint_every`, as checkpoint segments
//! used to start).

mod collect;
mod hook;
mod snapshot;
mod update;

use std::time::Instant;

use candle_core::Device;
use carrot_envs::{splitmix64, EnvRng, SignalSpec, StepBuffers, VecEnv};
use carrot_rewards::Reward;
use rand::SeedableRng;

use crate::config::TrainConfig;
use crate::error::{AgentError, Result};
use crate::gae::{compute_gae, GaeInput};
use crate::losses::LossStats;
use crate::networks::{ActorCritic, ParamGroup};
use crate::normalization::{RewardScaler, RunningMeanStd};
use crate::optimizer::{host_params, Adam};
use crate::policy::Policy;
use crate::rollout::{explained_variance, mean, EpisodeStats, RolloutBuffer};
use crate::train::update::UpdateStats;

pub use crate::train::hook::{Collected, HookOutput, IterationHook, NoHook};
pub use crate::train::snapshot::CollectionState;

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
pub struct IterationMetrics {
    pub entries: Vec<(String, f64)>,
}

impl IterationMetrics {
    pub fn push(&mut self, key: impl Into<String>, value: f64) {
        self.entries.push((key.into(), value));
    }

    pub fn get(&self, key: &str) -> Option<f64> {
        self.entries.iter().find(|(k, _)| k == key).map(|e| e.1)
    }
}

/// Keys whose values depend on wall-clock time, excluded from determinism comparisons.
pub const WALL_CLOCK_KEYS: &[&str] = &["charts/SPS"];

/// Wall-clock seconds a trainer spent in each phase of its iterations since it was built (not
/// checkpointed, never in the metrics: a timing must not make two runs differ).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct PhaseSeconds {
    /// Stepping the envs, the policy's forward pass for actions and values, the reward.
    pub collect: f64,
    /// Reward scaling, GAE, critic refits and the PPO epochs.
    pub learn: f64,
    /// The iteration hook (bilevel outer steps, preference learning), before and after the update.
    pub hook: f64,
}

impl PhaseSeconds {
    pub fn total(&self) -> f64 {
        self.collect + self.learn + self.hook
    }

    /// One log line: each phase's seconds and share of the total.
    pub fn describe(&self) -> String {
        let share = |s: f64| 100.0 * s / self.total().max(1e-12);
        format!(
            "time in phases: collect {:.1} s ({:.0}%), learn {:.1} s ({:.0}%), hook {:.1} s ({:.0}%)",
            self.collect,
            share(self.collect),
            self.learn,
            share(self.learn),
            self.hook,
            share(self.hook)
        )
    }
}

/// The full state of a training run.
pub struct Trainer {
    pub config: TrainConfig,
    envs: VecEnv,
    reward: Box<dyn Reward>,
    step_buf: StepBuffers,
    pub(crate) policy: Policy,
    pub(crate) params: Vec<Vec<f32>>,
    pub(crate) adam: Adam,
    pub(crate) reward_scaler: Option<RewardScaler>,
    pub(crate) action_rng: EnvRng,
    pub(crate) shuffle_rng: EnvRng,
    /// Completed iterations.
    pub(crate) iteration: usize,
    pub(crate) global_step: u64,
    rollout: RolloutBuffer,
    /// Signal indices of `ppo.critic_signals`, the privileged critic inputs.
    critic_signals: Vec<usize>,
    /// Current observations as the policy sees them, followed by the privileged critic
    /// inputs `[N, D + K]`.
    policy_obs: Vec<f32>,
    /// Normalized observations `[N, D]` before the privileged columns are appended.
    obs_scratch: Vec<f32>,
    device: Device,
    sps_clock: Option<(Instant, u64)>,
    phase_seconds: PhaseSeconds,
    last_returns: Vec<f64>,
    /// The envs need a seeded reset before the next rollout: before the first one, and after
    /// resuming from a checkpoint without a [`CollectionState`].
    needs_reset: bool,
}

impl Trainer {
    pub fn new(config: &TrainConfig) -> Result<Self> {
        config.validate()?;
        let ppo = &config.ppo;
        let envs = config.env.build_vec(ppo.num_envs)?;
        let reward = config.reward.build(envs.signal_spec())?;
        let critic_signals = ppo.resolve_critic_signals(envs.signal_spec())?;
        let row_dim = envs.observation_space().flat_dim() + critic_signals.len();
        let step_buf = envs.make_buffers(reward.as_ref());
        let obs_dim = envs.observation_space().flat_dim();
        let policy = Policy::new(config, obs_dim, envs.action_space())?;
        let device = policy.device().clone();
        let params = host_params(policy.net.params())?;
        let adam = Adam::new(&params.iter().map(Vec::len).collect::<Vec<_>>());
        let mut rollout = RolloutBuffer::new(
            ppo.num_envs,
            ppo.num_steps,
            row_dim,
            policy.head().action_dim(),
            envs.signal_spec().len(),
        );
        rollout.privileged_dim = critic_signals.len();
        Ok(Trainer {
            config: config.clone(),
            reward_scaler: ppo
                .normalize_reward
                .then(|| RewardScaler::new(ppo.num_envs, ppo.gamma)),
            action_rng: stream(config.seed, ACTION_STREAM),
            shuffle_rng: stream(config.seed, SHUFFLE_STREAM),
            iteration: 0,
            global_step: 0,
            policy_obs: vec![0.0; ppo.num_envs * row_dim],
            obs_scratch: vec![0.0; ppo.num_envs * obs_dim],
            critic_signals,
            envs,
            reward,
            step_buf,
            policy,
            params,
            adam,
            rollout,
            device,
            sps_clock: None,
            phase_seconds: PhaseSeconds::default(),
            last_returns: Vec::new(),
            needs_reset: true,
        })
    }

    /// Where this trainer's iterations spent their wall-clock time.
    pub fn phase_seconds(&self) -> PhaseSeconds {
        self.phase_seconds
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
        &self.policy.net
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn obs_rms(&self) -> Option<&RunningMeanStd> {
        self.policy.obs_rms.as_ref()
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

    /// The trainer's host copies of the network parameters, in [`ActorCritic::params`] order.
    pub fn host_params(&self) -> &[Vec<f32>] {
        &self.params
    }

    /// Which part of the network each of [`host_params`](Self::host_params) belongs to.
    pub fn param_groups(&self) -> Vec<ParamGroup> {
        self.policy.net.param_groups()
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The env-side reward (the config's `[reward]`), which decides terminations and scores
    /// `charts/episodic_return`.
    pub fn reward(&self) -> &dyn Reward {
        self.reward.as_ref()
    }

    pub fn signal_spec(&self) -> &SignalSpec {
        self.envs.signal_spec()
    }

    /// The rollout, for hooks that relabel `rewards` between collection and GAE.
    pub fn rollout_mut(&mut self) -> &mut RolloutBuffer {
        &mut self.rollout
    }

    /// The GAE inputs of the current rollout with `last_values` (see [`Collected`]).
    pub fn gae_input<'a>(&'a self, last_values: &'a [f32]) -> GaeInput<'a> {
        let r = &self.rollout;
        GaeInput {
            num_envs: r.num_envs,
            rewards: &r.rewards,
            values: &r.values,
            terminated: &r.terminated,
            truncated: &r.truncated,
            truncation_values: &r.truncation_values,
            last_values,
        }
    }

    /// Runs one plain PPO iteration (rollout + update) and returns its metrics.
    pub fn iterate(&mut self) -> Result<IterationMetrics> {
        self.iterate_with(&mut NoHook)
    }

    /// Runs one iteration with `hook` between collection and the update (see
    /// [`IterationHook`] for the order of the phases).
    pub fn iterate_with(&mut self, hook: &mut dyn IterationHook) -> Result<IterationMetrics> {
        if self.is_done() {
            return Err(AgentError::config(
                "ppo.total_timesteps",
                "the run already reached its total_timesteps",
            ));
        }
        let clock = *self
            .sps_clock
            .get_or_insert_with(|| (Instant::now(), self.global_step));
        if self.needs_reset {
            self.start_segment()?;
            self.needs_reset = false;
        }
        let mut stats = EpisodeStats::new(
            self.envs.signal_spec().len(),
            self.reward.term_names().len(),
            self.envs.episode_metric_names().len(),
            self.reward.cause_names().len(),
        );
        let mut lap = Instant::now();
        let mut split = |into: &mut f64| {
            *into += lap.elapsed().as_secs_f64();
            lap = Instant::now();
        };
        let mut times = self.phase_seconds;
        let last_values = self.collect(&mut stats)?;
        let collected = Collected {
            stats,
            last_values,
            lr: self.learning_rate(),
        };
        split(&mut times.collect);
        let hooked = hook.after_collect(self, &collected)?;
        split(&mut times.hook);
        self.scale_rewards();
        let gamma = hooked.gamma.unwrap_or(self.config.ppo.gamma);
        let gae_lambda = self.config.ppo.gae_lambda;
        let (advantages, returns) =
            compute_gae(&self.gae_input(&collected.last_values), gamma, gae_lambda);
        if hooked.refit_critic_epochs > 0 {
            self.critic_refit(&returns, hooked.refit_critic_epochs)?;
        }
        let update = self.update(&advantages, &returns, collected.lr)?;
        self.iteration += 1;
        split(&mut times.learn);
        let after = hook.after_update(self)?;
        split(&mut times.hook);
        self.phase_seconds = times;
        self.last_returns.clone_from(&collected.stats.returns);
        let mut m = self.iteration_metrics(&collected, &update, &returns, clock);
        m.entries.extend(hooked.metrics.entries);
        m.entries.extend(after.entries);
        Ok(m)
    }

    /// The trainer's metrics of the iteration that just ended.
    fn iteration_metrics(
        &self,
        collected: &Collected,
        update: &UpdateStats,
        returns: &[f32],
        clock: (Instant, u64),
    ) -> IterationMetrics {
        let stats = &collected.stats;
        let mut m = IterationMetrics::default();
        m.push("iteration", self.iteration as f64);
        m.push("global_step", self.global_step as f64);
        m.push("charts/episodic_return", mean(&stats.returns));
        m.push("charts/episodic_length", mean(&stats.lengths));
        m.push("charts/episodes", stats.episodes() as f64);
        let elapsed = clock.0.elapsed().as_secs_f64().max(1e-9);
        m.push("charts/SPS", (self.global_step - clock.1) as f64 / elapsed);
        m.push("charts/learning_rate", collected.lr);
        for (k, v) in LossStats::KEYS.iter().zip(update.losses.values()) {
            m.push(*k, v);
        }
        m.push(
            "losses/explained_variance",
            explained_variance(&self.rollout.values, returns),
        );
        m.push("losses/grad_norm", update.grad_norm);
        m.push("losses/epochs", update.epochs as f64);
        let per_episode = |sum: f64| sum / stats.episodes() as f64;
        for (name, &sum) in self.envs.signal_spec().names().zip(&stats.signal_sums) {
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
        m
    }
}
