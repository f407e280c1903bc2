//! Observation and action spaces: flat boxes and discrete sets with named dimensions.

use rand::{Rng, RngExt};
use serde::Serialize;

use crate::EnvError;

/// An observation or action space, flat and one-dimensional like Gymnasium's `Box(shape=(n,))`
/// and `Discrete(n)`. Every dimension carries a name so specs document themselves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Space {
    /// `f32` vector with per-dimension bounds (either may be infinite).
    Box {
        low: Vec<f32>,
        high: Vec<f32>,
        names: Vec<String>,
    },
    /// One integer in `0..n`, carried as an `f32` in action buffers.
    Discrete { n: usize, labels: Vec<String> },
}

impl Space {
    /// A box from `(name, low, high)` rows.
    pub fn boxed(dims: &[(&str, f32, f32)]) -> Self {
        Space::Box {
            low: dims.iter().map(|d| d.1).collect(),
            high: dims.iter().map(|d| d.2).collect(),
            names: dims.iter().map(|d| d.0.to_string()).collect(),
        }
    }

    /// A discrete space whose actions are described by `labels`.
    pub fn discrete(labels: &[&str]) -> Self {
        Space::Discrete {
            n: labels.len(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
        }
    }

    /// Number of `f32` slots one element of the space occupies in a buffer.
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Box { low, .. } => low.len(),
            Space::Discrete { .. } => 1,
        }
    }

    pub fn is_discrete(&self) -> bool {
        matches!(self, Space::Discrete { .. })
    }

    /// Names of the dimensions (box) or of the actions (discrete).
    pub fn names(&self) -> &[String] {
        match self {
            Space::Box { names, .. } => names,
            Space::Discrete { labels, .. } => labels,
        }
    }

    /// True when `x` lies in the space (bounds inclusive; discrete values must be integers).
    pub fn contains(&self, x: &[f32]) -> bool {
        if x.len() != self.flat_dim() {
            return false;
        }
        match self {
            Space::Box { low, high, .. } => x
                .iter()
                .zip(low.iter().zip(high))
                .all(|(v, (lo, hi))| !v.is_nan() && v >= lo && v <= hi),
            Space::Discrete { n, .. } => {
                let v = x[0];
                v.is_finite() && v.fract() == 0.0 && v >= 0.0 && (v as usize) < *n
            }
        }
    }

    /// Writes the action the env will execute: out-of-range values are clipped to the space,
    /// discrete values rounded to the nearest action. NaN or infinite entries are rejected
    /// (`env_index` names the env in the error) and `out` is left untouched.
    pub fn sanitize_action(
        &self,
        env_index: usize,
        action: &[f32],
        out: &mut [f32],
    ) -> Result<(), EnvError> {
        if action.len() != self.flat_dim() {
            return Err(EnvError::ActionShape {
                env_index,
                expected: self.flat_dim(),
                got: action.len(),
            });
        }
        if let Some((dim, &value)) = action.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(EnvError::NonFiniteAction {
                env_index,
                dim,
                value,
            });
        }
        match self {
            Space::Box { low, high, .. } => {
                for (o, (v, (lo, hi))) in
                    out.iter_mut().zip(action.iter().zip(low.iter().zip(high)))
                {
                    *o = v.clamp(*lo, *hi);
                }
            }
            Space::Discrete { n, .. } => {
                out[0] = action[0].round().clamp(0.0, (*n - 1) as f32);
            }
        }
        Ok(())
    }

    /// Uniform sample (box dims with an infinite bound sample a standard normal-ish range).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f32]) {
        match self {
            Space::Box { low, high, .. } => {
                for (o, (lo, hi)) in out.iter_mut().zip(low.iter().zip(high)) {
                    let (lo, hi) = (lo.max(-1.0e3), hi.min(1.0e3));
                    *o = lo + (hi - lo) * rng.random::<f32>();
                }
            }
            Space::Discrete { n, .. } => out[0] = rng.random_range(0..*n) as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_actions_are_clipped_and_nan_rejected() {
        let s = Space::boxed(&[("force", -1.0, 1.0), ("torque", -2.0, 2.0)]);
        let mut out = [9.0; 2];
        s.sanitize_action(3, &[5.0, -1e30], &mut out).unwrap();
        assert_eq!(out, [1.0, -2.0]);
        let err = s
            .sanitize_action(3, &[0.0, f32::NAN], &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("env 3"), "{err}");
        assert_eq!(
            out,
            [1.0, -2.0],
            "a rejected action leaves the buffer alone"
        );
        assert!(s
            .sanitize_action(0, &[f32::INFINITY, 0.0], &mut out)
            .is_err());
    }

    #[test]
    fn discrete_actions_round_and_clip() {
        let s = Space::discrete(&["left", "right"]);
        let mut out = [0.0];
        s.sanitize_action(0, &[7.0], &mut out).unwrap();
        assert_eq!(out, [1.0]);
        s.sanitize_action(0, &[-3.2], &mut out).unwrap();
        assert_eq!(out, [0.0]);
        assert!(s.contains(&[1.0]) && !s.contains(&[2.0]) && !s.contains(&[0.5]));
    }
}
