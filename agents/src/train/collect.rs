//! Rollout collection: seeded segment resets, stepping the envs with sampled actions,
//! truncation bootstrap values, and the (deferred) reward scaling.

use candle_core::Tensor;

use crate::error::Result;
use crate::rollout::EpisodeStats;
use crate::train::Trainer;

impl Trainer {
    /// Resets every env from its segment seed.
    pub(super) fn start_segment(&mut self) -> Result<()> {
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

    pub(super) fn tensor(&self, data: &[f32], rows: usize) -> Result<Tensor> {
        Ok(Tensor::from_slice(
            data,
            (rows, data.len() / rows.max(1)),
            &self.device,
        )?)
    }

    /// Collects one rollout into `self.rollout` (rewards unscaled), returning V(obs) after the
    /// last step.
    pub(super) fn collect(&mut self, stats: &mut EpisodeStats) -> Result<Vec<f32>> {
        let (n, d) = (self.config.ppo.num_envs, self.rollout.obs_dim);
        let a = self.rollout.action_dim;
        let s = self.rollout.num_signals;
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
            let r = &mut self.rollout;
            r.env_rewards[base..base + n].copy_from_slice(&buf.rewards);
            r.rewards[base..base + n].copy_from_slice(&buf.rewards);
            r.terminated[base..base + n].copy_from_slice(&buf.terminated);
            r.truncated[base..base + n].copy_from_slice(&buf.truncated);
            r.signals[base * s..(base + n) * s].copy_from_slice(&buf.signals);
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

    /// Scales `rollout.rewards` step by step with the running return statistics (a no-op
    /// without `ppo.normalize_reward`). Same order and arithmetic as scaling during collection.
    pub(super) fn scale_rewards(&mut self) {
        let Some(scaler) = &mut self.reward_scaler else {
            return;
        };
        let r = &mut self.rollout;
        let n = r.num_envs;
        let clip = self.config.ppo.normalize_clip;
        let mut done = vec![false; n];
        for t in 0..r.num_steps {
            let rows = t * n..(t + 1) * n;
            for (i, d) in done.iter_mut().enumerate() {
                *d = r.terminated[t * n + i] || r.truncated[t * n + i];
            }
            scaler.scale(&mut r.rewards[rows], &done, clip);
        }
    }
}
