//! Bilevel reward learning on carrot's PPO: BARFI and PARL / A-PARL, and the numerics they share.
//!
//! - [`neumann`]: the truncated Neumann series for −H⁻¹g over an HVP closure, with a
//!   divergence guard.
//! - [`adjoint`]: GAE in f64 with ∂A/∂γ (forward mode) and its adjoint in the rewards.
//! - [`hypergrad`]: the implicit hypergradient over a [`hypergrad::HypergradOracle`].
//! - [`oracle`]: that oracle for an on-policy PPO batch, on the f64 policy
//!   ([`carrot_agents::PolicyF64`]) and a [`learned::LearnedReward`].
//! - [`critic`]: the primary critic V_p.
//! - [`config`], [`barfi`], [`hook`]: BARFI's outer loop as a trainer hook; [`PbrsHook`]:
//!   potential-based shaping, the baseline, through the same path.
//! - [`train_run`]: any run on disk, dispatching on `TrainConfig.outer` or
//!   `TrainConfig.preference` (plain PPO without either).
//! - [`parl`]: PARL / PEBBLE / A-PARL (segments, synthetic teacher, query selection, preference
//!   buffer, the MLP-ensemble reward model, [`parl::ParlHook`], the session loop as a trainer
//!   hook, and the A-PARL correction through [`oracle`] and [`hypergrad`]).

pub mod adjoint;
pub mod barfi;
pub mod config;
pub mod critic;
pub mod error;
mod exact;
pub mod hook;
pub mod hypergrad;
pub mod learned;
pub mod neumann;
pub mod oracle;
pub mod outer_adam;
pub mod parl;
mod pbrs;
mod run;

pub use error::{BilevelError, Result};
pub use parl::{ParlConfig, ParlError};
pub use pbrs::PbrsHook;
pub use run::{build_hook, check, train_run};
