//! Where the native pass spends its time, for `carrot bench learner --profile`: CPU time per
//! phase, summed over the threads that run the lanes (the phases interleave within every
//! chunk, so wall time cannot be split between them).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The phases [`PhaseTimes`] measures, in [`PHASES`] order.
#[derive(Clone, Copy)]
pub(super) enum Phase {
    Forward,
    Activation,
    Heads,
    ActivationGrad,
    WeightGrad,
    InputGrad,
    SumLanes,
}

/// Names of the phases, in order.
pub(crate) const PHASES: [&str; 7] = [
    "forward matmuls",
    "bias + activation",
    "heads + loss (per row)",
    "activation gradients + bias sums",
    "weight-gradient matmuls",
    "input-gradient matmuls",
    "sum lanes",
];

/// CPU time per phase of [`PHASES`], in nanoseconds summed over threads (for profiling).
#[derive(Default)]
pub(crate) struct PhaseTimes([AtomicU64; PHASES.len()]);

impl PhaseTimes {
    /// Milliseconds per phase, summed over threads.
    pub fn millis(&self) -> Vec<f64> {
        self.0
            .iter()
            .map(|t| t.load(Ordering::Relaxed) as f64 * 1e-6)
            .collect()
    }
}

/// Charges the time since the last lap to a phase, when profiling.
pub(super) struct Clock<'a> {
    times: Option<&'a PhaseTimes>,
    last: Option<Instant>,
}

impl<'a> Clock<'a> {
    pub(super) fn new(times: Option<&'a PhaseTimes>) -> Self {
        Clock {
            times,
            last: times.map(|_| Instant::now()),
        }
    }

    pub(super) fn lap(&mut self, phase: Phase) {
        if let (Some(times), Some(last)) = (self.times, self.last) {
            let now = Instant::now();
            times.0[phase as usize].fetch_add((now - last).as_nanos() as u64, Ordering::Relaxed);
            self.last = Some(now);
        }
    }
}
