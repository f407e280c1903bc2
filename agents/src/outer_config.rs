//! The `[outer]` section of a bilevel (BARFI) run, `TrainConfig.outer`: pure serde data with
//! `deny_unknown_fields`, checked against the PPO settings by [`OuterConfig::validate`] with
//! one-line errors naming the key. The outer loop itself lives in the `carrot-bilevel` crate;
//! the config lives here so that one config type goes through the CLI, sweeps, resume and
//! `config.toml`.
//!
//! ```toml
//! [outer]
//! method = "neumann"   # primary | none (naive sum) | pbrs | fo | neumann
//! reward = { id = "blend", primary = { id = "env_default" }, aux = [...] }
//! every = 4
//! warmup = 2
//! lr = 0.01
//! neumann_k = 5
//! neumann_alpha = 1e-3
//! reg = 0.01
//! learn_gamma = true
//! ```

use carrot_rewards::RewardConfig;
use serde::{Deserialize, Serialize};

use crate::config::PpoConfig;
use crate::error::{AgentError, Result};

/// How φ moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OuterMethod {
    /// The learner sees the run's own `[reward]` alone (primary only): plain PPO, so that a
    /// sweep's method axis can hold every baseline.
    Primary,
    /// φ stays at its initial value (the naive sum): the baseline through the same code path.
    #[serde(alias = "naive")]
    None,
    /// Potential-based shaping of the primary with Φ = Σ_i κ_i aux_i of the blend's
    /// auxiliaries (Ng et al. 1999): the classic baseline, through the same code path.
    Pbrs,
    /// First order: p = α g_p (Neumann with K = 0).
    #[default]
    Fo,
    /// Implicit gradient with a K-term Neumann series.
    Neumann,
}

/// Outer-loop settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OuterConfig {
    pub method: OuterMethod,
    /// The learned reward the learner sees (a `blend` of the primary and its auxiliaries). The
    /// run's own `[reward]` stays the task reward: it ends episodes and scores the run.
    #[serde(
        deserialize_with = "carrot_rewards::deserialize_reward_config",
        serialize_with = "carrot_rewards::serialize_reward_config"
    )]
    pub reward: RewardConfig,
    /// An outer step every `every` iterations ...
    pub every: usize,
    /// ... once `warmup` iterations have passed.
    pub warmup: usize,
    /// Adam step size on φ (ascent).
    pub lr: f64,
    /// Clip on the norm of each φ update (0: none).
    pub max_update_norm: f64,
    /// Terms of the Neumann series after the first.
    pub neumann_k: usize,
    /// Neumann step α; halved for the next step whenever the divergence guard fires.
    pub neumann_alpha: f64,
    /// Set α = 0.5 / |λ_max(H)| from 3 power-iteration HVPs on the first outer step and every
    /// 10th after it (`neumann_alpha` is the start). With BARFI's fixed α ∈ [1e-4, 1e-3] and
    /// a small K, αH is tiny on these policies and the series is a rescaled first-order step.
    pub neumann_alpha_auto: bool,
    /// The guard: stop the series when a term exceeds `neumann_guard · ‖g_p‖`.
    pub neumann_guard: f64,
    /// λ_r in −λ_r ‖φ − φ₀‖² (toward the naive-sum initialization), also on the discount logit.
    pub reg: f64,
    /// Learn the discount γ_φ = σ(φ_γ), initialized at `ppo.gamma`.
    pub learn_gamma: bool,
    /// Rows used for the curvature and directional scores (0: all rows).
    pub hessian_batch: usize,
    /// Primary critic V_p: hidden sizes, Adam step, epochs per iteration, mini-batch size.
    pub critic_hidden: Vec<usize>,
    pub critic_lr: f64,
    pub critic_epochs: usize,
    pub critic_minibatch: usize,
    /// Seed offset of the outer RNG streams (critic init, row subsets).
    pub seed_offset: u64,
}

impl Default for OuterConfig {
    fn default() -> Self {
        OuterConfig {
            method: OuterMethod::Fo,
            reward: RewardConfig::default(),
            every: 4,
            warmup: 2,
            lr: 0.01,
            max_update_norm: 0.0,
            neumann_k: 5,
            neumann_alpha: 1e-3,
            neumann_alpha_auto: false,
            neumann_guard: 10.0,
            reg: 0.0,
            learn_gamma: false,
            hessian_batch: 8192,
            critic_hidden: vec![64, 64],
            critic_lr: 1e-3,
            critic_epochs: 4,
            critic_minibatch: 256,
            seed_offset: 0x00b1_e7e1,
        }
    }
}

impl OuterConfig {
    /// Checks the values and their compatibility with the PPO settings.
    pub fn validate(&self, ppo: &PpoConfig) -> Result<()> {
        let err = |key: &str, msg: &str| Err(AgentError::config(&format!("outer.{key}"), msg));
        if ppo.normalize_reward {
            return Err(AgentError::config(
                "ppo.normalize_reward",
                "must be false with a learned reward (the online scaler breaks the relabel's linearity)",
            ));
        }
        if ppo.shared_trunk {
            return Err(AgentError::config(
                "ppo.shared_trunk",
                "must be false in a bilevel run (θ is the actor alone)",
            ));
        }
        for (key, v) in [
            ("every", self.every),
            ("critic_epochs", self.critic_epochs),
            ("critic_minibatch", self.critic_minibatch),
        ] {
            if v == 0 {
                return err(key, "must be at least 1");
            }
        }
        for (key, v) in [
            ("lr", self.lr),
            ("neumann_alpha", self.neumann_alpha),
            ("critic_lr", self.critic_lr),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return err(key, "must be a positive number");
            }
        }
        if !(self.neumann_guard.is_finite() && self.neumann_guard > 1.0) {
            return err("neumann_guard", "must be a number above 1");
        }
        for (key, v) in [("reg", self.reg), ("max_update_norm", self.max_update_norm)] {
            if !(v.is_finite() && v >= 0.0) {
                return err(key, "must be zero or positive");
            }
        }
        if self.method == OuterMethod::Neumann && self.neumann_k == 0 {
            return err(
                "neumann_k",
                "must be at least 1 with method = \"neumann\" (K = 0 is method = \"fo\")",
            );
        }
        if self.learn_gamma && !(ppo.gamma > 0.0 && ppo.gamma < 1.0) {
            return Err(AgentError::config(
                "ppo.gamma",
                "must lie in (0, 1) with outer.learn_gamma",
            ));
        }
        if self.critic_hidden.contains(&0) {
            return err("critic_hidden", "layer sizes must be at least 1");
        }
        Ok(())
    }
}
