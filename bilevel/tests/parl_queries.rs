//! Query selection (uniform, disagreement) and the preference buffer.

#[path = "parl_common/mod.rs"]
mod common;

use carrot_bilevel::parl::buffer::{PreferenceBuffer, PreferencePair};
use carrot_bilevel::parl::config::{ModelConfig, Selection, TeacherConfig};
use carrot_bilevel::parl::model::{Normalization, RewardModel};
use carrot_bilevel::parl::query::{disagreement, select_pairs, top_by_disagreement, QueryPlan};
use carrot_bilevel::parl::segments::SegmentPool;
use carrot_bilevel::parl::teacher::Teacher;
use common::FakeRollout;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

fn input_names() -> Vec<String> {
    ["x0", "x1"].map(String::from).to_vec()
}

fn signal_names() -> Vec<String> {
    ["x0", "x1", "env", "episode", "step"]
        .map(String::from)
        .to_vec()
}

fn model(seed: u64) -> RewardModel {
    let cfg = ModelConfig {
        members: 4,
        hidden: vec![16],
        ..Default::default()
    };
    let norm = Normalization::identity(2);
    RewardModel::new(&cfg, &input_names(), &signal_names(), &[], norm, seed).unwrap()
}

#[test]
fn disagreement_keeps_the_pairs_the_members_disagree_on_most() {
    let roll = FakeRollout::random(4, 64, 0.02, 0.02, 1);
    let view = roll.view();
    let pool = SegmentPool::new(&view, 8).unwrap();
    let m = model(2);
    let plan = QueryPlan {
        count: 10,
        selection: Selection::Disagreement,
        candidates_factor: 8,
    };
    let inputs = m.input_indices().to_vec();
    let chosen = select_pairs(
        &pool,
        &view,
        &inputs,
        plan,
        Some(&m),
        &mut Pcg64Mcg::seed_from_u64(3),
    )
    .unwrap();
    assert_eq!(chosen.len(), 10);
    // The same draw of 80 candidates, scored independently.
    let candidates: Vec<_> = pool
        .sample_pairs(&mut Pcg64Mcg::seed_from_u64(3), 80)
        .into_iter()
        .map(|(a, b)| {
            (
                pool.extract(&view, a, &inputs),
                pool.extract(&view, b, &inputs),
            )
        })
        .collect();
    let refs: Vec<_> = candidates.iter().map(|(a, b)| (a, b)).collect();
    let stds = disagreement(&m.pair_probabilities(&refs).unwrap());
    let score = |pair: &(_, _)| stds[candidates.iter().position(|c| c == pair).unwrap()];
    let chosen_min = chosen.iter().map(score).fold(f64::INFINITY, f64::min);
    let others_max = candidates
        .iter()
        .filter(|c| !chosen.contains(c))
        .map(score)
        .fold(0.0, f64::max);
    assert!(chosen_min >= others_max, "{chosen_min} < {others_max}");
    assert!(others_max > 0.0);
    // Uniform takes the first candidates as drawn, and needs no model.
    let plan = QueryPlan {
        selection: Selection::Uniform,
        ..plan
    };
    let uniform = select_pairs(
        &pool,
        &view,
        &inputs,
        plan,
        None,
        &mut Pcg64Mcg::seed_from_u64(3),
    )
    .unwrap();
    assert_eq!(uniform, candidates[..10].to_vec());
}

#[test]
fn disagreement_std_and_ranking_match_hand_values() {
    // Two members: std of (0.2, 0.8) is 0.3, of (0.5, 0.5) is 0, of (0.1, 0.5) is 0.2.
    let probs = vec![vec![0.2, 0.5, 0.1, 0.6], vec![0.8, 0.5, 0.5, 0.2]];
    let std = disagreement(&probs);
    let want = [0.3, 0.0, 0.2, 0.2];
    for (s, w) in std.iter().zip(want) {
        assert!((s - w).abs() < 1e-12, "{std:?}");
    }
    // Ties keep the earlier candidate.
    assert_eq!(top_by_disagreement(&std, 3), vec![0, 2, 3]);
    // Disagreement without a model is an error, not a panic.
    let roll = FakeRollout::random(1, 20, 0.0, 0.0, 1);
    let pool = SegmentPool::new(&roll.view(), 5).unwrap();
    let plan = QueryPlan {
        count: 2,
        selection: Selection::Disagreement,
        candidates_factor: 2,
    };
    let err = select_pairs(
        &pool,
        &roll.view(),
        &[0],
        plan,
        None,
        &mut Pcg64Mcg::seed_from_u64(0),
    );
    assert!(err.is_err());
}

fn session(seed: u64, n: usize) -> Vec<PreferencePair> {
    let roll = FakeRollout::random(3, 50, 0.03, 0.01, seed);
    let view = roll.view();
    let pool = SegmentPool::new(&view, 6).unwrap();
    let mut teacher = Teacher::new(TeacherConfig::default(), seed);
    pool.sample_pairs(&mut Pcg64Mcg::seed_from_u64(seed), n)
        .into_iter()
        .map(|(a, b)| {
            let (seg0, seg1) = (
                pool.extract(&view, a, &[0, 1]),
                pool.extract(&view, b, &[0, 1]),
            );
            let label = teacher.label(&seg0, &seg1, 1.0).unwrap();
            PreferencePair { seg0, seg1, label }
        })
        .collect()
}

#[test]
fn buffer_holds_out_a_share_of_each_session_and_round_trips_exactly() {
    let mut buf = PreferenceBuffer::new(6, 2);
    let mut rng = Pcg64Mcg::seed_from_u64(4);
    let s1 = session(1, 25);
    let s2 = session(2, 30);
    buf.add_session(s1.clone(), 0.1, &mut rng).unwrap();
    assert_eq!((buf.train.len(), buf.heldout.len()), (23, 2));
    buf.add_session(s2.clone(), 0.1, &mut rng).unwrap();
    assert_eq!((buf.train.len(), buf.heldout.len()), (50, 5));
    // Nothing lost or duplicated, and session order is preserved in each split.
    let all: Vec<_> = s1.iter().chain(&s2).collect();
    let positions = |split: &[PreferencePair]| -> Vec<usize> {
        split
            .iter()
            .map(|p| all.iter().position(|q| *q == p).unwrap())
            .collect()
    };
    let (tr, ho) = (positions(&buf.train), positions(&buf.heldout));
    assert!(tr.windows(2).all(|w| w[0] < w[1]) && ho.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(tr.len() + ho.len(), all.len());
    // Deterministic given the RNG; a different seed holds out different pairs.
    let mut again = PreferenceBuffer::new(6, 2);
    let mut rng2 = Pcg64Mcg::seed_from_u64(4);
    again.add_session(s1.clone(), 0.1, &mut rng2).unwrap();
    again.add_session(s2, 0.1, &mut rng2).unwrap();
    assert_eq!(again, buf);
    let mut other = PreferenceBuffer::new(6, 2);
    other
        .add_session(s1, 0.1, &mut Pcg64Mcg::seed_from_u64(5))
        .unwrap();
    assert_ne!(other.heldout, buf.heldout[..2].to_vec());
    // JSON checkpoint round trip is exact (f32 values included).
    let json = serde_json::to_string(&buf).unwrap();
    let back: PreferenceBuffer = serde_json::from_str(&json).unwrap();
    assert_eq!(back, buf);
}

#[test]
fn buffer_rejects_bad_labels_and_shapes() {
    let mut buf = PreferenceBuffer::new(6, 2);
    let mut pairs = session(3, 2);
    pairs[1].label = 0.7;
    let err = buf
        .add_session(pairs, 0.0, &mut Pcg64Mcg::seed_from_u64(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("0.7"), "{err}");
    let mut wrong = PreferenceBuffer::new(6, 3);
    let err = wrong
        .add_session(session(3, 1), 0.0, &mut Pcg64Mcg::seed_from_u64(0))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not match") && !err.contains('\n'),
        "{err}"
    );
    assert!(buf.is_empty() && wrong.is_empty());
}
