//! Unit tests of `networks` (in a file of their own to keep `networks.rs` short).

use super::*;
use rand::SeedableRng;

#[test]
fn orthogonal_rows_or_columns_are_orthonormal_times_gain() {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
    for (rows, cols) in [(4, 64), (64, 64), (64, 2)] {
        let w = orthogonal(&mut rng, rows, cols, 2.0);
        let (n, len) = if rows >= cols {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let vec = |k: usize| -> Vec<f64> {
            (0..len)
                .map(|j| {
                    let (r, c) = if rows >= cols { (j, k) } else { (k, j) };
                    w[r * cols + c] as f64
                })
                .collect()
        };
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = vec(i).iter().zip(vec(j)).map(|(a, b)| a * b).sum();
                let want = if i == j { 4.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-4, "{rows}x{cols} ({i},{j}) {dot}");
            }
        }
    }
}

#[test]
fn same_seed_same_network_and_heads_resolve() {
    let cfg = PpoConfig::default();
    let space = Space::discrete(&["left", "right"]);
    let head = HeadKind::resolve(PolicyHead::Auto, &space).unwrap();
    let make = |seed| {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
        ActorCritic::new(&cfg, 4, head.clone(), &Device::Cpu, &mut rng).unwrap()
    };
    let (a, b) = (make(3), make(3));
    for ((na, va), (_, vb)) in a.params().iter().zip(b.params()) {
        let d = (va.as_tensor() - vb.as_tensor()).unwrap().abs().unwrap();
        assert_eq!(
            d.sum_all().unwrap().to_scalar::<f32>().unwrap(),
            0.0,
            "{na}"
        );
    }
    // 4*64+64 + 64*64+64 (x2 trunks) + 64*2+2 + 64*1+1
    assert_eq!(
        a.num_parameters(),
        2 * (4 * 64 + 64 + 64 * 64 + 64) + 130 + 65
    );
    let boxed = Space::boxed(&[("torque", -2.0, 2.0)]);
    assert!(HeadKind::resolve(PolicyHead::Categorical, &boxed).is_err());
    assert!(HeadKind::resolve(PolicyHead::Beta, &space).is_err());
    let unbounded = Space::boxed(&[("x", f32::NEG_INFINITY, 1.0)]);
    let err = HeadKind::resolve(PolicyHead::Beta, &unbounded)
        .unwrap_err()
        .to_string();
    assert!(err.contains("ppo.policy_head"), "{err}");
}
