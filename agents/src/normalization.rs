//! Observation normalization and reward scaling (Gymnasium's NormalizeObservation and
//! NormalizeReward), as plain state that checkpoints save.

use serde::{Deserialize, Serialize};

/// Running mean and variance over batches (Chan et al. parallel update), in f64.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningMeanStd {
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub count: f64,
}

impl RunningMeanStd {
    /// Gymnasium's initial state: mean 0, var 1, count 1e-4.
    pub fn new(dim: usize) -> Self {
        RunningMeanStd {
            mean: vec![0.0; dim],
            var: vec![1.0; dim],
            count: 1e-4,
        }
    }

    /// Folds in a batch of rows `[B, dim]`.
    pub fn update(&mut self, batch: &[f32]) {
        let dim = self.mean.len();
        let b = batch.len() / dim;
        if b == 0 {
            return;
        }
        for d in 0..dim {
            let col = batch[d..].iter().step_by(dim).map(|&x| x as f64);
            let bmean = col.clone().sum::<f64>() / b as f64;
            let bvar = col.map(|x| (x - bmean).powi(2)).sum::<f64>() / b as f64;
            let delta = bmean - self.mean[d];
            let total = self.count + b as f64;
            self.mean[d] += delta * b as f64 / total;
            let m2 = self.var[d] * self.count
                + bvar * b as f64
                + delta * delta * self.count * b as f64 / total;
            self.var[d] = m2 / total;
        }
        self.count += b as f64;
    }

    /// `clip((x - mean) / sqrt(var + 1e-8))` row by row, in place.
    pub fn normalize(&self, rows: &mut [f32], clip: f64) {
        let dim = self.mean.len();
        for row in rows.chunks_exact_mut(dim) {
            for ((x, m), v) in row.iter_mut().zip(&self.mean).zip(&self.var) {
                *x = ((*x as f64 - m) / (v + 1e-8).sqrt()).clamp(-clip, clip) as f32;
            }
        }
    }
}

/// Scales rewards by the running std of each env's discounted return.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardScaler {
    pub gamma: f64,
    pub returns: Vec<f64>,
    pub stats: RunningMeanStd,
}

impl RewardScaler {
    pub fn new(num_envs: usize, gamma: f64) -> Self {
        RewardScaler {
            gamma,
            returns: vec![0.0; num_envs],
            stats: RunningMeanStd::new(1),
        }
    }

    /// Updates the return statistics with this step's rewards and scales them in place;
    /// `done[i]` restarts env i's discounted return after this step (SB3 VecNormalize).
    pub fn scale(&mut self, rewards: &mut [f32], done: &[bool], clip: f64) {
        let batch: Vec<f32> = self
            .returns
            .iter_mut()
            .zip(rewards.iter())
            .map(|(ret, &r)| {
                *ret = *ret * self.gamma + r as f64;
                *ret as f32
            })
            .collect();
        self.stats.update(&batch);
        let std = (self.stats.var[0] + 1e-8).sqrt();
        for ((r, ret), &d) in rewards.iter_mut().zip(self.returns.iter_mut()).zip(done) {
            *r = (*r as f64 / std).clamp(-clip, clip) as f32;
            if d {
                *ret = 0.0;
            }
        }
    }

    /// Forgets in-flight returns (after the envs were reset).
    pub fn reset_returns(&mut self) {
        self.returns.iter_mut().for_each(|r| *r = 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_stats_match_the_pooled_moments() {
        let mut rms = RunningMeanStd::new(2);
        rms.update(&[1.0, 10.0, 3.0, 10.0]);
        rms.update(&[5.0, 40.0]);
        // Column 0 is {1, 3, 5} and column 1 {10, 10, 40}, plus the 1e-4 prior at (0, 1).
        let c = 3.0 + 1e-4;
        assert!((rms.mean[0] - 9.0 / c).abs() < 1e-9);
        assert!((rms.count - c).abs() < 1e-12);
        let (m0, m1) = (3.0, 20.0);
        assert!((rms.var[0] - 8.0 / 3.0).abs() < 1e-3 && (rms.mean[1] - m1).abs() < 1e-2);
        assert!((rms.var[1] - 200.0).abs() < 0.1, "{}", rms.var[1]);
        let mut row = [m0 as f32, 1000.0];
        rms.normalize(&mut row, 5.0);
        assert!(row[0].abs() < 1e-3 && row[1] == 5.0);
    }

    #[test]
    fn reward_scaler_divides_by_return_std_and_restarts_on_done() {
        let mut s = RewardScaler::new(2, 0.5);
        let mut r = [1.0f32, 3.0];
        s.scale(&mut r, &[false, true], 100.0);
        // Returns after step: (1, 3); variance of {1, 3} pooled with the prior ~ 1.
        let std = (s.stats.var[0] + 1e-8).sqrt();
        assert!((r[0] as f64 - 1.0 / std).abs() < 1e-6 && (r[1] as f64 - 3.0 / std).abs() < 1e-6);
        assert_eq!(s.returns, vec![1.0, 0.0]);
        let mut r = [2.0f32, 2.0];
        s.scale(&mut r, &[false, false], 100.0);
        assert_eq!(s.returns, vec![2.5, 2.0]);
    }

    /// Checkpoints hold these statistics as JSON; resume is exact only if every f64 parses back
    /// to the same bits (serde_json's `float_roundtrip`; without it some values come back one
    /// ULP off, e.g. 0.39971416574153895).
    #[test]
    fn statistics_survive_a_json_round_trip_bit_for_bit() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let mut values: Vec<f64> = (0..10_000)
            .map(|_| rng.random::<f64>() * 10f64.powi(rng.random_range(-8..8)))
            .collect();
        values.push(0.39971416574153895);
        let text = serde_json::to_string(&values).unwrap();
        let back: Vec<f64> = serde_json::from_str(&text).unwrap();
        for (a, b) in values.iter().zip(&back) {
            assert_eq!(a.to_bits(), b.to_bits(), "{a} came back as {b}");
        }
    }
}
