//! Static checks of spaces and name lists, and the extreme actions of a space.

use crate::Space;

/// `(out-of-range action, the legal action it clips to)` for every corner of a box and every
/// discrete action.
pub(super) fn extreme_actions(space: &Space) -> Vec<(Vec<f32>, Vec<f32>)> {
    match space {
        Space::Box { low, high, .. } => {
            let corner = |bound: &[f32], push: f32| {
                let legal: Vec<f32> = bound.iter().map(|b| b.clamp(-1.0e3, 1.0e3)).collect();
                let huge = bound
                    .iter()
                    .zip(&legal)
                    .map(|(b, l)| if b.is_finite() { push } else { *l })
                    .collect();
                (huge, legal)
            };
            vec![corner(low, -1.0e30), corner(high, 1.0e30)]
        }
        Space::Discrete { n, .. } => (0..*n)
            .map(|i| {
                let huge = if i == 0 {
                    -1.0e30
                } else if i + 1 == *n {
                    1.0e30
                } else {
                    i as f32 + 0.3
                };
                (vec![huge], vec![i as f32])
            })
            .collect(),
    }
}

pub(super) fn space_problem(space: &Space) -> Option<String> {
    match space {
        Space::Box { low, high, names } => {
            if low.is_empty() {
                return Some("has no dimensions".into());
            }
            if low.len() != high.len() || low.len() != names.len() {
                return Some(format!(
                    "has {} low bounds, {} high bounds and {} names",
                    low.len(),
                    high.len(),
                    names.len()
                ));
            }
            (0..low.len()).find_map(|i| {
                let (lo, hi, name) = (low[i], high[i], &names[i]);
                if name.is_empty() {
                    Some(format!("dimension {i} has no name"))
                } else if lo.is_nan()
                    || hi.is_nan()
                    || lo > hi
                    || lo == f32::INFINITY
                    || hi == f32::NEG_INFINITY
                {
                    Some(format!("dimension '{name}' has bounds [{lo}, {hi}]"))
                } else {
                    None
                }
            })
        }
        Space::Discrete { n, labels } => {
            if *n == 0 {
                Some("has no actions".into())
            } else if labels.len() != *n {
                Some(format!("has n = {n} but {} labels", labels.len()))
            } else {
                labels
                    .iter()
                    .position(|l| l.is_empty())
                    .map(|i| format!("label {i} is empty"))
            }
        }
    }
}

pub(super) fn names_problem<S: AsRef<str>>(what: &str, names: &[S]) -> Option<String> {
    names.iter().enumerate().find_map(|(i, name)| {
        let name = name.as_ref();
        if name.is_empty() {
            Some(format!("{what} {i} has an empty name"))
        } else if names[..i].iter().any(|other| other.as_ref() == name) {
            Some(format!("{what} name '{name}' appears twice"))
        } else {
            None
        }
    })
}
