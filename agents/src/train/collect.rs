//! Rollout collection: seeded resets, stepping the envs with sampled actions,
//! truncation bootstrap values, and the (deferred) reward scaling.

use candle_core::Tensor;

use carrot_envs::StepBuffers;

use crate::error::Result;
use crate::policy::{Policy, Sampled};
use crate::rollout::EpisodeStats;
use crate::train::Trainer;

impl Trainer {
    /// Resets every env from the seed of the current checkpoint segment: `seed + i` at the
    /// start of a run, the old per-segment seeds when resuming without an env snapshot.
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

    /// Updates observation statistics and writes the policy's view of `step_buf.obs`, with
    /// the privileged critic inputs of the same states (`step_buf.state_signals`).
    fn observe_step_obs(&mut self) {
        let buf = &self.step_buf;
        self.obs_scratch.copy_from_slice(&buf.obs);
        self.policy.observe_and_normalize(&mut self.obs_scratch);
        let signals = (0..buf.num_envs).map(|i| buf.state_signal_row(i));
        append_privileged(
            &self.obs_scratch,
            buf.obs_dim,
            signals,
            &self.critic_signals,
            &mut self.policy_obs,
        );
    }

    pub(super) fn tensor(&self, data: &[f32], rows: usize) -> Result<Tensor> {
        self.policy.tensor(data, rows)
    }

    /// Collects one rollout into `self.rollout` (rewards unscaled), returning V(obs) after the
    /// last step.
    pub(super) fn collect(&mut self, stats: &mut EpisodeStats) -> Result<Vec<f32>> {
        let (n, d) = (self.config.ppo.num_envs, self.rollout.obs_dim);
        let (a, s) = (self.rollout.action_dim, self.rollout.num_signals);
        let act_dim = self.envs.action_space().flat_dim();
        let mut env_actions = vec![0f32; n * act_dim];
        for t in 0..self.config.ppo.num_steps {
            let (base, r) = (t * n, &mut self.rollout);
            let rows = base..base + n;
            r.obs[base * d..(base + n) * d].copy_from_slice(&self.policy_obs);
            let sampled = Sampled {
                stored: &mut r.actions[base * a..(base + n) * a],
                env_actions: &mut env_actions,
                logp: &mut r.logp[rows.clone()],
                values: &mut r.values[rows.clone()],
            };
            self.policy
                .sample(&self.policy_obs, &mut self.action_rng, sampled)?;
            self.envs
                .step(&env_actions, self.reward.as_ref(), &mut self.step_buf)?;
            self.global_step += n as u64;
            stats.record(&self.step_buf);
            let buf = &self.step_buf;
            r.env_rewards[rows.clone()].copy_from_slice(&buf.rewards);
            r.rewards[rows.clone()].copy_from_slice(&buf.rewards);
            r.terminated[rows.clone()].copy_from_slice(&buf.terminated);
            r.truncated[rows].copy_from_slice(&buf.truncated);
            r.signals[base * s..(base + n) * s].copy_from_slice(&buf.signals);
            for (i, v) in truncation_values(&self.policy, buf, &self.critic_signals)? {
                r.truncation_values[base + i] = v;
            }
            self.observe_step_obs();
        }
        self.policy.values(&self.policy_obs, n)
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

/// Writes rows `[obs row | signal row at critic_signals]` into `out`, one per `obs_dim`-wide
/// row of `obs` and signal row (a plain copy without privileged inputs).
fn append_privileged<'a>(
    obs: &[f32],
    obs_dim: usize,
    signals: impl Iterator<Item = &'a [f32]>,
    critic_signals: &[usize],
    out: &mut [f32],
) {
    if critic_signals.is_empty() {
        out.copy_from_slice(obs);
        return;
    }
    let width = obs_dim + critic_signals.len();
    for ((row, src), sig) in out
        .chunks_exact_mut(width)
        .zip(obs.chunks_exact(obs_dim))
        .zip(signals)
    {
        row[..obs_dim].copy_from_slice(src);
        for (dst, &j) in row[obs_dim..].iter_mut().zip(critic_signals) {
            *dst = sig[j];
        }
    }
}

/// `(env, V(final observation))` of the envs truncated (not terminated) in the last step. The
/// final observation is normalized with the current statistics, as the policy saw every other
/// observation; the raw one would be off the value net's input scale. The privileged critic
/// inputs of the final state are the ended step's own signals (`state_signals` already
/// describe the next episode).
pub(crate) fn truncation_values(
    policy: &Policy,
    buf: &StepBuffers,
    critic_signals: &[usize],
) -> Result<Vec<(usize, f32)>> {
    let rows: Vec<usize> = (0..buf.num_envs)
        .filter(|&i| buf.truncated[i] && !buf.terminated[i])
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut final_obs: Vec<f32> = rows
        .iter()
        .flat_map(|&i| buf.final_obs_row(i).iter().copied())
        .collect();
    policy.normalize(&mut final_obs);
    let mut inputs = vec![0f32; rows.len() * (buf.obs_dim + critic_signals.len())];
    let signals = rows.iter().map(|&i| buf.signal_row(i));
    append_privileged(
        &final_obs,
        buf.obs_dim,
        signals,
        critic_signals,
        &mut inputs,
    );
    let values = policy.values(&inputs, rows.len())?;
    Ok(rows.into_iter().zip(values).collect())
}

#[cfg(test)]
mod tests {
    use carrot_envs::{EnvConfig, PendulumConfig};

    use super::*;
    use crate::config::TrainConfig;

    /// Steps pendulum envs to their time limit and checks the bootstrap values against the value
    /// of the *normalized* final observations, under statistics far from the raw scale.
    #[test]
    fn truncation_bootstrap_uses_the_normalized_final_observation() {
        let mut c = TrainConfig {
            env: EnvConfig::Pendulum(PendulumConfig {
                max_episode_steps: 3,
                ..Default::default()
            }),
            ..Default::default()
        };
        c.ppo.normalize_obs = true;
        let mut envs = c.env.build_vec(2).unwrap();
        let reward = c.reward.build(envs.signal_spec()).unwrap();
        let mut buf = envs.make_buffers(reward.as_ref());
        envs.reset(7, &mut buf).unwrap();
        let mut policy = Policy::new(&c, 3, envs.action_space()).unwrap();
        let rms = policy.obs_rms.as_mut().unwrap();
        rms.mean = vec![5.0, -3.0, 20.0];
        rms.var = vec![0.01, 4.0, 100.0];
        for _ in 0..3 {
            assert!(truncation_values(&policy, &buf, &[]).unwrap().is_empty());
            envs.step(&[0.5, -0.5], reward.as_ref(), &mut buf).unwrap();
        }
        let got = truncation_values(&policy, &buf, &[]).unwrap();
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![0, 1]);
        let mut fin: Vec<f32> = (0..2).flat_map(|i| buf.final_obs_row(i).to_vec()).collect();
        let raw = policy.values(&fin, 2).unwrap();
        policy.normalize(&mut fin);
        let want = policy.values(&fin, 2).unwrap();
        for ((_, v), (w, r)) in got.iter().zip(want.iter().zip(&raw)) {
            assert_eq!(v, w);
            assert!(
                (v - r).abs() > 1e-3,
                "raw and normalized inputs must differ: {v} {r}"
            );
        }
    }

    /// With privileged critic inputs the bootstrap value of a truncated episode reads the
    /// ended step's signals, not `state_signals` (already the next episode's reset).
    #[test]
    fn truncation_bootstrap_uses_the_ended_steps_privileged_signals() {
        let mut c = TrainConfig {
            env: EnvConfig::Pendulum(PendulumConfig {
                max_episode_steps: 2,
                ..Default::default()
            }),
            ..Default::default()
        };
        c.ppo.critic_signals = vec!["theta_dot".into()];
        let mut envs = c.env.build_vec(2).unwrap();
        let reward = c.reward.build(envs.signal_spec()).unwrap();
        let idx = c.ppo.resolve_critic_signals(envs.signal_spec()).unwrap();
        let mut buf = envs.make_buffers(reward.as_ref());
        envs.reset(3, &mut buf).unwrap();
        let policy = Policy::new(&c, 3, envs.action_space()).unwrap();
        for _ in 0..2 {
            envs.step(&[2.0, -2.0], reward.as_ref(), &mut buf).unwrap();
        }
        let got = truncation_values(&policy, &buf, &idx).unwrap();
        assert_eq!(got.len(), 2);
        let rows = |sig: &dyn Fn(usize) -> f32| -> Vec<f32> {
            (0..2)
                .flat_map(|i| {
                    let mut row = buf.final_obs_row(i).to_vec();
                    row.push(sig(i));
                    row
                })
                .collect()
        };
        let ended = policy
            .values(&rows(&|i| buf.signal_row(i)[idx[0]]), 2)
            .unwrap();
        let next = policy
            .values(&rows(&|i| buf.state_signal_row(i)[idx[0]]), 2)
            .unwrap();
        for ((_, v), (e, n)) in got.iter().zip(ended.iter().zip(&next)) {
            assert_eq!(v, e);
            assert_ne!(v, n, "the reset's signals must not be used");
        }
    }
}
