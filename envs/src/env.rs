//! The `Env` trait (Gymnasium-style `reset` / `step` that write into caller buffers and emit
//! signals) and `StepOutcome`, which keeps termination and truncation apart.

use crate::{EnvError, EnvSnapshot, SignalSpec, Space};

/// How a step ended, Gymnasium style. `terminated` is a physical or task ending (no bootstrap);
/// `truncated` is a time limit or other cut (bootstrap from the final observation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepOutcome {
    pub terminated: bool,
    pub truncated: bool,
    /// The physics produced a non-finite state (rapier blow-up). The env reports the episode as
    /// terminated and writes its last finite observation; the vectorized env counts these.
    pub physics_failure: bool,
}

impl StepOutcome {
    pub fn running() -> Self {
        Self::default()
    }

    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// A single environment over explicit, owned state (one rapier world per env; copies that
/// share a world in a VecEnv come as an [`crate::EnvBatch`] instead, like [`crate::CartPoles`]).
///
/// Environments never compute the final reward: each step writes a fixed-layout signal vector
/// described by [`Env::signal_spec`], and a reward module turns signals into a scalar.
///
/// `step` receives an action already validated and clipped to [`Env::action_space`]
/// (see [`Space::sanitize_action`], which [`crate::VecEnv`] and [`checked_step`] apply).
pub trait Env: Send {
    /// Registry name, e.g. `"cartpole"`.
    fn name(&self) -> &'static str;
    fn observation_space(&self) -> &Space;
    fn action_space(&self) -> &Space;
    fn signal_spec(&self) -> &SignalSpec;

    /// Starts an episode. `Some(seed)` reseeds the env's RNG (Gymnasium's `reset(seed=...)`);
    /// `None` continues from the current RNG state. Writes the first observation into `obs`.
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]);

    /// Advances one control step, writing the next observation and this step's signals.
    fn step(&mut self, action: &[f32], obs: &mut [f32], signals: &mut [f32]) -> StepOutcome;

    /// Names of per-episode metrics (e.g. route completion) reported at the end of an episode.
    fn episode_metric_names(&self) -> &[&'static str] {
        &[]
    }

    /// Writes the metrics of the episode that just ended (called before the autoreset).
    fn episode_metrics(&self, _out: &mut [f32]) {}

    /// The signals describing the state the env was just reset into, for privileged critics
    /// (see [`crate::StepBuffers::state_signals`]). Transition signals (progress, collisions,
    /// rewards, ...) are 0; the default writes 0 everywhere. `signals` has
    /// [`Env::signal_spec`]'s length.
    fn reset_signals(&self, signals: &mut [f32]) {
        signals.iter_mut().for_each(|x| *x = 0.0);
    }

    /// The env's full state (physics, RNG, episode clock, ...) for a checkpoint that resumes
    /// exactly: after [`Env::restore`] into an env built from the same config, every later
    /// `step` and `reset(None)` returns what this env would have. Envs that cannot snapshot
    /// keep the default, [`EnvError::SnapshotUnsupported`]; a training run then resets its
    /// envs when it resumes.
    fn snapshot(&self) -> Result<EnvSnapshot, EnvError> {
        Err(EnvError::SnapshotUnsupported {
            env: self.name().into(),
        })
    }

    /// Puts the env in the state of a [`Env::snapshot`] of an env built from the same config.
    fn restore(&mut self, _snapshot: &EnvSnapshot) -> Result<(), EnvError> {
        Err(EnvError::SnapshotUnsupported {
            env: self.name().into(),
        })
    }

    /// Whether a step costs several microseconds and varies from env to env (the driving
    /// world: traffic, rays). [`crate::VecEnv`] then hands its threads one env at a time, so
    /// that work stealing evens out the load, instead of one equal block of envs per thread.
    /// Only speed depends on it, never results.
    fn heavy_step(&self) -> bool {
        false
    }
}

/// Steps a single env with Gymnasium's action semantics: clipping to the space, and a clear
/// error (the env untouched) for NaN or infinite actions. `scratch` must hold one action.
pub fn checked_step(
    env: &mut dyn Env,
    action: &[f32],
    scratch: &mut [f32],
    obs: &mut [f32],
    signals: &mut [f32],
) -> Result<StepOutcome, crate::EnvError> {
    env.action_space().sanitize_action(0, action, scratch)?;
    Ok(env.step(scratch, obs, signals))
}
