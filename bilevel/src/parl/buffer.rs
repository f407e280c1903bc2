//! The preference buffer: every labelled pair of segments, split into training and held-out
//! pairs, serializable whole (serde) for the checkpoint.
//!
//! Each feedback session's pairs are split before they join: `floor(n · heldout_fraction)` of
//! them, chosen by the caller's seeded RNG, go to the held-out set, the rest to training. Pair
//! order is preserved inside each set, so a restored buffer trains identically.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::parl::segments::Segment;
use crate::parl::{ParlError, Result};

/// A labelled pair: `label` is P(σ1 ≻ σ0) as the teacher gave it (0, 1, or 0.5 for equal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreferencePair {
    pub seg0: Segment,
    pub seg1: Segment,
    pub label: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreferenceBuffer {
    pub segment_length: usize,
    pub num_inputs: usize,
    pub train: Vec<PreferencePair>,
    pub heldout: Vec<PreferencePair>,
}

impl PreferenceBuffer {
    pub fn new(segment_length: usize, num_inputs: usize) -> Self {
        PreferenceBuffer {
            segment_length,
            num_inputs,
            train: Vec::new(),
            heldout: Vec::new(),
        }
    }

    /// Labelled pairs so far (the query count that the budget is charged against excludes
    /// skipped queries, as in B-Pref).
    pub fn len(&self) -> usize {
        self.train.len() + self.heldout.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds one session's pairs, holding out `floor(n · heldout_fraction)` of them at random.
    pub fn add_session<R: Rng + ?Sized>(
        &mut self,
        pairs: Vec<PreferencePair>,
        heldout_fraction: f64,
        rng: &mut R,
    ) -> Result<()> {
        for pair in &pairs {
            self.check(pair)?;
        }
        let n = pairs.len();
        let n_heldout = ((n as f64) * heldout_fraction).floor() as usize;
        // Partial Fisher–Yates over positions: the first n_heldout picks are held out.
        let mut positions: Vec<usize> = (0..n).collect();
        for i in 0..n_heldout {
            let j = rng.random_range(i..n);
            positions.swap(i, j);
        }
        let mut is_heldout = vec![false; n];
        positions[..n_heldout]
            .iter()
            .for_each(|&p| is_heldout[p] = true);
        for (pair, held) in pairs.into_iter().zip(is_heldout) {
            if held {
                self.heldout.push(pair);
            } else {
                self.train.push(pair);
            }
        }
        Ok(())
    }

    fn check(&self, pair: &PreferencePair) -> Result<()> {
        if !(pair.label == 0.0 || pair.label == 0.5 || pair.label == 1.0) {
            return Err(ParlError::Invalid(format!(
                "preference label must be 0, 0.5 or 1, got {}",
                pair.label
            )));
        }
        for seg in [&pair.seg0, &pair.seg1] {
            let l = self.segment_length;
            if seg.mask.len() != l
                || seg.true_rewards.len() != l
                || seg.inputs.len() != l * self.num_inputs
            {
                return Err(ParlError::Invalid(format!(
                    "segment shape [{} steps, {} inputs] does not match the buffer's [{l}, {}]",
                    seg.mask.len(),
                    seg.inputs.len() / seg.mask.len().max(1),
                    self.num_inputs
                )));
            }
        }
        Ok(())
    }
}
