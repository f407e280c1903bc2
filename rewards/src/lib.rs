//! Reward modules for carrot: they turn an env's named signals into a scalar reward and, where
//! the reward says so, a termination.
//!
//! A reward is built from a [`RewardConfig`] against an env's [`SignalSpec`] (names are
//! resolved once; a missing signal is a clear error). Built rewards implement
//! [`carrot_envs::StepReward`] so the vectorized env applies them inside the step, before the
//! autoreset, and [`Reward::evaluate_batch`] recomputes them over signals stored in a rollout
//! buffer, which learned rewards depend on.
//!
//! Rewards: `env_default` / `signal` (one signal, the control tasks' classic rewards), `sum` and
//! `product` combinators (new rewards in a config file, no Rust), `carl` (route completion times
//! soft factors, CaRL) and `roach` (the shaped baseline). Every reward logs per-term values and
//! names its termination causes.

mod carl;
mod combinators;
mod config;
mod error;
mod events;
mod reward;
mod roach;

pub use carl::{CarlConfig, CarlReward};
pub use carrot_envs::driving::EVENTS;
pub use combinators::{ProductReward, SignalReward, SumReward, WeightedSignal};
pub use config::RewardConfig;
pub use error::RewardError;
pub use reward::{BatchRewards, Reward};
pub use roach::{RoachConfig, RoachReward};

pub use carrot_envs::{SignalSpec, StepReward};
