//! E1: an enumerable contextual bandit (3 states, 2 actions, one-step episodes) where every
//! (state, action) row is present and weighted by its exact probability, so g_p, H and the mixed
//! term are exact expectations computed through the real code path (a tabular softmax
//! `PolicyF64`, the adjoint GAE, the blend's VJP). The inner problem
//! `max_θ E_π[r_φ] + c·H(π)` is solved to convergence with the same f64 surrogate gradients, and
//! the implicit hypergradient must match a central difference of `J_p(θ*(φ))`.

mod common;

use carrot_agents::PolicyF64;
use carrot_bilevel::hypergrad::hypergradient;
use carrot_bilevel::learned::{LearnedReward, SignalBlend};
use carrot_bilevel::neumann::{cosine, NeumannSettings};
use carrot_bilevel::oracle::{OracleInputs, PolicyOracle};
use common::bandit::{tabular_policy, Bandit, ROWS};
use common::rel_err;

const ENT: f64 = 1.0;
/// Primary and auxiliary reward per (state, action); the auxiliary disagrees in state 2. All
/// values, φ and the difference step are dyadic, so the f32 relabel is exact.
const PRIMARY: [f32; ROWS] = [1.0, 0.0, 0.25, 0.625, 0.0, 1.0];
const AUX: [f32; ROWS] = [0.5, 0.0, 0.375, 0.125, 1.0, 0.0];

fn bandit() -> Bandit {
    Bandit::new(|row| vec![PRIMARY[row], AUX[row]])
}

/// θ*(φ) for the blend's relabel of the bandit's signals.
fn solve(bandit: &Bandit, policy: &mut PolicyF64, reward: &SignalBlend) {
    let mut r = vec![0f32; ROWS];
    reward.relabel(&bandit.signals, &mut r);
    let r: Vec<f64> = r.iter().map(|&x| x as f64).collect();
    bandit.solve(policy, &r, ENT);
}

/// J_p = E_π[r_p].
fn primary_return(bandit: &Bandit, policy: &PolicyF64) -> f64 {
    let (w, _) = bandit.row_weights(policy);
    w.iter()
        .zip(PRIMARY)
        .map(|(w, r)| w * r as f64)
        .sum::<f64>()
        / ROWS as f64
}

fn blend(phi: &[f64]) -> SignalBlend {
    let mut b = SignalBlend::new(2, 0, &[("aux".into(), 1)]).unwrap();
    b.set_params(phi).unwrap();
    b
}

#[test]
fn e1_implicit_hypergradient_matches_the_outer_finite_difference() {
    let bandit = bandit();
    let phi = [0.25, 0.625];
    // Central difference of J_p(θ*(φ)).
    let outer = |phi: &[f64]| {
        let mut p = tabular_policy();
        solve(&bandit, &mut p, &blend(phi));
        primary_return(&bandit, &p)
    };
    let h = 1.0 / 1024.0;
    let fd: Vec<f64> = (0..2)
        .map(|j| {
            let (mut up, mut down) = (phi.to_vec(), phi.to_vec());
            up[j] += h;
            down[j] -= h;
            (outer(&up) - outer(&down)) / (2.0 * h)
        })
        .collect();
    let reward = blend(&phi);
    let mut p = tabular_policy();
    solve(&bandit, &mut p, &reward);
    let (row_weights, _) = bandit.row_weights(&p);
    let mut learned = vec![0f32; ROWS];
    reward.relabel(&bandit.signals, &mut learned);
    let primary: Vec<f64> = PRIMARY.iter().map(|&r| r as f64).collect();
    let hypergrad = |p: &mut PolicyF64, terms: usize| {
        let inputs = OracleInputs {
            batch: bandit.batch(),
            curvature_rows: None,
            gae: bandit.gae(&learned),
            signals: &bandit.signals,
            primary_advantages: &primary,
            gamma: 0.99,
            lambda: 0.95,
            ent_coef: ENT,
            normalize_advantages: false,
            gamma_logit: None,
            row_weights: Some(&row_weights),
        };
        let mut oracle = PolicyOracle::new(p, &reward, inputs).unwrap();
        let settings = NeumannSettings {
            terms,
            alpha: 3.0,
            guard: 1e6,
        };
        hypergradient(&mut oracle, &settings, false).unwrap()
    };
    let errors: Vec<f64> = [0, 10, 100, 400]
        .iter()
        .map(|&k| {
            let hg = hypergrad(&mut p, k);
            assert!(!hg.series.diverged, "K={k}");
            if k == 0 {
                assert!(
                    cosine(&hg.grad, &fd) > 0.0,
                    "first order {:?} vs {fd:?}",
                    hg.grad
                );
            }
            rel_err(&hg.grad, &fd)
        })
        .collect();
    eprintln!("E1: fd {fd:?}, relative errors for K = 0, 10, 100, 400: {errors:?}");
    assert!(errors[3] < 1e-6, "{errors:?}");
    // The series converges as K grows (down to the difference quotient's own error).
    assert!(
        errors[0] > errors[1] && errors[1] > 100.0 * errors[2],
        "{errors:?}"
    );
    // The bias shifts every action's reward alike: no effect on the policy.
    assert!(fd[0].abs() < 1e-8 && fd[1].abs() > 1e-3, "{fd:?}");
}
