//! Global gradient-norm clipping over a candle `GradStore`, and Adam with state this crate owns
//! (so checkpoints can save it).
//!
//! The optimizer works on host copies: gradients come down once per step, the update runs over
//! flat `f32` slices (with `f64` norms), and parameters go back with `Var::set`. Networks here
//! are small (tens of thousands of weights) and this keeps the update exact and deterministic.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Reads each parameter's gradient to the host (zeros where a parameter got none).
pub fn host_grads(params: &[(String, Var)], grads: &GradStore) -> Result<Vec<Vec<f32>>> {
    params
        .iter()
        .map(|(_, v)| match grads.get(v.as_tensor()) {
            Some(g) => Ok(g.flatten_all()?.to_vec1::<f32>()?),
            None => Ok(vec![0.0; v.elem_count()]),
        })
        .collect()
}

/// Scales all gradients together so their global L2 norm is at most `max_norm` (torch's
/// `clip_grad_norm_`: factor `max_norm / (norm + 1e-6)` when below 1). Returns the norm
/// before clipping.
pub fn clip_grad_norm(grads: &mut [Vec<f32>], max_norm: f64) -> f64 {
    let norm = grads
        .iter()
        .flat_map(|g| g.iter())
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            g.iter_mut().for_each(|x| *x = (*x as f64 * coef) as f32);
        }
    }
    norm
}

/// Adam (Kingma & Ba; torch semantics, no weight decay) with per-parameter moments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken so far (bias correction).
    pub step: u64,
    /// First and second moments, one flat vector per parameter, in parameter order.
    #[serde(skip)]
    pub m: Vec<Vec<f32>>,
    #[serde(skip)]
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    /// CleanRL's PPO Adam: betas (0.9, 0.999), eps 1e-5.
    pub fn new(sizes: &[usize]) -> Self {
        Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-5,
            step: 0,
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }

    /// Applies one update to host parameter copies.
    pub fn update(&mut self, params: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f64) {
        let all = vec![true; params.len()];
        self.update_selected(params, grads, lr, &all);
    }

    /// One update of the parameters with `selected[i]`; the others and their moments are left
    /// as they are (the step count, shared by all, advances).
    pub fn update_selected(
        &mut self,
        params: &mut [Vec<f32>],
        grads: &[Vec<f32>],
        lr: f64,
        selected: &[bool],
    ) {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2 = 1.0 - self.beta2.powi(self.step as i32);
        let step_size = (lr / bc1) as f32;
        let sqrt_bc2 = bc2.sqrt() as f32;
        let (b1, b2, eps) = (self.beta1 as f32, self.beta2 as f32, self.eps as f32);
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
            .zip(selected)
            .filter_map(|(x, &keep)| keep.then_some(x))
        {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                let denom = v.sqrt() / sqrt_bc2 + eps;
                *p -= step_size * *m / denom;
            }
        }
    }
}

/// Host copies of the parameters, kept in sync with the `Var`s.
pub fn host_params(params: &[(String, Var)]) -> Result<Vec<Vec<f32>>> {
    params
        .iter()
        .map(|(_, v)| Ok(v.as_tensor().flatten_all()?.to_vec1::<f32>()?))
        .collect()
}

/// Writes host parameter values back into the `Var`s.
pub fn write_params(params: &[(String, Var)], values: &[Vec<f32>]) -> Result<()> {
    for ((_, var), val) in params.iter().zip(values) {
        let t = Tensor::from_slice(val, var.shape(), var.device())?;
        var.set(&t)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_scales_to_the_max_norm() {
        // Global norm of (3, 4) and (12) is 13; clip to 6.5 halves everything (up to 1e-6).
        let mut grads = vec![vec![3.0, 4.0], vec![12.0]];
        let norm = clip_grad_norm(&mut grads, 6.5);
        assert_eq!(norm, 13.0);
        let coef = 6.5 / (13.0 + 1e-6);
        let want = [3.0 * coef, 4.0 * coef, 12.0 * coef];
        let got: Vec<f64> = grads.iter().flatten().map(|&x| x as f64).collect();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        // Below the limit nothing changes.
        let mut small = vec![vec![0.3, 0.4]];
        assert!((clip_grad_norm(&mut small, 1.0) - 0.5).abs() < 1e-7);
        assert_eq!(small, vec![vec![0.3, 0.4]]);
    }

    #[test]
    fn adam_matches_hand_computed_steps() {
        let mut adam = Adam::new(&[1]);
        let mut p = vec![vec![1.0f32]];
        // Step 1: m = 0.1 g, v = 0.001 g^2; bias-corrected m/sqrt(v) = sign(g) = 1.
        // p = 1 - 0.1 * 1 / (1 + 1e-5 / |g|) with g = 2.
        adam.update(&mut p, &[vec![2.0]], 0.1);
        let want1 = 1.0 - 0.1 * 2.0 / (2.0 + 1e-5);
        assert!((p[0][0] as f64 - want1).abs() < 1e-6, "{}", p[0][0]);
        // Step 2 with g = -1: m = 0.9*0.2 - 0.1 = 0.08, v = 0.999*0.004 + 0.001 = 0.004996.
        adam.update(&mut p, &[vec![-1.0]], 0.1);
        let (bc1, bc2) = (1.0 - 0.81, 1.0 - 0.999f64.powi(2));
        let step = 0.1 / bc1 * 0.08 / (0.004996f64.sqrt() / bc2.sqrt() + 1e-5);
        assert!(
            (p[0][0] as f64 - (want1 - step)).abs() < 1e-5,
            "{}",
            p[0][0]
        );
        assert_eq!(adam.step, 2);
    }
}
