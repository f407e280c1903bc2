//! `check_env`: the env-API checks, run against any [`Env`], like Gymnasium's env checker.
//!
//! A downstream crate that defines its own env runs [`check_env`] in a test before training on
//! it. The checks run in this order and the first failure is returned as an
//! [`EnvCheckError`] naming the [`Check`] that failed (a panic inside the env is caught and
//! reported against the check that was running):
//!
//! 1. [`Check::Spaces`]: both spaces well-formed (matching lengths, `low <= high`, no NaN
//!    bounds, non-empty names, at least one discrete action).
//! 2. [`Check::SignalSpec`]: at least one signal, names non-empty and unique, the default
//!    reward one of them, episode metric names non-empty and unique.
//! 3. [`Check::ResetObservation`] / [`Check::StepObservation`]: every slot of the observation
//!    written, finite and inside the declared bounds (infinite bounds accept anything finite).
//! 4. [`Check::StepSignals`]: every one of the spec's signals written each step, all finite.
//! 5. [`Check::TerminatedTruncated`]: `terminated` and `truncated` never both set, except at
//!    the time limit or when [`CheckOptions::terminated_and_truncated_together`] allows it;
//!    a physics failure is always reported as terminated.
//! 6. [`Check::TimeLimit`] (when [`CheckOptions::max_episode_steps`] is given): no truncation
//!    before the limit, and every episode that reaches it ends there.
//! 7. [`Check::EpisodeMetrics`]: the metrics written at the end of an episode are finite.
//! 8. [`Check::Determinism`]: two fresh envs reset with one seed produce bit-identical
//!    trajectories under one (seeded, random) action sequence.
//! 9. [`Check::Reseeding`]: `reset(Some(seed))` on a used env replays that trajectory exactly.
//! 10. [`Check::StepAfterDone`]: the trait leaves stepping past a done step without a reset
//!     unspecified, so the check only asks that it does not panic and writes finite values,
//!     and that the next `reset(None)` gives a valid first observation (autoreset).
//! 11. [`Check::Actions`]: the extreme actions of the space (every discrete action, both box
//!     corners) step cleanly; NaN, infinite and wrong-length actions are errors through
//!     [`crate::checked_step`], never panics, and leave the env untouched; huge actions act as
//!     the clipped ones.
//!
//! Properties that are legitimate either way are reported in [`CheckReport`], not failed:
//! whether different seeds give different first observations (an env may start every episode
//! in the same state) and whether they give different trajectories.
//!
//! ```
//! use carrot_envs::check::{check_env, CheckOptions};
//! use carrot_envs::{CartPole, CartPoleConfig, Env};
//!
//! let options = CheckOptions {
//!     random_steps: 300,
//!     max_episode_steps: Some(500),
//!     ..CheckOptions::default()
//! };
//! let make = || Box::new(CartPole::new(CartPoleConfig::default()).unwrap()) as Box<dyn Env>;
//! let report = check_env(make, &options).unwrap();
//! assert!(report.random_reset && report.episodes > 0);
//! ```
//! For a registered env, [`check_env_config`] builds it and takes the time limit from its
//! config.

mod probe;
mod spaces;

use std::fmt;

use crate::{Env, EnvConfig};
use probe::Probe;

/// What [`check_env`] runs.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckOptions {
    /// Base seed of the episodes and of the random action sequence.
    pub seed: u64,
    /// Random steps per rollout (episodes autoreset with `reset(None)`); several rollouts run.
    pub random_steps: usize,
    /// The env's time limit in steps, when it has one: enables [`Check::TimeLimit`].
    pub max_episode_steps: Option<u64>,
    /// Accept `terminated && truncated` on any step (off: only at the time limit).
    pub terminated_and_truncated_together: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            seed: 0,
            random_steps: 1000,
            max_episode_steps: None,
            terminated_and_truncated_together: false,
        }
    }
}

/// One named check of [`check_env`]; see the module docs for what each asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Build,
    Spaces,
    SignalSpec,
    ResetObservation,
    StepObservation,
    StepSignals,
    TerminatedTruncated,
    TimeLimit,
    EpisodeMetrics,
    Determinism,
    Reseeding,
    StepAfterDone,
    Actions,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::Build => "build",
            Check::Spaces => "spaces",
            Check::SignalSpec => "signal_spec",
            Check::ResetObservation => "reset_observation",
            Check::StepObservation => "step_observation",
            Check::StepSignals => "step_signals",
            Check::TerminatedTruncated => "terminated_truncated",
            Check::TimeLimit => "time_limit",
            Check::EpisodeMetrics => "episode_metrics",
            Check::Determinism => "determinism",
            Check::Reseeding => "reseeding",
            Check::StepAfterDone => "step_after_done",
            Check::Actions => "actions",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The first failed check: which env, which check, and what was wrong, on one line.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("check_env({env}): {check} check failed: {message}")]
pub struct EnvCheckError {
    pub env: String,
    pub check: Check,
    pub message: String,
}

/// What the checks saw, for an env that passed them all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckReport {
    pub env: String,
    /// Env steps taken by all rollouts together.
    pub steps: usize,
    pub episodes: usize,
    pub terminations: usize,
    pub truncations: usize,
    pub physics_failures: usize,
    pub longest_episode: usize,
    /// Different seeds gave different first observations.
    pub random_reset: bool,
    /// Different seeds gave different trajectories under the same actions.
    pub seed_changes_trajectory: bool,
    /// [`Check::StepAfterDone`] ran (some episode ended within the rollout).
    pub stepped_after_done: bool,
}

/// Runs every check on envs built by `make` (called a few times: determinism needs fresh
/// twins). Returns the first failure, or a report of what was seen.
pub fn check_env<F>(make: F, options: &CheckOptions) -> Result<CheckReport, EnvCheckError>
where
    F: Fn() -> Box<dyn Env>,
{
    let mut env = make();
    let mut probe = Probe::new(env.as_ref(), options);
    probe.check_spaces(env.as_ref())?;
    probe.check_signal_spec(env.as_ref())?;
    let first = probe.rollout(env.as_mut(), options.seed)?;
    let mut twin = make();
    let twin_run = probe.rollout(twin.as_mut(), options.seed)?;
    probe.compare(Check::Determinism, &first, &twin_run, "two fresh envs")?;
    let replay = probe.rollout(env.as_mut(), options.seed)?;
    probe.compare(Check::Reseeding, &first, &replay, "a used env")?;
    let other = probe.rollout(twin.as_mut(), options.seed.wrapping_add(1))?;
    probe.report.seed_changes_trajectory = first != other;
    probe.report.random_reset = probe.random_reset(env.as_mut())?;
    probe.step_after_done(env.as_mut())?;
    probe.check_actions(make(), make())?;
    Ok(probe.report)
}

/// Builds the registered env `config` and checks it, taking the time limit from the config
/// when `options` does not set one.
pub fn check_env_config(
    config: &EnvConfig,
    options: &CheckOptions,
) -> Result<CheckReport, EnvCheckError> {
    config.build().map_err(|e| EnvCheckError {
        env: config.id().to_string(),
        check: Check::Build,
        message: e.to_string(),
    })?;
    let options = CheckOptions {
        max_episode_steps: options.max_episode_steps.or_else(|| time_limit(config)),
        ..options.clone()
    };
    check_env(|| config.build().expect("built once above"), &options)
}

/// The fixed time limit of a built-in env (driving's depends on the route, so none; a custom
/// env's is unknown here: pass `CheckOptions::max_episode_steps`).
fn time_limit(config: &EnvConfig) -> Option<u64> {
    match config {
        EnvConfig::Cartpole(c) => Some(c.max_episode_steps.into()),
        EnvConfig::Pendulum(c) => Some(c.max_episode_steps.into()),
        EnvConfig::Acrobot(c) => Some(c.max_episode_steps.into()),
        EnvConfig::MountainCar(c) => Some(c.episode_limit().into()),
        EnvConfig::GridWorld(c) => Some(c.max_episode_steps.into()),
        EnvConfig::Driving(_) | EnvConfig::Custom(_) => None,
    }
}
