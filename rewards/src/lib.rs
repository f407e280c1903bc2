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
//! `product` combinators (new rewards in a config file, no Rust; `transform = "abs"` on any
//! signal), `carl` (route completion times soft factors, CaRL), `roach` (the shaped baseline),
//! `mix` (a weighted sum of rewards or of single terms of rewards), `agreement` (an action
//! judged against a target direction, BARFI's PD auxiliaries) and `blend` (BARFI's learned blend
//! of a primary reward with auxiliaries, with parameters and analytic gradients). Every reward
//! logs per-term values and names its termination causes. [`shaping`] relabels a stored rollout
//! with potential-based shaping, the classic baseline for auxiliary rewards. Rewards written in
//! other crates join the registry through [`register_reward`].

mod agreement;
mod carl;
mod combinators;
mod config;
mod custom;
mod error;
mod events;
pub mod learned;
mod mix;
mod reward;
mod roach;
pub mod shaping;

pub use agreement::{AgreementConfig, AgreementReward};
pub use carl::{CarlConfig, CarlReward};
pub use carrot_envs::driving::EVENTS;
pub use combinators::{ProductReward, SignalReward, SumReward, Transform, WeightedSignal};
pub use config::RewardConfig;
pub use custom::{
    deserialize_reward_config, register_reward, registered_reward_ids, serialize_reward_config,
    CustomRewardConfig, RewardFactory,
};
pub use error::RewardError;
pub use learned::{BlendConfig, BlendReward, BlendRows, FeatureConfig, FeatureSignal};
pub use mix::{MixReward, RewardTerm};
pub use reward::{BatchRewards, Reward};
pub use roach::{RoachConfig, RoachReward};
pub use shaping::{pbrs_relabel, PotentialShaping, RolloutRows};

pub use carrot_envs::{SignalSpec, StepReward};
