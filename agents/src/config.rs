//! Training configuration: one flat [`PpoConfig`] with CleanRL's defaults, and the top-level
//! [`TrainConfig`] a run is described by (seed, env, reward, PPO, run settings).
//!
//! Every struct rejects unknown keys and fills missing ones with defaults, so a TOML file only
//! names what differs:
//!
//! ```toml
//! seed = 1
//! [env]
//! id = "cartpole"
//! [ppo]
//! num_envs = 8
//! learning_rate = 3e-4
//! [run]
//! checkpoint_every = 20
//! ```

use carrot_envs::{EnvConfig, SignalSpec};
use carrot_rewards::RewardConfig;
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Result};
use crate::outer_config::OuterConfig;
use crate::preference_config::PreferenceConfig;

/// Hidden-layer nonlinearity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    #[default]
    Tanh,
    Relu,
}

/// Action distribution. `Auto` picks categorical for discrete spaces and Gaussian for boxes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyHead {
    #[default]
    Auto,
    Categorical,
    /// Diagonal Gaussian with a state-independent log-std; the env clips samples to bounds.
    Gaussian,
    /// Beta with alpha, beta = softplus(.) + 1, scaled to the (finite) action bounds.
    Beta,
}

/// Where tensors live. CUDA needs the `cuda` feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    #[default]
    Cpu,
    Cuda,
}

/// How the PPO gradient is computed on the CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuLearner {
    /// The loss and gradient written out by hand, in cache-sized chunks of rows (fast).
    #[default]
    Native,
    /// candle's autodiff graph, as every learner before 2026-12-07 (reproduces their runs
    /// bit for bit). Other devices always use the graph.
    Graph,
}

/// PPO hyperparameters. Defaults are CleanRL's `ppo.py` / `ppo_continuous_action.py` ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpoConfig {
    /// Parallel envs N.
    pub num_envs: usize,
    /// Steps per env per rollout T; the batch is N x T.
    pub num_steps: usize,
    /// Env steps to train for; iterations = total_timesteps / (N x T).
    pub total_timesteps: u64,
    pub learning_rate: f64,
    /// Linear decay of the learning rate to 0 over the run.
    pub anneal_lr: bool,
    pub gamma: f64,
    pub gae_lambda: f64,
    /// Mini-batches per epoch, used only while `minibatch_size` is unset (CleanRL's input).
    ///
    /// The one rule for mini-batch sizing ([`PpoConfig::minibatch_len`]): `minibatch_size` when
    /// set, else `num_envs * num_steps / num_minibatches`. Whichever is used must divide the
    /// batch, or validation names it in a one-line error. Both keys stay so that every stored
    /// `config.toml` still resolves to the same run.
    pub num_minibatches: usize,
    /// Mini-batch size; when set it wins over `num_minibatches`. Must divide the batch.
    pub minibatch_size: Option<usize>,
    pub update_epochs: usize,
    /// Normalize advantages per mini-batch.
    pub norm_adv: bool,
    pub clip_coef: f64,
    /// Clip the value loss around the rollout's values (CleanRL's `clip_vloss`).
    pub clip_vloss: bool,
    pub ent_coef: f64,
    pub vf_coef: f64,
    /// Global gradient-norm clip.
    pub max_grad_norm: f64,
    /// Stop the epochs of an update once the approximate KL exceeds this.
    pub target_kl: Option<f64>,
    /// Hidden layer widths of the actor and critic MLPs.
    pub hidden_sizes: Vec<usize>,
    pub activation: Activation,
    /// The CPU learner: `native` (default) or `graph` (candle's autodiff, as runs before
    /// 2026-12-07 were trained).
    pub cpu_learner: CpuLearner,
    /// One trunk for actor and critic with two heads, instead of two MLPs.
    pub shared_trunk: bool,
    pub policy_head: PolicyHead,
    /// Initial log-std of the Gaussian head.
    pub log_std_init: f64,
    /// Running mean/std observation normalization (frozen at evaluation).
    pub normalize_obs: bool,
    /// Reward scaling by a running std of the discounted return (Gymnasium NormalizeReward).
    pub normalize_reward: bool,
    /// Clip for normalized observations and scaled rewards.
    pub normalize_clip: f64,
    pub device: DeviceKind,
    /// Env signals that only the value network sees (a privileged critic), e.g. CaRL's value
    /// measurements for driving. The critic's input is the normalized observation followed by
    /// these signals of the same state, fed raw (not normalized: choose signals scaled to
    /// about [0, 1], like driving's `*_frac`, `*_hold_left` and `route_length_km`). The actor
    /// still sees the observation only. Needs `shared_trunk = false`.
    pub critic_signals: Vec<String>,
}

impl Default for PpoConfig {
    fn default() -> Self {
        PpoConfig {
            num_envs: 4,
            num_steps: 128,
            total_timesteps: 500_000,
            learning_rate: 2.5e-4,
            anneal_lr: true,
            gamma: 0.99,
            gae_lambda: 0.95,
            num_minibatches: 4,
            minibatch_size: None,
            update_epochs: 4,
            norm_adv: true,
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.01,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            target_kl: None,
            hidden_sizes: vec![64, 64],
            activation: Activation::Tanh,
            cpu_learner: CpuLearner::Native,
            shared_trunk: false,
            policy_head: PolicyHead::Auto,
            log_std_init: 0.0,
            normalize_obs: false,
            normalize_reward: false,
            normalize_clip: 10.0,
            device: DeviceKind::Cpu,
            critic_signals: Vec::new(),
        }
    }
}

impl PpoConfig {
    /// Samples per rollout, N x T.
    pub fn batch_size(&self) -> usize {
        self.num_envs * self.num_steps
    }

    /// Mini-batch size after validation: `minibatch_size` when set, else the batch split into
    /// `num_minibatches`.
    pub fn minibatch_len(&self) -> usize {
        self.minibatch_size
            .unwrap_or(self.batch_size() / self.num_minibatches.max(1))
    }

    pub fn num_iterations(&self) -> usize {
        (self.total_timesteps / self.batch_size().max(1) as u64) as usize
    }

    /// Indices of `critic_signals` in the env's `spec`, in config order; an unknown name is a
    /// one-line error naming the key, the signal and the env.
    pub fn resolve_critic_signals(&self, spec: &SignalSpec) -> Result<Vec<usize>> {
        self.critic_signals
            .iter()
            .map(|name| {
                spec.names().position(|n| n == name).ok_or_else(|| {
                    AgentError::config(
                        "ppo.critic_signals",
                        format!(
                            "unknown signal \"{name}\" for env {} (signals: {})",
                            spec.env,
                            spec.names().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })
            })
            .collect()
    }

    /// Checks every value; the error names the key (`ppo.<key>`).
    pub fn validate(&self) -> Result<()> {
        self.validate_batch_shape()?;
        self.validate_coefficients()?;
        if self.hidden_sizes.contains(&0) {
            return Err(ppo_error(
                "hidden_sizes",
                "layer widths must be at least 1".into(),
            ));
        }
        self.validate_critic_signals()?;
        if self.shared_trunk && self.hidden_sizes.is_empty() {
            return Err(ppo_error(
                "shared_trunk",
                "needs at least one hidden layer to share".into(),
            ));
        }
        Ok(())
    }
}

/// A config error on the key `ppo.{key}`.
fn ppo_error(key: &str, msg: String) -> AgentError {
    AgentError::config(&format!("ppo.{key}"), msg)
}

impl PpoConfig {
    /// Counts at least 1, mini-batches that divide the batch, and at least one batch of steps.
    fn validate_batch_shape(&self) -> Result<()> {
        let err = |key: &str, msg: String| Err(ppo_error(key, msg));
        for (key, v) in [
            ("num_envs", self.num_envs),
            ("num_steps", self.num_steps),
            ("update_epochs", self.update_epochs),
        ] {
            if v == 0 {
                return err(key, "must be at least 1".into());
            }
        }
        let batch = self.batch_size();
        match self.minibatch_size {
            Some(m) if m == 0 || !batch.is_multiple_of(m) => {
                return err(
                    "minibatch_size",
                    format!("{m} does not divide the batch num_envs x num_steps = {batch}"),
                )
            }
            None if self.num_minibatches == 0 || !batch.is_multiple_of(self.num_minibatches) => {
                return err(
                    "num_minibatches",
                    format!(
                        "{} does not divide the batch num_envs x num_steps = {batch}",
                        self.num_minibatches
                    ),
                )
            }
            _ => {}
        }
        if self.total_timesteps < batch as u64 {
            return err(
                "total_timesteps",
                format!("{} is less than one batch ({batch})", self.total_timesteps),
            );
        }
        Ok(())
    }

    /// Rates and coefficients: finite and within their ranges.
    fn validate_coefficients(&self) -> Result<()> {
        let err = |key: &str, msg: String| Err(ppo_error(key, msg));
        let positive = [
            ("learning_rate", self.learning_rate),
            ("max_grad_norm", self.max_grad_norm),
            ("normalize_clip", self.normalize_clip),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return err(key, format!("must be a positive number, got {v}"));
            }
        }
        let unit = [("gamma", self.gamma), ("gae_lambda", self.gae_lambda)];
        for (key, v) in unit {
            if !(0.0..=1.0).contains(&v) {
                return err(key, format!("must lie in [0, 1], got {v}"));
            }
        }
        let non_negative = [
            ("clip_coef", self.clip_coef),
            ("ent_coef", self.ent_coef),
            ("vf_coef", self.vf_coef),
        ];
        for (key, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return err(key, format!("must be a non-negative number, got {v}"));
            }
        }
        if let Some(kl) = self.target_kl {
            if !(kl.is_finite() && kl > 0.0) {
                return err("target_kl", format!("must be positive, got {kl}"));
            }
        }
        if !self.log_std_init.is_finite() {
            return err("log_std_init", "must be finite".into());
        }
        Ok(())
    }
}

impl PpoConfig {
    fn validate_critic_signals(&self) -> Result<()> {
        let key = "ppo.critic_signals";
        let names = &self.critic_signals;
        if let Some((i, dup)) = names
            .iter()
            .enumerate()
            .find(|(i, n)| names[..*i].contains(n))
        {
            return Err(AgentError::config(
                key,
                format!("\"{dup}\" is listed twice (entry {i})"),
            ));
        }
        if self.shared_trunk && !names.is_empty() {
            return Err(AgentError::config(
                key,
                "a privileged critic needs separate actor and critic trunks (shared_trunk = false)",
            ));
        }
        Ok(())
    }
}

/// Run bookkeeping: checkpoints and final evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSettings {
    /// Write a checkpoint every this many iterations (and always at the end). Checkpoints carry
    /// the envs mid-episode, so this changes nothing in training: a resumed run replays an
    /// uninterrupted one exactly, whatever the value.
    pub checkpoint_every: usize,
    /// Also keep a copy of every checkpoint written at a multiple of this many iterations, in
    /// `checkpoints/iter_<it>/` (0: keep none). A multiple of `checkpoint_every`; it changes
    /// nothing in training, it lets earlier policies be evaluated (`carrot study eval --kept`).
    pub keep_checkpoints_every: usize,
    /// Episodes of the final deterministic evaluation (0 skips it).
    pub eval_episodes: usize,
    /// Evaluation env seeds start at `seed + eval_seed_offset`, disjoint from training seeds.
    pub eval_seed_offset: u64,
    /// Safety cap on evaluation steps per episode.
    pub eval_max_steps: usize,
    /// Also evaluate (as the final evaluation does) every this many iterations, logged as the
    /// `eval/*` columns of that iteration's metrics row (0: never). Changes nothing in training.
    pub eval_every: usize,
    /// Keep a copy of the checkpoint with the best `eval/mean_return` so far in
    /// `checkpoints/best/` (with `best.json`); needs `eval_every`.
    pub keep_best: bool,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            checkpoint_every: 25,
            keep_checkpoints_every: 0,
            eval_episodes: 10,
            eval_seed_offset: 1 << 32,
            eval_max_steps: 100_000,
            eval_every: 0,
            keep_best: false,
        }
    }
}

impl RunSettings {
    fn validate_periodic_eval(&self) -> Result<()> {
        if self.eval_every > 0 && self.eval_episodes == 0 {
            return Err(AgentError::config(
                "run.eval_every",
                "needs run.eval_episodes >= 1 (the episodes of each evaluation)",
            ));
        }
        if self.keep_best && self.eval_every == 0 {
            return Err(AgentError::config(
                "run.keep_best",
                "needs run.eval_every > 0 (the best checkpoint is chosen by eval/mean_return)",
            ));
        }
        Ok(())
    }
}

/// Everything that defines a training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    #[serde(default)]
    pub seed: u64,
    #[serde(
        default,
        deserialize_with = "carrot_envs::deserialize_env_config",
        serialize_with = "carrot_envs::serialize_env_config"
    )]
    pub env: EnvConfig,
    #[serde(
        default,
        deserialize_with = "carrot_rewards::deserialize_reward_config",
        serialize_with = "carrot_rewards::serialize_reward_config"
    )]
    pub reward: RewardConfig,
    #[serde(default)]
    pub ppo: PpoConfig,
    #[serde(default)]
    pub run: RunSettings,
    /// A bilevel outer loop (BARFI); `None` for plain PPO. Runs with it go through
    /// `carrot_bilevel::train_run` (the `carrot` CLI dispatches on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer: Option<OuterConfig>,
    /// Preference-based reward learning (PARL / PEBBLE); `None` for plain PPO. Like `outer`,
    /// runs with it go through `carrot_bilevel::train_run`. At most one of the two is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<PreferenceConfig>,
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        self.ppo.validate()?;
        if let Some(outer) = &self.outer {
            outer.validate(&self.ppo)?;
        }
        if let Some(preference) = &self.preference {
            if self.outer.is_some() {
                return Err(AgentError::config(
                    "preference",
                    "cannot be combined with [outer] (one outer loop per run)",
                ));
            }
            preference.validate_with(&self.ppo)?;
        }
        if self.run.checkpoint_every == 0 {
            return Err(AgentError::config(
                "run.checkpoint_every",
                "must be at least 1",
            ));
        }
        if !self
            .run
            .keep_checkpoints_every
            .is_multiple_of(self.run.checkpoint_every)
        {
            return Err(AgentError::config(
                "run.keep_checkpoints_every",
                format!(
                    "must be 0 or a multiple of run.checkpoint_every ({}), got {}",
                    self.run.checkpoint_every, self.run.keep_checkpoints_every
                ),
            ));
        }
        if self.run.eval_max_steps == 0 {
            return Err(AgentError::config(
                "run.eval_max_steps",
                "must be at least 1",
            ));
        }
        self.run.validate_periodic_eval()?;
        // Training env seeds are seed + [0, num_envs x segments); evaluation seeds must not
        // overlap them.
        let segments = self
            .ppo
            .num_iterations()
            .div_ceil(self.run.checkpoint_every) as u64;
        let training_seeds = segments.saturating_mul(self.ppo.num_envs as u64);
        if self.run.eval_seed_offset < training_seeds {
            return Err(AgentError::config(
                "run.eval_seed_offset",
                format!(
                    "{} overlaps the {training_seeds} training seeds; use a larger offset",
                    self.run.eval_seed_offset
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_cleanrl_and_valid() {
        let c = PpoConfig::default();
        assert_eq!((c.num_envs, c.num_steps, c.minibatch_len()), (4, 128, 128));
        assert_eq!(c.num_iterations(), 976);
        TrainConfig::default().validate().unwrap();
    }

    #[test]
    fn toml_fills_defaults_and_rejects_unknown_keys() {
        let c: TrainConfig =
            toml::from_str("seed = 3\n[ppo]\nnum_envs = 8\ntarget_kl = 0.02\n").unwrap();
        assert_eq!(
            (c.seed, c.ppo.num_envs, c.ppo.target_kl),
            (3, 8, Some(0.02))
        );
        assert_eq!(c.ppo.num_steps, 128);
        let err = toml::from_str::<TrainConfig>("[ppo]\nlearning_rat = 1e-3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("learning_rat"), "{err}");
        assert!(toml::from_str::<TrainConfig>("sed = 1\n").is_err());
        assert!(toml::from_str::<TrainConfig>("[run]\ncheckpoint = 1\n").is_err());
    }

    #[test]
    fn critic_signals_parse_round_trip_and_default_to_none() {
        let c: TrainConfig =
            toml::from_str("[ppo]\ncritic_signals = [\"x\", \"theta_dot\"]\n").unwrap();
        assert_eq!(c.ppo.critic_signals, ["x", "theta_dot"]);
        let text = toml::to_string(&c).unwrap();
        assert_eq!(toml::from_str::<TrainConfig>(&text).unwrap(), c);
        // Configs stored before the key existed still parse, without privileged inputs.
        let old: TrainConfig = toml::from_str("[ppo]\nnum_envs = 2\n").unwrap();
        assert!(old.ppo.critic_signals.is_empty());
    }

    #[test]
    fn minibatch_must_divide_batch() {
        let mut c = PpoConfig {
            num_envs: 8,
            num_steps: 100,
            minibatch_size: Some(300),
            ..Default::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("ppo.minibatch_size") && err.contains("800"),
            "{err}"
        );
        c.minibatch_size = Some(800);
        c.validate().unwrap();
        c.minibatch_size = None;
        c.num_minibatches = 3;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("ppo.num_minibatches"), "{err}");
    }

    #[test]
    fn impossible_values_name_their_key() {
        let bad = [
            PpoConfig {
                num_envs: 0,
                ..Default::default()
            },
            PpoConfig {
                learning_rate: -1.0,
                ..Default::default()
            },
            PpoConfig {
                gamma: 1.5,
                ..Default::default()
            },
        ];
        let keys = ["ppo.num_envs", "ppo.learning_rate", "ppo.gamma"];
        for (c, key) in bad.iter().zip(keys) {
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
