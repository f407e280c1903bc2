//! Adam ascent in f64 on the outer parameters, with an optional clip on the update norm.

use serde::{Deserialize, Serialize};

/// Adam state (torch semantics, betas 0.9/0.999, eps 1e-8), serializable for checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OuterAdam {
    #[serde(with = "crate::exact::f64s")]
    pub m: Vec<f64>,
    #[serde(with = "crate::exact::f64s")]
    pub v: Vec<f64>,
    pub step: u64,
}

impl OuterAdam {
    pub fn new(len: usize) -> Self {
        OuterAdam {
            m: vec![0.0; len],
            v: vec![0.0; len],
            step: 0,
        }
    }

    /// x ← x + update(g); returns the norm of the applied update.
    pub fn ascend(&mut self, x: &mut [f64], g: &[f64], lr: f64, max_update_norm: f64) -> f64 {
        const B1: f64 = 0.9;
        const B2: f64 = 0.999;
        self.step += 1;
        let bc1 = 1.0 - B1.powi(self.step as i32);
        let bc2 = 1.0 - B2.powi(self.step as i32);
        let mut update: Vec<f64> = Vec::with_capacity(x.len());
        for ((m, v), &g) in self.m.iter_mut().zip(self.v.iter_mut()).zip(g) {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            update.push(lr * (*m / bc1) / ((*v / bc2).sqrt() + 1e-8));
        }
        let norm = update.iter().map(|u| u * u).sum::<f64>().sqrt();
        let scale = if max_update_norm > 0.0 && norm > max_update_norm {
            max_update_norm / norm
        } else {
            1.0
        };
        x.iter_mut().zip(&update).for_each(|(x, u)| *x += scale * u);
        norm * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_coordinate_by_lr_along_the_gradient_sign() {
        let mut adam = OuterAdam::new(3);
        let mut x = vec![1.0, 2.0, 3.0];
        adam.ascend(&mut x, &[0.5, -4.0, 0.0], 0.1, 0.0);
        assert!(
            (x[0] - 1.1).abs() < 1e-7 && (x[1] - 1.9).abs() < 1e-7 && x[2] == 3.0,
            "{x:?}"
        );
        let mut clipped = vec![0.0, 0.0];
        let n = OuterAdam::new(2).ascend(&mut clipped, &[1.0, 1.0], 1.0, 0.5);
        assert!((n - 0.5).abs() < 1e-12 && (clipped[0] - 0.5 / 2f64.sqrt()).abs() < 1e-9);
    }
}
