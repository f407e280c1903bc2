//! State features ψ(s) for learned reward heads, computed from signals. Every basis starts with
//! the constant feature 1, so a head with weight 1 on it and 0 elsewhere is the constant 1.

use carrot_envs::SignalSpec;
use serde::{Deserialize, Serialize};

use crate::combinators::resolve;
use crate::mix::with_scratch;
use crate::RewardError;

/// Most features a basis may have (a Fourier basis grows as `(order + 1)^signals`).
pub const MAX_FEATURES: usize = 4096;

/// One signal fed to a feature basis, scaled from `[low, high]` to `[0, 1]` (and clamped).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSignal {
    pub signal: String,
    pub low: f32,
    pub high: f32,
}

/// The basis of the learned heads (`features = { basis = "fourier", order = 2, signals = [...] }`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeatureConfig {
    /// ψ = \[1\]: one scalar per head (BARFI's MuJoCo form).
    #[default]
    Constant,
    /// ψ = [1, z_1, ..., z_d] with z the scaled signals.
    Linear { signals: Vec<FeatureSignal> },
    /// ψ_c = cos(π c·z) for every c in {0..order}^d (Konidaris' Fourier basis; c = 0 is 1).
    Fourier {
        order: u32,
        signals: Vec<FeatureSignal>,
    },
}

/// A basis resolved against a spec.
#[derive(Clone, Debug)]
pub(crate) struct Features {
    /// `(signal index, low, high)` per input.
    inputs: Vec<(usize, f64, f64)>,
    /// Fourier coefficient vectors, `[F x d]`; empty for the constant and linear bases.
    coefficients: Vec<f64>,
    len: usize,
}

impl Features {
    pub(crate) fn new(
        owner: &str,
        spec: &SignalSpec,
        config: &FeatureConfig,
    ) -> Result<Self, RewardError> {
        let invalid = |message: String| RewardError::Invalid {
            reward: owner.to_string(),
            message,
        };
        let (signals, order) = match config {
            FeatureConfig::Constant => (&[][..], None),
            FeatureConfig::Linear { signals } => (&signals[..], None),
            FeatureConfig::Fourier { order, signals } => (&signals[..], Some(*order)),
        };
        if signals.is_empty() && !matches!(config, FeatureConfig::Constant) {
            return Err(invalid(
                "features.signals: needs at least one signal".into(),
            ));
        }
        let mut inputs = Vec::with_capacity(signals.len());
        for f in signals {
            if !(f.low.is_finite() && f.high.is_finite() && f.high > f.low) {
                return Err(invalid(format!(
                    "features.signals: '{}' needs finite low < high",
                    f.signal
                )));
            }
            inputs.push((
                resolve(owner, spec, &f.signal)?,
                f.low as f64,
                f.high as f64,
            ));
        }
        let (coefficients, len) = match order {
            None => (Vec::new(), 1 + inputs.len()),
            Some(order) => {
                let count = (order as usize + 1)
                    .checked_pow(inputs.len() as u32)
                    .filter(|&n| n <= MAX_FEATURES)
                    .ok_or_else(|| {
                        invalid(format!(
                            "features: a fourier basis of order {order} over {} signals has more than {MAX_FEATURES} features",
                            inputs.len()
                        ))
                    })?;
                (fourier_coefficients(order, inputs.len()), count)
            }
        };
        Ok(Features {
            inputs,
            coefficients,
            len,
        })
    }

    /// Number of features F.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Writes ψ(row) into `out` (`len()` slots).
    pub(crate) fn write(&self, signals: &[f32], out: &mut [f64]) {
        if self.coefficients.is_empty() {
            out[0] = 1.0;
            for (o, &(i, lo, hi)) in out[1..].iter_mut().zip(&self.inputs) {
                *o = scaled(signals[i], lo, hi);
            }
            return;
        }
        let d = self.inputs.len();
        with_scratch(d, |z: &mut [f64]| {
            for (zi, &(i, lo, hi)) in z.iter_mut().zip(&self.inputs) {
                *zi = scaled(signals[i], lo, hi);
            }
            for (o, c) in out.iter_mut().zip(self.coefficients.chunks_exact(d)) {
                let dot: f64 = c.iter().zip(z.iter()).map(|(c, z)| c * z).sum();
                *o = (std::f64::consts::PI * dot).cos();
            }
        });
    }
}

/// Scales `x` from `[lo, hi]` to `[0, 1]`, clamped; a NaN maps to 0.
fn scaled(x: f32, lo: f64, hi: f64) -> f64 {
    let z = (x as f64 - lo) / (hi - lo);
    if z.is_nan() {
        0.0
    } else {
        z.clamp(0.0, 1.0)
    }
}

/// Every c in {0..order}^d in lexicographic order (the first is all zeros), flattened `[F x d]`.
fn fourier_coefficients(order: u32, d: usize) -> Vec<f64> {
    let base = order as usize + 1;
    let count = base.pow(d as u32);
    let mut out = Vec::with_capacity(count * d);
    for n in 0..count {
        let mut digits = vec![0.0; d];
        let mut rest = n;
        for slot in digits.iter_mut().rev() {
            *slot = (rest % base) as f64;
            rest /= base;
        }
        out.extend(digits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourier_coefficients_enumerate_the_grid_starting_at_zero() {
        let c = fourier_coefficients(2, 2);
        assert_eq!(c.len(), 9 * 2);
        assert_eq!(&c[..6], &[0.0, 0.0, 0.0, 1.0, 0.0, 2.0]);
        assert_eq!(&c[16..], &[2.0, 2.0]);
    }

    #[test]
    fn every_basis_starts_with_the_constant_feature() {
        let spec = SignalSpec::new("toy", &[("a", "1", "first"), ("b", "1", "second")]);
        let signals = |low, high| {
            vec![
                FeatureSignal {
                    signal: "a".into(),
                    low,
                    high,
                },
                FeatureSignal {
                    signal: "b".into(),
                    low,
                    high,
                },
            ]
        };
        let configs = [
            FeatureConfig::Constant,
            FeatureConfig::Linear {
                signals: signals(-1.0, 1.0),
            },
            FeatureConfig::Fourier {
                order: 3,
                signals: signals(-1.0, 1.0),
            },
        ];
        for (config, len) in configs.iter().zip([1, 3, 16]) {
            let f = Features::new("blend", &spec, config).unwrap();
            assert_eq!(f.len(), len);
            let mut out = vec![f64::NAN; len];
            f.write(&[0.3, 7.0], &mut out);
            assert_eq!(out[0], 1.0, "{config:?}");
            assert!(out.iter().all(|v| v.abs() <= 1.0), "{out:?}");
        }
        let mut out = [0.0; 3];
        let linear = Features::new("blend", &spec, &configs[1]).unwrap();
        linear.write(&[0.0, 7.0], &mut out);
        assert_eq!(out, [1.0, 0.5, 1.0], "scaled to [0, 1] and clamped");
        let err = Features::new(
            "blend",
            &spec,
            &FeatureConfig::Linear {
                signals: signals(1.0, 1.0),
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("low < high"), "{err}");
    }
}
