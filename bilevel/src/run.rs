//! A bilevel run on disk from one [`TrainConfig`]: `config.outer` names BARFI's method and
//! learned reward, `config.preference` a preference-learning method (PARL / PEBBLE); without
//! either the run is plain PPO. The `carrot` CLI calls [`train_run`] for
//! every run and [`check`] when it validates a config.

use std::path::Path;

use carrot_agents::{
    train_run_with, IterationHook, NoHook, OuterConfig, OuterMethod, PreferenceMethod, RunOptions,
    RunSummary, TrainConfig,
};
use carrot_rewards::Reward;

use crate::error::{BilevelError, Result};
use crate::hook::BarfiHook;
use crate::parl::ParlHook;
use crate::pbrs::PbrsHook;

/// The hook `config.outer` or `config.preference` asks for (`None` for a plain run).
pub fn build_hook(config: &TrainConfig) -> Result<Option<Box<dyn IterationHook>>> {
    if let Some(preference) = &config.preference {
        config.validate()?;
        // The inputs are checked for every method, so that a sweep's method axis fails early.
        let hook = ParlHook::new(config, preference)?;
        return Ok(Some(match preference.method {
            PreferenceMethod::Oracle => Box::new(NoHook),
            PreferenceMethod::Pebble | PreferenceMethod::Aparl => Box::new(hook),
        }));
    }
    let Some(outer) = &config.outer else {
        return Ok(None);
    };
    config.validate()?;
    Ok(Some(match outer.method {
        OuterMethod::Primary => Box::new(NoHook),
        OuterMethod::Pbrs => Box::new(PbrsHook::new(config, &outer.reward)?),
        _ => Box::new(BarfiHook::new(
            config,
            outer,
            learned_reward(config, outer)?,
        )?),
    }))
}

fn learned_reward(config: &TrainConfig, outer: &OuterConfig) -> Result<Box<dyn Reward>> {
    let env = config
        .env
        .build()
        .map_err(carrot_agents::AgentError::from)?;
    outer
        .reward
        .build(env.signal_spec())
        .map_err(|e| BilevelError::config("outer.reward", e.to_string()))
}

/// Checks `config.outer` / `config.preference` against the env, the reward and the PPO settings without training.
pub fn check(config: &TrainConfig) -> Result<()> {
    build_hook(config).map(|_| ())
}

/// Trains `config` in `run_dir`: through its outer loop when `config.outer` or
/// `config.preference` is set, else plain
/// PPO ([`carrot_agents::train_run`]).
pub fn train_run(config: &TrainConfig, run_dir: &Path, opts: &RunOptions) -> Result<RunSummary> {
    match build_hook(config)? {
        Some(mut hook) => Ok(train_run_with(config, run_dir, opts, hook.as_mut())?),
        None => Ok(carrot_agents::train_run(config, run_dir, opts)?),
    }
}
