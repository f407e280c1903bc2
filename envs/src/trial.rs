//! A switch for trying a change to the env code against the code it replaces within one
//! process (`carrot bench trial`). While a trial is in progress, the new code runs only where
//! [`trial`] is on, the old code where it is off; the bench turns the switch on and off every
//! few VecEnv steps, so both versions step the same envs in the same memory under the same
//! moment's machine load. On a VM whose neighbours move single runs by tens of percent, that
//! pairing resolves differences of a percent, which alternating two binaries cannot. No code
//! reads the switch when no trial is in progress.

use std::sync::atomic::{AtomicBool, Ordering};

static TRIAL: AtomicBool = AtomicBool::new(false);

/// Whether the change under trial runs (see the module docs).
#[inline]
pub fn trial() -> bool {
    TRIAL.load(Ordering::Relaxed)
}

/// Turns the change under trial on or off (for `carrot bench trial`).
pub fn set_trial(on: bool) {
    TRIAL.store(on, Ordering::Relaxed);
}
