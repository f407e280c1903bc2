//! Ordinary-least-squares slopes with standard errors and t-intervals, and the difference of
//! two independent slopes (an interaction), with Welch-Satterthwaite degrees of freedom.

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
    let x_mean = points.iter().map(|p| p.0).sum::<f64>() / n as f64;
    let y_mean = points.iter().map(|p| p.1).sum::<f64>() / n as f64;
    let sxx: f64 = points.iter().map(|p| (p.0 - x_mean).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - x_mean) * (p.1 - y_mean)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
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
