//! PPO.
