//! The statistics of `carrot report` and `carrot study eval`, in one place.
//!
//! - Aggregates as rliable recommends: mean and interquartile mean (IQM) of run scores, with 95%
//!   percentile confidence intervals from a stratified bootstrap (runs are resampled with
//!   replacement within each stratum, e.g. each task, and the statistic is taken over the pooled
//!   resample). The bootstrap RNG is seeded, so a report is reproducible. With few runs a
//!   percentile bootstrap undercovers (with 3 runs its 95% interval is the runs' min-max, about
//!   75% coverage), so its users must state the runs per group ([`MIN_BOOTSTRAP_RUNS`]).
//! - [`student_t`]: Student's t distribution and the t-interval of a mean over seeds.
//! - [`regression`]: the ordinary-least-squares slope with its standard error and t-interval,
//!   and the difference of two slopes (Welch-Satterthwaite degrees of freedom).
//! - [`welch`]: differences of independent means (Welch's t) and their differences.

pub mod regression;
pub mod student_t;
pub mod welch;

use rand::{RngExt, SeedableRng};

/// Bootstrap resamples per interval.
pub const BOOTSTRAP_REPS: usize = 10_000;
/// Seed of the bootstrap RNG.
pub const BOOTSTRAP_SEED: u64 = 0x5EED_CA77;
/// Fewer runs per group than this make a percentile-bootstrap interval unreliable (it is close
/// to the range of the runs and covers far less than its nominal 95%).
pub const MIN_BOOTSTRAP_RUNS: usize = 5;

/// How a figure names a percentile-bootstrap interval over groups of these sizes, e.g.
/// "95% bootstrap CI, 3 runs/group, unreliable < 5 runs": the runs per group are always stated,
/// and groups smaller than [`MIN_BOOTSTRAP_RUNS`] flag the interval as unreliable.
pub fn bootstrap_label(runs_per_group: &[usize]) -> String {
    let min = runs_per_group.iter().copied().min().unwrap_or(0);
    let max = runs_per_group.iter().copied().max().unwrap_or(0);
    let runs = if min == max {
        min.to_string()
    } else {
        format!("{min}-{max}")
    };
    let mut label = format!("95% bootstrap CI, {runs} runs/group");
    if min < MIN_BOOTSTRAP_RUNS {
        label += &format!(", unreliable < {MIN_BOOTSTRAP_RUNS} runs");
    }
    label
}

/// A statistic of run scores (mean or IQM) with its 95% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreInterval {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    Mean,
    /// Mean of the middle 50% (scipy's `trim_mean(x, 0.25)`, as rliable uses).
    Iqm,
}

impl Statistic {
    pub fn of(self, values: &mut [f64]) -> f64 {
        match self {
            Statistic::Mean => mean(values),
            Statistic::Iqm => iqm(values),
        }
    }
}

pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Interquartile mean: sorts `values` and averages after cutting `floor(n / 4)` from each end.
pub fn iqm(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let cut = values.len() / 4;
    mean(&values[cut..values.len() - cut])
}

/// Linear-interpolated quantile of sorted data (numpy's default method).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    sorted[below] * (1.0 - weight) + sorted[above] * weight
}

/// The statistic over the pooled strata, with a 95% stratified-bootstrap percentile interval.
/// Non-finite scores are dropped first; with no scores left, everything is NaN.
pub fn estimate(strata: &[Vec<f64>], statistic: Statistic, seed: u64) -> ScoreInterval {
    let strata: Vec<Vec<f64>> = strata
        .iter()
        .map(|s| s.iter().copied().filter(|v| v.is_finite()).collect())
        .filter(|s: &Vec<f64>| !s.is_empty())
        .collect();
    let mut pooled: Vec<f64> = strata.iter().flatten().copied().collect();
    if pooled.is_empty() {
        return ScoreInterval {
            value: f64::NAN,
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    let value = statistic.of(&mut pooled);
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let mut replicate = Vec::with_capacity(pooled.len());
    let mut replicates = Vec::with_capacity(BOOTSTRAP_REPS);
    for _ in 0..BOOTSTRAP_REPS {
        replicate.clear();
        for stratum in &strata {
            replicate
                .extend((0..stratum.len()).map(|_| stratum[rng.random_range(0..stratum.len())]));
        }
        replicates.push(statistic.of(&mut replicate));
    }
    replicates.sort_by(f64::total_cmp);
    ScoreInterval {
        value,
        low: quantile(&replicates, 0.025),
        high: quantile(&replicates, 0.975),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iqm_matches_scipy_trim_mean() {
        // scipy.stats.trim_mean([1..8], 0.25) == mean([3, 4, 5, 6]) == 4.5
        let mut v: Vec<f64> = (1..=8).rev().map(f64::from).collect();
        assert_eq!(iqm(&mut v), 4.5);
        // n = 3: nothing is cut.
        assert_eq!(iqm(&mut [1.0, 2.0, 9.0]), 4.0);
        // n = 5: one cut at each end.
        assert_eq!(iqm(&mut [100.0, 1.0, 2.0, 3.0, -50.0]), 2.0);
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&sorted, 0.5), 2.5);
        assert!((quantile(&sorted, 0.025) - 1.075).abs() < 1e-12);
        assert_eq!(quantile(&sorted, 1.0), 4.0);
    }

    #[test]
    fn bootstrap_intervals_cover_and_are_reproducible() {
        let scores = vec![vec![10.0, 12.0, 11.0, 13.0, 9.0, 30.0]];
        let a = estimate(&scores, Statistic::Mean, 1);
        assert_eq!(a, estimate(&scores, Statistic::Mean, 1));
        assert!((a.value - 85.0 / 6.0).abs() < 1e-12);
        assert!(a.low < a.value && a.value < a.high, "{a:?}");
        // The mean of a resample lies between the smallest and largest score.
        assert!(a.low >= 9.0 && a.high <= 30.0);
        let iqm = estimate(&scores, Statistic::Iqm, 1);
        assert!(iqm.value < a.value, "IQM discounts the outlier: {iqm:?}");
    }

    #[test]
    fn stratification_keeps_each_stratum_in_every_resample() {
        // Two strata with no spread: every stratified resample has the same mean.
        let strata = vec![vec![0.0, 0.0, 0.0], vec![10.0]];
        let e = estimate(&strata, Statistic::Mean, 3);
        assert_eq!((e.value, e.low, e.high), (2.5, 2.5, 2.5));
    }

    #[test]
    fn bootstrap_labels_state_the_runs_and_flag_small_groups() {
        assert_eq!(
            bootstrap_label(&[3, 3]),
            "95% bootstrap CI, 3 runs/group, unreliable < 5 runs"
        );
        assert_eq!(
            bootstrap_label(&[5, 10]),
            "95% bootstrap CI, 5-10 runs/group"
        );
        assert!(bootstrap_label(&[4, 10]).contains("4-10 runs/group, unreliable"));
    }

    #[test]
    fn no_finite_scores_give_nan() {
        let e = estimate(&[vec![f64::NAN]], Statistic::Mean, 0);
        assert!(e.value.is_nan() && e.low.is_nan());
    }
}
