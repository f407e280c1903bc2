//! The `[preference]` section of a preference-learning run (PARL / PEBBLE),
//! `TrainConfig.preference`: pure serde data with `deny_unknown_fields`, validated by
//! [`PreferenceConfig::validate`] with one-line errors naming the key (`preference.model.lr`).
//! The reward model, teacher and session loop live in `carrot-bilevel` (`parl`); the config
//! lives here so that one config type goes through the CLI, sweeps, resume and `config.toml`.
//!
//! ```toml
//! [preference]
//! method = "pebble"          # oracle | pebble | aparl
//! inputs = ["theta", "theta_dot", "torque"]
//! selection = "disagreement" # or "uniform"
//! queries_per_session = 25
//! session_every = 10
//! max_queries = 200
//! unsupervised_iterations = 10  # PEBBLE's state-entropy pre-training first (0 = off)
//! [preference.teacher]
//! mistake = 0.1
//! [preference.model]
//! hidden = [64, 64]
//! ```

use serde::{Deserialize, Serialize};

use crate::config::PpoConfig;
use crate::error::{AgentError, Result};

/// How query pairs are chosen among the current rollout's segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    Uniform,
    /// Top-m by the ensemble members' std of P(σ1 ≻ σ0) among `candidates_factor·m` pairs.
    Disagreement,
}

/// `oracle`: plain PPO on the run's own `[reward]` (the ceiling, through the same dispatch).
/// `pebble`: the reward model fitted by the Bradley–Terry term only (alternation). `aparl`:
/// plus the hypergradient correction, applied with step `correction_step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreferenceMethod {
    Oracle,
    Pebble,
    Aparl,
}

/// How `correction_step` scales the A-PARL correction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionScale {
    /// ν ← ν + correction_step · correction.
    Fixed,
    /// The correction gets the gain that term 1 got in the same session: the session's
    /// Bradley–Terry training moved ν by ‖Δν₁‖ from a term-1 gradient of norm ‖g₁‖ (on the
    /// session's pairs, before training), so ν ← ν + correction_step · (‖Δν₁‖/‖g₁‖) ·
    /// correction. With `correction_step = 1` the two terms are weighted as in the paper's
    /// single update ν ← ν + η (term 1 + correction).
    Term1,
}

/// The B-Pref teacher. `beta` omitted = ∞ (deterministic labels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeacherConfig {
    pub beta: Option<f64>,
    pub mistake: f64,
    pub equal: f64,
    pub skip: f64,
    pub gamma: f64,
}

impl Default for TeacherConfig {
    fn default() -> Self {
        TeacherConfig {
            beta: None,
            mistake: 0.0,
            equal: 0.0,
            skip: 0.0,
            gamma: 1.0,
        }
    }
}

/// The reward-model ensemble and its training per session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub members: usize,
    /// Hidden layer widths (LeakyReLU); empty = a linear model with the tanh output.
    pub hidden: Vec<usize>,
    pub lr: f64,
    /// Adam steps per feedback session.
    pub steps: usize,
    /// Pairs per mini-batch (per member).
    pub batch: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            members: 3,
            hidden: vec![64, 64],
            lr: 3e-4,
            steps: 100,
            batch: 64,
        }
    }
}

/// Preference-based reward learning: the learner sees the reward model r_ν; the run's own
/// `[reward]` is the teacher's ground truth, ends episodes and scores the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreferenceConfig {
    pub method: PreferenceMethod,
    /// Signals the reward model reads; must not include the true reward's own signals.
    pub inputs: Vec<String>,
    pub segment_length: usize,
    pub queries_per_session: usize,
    /// PPO iterations between feedback sessions (the first session is at iteration 0).
    pub session_every: usize,
    /// The query budget: labelled pairs over the whole run.
    pub max_queries: usize,
    pub selection: Selection,
    pub candidates_factor: usize,
    /// Share of each session's labelled pairs kept out of training for held-out accuracy.
    pub heldout_fraction: f64,
    pub teacher: TeacherConfig,
    pub model: ModelConfig,
    /// Step size η_c of the A-PARL correction (ignored by `pebble`).
    pub correction_step: f64,
    /// Whether `correction_step` is absolute or relative to term 1's gain.
    pub correction_scale: CorrectionScale,
    /// Terms of the correction's Neumann series after the first (0: first order).
    pub correction_terms: usize,
    /// The series' step α.
    pub correction_alpha: f64,
    /// PEBBLE's unsupervised pre-training: the first K PPO iterations train on the k-NN
    /// state-entropy reward over `inputs` and make no query; the first feedback session is at
    /// iteration K, then every `session_every`. 0 = off. Ignored by `oracle`.
    pub unsupervised_iterations: usize,
    /// k of the k-th nearest neighbour in the state-entropy estimate (B-Pref: 5).
    pub unsupervised_k: usize,
}

impl Default for PreferenceConfig {
    fn default() -> Self {
        PreferenceConfig {
            method: PreferenceMethod::Pebble,
            inputs: Vec::new(),
            segment_length: 50,
            queries_per_session: 25,
            session_every: 10,
            max_queries: 200,
            selection: Selection::Disagreement,
            candidates_factor: 10,
            heldout_fraction: 0.1,
            teacher: TeacherConfig::default(),
            model: ModelConfig::default(),
            correction_step: 1e-3,
            correction_scale: CorrectionScale::Fixed,
            correction_terms: 5,
            correction_alpha: 1e-3,
            unsupervised_iterations: 0,
            unsupervised_k: 5,
        }
    }
}

fn config_error(key: &str, message: impl Into<String>) -> AgentError {
    AgentError::config(&format!("preference.{key}"), message)
}

impl PreferenceConfig {
    /// Checks every value; the first problem is reported with its key.
    pub fn validate(&self) -> Result<()> {
        positive("segment_length", self.segment_length)?;
        positive("queries_per_session", self.queries_per_session)?;
        positive("session_every", self.session_every)?;
        positive("max_queries", self.max_queries)?;
        positive("candidates_factor", self.candidates_factor)?;
        positive("unsupervised_k", self.unsupervised_k)?;
        if self.inputs.is_empty() {
            return Err(config_error("inputs", "list at least one input signal"));
        }
        for (i, name) in self.inputs.iter().enumerate() {
            if self.inputs[..i].contains(name) {
                return Err(config_error("inputs", format!("`{name}` is listed twice")));
            }
        }
        in_range("heldout_fraction", self.heldout_fraction, 0.0, 0.5)?;
        finite_non_negative("correction_step", self.correction_step)?;
        if !(self.correction_alpha.is_finite() && self.correction_alpha > 0.0) {
            return Err(config_error(
                "correction_alpha",
                format!("must be positive, got {}", self.correction_alpha),
            ));
        }
        self.teacher.validate()?;
        self.model.validate()
    }

    /// [`Self::validate`] plus the PPO settings the method needs.
    pub fn validate_with(&self, ppo: &PpoConfig) -> Result<()> {
        self.validate()?;
        // The oracle accepts the key (and ignores it) so that a sweep's method axis can share
        // one base config; the bound below still applies to every method.
        let iterations = ppo.num_iterations();
        if self.unsupervised_iterations > 0 && self.unsupervised_iterations >= iterations {
            return Err(config_error(
                "unsupervised_iterations",
                format!(
                    "must be less than the run's {iterations} PPO iterations (a feedback session must follow the phase), got {}",
                    self.unsupervised_iterations
                ),
            ));
        }
        if self.method == PreferenceMethod::Aparl {
            if ppo.normalize_reward {
                return Err(AgentError::config(
                    "ppo.normalize_reward",
                    "must be false with method = \"aparl\" (the online scaler breaks the relabel's linearity)",
                ));
            }
            if !ppo.critic_signals.is_empty() {
                return Err(AgentError::config(
                    "ppo.critic_signals",
                    "must be empty with method = \"aparl\" (its f64 actor reads the stored rows as observations)",
                ));
            }
            if ppo.shared_trunk {
                return Err(AgentError::config(
                    "ppo.shared_trunk",
                    "must be false with method = \"aparl\" (θ is the actor alone)",
                ));
            }
        }
        Ok(())
    }
}

impl TeacherConfig {
    pub fn validate(&self) -> Result<()> {
        if let Some(beta) = self.beta {
            if !(beta.is_finite() && beta > 0.0) {
                return Err(config_error(
                    "teacher.beta",
                    format!("must be a positive finite number (omit it for a deterministic teacher), got {beta}"),
                ));
            }
        }
        in_range("teacher.mistake", self.mistake, 0.0, 1.0)?;
        finite_non_negative("teacher.equal", self.equal)?;
        finite_non_negative("teacher.skip", self.skip)?;
        if !(self.gamma > 0.0 && self.gamma <= 1.0) {
            return Err(config_error(
                "teacher.gamma",
                format!("must be in (0, 1], got {}", self.gamma),
            ));
        }
        Ok(())
    }
}

impl ModelConfig {
    pub fn validate(&self) -> Result<()> {
        positive("model.members", self.members)?;
        positive("model.steps", self.steps)?;
        positive("model.batch", self.batch)?;
        if self.hidden.contains(&0) {
            return Err(config_error(
                "model.hidden",
                "layer widths must be at least 1",
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(config_error(
                "model.lr",
                format!("must be positive, got {}", self.lr),
            ));
        }
        Ok(())
    }
}

fn positive(key: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(config_error(key, "must be at least 1"));
    }
    Ok(())
}

fn finite_non_negative(key: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(config_error(
            key,
            format!("must be finite and >= 0, got {value}"),
        ));
    }
    Ok(())
}

fn in_range(key: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if !(value >= lo && value <= hi) {
        return Err(config_error(
            key,
            format!("must be in [{lo}, {hi}], got {value}"),
        ));
    }
    Ok(())
}
