//! PARL / A-PARL (Chakraborty et al., ICLR 2024) and its PEBBLE-style baseline: the standalone
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
//! - [`config`]: [`ParlConfig`], validated with one-line errors.
//!
//! **Not wired to the trainer yet.** Nothing here calls into `agents::Trainer`; the session
//! loop (collect → segments → query → teacher → buffer → model training → relabel, and the
//! A-PARL correction through the bilevel numerics) is assembled by the hook that owns the
//! run. `ParlConfig` is likewise not yet a field of `TrainConfig`.

pub mod buffer;
pub mod config;
pub mod model;
pub mod query;
pub mod segments;
pub mod teacher;
pub mod training;

pub use buffer::{PreferenceBuffer, PreferencePair};
pub use config::{Method, ModelConfig, ParlConfig, Selection, TeacherConfig};
pub use model::{Normalization, RewardModel, TrainStats};
pub use segments::{RolloutView, Segment, SegmentPool, Window};
pub use teacher::{Teacher, TeacherStats};

/// Errors of the PARL components. Every message is one line naming the offending key or
/// signal.
#[derive(Debug, thiserror::Error)]
pub enum ParlError {
    #[error("parl.{key}: {message}")]
    Config { key: String, message: String },
    #[error("reward-model input `{signal}`: {message}")]
    Input { signal: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, ParlError>;

pub(crate) fn config_error(key: &str, message: impl Into<String>) -> ParlError {
    ParlError::Config {
        key: key.into(),
        message: message.into(),
    }
}
