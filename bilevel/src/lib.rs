//! Bilevel reward learning for carrot.
//!
//! - [`parl`]: the standalone pieces of PARL / A-PARL (segments, synthetic teacher, query
//!   selection, preference buffer, the MLP-ensemble reward model and its config).

pub mod parl;

pub use parl::{ParlConfig, ParlError};
