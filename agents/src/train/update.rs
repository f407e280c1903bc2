//! The learner side of an iteration: PPO epochs over the rollout, and the value-only critic
//! refit outer loops ask for.

use candle_core::Tensor;
use rand::RngExt;

use crate::error::{AgentError, Result};
use crate::learner::{gradient_step, Minibatch, StepSettings};
use crate::losses::{LossCoefs, LossStats};
use crate::networks::ParamGroup;
use crate::optimizer::{clip_grad_norm, host_grads, write_params};
use crate::train::Trainer;

/// Means over the mini-batches of one update.
pub(super) struct UpdateStats {
    pub(super) losses: LossStats,
    pub(super) grad_norm: f64,
    pub(super) epochs: usize,
}

impl Trainer {
    /// A Fisher-Yates shuffle of `order` with the shuffle stream.
    fn shuffle(&mut self, order: &mut [usize]) {
        for i in (1..order.len()).rev() {
            let j = self.shuffle_rng.random_range(0..=i);
            order.swap(i, j);
        }
    }

    /// PPO epochs over the rollout.
    pub(super) fn update(
        &mut self,
        advantages: &[f32],
        returns: &[f32],
        lr: f64,
    ) -> Result<UpdateStats> {
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
            cpu_learner: ppo.cpu_learner,
        };
        let (epochs_max, target_kl) = (ppo.update_epochs, ppo.target_kl);
        let mut order: Vec<usize> = (0..batch).collect();
        let mut sums = LossStats::default();
        let (mut count, mut grad_norm_sum, mut epochs) = (0usize, 0f64, 0usize);
        let mut mb = Minibatch::with_capacity(mb_len, d, a);
        for _ in 0..epochs_max {
            epochs += 1;
            self.shuffle(&mut order);
            let mut last_kl = 0.0;
            let r = &self.rollout;
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
                    &self.policy.net,
                    &mut self.params,
                    &mut self.adam,
                    &mut mb,
                    &settings,
                    self.iteration + 1,
                )?;
                sums = sums.add(&step.losses);
                grad_norm_sum += step.grad_norm;
                count += 1;
                last_kl = step.losses.approx_kl;
            }
            if target_kl.is_some_and(|kl| last_kl > kl) {
                break;
            }
        }
        Ok(UpdateStats {
            losses: sums.div(count as f64),
            grad_norm: grad_norm_sum / count as f64,
            epochs,
        })
    }

    /// Value-only epochs on `returns` (`[T*N]`, rows of the current rollout): mini-batches of
    /// the PPO size, loss `0.5 mean((V - R)^2)`, the global grad-norm clip and Adam on the
    /// critic's parameters only, at this iteration's learning rate. Returns the mean loss.
    /// Needs separate trunks (`ppo.shared_trunk = false`) so the actor is left untouched.
    pub fn critic_refit(&mut self, returns: &[f32], epochs: usize) -> Result<f64> {
        let groups = self.policy.net.param_groups();
        if groups.contains(&ParamGroup::Shared) {
            return Err(AgentError::config(
                "ppo.shared_trunk",
                "a critic refit needs separate actor and critic trunks (shared_trunk = false)",
            ));
        }
        let batch = self.rollout.len();
        if returns.len() != batch {
            return Err(AgentError::Outer(format!(
                "critic refit got {} returns for a rollout of {batch}",
                returns.len()
            )));
        }
        let critic: Vec<bool> = groups.iter().map(|g| *g == ParamGroup::Critic).collect();
        let (mb_len, d) = (self.config.ppo.minibatch_len(), self.rollout.obs_dim);
        let lr = self.learning_rate();
        let mut order: Vec<usize> = (0..batch).collect();
        let (mut obs, mut targets) = (vec![0f32; mb_len * d], vec![0f32; mb_len]);
        let (mut loss_sum, mut count) = (0f64, 0usize);
        for _ in 0..epochs {
            self.shuffle(&mut order);
            for chunk in order.chunks(mb_len) {
                for (k, &idx) in chunk.iter().enumerate() {
                    obs[k * d..(k + 1) * d]
                        .copy_from_slice(&self.rollout.obs[idx * d..(idx + 1) * d]);
                    targets[k] = returns[idx];
                }
                let x = self.tensor(&obs[..chunk.len() * d], chunk.len())?;
                let target =
                    Tensor::from_slice(&targets[..chunk.len()], chunk.len(), &self.device)?;
                let loss = (self.policy.net.value(&x)?.sub(&target)?.sqr()?.mean_all()? * 0.5)?;
                let value = loss.to_scalar::<f32>()? as f64;
                if !value.is_finite() {
                    return Err(AgentError::NonFinite {
                        iteration: self.iteration + 1,
                        what: "critic refit loss".into(),
                    });
                }
                let mut grads = host_grads(self.policy.net.params(), &loss.backward()?)?;
                for (g, _) in grads.iter_mut().zip(&critic).filter(|(_, c)| !**c) {
                    g.iter_mut().for_each(|x| *x = 0.0);
                }
                clip_grad_norm(&mut grads, self.config.ppo.max_grad_norm);
                self.adam
                    .update_selected(&mut self.params, &grads, lr, &critic);
                write_params(self.policy.net.params(), &self.params)?;
                loss_sum += value;
                count += 1;
            }
        }
        Ok(loss_sum / count.max(1) as f64)
    }
}
