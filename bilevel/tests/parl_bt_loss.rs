//! P1: the Bradley–Terry loss and its gradient against hand-computed values.

use candle_core::{Device, Tensor, Var};
use carrot_bilevel::parl::training::{bt_loss, pair_logits};

fn softplus(x: f64) -> f64 {
    (1.0 + x.exp()).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Loss and gradient w.r.t. the step rewards `[P, 2, L]` through the production functions.
fn loss_and_grad(rewards: &[f32], mask: &[f32], labels: &[f32], l: usize) -> (f64, Vec<f32>) {
    let p = labels.len();
    let dev = Device::Cpu;
    let r = Var::from_vec(rewards.to_vec(), (p, 2, l), &dev).unwrap();
    let m = Tensor::from_vec(mask.to_vec(), (p, 2, l), &dev).unwrap();
    let y = Tensor::from_vec(labels.to_vec(), p, &dev).unwrap();
    let loss = bt_loss(&pair_logits(r.as_tensor(), &m).unwrap(), &y).unwrap();
    let grad = loss.backward().unwrap().get(r.as_tensor()).unwrap().clone();
    let grad = grad.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    (loss.to_scalar::<f32>().unwrap() as f64, grad)
}

#[test]
fn loss_matches_hand_computation_and_gradient_is_p_minus_y() {
    // Three pairs of 2-step segments; pair 2's σ1 has a padded last step holding 9.
    let l = 2;
    let rewards = [
        0.5, 0.2, 0.9, 0.4, // pair 0: R0 = 0.7, R1 = 1.3, d = 0.6
        0.1, 0.3, -0.5, 0.2, // pair 1: R0 = 0.4, R1 = -0.3, d = -0.7
        0.2, 0.2, 0.4, 9.0, // pair 2: R0 = 0.4, R1 = 0.4 (masked 9), d = 0
    ];
    let mask = [1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 0.];
    let labels = [1.0, 1.0, 0.5];
    let d = [0.6f64, -0.7, 0.0];
    let want: f64 = d
        .iter()
        .zip(labels)
        .map(|(&d, y)| softplus(d) - y as f64 * d)
        .sum::<f64>()
        / 3.0;
    let (loss, grad) = loss_and_grad(&rewards, &mask, &labels, l);
    assert!((loss - want).abs() < 1e-6, "{loss} vs {want}");
    for (i, (&d, y)) in d.iter().zip(labels).enumerate() {
        let g = (sigmoid(d) - y as f64) / 3.0; // ∂loss/∂R1; ∂loss/∂R0 is its negative
        for k in 0..l {
            let m0 = mask[i * 4 + k] as f64;
            let m1 = mask[i * 4 + l + k] as f64;
            assert!(
                (grad[i * 4 + k] as f64 + g * m0).abs() < 1e-6,
                "pair {i} σ0 step {k}"
            );
            assert!(
                (grad[i * 4 + l + k] as f64 - g * m1).abs() < 1e-6,
                "pair {i} σ1 step {k}"
            );
        }
    }
    // y = 0.5 on equal returns: zero gradient everywhere in that pair; the padded step of
    // pair 2 gets exactly zero whatever it holds.
    assert!(grad[8..12].iter().all(|&g| g == 0.0), "{:?}", &grad[8..12]);
}

#[test]
fn gradient_matches_finite_differences_of_the_returns() {
    let l = 3;
    let rewards = [
        0.3f32, -0.2, 0.7, 0.1, 0.4, -0.6, 0.9, 0.2, -0.1, 0.5, 0.5, 0.3,
    ];
    let mask = [1.0f32; 12];
    let labels = [0.0, 1.0];
    let (_, grad) = loss_and_grad(&rewards, &mask, &labels, l);
    let h = 1e-2f32;
    for k in 0..rewards.len() {
        let mut plus = rewards;
        let mut minus = rewards;
        plus[k] += h;
        minus[k] -= h;
        let fd = (loss_and_grad(&plus, &mask, &labels, l).0
            - loss_and_grad(&minus, &mask, &labels, l).0)
            / (2.0 * h as f64);
        assert!(
            (fd - grad[k] as f64).abs() < 1e-4,
            "step {k}: fd {fd} vs {}",
            grad[k]
        );
    }
}

#[test]
fn swapping_the_segments_and_the_label_leaves_the_loss_unchanged() {
    let l = 2;
    let rewards = [0.3f32, 0.8, -0.4, 0.2, 1.5, -0.3, 0.0, 0.25];
    let mask = [1.0f32, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0];
    let labels = [1.0f32, 0.5];
    let swap = |v: &[f32]| -> Vec<f32> {
        v.chunks(2 * l)
            .flat_map(|pair| {
                pair[l..]
                    .iter()
                    .chain(&pair[..l])
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let swapped_labels: Vec<f32> = labels.iter().map(|y| 1.0 - y).collect();
    let (a, _) = loss_and_grad(&rewards, &mask, &labels, l);
    let (b, _) = loss_and_grad(&swap(&rewards), &swap(&mask), &swapped_labels, l);
    assert!((a - b).abs() < 1e-7, "{a} vs {b}");
    // A large logit stays finite (stable softplus).
    let big = [40.0f32, 40.0, -40.0, -40.0];
    let (loss, grad) = loss_and_grad(&big, &[1.0; 4], &[1.0], l);
    assert!(
        (loss - 160.0).abs() < 1e-3 && grad.iter().all(|g| g.is_finite()),
        "{loss}"
    );
}

#[test]
fn loss_sums_members_and_averages_pairs() {
    // Leading member dim: two members with the same single pair give twice the loss.
    let dev = Device::Cpu;
    let r = Tensor::from_vec(vec![0.1f32, 0.4, 0.1, 0.4], (2, 1, 2, 1), &dev).unwrap();
    let m = Tensor::ones((2, 1, 2, 1), candle_core::DType::F32, &dev).unwrap();
    let y = Tensor::from_vec(vec![0.0f32, 0.0], (2, 1), &dev).unwrap();
    let loss = bt_loss(&pair_logits(&r, &m).unwrap(), &y)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap() as f64;
    assert!((loss - 2.0 * softplus(0.3)).abs() < 1e-6, "{loss}");
}
