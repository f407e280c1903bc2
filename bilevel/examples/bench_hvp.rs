//! Cost of the f64 policy passes at CaRL-sized batches: one `surrogate_grad`, one HVP (two
//! gradient passes) and one set of directional scores (two forward passes), on a cartpole-shaped
//! policy (4 observations, 2 actions, 64×64 tanh). For scale, the last column is one f32
//! forward + backward of PPO's loss over the same rows with the fused kernels.
//!
//! `cargo run --release -p carrot-bilevel --example bench_hvp [-- ROWS...]`

use std::time::Instant;

use candle_core::Device;
use candle_core::Tensor;
use carrot_agents::config::{Activation, PpoConfig};
use carrot_agents::distributions::standard_normal;
use carrot_agents::losses::{ppo_loss, Evaluation, LossCoefs, Targets};
use carrot_agents::networks::{ActorCritic, HeadKind};
use carrot_agents::{PgBatch, PolicyF64};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![4096, 65_536]
    } else {
        sizes
    };
    let cfg = PpoConfig {
        hidden_sizes: vec![64, 64],
        ..PpoConfig::default()
    };
    let mut rng = Pcg64Mcg::seed_from_u64(1);
    let net = ActorCritic::new(
        &cfg,
        4,
        HeadKind::Categorical { n: 2 },
        &Device::Cpu,
        &mut rng,
    )
    .unwrap();
    let mut policy = PolicyF64::new(&net, Activation::Tanh).unwrap();
    println!(
        "threads {}, |theta| {}",
        rayon::current_num_threads(),
        policy.num_params()
    );
    println!(
        "{:>8} {:>14} {:>10} {:>12} {:>10}",
        "rows", "surrogate_grad", "hvp", "dir_scores", "log_probs"
    );
    for rows in sizes {
        let obs: Vec<f32> = (0..rows * 4)
            .map(|_| standard_normal(&mut rng) as f32)
            .collect();
        let actions: Vec<f32> = (0..rows).map(|i| (i % 2) as f32).collect();
        let weights: Vec<f64> = (0..rows).map(|_| standard_normal(&mut rng)).collect();
        let batch = PgBatch {
            obs: &obs,
            obs_dim: 4,
            actions: &actions,
            action_dim: 1,
            rows: None,
        };
        let old = policy.log_probs(&batch).unwrap();
        let v: Vec<f64> = (0..policy.num_params())
            .map(|_| standard_normal(&mut rng))
            .collect();
        let reps = if rows > 20_000 { 3 } else { 7 };
        let grad = median_ms(reps, || {
            policy.surrogate_grad(&batch, &weights, &old, 0.01).unwrap();
        });
        let hvp = median_ms(reps, || {
            policy.hvp(&batch, &weights, &old, 0.01, &v).unwrap();
        });
        let scores = median_ms(reps, || {
            policy.directional_scores(&batch, &v).unwrap();
        });
        let logp = median_ms(reps, || {
            policy.log_probs(&batch).unwrap();
        });
        let f32_grad = median_ms(reps, || f32_ppo_gradient(&net, &obs, &actions, &weights));
        println!("{rows:>8} {grad:>12.1}ms {hvp:>8.1}ms {scores:>10.1}ms {logp:>8.1}ms {f32_grad:>10.1}ms");
    }
}

/// One f32 PPO loss gradient (policy + value) over all rows, as the learner computes it.
fn f32_ppo_gradient(net: &ActorCritic, obs: &[f32], actions: &[f32], adv: &[f64]) {
    let dev = net.device();
    let m = actions.len();
    let obs = Tensor::from_slice(obs, (m, 4), dev).unwrap();
    let act = Tensor::from_slice(actions, (m, 1), dev).unwrap();
    let adv: Vec<f32> = adv.iter().map(|&a| a as f32).collect();
    let adv = Tensor::from_slice(&adv, m, dev).unwrap();
    let (dist, values) = net.forward(&obs).unwrap();
    let logp = dist.log_prob(&act).unwrap();
    let entropy = dist.entropy().unwrap();
    let old = logp.detach();
    let coefs = LossCoefs {
        clip_coef: 0.2,
        clip_vloss: true,
        ent_coef: 0.01,
        vf_coef: 0.5,
    };
    let eval = Evaluation {
        logp: &logp,
        entropy: &entropy,
        values: &values,
    };
    let targets = Targets {
        old_logp: &old,
        old_values: &adv,
        advantages: &adv,
        returns: &adv,
    };
    let loss = ppo_loss(&eval, &targets, &coefs).unwrap();
    loss.total.backward().unwrap();
}
