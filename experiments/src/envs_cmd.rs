//! `carrot envs`: what can be trained without reading the source. Lists every registered env
//! (spaces, signals with unit and meaning, default reward, config defaults as TOML) and every
//! reward id (its parameters and what it needs from the env).

use std::fmt::Write as _;

use anyhow::{bail, Context};
use carrot_envs::{
    AcrobotConfig, CartPoleConfig, CustomEnvConfig, DrivingConfig, EnvConfig, GridWorldConfig,
    MountainCarConfig, PendulumConfig, Space,
};
use carrot_rewards::{CarlConfig, RoachConfig};

/// Options of `carrot envs`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    carrot envs\n  \
    carrot envs pendulum\n  \
    carrot envs --rewards\n\n\
    Without NAME every env is listed compactly, followed by the rewards; with NAME one env is\n\
    shown in full (spaces, signals, config defaults).")]
pub struct EnvsArgs {
    /// Show this env in full.
    pub name: Option<String>,
    /// List the reward ids only.
    #[arg(long, conflicts_with = "name")]
    pub rewards: bool,
}

/// One reward id: its parameters and what it needs from the env.
pub struct RewardInfo {
    pub id: &'static str,
    pub parameters: &'static str,
    pub needs: &'static str,
}

/// Every reward id of `[reward]` tables (a test checks it against `RewardConfig`'s variants).
pub const REWARDS: &[RewardInfo] = &[
    RewardInfo {
        id: "env_default",
        parameters: "none",
        needs: "an env that declares a default reward signal",
    },
    RewardInfo {
        id: "signal",
        parameters: "signal (name), scale = 1.0, transform = \"identity\" | \"abs\"",
        needs: "the named signal",
    },
    RewardInfo {
        id: "sum",
        parameters: "terms = [{ signal, weight = 1.0, transform = \"identity\" }, ...]",
        needs: "every named signal",
    },
    RewardInfo {
        id: "product",
        parameters: "factors = [{ signal, weight = 1.0, transform }, ...], scale = 1.0",
        needs: "every named signal",
    },
    RewardInfo {
        id: "carl",
        parameters: "terminal_penalty, outside_lanes_factor, speeding_factor, \
                     speeding_tolerance, ttc_factor, ttc_value, comfort_factor, comfort_weight, \
                     lane_centering_factor (defaults below)",
        needs: "the driving env's route-progress, event, speed, ttc and comfort signals",
    },
    RewardInfo {
        id: "roach",
        parameters: "speed_weight, v_max, position_weight, rotation_weight, action_penalty, \
                     steer_change_threshold, terminal_penalty, speed_penalty (defaults below)",
        needs: "the driving env's speed, lateral offset, heading error, steering and event signals",
    },
    RewardInfo {
        id: "mix",
        parameters: "terms = [{ reward = { id = ... }, term, weight = 1.0, name }, ...]",
        needs: "what each mixed reward needs",
    },
    RewardInfo {
        id: "agreement",
        parameters: "action (signal), target = [{ signal, weight }, ...], on_match = 1.0, \
                     on_mismatch = 0.0",
        needs: "a signal carrying the action (e.g. `force`) and the target signals",
    },
    RewardInfo {
        id: "blend",
        parameters: "primary = { id = ... }, aux = [{ reward, term, weight }, ...], features",
        needs: "what the primary and auxiliary rewards need",
    },
];

/// The default config of every registered env: the built-ins in registry order, then the envs
/// other crates registered ([`carrot_envs::register_env`]), with empty tables.
pub fn default_env_configs() -> Vec<EnvConfig> {
    let custom = carrot_envs::registered_env_ids()
        .into_iter()
        .filter_map(|id| CustomEnvConfig::new(id).ok().map(EnvConfig::Custom));
    let builtin = [
        EnvConfig::Cartpole(CartPoleConfig::default()),
        EnvConfig::Pendulum(PendulumConfig::default()),
        EnvConfig::Acrobot(AcrobotConfig::default()),
        EnvConfig::MountainCar(MountainCarConfig::default()),
        EnvConfig::Driving(DrivingConfig::default()),
        EnvConfig::GridWorld(GridWorldConfig::default()),
    ];
    builtin.into_iter().chain(custom).collect()
}

/// The default config of env `name`, or a one-line error naming the known envs.
pub fn default_env_config(name: &str) -> anyhow::Result<EnvConfig> {
    if let Some(config) = default_env_configs().into_iter().find(|c| c.id() == name) {
        return Ok(config);
    }
    let ids: Vec<&str> = default_env_configs().iter().map(|c| c.id()).collect();
    let hint = crate::suggest::closest(name, &ids)
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default();
    bail!("unknown env '{name}' (envs: {}){hint}", ids.join(", "))
}

fn space_line(space: &Space) -> String {
    match space {
        Space::Box { low, high, names } => {
            let dims: Vec<String> = names
                .iter()
                .zip(low.iter().zip(high))
                .map(|(n, (l, h))| format!("{n} [{l}, {h}]"))
                .collect();
            format!("Box({}): {}", names.len(), dims.join(", "))
        }
        Space::Discrete { n, labels } => format!("Discrete({n}): {}", labels.join(", ")),
    }
}

/// One env: compact (spaces' shapes and signal names) or in full.
pub fn describe_env(config: &EnvConfig, full: bool) -> anyhow::Result<String> {
    let env = config
        .build()
        .with_context(|| format!("building env '{}'", config.id()))?;
    let spec = env.signal_spec();
    let default_reward = spec.default_reward.unwrap_or("none");
    let mut out = String::new();
    if !full {
        let names: Vec<&str> = spec.names().collect();
        writeln!(out, "{}", config.id())?;
        writeln!(
            out,
            "  observation: {}",
            space_line(env.observation_space())
        )?;
        writeln!(out, "  action:      {}", space_line(env.action_space()))?;
        writeln!(out, "  signals:     {}", names.join(", "))?;
        writeln!(out, "  default reward: {default_reward}")?;
        return Ok(out);
    }
    writeln!(out, "env {}", config.id())?;
    writeln!(out, "observation: {}", space_line(env.observation_space()))?;
    writeln!(out, "action:      {}", space_line(env.action_space()))?;
    writeln!(
        out,
        "default reward: {default_reward} (reward id = \"env_default\")"
    )?;
    writeln!(out, "signals:")?;
    let width = spec.names().map(str::len).max().unwrap_or(0);
    for s in &spec.signals {
        writeln!(out, "  {:width$}  [{}]  {}", s.name, s.unit, s.meaning)?;
    }
    if !env.episode_metric_names().is_empty() {
        writeln!(
            out,
            "episode metrics: {}",
            env.episode_metric_names().join(", ")
        )?;
    }
    writeln!(out, "config defaults ([env] table):")?;
    let toml = match config {
        EnvConfig::Custom(_) => "# defined by the crate that registered this env\n".to_string(),
        builtin => toml::to_string(builtin).context("serializing the env config")?,
    };
    for line in toml.lines() {
        writeln!(out, "  {line}")?;
    }
    Ok(out)
}

/// Every reward id with its parameters and needs, and the defaults of the configurable ones.
pub fn describe_rewards() -> anyhow::Result<String> {
    let mut out = String::from("rewards ([reward] id = ...):\n");
    for r in REWARDS {
        writeln!(out, "{}", r.id)?;
        writeln!(out, "  parameters: {}", r.parameters)?;
        writeln!(out, "  needs:      {}", r.needs)?;
    }
    for id in carrot_rewards::registered_reward_ids() {
        writeln!(out, "{id}")?;
        writeln!(out, "  parameters: defined by the crate that registered it")?;
    }
    for (id, toml) in [
        ("carl", toml::to_string(&CarlConfig::default())?),
        ("roach", toml::to_string(&RoachConfig::default())?),
    ] {
        writeln!(out, "{id} defaults:")?;
        for line in toml.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(out)
}

pub fn run(args: &EnvsArgs) -> anyhow::Result<()> {
    let text = if args.rewards {
        describe_rewards()?
    } else if let Some(name) = &args.name {
        describe_env(&default_env_config(name)?, true)?
    } else {
        let mut out = String::from("envs ([env] id = ...; `carrot envs NAME` for one in full):\n");
        for config in default_env_configs() {
            out.push_str(&describe_env(&config, false)?);
        }
        out.push('\n');
        out.push_str(&describe_rewards()?);
        out
    };
    print!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use carrot_rewards::RewardConfig;

    #[test]
    fn the_default_configs_cover_the_registry_in_order() {
        let ids: Vec<&str> = default_env_configs().iter().map(|c| c.id()).collect();
        assert_eq!(ids, EnvConfig::IDS);
    }

    #[test]
    fn the_reward_table_lists_every_reward_variant() {
        // serde's error for an unknown variant lists every known one.
        let err = toml::from_str::<RewardConfig>("id = \"no_such_reward\"")
            .unwrap_err()
            .to_string();
        let known: Vec<&str> = err
            .split_once("expected one of")
            .expect(&err)
            .1
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        let listed: Vec<&str> = REWARDS.iter().map(|r| r.id).collect();
        assert_eq!(known, listed);
    }

    #[test]
    fn config_defaults_round_trip_through_the_printed_toml() {
        for config in default_env_configs() {
            let text = toml::to_string(&config).unwrap();
            let back: EnvConfig = toml::from_str(&text).unwrap();
            assert_eq!(back, config, "{text}");
        }
    }
}
