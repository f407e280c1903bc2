//! N3 (finite-difference HVPs on the real f64 policy), N4 (directional scores), A4 (f64 vs f32
//! PPO gradient) and thread-count independence, for the categorical, Gaussian and Beta heads.

mod common;

use candle_core::{DType, Tensor};
use carrot_agents::config::Activation;
use carrot_agents::losses::{ppo_loss, Evaluation, LossCoefs, Targets};
use carrot_agents::networks::ActorCritic;
use carrot_agents::optimizer::host_grads;
use carrot_agents::{PgBatch, PolicyF64};
use common::*;

struct Fixture {
    obs: Vec<f32>,
    actions: Vec<f32>,
    action_dim: usize,
    weights: Vec<f64>,
}

impl Fixture {
    fn new(net: &ActorCritic, rows: usize, seed: u64) -> Self {
        let (obs, actions) = batch_data(net.head(), rows, seed);
        let weights = normals(&mut rng(seed + 100), rows);
        Fixture {
            obs,
            actions,
            action_dim: net.head().action_dim(),
            weights,
        }
    }
    fn batch(&self) -> PgBatch<'_> {
        PgBatch {
            obs: &self.obs,
            obs_dim: OBS_DIM,
            actions: &self.actions,
            action_dim: self.action_dim,
            rows: None,
        }
    }
}

fn hvp(pol: &mut PolicyF64, f: &Fixture, old: &[f64], v: &[f64]) -> Vec<f64> {
    pol.hvp(&f.batch(), &f.weights, old, 0.01, v).unwrap()
}

#[test]
fn n3_hvp_is_symmetric_and_linear_for_every_head_and_f32_is_far_worse() {
    for (name, choice, space) in heads() {
        let net = network(choice, &space, &[64, 64], 5);
        let f = Fixture::new(&net, 512, 6);
        let mut pol = PolicyF64::new(&net, Activation::Tanh).unwrap();
        let old = pol.log_probs(&f.batch()).unwrap();
        let p = pol.num_params();
        let mut r = rng(7);
        let (v, w) = (normals(&mut r, p), normals(&mut r, p));
        let (hv, hw) = (hvp(&mut pol, &f, &old, &v), hvp(&mut pol, &f, &old, &w));
        let h_norm = (norm(&hv) / norm(&v)).max(norm(&hw) / norm(&w));
        assert!(h_norm > 1e-3, "{name}: negligible curvature {h_norm}");
        let asym = (dot(&w, &hv) - dot(&v, &hw)).abs() / (norm(&v) * norm(&w) * h_norm);
        assert!(asym < 1e-7, "{name}: asymmetry {asym}");
        let combo: Vec<f64> = v.iter().zip(&w).map(|(a, b)| 2.0 * a - 0.5 * b).collect();
        let hc = hvp(&mut pol, &f, &old, &combo);
        let want: Vec<f64> = hv.iter().zip(&hw).map(|(a, b)| 2.0 * a - 0.5 * b).collect();
        let lin = rel_err(&hc, &want);
        assert!(lin < 1e-6, "{name}: linearity {lin}");
        // θ is restored exactly after the differences.
        let theta = pol.theta().unwrap();
        hvp(&mut pol, &f, &old, &v);
        assert_eq!(theta, pol.theta().unwrap());
        // The same HVP evaluated in f32.
        let mut pol32 = PolicyF64::with_dtype(&net, Activation::Tanh, DType::F32).unwrap();
        let old32 = pol32.log_probs(&f.batch()).unwrap();
        let hv32 = hvp(&mut pol32, &f, &old32, &v);
        let err32 = rel_err(&hv32, &hv);
        eprintln!("N3 {name}: |H| {h_norm:.3e}, f64 asymmetry {asym:.2e}, linearity {lin:.2e}, f32 HVP relative error {err32:.2e}");
        assert!(err32 > 100.0 * asym.max(lin), "{name}: f32 error {err32}");
    }
}

#[test]
fn n4_directional_scores_equal_per_row_gradients() {
    for (name, choice, space) in heads() {
        let net = network(choice, &space, &[64, 64], 8);
        let f = Fixture::new(&net, 32, 9);
        let mut pol = PolicyF64::new(&net, Activation::Tanh).unwrap();
        let p = normals(&mut rng(10), pol.num_params());
        let scores = pol.directional_scores(&f.batch(), &p).unwrap();
        let old = pol.log_probs(&f.batch()).unwrap();
        for row in 0..32 {
            // One row with weight 1 at ratio 1: the gradient of log π of that row.
            let rows = [row];
            let one = PgBatch {
                rows: Some(&rows),
                ..f.batch()
            };
            let g = pol
                .surrogate_grad(&one, &[1.0], &old[row..row + 1], 0.0)
                .unwrap();
            let want = dot(&g, &p);
            let tol = 1e-8 * norm(&g).max(1.0) * norm(&p);
            assert!(
                (scores[row] - want).abs() < tol,
                "{name} row {row}: {} vs {want}",
                scores[row]
            );
        }
    }
}

/// The f32 PPO loss gradient (vf/ent 0, no advantage normalization) at θ_old on the actor.
fn f32_ppo_actor_grad(net: &ActorCritic, f: &Fixture) -> Vec<f64> {
    let dev = net.device();
    let m = f.weights.len();
    let obs = Tensor::from_slice(&f.obs, (m, OBS_DIM), dev).unwrap();
    let act = Tensor::from_slice(&f.actions, (m, f.action_dim), dev).unwrap();
    let (dist, values) = net.forward(&obs).unwrap();
    let logp = dist.log_prob(&act).unwrap();
    let entropy = dist.entropy().unwrap();
    let adv: Vec<f32> = f.weights.iter().map(|&w| w as f32).collect();
    let adv = Tensor::from_slice(&adv, m, dev).unwrap();
    let zeros = Tensor::zeros(m, DType::F32, dev).unwrap();
    let old_logp = logp.detach();
    let coefs = LossCoefs {
        clip_coef: 0.2,
        clip_vloss: false,
        ent_coef: 0.0,
        vf_coef: 0.0,
    };
    let eval = Evaluation {
        logp: &logp,
        entropy: &entropy,
        values: &values,
    };
    let targets = Targets {
        old_logp: &old_logp,
        old_values: &zeros,
        advantages: &adv,
        returns: &zeros,
    };
    let loss = ppo_loss(&eval, &targets, &coefs).unwrap();
    let grads = loss.total.backward().unwrap();
    let all = host_grads(net.params(), &grads).unwrap();
    let names = PolicyF64::actor_param_names(net);
    let mut out = Vec::new();
    for name in names {
        let k = net.params().iter().position(|(n, _)| *n == name).unwrap();
        // PPO minimizes −surrogate.
        out.extend(all[k].iter().map(|&g| -(g as f64)));
    }
    out
}

#[test]
fn a4_f64_surrogate_gradient_equals_the_f32_ppo_gradient() {
    for (name, choice, space) in heads() {
        let net = network(choice, &space, &[64, 64], 12);
        let f = Fixture::new(&net, 1000, 13);
        let pol = PolicyF64::new(&net, Activation::Tanh).unwrap();
        let old = pol.log_probs(&f.batch()).unwrap();
        let g64 = pol
            .surrogate_grad(&f.batch(), &f.weights, &old, 0.0)
            .unwrap();
        let g32 = f32_ppo_actor_grad(&net, &f);
        let err = rel_err(&g64, &g32);
        eprintln!("A4 {name}: relative difference {err:.2e}");
        assert!(err < 1e-4, "{name}: {err}");
    }
}

#[test]
fn surrogate_grad_and_hvp_are_identical_for_one_and_two_threads() {
    let (_, choice, space) = heads().remove(2);
    let net = network(choice, &space, &[16], 14);
    // Over two chunks of 4096 rows, so the chunked parallel path is taken.
    let f = Fixture::new(&net, 9000, 15);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut pol = PolicyF64::new(&net, Activation::Tanh).unwrap();
            let old = pol.log_probs(&f.batch()).unwrap();
            let g = pol
                .surrogate_grad(&f.batch(), &f.weights, &old, 0.01)
                .unwrap();
            let v = normals(&mut rng(16), pol.num_params());
            let h = pol.hvp(&f.batch(), &f.weights, &old, 0.01, &v).unwrap();
            let s = pol.directional_scores(&f.batch(), &v).unwrap();
            (g, h, s)
        })
    };
    let (one, two) = (run(1), run(2));
    assert!(one.0 == two.0 && one.1 == two.1 && one.2 == two.2);
    assert!(norm(&one.1) > 0.0);
}
