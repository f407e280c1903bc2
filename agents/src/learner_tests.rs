//! Chunked gradient evaluation against one pass over the whole mini-batch.

use candle_core::Device;
use rand::SeedableRng;

use crate::bench::parity_batch;
use crate::config::PpoConfig;
use crate::learner::{graph_loss_and_grads, minibatch_loss, Minibatch, CPU_CHUNK_ROWS};
use crate::losses::LossCoefs;
use crate::networks::{ActorCritic, HeadKind};
use crate::optimizer::host_grads;

/// Shared with the native learner's tests.
pub(crate) const OBS_DIM: usize = 6;
pub(crate) const COEFS: LossCoefs = LossCoefs {
    clip_coef: 0.2,
    clip_vloss: true,
    ent_coef: 0.01,
    vf_coef: 0.5,
};

pub(crate) fn heads() -> [HeadKind; 3] {
    [
        HeadKind::Categorical { n: 3 },
        HeadKind::Gaussian { dim: 2 },
        HeadKind::Beta {
            low: vec![-1.0, 0.0],
            high: vec![1.0, 2.0],
        },
    ]
}

fn net_and_batch(head: HeadKind, rows: usize) -> (ActorCritic, Minibatch) {
    let cfg = PpoConfig {
        hidden_sizes: vec![32, 32],
        ..Default::default()
    };
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
    let net = ActorCritic::new(&cfg, OBS_DIM, head, &Device::Cpu, &mut rng).unwrap();
    let mb = parity_batch(&net, OBS_DIM, rows).unwrap();
    (net, mb)
}

/// The statistics and gradients of one pass over all rows.
fn one_pass(net: &ActorCritic, mb: &Minibatch) -> (Vec<f32>, Vec<Vec<f32>>) {
    let loss = minibatch_loss(net, mb, &COEFS, &mut |_| {}).unwrap();
    let stats = loss.stats.to_vec1::<f32>().unwrap();
    let grads = host_grads(net.params(), &loss.total.backward().unwrap()).unwrap();
    (stats, grads)
}

fn chunked(net: &ActorCritic, mb: &Minibatch) -> (Vec<f32>, Vec<Vec<f32>>) {
    graph_loss_and_grads(net, mb, &COEFS, &mut |_| {}, &mut |_| Ok(())).unwrap()
}

#[test]
fn a_mini_batch_of_at_most_one_chunk_takes_one_pass_bit_for_bit() {
    for head in heads() {
        let (net, mb) = net_and_batch(head, CPU_CHUNK_ROWS);
        assert_eq!(chunked(&net, &mb), one_pass(&net, &mb));
    }
}

#[test]
fn chunked_loss_and_gradients_match_one_pass() {
    // Two and a half chunks: the last, shorter chunk must be weighted by its own share.
    let rows = 2 * CPU_CHUNK_ROWS + CPU_CHUNK_ROWS / 2;
    for head in heads() {
        let (net, mb) = net_and_batch(head.clone(), rows);
        let (stats, grads) = chunked(&net, &mb);
        let (stats_ref, grads_ref) = one_pass(&net, &mb);
        for (i, (a, b)) in stats.iter().zip(&stats_ref).enumerate() {
            let scale = b.abs().max(0.1);
            assert!(
                (a - b).abs() <= 1e-5 * scale,
                "{head:?} stat {i}: {a} vs {b}"
            );
        }
        assert!(
            stats_ref[4] > 0.0,
            "{head:?}: the batch should clip some ratios"
        );
        for (p, (g, g_ref)) in grads.iter().zip(&grads_ref).enumerate() {
            let scale = g_ref.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(scale > 0.0, "{head:?} parameter {p} has no gradient");
            for (a, b) in g.iter().zip(g_ref) {
                assert!(
                    (a - b).abs() <= 1e-4 * scale,
                    "{head:?} parameter {p}: {a} vs {b} (max |g| {scale})"
                );
            }
        }
    }
}

#[test]
fn weighting_chunks_equally_would_be_caught() {
    // The test above must be able to fail: with the last chunk weighted like a full one, the
    // sum of chunk means is not the mini-batch mean.
    let rows = 2 * CPU_CHUNK_ROWS + CPU_CHUNK_ROWS / 2;
    let (net, mb) = net_and_batch(HeadKind::Gaussian { dim: 2 }, rows);
    let (_, grads_ref) = one_pass(&net, &mb);
    let mut wrong: Vec<Vec<f32>> = grads_ref.iter().map(|g| vec![0.0; g.len()]).collect();
    for start in (0..rows).step_by(CPU_CHUNK_ROWS) {
        let end = (start + CPU_CHUNK_ROWS).min(rows);
        let part = slice_rows(&mb, start, end);
        let (_, g) = one_pass(&net, &part);
        for (w, g) in wrong.iter_mut().zip(&g) {
            w.iter_mut().zip(g).for_each(|(a, b)| *a += b / 3.0);
        }
    }
    let (_, grads) = chunked(&net, &mb);
    let max_diff = |x: &[Vec<f32>]| {
        x.iter()
            .flatten()
            .zip(grads_ref.iter().flatten())
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
    };
    assert!(max_diff(&wrong) > 10.0 * max_diff(&grads));
}

fn slice_rows(mb: &Minibatch, start: usize, end: usize) -> Minibatch {
    let width = |v: &[f32]| v.len() / mb.len;
    let cut = |v: &[f32]| v[start * width(v)..end * width(v)].to_vec();
    Minibatch {
        len: end - start,
        obs: cut(&mb.obs),
        actions: cut(&mb.actions),
        old_logp: cut(&mb.old_logp),
        old_values: cut(&mb.old_values),
        advantages: cut(&mb.advantages),
        returns: cut(&mb.returns),
    }
}
