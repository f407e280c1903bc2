//! Rewards written in a config file: one signal (`signal`, the control tasks' classic rewards),
//! weighted sums (`sum`) and products (`product`) of signals; and the name resolution they share.

use carrot_envs::{SignalSpec, StepReward};
use serde::{Deserialize, Serialize};

use crate::{Reward, RewardError};

pub(crate) fn resolve(reward: &str, spec: &SignalSpec, name: &str) -> Result<usize, RewardError> {
    spec.index_of(name)
        .map_err(|source| RewardError::MissingSignal {
            reward: reward.to_string(),
            source,
        })
}

/// Resolves a fixed list of signal names at once.
pub(crate) fn resolve_all_names<const N: usize>(
    reward: &str,
    spec: &SignalSpec,
    names: [&str; N],
) -> Result<[usize; N], RewardError> {
    let mut idx = [0; N];
    for (slot, name) in idx.iter_mut().zip(names) {
        *slot = resolve(reward, spec, name)?;
    }
    Ok(idx)
}

/// A pointwise transform of a signal, applied before its weight (`transform = "abs"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// The signal as emitted.
    #[default]
    Identity,
    /// Its absolute value, e.g. a speed from a signed velocity.
    Abs,
}

impl Transform {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Transform::Identity => x,
            Transform::Abs => x.abs(),
        }
    }

    /// The term name of `signal` under this transform (`abs_velocity` for `abs`).
    pub fn label(self, signal: &str) -> String {
        match self {
            Transform::Identity => signal.to_string(),
            Transform::Abs => format!("abs_{signal}"),
        }
    }
}

/// One signal, optionally transformed, times a scale: the control tasks' classic rewards.
#[derive(Clone, Debug)]
pub struct SignalReward {
    index: usize,
    scale: f32,
    transform: Transform,
    num_signals: usize,
    terms: Vec<String>,
}

impl SignalReward {
    pub fn new(spec: &SignalSpec, signal: &str, scale: f32) -> Result<Self, RewardError> {
        Ok(SignalReward {
            index: resolve("signal", spec, signal)?,
            scale,
            transform: Transform::Identity,
            num_signals: spec.len(),
            terms: vec![signal.to_string()],
        })
    }

    /// Applies `transform` to the signal before scaling it.
    pub fn with_transform(mut self, transform: Transform) -> Self {
        self.terms = vec![transform.label(&self.terms[0])];
        self.transform = transform;
        self
    }
}

impl StepReward for SignalReward {
    fn term_names(&self) -> &[String] {
        &self.terms
    }
    fn cause_names(&self) -> &[String] {
        &[]
    }
    fn evaluate(&self, signals: &[f32], terms: &mut [f32]) -> (f32, Option<usize>) {
        let r = self.scale * self.transform.apply(signals[self.index]);
        terms[0] = r;
        (r, None)
    }
}

impl Reward for SignalReward {
    fn id(&self) -> &str {
        "signal"
    }
    fn num_signals(&self) -> usize {
        self.num_signals
    }
}

/// `weight * transform(signal)` as written in a config file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedSignal {
    pub signal: String,
    #[serde(default = "one")]
    pub weight: f32,
    #[serde(default)]
    pub transform: Transform,
}

impl WeightedSignal {
    /// `weight * signal`, untransformed.
    pub fn new(signal: &str, weight: f32) -> Self {
        WeightedSignal {
            signal: signal.to_string(),
            weight,
            transform: Transform::Identity,
        }
    }

    /// The term name this entry logs under.
    pub fn label(&self) -> String {
        self.transform.label(&self.signal)
    }
}

/// A [`WeightedSignal`] resolved against a spec.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResolvedSignal {
    index: usize,
    weight: f32,
    transform: Transform,
}

impl ResolvedSignal {
    /// `weight * transform(signal)` on one row.
    pub(crate) fn value(&self, signals: &[f32]) -> f32 {
        self.weight * self.transform.apply(signals[self.index])
    }
}

fn one() -> f32 {
    1.0
}

pub(crate) fn resolve_all(
    reward: &str,
    spec: &SignalSpec,
    terms: &[WeightedSignal],
) -> Result<Vec<ResolvedSignal>, RewardError> {
    if terms.is_empty() {
        return Err(RewardError::Invalid {
            reward: reward.into(),
            message: "needs at least one term".into(),
        });
    }
    terms
        .iter()
        .map(|t| {
            Ok(ResolvedSignal {
                index: resolve(reward, spec, &t.signal)?,
                weight: t.weight,
                transform: t.transform,
            })
        })
        .collect()
}

/// `sum_i weight_i * signal_i`, each product logged as a term.
#[derive(Clone, Debug)]
pub struct SumReward {
    terms: Vec<ResolvedSignal>,
    names: Vec<String>,
    num_signals: usize,
}

impl SumReward {
    pub fn new(spec: &SignalSpec, terms: &[WeightedSignal]) -> Result<Self, RewardError> {
        Ok(SumReward {
            terms: resolve_all("sum", spec, terms)?,
            names: terms.iter().map(WeightedSignal::label).collect(),
            num_signals: spec.len(),
        })
    }
}

impl StepReward for SumReward {
    fn term_names(&self) -> &[String] {
        &self.names
    }
    fn cause_names(&self) -> &[String] {
        &[]
    }
    fn evaluate(&self, signals: &[f32], out: &mut [f32]) -> (f32, Option<usize>) {
        let mut r = 0.0;
        for (o, t) in out.iter_mut().zip(&self.terms) {
            *o = t.value(signals);
            r += *o;
        }
        (r, None)
    }
}

impl Reward for SumReward {
    fn id(&self) -> &str {
        "sum"
    }
    fn num_signals(&self) -> usize {
        self.num_signals
    }
}

/// `scale * prod_i (weight_i * signal_i)`, each factor logged as a term.
#[derive(Clone, Debug)]
pub struct ProductReward {
    factors: Vec<ResolvedSignal>,
    scale: f32,
    names: Vec<String>,
    num_signals: usize,
}

impl ProductReward {
    pub fn new(
        spec: &SignalSpec,
        factors: &[WeightedSignal],
        scale: f32,
    ) -> Result<Self, RewardError> {
        Ok(ProductReward {
            factors: resolve_all("product", spec, factors)?,
            scale,
            names: factors.iter().map(WeightedSignal::label).collect(),
            num_signals: spec.len(),
        })
    }
}

impl StepReward for ProductReward {
    fn term_names(&self) -> &[String] {
        &self.names
    }
    fn cause_names(&self) -> &[String] {
        &[]
    }
    fn evaluate(&self, signals: &[f32], out: &mut [f32]) -> (f32, Option<usize>) {
        let mut r = self.scale;
        for (o, t) in out.iter_mut().zip(&self.factors) {
            *o = t.value(signals);
            r *= *o;
        }
        (r, None)
    }
}

impl Reward for ProductReward {
    fn id(&self) -> &str {
        "product"
    }
    fn num_signals(&self) -> usize {
        self.num_signals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SignalSpec {
        SignalSpec::new(
            "toy",
            &[
                ("a", "1", "first"),
                ("b", "1", "second"),
                ("c", "1", "third"),
            ],
        )
    }

    fn ws(signal: &str, weight: f32) -> WeightedSignal {
        WeightedSignal::new(signal, weight)
    }

    #[test]
    fn sum_and_product_follow_their_formulas() {
        let signals = [2.0, -3.0, 0.5];
        let sum = SumReward::new(&spec(), &[ws("a", 0.5), ws("c", -2.0)]).unwrap();
        let mut terms = [0.0; 2];
        assert_eq!(sum.evaluate(&signals, &mut terms), (0.0, None));
        assert_eq!(terms, [1.0, -1.0]);
        let prod = ProductReward::new(&spec(), &[ws("a", 1.0), ws("b", 1.0)], 0.5).unwrap();
        assert_eq!(prod.evaluate(&signals, &mut terms).0, -3.0);
    }

    #[test]
    fn batch_recomputation_matches_step_path() {
        let sum = SumReward::new(&spec(), &[ws("a", 1.0), ws("b", 2.0)]).unwrap();
        let batch = sum.evaluate_batch(&[1.0, 1.0, 0.0, 0.0, -1.0, 9.0]);
        assert_eq!(batch.rewards, vec![3.0, -2.0]);
        assert_eq!(batch.terms, vec![1.0, 2.0, 0.0, -2.0]);
        assert_eq!(batch.causes, vec![-1, -1]);
    }

    #[test]
    fn missing_signal_is_a_named_error() {
        let err = SignalReward::new(&spec(), "speed", 1.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("'speed'") && err.contains("toy"), "{err}");
    }
}
