//! Student's t distribution (CDF and quantile, computed from the regularized incomplete beta
//! function, so no table is needed and any real degrees of freedom work) and the t-interval of
//! a mean over a few seeds.

/// Two-sided confidence level of every t-interval here.
pub const CONFIDENCE: f64 = 0.95;

/// A mean over `n` values with its two-sided 95% t-interval, `mean ± half_width`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanInterval {
    pub mean: f64,
    pub half_width: f64,
    pub n: usize,
}

impl MeanInterval {
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }
}

/// The mean of `values` with its 95% t-interval (`n - 1` degrees of freedom, sample standard
/// deviation); `None` for fewer than 2 values, where no interval can be estimated.
pub fn mean_interval(values: &[f64]) -> Option<MeanInterval> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = quantile(0.5 + CONFIDENCE / 2.0, (n - 1) as f64);
    Some(MeanInterval {
        mean,
        half_width: t * (variance / n as f64).sqrt(),
        n,
    })
}

/// The two-sided 95% critical value `t_{0.975, df}`.
pub fn critical_value(df: f64) -> f64 {
    quantile(0.5 + CONFIDENCE / 2.0, df)
}

/// The `p` quantile of Student's t with `df > 0` degrees of freedom (NaN outside the domain),
/// by bisection on [`cdf`] to about 1e-12.
pub fn quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0 && df > 0.0) || df.is_nan() {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -quantile(1.0 - p, df);
    }
    let (mut low, mut high) = (0.0, 1.0);
    while cdf(high, df) < p {
        low = high;
        high *= 2.0;
        if high > 1e12 {
            return f64::INFINITY;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if cdf(mid, df) < p {
            low = mid;
        } else {
            high = mid;
        }
        if high - low < 1e-12 * high.max(1.0) {
            break;
        }
    }
    0.5 * (low + high)
}

/// P(T <= t) for Student's t with `df` degrees of freedom.
pub fn cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * regularized_beta(df / (df + t * t), df / 2.0, 0.5);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The regularized incomplete beta function I_x(a, b), from its continued fraction, which
/// converges quickly for x < (a + 1) / (a + b + 2); above that the symmetry
/// I_x(a, b) = 1 - I_{1-x}(b, a) is used.
fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - regularized_beta(1.0 - x, b, a);
    }
    let log_front = a * x.ln() + b * (1.0 - x).ln() - ln_beta(a, b);
    log_front.exp() * beta_continued_fraction(x, a, b) / a
}

/// 1 / (1 + d1 / (1 + d2 / (1 + ...))) with the coefficients d_k of I_x(a, b), evaluated by the
/// modified Lentz method.
fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let coefficient = |k: usize| -> f64 {
        let m = (k / 2) as f64;
        if k % 2 == 1 {
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        } else {
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
        }
    };
    // The fraction is b0 + a1 / (b1 + a2 / (b2 + ...)) with b0 = 0, a1 = 1, a_{k+1} = d_k and
    // every b_k = 1.
    let mut f = TINY;
    let (mut c, mut d) = (f, 0.0);
    for j in 1..10_000 {
        let numerator = if j == 1 { 1.0 } else { coefficient(j - 1) };
        d = 1.0 + numerator * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + numerator / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    f
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln Γ(x) for x > 0: the recurrence Γ(x) = Γ(x + 1) / x lifts x to at least 8, where
/// Stirling's series to the x^-7 term is accurate to about 1e-11.
fn ln_gamma(x: f64) -> f64 {
    let mut x = x;
    let mut shift = 0.0;
    while x < 8.0 {
        shift -= x.ln();
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)));
    shift + (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_published_tables() {
        // (p, df, t) from standard t tables (4 decimals).
        for (p, df, t) in [
            (0.975, 1.0, 12.7062),
            (0.975, 2.0, 4.3027),
            (0.975, 4.0, 2.7764),
            (0.975, 9.0, 2.2622),
            (0.975, 30.0, 2.0423),
            (0.95, 10.0, 1.8125),
            (0.995, 5.0, 4.0321),
            (0.975, 1e6, 1.9600),
        ] {
            let q = quantile(p, df);
            assert!((q - t).abs() < 1e-4, "t_({p}, {df}) = {q}, expected {t}");
            assert!((quantile(1.0 - p, df) + q).abs() < 1e-9, "symmetry at {df}");
        }
        assert_eq!(quantile(0.5, 3.0), 0.0);
        assert!(quantile(1.0, 3.0).is_nan() && quantile(0.9, 0.0).is_nan());
    }

    #[test]
    fn cdf_has_known_closed_forms() {
        // df = 1 is the Cauchy distribution, df = 2 has F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
        for t in [-3.0, -0.5, 0.0, 0.7, 2.0, 10.0] {
            let cauchy = 0.5 + f64::atan(t) / std::f64::consts::PI;
            assert!((cdf(t, 1.0) - cauchy).abs() < 1e-10, "df 1 at {t}");
            let two = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
            assert!(
                (cdf(t, 2.0) - two).abs() < 1e-10,
                "df 2 at {t}: {}",
                cdf(t, 2.0) - two
            );
        }
        // Non-integer df (Welch-Satterthwaite) lie between their neighbours.
        assert!(critical_value(4.5) < critical_value(4.0));
        assert!(critical_value(4.5) > critical_value(5.0));
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-10);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-10);
    }

    #[test]
    fn mean_interval_is_mean_plus_minus_t_times_standard_error() {
        // mean 30, sample sd 26.458 (variance 700), n = 3: 30 ± 4.3027 * sqrt(700 / 3).
        let e = mean_interval(&[10.0, 20.0, 60.0]).unwrap();
        assert!((e.mean - 30.0).abs() < 1e-12);
        let expected = 4.302653 * (700.0f64 / 3.0).sqrt();
        assert!((e.half_width - expected).abs() < 1e-4, "{e:?}");
        assert!(
            e.low() < 10.0 && e.high() > 60.0,
            "wider than the range of 3 seeds"
        );
        assert_eq!(e.n, 3);
        assert!(mean_interval(&[5.0]).is_none() && mean_interval(&[]).is_none());
    }
}
