//! BARFI's outer loop (Gupta et al., NeurIPS 2023) on a collected PPO rollout.
//!
//! Every iteration: fit the primary critic V_p on the primary λ-returns. Every `every`
//! iterations after `warmup`: one outer step on φ (and the discount logit φ_γ) by Adam ascent on
//! the hypergradient of the primary objective (first order, or with a K-term Neumann series),
//! minus `reg · ‖φ − φ₀‖²`. Then the rollout is relabelled with r_φ and GAE uses γ_φ.
//! The env-side reward of the run is the primary: it decides terminations and the logged
//! returns; the learner sees only the relabelled rewards.
//!
//! [`Barfi`] works on a [`RolloutView`] and an [`ActorCritic`], independent of the trainer, so
//! the iteration hook is a thin adapter and tests can drive it directly.

use carrot_agents::config::Activation;
use carrot_agents::gae::GaeInput;
use carrot_agents::networks::ActorCritic;
use carrot_agents::{PgBatch, PolicyF64, PpoConfig};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::config::{OuterConfig, OuterMethod};
use crate::critic::{CriticSettings, CriticState, PrimaryCritic};
use crate::error::{BilevelError, Result};
use crate::hypergrad::{hypergradient, spectral_radius, HypergradOracle, Hypergradient};

/// Outer steps between two estimates of |λ_max(H)| with `neumann_alpha_auto`.
const AUTO_ALPHA_EVERY: usize = 10;
/// Power iterations (HVPs) per estimate.
const AUTO_ALPHA_ITERATIONS: usize = 3;
use crate::learned::LearnedReward;
use crate::neumann::{norm, NeumannSettings};
use crate::oracle::{OracleInputs, PolicyOracle};
use crate::outer_adam::OuterAdam;

/// One collected rollout, step-major (`[t * num_envs + env]`).
#[derive(Clone, Copy)]
pub struct RolloutView<'a> {
    pub num_envs: usize,
    /// Observations as the policy saw them `[B x obs_dim]`.
    pub obs: &'a [f32],
    pub obs_dim: usize,
    pub actions: &'a [f32],
    pub action_dim: usize,
    pub signals: &'a [f32],
    /// The env-side (primary) rewards.
    pub primary_rewards: &'a [f32],
    /// The PPO critic's values, its truncation values, and V(obs) after the last step.
    pub values: &'a [f32],
    pub truncation_values: &'a [f32],
    pub last_values: &'a [f32],
    pub terminated: &'a [bool],
    pub truncated: &'a [bool],
}

impl<'a> RolloutView<'a> {
    fn gae(&self, rewards: &'a [f32]) -> GaeInput<'a> {
        GaeInput {
            num_envs: self.num_envs,
            rewards,
            values: self.values,
            terminated: self.terminated,
            truncated: self.truncated,
            truncation_values: self.truncation_values,
            last_values: self.last_values,
        }
    }
}

/// What an iteration hands back to the trainer.
#[derive(Clone, Debug)]
pub struct IterationOutcome {
    /// Discount for this iteration's GAE.
    pub gamma: f64,
    /// Whether φ moved (the caller may refit its critic).
    pub stepped: bool,
    /// `outer/...` metrics, always the same keys (NaN: no outer step this iteration).
    pub metrics: Vec<(String, f64)>,
}

/// The checkpointed outer state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BarfiState {
    #[serde(with = "crate::exact::f64s")]
    pub phi: Vec<f64>,
    #[serde(with = "crate::exact::opt_f64")]
    pub gamma_logit: Option<f64>,
    pub adam: OuterAdam,
    #[serde(with = "crate::exact::f64_bits")]
    pub alpha: f64,
    pub critic: CriticState,
    #[serde(with = "crate::exact::rng_text")]
    pub rows_rng: Pcg64Mcg,
    /// Outer steps taken (schedules the automatic α).
    #[serde(default)]
    pub outer_steps: usize,
    /// The last |λ_max(H)| estimate of the automatic α.
    #[serde(default, with = "crate::exact::opt_f64")]
    pub radius: Option<f64>,
}

/// BARFI's outer state and step.
pub struct Barfi<R: LearnedReward> {
    cfg: OuterConfig,
    reward: R,
    /// φ₀ (reward parameters, then φ_γ when learned): the regularizer's anchor.
    init: Vec<f64>,
    gamma_logit: Option<f64>,
    adam: OuterAdam,
    critic: PrimaryCritic,
    alpha: f64,
    rows_rng: Pcg64Mcg,
    outer_steps: usize,
    /// The last |λ_max(H)| estimate (NaN before the first).
    radius: f64,
    gamma: f64,
    lambda: f64,
    ent_coef: f64,
    norm_adv: bool,
    activation: Activation,
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl<R: LearnedReward> Barfi<R> {
    pub fn new(
        cfg: &OuterConfig,
        ppo: &PpoConfig,
        reward: R,
        obs_dim: usize,
        seed: u64,
    ) -> Result<Self> {
        cfg.validate(ppo)?;
        if reward.params().is_empty() && !cfg.learn_gamma && cfg.method != OuterMethod::None {
            return Err(BilevelError::config(
                "outer.reward",
                "has no learnable parameters (use a `blend`) and outer.learn_gamma is off",
            ));
        }
        let gamma_logit = cfg.learn_gamma.then(|| logit(ppo.gamma));
        let mut init = reward.params();
        init.extend(gamma_logit);
        let settings = CriticSettings {
            learning_rate: cfg.critic_lr,
            epochs: cfg.critic_epochs,
            minibatch_size: cfg.critic_minibatch,
        };
        let seed = seed ^ cfg.seed_offset;
        Ok(Barfi {
            critic: PrimaryCritic::new(obs_dim, &cfg.critic_hidden, settings, seed)?,
            adam: OuterAdam::new(init.len()),
            alpha: cfg.neumann_alpha,
            rows_rng: Pcg64Mcg::seed_from_u64(seed.wrapping_add(1)),
            outer_steps: 0,
            radius: f64::NAN,
            cfg: cfg.clone(),
            reward,
            init,
            gamma_logit,
            gamma: ppo.gamma,
            lambda: ppo.gae_lambda,
            ent_coef: ppo.ent_coef,
            norm_adv: ppo.norm_adv,
            activation: ppo.activation,
        })
    }

    pub fn reward(&self) -> &R {
        &self.reward
    }

    /// The discount GAE uses now.
    pub fn gamma(&self) -> f64 {
        self.gamma_logit.map_or(self.gamma, sigmoid)
    }

    /// Whether iteration `i` (0-based) takes an outer step.
    pub fn steps_at(&self, i: usize) -> bool {
        self.cfg.method != OuterMethod::None
            && i >= self.cfg.warmup
            && (i + 1).is_multiple_of(self.cfg.every)
    }

    /// Fits V_p (unless φ is fixed), takes an outer step when due, and writes the relabelled
    /// rewards into `rewards`.
    pub fn on_rollout(
        &mut self,
        iteration: usize,
        net: &ActorCritic,
        view: &RolloutView,
        rewards: &mut [f32],
    ) -> Result<IterationOutcome> {
        // V_p only feeds the hypergradient: the naive sum (φ fixed) never needs it.
        let critic_loss = if self.cfg.method == OuterMethod::None {
            f64::NAN
        } else {
            let layout = view.gae(view.primary_rewards);
            let (_, targets) =
                self.critic
                    .primary_advantages(view.obs, &layout, self.gamma, self.lambda)?;
            self.critic.fit(view.obs, &targets)?
        };
        let mut step: Option<(Hypergradient, f64)> = None;
        if self.steps_at(iteration) {
            let h = self.hypergradient(net, view)?;
            let moved = self.apply(&h.grad)?;
            self.outer_steps += 1;
            if h.series.diverged {
                self.alpha *= 0.5;
            }
            step = Some((h, moved));
        }
        self.reward.relabel(view.signals, rewards);
        Ok(IterationOutcome {
            gamma: self.gamma(),
            stepped: step.is_some(),
            metrics: self.metrics(step.as_ref(), critic_loss),
        })
    }

    /// dJ_p/dφ (reward parameters, then φ_γ when learned) on this rollout, without the
    /// regularizer.
    pub fn hypergradient(
        &mut self,
        net: &ActorCritic,
        view: &RolloutView,
    ) -> Result<Hypergradient> {
        let b = view.primary_rewards.len();
        let mut learned = vec![0f32; b];
        self.reward.relabel(view.signals, &mut learned);
        let layout = view.gae(view.primary_rewards);
        let (adv_p, _) =
            self.critic
                .primary_advantages(view.obs, &layout, self.gamma, self.lambda)?;
        let adv_p: Vec<f64> = adv_p.iter().map(|&a| a as f64).collect();
        let rows = (self.cfg.hessian_batch > 0 && self.cfg.hessian_batch < b).then(|| {
            let mut r = sample(&mut self.rows_rng, b, self.cfg.hessian_batch).into_vec();
            r.sort_unstable();
            r
        });
        let mut policy = PolicyF64::new(net, self.activation)?;
        let inputs = OracleInputs {
            batch: PgBatch {
                obs: view.obs,
                obs_dim: view.obs_dim,
                actions: view.actions,
                action_dim: view.action_dim,
                rows: None,
            },
            curvature_rows: rows.as_deref(),
            gae: view.gae(&learned),
            signals: view.signals,
            primary_advantages: &adv_p,
            gamma: self.gamma(),
            lambda: self.lambda,
            ent_coef: self.ent_coef,
            normalize_advantages: self.norm_adv,
            gamma_logit: self.gamma_logit,
            row_weights: None,
        };
        let mut oracle = PolicyOracle::new(&mut policy, &self.reward, inputs)?;
        let terms = if self.cfg.method == OuterMethod::Neumann {
            self.cfg.neumann_k
        } else {
            0
        };
        if terms > 0
            && self.cfg.neumann_alpha_auto
            && self.outer_steps.is_multiple_of(AUTO_ALPHA_EVERY)
        {
            let g_p = oracle.primary_grad()?;
            self.radius = spectral_radius(&mut oracle, &g_p, AUTO_ALPHA_ITERATIONS)?;
            if self.radius.is_finite() && self.radius > 0.0 {
                self.alpha = 0.5 / self.radius;
            }
        }
        let settings = NeumannSettings {
            terms,
            alpha: self.alpha,
            guard: self.cfg.neumann_guard,
        };
        hypergradient(&mut oracle, &settings, terms > 0)
    }

    /// Adam ascent on grad − 2·reg·(φ − φ₀); returns the update's norm.
    fn apply(&mut self, grad: &[f64]) -> Result<f64> {
        let mut x = self.reward.params();
        x.extend(self.gamma_logit);
        if grad.len() != x.len() {
            return Err(BilevelError::Invalid(format!(
                "hypergradient of {} for {} outer parameters",
                grad.len(),
                x.len()
            )));
        }
        let total: Vec<f64> = grad
            .iter()
            .zip(x.iter().zip(&self.init))
            .map(|(g, (x, x0))| g - 2.0 * self.cfg.reg * (x - x0))
            .collect();
        let moved = self
            .adam
            .ascend(&mut x, &total, self.cfg.lr, self.cfg.max_update_norm);
        if let Some(l) = self.gamma_logit.as_mut() {
            *l = x.pop().expect("the discount logit");
        }
        self.reward.set_params(&x)?;
        Ok(moved)
    }

    fn metrics(&self, step: Option<&(Hypergradient, f64)>, critic_loss: f64) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = self
            .reward
            .param_names()
            .into_iter()
            .zip(self.reward.params())
            .map(|(n, v)| (format!("outer/phi/{n}"), v))
            .collect();
        let nan = f64::NAN;
        out.push(("outer/gamma".into(), self.gamma()));
        out.push((
            "outer/grad_norm".into(),
            step.map_or(nan, |(h, _)| norm(&h.grad)),
        ));
        out.push(("outer/update_norm".into(), step.map_or(nan, |(_, m)| *m)));
        out.push((
            "outer/primary_grad_norm".into(),
            step.map_or(nan, |(h, _)| h.primary_grad_norm),
        ));
        out.push((
            "outer/cos_fo_neumann".into(),
            step.and_then(|(h, _)| h.cos_fo).unwrap_or(nan),
        ));
        out.push(("outer/neumann_alpha".into(), self.alpha));
        out.push(("outer/hessian_radius".into(), self.radius));
        out.push((
            "outer/series_growth".into(),
            step.map_or(nan, |(h, _)| h.series.growth),
        ));
        out.push(("outer/primary_value_loss".into(), critic_loss));
        out
    }

    pub fn state(&self) -> BarfiState {
        BarfiState {
            phi: self.reward.params(),
            gamma_logit: self.gamma_logit,
            adam: self.adam.clone(),
            alpha: self.alpha,
            critic: self.critic.state(),
            rows_rng: self.rows_rng.clone(),
            outer_steps: self.outer_steps,
            radius: (!self.radius.is_nan()).then_some(self.radius),
        }
    }

    pub fn restore(&mut self, state: BarfiState) -> Result<()> {
        if state.gamma_logit.is_some() != self.gamma_logit.is_some()
            || state.adam.m.len() != self.init.len()
        {
            return Err(BilevelError::Invalid(
                "outer checkpoint does not match outer.learn_gamma or the reward's parameters"
                    .into(),
            ));
        }
        self.reward.set_params(&state.phi)?;
        self.gamma_logit = state.gamma_logit;
        self.adam = state.adam;
        self.alpha = state.alpha;
        self.critic.restore(state.critic)?;
        self.rows_rng = state.rows_rng;
        self.outer_steps = state.outer_steps;
        self.radius = state.radius.unwrap_or(f64::NAN);
        Ok(())
    }
}
