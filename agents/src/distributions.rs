//! Action distributions: categorical, diagonal Gaussian (state-independent log-std) and Beta.
//!
//! Two sides of the same densities: [`ActionDist`] works on candle tensors for the PPO loss
//! (log-probabilities and entropies with gradients), and [`HostDist`] samples on the host from a
//! seeded RNG during rollouts (candle's CPU RNG cannot be seeded) and returns the log-probability
//! of what it sampled. Actions are stored in the form the density is defined on: the category
//! index, the unclipped Gaussian sample, or the Beta sample in (0, 1).

use candle_core::{Result, Tensor, D};
use rand::{Rng, RngExt};

use crate::ops::{digamma, lgamma, lgamma_f64};

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;
/// Beta samples are kept this far from 0 and 1 so their log-density stays finite.
pub const BETA_EPS: f32 = 1e-6;

/// A batch of action distributions as tensors `[B, ...]`.
pub enum ActionDist {
    Categorical { logits: Tensor },
    Gaussian { mean: Tensor, log_std: Tensor },
    Beta { alpha: Tensor, beta: Tensor },
}

impl ActionDist {
    /// Log-probability `[B]` of stored actions `[B, A]` (categorical: `[B, 1]` indices as f32).
    pub fn log_prob(&self, actions: &Tensor) -> Result<Tensor> {
        match self {
            ActionDist::Categorical { logits } => {
                let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
                let idx = actions.to_dtype(candle_core::DType::U32)?;
                logp.gather(&idx, 1)?.squeeze(1)
            }
            ActionDist::Gaussian { mean, log_std } => {
                let z = actions.sub(mean)?.broadcast_mul(&log_std.neg()?.exp()?)?;
                let per_dim = (z.sqr()? * -0.5)?.broadcast_sub(log_std)? - HALF_LN_2PI;
                per_dim?.sum(1)
            }
            ActionDist::Beta { alpha, beta } => {
                let x = actions.clamp(BETA_EPS, 1.0 - BETA_EPS)?;
                let one_minus = x.affine(-1.0, 1.0)?;
                let log_b = log_beta_fn(alpha, beta)?;
                let dens = ((alpha - 1.0)? * x.log()?)? + ((beta - 1.0)? * one_minus.log()?)?;
                dens?.sub(&log_b)?.sum(1)
            }
        }
    }

    /// Entropy `[B]`.
    pub fn entropy(&self) -> Result<Tensor> {
        match self {
            ActionDist::Categorical { logits } => {
                let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
                (logp.exp()? * &logp)?.sum(1)?.neg()
            }
            ActionDist::Gaussian { mean, log_std } => {
                let per_dim = (log_std + (0.5 + HALF_LN_2PI))?;
                let total = per_dim.sum_all()?;
                total.broadcast_as(mean.dim(0)?)?.contiguous()
            }
            ActionDist::Beta { alpha, beta } => {
                let sum = (alpha + beta)?;
                let h = (log_beta_fn(alpha, beta)? - ((alpha - 1.0)? * digamma(alpha)?)?)?
                    .sub(&((beta - 1.0)? * digamma(beta)?)?)?
                    .add(&((&sum - 2.0)? * digamma(&sum)?)?)?;
                h.sum(1)
            }
        }
    }

    /// The deterministic action (argmax / mean) in stored form `[B, A]`.
    pub fn mode(&self) -> Result<Tensor> {
        match self {
            ActionDist::Categorical { logits } => logits
                .argmax_keepdim(D::Minus1)?
                .to_dtype(candle_core::DType::F32),
            ActionDist::Gaussian { mean, .. } => Ok(mean.clone()),
            ActionDist::Beta { alpha, beta } => alpha.div(&(alpha + beta)?),
        }
    }
}

fn log_beta_fn(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    lgamma(a)? + lgamma(b)? - lgamma(&(a + b)?)?
}

/// One env's action distribution on the host, read from the network's outputs.
pub enum HostDist<'a> {
    Categorical { logits: &'a [f32] },
    Gaussian { mean: &'a [f32], log_std: &'a [f32] },
    Beta { alpha: &'a [f32], beta: &'a [f32] },
}

impl HostDist<'_> {
    /// Samples into `stored` (density form) and returns its log-probability.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, stored: &mut [f32]) -> f32 {
        match self {
            HostDist::Categorical { logits } => {
                let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
                let total: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
                let u = rng.random::<f64>() * total;
                let mut acc = 0.0;
                let mut pick = logits.len() - 1;
                for (i, &l) in logits.iter().enumerate() {
                    acc += (l as f64 - max).exp();
                    if u < acc {
                        pick = i;
                        break;
                    }
                }
                stored[0] = pick as f32;
            }
            HostDist::Gaussian { mean, log_std } => {
                for ((s, &m), &ls) in stored.iter_mut().zip(mean.iter()).zip(log_std.iter()) {
                    *s = (m as f64 + (ls as f64).exp() * standard_normal(rng)) as f32;
                }
            }
            HostDist::Beta { alpha, beta } => {
                for ((s, &a), &b) in stored.iter_mut().zip(alpha.iter()).zip(beta.iter()) {
                    let x = gamma_sample(rng, a as f64);
                    let y = gamma_sample(rng, b as f64);
                    *s = ((x / (x + y)) as f32).clamp(BETA_EPS, 1.0 - BETA_EPS);
                }
            }
        }
        self.log_prob(stored)
    }

    /// Log-probability of a stored action, in f64 then rounded.
    pub fn log_prob(&self, stored: &[f32]) -> f32 {
        let lp = match self {
            HostDist::Categorical { logits } => {
                let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
                let lse = max
                    + logits
                        .iter()
                        .map(|&l| (l as f64 - max).exp())
                        .sum::<f64>()
                        .ln();
                logits[stored[0] as usize] as f64 - lse
            }
            HostDist::Gaussian { mean, log_std } => stored
                .iter()
                .zip(mean.iter().zip(log_std.iter()))
                .map(|(&a, (&m, &ls))| {
                    let z = (a as f64 - m as f64) / (ls as f64).exp();
                    -0.5 * z * z - ls as f64 - HALF_LN_2PI
                })
                .sum(),
            HostDist::Beta { alpha, beta } => stored
                .iter()
                .zip(alpha.iter().zip(beta.iter()))
                .map(|(&x, (&a, &b))| {
                    let (x, a, b) = (x as f64, a as f64, b as f64);
                    let log_b = lgamma_f64(a) + lgamma_f64(b) - lgamma_f64(a + b);
                    (a - 1.0) * x.ln() + (b - 1.0) * (1.0 - x).ln() - log_b
                })
                .sum(),
        };
        lp as f32
    }

    /// The deterministic action (argmax / mean) in stored form.
    pub fn mode(&self, stored: &mut [f32]) {
        match self {
            HostDist::Categorical { logits } => {
                let mut best = 0;
                for (i, &l) in logits.iter().enumerate() {
                    if l > logits[best] {
                        best = i;
                    }
                }
                stored[0] = best as f32;
            }
            HostDist::Gaussian { mean, .. } => stored.copy_from_slice(mean),
            HostDist::Beta { alpha, beta } => {
                for ((s, &a), &b) in stored.iter_mut().zip(alpha.iter()).zip(beta.iter()) {
                    *s = a / (a + b);
                }
            }
        }
    }
}

/// Standard normal by Box-Muller (one of the pair; simple and portable).
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Gamma(shape, 1) by Marsaglia-Tsang; shapes below 1 use the boost `G(a+1) U^(1/a)`.
pub fn gamma_sample<R: Rng + ?Sized>(rng: &mut R, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.random::<f64>();
        return gamma_sample(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = standard_normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::SeedableRng;

    fn t2(v: &[f32], rows: usize) -> Tensor {
        Tensor::from_slice(v, (rows, v.len() / rows), &Device::Cpu).unwrap()
    }

    fn close(a: f32, b: f64, tol: f64) {
        assert!((a as f64 - b).abs() < tol, "{a} vs {b}");
    }

    #[test]
    fn categorical_matches_closed_form() {
        // logits ln(1), ln(2), ln(5): probabilities 1/8, 2/8, 5/8.
        let logits = [0.0, 2f32.ln(), 5f32.ln()];
        let d = ActionDist::Categorical {
            logits: t2(&logits, 1),
        };
        let lp = d
            .log_prob(&t2(&[2.0], 1))
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        close(lp[0], (5.0f64 / 8.0).ln(), 1e-6);
        let p = [1.0 / 8.0, 2.0 / 8.0, 5.0 / 8.0f64];
        let h: f64 = -p.iter().map(|q| q * q.ln()).sum::<f64>();
        close(d.entropy().unwrap().to_vec1::<f32>().unwrap()[0], h, 1e-6);
        let host = HostDist::Categorical { logits: &logits };
        close(host.log_prob(&[1.0]), 0.25f64.ln(), 1e-6);
    }

    #[test]
    fn gaussian_matches_closed_form() {
        // N(1, 0.5^2) x N(-2, 2^2) at (1.5, 0): z = (1, 1).
        let mean = t2(&[1.0, -2.0], 1);
        let log_std = Tensor::from_slice(&[0.5f32.ln(), 2f32.ln()], 2, &Device::Cpu).unwrap();
        let d = ActionDist::Gaussian { mean, log_std };
        let lp = d
            .log_prob(&t2(&[1.5, 0.0], 1))
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let want = -1.0 - 0.5f64.ln() - 2f64.ln() - 2.0 * HALF_LN_2PI;
        close(lp[0], want, 1e-5);
        let h = 2.0 * (0.5 + HALF_LN_2PI) + 0.5f64.ln() + 2f64.ln();
        close(d.entropy().unwrap().to_vec1::<f32>().unwrap()[0], h, 1e-5);
        let host = HostDist::Gaussian {
            mean: &[1.0, -2.0],
            log_std: &[0.5f32.ln(), 2f32.ln()],
        };
        close(host.log_prob(&[1.5, 0.0]), want, 1e-5);
    }

    #[test]
    fn beta_matches_closed_form() {
        // Beta(2, 3): density 12 x (1 - x)^2; entropy ln B(2,3) - psi(2) - 2 psi(3) + 3 psi(5).
        let d = ActionDist::Beta {
            alpha: t2(&[2.0], 1),
            beta: t2(&[3.0], 1),
        };
        let lp = d
            .log_prob(&t2(&[0.25], 1))
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        close(lp[0], (12.0 * 0.25 * 0.75f64.powi(2)).ln(), 1e-5);
        let (psi2, psi3, psi5) = (
            1.0 - 0.577_215_664_901_532_9,
            1.5 - 0.577_215_664_901_532_9,
            1.0 + 0.5 + 1.0 / 3.0 + 0.25 - 0.577_215_664_901_532_9,
        );
        let h = (1.0f64 / 12.0).ln() - psi2 - 2.0 * psi3 + 3.0 * psi5;
        close(d.entropy().unwrap().to_vec1::<f32>().unwrap()[0], h, 1e-5);
        let host = HostDist::Beta {
            alpha: &[2.0],
            beta: &[3.0],
        };
        close(
            host.log_prob(&[0.25]),
            (12.0 * 0.25 * 0.75f64.powi(2)).ln(),
            1e-5,
        );
    }

    #[test]
    fn samplers_have_the_right_moments() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let n = 100_000;
        let mut s = [0.0f32];
        let beta = HostDist::Beta {
            alpha: &[2.0],
            beta: &[3.0],
        };
        let mean: f64 = (0..n)
            .map(|_| {
                beta.sample(&mut rng, &mut s);
                s[0] as f64
            })
            .sum::<f64>()
            / n as f64;
        assert!((mean - 0.4).abs() < 0.005, "beta mean {mean}");
        let gauss = HostDist::Gaussian {
            mean: &[1.0],
            log_std: &[2f32.ln()],
        };
        let xs: Vec<f64> = (0..n)
            .map(|_| {
                gauss.sample(&mut rng, &mut s);
                s[0] as f64
            })
            .collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
        assert!(
            (m - 1.0).abs() < 0.03 && (var - 4.0).abs() < 0.1,
            "{m} {var}"
        );
        let cat = HostDist::Categorical {
            logits: &[0.0, 2f32.ln(), 5f32.ln()],
        };
        let twos = (0..n)
            .filter(|_| {
                cat.sample(&mut rng, &mut s);
                s[0] == 2.0
            })
            .count();
        assert!((twos as f64 / n as f64 - 0.625).abs() < 0.01);
    }

    #[test]
    fn modes_are_argmax_and_means() {
        let d = ActionDist::Beta {
            alpha: t2(&[2.0, 1.0], 1),
            beta: t2(&[2.0, 3.0], 1),
        };
        assert_eq!(
            d.mode().unwrap().to_vec2::<f32>().unwrap(),
            vec![vec![0.5, 0.25]]
        );
        let c = ActionDist::Categorical {
            logits: t2(&[0.1, 3.0, -1.0, 5.0, 0.0, 0.0], 2),
        };
        assert_eq!(
            c.mode().unwrap().to_vec2::<f32>().unwrap(),
            vec![vec![1.0], vec![0.0]]
        );
        let mut s = [0.0];
        HostDist::Categorical {
            logits: &[0.1, 3.0, -1.0],
        }
        .mode(&mut s);
        assert_eq!(s, [1.0]);
    }
}
