//! Differences of independent means (Welch's unequal-variance t) and linear combinations of
//! them, e.g. the difference of two differences (an interaction), with Welch-Satterthwaite
//! degrees of freedom computed from every group that enters the combination.

use super::student_t;

/// A linear combination of independent group means, `estimate ± t(df) · se`.
#[derive(Clone, Debug, PartialEq)]
pub struct MeanContrast {
    pub estimate: f64,
    /// Per group entering the contrast: the variance of its (weighted) mean and its df (n − 1).
    parts: Vec<(f64, f64)>,
}

impl MeanContrast {
    /// `mean(a) − mean(b)`; `None` unless both groups have at least 2 values.
    pub fn difference(a: &[f64], b: &[f64]) -> Option<MeanContrast> {
        let (ma, va) = mean_and_variance_of_mean(a)?;
        let (mb, vb) = mean_and_variance_of_mean(b)?;
        Some(MeanContrast {
            estimate: ma - mb,
            parts: vec![(va, (a.len() - 1) as f64), (vb, (b.len() - 1) as f64)],
        })
    }

    /// `self − other` for contrasts over disjoint groups.
    pub fn minus(&self, other: &MeanContrast) -> MeanContrast {
        MeanContrast {
            estimate: self.estimate - other.estimate,
            parts: self.parts.iter().chain(&other.parts).copied().collect(),
        }
    }

    pub fn se(&self) -> f64 {
        self.parts.iter().map(|(v, _)| v).sum::<f64>().sqrt()
    }

    /// Welch-Satterthwaite: (Σ v_i)² / Σ (v_i² / df_i).
    pub fn df(&self) -> f64 {
        let total: f64 = self.parts.iter().map(|(v, _)| v).sum();
        let denominator: f64 = self.parts.iter().map(|(v, df)| v * v / df).sum();
        if denominator > 0.0 {
            total * total / denominator
        } else {
            self.parts.iter().map(|(_, df)| df).sum()
        }
    }

    /// Half-width of the two-sided 95% t-interval.
    pub fn half_width(&self) -> f64 {
        student_t::critical_value(self.df()) * self.se()
    }
    pub fn low(&self) -> f64 {
        self.estimate - self.half_width()
    }
    pub fn high(&self) -> f64 {
        self.estimate + self.half_width()
    }
    /// Whether the 95% interval lies entirely on one side of zero.
    pub fn excludes_zero(&self) -> bool {
        self.low() > 0.0 || self.high() < 0.0
    }
}

fn mean_and_variance_of_mean(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((mean, variance / n as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_difference_matches_a_hand_computed_test() {
        // Means 3 and 6; variances 2.5 and 10, so variances of the means 0.5 and 2:
        // se = sqrt(2.5), df = 2.5² / (0.5²/4 + 2²/4) = 6.25 / 1.0625 = 5.882 (R's t.test).
        let d = MeanContrast::difference(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 6.0, 8.0, 10.0])
            .unwrap();
        assert_eq!(d.estimate, -3.0);
        assert!((d.se() - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((d.df() - 6.25 / 1.0625).abs() < 1e-12, "{}", d.df());
        // t = -1.897 on 5.88 df: the 95% interval contains 0.
        assert!(!d.excludes_zero());
        assert!(d.low() < -3.0 && d.high() > 0.0 && d.high() < 1.0, "{d:?}");
    }

    #[test]
    fn separated_groups_exclude_zero() {
        let d = MeanContrast::difference(&[10.0, 11.0, 12.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!(d.excludes_zero() && d.low() > 0.0);
        assert!(MeanContrast::difference(&[1.0], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn interaction_pools_all_four_groups() {
        let a = MeanContrast::difference(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap();
        let b = MeanContrast::difference(&[0.0, 1.0, 5.0, 6.0], &[1.0, 1.5]).unwrap();
        let i = a.minus(&b);
        assert_eq!(i.estimate, a.estimate - b.estimate);
        assert!((i.se().powi(2) - (a.se().powi(2) + b.se().powi(2))).abs() < 1e-12);
        // Variances of the means 1/3, 4/3, 26/12 and 0.0625 on 2, 2, 3 and 1 df.
        let v = [1.0 / 3.0, 4.0 / 3.0, 26.0 / 12.0, 0.0625];
        let df = [2.0, 2.0, 3.0, 1.0];
        let total: f64 = v.iter().sum();
        let expected = total * total / v.iter().zip(df).map(|(v, d)| v * v / d).sum::<f64>();
        assert!(
            (i.df() - expected).abs() < 1e-12,
            "{} vs {expected}",
            i.df()
        );
        // The combined df is below the sum of the groups' df (Satterthwaite never adds up).
        assert!(i.df() < 8.0);
    }
}
