//! Snapshots of a whole [`VecEnv`]: every env's [`Env::snapshot`](crate::Env::snapshot), the
//! running episode statistics of each slot and the observations to act on next, so that a
//! restored VecEnv steps on exactly as the snapshotted one (mid-episode, no reset).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{StepBuffers, VecEnv};
use crate::{EnvError, EnvSnapshot};

/// The running statistics of one env's episode.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SlotState {
    length: u32,
    ret: f64,
    signal_sums: Vec<f64>,
    term_sums: Vec<f64>,
    physics_failures: u64,
}

/// A [`VecEnv`] and the buffer rows a caller acts on next (see [`VecEnv::snapshot`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VecEnvSnapshot {
    /// The env's registry name.
    pub env: String,
    envs: Vec<EnvSnapshot>,
    slots: Vec<SlotState>,
    /// `StepBuffers::obs`: the observations to act on next.
    obs: Vec<f32>,
    /// `StepBuffers::state_signals`: the signals of the states behind `obs`.
    state_signals: Vec<f32>,
}

impl VecEnv {
    /// Snapshots every env with its episode statistics and `buf`'s current observations.
    /// Fails with [`EnvError::SnapshotUnsupported`] when the env cannot snapshot.
    pub fn snapshot(&self, buf: &StepBuffers) -> Result<VecEnvSnapshot, EnvError> {
        self.check_buffers(buf)?;
        let envs = self
            .groups
            .iter()
            .flat_map(|g| (0..g.envs.num_envs()).map(|j| g.envs.snapshot(j)))
            .collect::<Result<Vec<_>, _>>()?;
        let slots = self
            .slots
            .iter()
            .map(|s| SlotState {
                length: s.length,
                ret: s.ret,
                signal_sums: s.signal_sums.clone(),
                term_sums: s.term_sums.clone(),
                physics_failures: s.physics_failures,
            })
            .collect();
        Ok(VecEnvSnapshot {
            env: self.name().into(),
            envs,
            slots,
            obs: buf.obs.clone(),
            state_signals: buf.state_signals.clone(),
        })
    }

    /// Restores a snapshot of a VecEnv built from the same config (envs in parallel; each is
    /// independent, so the result does not depend on the thread count) and writes its
    /// observations into `buf`.
    pub fn restore(
        &mut self,
        snapshot: &VecEnvSnapshot,
        buf: &mut StepBuffers,
    ) -> Result<(), EnvError> {
        self.check_buffers(buf)?;
        let n = self.num_envs();
        let fits = snapshot.env == self.name()
            && snapshot.envs.len() == n
            && snapshot.slots.len() == n
            && snapshot.obs.len() == buf.obs.len()
            && snapshot.state_signals.len() == buf.state_signals.len()
            && snapshot.slots.iter().all(|s| {
                s.signal_sums.len() == buf.num_signals && s.term_sums.len() == buf.num_terms
            });
        if !fits {
            return Err(EnvError::Snapshot {
                env: self.name().into(),
                message: format!(
                    "it holds {} '{}' envs with other buffer shapes than these {n}",
                    snapshot.envs.len(),
                    snapshot.env
                ),
            });
        }
        let mut rest = snapshot.envs.as_slice();
        let mut per_group = Vec::with_capacity(self.groups.len());
        for group in &self.groups {
            let (mine, later) = rest.split_at(group.envs.num_envs());
            per_group.push(mine);
            rest = later;
        }
        self.groups
            .par_iter_mut()
            .zip(per_group.into_par_iter())
            .map(|(group, snaps)| {
                snaps
                    .iter()
                    .enumerate()
                    .try_for_each(|(j, s)| group.envs.restore(j, s))
            })
            .collect::<Result<Vec<()>, _>>()?;
        for (slot, s) in self.slots.iter_mut().zip(&snapshot.slots) {
            slot.length = s.length;
            slot.ret = s.ret;
            slot.signal_sums.clone_from(&s.signal_sums);
            slot.term_sums.clone_from(&s.term_sums);
            slot.physics_failures = s.physics_failures;
        }
        buf.obs.copy_from_slice(&snapshot.obs);
        buf.state_signals.copy_from_slice(&snapshot.state_signals);
        buf.terminated.iter_mut().for_each(|x| *x = false);
        buf.truncated.iter_mut().for_each(|x| *x = false);
        Ok(())
    }
}
