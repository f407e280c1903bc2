//! PPO on candle for carrot, split like Brax and CleanRL:
//!
//! - [`config`]: the flat [`PpoConfig`] (CleanRL defaults) and the run-level [`TrainConfig`].
//! - [`networks`]: actor-critic MLPs with orthogonal init from a seeded host RNG.
//! - [`policy`]: obs normalization -> network -> distribution -> env action, in one type.
//! - [`distributions`]: categorical, diagonal Gaussian and Beta policies.
//! - [`gae`], [`losses`], [`optimizer`] (grad-norm clipping, Adam), [`normalization`].
//! - [`rollout`] and [`train`]: the [`Trainer`] loop and its [`IterationHook`] for outer loops.
//! - [`checkpoint`], [`evaluate`], [`run`]: runs on disk ([`train_run`], [`evaluate_run`]).
//! - [`learner`]: one PPO gradient step; [`bench`](mod@bench): learner throughput for `carrot bench`.
//! - [`outer_config`]: the `[outer]` section of bilevel runs (run by `carrot-bilevel`);
//!   [`preference_config`]: the `[preference]` section of PARL / PEBBLE runs (likewise).
//! - [`ops`]: custom candle ops (fused linear + activation, special functions for Beta).
//! - [`policy64`]: the actor in f64 (surrogate gradients, finite-difference HVPs) for outer loops.
//! - [`runtime`]: process-wide CPU tuning, applied by [`train_run`] (call it first in `main`).

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod distributions;
pub mod error;
pub mod evaluate;
pub mod gae;
pub mod learner;
pub mod losses;
mod native;
pub mod networks;
pub mod normalization;
pub mod ops;
pub mod optimizer;
pub mod outer_config;
pub mod policy;
pub mod policy64;
pub mod preference_config;
pub mod rollout;
pub mod run;
pub mod run_dir;
pub mod runtime;
pub mod tensorboard;
pub mod train;

pub use config::{
    Activation, CpuLearner, DeviceKind, PolicyHead, PpoConfig, RunSettings, TrainConfig,
};
pub use error::AgentError;
pub use evaluate::EvalResult;
/// Forces the custom ops' portable (GPU) paths on the CPU, on one thread: for parity checks.
pub use ops::PortableOps;
pub use outer_config::{OuterConfig, OuterMethod};
pub use policy::Policy;
pub use policy64::{PgBatch, PolicyF64};
pub use preference_config::{CorrectionScale, PreferenceConfig, PreferenceMethod};
pub use run::{
    evaluate_run, load_checkpoint_policy, load_policy, train_run, train_run_with, LoadedPolicy,
    ProgressMode, RunOptions, RunSummary,
};
pub use train::{
    Collected, HookOutput, IterationHook, IterationMetrics, NoHook, PhaseSeconds, Trainer,
    WALL_CLOCK_KEYS,
};
