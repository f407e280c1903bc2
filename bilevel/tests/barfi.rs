//! The PPO-batch oracle's mixed term against finite differences, BARFI's schedule, relabel,
//! checkpoint round trip, and config errors.

mod common;

use carrot_agents::config::{Activation, PolicyHead, PpoConfig};
use carrot_agents::{PgBatch, PolicyF64};
use carrot_bilevel::adjoint::gae_with_gamma_derivative;
use carrot_bilevel::barfi::Barfi;
use carrot_bilevel::config::{parse_outer, OuterConfig, OuterMethod};
use carrot_bilevel::hypergrad::HypergradOracle;
use carrot_bilevel::learned::{LearnedReward, SignalBlend};
use carrot_bilevel::oracle::{mean_std, OracleInputs, PolicyOracle};
use common::*;

fn blend() -> SignalBlend {
    SignalBlend::new(3, 0, &[("aux0".into(), 1), ("aux1".into(), 2)]).unwrap()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// ∇_φ[∇θJ_φ · p] from the adjoint GAE and the reward VJP equals a finite difference of
/// (1/|S|) Σ_{t∈S} s_t Â_t(φ) with σ_A held at its value (as the oracle defines it), for the
/// blend weights and the discount logit, on a curvature subset.
#[test]
fn oracle_mixed_term_matches_finite_differences_of_the_inner_gradient() {
    let (_, choice, space) = heads().remove(0);
    let net = network(choice, &space, &[8], 21);
    let ro = SynthRollout::new(net.head(), 4, 64, 22);
    let mut reward = blend();
    reward.set_params(&[0.1, 0.7, -0.3]).unwrap();
    let (lambda, logit) = (0.9, 2.5);
    let subset: Vec<usize> = (0..256).filter(|i| i % 3 != 1).collect();
    let relabel = |r: &SignalBlend| {
        let mut out = vec![0f32; 256];
        r.relabel(&ro.signals, &mut out);
        out
    };
    let rewards = relabel(&reward);
    let adv_p: Vec<f64> = normals(&mut rng(23), 256);
    let mut policy = PolicyF64::new(&net, Activation::Tanh).unwrap();
    let batch = PgBatch {
        obs: &ro.obs,
        obs_dim: OBS_DIM,
        actions: &ro.actions,
        action_dim: 1,
        rows: None,
    };
    let p = normals(&mut rng(24), policy.num_params());
    let sub = PgBatch {
        rows: Some(&subset),
        ..batch
    };
    let scores = policy.directional_scores(&sub, &p).unwrap();
    let old_sub = policy.log_probs(&sub).unwrap();
    let inputs = OracleInputs {
        batch,
        curvature_rows: Some(&subset),
        gae: ro.gae(&rewards),
        signals: &ro.signals,
        primary_advantages: &adv_p,
        gamma: sigmoid(logit),
        lambda,
        ent_coef: 0.01,
        normalize_advantages: true,
        gamma_logit: Some(logit),
        row_weights: None,
    };
    let mut oracle = PolicyOracle::new(&mut policy, &reward, inputs).unwrap();
    let mixed = oracle.mixed_vjp(&p).unwrap();
    let weights = oracle.curvature_weights().to_vec();
    let (adv0, _) = gae_with_gamma_derivative(&ro.gae(&rewards), sigmoid(logit), lambda);
    let sigma = mean_std(&adv0).1;
    // F(φ, φ_γ) = (1/|S|) Σ_{t∈S} s_t (A_t − mean A)/σ.
    let inner = |rw: &[f32], lg: f64| -> f64 {
        let (a, _) = gae_with_gamma_derivative(&ro.gae(rw), sigmoid(lg), lambda);
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        subset
            .iter()
            .zip(&scores)
            .map(|(&t, s)| s * (a[t] - mean) / sigma)
            .sum::<f64>()
            / subset.len() as f64
    };
    let mut fd = Vec::new();
    for j in 0..3 {
        // r is linear in φ, so a wide central difference is exact up to f32 rounding.
        let shifted = |d: f64| {
            let mut r = reward.clone();
            let mut phi = reward.params();
            phi[j] += d;
            r.set_params(&phi).unwrap();
            inner(&relabel(&r), logit)
        };
        fd.push((shifted(0.5) - shifted(-0.5)) / 1.0);
    }
    let h = 1e-3;
    let g = |d: f64| inner(&rewards, logit + d);
    fd.push((-g(2.0 * h) + 8.0 * g(h) - 8.0 * g(-h) + g(-2.0 * h)) / (12.0 * h));
    assert!(rel_err(&mixed, &fd) < 1e-5, "{mixed:?} vs {fd:?}");
    // And ∇θJ_φ · p from the surrogate gradient is the same inner product of scores.
    let pol2 = PolicyF64::new(&net, Activation::Tanh).unwrap();
    let grad = pol2.surrogate_grad(&sub, &weights, &old_sub, 0.0).unwrap();
    let via_scores: f64 =
        scores.iter().zip(&weights).map(|(s, w)| s * w).sum::<f64>() / subset.len() as f64;
    assert!((dot(&grad, &p) - via_scores).abs() < 1e-7 * via_scores.abs().max(1e-3));
}

fn ppo() -> PpoConfig {
    PpoConfig {
        hidden_sizes: vec![16],
        normalize_reward: false,
        ..PpoConfig::default()
    }
}

fn outer(method: OuterMethod) -> OuterConfig {
    OuterConfig {
        method,
        every: 2,
        warmup: 1,
        lr: 0.05,
        neumann_k: 3,
        neumann_alpha: 0.5,
        learn_gamma: true,
        hessian_batch: 200,
        critic_hidden: vec![8],
        critic_minibatch: 64,
        ..OuterConfig::default()
    }
}

fn comparable(m: &[(String, f64)]) -> Vec<(String, u64)> {
    m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
}

#[test]
fn barfi_steps_on_schedule_relabels_and_resumes_exactly() {
    let net = network(PolicyHead::Categorical, &heads()[0].2, &[16], 31);
    let ro = SynthRollout::new(net.head(), 4, 128, 32);
    let make = || Barfi::new(&outer(OuterMethod::Neumann), &ppo(), blend(), OBS_DIM, 7).unwrap();
    let mut barfi = make();
    let mut rewards = vec![0f32; 512];
    let first = barfi.on_rollout(0, &net, &ro.view(), &mut rewards).unwrap();
    // Iteration 0 is warm-up: φ stays at the naive sum, which the relabel reproduces.
    assert!(!first.stepped && barfi.reward().params() == vec![0.0, 1.0, 1.0]);
    for (r, s) in rewards.iter().zip(ro.signals.chunks(3)) {
        assert_eq!(*r, (s[0] as f64 + s[1] as f64 + s[2] as f64) as f32);
    }
    let get = |m: &[(String, f64)], k: &str| m.iter().find(|(n, _)| n == k).unwrap().1;
    assert!(get(&first.metrics, "outer/grad_norm").is_nan());
    assert_eq!(get(&first.metrics, "outer/gamma"), first.gamma);
    let second = barfi.on_rollout(1, &net, &ro.view(), &mut rewards).unwrap();
    assert!(second.stepped);
    let phi = barfi.reward().params();
    // Adam's first step moves every coordinate by lr (the regularizer is 0 at φ₀).
    for (now, before) in phi.iter().zip([0.0, 1.0, 1.0]) {
        assert!(((now - before).abs() - 0.05).abs() < 1e-6, "{phi:?}");
    }
    // ... and the discount logit too.
    let moved = [0.05, -0.05].map(|d| sigmoid((0.99f64 / 0.01).ln() + d));
    assert!(
        moved.iter().any(|g| (second.gamma - g).abs() < 1e-6),
        "{}",
        second.gamma
    );
    assert!(get(&second.metrics, "outer/grad_norm") > 0.0);
    let cos = get(&second.metrics, "outer/cos_fo_neumann");
    assert!(cos.abs() <= 1.0 + 1e-12, "{cos}");
    let keys = |m: &[(String, f64)]| m.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&first.metrics), keys(&second.metrics));
    // Resume: a fresh outer loop restored from the state replays the next iterations exactly.
    let saved = serde_json::to_string(&barfi.state()).unwrap();
    let mut run = |b: &mut Barfi<SignalBlend>| {
        (2..4)
            .map(|i| {
                comparable(
                    &b.on_rollout(i, &net, &ro.view(), &mut rewards)
                        .unwrap()
                        .metrics,
                )
            })
            .collect::<Vec<_>>()
    };
    let straight = run(&mut barfi);
    let mut resumed = make();
    resumed
        .restore(serde_json::from_str(&saved).unwrap())
        .unwrap();
    assert_eq!(straight, run(&mut resumed));
}

#[test]
fn first_order_and_none_methods() {
    let net = network(PolicyHead::Categorical, &heads()[0].2, &[16], 41);
    let ro = SynthRollout::new(net.head(), 4, 128, 42);
    let mut rewards = vec![0f32; 512];
    let mut none = Barfi::new(&outer(OuterMethod::None), &ppo(), blend(), OBS_DIM, 1).unwrap();
    for i in 0..4 {
        assert!(
            !none
                .on_rollout(i, &net, &ro.view(), &mut rewards)
                .unwrap()
                .stepped
        );
    }
    assert_eq!(none.reward().params(), vec![0.0, 1.0, 1.0]);
    let mut fo = Barfi::new(&outer(OuterMethod::Fo), &ppo(), blend(), OBS_DIM, 1).unwrap();
    let h = fo.hypergradient(&net, &ro.view()).unwrap();
    assert_eq!(h.series.used, 0);
    assert!(h.cos_fo.is_none() && h.grad.len() == 4 && h.grad.iter().all(|g| g.is_finite()));
}

#[test]
fn outer_config_errors_are_one_line_and_name_the_key() {
    let one_line = |e: carrot_bilevel::BilevelError| {
        let s = e.to_string();
        assert!(!s.contains('\n'), "{s}");
        s
    };
    let scaled = PpoConfig {
        normalize_reward: true,
        ..ppo()
    };
    let e = one_line(OuterConfig::default().validate(&scaled).unwrap_err().into());
    assert!(e.contains("ppo.normalize_reward"), "{e}");
    let e = one_line(parse_outer("method = \"fo\"\nevry = 3\n").unwrap_err());
    assert!(e.contains("evry"), "{e}");
    let e = one_line(parse_outer("method = \"sgd\"\n").unwrap_err());
    assert!(e.contains("sgd"), "{e}");
    let bad_k = OuterConfig {
        method: OuterMethod::Neumann,
        neumann_k: 0,
        ..OuterConfig::default()
    };
    assert!(one_line(bad_k.validate(&ppo()).unwrap_err().into()).contains("outer.neumann_k"));
    let bad_lr = OuterConfig {
        lr: -1.0,
        ..OuterConfig::default()
    };
    assert!(one_line(bad_lr.validate(&ppo()).unwrap_err().into()).contains("outer.lr"));
    let ok = parse_outer("method = \"neumann\"\nevery = 8\nneumann_k = 5\n").unwrap();
    assert_eq!(
        (ok.method, ok.every, ok.neumann_k),
        (OuterMethod::Neumann, 8, 5)
    );
    ok.validate(&ppo()).unwrap();
}
