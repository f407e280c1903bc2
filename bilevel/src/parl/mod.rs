//! PARL / A-PARL (Chakraborty et al., ICLR 2024) and its PEBBLE-style baseline: the
//! components of preference-based reward learning.
//!
//! - [`segments`]: windows of L steps of one env within one episode of the latest rollout, with
//!   explicit rules at terminations (masked padding), truncations, autoresets and the rollout
//!   boundary.
//! - [`teacher`]: the B-Pref synthetic teacher (rationality β, mistakes, equal and skip
//!   thresholds, myopic γ) with its own serializable RNG.
//! - [`query`]: uniform or ensemble-disagreement query selection.
//! - [`buffer`]: the labelled preference pairs, with a held-out split, serializable for the
//!   checkpoint.
//! - [`model`]: the MLP-ensemble reward model on candle (batched evaluation, `param_vjp` for
//!   the A-PARL correction, flat parameters and checkpoint state); [`training`]: its
//!   Bradley–Terry training and diagnostics (held-out accuracy, reward correlation).
//! - [`config`]: [`ParlConfig`] (`TrainConfig.preference`, the `[preference]` section),
//!   validated with one-line errors.
//! - [`hook`]: [`ParlHook`], the session loop as a trainer hook (collect → segments → query →
//!   teacher → buffer → model training → relabel with r_ν), checkpointed with the run.
//! - [`aparl`]: the A-PARL correction through BARFI's oracle and Neumann machinery.
//! - [`unsupervised`]: PEBBLE's unsupervised pre-training reward (k-NN state entropy).
//! - [`true_reward`]: which signals the run's `[reward]` reads (the inputs r_ν must not read).

pub mod aparl;
pub mod buffer;
pub mod config;
pub mod hook;
pub mod model;
pub mod query;
pub mod segments;
pub mod teacher;
pub mod training;
pub mod true_reward;
pub mod unsupervised;

pub use buffer::{PreferenceBuffer, PreferencePair};
pub use config::{Method, ModelConfig, ParlConfig, Selection, TeacherConfig};
pub use hook::ParlHook;
pub use model::{Normalization, RewardModel, TrainStats};
pub use segments::{RolloutView, Segment, SegmentPool, Window};
pub use teacher::{Teacher, TeacherStats};

/// Errors of the PARL components. Every message is one line naming the offending key or
/// signal.
#[derive(Debug, thiserror::Error)]
pub enum ParlError {
    /// A bad `[preference]` value (`invalid config: preference.<key>: ...`).
    #[error(transparent)]
    Config(#[from] carrot_agents::AgentError),
    #[error("reward-model input `{signal}`: {message}")]
    Input { signal: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, ParlError>;
