//! BARFI's learned blend of a primary reward with auxiliary ones:
//!
//! `r_φ(s) = b_φ(s) + r_p(s) + Σ_i w_φ,i(s) · κ_i · r_aux,i(s)`
//!
//! where `b` and each `w_i` are linear heads on state features ψ(s) (constant, linear or
//! Fourier; see [`FeatureConfig`]) and κ_i is the fixed `weight` of auxiliary i. φ starts at
//! b = 0, w = 1: exactly the naive sum, the `mix` of the primary and the weighted auxiliaries.
//! The scale on r_p stays 1 (learning it would allow degenerate rescaling), and the learned
//! discount is not part of the reward: the outer loop owns it.
//!
//! Only the primary reward ends episodes: auxiliary termination causes are ignored, so
//! changing φ never changes when an episode ends. Rewards are computed in f32 in the same order
//! as `mix` (so the initial blend equals the naive sum bit for bit); parameters and gradients
//! are host f64.

use carrot_envs::{SignalSpec, StepReward};
use serde::{Deserialize, Serialize};

use super::features::{FeatureConfig, Features};
use crate::mix::{dedupe, with_scratch, Component, RewardTerm};
use crate::reward::check_rows;
use crate::{Reward, RewardConfig, RewardError};

/// Settings of the `blend` reward.
///
/// ```toml
/// [reward]
/// id = "blend"
/// primary = { id = "signal", signal = "goal_reached" }
/// aux = [{ reward = { id = "signal", signal = "goal_distance" }, weight = -0.1 }]
/// features = { basis = "constant" }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlendConfig {
    /// The reward the designer really wants (its terminations are the blend's).
    pub primary: Box<RewardConfig>,
    /// Auxiliary rewards (or single terms of rewards); `weight` is the fixed scale κ_i.
    pub aux: Vec<RewardTerm>,
    #[serde(default)]
    pub features: FeatureConfig,
    /// Whether the outer loop may move the bias head b_φ. With `false` its gradient is zero, so
    /// b stays at 0 and only the auxiliaries' weights are learned. In an episodic task whose
    /// success ends the episode a learned constant bias is a per-step survival bonus that can
    /// come to outweigh finishing (see BARFI's town setting in `experiments/README.md`).
    #[serde(default = "learn_bias_default")]
    pub learn_bias: bool,
}

fn learn_bias_default() -> bool {
    true
}

/// What an outer loop needs per stored row, computed once per rollout: relabelling with a new
/// φ, a potential Σ_i aux_i or a gradient then needs no reward evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlendRows {
    /// `[B]` primary rewards r_p.
    pub primary: Vec<f32>,
    /// `[B x k]` weighted auxiliaries κ_i · r_aux,i.
    pub aux: Vec<f32>,
    /// `[B x F]` features ψ(s).
    pub features: Vec<f64>,
    /// `[B]` the primary's termination cause index, or -1.
    pub causes: Vec<i32>,
    pub num_aux: usize,
    pub num_features: usize,
}

impl BlendRows {
    pub fn len(&self) -> usize {
        self.primary.len()
    }

    pub fn is_empty(&self) -> bool {
        self.primary.is_empty()
    }

    /// `Φ = Σ_i κ_i · r_aux,i` per row, the potential of potential-based shaping.
    pub fn potentials(&self) -> Vec<f64> {
        self.aux
            .chunks_exact(self.num_aux.max(1))
            .map(|row| row.iter().map(|&a| a as f64).sum())
            .collect()
    }
}

/// The learned blend. Parameters: one head of F feature weights per auxiliary (in order), then
/// the bias head; F = 1 for the constant basis.
pub struct BlendReward {
    primary: Box<dyn Reward>,
    aux: Vec<Component>,
    features: Features,
    params: Vec<f64>,
    names: Vec<String>,
    num_signals: usize,
    learn_bias: bool,
}

impl BlendReward {
    pub fn new(spec: &SignalSpec, config: &BlendConfig) -> Result<Self, RewardError> {
        if config.aux.is_empty() {
            return Err(RewardError::Invalid {
                reward: "blend".into(),
                message: "needs at least one entry in `aux`".into(),
            });
        }
        let primary = config.primary.build(spec)?;
        let aux = config
            .aux
            .iter()
            .map(|t| Component::build("blend", spec, t))
            .collect::<Result<Vec<_>, _>>()?;
        let features = Features::new("blend", spec, &config.features)?;
        let mut names = vec!["primary".to_string()];
        names.extend(aux.iter().map(|c| c.name.clone()));
        names.push("bias".into());
        dedupe(&mut names);
        let f = features.len();
        let mut reward = BlendReward {
            primary,
            params: vec![0.0; (aux.len() + 1) * f],
            aux,
            features,
            names,
            num_signals: spec.len(),
            learn_bias: config.learn_bias,
        };
        reward.params = reward.initial_parameters();
        Ok(reward)
    }

    /// The naive-sum parameters: w_i(s) = 1 (weight 1 on the constant feature), b = 0.
    pub fn initial_parameters(&self) -> Vec<f64> {
        let f = self.features.len();
        let mut params = vec![0.0; self.params.len()];
        for head in 0..self.aux.len() {
            params[head * f] = 1.0;
        }
        params
    }

    pub fn num_aux(&self) -> usize {
        self.aux.len()
    }

    pub fn num_features(&self) -> usize {
        self.features.len()
    }

    /// Names of the auxiliaries, in order.
    pub fn aux_names(&self) -> &[String] {
        &self.names[1..=self.aux.len()]
    }

    /// Primary, weighted auxiliaries and features of every row of `signals` `[B x S]`.
    pub fn rows(&self, signals: &[f32]) -> Result<BlendRows, RewardError> {
        let s = self.num_signals;
        let b = signals.len().checked_div(s).unwrap_or(0);
        check_rows("blend", s, signals, b)?;
        let (k, f) = (self.aux.len(), self.features.len());
        let mut rows = BlendRows {
            primary: vec![0.0; b],
            aux: vec![0.0; b * k],
            features: vec![0.0; b * f],
            causes: vec![-1; b],
            num_aux: k,
            num_features: f,
        };
        let mut terms = vec![0.0; self.primary.term_names().len()];
        for (i, row) in signals.chunks_exact(s.max(1)).enumerate().take(b) {
            let (r, cause) = self.primary.evaluate(row, &mut terms);
            rows.primary[i] = r;
            rows.causes[i] = cause.map_or(-1, |c| c as i32);
            for (a, c) in rows.aux[i * k..(i + 1) * k].iter_mut().zip(&self.aux) {
                *a = c.weighted(row).0;
            }
            self.features
                .write(row, &mut rows.features[i * f..(i + 1) * f]);
        }
        Ok(rows)
    }

    /// r_φ of every row under the current parameters, exactly as the per-step path computes it.
    pub fn relabel(&self, rows: &BlendRows) -> Vec<f32> {
        let (k, f) = (rows.num_aux, rows.num_features);
        let mut terms = vec![0.0; k + 2];
        (0..rows.len())
            .map(|i| {
                self.combine(
                    rows.primary[i],
                    &rows.aux[i * k..(i + 1) * k],
                    &rows.features[i * f..(i + 1) * f],
                    &mut terms,
                )
            })
            .collect()
    }

    /// `∇_φ Σ_k weights_k r_φ(row_k)` from precomputed rows (see [`Reward::param_vjp`]).
    pub fn rows_vjp(&self, rows: &BlendRows, weights: &[f64]) -> Result<Vec<f64>, RewardError> {
        if weights.len() != rows.len() {
            return Err(RewardError::Invalid {
                reward: "blend".into(),
                message: format!("{} weights for {} rows", weights.len(), rows.len()),
            });
        }
        let (k, f) = (rows.num_aux, rows.num_features);
        let mut grad = vec![0.0; self.params.len()];
        // The bias head's slot: ∂r/∂b_j = ψ_j when it is learned, else nothing.
        let bias_scale = if self.learn_bias { 1.0 } else { 0.0 };
        for (i, &w) in weights.iter().enumerate() {
            let psi = &rows.features[i * f..(i + 1) * f];
            // ∂r/∂w_ij = κ_i r_aux,i ψ_j; ∂r/∂b_j = ψ_j.
            let scales = rows.aux[i * k..(i + 1) * k]
                .iter()
                .map(|&a| a as f64)
                .chain(std::iter::once(bias_scale));
            for (head, scale) in grad.chunks_exact_mut(f).zip(scales) {
                for (g, &p) in head.iter_mut().zip(psi) {
                    *g += w * scale * p;
                }
            }
        }
        Ok(grad)
    }

    /// One row's reward from its primary, weighted auxiliaries and features; writes the terms
    /// `[primary, w_i κ_i r_aux,i ..., bias]`. Summed in `mix`'s order, so that at the initial
    /// parameters (w = 1 exactly, b = 0) the result equals the naive sum bit for bit.
    fn combine(&self, primary: f32, aux: &[f32], psi: &[f64], terms: &mut [f32]) -> f32 {
        let f = psi.len();
        let head = |h: usize| -> f64 {
            self.params[h * f..(h + 1) * f]
                .iter()
                .zip(psi)
                .map(|(p, x)| p * x)
                .sum()
        };
        let mut r = 0.0f32;
        r += primary;
        terms[0] = primary;
        for (i, &a) in aux.iter().enumerate() {
            let contribution = head(i) as f32 * a;
            terms[1 + i] = contribution;
            r += contribution;
        }
        let bias = head(aux.len()) as f32;
        terms[1 + aux.len()] = bias;
        r + bias
    }
}

impl StepReward for BlendReward {
    fn term_names(&self) -> &[String] {
        &self.names
    }

    fn cause_names(&self) -> &[String] {
        self.primary.cause_names()
    }

    fn evaluate(&self, signals: &[f32], terms: &mut [f32]) -> (f32, Option<usize>) {
        let (primary, cause) = with_scratch(self.primary.term_names().len(), |t: &mut [f32]| {
            self.primary.evaluate(signals, t)
        });
        with_scratch(self.aux.len(), |aux: &mut [f32]| {
            for (a, c) in aux.iter_mut().zip(&self.aux) {
                *a = c.weighted(signals).0;
            }
            with_scratch(self.features.len(), |psi: &mut [f64]| {
                self.features.write(signals, psi);
                (self.combine(primary, aux, psi, terms), cause)
            })
        })
    }
}

impl Reward for BlendReward {
    fn id(&self) -> &str {
        "blend"
    }

    fn num_signals(&self) -> usize {
        self.num_signals
    }

    fn parameters(&self) -> Vec<f64> {
        self.params.clone()
    }

    fn parameter_names(&self) -> Vec<String> {
        let f = self.features.len();
        self.names[1..]
            .iter()
            .flat_map(|head| {
                (0..f).map(move |j| {
                    if f == 1 {
                        head.clone()
                    } else {
                        format!("{head}.{j}")
                    }
                })
            })
            .collect()
    }

    fn set_parameters(&mut self, params: &[f64]) -> Result<(), RewardError> {
        if params.len() != self.params.len() || !params.iter().all(|p| p.is_finite()) {
            return Err(RewardError::Invalid {
                reward: "blend".into(),
                message: format!(
                    "expects {} finite parameters, got {}",
                    self.params.len(),
                    params.len()
                ),
            });
        }
        self.params.copy_from_slice(params);
        Ok(())
    }

    fn param_vjp(&self, signals: &[f32], weights: &[f64]) -> Result<Vec<f64>, RewardError> {
        check_rows("blend", self.num_signals, signals, weights.len())?;
        self.rows_vjp(&self.rows(signals)?, weights)
    }
}
