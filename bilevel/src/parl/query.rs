//! Query selection: which segment pairs of the current rollout go to the teacher.
//!
//! - `uniform`: `m` pairs of distinct windows drawn uniformly from the rollout's pool;
//! - `disagreement`: `candidates_factor · m` uniform candidate pairs, of which the `m` with the
//!   largest std across ensemble members of P(σ1 ≻ σ0) are kept (ties: earlier candidate
//!   first). With one member every std is 0 and this keeps the first `m` candidates.

use rand::Rng;

use crate::parl::config::Selection;
use crate::parl::model::RewardModel;
use crate::parl::segments::{RolloutView, Segment, SegmentPool};
use crate::parl::{ParlError, Result};

/// How many pairs to pick, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryPlan {
    pub count: usize,
    pub selection: Selection,
    pub candidates_factor: usize,
}

/// Picks `plan.count` query pairs from `pool` (none if the pool is empty); `inputs` are the
/// model's signal indices. Disagreement needs the model.
pub fn select_pairs<R: Rng + ?Sized>(
    pool: &SegmentPool,
    view: &RolloutView,
    inputs: &[usize],
    plan: QueryPlan,
    model: Option<&RewardModel>,
    rng: &mut R,
) -> Result<Vec<(Segment, Segment)>> {
    let QueryPlan {
        count,
        selection,
        candidates_factor,
    } = plan;
    let scorer = match (selection, model) {
        (Selection::Uniform, _) => None,
        (Selection::Disagreement, Some(m)) => Some(m),
        (Selection::Disagreement, None) => {
            return Err(ParlError::Invalid(
                "disagreement selection needs the reward model".into(),
            ))
        }
    };
    let draw = match scorer {
        None => count,
        Some(_) => count * candidates_factor.max(1),
    };
    let candidates: Vec<(Segment, Segment)> = pool
        .sample_pairs(rng, draw)
        .into_iter()
        .map(|(a, b)| (pool.extract(view, a, inputs), pool.extract(view, b, inputs)))
        .collect();
    let Some(model) = scorer else {
        return Ok(candidates);
    };
    let refs: Vec<(&Segment, &Segment)> = candidates.iter().map(|(a, b)| (a, b)).collect();
    let probs = model.pair_probabilities(&refs)?;
    let keep = top_by_disagreement(&disagreement(&probs), count);
    let mut slots: Vec<Option<(Segment, Segment)>> = candidates.into_iter().map(Some).collect();
    Ok(keep.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// Population std across members of each pair's probability: `probs` is `[E][pairs]`.
pub fn disagreement(probs: &[Vec<f64>]) -> Vec<f64> {
    let e = probs.len() as f64;
    let n = probs.first().map_or(0, Vec::len);
    (0..n)
        .map(|k| {
            let mean = probs.iter().map(|p| p[k]).sum::<f64>() / e;
            (probs.iter().map(|p| (p[k] - mean).powi(2)).sum::<f64>() / e).sqrt()
        })
        .collect()
}

/// Indices of the `count` largest scores, largest first; ties keep the earlier index.
pub fn top_by_disagreement(scores: &[f64], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(count);
    order
}
