//! `VecEnv`: N envs stepped in parallel with rayon into caller-owned `StepBuffers`, with the
//! reward applied inside the step, same-step autoreset with final observations, per-episode
//! statistics, and env `i` seeded `seed + i`; snapshots of all of it in `vec_env_snapshot`.

use crate::env_batch::LoneEnv;
use crate::{env_seed, Env, EnvBatch, EnvError, SignalSpec, Space, StepOutcome, StepReward};

/// Caller-owned structure-of-arrays buffers for a [`VecEnv`] of `n` envs. Rows are env-major:
/// `obs[i * obs_dim..(i + 1) * obs_dim]` belongs to env `i`. Nothing is allocated per step.
///
/// After [`VecEnv::step`], `obs` holds the observation to act on next: for an env whose episode
/// ended this step (`terminated[i] || truncated[i]`) that is the first observation of its new
/// episode, and `final_obs` row `i` holds the last observation of the old one (Gymnasium's
/// SAME_STEP autoreset with `final_obs`). The `episode_*` rows are valid where the episode ended.
/// `state_signals` row `i` always describes the state behind `obs` row `i` (for privileged
/// critics): the step's signals where the episode goes on, [`Env::reset_signals`] of the new
/// episode where it ended (and after [`VecEnv::reset`]).
#[derive(Clone, Debug)]
pub struct StepBuffers {
    pub num_envs: usize,
    pub obs_dim: usize,
    pub num_signals: usize,
    pub num_terms: usize,
    pub num_metrics: usize,
    pub obs: Vec<f32>,
    pub final_obs: Vec<f32>,
    pub signals: Vec<f32>,
    /// Signals of the state behind `obs` `[N x S]` (see above).
    pub state_signals: Vec<f32>,
    pub rewards: Vec<f32>,
    pub reward_terms: Vec<f32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    /// The physics blew up in this step (the episode was terminated cleanly).
    pub physics_failure: Vec<bool>,
    pub episode_length: Vec<u32>,
    pub episode_return: Vec<f32>,
    pub episode_signal_sums: Vec<f32>,
    pub episode_term_sums: Vec<f32>,
    /// Index of the reward-driven termination cause, or -1.
    pub episode_cause: Vec<i32>,
    pub episode_metrics: Vec<f32>,
}

impl StepBuffers {
    fn new(n: usize, obs_dim: usize, s: usize, k: usize, m: usize) -> Self {
        StepBuffers {
            num_envs: n,
            obs_dim,
            num_signals: s,
            num_terms: k,
            num_metrics: m,
            obs: vec![0.0; n * obs_dim],
            final_obs: vec![0.0; n * obs_dim],
            signals: vec![0.0; n * s],
            state_signals: vec![0.0; n * s],
            rewards: vec![0.0; n],
            reward_terms: vec![0.0; n * k],
            terminated: vec![false; n],
            truncated: vec![false; n],
            physics_failure: vec![false; n],
            episode_length: vec![0; n],
            episode_return: vec![0.0; n],
            episode_signal_sums: vec![0.0; n * s],
            episode_term_sums: vec![0.0; n * k],
            episode_cause: vec![-1; n],
            episode_metrics: vec![0.0; n * m],
        }
    }

    /// True when env `i`'s episode ended in the last step.
    pub fn done(&self, i: usize) -> bool {
        self.terminated[i] || self.truncated[i]
    }

    pub fn obs_row(&self, i: usize) -> &[f32] {
        &self.obs[i * self.obs_dim..(i + 1) * self.obs_dim]
    }

    pub fn final_obs_row(&self, i: usize) -> &[f32] {
        &self.final_obs[i * self.obs_dim..(i + 1) * self.obs_dim]
    }

    pub fn signal_row(&self, i: usize) -> &[f32] {
        &self.signals[i * self.num_signals..(i + 1) * self.num_signals]
    }

    pub fn state_signal_row(&self, i: usize) -> &[f32] {
        &self.state_signals[i * self.num_signals..(i + 1) * self.num_signals]
    }

    pub fn episode_signal_row(&self, i: usize) -> &[f32] {
        &self.episode_signal_sums[i * self.num_signals..(i + 1) * self.num_signals]
    }

    pub fn episode_term_row(&self, i: usize) -> &[f32] {
        &self.episode_term_sums[i * self.num_terms..(i + 1) * self.num_terms]
    }

    pub fn episode_metric_row(&self, i: usize) -> &[f32] {
        &self.episode_metrics[i * self.num_metrics..(i + 1) * self.num_metrics]
    }
}

/// Envs stepped together (one env, or copies sharing a rapier world) with their outcomes.
struct Group {
    envs: Box<dyn EnvBatch>,
    outcomes: Vec<StepOutcome>,
}

/// One env's per-episode running statistics.
struct Slot {
    length: u32,
    ret: f64,
    signal_sums: Vec<f64>,
    term_sums: Vec<f64>,
    physics_failures: u64,
}

/// N copies of one env stepped in parallel with rayon. Envs come in groups ([`EnvBatch`]: one
/// env, or copies sharing one rapier world); each group is stepped whole by one thread, groups
/// are split into contiguous chunks, one per rayon thread (one group per task where every
/// step is heavy, [`Env::heavy_step`], and there are several threads), and every env owns its
/// RNG, so results are
/// bit-identical whatever the thread count (and whatever the grouping).
pub struct VecEnv {
    groups: Vec<Group>,
    slots: Vec<Slot>,
    /// The last step's actions after validation and clipping, `[N x action_dim]`.
    actions: Vec<f32>,
    observation_space: Space,
    action_space: Space,
    signal_spec: SignalSpec,
    metric_names: Vec<&'static str>,
    /// Every group's step is heavy ([`Env::heavy_step`]): step one group per task.
    heavy_steps: bool,
}

impl VecEnv {
    /// Wraps envs that must share spaces and signal layout (copies of one env config).
    pub fn new(envs: Vec<Box<dyn Env>>) -> Result<Self, EnvError> {
        Self::from_batches(
            envs.into_iter()
                .map(|env| Box::new(LoneEnv(env)) as Box<dyn EnvBatch>)
                .collect(),
        )
    }

    /// Wraps batches of envs that must share spaces and signal layout (copies of one env
    /// config); env `i` of the VecEnv is the `i`-th env counting through the batches in order.
    pub fn from_batches(envs: Vec<Box<dyn EnvBatch>>) -> Result<Self, EnvError> {
        let first = envs
            .first()
            .ok_or_else(|| EnvError::BufferShape("a VecEnv needs at least one env".into()))?;
        let observation_space = first.observation_space().clone();
        let action_space = first.action_space().clone();
        let signal_spec = first.signal_spec().clone();
        let metric_names = first.episode_metric_names().to_vec();
        for (i, env) in envs.iter().enumerate() {
            if env.num_envs() == 0 {
                return Err(EnvError::BufferShape(format!("env batch {i} is empty")));
            }
            if env.observation_space() != &observation_space
                || env.action_space() != &action_space
                || env.signal_spec() != &signal_spec
            {
                return Err(EnvError::BufferShape(format!(
                    "env batch {i} ({}) differs in spaces or signals from batch 0 ({})",
                    env.name(),
                    first.name()
                )));
            }
        }
        let n: usize = envs.iter().map(|e| e.num_envs()).sum();
        let heavy_steps = envs.iter().all(|e| e.heavy_step());
        let s = signal_spec.len();
        let slots = (0..n)
            .map(|_| Slot {
                length: 0,
                ret: 0.0,
                signal_sums: vec![0.0; s],
                term_sums: Vec::new(),
                physics_failures: 0,
            })
            .collect();
        let groups = envs
            .into_iter()
            .map(|envs| Group {
                outcomes: vec![StepOutcome::default(); envs.num_envs()],
                envs,
            })
            .collect();
        Ok(VecEnv {
            groups,
            slots,
            actions: vec![0.0; n * action_space.flat_dim()],
            observation_space,
            action_space,
            signal_spec,
            metric_names,
            heavy_steps,
        })
    }

    pub fn num_envs(&self) -> usize {
        self.slots.len()
    }

    pub fn name(&self) -> &'static str {
        self.groups[0].envs.name()
    }

    /// How many rapier worlds (or other batches) the envs are stepped in.
    pub fn num_batches(&self) -> usize {
        self.groups.len()
    }

    pub fn observation_space(&self) -> &Space {
        &self.observation_space
    }

    pub fn action_space(&self) -> &Space {
        &self.action_space
    }

    pub fn signal_spec(&self) -> &SignalSpec {
        &self.signal_spec
    }

    pub fn episode_metric_names(&self) -> &[&'static str] {
        &self.metric_names
    }

    /// Total physics blow-ups seen over the life of this VecEnv.
    pub fn physics_failures(&self) -> u64 {
        self.slots.iter().map(|s| s.physics_failures).sum()
    }

    /// Buffers sized for this VecEnv and `reward`'s term count.
    pub fn make_buffers(&self, reward: &dyn StepReward) -> StepBuffers {
        StepBuffers::new(
            self.num_envs(),
            self.observation_space.flat_dim(),
            self.signal_spec.len(),
            reward.term_names().len(),
            self.metric_names.len(),
        )
    }

    /// Resets env `i` with seed `seed + i` and clears episode statistics.
    pub fn reset(&mut self, seed: u64, buf: &mut StepBuffers) -> Result<(), EnvError> {
        let seeds: Vec<u64> = (0..self.num_envs()).map(|i| env_seed(seed, i)).collect();
        self.reset_each(&seeds, buf)
    }

    /// Resets env `i` with `seeds[i]` (Gymnasium's `reset(seed=[...])`) and clears episode
    /// statistics. Equal seeds make copies of one env.
    pub fn reset_each(&mut self, seeds: &[u64], buf: &mut StepBuffers) -> Result<(), EnvError> {
        self.check_buffers(buf)?;
        if seeds.len() != self.num_envs() {
            return Err(EnvError::BufferShape(format!(
                "seeds has {} values, expected one per env ({})",
                seeds.len(),
                self.num_envs()
            )));
        }
        let (d, s) = (buf.obs_dim, buf.num_signals);
        let mut i = 0;
        for group in &mut self.groups {
            for j in 0..group.envs.num_envs() {
                group
                    .envs
                    .reset(j, Some(seeds[i]), &mut buf.obs[i * d..(i + 1) * d]);
                group
                    .envs
                    .reset_signals(j, &mut buf.state_signals[i * s..(i + 1) * s]);
                i += 1;
            }
        }
        for slot in &mut self.slots {
            slot.length = 0;
            slot.ret = 0.0;
            slot.signal_sums.iter_mut().for_each(|x| *x = 0.0);
            slot.term_sums.clear();
            slot.term_sums.resize(buf.num_terms, 0.0);
        }
        buf.terminated.iter_mut().for_each(|x| *x = false);
        buf.truncated.iter_mut().for_each(|x| *x = false);
        Ok(())
    }

    /// Steps every env with its row of `actions` (`[N x action_dim]`), applies `reward` before
    /// the autoreset, and fills `buf`. A NaN or infinite action fails the whole step before any
    /// env moves, with an error naming the env index.
    pub fn step(
        &mut self,
        actions: &[f32],
        reward: &dyn StepReward,
        buf: &mut StepBuffers,
    ) -> Result<(), EnvError> {
        self.check_buffers(buf)?;
        let a = self.action_space.flat_dim();
        if actions.len() != self.num_envs() * a {
            return Err(EnvError::BufferShape(format!(
                "actions has {} values, expected {} envs x {a}",
                actions.len(),
                self.num_envs()
            )));
        }
        if buf.num_terms != reward.term_names().len() {
            return Err(EnvError::BufferShape(format!(
                "buffers hold {} reward terms, the reward has {}",
                buf.num_terms,
                reward.term_names().len()
            )));
        }
        for (i, (act, out)) in actions
            .chunks(a)
            .zip(self.actions.chunks_mut(a))
            .enumerate()
        {
            self.action_space.sanitize_action(i, act, out)?;
        }
        let threads = rayon::current_num_threads().max(1);
        let chunk = if self.heavy_steps && threads > 1 {
            1
        } else {
            self.groups.len().div_ceil(threads)
        };
        let block = Block::new(&mut self.groups, &mut self.slots, &self.actions, a, buf);
        run_blocks(block, chunk, reward);
        Ok(())
    }

    fn check_buffers(&self, buf: &StepBuffers) -> Result<(), EnvError> {
        if buf.num_envs != self.num_envs()
            || buf.obs_dim != self.observation_space.flat_dim()
            || buf.num_signals != self.signal_spec.len()
            || buf.num_metrics != self.metric_names.len()
        {
            return Err(EnvError::BufferShape(
                "StepBuffers were made for a different VecEnv; use VecEnv::make_buffers".into(),
            ));
        }
        Ok(())
    }
}

/// A contiguous range of groups with the matching rows of every buffer.
struct Block<'a> {
    groups: &'a mut [Group],
    slots: &'a mut [Slot],
    actions: &'a [f32],
    obs: &'a mut [f32],
    final_obs: &'a mut [f32],
    signals: &'a mut [f32],
    state_signals: &'a mut [f32],
    rewards: &'a mut [f32],
    reward_terms: &'a mut [f32],
    terminated: &'a mut [bool],
    truncated: &'a mut [bool],
    physics_failure: &'a mut [bool],
    episode_length: &'a mut [u32],
    episode_return: &'a mut [f32],
    episode_signal_sums: &'a mut [f32],
    episode_term_sums: &'a mut [f32],
    episode_cause: &'a mut [i32],
    episode_metrics: &'a mut [f32],
    /// Observation, signal, reward-term, metric and action widths.
    dims: (usize, usize, usize, usize, usize),
}

macro_rules! split_fields {
    ($self:ident, $g:ident, $n:ident, [$($row:ident),*], [$(($wide:ident, $w:expr)),*]) => {{
        let groups = $self.groups.split_at_mut($g);
        let actions = $self.actions.split_at($n * $self.dims.4);
        $(let $row = $self.$row.split_at_mut($n);)*
        $(let $wide = $self.$wide.split_at_mut($n * $w);)*
        (
            Block {
                groups: groups.0,
                actions: actions.0,
                $($row: $row.0,)*
                $($wide: $wide.0,)*
                dims: $self.dims,
            },
            Block {
                groups: groups.1,
                actions: actions.1,
                $($row: $row.1,)*
                $($wide: $wide.1,)*
                dims: $self.dims,
            },
        )
    }};
}

impl<'a> Block<'a> {
    fn new(
        groups: &'a mut [Group],
        slots: &'a mut [Slot],
        actions: &'a [f32],
        act_dim: usize,
        buf: &'a mut StepBuffers,
    ) -> Self {
        Block {
            groups,
            slots,
            actions,
            obs: &mut buf.obs,
            final_obs: &mut buf.final_obs,
            signals: &mut buf.signals,
            state_signals: &mut buf.state_signals,
            rewards: &mut buf.rewards,
            reward_terms: &mut buf.reward_terms,
            terminated: &mut buf.terminated,
            truncated: &mut buf.truncated,
            physics_failure: &mut buf.physics_failure,
            episode_length: &mut buf.episode_length,
            episode_return: &mut buf.episode_return,
            episode_signal_sums: &mut buf.episode_signal_sums,
            episode_term_sums: &mut buf.episode_term_sums,
            episode_cause: &mut buf.episode_cause,
            episode_metrics: &mut buf.episode_metrics,
            dims: (
                buf.obs_dim,
                buf.num_signals,
                buf.num_terms,
                buf.num_metrics,
                act_dim,
            ),
        }
    }

    /// Splits after the first `g` groups.
    fn split_at(self, g: usize) -> (Block<'a>, Block<'a>) {
        let (d, s, k, m, _) = self.dims;
        let n: usize = self.groups[..g].iter().map(|g| g.envs.num_envs()).sum();
        split_fields!(
            self,
            g,
            n,
            [
                slots,
                rewards,
                terminated,
                truncated,
                physics_failure,
                episode_length,
                episode_return,
                episode_cause
            ],
            [
                (obs, d),
                (final_obs, d),
                (signals, s),
                (state_signals, s),
                (reward_terms, k),
                (episode_signal_sums, s),
                (episode_term_sums, k),
                (episode_metrics, m)
            ]
        )
    }

    fn step_all(mut self, reward: &dyn StepReward) {
        let (d, s, _, _, a) = self.dims;
        let groups = std::mem::take(&mut self.groups);
        let mut start = 0;
        for group in groups.iter_mut() {
            let end = start + group.envs.num_envs();
            group.envs.step(
                &self.actions[start * a..end * a],
                &mut self.obs[start * d..end * d],
                &mut self.signals[start * s..end * s],
                &mut group.outcomes,
            );
            start = end;
        }
        let mut i = 0;
        for group in groups.iter_mut() {
            for (j, outcome) in group.outcomes.iter().enumerate() {
                self.finish_step(i, j, *outcome, group.envs.as_mut(), reward);
                i += 1;
            }
        }
    }

    /// Applies the reward to env `i` (env `j` of `envs`), keeps its statistics and resets it
    /// where its episode ended.
    fn finish_step(
        &mut self,
        i: usize,
        j: usize,
        outcome: StepOutcome,
        envs: &mut dyn EnvBatch,
        reward: &dyn StepReward,
    ) {
        let (d, s, k, m, _) = self.dims;
        let slot = &mut self.slots[i];
        let obs = &mut self.obs[i * d..(i + 1) * d];
        let signals = &self.signals[i * s..(i + 1) * s];
        let terms = &mut self.reward_terms[i * k..(i + 1) * k];
        let (r, cause) = reward.evaluate(signals, terms);
        let terminated = outcome.terminated || cause.is_some();
        self.rewards[i] = r;
        self.terminated[i] = terminated;
        self.truncated[i] = outcome.truncated;
        self.physics_failure[i] = outcome.physics_failure;
        slot.length += 1;
        slot.ret += r as f64;
        for (acc, v) in slot.signal_sums.iter_mut().zip(signals.iter()) {
            *acc += *v as f64;
        }
        for (acc, v) in slot.term_sums.iter_mut().zip(terms.iter()) {
            *acc += *v as f64;
        }
        if outcome.physics_failure {
            slot.physics_failures += 1;
        }
        if terminated || outcome.truncated {
            self.final_obs[i * d..(i + 1) * d].copy_from_slice(obs);
            self.episode_length[i] = slot.length;
            self.episode_return[i] = slot.ret as f32;
            for (o, acc) in self.episode_signal_sums[i * s..(i + 1) * s]
                .iter_mut()
                .zip(slot.signal_sums.iter_mut())
            {
                *o = *acc as f32;
                *acc = 0.0;
            }
            for (o, acc) in self.episode_term_sums[i * k..(i + 1) * k]
                .iter_mut()
                .zip(slot.term_sums.iter_mut())
            {
                *o = *acc as f32;
                *acc = 0.0;
            }
            self.episode_cause[i] = cause.map_or(-1, |c| c as i32);
            envs.episode_metrics(j, &mut self.episode_metrics[i * m..(i + 1) * m]);
            slot.length = 0;
            slot.ret = 0.0;
            envs.reset(j, None, obs);
            envs.reset_signals(j, &mut self.state_signals[i * s..(i + 1) * s]);
        } else {
            self.state_signals[i * s..(i + 1) * s].copy_from_slice(signals);
        }
    }
}

/// Steps `block`, split into chunks of `chunk` groups run in parallel.
fn run_blocks(block: Block<'_>, chunk: usize, reward: &dyn StepReward) {
    let n = block.groups.len();
    if n <= chunk {
        block.step_all(reward);
        return;
    }
    // Split on a chunk boundary so the partition depends only on `chunk`, never on scheduling.
    let mid = (n / chunk).div_ceil(2) * chunk;
    let (left, right) = block.split_at(mid.min(n));
    rayon::join(
        || run_blocks(left, chunk, reward),
        || run_blocks(right, chunk, reward),
    );
}

#[path = "vec_env_snapshot.rs"]
mod snapshot;
pub use snapshot::VecEnvSnapshot;

#[cfg(test)]
#[path = "vec_env_tests.rs"]
mod tests;
