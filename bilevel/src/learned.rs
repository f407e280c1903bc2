//! What the outer loop needs from a learned reward: its parameters φ (f64), a relabel of stored
//! signal rows, and the vector-Jacobian product `∇_φ Σ_k w_k r_φ(signals_k)`.
//!
//! [`LearnedReward`] is the narrow interface the hypergradient is written against; every
//! `Box<dyn carrot_rewards::Reward>` implements it (the learned `blend` is the one with
//! parameters). [`SignalBlend`] is a minimal implementation
//! over raw signals, `r = r_p + b + Σ_i w_i · aux_i`, used by the tests and the examples.

use carrot_rewards::Reward;

use crate::error::{BilevelError, Result};

/// A reward with differentiable parameters, evaluated on signal rows `[B x S]`.
pub trait LearnedReward: Send {
    /// One name per parameter, for metrics (`outer/phi/<name>`).
    fn param_names(&self) -> Vec<String>;
    fn params(&self) -> Vec<f64>;
    fn set_params(&mut self, phi: &[f64]) -> Result<()>;
    /// Signals per row.
    fn num_signals(&self) -> usize;
    /// Writes r_φ of each row into `out`.
    fn relabel(&self, signals: &[f32], out: &mut [f32]);
    /// `∇_φ Σ_k weights_k r_φ(signals_k)`, in parameter order.
    fn param_vjp(&self, signals: &[f32], weights: &[f64]) -> Result<Vec<f64>>;
}

/// Any `carrot_rewards::Reward` with parameters (the `blend`), through its own
/// `parameters`/`evaluate_batch`/`param_vjp`.
impl LearnedReward for Box<dyn Reward> {
    fn param_names(&self) -> Vec<String> {
        self.parameter_names()
    }

    fn params(&self) -> Vec<f64> {
        self.parameters()
    }

    fn set_params(&mut self, phi: &[f64]) -> Result<()> {
        self.set_parameters(phi).map_err(reward_error)
    }

    fn num_signals(&self) -> usize {
        Reward::num_signals(self.as_ref())
    }

    fn relabel(&self, signals: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.evaluate_batch(signals).rewards);
    }

    fn param_vjp(&self, signals: &[f32], weights: &[f64]) -> Result<Vec<f64>> {
        Reward::param_vjp(self.as_ref(), signals, weights).map_err(reward_error)
    }
}

fn reward_error(e: carrot_rewards::RewardError) -> BilevelError {
    BilevelError::config("outer.reward", e.to_string())
}

/// `r = signal[primary] + b + Σ_i w_i · signal[aux_i]`, with φ = [b, w_1..w_k], initialized at
/// the naive sum (b = 0, w = 1).
#[derive(Clone, Debug)]
pub struct SignalBlend {
    num_signals: usize,
    primary: usize,
    aux: Vec<usize>,
    aux_names: Vec<String>,
    /// [bias, w_1..w_k]
    phi: Vec<f64>,
}

impl SignalBlend {
    pub fn new(num_signals: usize, primary: usize, aux: &[(String, usize)]) -> Result<Self> {
        let bad = aux
            .iter()
            .map(|(_, i)| *i)
            .chain([primary])
            .find(|&i| i >= num_signals);
        if let Some(i) = bad {
            return Err(BilevelError::Invalid(format!(
                "blend: signal index {i} out of {num_signals} signals"
            )));
        }
        let mut phi = vec![0.0];
        phi.extend(std::iter::repeat_n(1.0, aux.len()));
        Ok(SignalBlend {
            num_signals,
            primary,
            aux: aux.iter().map(|(_, i)| *i).collect(),
            aux_names: aux.iter().map(|(n, _)| n.clone()).collect(),
            phi,
        })
    }
}

impl LearnedReward for SignalBlend {
    fn param_names(&self) -> Vec<String> {
        let mut names = vec!["bias".to_string()];
        names.extend(self.aux_names.iter().cloned());
        names
    }

    fn params(&self) -> Vec<f64> {
        self.phi.clone()
    }

    fn set_params(&mut self, phi: &[f64]) -> Result<()> {
        if phi.len() != self.phi.len() {
            return Err(BilevelError::Invalid(format!(
                "blend: {} parameters given, {} expected",
                phi.len(),
                self.phi.len()
            )));
        }
        self.phi.copy_from_slice(phi);
        Ok(())
    }

    fn num_signals(&self) -> usize {
        self.num_signals
    }

    fn relabel(&self, signals: &[f32], out: &mut [f32]) {
        for (row, o) in signals.chunks_exact(self.num_signals).zip(out.iter_mut()) {
            let mut r = row[self.primary] as f64 + self.phi[0];
            for (w, &i) in self.phi[1..].iter().zip(&self.aux) {
                r += w * row[i] as f64;
            }
            *o = r as f32;
        }
    }

    fn param_vjp(&self, signals: &[f32], weights: &[f64]) -> Result<Vec<f64>> {
        let mut grad = vec![0f64; self.phi.len()];
        for (row, &w) in signals.chunks_exact(self.num_signals).zip(weights) {
            grad[0] += w;
            for (g, &i) in grad[1..].iter_mut().zip(&self.aux) {
                *g += w * row[i] as f64;
            }
        }
        Ok(grad)
    }
}
