//! The policy as the envs see it: observation normalization, then the actor-critic network,
//! then the action distribution, then the env action. Built once from a config and the env's
//! spaces, and used by collection ([`Policy::sample`]), evaluation and checkpoint loading
//! ([`Policy::act_mode`], [`Policy::act`]) and rendering.

use candle_core::{Device, Tensor};
use carrot_envs::{EnvRng, Space};

use crate::config::TrainConfig;
use crate::error::Result;
use crate::networks::{make_device, ActorCritic, HeadKind, HostOutputs};
use crate::normalization::RunningMeanStd;
use crate::train::{stream, INIT_STREAM};

/// Observation statistics plus the network, with the pieces that turn one into the other.
pub struct Policy {
    pub net: ActorCritic,
    /// Observation statistics (`ppo.normalize_obs`), frozen outside training; they cover the
    /// observation columns only, never the privileged critic inputs.
    pub obs_rms: Option<RunningMeanStd>,
    normalize_clip: f64,
}

/// What [`Policy::sample`] writes for a batch of `n` rows.
pub struct Sampled<'a> {
    /// Actions in the distribution's stored form `[n, A]`.
    pub stored: &'a mut [f32],
    /// Env actions `[n, env action dim]`.
    pub env_actions: &'a mut [f32],
    pub logp: &'a mut [f32],
    pub values: &'a mut [f32],
}

impl Policy {
    /// The initial policy of `config` (network from the seed's init stream, fresh statistics)
    /// for observations of `obs_dim` floats and `action_space`.
    pub fn new(config: &TrainConfig, obs_dim: usize, action_space: &Space) -> Result<Self> {
        let ppo = &config.ppo;
        let head = HeadKind::resolve(ppo.policy_head, action_space)?;
        let device = make_device(ppo.device)?;
        let mut init_rng = stream(config.seed, INIT_STREAM);
        Ok(Policy {
            net: ActorCritic::new(ppo, obs_dim, head, &device, &mut init_rng)?,
            obs_rms: ppo.normalize_obs.then(|| RunningMeanStd::new(obs_dim)),
            normalize_clip: ppo.normalize_clip,
        })
    }

    pub fn head(&self) -> &HeadKind {
        self.net.head()
    }

    pub fn device(&self) -> &Device {
        self.net.device()
    }

    /// Normalizes raw observation rows in place with the current statistics (if any).
    pub fn normalize(&self, rows: &mut [f32]) {
        if let Some(rms) = &self.obs_rms {
            rms.normalize(rows, self.normalize_clip);
        }
    }

    /// Folds raw observation rows into the statistics, then normalizes them in place.
    pub fn observe_and_normalize(&mut self, rows: &mut [f32]) {
        if let Some(rms) = &mut self.obs_rms {
            rms.update(rows);
            rms.normalize(rows, self.normalize_clip);
        }
    }

    /// `[rows, D]` as a tensor on the policy's device.
    pub fn tensor(&self, data: &[f32], rows: usize) -> Result<Tensor> {
        Ok(Tensor::from_slice(
            data,
            (rows, data.len() / rows.max(1)),
            self.device(),
        )?)
    }

    /// V(obs) of already-normalized observation rows, each followed by its privileged critic
    /// inputs when `ppo.critic_signals` is set.
    pub fn values(&self, policy_obs: &[f32], rows: usize) -> Result<Vec<f32>> {
        let obs = self.tensor(policy_obs, rows)?;
        Ok(self.net.value(&obs)?.to_vec1::<f32>()?)
    }

    /// Distribution parameters (and values) of already-normalized observation rows (with the
    /// privileged critic columns appended when values are asked for and the critic has some).
    pub fn outputs(
        &self,
        policy_obs: &[f32],
        rows: usize,
        with_value: bool,
    ) -> Result<HostOutputs> {
        let obs = self.tensor(policy_obs, rows)?;
        Ok(self.net.host_outputs(&obs, with_value)?)
    }

    /// Samples an action per row of already-normalized observations (row order, one RNG).
    pub fn sample(&self, policy_obs: &[f32], rng: &mut EnvRng, out: Sampled<'_>) -> Result<()> {
        let n = out.logp.len();
        let head = self.head();
        let (a, act_dim) = (head.action_dim(), out.env_actions.len() / n.max(1));
        let dist = self.outputs(policy_obs, n, true)?;
        for i in 0..n {
            let stored = &mut out.stored[i * a..(i + 1) * a];
            out.logp[i] = dist.dist(i).sample(rng, stored);
            head.env_action(stored, &mut out.env_actions[i * act_dim..(i + 1) * act_dim]);
            out.values[i] = dist.values[i];
        }
        Ok(())
    }

    /// The deterministic env actions (the distribution's mode) for `rows` raw observations.
    pub fn act_mode(&self, raw_obs: &[f32], rows: usize, env_actions: &mut [f32]) -> Result<()> {
        let mut obs = raw_obs.to_vec();
        self.normalize(&mut obs);
        let dist = self.outputs(&obs, rows, false)?;
        let head = self.head();
        let act_dim = env_actions.len() / rows.max(1);
        let mut stored = vec![0f32; head.action_dim()];
        for i in 0..rows {
            dist.dist(i).mode(&mut stored);
            head.env_action(&stored, &mut env_actions[i * act_dim..(i + 1) * act_dim]);
        }
        Ok(())
    }

    /// The deterministic env action for one raw observation.
    pub fn act(&self, raw_obs: &[f32]) -> Result<Vec<f32>> {
        let mut action = vec![0f32; self.head().action_dim()];
        self.act_mode(raw_obs, 1, &mut action)?;
        Ok(action)
    }
}
