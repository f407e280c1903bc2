//! P2 and N6-MLP: the reward ensemble learns a known reward, its `param_vjp` matches finite
//! differences, it is thread-count independent, and its state round-trips exactly.

#[path = "parl_common/mod.rs"]
mod common;

use carrot_bilevel::parl::buffer::PreferencePair;
use carrot_bilevel::parl::config::{ModelConfig, TeacherConfig};
use carrot_bilevel::parl::model::{Normalization, RewardModel, RewardModelState};
use carrot_bilevel::parl::teacher::Teacher;
use common::random_segment;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

const WEIGHTS: [f32; 4] = [0.5, -1.0, 0.25, 0.8];

fn linear_reward(x: &[f32]) -> f32 {
    x.iter().zip(WEIGHTS).map(|(a, w)| a * w).sum()
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("s{i}")).collect()
}

fn model(config: &ModelConfig, seed: u64) -> RewardModel {
    RewardModel::new(
        config,
        &names(4),
        &names(4),
        &[],
        Normalization::identity(4),
        seed,
    )
    .unwrap()
}

/// `n` pairs of L-step segments labelled by a noise-free rational teacher; some padded.
fn labelled_pairs(n: usize, l: usize, seed: u64) -> Vec<PreferencePair> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut teacher = Teacher::new(TeacherConfig::default(), seed);
    (0..n)
        .map(|i| {
            let pad = if i % 5 == 0 { l / 2 } else { 0 };
            let seg0 = random_segment(&mut rng, l, 4, pad, &linear_reward);
            let seg1 = random_segment(&mut rng, l, 4, 0, &linear_reward);
            let label = teacher.label(&seg0, &seg1, 1.0).unwrap();
            PreferencePair { seg0, seg1, label }
        })
        .collect()
}

fn random_rows(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    (0..n * 4)
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect()
}

/// Trains on 300 noise-free labels of L = 50 segments; returns (held-out accuracy on 200
/// fresh pairs, Pearson of r_ν with the truth on 2000 fresh rows).
fn recover(config: &ModelConfig) -> (f64, f64) {
    let mut m = model(config, 1);
    let train = labelled_pairs(300, 50, 2);
    let heldout = labelled_pairs(200, 50, 3);
    let before = m.accuracy(&heldout).unwrap();
    let stats = m.train(&train).unwrap();
    assert!(stats.last_loss < 0.5 * stats.first_loss, "{stats:?}");
    let acc = m.accuracy(&heldout).unwrap();
    assert!(acc > before + 0.1, "accuracy {before} -> {acc}");
    let rows = random_rows(2000, 4);
    let truth: Vec<f32> = rows.chunks(4).map(linear_reward).collect();
    (acc, m.reward_correlation(&rows, &truth).unwrap())
}

#[test]
fn linear_model_recovers_a_known_linear_reward_from_300_labels() {
    // hidden = []: tanh(w·x + b) per member. Pearson is affine-invariant, so it is the
    // correlation after the best affine fit.
    let config = ModelConfig {
        members: 3,
        hidden: vec![],
        lr: 1e-2,
        steps: 500,
        batch: 64,
    };
    let (acc, corr) = recover(&config);
    assert!(acc > 0.95, "held-out accuracy {acc}");
    assert!(corr > 0.95, "Pearson {corr}");
}

#[test]
fn mlp_ensemble_learns_a_known_linear_reward_from_300_labels() {
    // A small MLP ensemble (kept small so the test stays at seconds). It overfits 300 labels a
    // little: measured 0.945 held-out accuracy and Pearson 0.98 (the linear model: 0.965).
    let config = ModelConfig {
        members: 3,
        hidden: vec![16, 16],
        lr: 3e-3,
        steps: 150,
        batch: 32,
    };
    let (acc, corr) = recover(&config);
    assert!(acc > 0.92, "held-out accuracy {acc}");
    assert!(corr > 0.95, "Pearson {corr}");
}

#[test]
fn param_vjp_matches_central_finite_differences() {
    let config = ModelConfig {
        members: 2,
        hidden: vec![8, 8],
        ..Default::default()
    };
    let mut m = model(&config, 5);
    // Move off the zero biases so every parameter matters.
    let mut rng = Pcg64Mcg::seed_from_u64(6);
    let theta: Vec<f32> = m
        .parameters_f32()
        .iter()
        .map(|&p| p + 0.1 * (rng.random::<f32>() - 0.5))
        .collect();
    m.set_parameters_f32(&theta).unwrap();
    let rows = random_rows(16, 7);
    let weights: Vec<f64> = (0..16).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
    let grad = m.param_vjp(&rows, &weights).unwrap();
    assert_eq!(grad.len(), m.num_parameters());
    let objective = |m: &RewardModel| -> f64 {
        let r = m.evaluate_batch(&rows).unwrap();
        r.iter().zip(&weights).map(|(&r, w)| r as f64 * w).sum()
    };
    let scale = grad.iter().fold(0f64, |a, g| a.max(g.abs()));
    let base = objective(&m);
    // Difference quotient [f(θ + a·e_k) − f(θ + b·e_k)] / (a − b).
    let mut quotient = |k: usize, a: f32, b: f32| -> f64 {
        let mut p = theta.clone();
        p[k] = theta[k] + a;
        m.set_parameters_f32(&p).unwrap();
        let fa = if a == 0.0 { base } else { objective(&m) };
        p[k] = theta[k] + b;
        m.set_parameters_f32(&p).unwrap();
        let fb = if b == 0.0 { base } else { objective(&m) };
        (fa - fb) / (a - b) as f64
    };
    // A central step that straddles a LeakyReLU kink gives a wrong quotient (about 1e-2
    // relative here). A parameter that misses with the central step is retried one-sided, on
    // whichever side has no kink; one near-kink unit touches all its
    // weights, so up to a tenth of the parameters may need that (9 of 242 here).
    let h = 1e-3f32;
    let (mut worst, mut retried) = (0f64, 0);
    for (k, &g) in grad.iter().enumerate() {
        let mut err = (quotient(k, h, -h) - g).abs() / scale;
        if err > 1e-3 {
            retried += 1;
            let forward = (quotient(k, h / 2.0, 0.0) - g).abs() / scale;
            let backward = (quotient(k, 0.0, -h / 2.0) - g).abs() / scale;
            err = forward.min(backward);
        }
        worst = worst.max(err);
    }
    assert!(
        worst < 1e-3,
        "worst relative error {worst} (max |g| {scale})"
    );
    assert!(
        retried <= theta.len() / 10,
        "{retried} parameters needed a one-sided step"
    );
    // Linearity in the weights: doubling them doubles the VJP.
    m.set_parameters_f32(&theta).unwrap();
    let doubled: Vec<f64> = weights.iter().map(|w| 2.0 * w).collect();
    let grad2 = m.param_vjp(&rows, &doubled).unwrap();
    for (a, b) in grad.iter().zip(grad2) {
        assert!((2.0 * a - b).abs() <= 1e-5 * scale);
    }
}

#[test]
fn training_and_evaluation_are_identical_for_one_and_two_threads() {
    let config = ModelConfig {
        steps: 20,
        ..Default::default()
    };
    let train = labelled_pairs(100, 20, 8);
    let rows = random_rows(65_536, 9);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut m = model(&config, 10);
            m.train(&train).unwrap();
            let vjp = m
                .param_vjp(&rows[..4 * 20_000], &vec![0.5; 20_000])
                .unwrap();
            (m.parameters_f32(), m.evaluate_batch(&rows).unwrap(), vjp)
        })
    };
    let (p1, r1, v1) = run(1);
    let (p2, r2, v2) = run(2);
    assert_eq!(p1, p2);
    assert_eq!(r1, r2);
    assert_eq!(v1, v2);
}

#[test]
fn checkpoint_state_round_trips_and_training_continues_identically() {
    let config = ModelConfig {
        members: 2,
        hidden: vec![16],
        steps: 15,
        ..Default::default()
    };
    let rows = random_rows(64, 12);
    let norm = Normalization::from_rows(&rows, 4);
    let mut a = RewardModel::new(&config, &names(4), &names(6), &[], norm, 13).unwrap();
    let pairs = labelled_pairs(40, 8, 14);
    a.train(&pairs).unwrap();
    let json = serde_json::to_string(&a.state()).unwrap();
    let state: RewardModelState = serde_json::from_str(&json).unwrap();
    let mut b = RewardModel::from_state(state).unwrap();
    assert_eq!(a.parameters_f32(), b.parameters_f32());
    assert_eq!(a.normalization(), b.normalization());
    assert_eq!(
        a.evaluate_batch(&rows).unwrap(),
        b.evaluate_batch(&rows).unwrap()
    );
    // Adam moments and the bootstrap RNG came back too: the next session matches bit for bit.
    a.train(&pairs).unwrap();
    b.train(&pairs).unwrap();
    assert_eq!(a.parameters_f32(), b.parameters_f32());
}

#[test]
fn members_differ_and_the_reward_is_their_bounded_mean() {
    let config = ModelConfig::default();
    let m = model(&config, 3);
    let rows = random_rows(50, 4);
    let members = m.member_rewards(&rows).unwrap();
    assert_eq!(members.len(), 3);
    assert_ne!(members[0], members[1]);
    let mean = m.evaluate_batch(&rows).unwrap();
    for (k, &r) in mean.iter().enumerate() {
        let want = members.iter().map(|v| v[k] as f64).sum::<f64>() / 3.0;
        assert!((r as f64 - want).abs() < 1e-6 && r.abs() <= 1.0);
    }
    // Same seed, same model; different seed, different model.
    assert_eq!(model(&config, 3).parameters_f32(), m.parameters_f32());
    assert_ne!(model(&config, 4).parameters_f32(), m.parameters_f32());
    // evaluate_signals picks the input columns out of wider signal rows.
    let wide_names: Vec<String> = ["junk", "s0", "s1", "s2", "s3"].map(String::from).to_vec();
    let m2 = RewardModel::new(
        &config,
        &names(4),
        &wide_names,
        &[],
        Normalization::identity(4),
        3,
    )
    .unwrap();
    let wide: Vec<f32> = rows
        .chunks(4)
        .flat_map(|r| [99.0, r[0], r[1], r[2], r[3]])
        .collect();
    assert_eq!(m2.evaluate_signals(&wide, 5).unwrap(), mean);
}

#[test]
fn true_reward_signals_and_unknown_signals_are_refused_in_one_line() {
    let signals: Vec<String> = ["theta", "theta_dot", "torque", "reward"]
        .map(String::from)
        .to_vec();
    let deny = vec!["reward".to_string()];
    let inputs: Vec<String> = ["theta", "reward"].map(String::from).to_vec();
    let cfg = ModelConfig::default();
    let err = RewardModel::new(
        &cfg,
        &inputs,
        &signals,
        &deny,
        Normalization::identity(2),
        0,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("`reward`") && err.contains("true reward") && !err.contains('\n'),
        "{err}"
    );
    let unknown: Vec<String> = ["theta", "speed"].map(String::from).to_vec();
    let err = RewardModel::new(
        &cfg,
        &unknown,
        &signals,
        &deny,
        Normalization::identity(2),
        0,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("`speed`") && err.contains("not a signal") && !err.contains('\n'),
        "{err}"
    );
}
