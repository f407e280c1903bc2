//! PEBBLE-style preference learning as a trainer [`IterationHook`]: [`ParlHook`].
//!
//! In `after_collect` of iteration i (the rollout is fresh, on-policy):
//! 1. when `i % session_every == 0` (so at iteration 0 first) and the budget `max_queries` is
//!    not spent, a feedback session: cut the rollout into segments, select query pairs (the
//!    first session uniformly, as B-Pref does, since an untrained ensemble's disagreement is
//!    noise; then `selection`), label them with the synthetic teacher, add them to the buffer
//!    (a held-out share aside) and train the ensemble on the buffer's training pairs;
//! 2. with `method = "aparl"`, after that training, the A-PARL correction on the session's
//!    pairs ([`crate::parl::aparl`]); `pebble` is the same run without it;
//! 3. every iteration, relabel `rollout.rewards` with the ensemble mean r_ν of the stored
//!    signals. The env-side `[reward]` stays the true reward: it ends episodes, scores
//!    `charts/episodic_return` and `eval.json`, and is what the teacher sees.
//!
//! With `unsupervised_iterations = K > 0`, PEBBLE's unsupervised pre-training comes first:
//! iterations 0..K relabel the rollout with the k-NN state-entropy reward
//! ([`crate::parl::unsupervised`]) and make no query; the first session is at iteration K, then
//! every `session_every` (the session schedule above shifted by K).
//!
//! The reward model is created at the first session, its fixed input normalization taken from
//! that rollout. Everything that evolves (buffer, model weights and Adam moments, the model's,
//! the teacher's and the query RNGs, the last session's diagnostics, the phase's running
//! statistics) is saved in the trainer's
//! checkpoint, so a killed run resumes exactly, queries included.

use carrot_agents::error::Result as AgentResult;
use carrot_agents::{
    AgentError, Collected, CorrectionScale, HookOutput, IterationHook, IterationMetrics,
    PreferenceConfig, PreferenceMethod, TrainConfig, Trainer,
};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::error::{BilevelError, Result};
use crate::neumann::norm;
use crate::neumann::NeumannSettings;
use crate::parl::aparl::{apply_correction, term1_gradient, CorrectionReport, CorrectionSettings};
use crate::parl::buffer::{PreferenceBuffer, PreferencePair};
use crate::parl::config::{resolve_inputs, Selection};
use crate::parl::model::{pearson, Normalization, RewardModel, RewardModelState};
use crate::parl::query::{select_pairs, QueryPlan};
use crate::parl::segments::{RolloutView, SegmentPool};
use crate::parl::teacher::Teacher;
use crate::parl::true_reward::signals_read;
use crate::parl::unsupervised::StateEntropy;

/// Offsets of the hook's RNG streams from the run seed (distinct from the trainer's).
const MODEL_SEED: u64 = 0x9a71_0001;
const TEACHER_SEED: u64 = 0x9a71_0002;
const QUERY_SEED: u64 = 0x9a71_0003;
/// The correction's series stops when a term exceeds this multiple of ‖u‖ (as BARFI's guard).
const CORRECTION_GUARD: f64 = 10.0;

fn parl_error(e: impl std::fmt::Display) -> AgentError {
    AgentError::Outer(e.to_string())
}

/// What the checkpoint holds (diagnostics as `Option`: JSON has no NaN).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SavedState {
    buffer: PreferenceBuffer,
    teacher: Teacher,
    query_rng: Pcg64Mcg,
    model: Option<RewardModelState>,
    heldout_accuracy: Option<f64>,
    model_loss: Option<f64>,
    /// Absent without the unsupervised phase (checkpoints as before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unsupervised: Option<StateEntropy>,
}

/// PEBBLE-style alternation driving a [`Trainer`].
pub struct ParlHook {
    config: PreferenceConfig,
    signal_names: Vec<String>,
    input_indices: Vec<usize>,
    model_seed: u64,
    model: Option<RewardModel>,
    buffer: PreferenceBuffer,
    teacher: Teacher,
    query_rng: Pcg64Mcg,
    heldout_accuracy: f64,
    model_loss: f64,
    /// What the latest session's training did: ‖Δν‖, and ‖term 1‖ before it (A-PARL only).
    session_step: SessionStep,
    /// The unsupervised phase's reward (`None` when `unsupervised_iterations = 0`).
    state_entropy: Option<StateEntropy>,
}

/// The latest session's Bradley–Terry training, as the A-PARL gain needs it.
#[derive(Clone, Copy, Debug)]
struct SessionStep {
    displacement: f64,
    term1_norm_before: f64,
}

impl Default for SessionStep {
    fn default() -> Self {
        SessionStep {
            displacement: f64::NAN,
            term1_norm_before: f64::NAN,
        }
    }
}

impl ParlHook {
    /// Checks `preference` against the env's signals and the true reward's own (an input the
    /// true reward reads is a one-line error naming it).
    pub fn new(config: &TrainConfig, preference: &PreferenceConfig) -> Result<Self> {
        let env = config.env.build().map_err(AgentError::from)?;
        let spec = env.signal_spec();
        let signal_names: Vec<String> = spec.names().map(String::from).collect();
        let reward = config.reward.build(spec).map_err(AgentError::from)?;
        let deny = signals_read(reward.as_ref(), &signal_names);
        let input_indices = resolve_inputs(&preference.inputs, &signal_names, &deny)
            .map_err(|e| BilevelError::config("preference.inputs", e.to_string()))?;
        let seed = config.seed;
        Ok(ParlHook {
            config: preference.clone(),
            signal_names,
            input_indices,
            model_seed: seed ^ MODEL_SEED,
            model: None,
            buffer: PreferenceBuffer::new(preference.segment_length, preference.inputs.len()),
            teacher: Teacher::new(preference.teacher.clone(), seed ^ TEACHER_SEED),
            query_rng: Pcg64Mcg::seed_from_u64(seed ^ QUERY_SEED),
            heldout_accuracy: f64::NAN,
            model_loss: f64::NAN,
            session_step: SessionStep::default(),
            state_entropy: (preference.unsupervised_iterations > 0)
                .then(|| StateEntropy::new(preference.inputs.len(), preference.unsupervised_k)),
        })
    }

    /// The reward model (after the first session).
    pub fn model(&self) -> Option<&RewardModel> {
        self.model.as_ref()
    }

    pub fn buffer(&self) -> &PreferenceBuffer {
        &self.buffer
    }

    /// One feedback session on the fresh rollout `view`; returns its labelled pairs.
    fn session(&mut self, view: &RolloutView) -> Result<Vec<PreferencePair>> {
        let cfg = &self.config;
        if self.model.is_none() {
            let rows = select_columns(view.signals, view.num_signals, &self.input_indices);
            let norm = Normalization::from_rows(&rows, self.input_indices.len());
            let model = RewardModel::new(
                &cfg.model,
                &cfg.inputs,
                &self.signal_names,
                &[],
                norm,
                self.model_seed,
            )
            .map_err(parl_error)?;
            self.model = Some(model);
        }
        let model = self.model.as_mut().expect("created above");
        let remaining = cfg.max_queries.saturating_sub(self.buffer.len());
        if remaining == 0 {
            return Ok(Vec::new());
        }
        let plan = QueryPlan {
            count: cfg.queries_per_session.min(remaining),
            selection: if self.buffer.is_empty() {
                Selection::Uniform
            } else {
                cfg.selection
            },
            candidates_factor: cfg.candidates_factor,
        };
        let pool = SegmentPool::new(view, cfg.segment_length).map_err(parl_error)?;
        let pairs = select_pairs(
            &pool,
            view,
            &self.input_indices,
            plan,
            Some(model),
            &mut self.query_rng,
        )
        .map_err(parl_error)?;
        let scale = teacher_scale(view.env_rewards, cfg.segment_length);
        let labelled: Vec<PreferencePair> = pairs
            .into_iter()
            .filter_map(|(seg0, seg1)| {
                let label = self.teacher.label(&seg0, &seg1, scale)?;
                Some(PreferencePair { seg0, seg1, label })
            })
            .collect();
        self.buffer
            .add_session(labelled.clone(), cfg.heldout_fraction, &mut self.query_rng)
            .map_err(parl_error)?;
        let before = model.parameters_f64();
        self.session_step.term1_norm_before = if cfg.method == PreferenceMethod::Aparl {
            norm(&term1_gradient(
                model,
                &labelled,
                view.signals,
                view.num_signals,
            )?)
        } else {
            f64::NAN
        };
        if !self.buffer.train.is_empty() {
            self.model_loss = model
                .train(&self.buffer.train)
                .map_err(parl_error)?
                .last_loss;
        }
        self.heldout_accuracy = model.accuracy(&self.buffer.heldout).map_err(parl_error)?;
        let moved: Vec<f64> = model
            .parameters_f64()
            .iter()
            .zip(&before)
            .map(|(a, b)| a - b)
            .collect();
        self.session_step.displacement = norm(&moved);
        Ok(labelled)
    }

    /// A-PARL's correction on the session's pairs (after term-1 training).
    fn correct(
        &mut self,
        pairs: &[PreferencePair],
        t: &Trainer,
        c: &Collected,
    ) -> Result<CorrectionReport> {
        let gain = match self.config.correction_scale {
            CorrectionScale::Fixed => 1.0,
            CorrectionScale::Term1 => {
                let s = self.session_step;
                if s.term1_norm_before > 0.0 {
                    s.displacement / s.term1_norm_before
                } else {
                    0.0
                }
            }
        };
        let settings = CorrectionSettings {
            step: self.config.correction_step * gain,
            neumann: NeumannSettings {
                terms: self.config.correction_terms,
                alpha: self.config.correction_alpha,
                guard: CORRECTION_GUARD,
            },
        };
        let model = self.model.as_mut().expect("a session made the model");
        apply_correction(model, pairs, t, c, settings)
    }
}

impl ParlHook {
    /// An iteration of the unsupervised phase: the learner's rewards are the state-entropy
    /// rewards of the rollout's input rows; no query, no reward model. The metrics are the
    /// session loop's keys (NaN where nothing happened) plus the phase's.
    fn pretrain(&mut self, t: &mut Trainer) -> AgentResult<HookOutput> {
        let ro = t.rollout();
        let rows = select_columns(&ro.signals, ro.num_signals, &self.input_indices);
        let entropy = self
            .state_entropy
            .as_mut()
            .expect("created when unsupervised_iterations > 0");
        let intrinsic = entropy.rewards(&rows);
        t.rollout_mut().rewards.copy_from_slice(&intrinsic.rewards);
        let mut metrics = IterationMetrics::default();
        metrics.push("parl/queries", self.buffer.len() as f64);
        for key in ["parl/heldout_accuracy", "parl/reward_correlation"] {
            metrics.push(key, f64::NAN);
        }
        metrics.push("parl/teacher_agreement", self.teacher.stats.agreement());
        for key in [
            "parl/model_loss",
            "parl/term1_displacement",
            "parl/correction_norm",
            "parl/correction_step",
            "parl/term1_norm",
            "parl/cos_term1_correction",
        ] {
            metrics.push(key, f64::NAN);
        }
        self.push_phase(&mut metrics, Some(intrinsic.raw_mean));
        Ok(HookOutput {
            metrics,
            ..HookOutput::default()
        })
    }

    /// With the phase configured: `parl/unsupervised` (1 during it) and
    /// `parl/intrinsic_reward_mean` (the mean of ln(1 + d_k) before the running-std division,
    /// NaN after the phase). Nothing without it, so such runs log what they always did.
    fn push_phase(&self, metrics: &mut IterationMetrics, intrinsic_mean: Option<f64>) {
        if self.state_entropy.is_some() {
            let during = intrinsic_mean.is_some();
            metrics.push("parl/unsupervised", if during { 1.0 } else { 0.0 });
            metrics.push(
                "parl/intrinsic_reward_mean",
                intrinsic_mean.unwrap_or(f64::NAN),
            );
        }
    }
}

/// The teacher's threshold scale: |mean true step reward| × L (B-Pref's mean episode return
/// × L / episode length), in f64 and row order.
fn teacher_scale(env_rewards: &[f32], segment_length: usize) -> f64 {
    let sum: f64 = env_rewards.iter().map(|&r| r as f64).sum();
    (sum / env_rewards.len().max(1) as f64).abs() * segment_length as f64
}

/// Columns `indices` of `[B, S]` rows.
fn select_columns(rows: &[f32], width: usize, indices: &[usize]) -> Vec<f32> {
    rows.chunks_exact(width)
        .flat_map(|row| indices.iter().map(move |&i| row[i]))
        .collect()
}

impl IterationHook for ParlHook {
    fn after_collect(&mut self, t: &mut Trainer, c: &Collected) -> AgentResult<HookOutput> {
        let phase = self.config.unsupervised_iterations;
        if t.iteration() < phase {
            return self.pretrain(t);
        }
        let mut correction: Option<CorrectionReport> = None;
        let mut displacement = f64::NAN;
        if (t.iteration() - phase).is_multiple_of(self.config.session_every) {
            let ro = t.rollout();
            let view = RolloutView::from_buffer(ro, &ro.env_rewards).map_err(parl_error)?;
            let pairs = self.session(&view).map_err(parl_error)?;
            if !pairs.is_empty() {
                displacement = self.session_step.displacement;
            }
            if self.config.method == PreferenceMethod::Aparl && !pairs.is_empty() {
                correction = Some(self.correct(&pairs, t, c).map_err(parl_error)?);
            }
        }
        let ro = t.rollout();
        let Some(model) = self.model.as_ref() else {
            return Err(parl_error(
                "no reward model: the run resumed from a checkpoint without preference state",
            ));
        };
        let rows = select_columns(&ro.signals, ro.num_signals, &self.input_indices);
        let relabelled = model.evaluate_batch(&rows).map_err(parl_error)?;
        let correlation = pearson(&relabelled, &ro.env_rewards);
        t.rollout_mut().rewards.copy_from_slice(&relabelled);
        let mut metrics = IterationMetrics::default();
        metrics.push("parl/queries", self.buffer.len() as f64);
        metrics.push("parl/heldout_accuracy", self.heldout_accuracy);
        metrics.push("parl/reward_correlation", correlation);
        metrics.push("parl/teacher_agreement", self.teacher.stats.agreement());
        metrics.push("parl/model_loss", self.model_loss);
        metrics.push("parl/term1_displacement", displacement);
        let nan = f64::NAN;
        let pick = |f: fn(&CorrectionReport) -> f64| correction.as_ref().map_or(nan, f);
        metrics.push("parl/correction_norm", pick(|r| r.norm));
        metrics.push("parl/correction_step", pick(|r| r.step));
        metrics.push("parl/term1_norm", pick(|r| r.term1_norm));
        metrics.push("parl/cos_term1_correction", pick(|r| r.cos_term1));
        self.push_phase(&mut metrics, None);
        Ok(HookOutput {
            metrics,
            ..HookOutput::default()
        })
    }

    fn save(&self) -> AgentResult<Option<serde_json::Value>> {
        let finite = |x: f64| x.is_finite().then_some(x);
        let state = SavedState {
            buffer: self.buffer.clone(),
            teacher: self.teacher.clone(),
            query_rng: self.query_rng.clone(),
            model: self.model.as_ref().map(RewardModel::state),
            heldout_accuracy: finite(self.heldout_accuracy),
            model_loss: finite(self.model_loss),
            unsupervised: self.state_entropy.clone(),
        };
        // As a JSON string inside the checkpoint's value: the RNG states are u128, which
        // `serde_json::Value` numbers cannot hold.
        let text = serde_json::to_string(&state).map_err(parl_error)?;
        Ok(Some(serde_json::Value::String(text)))
    }

    fn restore(&mut self, state: Option<serde_json::Value>) -> AgentResult<()> {
        let Some(serde_json::Value::String(text)) = state else {
            return Err(parl_error(
                "the checkpoint has no preference state (not a PARL run)",
            ));
        };
        let state: SavedState = serde_json::from_str(&text).map_err(parl_error)?;
        self.model = state
            .model
            .map(RewardModel::from_state)
            .transpose()
            .map_err(parl_error)?;
        self.buffer = state.buffer;
        self.teacher = state.teacher;
        self.query_rng = state.query_rng;
        self.heldout_accuracy = state.heldout_accuracy.unwrap_or(f64::NAN);
        self.model_loss = state.model_loss.unwrap_or(f64::NAN);
        if state.unsupervised.is_some() {
            self.state_entropy = state.unsupervised;
        }
        Ok(())
    }
}
