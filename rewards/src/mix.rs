//! `mix`: a weighted sum of whole rewards, or of single named terms of rewards, e.g. CaRL plus
//! Roach's speed term. It is the naive-sum baseline of reward blending, and its entries
//! ([`RewardTerm`]) are also how a learned blend names its primary and auxiliary rewards.

use carrot_envs::{SignalSpec, StepReward};
use serde::{Deserialize, Serialize};

use crate::{Reward, RewardConfig, RewardError};

/// One entry of a mix: `weight * reward`, or `weight * reward.term` when `term` names one of
/// the reward's logged terms.
///
/// ```toml
/// { reward = { id = "roach" }, term = "speed", weight = 0.5 }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardTerm {
    #[serde(
        deserialize_with = "crate::deserialize_reward_config",
        serialize_with = "crate::serialize_reward_config"
    )]
    pub reward: RewardConfig,
    /// One of the reward's term names; the whole reward when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(default = "one")]
    pub weight: f32,
    /// The label this entry logs under; by default the term or the reward's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn one() -> f32 {
    1.0
}

impl RewardTerm {
    /// The whole of `reward`, weighted.
    pub fn whole(reward: RewardConfig, weight: f32) -> Self {
        RewardTerm {
            reward,
            term: None,
            weight,
            name: None,
        }
    }

    /// The term `term` of `reward`, weighted.
    pub fn of_term(reward: RewardConfig, term: &str, weight: f32) -> Self {
        RewardTerm {
            reward,
            term: Some(term.to_string()),
            weight,
            name: None,
        }
    }
}

/// Scratch buffers up to this length live on the stack (the per-step path must not allocate).
const STACK_SCRATCH: usize = 32;

/// Runs `f` on a zeroed scratch slice of length `n`, on the stack when it fits.
pub(crate) fn with_scratch<T: Copy + Default, R>(n: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let mut stack = [T::default(); STACK_SCRATCH];
    if n <= STACK_SCRATCH {
        f(&mut stack[..n])
    } else {
        f(&mut vec![T::default(); n])
    }
}

/// A built [`RewardTerm`]: the inner reward, the selected term's index and the weight.
pub(crate) struct Component {
    reward: Box<dyn Reward>,
    term: Option<usize>,
    pub(crate) weight: f32,
    pub(crate) name: String,
}

impl Component {
    /// Builds `entry` against `spec`; `owner` names the enclosing reward in errors.
    pub(crate) fn build(
        owner: &str,
        spec: &SignalSpec,
        entry: &RewardTerm,
    ) -> Result<Self, RewardError> {
        let reward = entry.reward.build(spec)?;
        let names = reward.term_names();
        let term = match &entry.term {
            None => None,
            Some(wanted) => Some(names.iter().position(|n| n == wanted).ok_or_else(|| {
                RewardError::Invalid {
                    reward: owner.to_string(),
                    message: format!(
                        "reward '{}' has no term '{wanted}' (its terms: {})",
                        reward.id(),
                        names.join(", ")
                    ),
                }
            })?),
        };
        if !entry.weight.is_finite() {
            return Err(RewardError::Invalid {
                reward: owner.to_string(),
                message: format!("weight of '{}' must be finite", reward.id()),
            });
        }
        let name = match (&entry.name, &entry.term) {
            (Some(name), _) => name.clone(),
            (None, Some(term)) => format!("{}_{term}", reward.id()),
            // A one-term reward (`signal`, `agreement`) is best known by its term.
            (None, None) if names.len() == 1 => names[0].clone(),
            (None, None) => reward.id().to_string(),
        };
        Ok(Component {
            reward,
            term,
            weight: entry.weight,
            name,
        })
    }

    /// The unweighted value (the whole reward or the selected term) and the inner reward's
    /// termination cause, an index into [`Component::cause_names`].
    pub(crate) fn raw(&self, signals: &[f32]) -> (f32, Option<usize>) {
        with_scratch(self.reward.term_names().len(), |terms: &mut [f32]| {
            let (r, cause) = self.reward.evaluate(signals, terms);
            (self.term.map_or(r, |i| terms[i]), cause)
        })
    }

    /// `weight * raw`, with the cause.
    pub(crate) fn weighted(&self, signals: &[f32]) -> (f32, Option<usize>) {
        let (raw, cause) = self.raw(signals);
        (self.weight * raw, cause)
    }

    pub(crate) fn cause_names(&self) -> &[String] {
        self.reward.cause_names()
    }
}

/// Makes `names` unique by appending `_<position>` to any name seen before.
pub(crate) fn dedupe(names: &mut [String]) {
    for i in 1..names.len() {
        if names[..i].contains(&names[i]) {
            names[i] = format!("{}_{i}", names[i]);
        }
    }
}

/// The union of the components' cause names (shared events such as `collision_vehicle`
/// appear once) and, per component, the map from its cause index to the union's.
fn merge_causes(components: &[Component]) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut union: Vec<String> = Vec::new();
    let maps = components
        .iter()
        .map(|c| {
            c.cause_names()
                .iter()
                .map(|name| match union.iter().position(|u| u == name) {
                    Some(i) => i,
                    None => {
                        union.push(name.clone());
                        union.len() - 1
                    }
                })
                .collect()
        })
        .collect();
    (union, maps)
}

/// `Σ_i weight_i · reward_i` (or a selected term of it), each weighted entry logged as a term.
/// The episode ends on the first entry, in order, whose reward ends it; causes shared by
/// several entries are reported once. A mix has no parameters of its own: a learned entry
/// (a `blend`) keeps its initial parameters.
pub struct MixReward {
    components: Vec<Component>,
    cause_maps: Vec<Vec<usize>>,
    names: Vec<String>,
    causes: Vec<String>,
    num_signals: usize,
}

impl MixReward {
    pub fn new(spec: &SignalSpec, terms: &[RewardTerm]) -> Result<Self, RewardError> {
        if terms.is_empty() {
            return Err(RewardError::Invalid {
                reward: "mix".into(),
                message: "needs at least one entry in `terms`".into(),
            });
        }
        let components = terms
            .iter()
            .map(|t| Component::build("mix", spec, t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut names: Vec<String> = components.iter().map(|c| c.name.clone()).collect();
        dedupe(&mut names);
        let (causes, cause_maps) = merge_causes(&components);
        Ok(MixReward {
            components,
            cause_maps,
            names,
            causes,
            num_signals: spec.len(),
        })
    }
}

impl StepReward for MixReward {
    fn term_names(&self) -> &[String] {
        &self.names
    }

    fn cause_names(&self) -> &[String] {
        &self.causes
    }

    fn evaluate(&self, signals: &[f32], terms: &mut [f32]) -> (f32, Option<usize>) {
        let mut r = 0.0;
        let mut ended = None;
        for (i, (out, c)) in terms.iter_mut().zip(&self.components).enumerate() {
            let (value, cause) = c.weighted(signals);
            *out = value;
            r += value;
            if ended.is_none() {
                ended = cause.map(|k| self.cause_maps[i][k]);
            }
        }
        (r, ended)
    }
}

impl Reward for MixReward {
    fn id(&self) -> &str {
        "mix"
    }

    fn num_signals(&self) -> usize {
        self.num_signals
    }
}
