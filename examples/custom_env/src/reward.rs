//! `goal_reach`: progress towards the goal, minus effort, plus a bonus that also ends the
//! episode when the goal is reached. It reads signals by name, so it works with any env that
//! emits `progress`, `effort` and `reached`; a missing one is a one-line error at build time.

use carrot_envs::{SignalSpec, StepReward};
use carrot_rewards::{Reward, RewardError};
use serde::{Deserialize, Serialize};

use crate::{parse_table, REWARD_ID};

/// `[reward] id = "goal_reach"` parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoalReachConfig {
    /// Reward per metre of progress towards the goal.
    pub progress_weight: f32,
    /// Penalty per unit of squared force.
    pub effort_weight: f32,
    /// Reward for reaching the goal, which ends the episode (terminated, cause `reached`).
    pub goal_bonus: f32,
}

impl Default for GoalReachConfig {
    fn default() -> Self {
        GoalReachConfig {
            progress_weight: 10.0,
            effort_weight: 0.05,
            goal_bonus: 5.0,
        }
    }
}

/// The reward, built against an env's signal layout.
pub struct GoalReach {
    config: GoalReachConfig,
    progress: usize,
    effort: usize,
    reached: usize,
    num_signals: usize,
    terms: Vec<String>,
    causes: Vec<String>,
}

/// The registry factory: the `[reward]` table (without `id`) and the env's signals to a reward.
pub(crate) fn build(
    table: &toml::Table,
    spec: &SignalSpec,
) -> Result<Box<dyn Reward>, RewardError> {
    let config = parse_table(table).map_err(|message| RewardError::Invalid {
        reward: REWARD_ID.into(),
        message,
    })?;
    Ok(Box::new(GoalReach::new(config, spec)?))
}

impl GoalReach {
    pub fn new(config: GoalReachConfig, spec: &SignalSpec) -> Result<Self, RewardError> {
        let index = |name: &str| {
            spec.index_of(name)
                .map_err(|source| RewardError::MissingSignal {
                    reward: REWARD_ID.into(),
                    source,
                })
        };
        Ok(GoalReach {
            progress: index("progress")?,
            effort: index("effort")?,
            reached: index("reached")?,
            num_signals: spec.len(),
            terms: ["progress", "effort", "goal"].map(String::from).to_vec(),
            causes: vec!["reached".into()],
            config,
        })
    }
}

impl StepReward for GoalReach {
    fn term_names(&self) -> &[String] {
        &self.terms
    }
    fn cause_names(&self) -> &[String] {
        &self.causes
    }
    fn evaluate(&self, signals: &[f32], terms: &mut [f32]) -> (f32, Option<usize>) {
        let reached = signals[self.reached] > 0.5;
        terms[0] = self.config.progress_weight * signals[self.progress];
        terms[1] = -self.config.effort_weight * signals[self.effort];
        terms[2] = if reached { self.config.goal_bonus } else { 0.0 };
        (terms.iter().sum(), reached.then_some(0))
    }
}

impl Reward for GoalReach {
    fn id(&self) -> &str {
        REWARD_ID
    }
    fn num_signals(&self) -> usize {
        self.num_signals
    }
}
