//! The checks themselves: validated reset and step calls, seeded random rollouts, and the
//! action probes. Every env call runs under `catch_unwind` so a panic becomes an error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::spaces::{extreme_actions, names_problem, space_problem};
use super::{Check, CheckOptions, CheckReport, EnvCheckError};
use crate::{checked_step, env_rng, Env, Space, StepOutcome};

/// A NaN with a payload no arithmetic produces: a slot still holding it was never written.
const UNWRITTEN: u32 = 0x7fc0_dead;
/// Keeps the action stream apart from the episode seeds.
const ACTION_STREAM: u64 = 0xac71_0000;

/// A rollout's every observation, signal and done flag, one row per step (the reset's
/// observation is row 0), as bits so NaN and -0.0 compare exactly.
#[derive(PartialEq)]
pub(super) struct Trajectory(Vec<Vec<u32>>);

pub(super) struct Probe {
    options: CheckOptions,
    obs_space: Space,
    action_space: Space,
    num_signals: usize,
    num_metrics: usize,
    pub(super) report: CheckReport,
}

impl Probe {
    pub(super) fn new(env: &dyn Env, options: &CheckOptions) -> Self {
        Probe {
            options: options.clone(),
            obs_space: env.observation_space().clone(),
            action_space: env.action_space().clone(),
            num_signals: env.signal_spec().len(),
            num_metrics: env.episode_metric_names().len(),
            report: CheckReport {
                env: env.name().to_string(),
                ..CheckReport::default()
            },
        }
    }

    pub(super) fn fail(&self, check: Check, message: String) -> EnvCheckError {
        EnvCheckError {
            env: self.report.env.clone(),
            check,
            message,
        }
    }

    /// Runs one env call; a panic becomes a failure of `check`.
    fn call<R>(&self, check: Check, what: &str, f: impl FnOnce() -> R) -> Result<R, EnvCheckError> {
        catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            self.fail(check, format!("the env panicked in {what}: {message}"))
        })
    }

    pub(super) fn check_spaces(&self, env: &dyn Env) -> Result<(), EnvCheckError> {
        for (which, space) in [
            ("observation", env.observation_space()),
            ("action", env.action_space()),
        ] {
            if let Some(problem) = space_problem(space) {
                return Err(self.fail(Check::Spaces, format!("{which} space {problem}")));
            }
        }
        Ok(())
    }

    pub(super) fn check_signal_spec(&self, env: &dyn Env) -> Result<(), EnvCheckError> {
        let spec = env.signal_spec();
        let names: Vec<&str> = spec.names().collect();
        let problem = if names.is_empty() {
            Some("the env emits no signals".to_string())
        } else {
            names_problem("signal", &names)
        }
        .or_else(|| {
            let reward = spec.default_reward?;
            (!names.contains(&reward))
                .then(|| format!("default reward '{reward}' is not one of the signals"))
        })
        .or_else(|| names_problem("episode metric", env.episode_metric_names()));
        match problem {
            Some(message) => Err(self.fail(Check::SignalSpec, message)),
            None => Ok(()),
        }
    }

    /// `reset` into a fresh buffer, validated against the observation space.
    fn reset(&self, env: &mut dyn Env, seed: Option<u64>) -> Result<Vec<f32>, EnvCheckError> {
        let mut obs = vec![f32::from_bits(UNWRITTEN); self.obs_space.flat_dim()];
        self.call(Check::ResetObservation, "reset", || {
            env.reset(seed, &mut obs)
        })?;
        self.check_obs(Check::ResetObservation, "reset", &obs, true)?;
        Ok(obs)
    }

    /// A step with a legal action through [`checked_step`], its outputs validated.
    fn step(
        &self,
        env: &mut dyn Env,
        action: &[f32],
        obs: &mut [f32],
        signals: &mut [f32],
    ) -> Result<StepOutcome, EnvCheckError> {
        obs.fill(f32::from_bits(UNWRITTEN));
        signals.fill(f32::from_bits(UNWRITTEN));
        let mut scratch = vec![0.0; action.len()];
        let result = self.call(Check::StepObservation, "step", || {
            checked_step(env, action, &mut scratch, obs, signals)
        })?;
        let outcome = result.map_err(|e| {
            self.fail(
                Check::Actions,
                format!("legal action {action:?} rejected: {e}"),
            )
        })?;
        self.check_obs(Check::StepObservation, "step", obs, true)?;
        self.check_signals(Check::StepSignals, signals)?;
        if outcome.physics_failure && !outcome.terminated {
            return Err(self.fail(
                Check::TerminatedTruncated,
                "a physics failure was not reported as terminated".into(),
            ));
        }
        Ok(outcome)
    }

    fn check_obs(
        &self,
        check: Check,
        when: &str,
        obs: &[f32],
        bounds: bool,
    ) -> Result<(), EnvCheckError> {
        let names = self.obs_space.names();
        let name = |i: usize| names.get(i).map_or("?", |n| n.as_str());
        for (i, &v) in obs.iter().enumerate() {
            if v.to_bits() == UNWRITTEN {
                return Err(self.fail(
                    check,
                    format!(
                        "{when} did not write observation slot {i} ('{}'; the space has {} dims)",
                        name(i),
                        obs.len()
                    ),
                ));
            }
            if !v.is_finite() {
                return Err(self.fail(
                    check,
                    format!("{when} wrote observation '{}' = {v}", name(i)),
                ));
            }
        }
        if bounds && !self.obs_space.contains(obs) {
            let detail = match &self.obs_space {
                Space::Box { low, high, .. } => (0..obs.len())
                    .find(|&i| obs[i] < low[i] || obs[i] > high[i])
                    .map(|i| {
                        format!(
                            "'{}' = {} outside [{}, {}]",
                            name(i),
                            obs[i],
                            low[i],
                            high[i]
                        )
                    })
                    .unwrap_or_default(),
                Space::Discrete { n, .. } => format!("{} is not an integer in 0..{n}", obs[0]),
            };
            return Err(self.fail(check, format!("{when} observation {detail}")));
        }
        Ok(())
    }

    fn check_signals(&self, check: Check, signals: &[f32]) -> Result<(), EnvCheckError> {
        match signals.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(i) if signals[i].to_bits() == UNWRITTEN => Err(self.fail(
                check,
                format!(
                    "step did not write signal slot {i} (the spec has {} signals)",
                    signals.len()
                ),
            )),
            Some(i) => Err(self.fail(check, format!("step wrote signal {i} = {}", signals[i]))),
        }
    }

    /// Ends of episodes: flags consistent with the time limit; metrics finite.
    fn check_episode_end(
        &self,
        env: &dyn Env,
        outcome: StepOutcome,
        length: usize,
    ) -> Result<(), EnvCheckError> {
        let limit = self.options.max_episode_steps;
        let at_limit = limit == Some(length as u64);
        if outcome.terminated
            && outcome.truncated
            && !at_limit
            && !self.options.terminated_and_truncated_together
        {
            return Err(self.fail(
                Check::TerminatedTruncated,
                format!("step {length} of an episode set both terminated and truncated"),
            ));
        }
        if let Some(limit) = limit {
            if outcome.truncated && (length as u64) < limit {
                return Err(self.fail(
                    Check::TimeLimit,
                    format!("truncated at step {length}, before the time limit of {limit} steps"),
                ));
            }
            if (length as u64) >= limit && !outcome.done() {
                return Err(self.fail(
                    Check::TimeLimit,
                    format!(
                    "episode still running after {length} steps, past the time limit of {limit}"
                ),
                ));
            }
        }
        if outcome.done() {
            let mut metrics = vec![f32::from_bits(UNWRITTEN); self.num_metrics];
            self.call(Check::EpisodeMetrics, "episode_metrics", || {
                env.episode_metrics(&mut metrics)
            })?;
            if let Some(i) = metrics.iter().position(|v| !v.is_finite()) {
                let name = env.episode_metric_names()[i];
                return Err(self.fail(
                    Check::EpisodeMetrics,
                    format!("metric '{name}' is {} (unwritten when NaN)", metrics[i]),
                ));
            }
        }
        Ok(())
    }

    /// `random_steps` seeded random actions from `reset(Some(seed))`, autoresetting with
    /// `reset(None)`; the action sequence is the same for every rollout.
    pub(super) fn rollout(
        &mut self,
        env: &mut dyn Env,
        seed: u64,
    ) -> Result<Trajectory, EnvCheckError> {
        let mut rng = env_rng(self.options.seed ^ ACTION_STREAM);
        let mut action = vec![0.0; self.action_space.flat_dim()];
        let mut obs = self.reset(env, Some(seed))?;
        let mut signals = vec![0.0; self.num_signals];
        let mut rows = vec![bits(&obs)];
        let mut length = 0;
        for _ in 0..self.options.random_steps {
            self.action_space.sample(&mut rng, &mut action);
            let outcome = self.step(env, &action, &mut obs, &mut signals)?;
            length += 1;
            self.check_episode_end(env, outcome, length)?;
            let mut row = bits(&obs);
            row.extend(bits(&signals));
            row.extend([outcome.terminated as u32, outcome.truncated as u32]);
            self.count(outcome, length);
            if outcome.done() {
                row.extend(bits(&self.reset(env, None)?));
                length = 0;
            }
            rows.push(row);
        }
        Ok(Trajectory(rows))
    }

    fn count(&mut self, outcome: StepOutcome, length: usize) {
        let r = &mut self.report;
        r.steps += 1;
        r.longest_episode = r.longest_episode.max(length);
        r.episodes += outcome.done() as usize;
        r.terminations += outcome.terminated as usize;
        r.truncations += outcome.truncated as usize;
        r.physics_failures += outcome.physics_failure as usize;
    }

    pub(super) fn compare(
        &self,
        check: Check,
        expected: &Trajectory,
        got: &Trajectory,
        who: &str,
    ) -> Result<(), EnvCheckError> {
        match expected.0.iter().zip(&got.0).position(|(a, b)| a != b) {
            None => Ok(()),
            Some(0) => Err(self.fail(
                check,
                format!(
                    "{who} reset with seed {} gave different first observations",
                    self.options.seed
                ),
            )),
            Some(step) => Err(self.fail(
                check,
                format!(
                    "{who} reset with seed {} diverged at step {step} under the same actions",
                    self.options.seed
                ),
            )),
        }
    }

    /// Whether seeds other than the base seed change the first observation.
    pub(super) fn random_reset(&self, env: &mut dyn Env) -> Result<bool, EnvCheckError> {
        let first = bits(&self.reset(env, Some(self.options.seed))?);
        for k in 1..=8 {
            let seed = self.options.seed.wrapping_add(k);
            if bits(&self.reset(env, Some(seed))?) != first {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Steps once past the first done step without a reset, then resets.
    pub(super) fn step_after_done(&mut self, env: &mut dyn Env) -> Result<(), EnvCheckError> {
        let mut rng = env_rng(self.options.seed ^ ACTION_STREAM);
        let mut action = vec![0.0; self.action_space.flat_dim()];
        let mut obs = self.reset(env, Some(self.options.seed))?;
        let mut signals = vec![0.0; self.num_signals];
        let budget = self
            .options
            .random_steps
            .max(1 + self.options.max_episode_steps.unwrap_or(0) as usize);
        for _ in 0..budget {
            self.action_space.sample(&mut rng, &mut action);
            if !self.step(env, &action, &mut obs, &mut signals)?.done() {
                continue;
            }
            self.action_space.sample(&mut rng, &mut action);
            let check = Check::StepAfterDone;
            let mut scratch = action.clone();
            signals.fill(f32::from_bits(UNWRITTEN));
            let result = self.call(check, "a step after the episode ended", || {
                checked_step(env, &action, &mut scratch, &mut obs, &mut signals)
            })?;
            result.map_err(|e| self.fail(check, format!("legal action rejected: {e}")))?;
            self.check_obs(check, "a step after the episode ended", &obs, false)?;
            self.check_signals(check, &signals)?;
            let mut fresh = vec![f32::from_bits(UNWRITTEN); obs.len()];
            self.call(check, "reset(None) after it", || {
                env.reset(None, &mut fresh)
            })?;
            self.check_obs(
                check,
                "reset(None) after stepping past the end",
                &fresh,
                true,
            )?;
            self.report.stepped_after_done = true;
            return Ok(());
        }
        Ok(())
    }

    /// Extreme, huge, NaN, infinite and wrong-length actions on `env`, next to a `twin` that
    /// gets the clipped legal actions.
    pub(super) fn check_actions(
        &self,
        mut env: Box<dyn Env>,
        mut twin: Box<dyn Env>,
    ) -> Result<(), EnvCheckError> {
        let (env, twin) = (env.as_mut(), twin.as_mut());
        let seed = Some(self.options.seed);
        let (mut obs, mut twin_obs) = (self.reset(env, seed)?, self.reset(twin, seed)?);
        let (mut signals, mut twin_signals) =
            (vec![0.0; self.num_signals], vec![0.0; self.num_signals]);
        let dim = self.action_space.flat_dim();
        let mut bad = vec![
            vec![f32::NAN; dim],
            vec![f32::INFINITY; dim],
            vec![f32::NEG_INFINITY; dim],
        ];
        bad.push(
            (0..dim)
                .map(|i| if i + 1 == dim { f32::NAN } else { 0.0 })
                .collect(),
        );
        bad.push(vec![0.0; dim + 1]);
        let mut scratch = vec![0.0; dim + 1];
        for action in &bad {
            let result = self.call(
                Check::Actions,
                "checked_step with an invalid action",
                || checked_step(env, action, &mut scratch[..dim], &mut obs, &mut signals),
            )?;
            if result.is_ok() {
                return Err(self.fail(
                    Check::Actions,
                    format!("invalid action {action:?} was accepted"),
                ));
            }
        }
        for (huge, legal) in extreme_actions(&self.action_space) {
            let outcome = self.step(env, &huge, &mut obs, &mut signals)?;
            let twin_outcome = self.step(twin, &legal, &mut twin_obs, &mut twin_signals)?;
            if bits(&obs) != bits(&twin_obs)
                || bits(&signals) != bits(&twin_signals)
                || outcome != twin_outcome
            {
                return Err(self.fail(Check::Actions, format!(
                    "after rejected actions, action {huge:?} and its clipped twin {legal:?} stepped differently"
                )));
            }
            if outcome.done() {
                obs = self.reset(env, None)?;
                twin_obs = self.reset(twin, None)?;
            }
        }
        Ok(())
    }
}

fn bits(xs: &[f32]) -> Vec<u32> {
    xs.iter().map(|x| x.to_bits()).collect()
}
