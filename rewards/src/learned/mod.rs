//! Learned rewards: rewards with parameters φ that an outer loop (bi-level reward learning)
//! updates through [`crate::Reward::set_parameters`], using [`crate::Reward::param_vjp`] for the
//! gradient.

mod blend;
mod features;

pub use blend::{BlendConfig, BlendReward, BlendRows};
pub use features::{FeatureConfig, FeatureSignal, MAX_FEATURES};
