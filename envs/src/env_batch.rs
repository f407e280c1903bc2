//! `EnvBatch`: envs that a [`crate::VecEnv`] steps together, such as copies of a control task
//! sharing one rapier world (one world step for all of them instead of one each). A single
//! [`Env`] is a batch of one.

use crate::{Env, EnvError, EnvSnapshot, SignalSpec, Space, StepOutcome};

/// `len()` copies of one env stepped together. Env `i` of the batch behaves exactly as a lone
/// [`Env`] of the same config would (same observations, signals and outcomes, bit for bit), so
/// how envs are grouped into batches never changes results; only the speed.
///
/// Rows are env-major, as in [`crate::StepBuffers`]: env `i` owns
/// `obs[i * obs_dim..(i + 1) * obs_dim]` and likewise for actions and signals.
pub trait EnvBatch: Send {
    /// Number of envs in the batch (at least 1).
    fn num_envs(&self) -> usize;
    /// Registry name, e.g. `"cartpole"`.
    fn name(&self) -> &'static str;
    fn observation_space(&self) -> &Space;
    fn action_space(&self) -> &Space;
    fn signal_spec(&self) -> &SignalSpec;
    fn episode_metric_names(&self) -> &[&'static str];

    /// [`Env::reset`] of env `i`.
    fn reset(&mut self, i: usize, seed: Option<u64>, obs: &mut [f32]);

    /// [`Env::reset_signals`] of env `i`.
    fn reset_signals(&self, i: usize, signals: &mut [f32]);

    /// [`Env::step`] of every env with its row of `actions` (validated and clipped), writing
    /// each env's observation and signal rows and its outcome into `outcomes[i]`.
    fn step(
        &mut self,
        actions: &[f32],
        obs: &mut [f32],
        signals: &mut [f32],
        outcomes: &mut [StepOutcome],
    );

    /// [`Env::episode_metrics`] of env `i`.
    fn episode_metrics(&self, i: usize, out: &mut [f32]);

    /// [`Env::snapshot`] of env `i`.
    fn snapshot(&self, i: usize) -> Result<EnvSnapshot, EnvError>;

    /// [`Env::heavy_step`] of the batch's env (a batch of several is stepped whole, so the
    /// default says no).
    fn heavy_step(&self) -> bool {
        false
    }

    /// [`Env::restore`] of env `i`.
    fn restore(&mut self, i: usize, snapshot: &EnvSnapshot) -> Result<(), EnvError>;
}

/// A lone env as a batch of one (a wrapper, so that `Box<dyn Env>` keeps only `Env`'s methods
/// where both traits are in scope).
pub(crate) struct LoneEnv(pub Box<dyn Env>);

impl EnvBatch for LoneEnv {
    fn num_envs(&self) -> usize {
        1
    }

    fn name(&self) -> &'static str {
        self.0.as_ref().name()
    }

    fn observation_space(&self) -> &Space {
        self.0.as_ref().observation_space()
    }

    fn action_space(&self) -> &Space {
        self.0.as_ref().action_space()
    }

    fn signal_spec(&self) -> &SignalSpec {
        self.0.as_ref().signal_spec()
    }

    fn episode_metric_names(&self) -> &[&'static str] {
        self.0.as_ref().episode_metric_names()
    }

    fn reset(&mut self, _i: usize, seed: Option<u64>, obs: &mut [f32]) {
        self.0.as_mut().reset(seed, obs);
    }

    fn reset_signals(&self, _i: usize, signals: &mut [f32]) {
        self.0.as_ref().reset_signals(signals);
    }

    fn step(
        &mut self,
        actions: &[f32],
        obs: &mut [f32],
        signals: &mut [f32],
        outcomes: &mut [StepOutcome],
    ) {
        outcomes[0] = self.0.as_mut().step(actions, obs, signals);
    }

    fn episode_metrics(&self, _i: usize, out: &mut [f32]) {
        self.0.as_ref().episode_metrics(out);
    }

    fn snapshot(&self, _i: usize) -> Result<EnvSnapshot, EnvError> {
        self.0.as_ref().snapshot()
    }

    fn heavy_step(&self) -> bool {
        self.0.heavy_step()
    }

    fn restore(&mut self, _i: usize, snapshot: &EnvSnapshot) -> Result<(), EnvError> {
        self.0.as_mut().restore(snapshot)
    }
}
