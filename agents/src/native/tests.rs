//! The native learner against candle's graph (with the CPU custom ops), and its determinism.

use candle_core::Device;
use rand::SeedableRng;

use super::pass::with_baseline_code;
use crate::bench::{parity_batch, synthetic_batch};
use crate::config::{Activation, PpoConfig};
use crate::learner::tests::{heads, COEFS, OBS_DIM};
use crate::learner::{graph_loss_and_grads, Minibatch};
use crate::networks::{ActorCritic, HeadKind};
use crate::optimizer::host_params;

/// Network shapes to cover: separate tanh trunks, a shared relu trunk, privileged critic
/// columns, and no hidden layers at all.
fn configs() -> Vec<PpoConfig> {
    let base = PpoConfig {
        hidden_sizes: vec![32, 24],
        ..Default::default()
    };
    vec![
        base.clone(),
        PpoConfig {
            activation: Activation::Relu,
            shared_trunk: true,
            ..base.clone()
        },
        PpoConfig {
            critic_signals: vec!["a".into(), "b".into(), "c".into()],
            ..base.clone()
        },
        PpoConfig {
            hidden_sizes: vec![],
            ..base
        },
    ]
}

fn net_and_batch(
    cfg: &PpoConfig,
    head: HeadKind,
    rows: usize,
    seed: u64,
) -> (ActorCritic, Minibatch) {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let net = ActorCritic::new(cfg, OBS_DIM, head, &Device::Cpu, &mut rng).unwrap();
    let width = OBS_DIM + net.privileged_dim();
    let mut mb = parity_batch(&net, width, rows).unwrap();
    crate::losses::normalize_advantages(&mut mb.advantages);
    (net, mb)
}

fn native(net: &ActorCritic, mb: &Minibatch) -> (Vec<f32>, Vec<Vec<f32>>) {
    let params = host_params(net.params()).unwrap();
    super::loss_and_grads(&net.layout(), &params, mb, &COEFS, None).unwrap()
}

fn graph(net: &ActorCritic, mb: &Minibatch) -> (Vec<f32>, Vec<Vec<f32>>) {
    graph_loss_and_grads(net, mb, &COEFS, &mut |_| {}, &mut |_| Ok(())).unwrap()
}

#[test]
fn matches_the_graph_learner_for_every_head_and_network_shape() {
    for cfg in configs() {
        for head in heads() {
            // 50 rows: one chunk on the calling thread; 3000: many chunks over several lanes.
            for rows in [50, 3000] {
                let (net, mb) = net_and_batch(&cfg, head.clone(), rows, 3);
                let ((ns, ng), (gs, gg)) = (native(&net, &mb), graph(&net, &mb));
                let what = format!("{head:?}, rows {rows}, {cfg:?}");
                for (i, (a, b)) in ns.iter().zip(&gs).enumerate() {
                    let scale = b.abs().max(0.1);
                    assert!(
                        (a - b).abs() <= 1e-4 * scale,
                        "stat {i}: {a} vs {b} ({what})"
                    );
                }
                assert_eq!(ng.len(), gg.len());
                for (k, (a, b)) in ng.iter().zip(&gg).enumerate() {
                    let name = &net.params()[k].0;
                    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
                    assert!(scale > 0.0, "{name}: no gradient ({what})");
                    let worst = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                    assert!(
                        worst <= 1e-3 * scale,
                        "{name}: {worst} vs scale {scale} ({what})"
                    );
                }
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let cfg = &configs()[0];
    for head in heads() {
        let (net, mb) = net_and_batch(cfg, head, 5000, 5);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| native(&net, &mb))
        };
        let one = run(1);
        assert_eq!(one, run(3));
        assert_eq!(one, run(2));
    }
}

#[test]
fn vector_and_baseline_code_give_the_same_bits() {
    for cfg in configs() {
        for head in heads() {
            // One chunk, so it runs on this thread, where the baseline switch applies.
            let (net, mb) = net_and_batch(&cfg, head, 100, 7);
            assert_eq!(native(&net, &mb), with_baseline_code(|| native(&net, &mb)));
        }
    }
}

#[test]
fn the_clipped_branches_are_exercised_and_differ_from_unclipped() {
    // With recorded log-probabilities far from the network's, most ratios clip: the policy
    // gradient then vanishes for those rows, which a formula ignoring the clip would not do.
    let (net, mut mb) = net_and_batch(&configs()[0], HeadKind::Gaussian { dim: 2 }, 400, 9);
    mb.old_logp.iter_mut().for_each(|v| *v -= 1.0);
    let ((stats, g), (gstats, gg)) = (native(&net, &mb), graph(&net, &mb));
    assert!(stats[4] > 0.9, "clip fraction {}", stats[4]);
    assert!((stats[4] - gstats[4]).abs() < 1e-6);
    let policy_bias = net
        .params()
        .iter()
        .position(|(n, _)| n == "policy.bias")
        .unwrap();
    for (a, b) in g[policy_bias].iter().zip(&gg[policy_bias]) {
        assert!((a - b).abs() <= 1e-6 + 1e-3 * b.abs(), "{a} vs {b}");
    }
}

#[test]
fn rows_of_the_wrong_width_are_an_error() {
    let cfg = &configs()[2];
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
    let net = ActorCritic::new(
        cfg,
        OBS_DIM,
        HeadKind::Categorical { n: 2 },
        &Device::Cpu,
        &mut rng,
    )
    .unwrap();
    // Observation-only rows for a critic that also reads 3 privileged columns.
    let mut mb = synthetic_batch(&net, OBS_DIM + 3, 10).unwrap();
    mb.obs = mb
        .obs
        .chunks(OBS_DIM + 3)
        .flat_map(|r| r[..OBS_DIM].to_vec())
        .collect();
    let params = host_params(net.params()).unwrap();
    let err = super::loss_and_grads(&net.layout(), &params, &mb, &COEFS, None).unwrap_err();
    assert!(err.contains("6 observation + 3 privileged"), "{err}");
}
