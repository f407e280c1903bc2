//! The env registry: `EnvConfig`, the typed `[env]` table that names an env by `id` and builds it.

use serde::{Deserialize, Serialize};

use crate::{
    custom::CustomEnvConfig, Acrobot, AcrobotConfig, CartPole, CartPoleConfig, DrivingConfig,
    DrivingEnv, Env, EnvError, GridWorld, GridWorldConfig, MountainCar, MountainCarConfig,
    Pendulum, PendulumConfig, VecEnv,
};

/// The env registry: a typed choice of env and its config, named by `id` in config files.
///
/// ```toml
/// [env]
/// id = "cartpole"
/// continuous = false
/// ```
/// Unknown ids and unknown keys are rejected when the config is parsed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "id", rename_all = "snake_case")]
pub enum EnvConfig {
    Cartpole(CartPoleConfig),
    Pendulum(PendulumConfig),
    Acrobot(AcrobotConfig),
    MountainCar(MountainCarConfig),
    Driving(DrivingConfig),
    GridWorld(GridWorldConfig),
    /// An env registered by a downstream crate ([`crate::register_env`]). Config fields parse
    /// it through [`crate::deserialize_env_config`]; serde's derive never sees it.
    #[serde(skip)]
    Custom(CustomEnvConfig),
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig::Cartpole(CartPoleConfig::default())
    }
}

impl EnvConfig {
    /// Every registered env id, for help texts and error messages.
    pub const IDS: &'static [&'static str] = &[
        "cartpole",
        "pendulum",
        "acrobot",
        "mountain_car",
        "driving",
        "grid_world",
    ];

    /// The registry id of this config.
    pub fn id(&self) -> &'static str {
        match self {
            EnvConfig::Cartpole(_) => "cartpole",
            EnvConfig::Pendulum(_) => "pendulum",
            EnvConfig::Acrobot(_) => "acrobot",
            EnvConfig::MountainCar(_) => "mountain_car",
            EnvConfig::Driving(_) => "driving",
            EnvConfig::GridWorld(_) => "grid_world",
            EnvConfig::Custom(c) => c.id,
        }
    }

    /// Builds one env after validating the config.
    pub fn build(&self) -> Result<Box<dyn Env>, EnvError> {
        Ok(match self {
            EnvConfig::Cartpole(c) => Box::new(CartPole::new(c.clone())?),
            EnvConfig::Pendulum(c) => Box::new(Pendulum::new(c.clone())?),
            EnvConfig::Acrobot(c) => Box::new(Acrobot::new(c.clone())?),
            EnvConfig::MountainCar(c) => Box::new(MountainCar::new(c.clone())?),
            EnvConfig::Driving(c) => Box::new(DrivingEnv::new(c.clone())?),
            EnvConfig::GridWorld(c) => Box::new(GridWorld::new(c.clone())?),
            EnvConfig::Custom(c) => c.build()?,
        })
    }

    /// Builds `num_envs` copies in a [`VecEnv`].
    pub fn build_vec(&self, num_envs: usize) -> Result<VecEnv, EnvError> {
        if num_envs == 0 {
            return Err(EnvError::InvalidConfig {
                env: self.id().into(),
                message: "num_envs must be at least 1".into(),
            });
        }
        match self {
            EnvConfig::Cartpole(c) => return crate::control::build_cartpole_vec(c, num_envs),
            EnvConfig::Pendulum(c) => return crate::control::build_pendulum_vec(c, num_envs),
            EnvConfig::Acrobot(c) => return crate::control::build_acrobot_vec(c, num_envs),
            _ => {}
        }
        VecEnv::new(
            (0..num_envs)
                .map(|_| self.build())
                .collect::<Result<_, _>>()?,
        )
    }
}
