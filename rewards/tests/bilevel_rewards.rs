//! The rewards of bi-level reward learning: the learned `blend` (its gradient, its naive-sum
//! start, its terminations), the `mix` it starts from, and potential-based shaping on stored
//! rollouts.

mod common;

use carrot_rewards::{
    pbrs_relabel, BlendConfig, FeatureConfig, FeatureSignal, PotentialShaping, Reward,
    RewardConfig, RewardTerm, RolloutRows, SignalSpec, Transform, WeightedSignal,
};
use common::{random_rows, signal, spec};

fn feature(name: &str, low: f32, high: f32) -> FeatureSignal {
    FeatureSignal {
        signal: name.into(),
        low,
        high,
    }
}

fn bases() -> Vec<FeatureConfig> {
    vec![
        FeatureConfig::Constant,
        FeatureConfig::Linear {
            signals: vec![feature("pos", -1.0, 1.0), feature("v", -2.0, 2.0)],
        },
        FeatureConfig::Fourier {
            order: 2,
            signals: vec![feature("pos", -1.0, 1.0), feature("v", -2.0, 2.0)],
        },
    ]
}

/// Primary `goal`, auxiliaries `-0.5 dist` and `0.3 |v|`.
fn blend_config(features: FeatureConfig) -> BlendConfig {
    BlendConfig {
        primary: Box::new(signal("goal")),
        aux: vec![
            RewardTerm::whole(signal("dist"), -0.5),
            RewardTerm::whole(
                RewardConfig::Signal {
                    signal: "v".into(),
                    scale: 1.0,
                    transform: Transform::Abs,
                },
                0.3,
            ),
        ],
        features,
        learn_bias: true,
    }
}

/// The naive sum the blend starts at: primary plus the weighted auxiliaries.
fn naive_mix(blend: &BlendConfig) -> RewardConfig {
    let mut terms = vec![RewardTerm::whole(*blend.primary.clone(), 1.0)];
    terms.extend(blend.aux.iter().cloned());
    RewardConfig::Mix { terms }
}

/// Σ_k w_k r(x_k) through the real f32 batch path.
fn weighted_sum(reward: &dyn Reward, signals: &[f32], weights: &[f64]) -> f64 {
    let batch = reward.evaluate_batch(signals);
    batch
        .rewards
        .iter()
        .zip(weights)
        .map(|(&r, &w)| r as f64 * w)
        .sum()
}

#[test]
fn blend_param_vjp_matches_central_finite_differences_for_every_basis() {
    let spec = spec();
    let rows = 64;
    let signals = random_rows(rows, spec.len(), 1);
    let weights: Vec<f64> = (0..rows).map(|k| ((k as f64) * 0.37).sin()).collect();
    for features in bases() {
        let mut reward = RewardConfig::Blend(blend_config(features.clone()))
            .build(&spec)
            .unwrap();
        let n = reward.parameters().len();
        assert_eq!(reward.parameter_names().len(), n);
        // Away from the initial point, so every parameter matters.
        let params: Vec<f64> = (0..n)
            .map(|i| 0.8 * ((i as f64) * 1.3 + 0.2).cos())
            .collect();
        reward.set_parameters(&params).unwrap();
        let grad = reward.param_vjp(&signals, &weights).unwrap();
        assert_eq!(grad.len(), n);
        let eps = 1e-2;
        for i in 0..n {
            let mut shifted = params.clone();
            shifted[i] = params[i] + eps;
            reward.set_parameters(&shifted).unwrap();
            let up = weighted_sum(&*reward, &signals, &weights);
            shifted[i] = params[i] - eps;
            reward.set_parameters(&shifted).unwrap();
            let down = weighted_sum(&*reward, &signals, &weights);
            let fd = (up - down) / (2.0 * eps);
            assert!(
                (fd - grad[i]).abs() <= 1e-4 * (1.0 + grad[i].abs()),
                "{features:?} parameter {i} ({}): vjp {} vs finite difference {fd}",
                reward.parameter_names()[i],
                grad[i]
            );
        }
        assert!(grad.iter().any(|g| g.abs() > 0.1), "{grad:?}");
        reward.set_parameters(&params).unwrap();
    }
}

#[test]
fn a_frozen_bias_gets_no_gradient_and_the_weights_keep_theirs() {
    let spec = spec();
    let rows = 64;
    let signals = random_rows(rows, spec.len(), 3);
    let weights: Vec<f64> = (0..rows).map(|k| ((k as f64) * 0.61).cos()).collect();
    for features in bases() {
        let learned = blend_config(features.clone());
        let frozen = BlendConfig {
            learn_bias: false,
            ..learned.clone()
        };
        let a = RewardConfig::Blend(learned).build(&spec).unwrap();
        let b = RewardConfig::Blend(frozen).build(&spec).unwrap();
        let (ga, gb) = (
            a.param_vjp(&signals, &weights).unwrap(),
            b.param_vjp(&signals, &weights).unwrap(),
        );
        let names = b.parameter_names();
        let mut bias_slots = 0;
        for (i, name) in names.iter().enumerate() {
            if name.starts_with("bias") {
                bias_slots += 1;
                assert_eq!(gb[i], 0.0, "{features:?} {name}");
                assert_ne!(
                    ga[i], 0.0,
                    "{features:?} {name}: the learned bias has a gradient"
                );
            } else {
                assert_eq!(gb[i], ga[i], "{features:?} {name}");
            }
        }
        assert!(bias_slots >= 1, "{names:?}");
    }
}

#[test]
fn blend_at_initialization_is_exactly_the_naive_mix() {
    let spec = spec();
    let signals = random_rows(200, spec.len(), 2);
    for features in bases() {
        let config = blend_config(features);
        let blend = RewardConfig::Blend(config.clone()).build(&spec).unwrap();
        let mix = naive_mix(&config).build(&spec).unwrap();
        let (b, m) = (blend.evaluate_batch(&signals), mix.evaluate_batch(&signals));
        assert_eq!(b.rewards, m.rewards, "{:?}", config.features);
        assert!(b.rewards.iter().any(|&r| r != 0.0));
        assert_eq!(blend.term_names(), ["primary", "dist", "abs_v", "bias"]);
        assert_eq!(mix.term_names(), ["goal", "dist", "abs_v"]);
        // Terms: the same primary and weighted auxiliaries, and a zero bias.
        for (bt, mt) in b.terms.chunks(4).zip(m.terms.chunks(3)) {
            assert_eq!(&bt[..3], mt);
            assert_eq!(bt[3], 0.0);
        }
    }
}

#[test]
fn blend_rows_relabel_like_the_step_path_and_give_potentials() {
    let spec = spec();
    let signals = random_rows(50, spec.len(), 3);
    let config = blend_config(bases()[2].clone());
    let mut blend = carrot_rewards::BlendReward::new(&spec, &config).unwrap();
    let n = blend.parameters().len();
    assert_eq!(
        n,
        3 * 9,
        "two auxiliary heads and a bias head of 9 Fourier features"
    );
    let params: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin()).collect();
    blend.set_parameters(&params).unwrap();
    let rows = blend.rows(&signals).unwrap();
    assert_eq!(blend.relabel(&rows), blend.evaluate_batch(&signals).rewards);
    let shaping = PotentialShaping::new(&spec, &config.aux).unwrap();
    assert_eq!(rows.potentials(), shaping.potentials(&signals).unwrap());
    for (k, row) in signals.chunks(spec.len()).enumerate() {
        let expected = -0.5 * row[1] as f64 + (0.3 * row[2].abs()) as f64;
        assert!((rows.potentials()[k] - expected).abs() < 1e-6);
    }
    let weights = vec![0.5; 50];
    assert_eq!(
        blend.rows_vjp(&rows, &weights).unwrap(),
        blend.param_vjp(&signals, &weights).unwrap()
    );
    let err = blend.set_parameters(&[1.0]).unwrap_err().to_string();
    assert!(err.contains("expects 27"), "{err}");
    let err = blend
        .param_vjp(&signals, &[1.0; 3])
        .unwrap_err()
        .to_string();
    assert!(err.contains("rows"), "{err}");
}

/// The driving world's signals, for rewards that end episodes.
fn driving_spec() -> SignalSpec {
    use carrot_envs::Env;
    let env = carrot_envs::DrivingEnv::new(carrot_envs::DrivingConfig::default()).unwrap();
    env.signal_spec().clone()
}

/// Rows where each termination cause of `reward` fires now and then.
fn rows_with_events(reward: &dyn Reward, spec: &SignalSpec, rows: usize) -> Vec<f32> {
    let mut signals: Vec<f32> = random_rows(rows, spec.len(), 4)
        .iter()
        .map(|v| v.abs())
        .collect();
    let events: Vec<usize> = reward
        .cause_names()
        .iter()
        .map(|c| spec.index_of(c).unwrap())
        .collect();
    for (k, row) in signals.chunks_mut(spec.len()).enumerate() {
        for (e, &i) in events.iter().enumerate() {
            row[i] = if (k * 7 + e * 3) % 11 == 0 { 1.0 } else { 0.0 };
        }
    }
    signals
}

#[test]
fn blend_terminations_come_from_the_primary_and_never_depend_on_parameters() {
    let spec = driving_spec();
    let roach = RewardConfig::Roach(Default::default());
    let primary = roach.build(&spec).unwrap();
    let signals = rows_with_events(&*primary, &spec, 120);
    let expected = primary.evaluate_batch(&signals).causes;
    assert!(expected.iter().filter(|&&c| c >= 0).count() > 10);
    let config = BlendConfig {
        primary: Box::new(roach.clone()),
        aux: vec![RewardTerm::of_term(roach.clone(), "speed", 1.0)],
        features: FeatureConfig::Linear {
            signals: vec![feature("speed", 0.0, 10.0)],
        },
        learn_bias: true,
    };
    let mut blend = RewardConfig::Blend(config).build(&spec).unwrap();
    assert_eq!(blend.cause_names(), primary.cause_names());
    for scale in [0.0, 1.0, -3.0, 40.0] {
        let params: Vec<f64> = (0..blend.parameters().len())
            .map(|i| scale * (i as f64 + 1.0))
            .collect();
        blend.set_parameters(&params).unwrap();
        assert_eq!(blend.evaluate_batch(&signals).causes, expected, "{scale}");
    }
    // An auxiliary that would end episodes does not: only the primary decides.
    let quiet = BlendConfig {
        primary: Box::new(RewardConfig::Signal {
            signal: "speed".into(),
            scale: 1.0,
            transform: Transform::Identity,
        }),
        aux: vec![RewardTerm::whole(roach, 1.0)],
        features: FeatureConfig::Constant,
        learn_bias: true,
    };
    let quiet = RewardConfig::Blend(quiet).build(&spec).unwrap();
    assert!(quiet.cause_names().is_empty());
    assert!(quiet
        .evaluate_batch(&signals)
        .causes
        .iter()
        .all(|&c| c == -1));
}

#[test]
fn mix_ends_on_the_first_terminating_entry_and_merges_shared_causes() {
    let spec = driving_spec();
    let roach = RewardConfig::Roach(Default::default());
    let carl = RewardConfig::Carl(Default::default());
    let mix = RewardConfig::Mix {
        terms: vec![
            RewardTerm::whole(carl.clone(), 1.0),
            RewardTerm::of_term(roach.clone(), "speed", 0.5),
        ],
    }
    .build(&spec)
    .unwrap();
    let carl = carl.build(&spec).unwrap();
    let roach = roach.build(&spec).unwrap();
    assert_eq!(
        mix.cause_names(),
        carl.cause_names(),
        "shared causes appear once"
    );
    assert_eq!(mix.term_names(), ["carl", "roach_speed"]);
    let signals = rows_with_events(&*carl, &spec, 60);
    let (m, c, r) = (
        mix.evaluate_batch(&signals),
        carl.evaluate_batch(&signals),
        roach.evaluate_batch(&signals),
    );
    assert_eq!(m.causes, c.causes);
    for k in 0..60 {
        let speed = r.terms[k * roach.term_names().len()];
        assert_eq!(m.rewards[k], c.rewards[k] + 0.5 * speed);
    }
}

#[test]
fn mix_selects_named_terms_and_names_unknown_ones_in_one_line() {
    let spec = spec();
    let sum = RewardConfig::Sum {
        terms: vec![
            WeightedSignal::new("goal", 2.0),
            WeightedSignal::new("dist", -1.0),
        ],
    };
    let mix = RewardConfig::Mix {
        terms: vec![
            RewardTerm::of_term(sum.clone(), "dist", 3.0),
            RewardTerm::whole(sum.clone(), 1.0),
            RewardTerm::whole(sum.clone(), 0.5),
        ],
    }
    .build(&spec)
    .unwrap();
    assert_eq!(mix.term_names(), ["sum_dist", "sum", "sum_2"]);
    let row = [1.0, 4.0, 0.0, 0.0, 0.0];
    let mut terms = [0.0; 3];
    // 3 * (-4) + (2 - 4) + 0.5 * (2 - 4)
    assert_eq!(mix.evaluate(&row, &mut terms), (-15.0, None));
    assert_eq!(terms, [-12.0, -2.0, -1.0]);
    let bad = RewardConfig::Mix {
        terms: vec![RewardTerm::of_term(sum, "speed", 1.0)],
    };
    let err = bad.build(&spec).err().unwrap().to_string();
    assert!(
        err.contains("mix") && err.contains("no term 'speed'") && err.contains("goal, dist"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    let empty = RewardConfig::Mix { terms: vec![] }
        .build(&spec)
        .err()
        .unwrap();
    assert!(empty.to_string().contains("terms"), "{empty}");
    let missing = RewardConfig::Mix {
        terms: vec![RewardTerm::whole(signal("nope"), 1.0)],
    };
    let err = missing.build(&spec).err().unwrap().to_string();
    assert!(err.contains("'nope'") && !err.contains('\n'), "{err}");
}

/// A rollout of `n` envs over `t` steps with terminations and truncations sprinkled in.
struct Rollout {
    rewards: Vec<f32>,
    potentials: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
}

fn rollout(n: usize, t: usize) -> Rollout {
    let b = n * t;
    let noise = random_rows(b, 2, 5);
    Rollout {
        rewards: noise.iter().step_by(2).copied().collect(),
        potentials: noise.iter().skip(1).step_by(2).map(|&p| p as f64).collect(),
        terminated: (0..b).map(|i| i % 13 == 4).collect(),
        truncated: (0..b).map(|i| i % 17 == 9).collect(),
    }
}

#[test]
fn potential_shaping_telescopes_per_episode_and_carries_across_rollouts() {
    let (n, t, gamma) = (3, 60, 0.9);
    let r = rollout(n, t);
    let rows = |range: std::ops::Range<usize>| RolloutRows {
        num_envs: n,
        rewards: &r.rewards[range.clone()],
        terminated: &r.terminated[range.clone()],
        truncated: &r.truncated[range],
    };
    let mut carry = vec![0.0; n];
    let shaped = pbrs_relabel(rows(0..n * t), &r.potentials, gamma, &mut carry).unwrap();
    // Per env, per completed episode: Σ γ^k (r'_k − r_k) = γ^T Φ_last (1 − terminated_last).
    let mut episodes = 0;
    for env in 0..n {
        let (mut sum, mut discount) = (0.0f64, 1.0f64);
        for step in 0..t {
            let row = step * n + env;
            sum += discount * (shaped[row] as f64 - r.rewards[row] as f64);
            discount *= gamma;
            if r.terminated[row] || r.truncated[row] {
                let end = if r.terminated[row] {
                    0.0
                } else {
                    discount * r.potentials[row]
                };
                assert!(
                    (sum - end).abs() < 1e-5,
                    "env {env} step {step}: {sum} vs {end}"
                );
                episodes += 1;
                (sum, discount) = (0.0, 1.0);
            }
        }
    }
    assert!(episodes >= 10, "{episodes}");
    // Two halves with the carry give the same rewards as one pass.
    let half = n * t / 2;
    let mut carry = vec![0.0; n];
    let mut split = pbrs_relabel(rows(0..half), &r.potentials[..half], gamma, &mut carry).unwrap();
    split
        .extend(pbrs_relabel(rows(half..n * t), &r.potentials[half..], gamma, &mut carry).unwrap());
    assert_eq!(split, shaped);
    let err = pbrs_relabel(rows(0..n * t), &r.potentials, 1.5, &mut carry).unwrap_err();
    assert!(err.to_string().contains("gamma"), "{err}");
    let err = pbrs_relabel(rows(0..5), &r.potentials[..5], gamma, &mut carry).unwrap_err();
    assert!(err.to_string().contains("3 envs"), "{err}");
}

#[test]
fn potential_shaping_evaluates_its_potential_from_the_auxiliaries() {
    let spec = spec();
    let aux = [RewardTerm::whole(signal("dist"), -0.5)];
    let shaping = PotentialShaping::new(&spec, &aux).unwrap();
    let signals = random_rows(4, spec.len(), 6);
    let rewards = [1.0f32, 0.0, 0.0, 0.0];
    let (terminated, truncated) = ([false, false, false, true], [false; 4]);
    let rows = RolloutRows {
        num_envs: 1,
        rewards: &rewards,
        terminated: &terminated,
        truncated: &truncated,
    };
    let mut carry = [0.0];
    let shaped = shaping.relabel(rows, &signals, 0.5, &mut carry).unwrap();
    let phi: Vec<f64> = signals.chunks(5).map(|s| -0.5 * s[1] as f64).collect();
    let expected = [
        1.0 + 0.5 * phi[0],
        0.5 * phi[1] - phi[0],
        0.5 * phi[2] - phi[1],
        -phi[2], // terminated: no potential after the end
    ];
    for (s, e) in shaped.iter().zip(expected) {
        assert!((*s as f64 - e).abs() < 1e-6, "{shaped:?} vs {expected:?}");
    }
    assert_eq!(carry, [0.0]);
}
