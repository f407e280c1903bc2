//! Trajectory segments for preference queries, cut from the latest on-policy rollout.
//!
//! The rollout is step-major `[T*N]` (row `t * N + i` is env i at step t), as in
//! `agents::rollout::RolloutBuffer`. A step flagged `terminated` or `truncated` is the last step
//! of its episode; the env autoresets after it, so the next row of that env starts a new
//! episode. A [`Window`] is L consecutive steps of one env such that:
//! - all real steps lie within one episode *and* within this rollout (never across an
//!   autoreset or the rollout boundary);
//! - a full window holds L real steps; it may end exactly on the episode's last step, whether
//!   that step terminated or truncated, because it crosses neither;
//! - a short window (fewer than L real steps) exists only when its last real step is a
//!   *termination*: the remaining steps are masked padding with reward fixed at 0 (the
//!   absorbing state, consistent with PPO's terminal value 0). A short window ending at a
//!   truncation or at the rollout boundary is never formed: the episode went on, and padding
//!   would misstate its return.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::parl::{ParlError, Result};

/// Borrowed view of the parts of a rollout the segments need.
#[derive(Clone, Copy, Debug)]
pub struct RolloutView<'a> {
    pub num_envs: usize,
    pub num_steps: usize,
    pub num_signals: usize,
    /// Env signals `[T*N, S]`.
    pub signals: &'a [f32],
    /// The raw env-side (true) rewards `[T*N]`, before any scaling.
    pub env_rewards: &'a [f32],
    pub terminated: &'a [bool],
    pub truncated: &'a [bool],
}

impl<'a> RolloutView<'a> {
    /// Checks that every slice has the length its shape implies.
    pub fn new(
        num_envs: usize,
        num_steps: usize,
        num_signals: usize,
        signals: &'a [f32],
        env_rewards: &'a [f32],
        terminated: &'a [bool],
        truncated: &'a [bool],
    ) -> Result<Self> {
        let rows = num_envs * num_steps;
        let checks = [
            ("signals", signals.len(), rows * num_signals),
            ("env_rewards", env_rewards.len(), rows),
            ("terminated", terminated.len(), rows),
            ("truncated", truncated.len(), rows),
        ];
        for (name, got, want) in checks {
            if got != want {
                return Err(ParlError::Invalid(format!(
                    "rollout {name} has {got} entries, expected {want} ({num_steps} steps x {num_envs} envs)"
                )));
            }
        }
        Ok(RolloutView {
            num_envs,
            num_steps,
            num_signals,
            signals,
            env_rewards,
            terminated,
            truncated,
        })
    }

    /// The rollout of an `agents` trainer, with the raw env rewards kept beside it.
    pub fn from_buffer(
        buf: &'a carrot_agents::rollout::RolloutBuffer,
        env_rewards: &'a [f32],
    ) -> Result<Self> {
        Self::new(
            buf.num_envs,
            buf.num_steps,
            buf.num_signals,
            &buf.signals,
            env_rewards,
            &buf.terminated,
            &buf.truncated,
        )
    }

    pub fn row(&self, step: usize, env: usize) -> usize {
        step * self.num_envs + env
    }

    fn done(&self, row: usize) -> bool {
        self.terminated[row] || self.truncated[row]
    }
}

/// A window of one env: steps `start .. start + real_len` are real, the rest up to the segment
/// length are padding (only after a termination).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub env: usize,
    pub start: usize,
    pub real_len: usize,
}

/// One segment: L steps of input signals, true rewards and a mask (1 real, 0 padding).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub env: usize,
    pub start_step: usize,
    /// Rollout rows of the real steps, in time order.
    pub rows: Vec<usize>,
    /// Input signals `[L, S_in]` in the configured input order; zeros on padded steps.
    pub inputs: Vec<f32>,
    /// True env rewards `[L]`; 0 on padded steps.
    pub true_rewards: Vec<f32>,
    /// 1 on real steps, 0 on padding `[L]`.
    pub mask: Vec<f32>,
}

impl Segment {
    pub fn len(&self) -> usize {
        self.mask.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mask.is_empty()
    }

    /// Σ mask·reward in f64.
    pub fn true_return(&self) -> f64 {
        self.true_rewards
            .iter()
            .zip(&self.mask)
            .map(|(&r, &m)| r as f64 * m as f64)
            .sum()
    }
}

/// Every admissible window of one rollout, for a fixed segment length.
#[derive(Clone, Debug)]
pub struct SegmentPool {
    pub length: usize,
    pub windows: Vec<Window>,
}

impl SegmentPool {
    /// Enumerates the windows env by env, episode piece by episode piece, in a fixed order.
    pub fn new(view: &RolloutView, length: usize) -> Result<Self> {
        if length == 0 {
            return Err(ParlError::Invalid("segment length must be >= 1".into()));
        }
        let mut windows = Vec::new();
        for env in 0..view.num_envs {
            let mut piece_start = 0;
            for step in 0..view.num_steps {
                let row = view.row(step, env);
                let last_of_rollout = step + 1 == view.num_steps;
                if view.done(row) || last_of_rollout {
                    let terminated = view.terminated[row];
                    push_piece(&mut windows, env, piece_start, step, terminated, length);
                    piece_start = step + 1;
                }
            }
        }
        Ok(SegmentPool { length, windows })
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// One window drawn uniformly.
    pub fn sample_window<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Window> {
        if self.windows.is_empty() {
            return None;
        }
        Some(self.windows[rng.random_range(0..self.windows.len())])
    }

    /// `count` pairs of distinct windows (when the pool has two or more), drawn uniformly.
    pub fn sample_pairs<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        count: usize,
    ) -> Vec<(Window, Window)> {
        let n = self.windows.len();
        if n == 0 {
            return Vec::new();
        }
        (0..count)
            .map(|_| {
                let a = rng.random_range(0..n);
                let b = if n > 1 {
                    // Uniform over the other n - 1 windows.
                    let j = rng.random_range(0..n - 1);
                    if j >= a {
                        j + 1
                    } else {
                        j
                    }
                } else {
                    a
                };
                (self.windows[a], self.windows[b])
            })
            .collect()
    }

    /// Copies a window out of the rollout: `inputs` are signal indices into the rollout's rows.
    pub fn extract(&self, view: &RolloutView, window: Window, inputs: &[usize]) -> Segment {
        let (l, s_in) = (self.length, inputs.len());
        let mut seg = Segment {
            env: window.env,
            start_step: window.start,
            rows: Vec::with_capacity(window.real_len),
            inputs: vec![0.0; l * s_in],
            true_rewards: vec![0.0; l],
            mask: vec![0.0; l],
        };
        for k in 0..window.real_len {
            let row = view.row(window.start + k, window.env);
            seg.rows.push(row);
            let signals = &view.signals[row * view.num_signals..(row + 1) * view.num_signals];
            for (slot, &idx) in seg.inputs[k * s_in..(k + 1) * s_in].iter_mut().zip(inputs) {
                *slot = signals[idx];
            }
            seg.true_rewards[k] = view.env_rewards[row];
            seg.mask[k] = 1.0;
        }
        seg
    }
}

/// Windows of one episode piece, steps `first..=last` of one env. `terminated` says whether
/// `last` ended the episode by termination (else it truncated or hit the rollout boundary).
fn push_piece(
    out: &mut Vec<Window>,
    env: usize,
    first: usize,
    last: usize,
    terminated: bool,
    length: usize,
) {
    for start in first..=last {
        let available = last + 1 - start;
        if available >= length {
            out.push(Window {
                env,
                start,
                real_len: length,
            });
        } else if terminated {
            out.push(Window {
                env,
                start,
                real_len: available,
            });
        }
    }
}
