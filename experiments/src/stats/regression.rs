//! Ordinary-least-squares slopes with standard errors and t-intervals, the slope of clustered
//! points (several per independent unit) from per-cluster slopes, and the difference of two
//! independent slopes (an interaction), with Welch-Satterthwaite degrees of freedom.

use super::student_t;

/// A slope (or a difference of slopes) with its standard error and degrees of freedom.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlopeEstimate {
    pub slope: f64,
    pub se: f64,
    pub df: f64,
    /// Points behind the estimate (both fits' points for a difference).
    pub n: usize,
}

impl SlopeEstimate {
    /// Half-width of the two-sided 95% t-interval.
    pub fn half_width(&self) -> f64 {
        student_t::critical_value(self.df) * self.se
    }
    pub fn low(&self) -> f64 {
        self.slope - self.half_width()
    }
    pub fn high(&self) -> f64 {
        self.slope + self.half_width()
    }
    /// Whether the 95% interval lies entirely on one side of zero.
    pub fn excludes_zero(&self) -> bool {
        self.low() > 0.0 || self.high() < 0.0
    }
}

/// The OLS slope of y on x over `points`, with its standard error sqrt(s^2 / Sxx) where s^2 is
/// the residual variance on `n - 2` degrees of freedom. `None` with fewer than 3 points or
/// when every x is the same.
pub fn ols_slope(points: &[(f64, f64)]) -> Option<SlopeEstimate> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let fit = LineMoments::of(points);
    let (x_mean, y_mean, sxx) = (fit.x_mean, fit.y_mean, fit.sxx);
    let slope = fit.slope()?;
    let intercept = y_mean - slope * x_mean;
    let residuals: f64 = points
        .iter()
        .map(|p| (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    let df = (n - 2) as f64;
    Some(SlopeEstimate {
        slope,
        se: (residuals / df / sxx).sqrt(),
        df,
        n,
    })
}

/// The slope of points grouped in clusters that are not independent inside (e.g. the kept
/// checkpoints of one run): each cluster's own OLS slope, then their mean with SE = sd / √k and
/// k − 1 degrees of freedom over the k clusters that have two distinct x. `n` is k. `None`
/// with fewer than 2 such clusters.
pub fn clustered_slope<C: AsRef<[(f64, f64)]>>(clusters: &[C]) -> Option<SlopeEstimate> {
    let slopes: Vec<f64> = clusters
        .iter()
        .filter_map(|c| LineMoments::of(c.as_ref()).slope())
        .collect();
    let k = slopes.len();
    if k < 2 {
        return None;
    }
    let mean = slopes.iter().sum::<f64>() / k as f64;
    let var = slopes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    Some(SlopeEstimate {
        slope: mean,
        se: (var / k as f64).sqrt(),
        df: (k - 1) as f64,
        n: k,
    })
}

/// Means and centred sums of squares and products of a set of (x, y) points.
struct LineMoments {
    x_mean: f64,
    y_mean: f64,
    sxx: f64,
    sxy: f64,
}

impl LineMoments {
    fn of(points: &[(f64, f64)]) -> Self {
        let n = points.len() as f64;
        let x_mean = points.iter().map(|p| p.0).sum::<f64>() / n;
        let y_mean = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = points.iter().map(|p| (p.0 - x_mean).powi(2)).sum();
        let sxy: f64 = points.iter().map(|p| (p.0 - x_mean) * (p.1 - y_mean)).sum();
        LineMoments {
            x_mean,
            y_mean,
            sxx,
            sxy,
        }
    }

    /// The OLS slope; `None` when every x is the same.
    fn slope(&self) -> Option<f64> {
        (self.sxx > 0.0).then(|| self.sxy / self.sxx)
    }
}

/// `a - b` for two independent slopes: SE sqrt(se_a^2 + se_b^2), Welch-Satterthwaite df
/// (se_a^2 + se_b^2)^2 / (se_a^4 / df_a + se_b^4 / df_b).
pub fn slope_difference(a: &SlopeEstimate, b: &SlopeEstimate) -> SlopeEstimate {
    let (va, vb) = (a.se * a.se, b.se * b.se);
    let df = if va + vb > 0.0 {
        (va + vb).powi(2) / (va * va / a.df + vb * vb / b.df)
    } else {
        a.df + b.df
    };
    SlopeEstimate {
        slope: a.slope - b.slope,
        se: (va + vb).sqrt(),
        df,
        n: a.n + b.n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ols_slope_matches_a_hand_computed_fit() {
        // x 0..3, y 1 3 2 5: Sxx 5, Sxy 5.5, slope 1.1, intercept 1.1, residuals
        // -0.1 0.8 -1.3 0.6 (SSR 2.7), s^2 = 1.35 on 2 df, SE sqrt(1.35 / 5) = sqrt(0.27).
        let fit = ols_slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 2.0), (3.0, 5.0)]).unwrap();
        assert!((fit.slope - 1.1).abs() < 1e-12, "{fit:?}");
        assert!((fit.se - 0.27f64.sqrt()).abs() < 1e-12, "{fit:?}");
        assert_eq!((fit.df, fit.n), (2.0, 4));
        // 95% interval 1.1 ± 4.3027 * 0.5196 = [-1.136, 3.336]: it contains 0.
        assert!((fit.half_width() - 4.302653 * 0.27f64.sqrt()).abs() < 1e-5);
        assert!(!fit.excludes_zero());
    }

    #[test]
    fn exact_lines_and_degenerate_inputs() {
        let line: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, 3.0 - 2.0 * i as f64)).collect();
        let fit = ols_slope(&line).unwrap();
        assert!((fit.slope + 2.0).abs() < 1e-12 && fit.se < 1e-9);
        assert!(fit.excludes_zero());
        assert!(
            ols_slope(&line[..2]).is_none(),
            "two points leave no residual df"
        );
        assert!(ols_slope(&[(1.0, 0.0), (1.0, 1.0), (1.0, 2.0)]).is_none());
    }

    /// Three runs, each a line over its own checkpoints with slopes 1, 2 and 6: the estimate is
    /// their mean (3) with SE sd/√3 on 2 df, however many checkpoints each run has. Pooling
    /// the same 12 points as independent would claim 10 df.
    #[test]
    fn clustered_slope_is_the_mean_of_per_cluster_slopes() {
        let line = |slope: f64, offset: f64, n: usize| -> Vec<(f64, f64)> {
            (0..n)
                .map(|i| (i as f64, offset + slope * i as f64))
                .collect()
        };
        let clusters = vec![line(1.0, 0.0, 4), line(2.0, 5.0, 4), line(6.0, -3.0, 4)];
        let fit = clustered_slope(&clusters).unwrap();
        let sd = ((4.0 + 1.0 + 9.0) / 2.0f64).sqrt();
        assert!((fit.slope - 3.0).abs() < 1e-12, "{fit:?}");
        assert!((fit.se - sd / 3f64.sqrt()).abs() < 1e-12, "{fit:?}");
        assert_eq!((fit.df, fit.n), (2.0, 3));
        let pooled: Vec<(f64, f64)> = clusters.concat();
        assert_eq!(ols_slope(&pooled).unwrap().df, 10.0);
        // A cluster with one x has no slope; one usable cluster gives no estimate.
        let flat = vec![(1.0, 0.0), (1.0, 4.0)];
        assert!(clustered_slope(&[line(1.0, 0.0, 3), flat.clone()]).is_none());
        assert_eq!(
            clustered_slope(&[line(1.0, 0.0, 3), flat, line(3.0, 0.0, 2)])
                .unwrap()
                .n,
            2
        );
    }

    #[test]
    fn interaction_uses_welch_satterthwaite() {
        let a = SlopeEstimate {
            slope: -2.5,
            se: 0.8,
            df: 13.0,
            n: 15,
        };
        let b = SlopeEstimate {
            slope: -6.8,
            se: 1.0,
            df: 8.0,
            n: 10,
        };
        let d = slope_difference(&a, &b);
        assert!((d.slope - 4.3).abs() < 1e-12);
        assert!((d.se - 1.64f64.sqrt()).abs() < 1e-12);
        // (0.64 + 1)^2 / (0.64^2 / 13 + 1 / 8) = 2.6896 / 0.156508 = 17.185
        let df = 2.6896 / (0.4096 / 13.0 + 0.125);
        assert!(
            (d.df - df).abs() < 1e-9 && (d.df - 17.185).abs() < 1e-3,
            "{d:?}"
        );
        assert!(d.df > a.df.min(b.df) && d.df < a.df + b.df);
        assert_eq!(d.n, 25);
        assert!(d.excludes_zero(), "4.3 ± 2.11 * 1.28 excludes 0: {d:?}");
    }
}
