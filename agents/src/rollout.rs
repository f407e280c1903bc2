//! The rollout buffer (`[T, N]`, step-major) and the per-iteration episode statistics.

use carrot_envs::StepBuffers;

/// One rollout of T steps over N envs. Row `t * N + i` is env i at step t.
pub struct RolloutBuffer {
    pub num_envs: usize,
    pub num_steps: usize,
    /// Width of the `obs` rows: the observation, then `privileged_dim` critic-only columns.
    pub obs_dim: usize,
    /// Trailing columns of every `obs` row that only the critic sees (`ppo.critic_signals`);
    /// the actor reads the first `obs_dim - privileged_dim`.
    pub privileged_dim: usize,
    pub action_dim: usize,
    pub num_signals: usize,
    /// Observations as the policy saw them (normalized if enabled), followed by the raw
    /// privileged critic inputs of the same state `[T*N, D]`.
    pub obs: Vec<f32>,
    /// Actions in the distribution's stored form `[T*N, A]`.
    pub actions: Vec<f32>,
    pub logp: Vec<f32>,
    pub values: Vec<f32>,
    /// Rewards the learner uses: the env-side rewards, possibly relabelled by an iteration hook,
    /// then scaled if enabled.
    pub rewards: Vec<f32>,
    /// The env-side rewards as the envs returned them (the `[reward]` of the config), unscaled.
    pub env_rewards: Vec<f32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    /// V(final observation) where truncated.
    pub truncation_values: Vec<f32>,
    /// The env signals of every step `[T*N, S]`, so rewards can be recomputed.
    pub signals: Vec<f32>,
}

impl RolloutBuffer {
    pub fn new(n: usize, t: usize, obs_dim: usize, action_dim: usize, signals: usize) -> Self {
        let b = n * t;
        RolloutBuffer {
            num_envs: n,
            num_steps: t,
            obs_dim,
            privileged_dim: 0,
            action_dim,
            num_signals: signals,
            obs: vec![0.0; b * obs_dim],
            actions: vec![0.0; b * action_dim],
            logp: vec![0.0; b],
            values: vec![0.0; b],
            rewards: vec![0.0; b],
            env_rewards: vec![0.0; b],
            terminated: vec![false; b],
            truncated: vec![false; b],
            truncation_values: vec![0.0; b],
            signals: vec![0.0; b * signals],
        }
    }

    pub fn len(&self) -> usize {
        self.num_envs * self.num_steps
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Completed-episode statistics of one iteration.
#[derive(Clone, Debug, Default)]
pub struct EpisodeStats {
    pub returns: Vec<f64>,
    pub lengths: Vec<f64>,
    /// Sums over episodes of the per-episode signal sums `[S]`.
    pub signal_sums: Vec<f64>,
    pub term_sums: Vec<f64>,
    pub metric_sums: Vec<f64>,
    pub terminated: u64,
    pub truncated: u64,
    pub physics_failures: u64,
    /// Counts per reward termination cause.
    pub causes: Vec<u64>,
}

impl EpisodeStats {
    pub fn new(signals: usize, terms: usize, metrics: usize, causes: usize) -> Self {
        EpisodeStats {
            signal_sums: vec![0.0; signals],
            term_sums: vec![0.0; terms],
            metric_sums: vec![0.0; metrics],
            causes: vec![0; causes],
            ..Default::default()
        }
    }

    /// Records every episode that ended in the last `VecEnv::step`.
    pub fn record(&mut self, buf: &StepBuffers) {
        for i in 0..buf.num_envs {
            if !buf.done(i) {
                continue;
            }
            self.returns.push(buf.episode_return[i] as f64);
            self.lengths.push(buf.episode_length[i] as f64);
            add(&mut self.signal_sums, buf.episode_signal_row(i));
            add(&mut self.term_sums, buf.episode_term_row(i));
            add(&mut self.metric_sums, buf.episode_metric_row(i));
            if buf.terminated[i] {
                self.terminated += 1;
            } else {
                self.truncated += 1;
            }
            if buf.physics_failure[i] {
                self.physics_failures += 1;
            }
            if let Ok(c) = usize::try_from(buf.episode_cause[i]) {
                if let Some(slot) = self.causes.get_mut(c) {
                    *slot += 1;
                }
            }
        }
    }

    pub fn episodes(&self) -> usize {
        self.returns.len()
    }
}

fn add(acc: &mut [f64], row: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(row) {
        *a += v as f64;
    }
}

/// Mean of a slice, NaN when empty (logged as a missing value).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        f64::NAN
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// `1 - Var(returns - values) / Var(returns)`, NaN when the returns are constant.
pub fn explained_variance(values: &[f32], returns: &[f32]) -> f64 {
    let var = |xs: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = xs.collect();
        let m = mean(&v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64
    };
    let var_y = var(&mut returns.iter().map(|&r| r as f64));
    if var_y == 0.0 {
        return f64::NAN;
    }
    let var_res = var(&mut returns
        .iter()
        .zip(values)
        .map(|(&r, &v)| r as f64 - v as f64));
    1.0 - var_res / var_y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explained_variance_of_perfect_and_useless_predictions() {
        let ret = [1.0, 2.0, 3.0];
        assert_eq!(explained_variance(&ret, &ret), 1.0);
        assert!((explained_variance(&[2.0, 2.0, 2.0], &ret)).abs() < 1e-12);
        assert!(explained_variance(&[0.0; 3], &[1.0; 3]).is_nan());
    }
}
