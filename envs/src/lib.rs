//! Environments for carrot, built on rapier2d.
//!
//! - [`Env`]: Gymnasium-style `reset` / `step` over explicit state, with [`Space`]s for
//!   observations and actions. Instead of a reward, every step emits named *signals*
//!   ([`SignalSpec`]) that reward modules turn into a scalar.
//! - [`VecEnv`]: N envs stepped in parallel with rayon into caller-owned [`StepBuffers`], with
//!   same-step autoreset, final observations and per-episode statistics, in groups of envs
//!   stepped together ([`EnvBatch`]: one env, or control tasks sharing a rapier world such as
//!   [`CartPoles`]).
//! - [`EnvConfig`]: the typed registry that configs name envs through; [`register_env`] adds
//!   envs defined in other crates to it.
//! - Control tasks on rapier2d: cartpole, pendulum, acrobot, mountain car.
//! - [`driving`]: the top-down driving world with routes, traffic and CARLA-style metrics.
//! - A physics-free grid world ([`GridWorld`], BARFI's GridWorld) for exact reward-learning
//!   tests.
//! - [`check::check_env`]: the env-API checks, runnable against any env (yours too).
//! - [`trial`]: a switch for measuring a change to this crate against the code it replaces
//!   within one process (`carrot bench trial`).

pub mod check;
mod config_table;
mod control;
mod custom;
pub mod driving;
mod env;
mod env_batch;
mod error;
mod factory_registry;
mod physics_world;
mod registry;
mod reward_hook;
mod seeding;
mod signal;
mod snapshot;
mod space;
mod toy;
mod trial;
mod vec_env;

pub use control::{
    Acrobot, AcrobotConfig, Acrobots, CartPole, CartPoleConfig, CartPoles, MountainCar,
    MountainCarConfig, Pendulum, PendulumConfig, Pendulums,
};
pub use custom::{
    deserialize_env_config, register_env, registered_env_ids, serialize_env_config,
    CustomEnvConfig, EnvFactory,
};
pub use driving::{DrivingConfig, DrivingEnv};
pub use env::{checked_step, Env, StepOutcome};
pub use env_batch::EnvBatch;
pub use error::EnvError;
pub use factory_registry::{
    deserialize_tracked, join_key_paths, split_nested_path, with_nested_path, FactoryRegistry,
};
pub use registry::EnvConfig;
pub use reward_hook::{NoReward, StepReward};
pub use seeding::{env_rng, env_seed, splitmix64, EnvRng};
pub use signal::{SignalInfo, SignalSpec};
pub use snapshot::EnvSnapshot;
pub use space::Space;
pub use toy::{GridWorld, GridWorldConfig};
pub use trial::{set_trial, trial};
pub use vec_env::{StepBuffers, VecEnv, VecEnvSnapshot};
