//! P3: the synthetic teacher (B-Pref) against hand-computed cases and binomial intervals.

#[path = "parl_common/mod.rs"]
mod common;

use carrot_bilevel::parl::config::TeacherConfig;
use carrot_bilevel::parl::teacher::{myopic_return, sigmoid, Teacher};
use common::reward_segment;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// z for a two-sided 99% normal interval.
const Z99: f64 = 2.5758;

fn random_returns(n: usize, seed: u64, spread: f64) -> Vec<(f64, f64)> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let a = (rng.random::<f64>() * 2.0 - 1.0) * spread;
            let b = (rng.random::<f64>() * 2.0 - 1.0) * spread;
            (a, b)
        })
        .collect()
}

fn label_all(teacher: &mut Teacher, returns: &[(f64, f64)]) -> Vec<Option<f32>> {
    returns
        .iter()
        .map(|&r| teacher.label_returns(r, r, 1.0))
        .collect()
}

#[test]
fn rational_noise_free_teacher_agrees_fully() {
    let mut teacher = Teacher::new(TeacherConfig::default(), 1);
    let returns = random_returns(2000, 2, 10.0);
    for (&(r0, r1), y) in returns.iter().zip(label_all(&mut teacher, &returns)) {
        assert_eq!(y, Some(if r1 > r0 { 1.0 } else { 0.0 }));
    }
    assert_eq!(teacher.stats.hard, 2000);
    assert_eq!(teacher.stats.agreement(), 1.0);
}

#[test]
fn mistake_rate_lies_in_its_binomial_interval() {
    let (n, e) = (10_000, 0.1);
    let cfg = TeacherConfig {
        mistake: e,
        ..Default::default()
    };
    let mut teacher = Teacher::new(cfg, 7);
    let returns = random_returns(n, 3, 5.0);
    let flips = returns
        .iter()
        .zip(label_all(&mut teacher, &returns))
        .filter(|(&(r0, r1), y)| *y != Some(if r1 > r0 { 1.0 } else { 0.0 }))
        .count();
    let half = Z99 * (e * (1.0 - e) / n as f64).sqrt();
    let rate = flips as f64 / n as f64;
    assert!(
        (rate - e).abs() < half,
        "flip rate {rate} outside {e} ± {half}"
    );
    assert!((teacher.stats.agreement() - (1.0 - rate)).abs() < 1e-12);
}

#[test]
fn beta_teacher_is_calibrated_per_return_gap_bin() {
    let (n, beta) = (40_000, 0.8);
    let cfg = TeacherConfig {
        beta: Some(beta),
        ..Default::default()
    };
    let mut teacher = Teacher::new(cfg, 11);
    let returns = random_returns(n, 4, 3.0);
    let labels = label_all(&mut teacher, &returns);
    // 8 bins of ΔR over [−6, 6]; per bin the count of y = 1 has mean Σσ(βΔR) and variance
    // Σσ(1 − σ) (Poisson-binomial).
    let bins = 8;
    let mut ones = vec![0f64; bins];
    let mut mean = vec![0f64; bins];
    let mut var = vec![0f64; bins];
    for (&(r0, r1), y) in returns.iter().zip(&labels) {
        let d = r1 - r0;
        let b = (((d + 6.0) / 12.0 * bins as f64) as usize).min(bins - 1);
        let p = sigmoid(beta * d);
        mean[b] += p;
        var[b] += p * (1.0 - p);
        ones[b] += y.unwrap() as f64;
    }
    for b in 0..bins {
        let half = Z99 * var[b].sqrt();
        assert!(
            (ones[b] - mean[b]).abs() <= half.max(1.0),
            "bin {b}: {} ones, expected {} ± {half}",
            ones[b],
            mean[b]
        );
    }
    // The β-teacher is noisy, so it must disagree with the true order sometimes.
    assert!(teacher.stats.agreement() < 0.95);
}

#[test]
fn equal_and_skip_thresholds_match_hand_cases() {
    let cfg = TeacherConfig {
        equal: 0.1,
        skip: 0.5,
        ..Default::default()
    };
    let mut teacher = Teacher::new(cfg, 0);
    let scale = 10.0; // equal below |ΔR| < 1, skip below max(R0, R1) < 5
    let mut label = |r0: f64, r1: f64| teacher.label_returns((r0, r1), (r0, r1), scale);
    assert_eq!(label(4.0, 4.9), None); // both below 5: skipped
    assert_eq!(label(5.0, 5.5), Some(0.5)); // not skipped, |Δ| = 0.5 < 1: equal
    assert_eq!(label(5.0, 6.5), Some(1.0)); // |Δ| = 1.5: hard label, σ1 better
    assert_eq!(label(7.0, 2.0), Some(0.0)); // max 7 ≥ 5: kept, σ0 better
    assert_eq!(label(-3.0, 6.0), Some(1.0));
    let s = teacher.stats;
    assert_eq!(
        (s.queried, s.skipped, s.equal, s.hard, s.agree),
        (5, 1, 1, 3, 3)
    );
    // Thresholds at 0 are off: negative returns are not skipped, near-ties not equal.
    let mut plain = Teacher::new(TeacherConfig::default(), 0);
    assert_eq!(
        plain.label_returns((-9.0, -8.99), (-9.0, -8.99), 1.0),
        Some(1.0)
    );
}

#[test]
fn myopic_weights_match_hand_computation_and_can_flip_the_label() {
    // Rewards (σ0) 3, 0, 0 vs (σ1) 0, 0, 2 with γ = 0.5: weights 0.25, 0.5, 1.
    let seg0 = reward_segment(&[3.0, 0.0, 0.0], &[1.0, 1.0, 1.0]);
    let seg1 = reward_segment(&[0.0, 0.0, 2.0], &[1.0, 1.0, 1.0]);
    let cfg = TeacherConfig {
        gamma: 0.5,
        ..Default::default()
    };
    let mut teacher = Teacher::new(cfg, 0);
    assert_eq!(teacher.segment_return(&seg0), 0.75);
    assert_eq!(teacher.segment_return(&seg1), 2.0);
    // Plain sums prefer σ0 (3 > 2); the myopic teacher prefers σ1, and that counts as a
    // disagreement with the true order.
    assert_eq!(teacher.label(&seg0, &seg1, 1.0), Some(1.0));
    assert_eq!(teacher.stats.agree, 0);
    // Masked steps count nothing: padding holds a reward of 5 that the mask removes.
    let padded = reward_segment(&[1.0, 2.0, 5.0], &[1.0, 1.0, 0.0]);
    assert_eq!(
        myopic_return(&padded.true_rewards, &padded.mask, 0.5),
        0.25 + 1.0
    );
    assert_eq!(padded.true_return(), 3.0);
    // γ = 1 is the plain sum.
    let mut flat = Teacher::new(TeacherConfig::default(), 0);
    assert_eq!(flat.label(&seg0, &seg1, 1.0), Some(0.0));
}

#[test]
fn labels_are_deterministic_given_the_seed_and_survive_serialization() {
    let cfg = TeacherConfig {
        beta: Some(1.0),
        mistake: 0.2,
        ..Default::default()
    };
    let returns = random_returns(500, 5, 2.0);
    let mut a = Teacher::new(cfg.clone(), 42);
    let mut b = Teacher::new(cfg.clone(), 42);
    let mut c = Teacher::new(cfg, 43);
    let la = label_all(&mut a, &returns[..250]);
    assert_eq!(la, label_all(&mut b, &returns[..250]));
    assert_ne!(la, label_all(&mut c, &returns[..250]));
    // A checkpointed teacher continues the exact label stream.
    let json = serde_json::to_string(&a).unwrap();
    let mut restored: Teacher = serde_json::from_str(&json).unwrap();
    assert_eq!(
        label_all(&mut a, &returns[250..]),
        label_all(&mut restored, &returns[250..])
    );
    assert_eq!(a.stats, restored.stats);
}
