//! E1 for A-PARL: on an enumerable contextual bandit (3 states, 2 actions, one-step episodes,
//! segments of one step), the upper objective is the expected Bradley–Terry log-likelihood
//! `G(ν) = Σ_{i,j} P_i P_j ℓ_ν(i, j)` over ordered pairs of rows drawn independently from the
//! converged policy θ*(ν) of `max_θ E_π[r_ν] + c·H(π)`, labelled by a fixed true reward. Its
//! total derivative is term 1 (∂G/∂ν at fixed θ, what PEBBLE follows) plus the A-PARL
//! correction `(dθ*/dν)ᵀ ∇θG`. The correction comes from the real code path
//! ([`weighted_row_weights`] and [`correction`]: the oracle, Neumann, adjoint GAE and the
//! reward ensemble's `param_vjp`), and term 1 + correction must equal a central difference of
//! G(ν) that re-solves θ*(ν ± h), while term 1 alone misses it by exactly the correction.

mod common;

use carrot_bilevel::neumann::NeumannSettings;
use carrot_bilevel::parl::aparl::{
    correction, row_weights, term1_gradient, weighted_row_weights, CorrectionProblem,
};
use carrot_bilevel::parl::buffer::PreferencePair;
use carrot_bilevel::parl::config::ModelConfig;
use carrot_bilevel::parl::model::{Normalization, RewardModel};
use carrot_bilevel::parl::segments::Segment;
use common::bandit::{tabular_policy, Bandit, ACTIONS, ROWS, STATES};
use common::{norm, rel_err};

const ENT: f64 = 0.5;
const SIGNALS: usize = 3;
/// Per (state, action) row: the true reward (the teacher's, all distinct) and the two signals
/// the reward model reads. The linear-tanh model cannot order the rows as the truth does.
const TRUE: [f32; ROWS] = [1.0, 0.0, 0.25, 0.75, -0.5, 0.5];
const X: [f32; ROWS] = [0.5, 1.0, 0.0, 1.5, -1.0, 0.75];
const Y: [f32; ROWS] = [-0.5, -0.25, -1.0, 0.0, -0.75, -0.25];
const NORM_MEAN: [f32; 2] = [0.25, -0.5];
const NORM_STD: [f32; 2] = [2.0, 0.5];
/// ν of a 2-member linear ensemble: member weights `[E, in]`, then member biases (dyadic, so
/// exact in the model's f32).
const NU: [f64; 6] = [0.5, 0.25, 0.75, -0.25, 0.125, -0.25];

fn bandit() -> Bandit {
    Bandit::new(|row| vec![TRUE[row], X[row], Y[row]])
}

/// r_ν per row in f64: the ensemble mean of tanh(w_e · (x − mean)/std + b_e).
fn reward_f64(nu: &[f64], row: usize) -> f64 {
    let x = [X[row], Y[row]].map(|v| v as f64);
    let xn: Vec<f64> = (0..2)
        .map(|k| (x[k] - NORM_MEAN[k] as f64) / NORM_STD[k] as f64)
        .collect();
    let member = |e: usize| (nu[2 * e] * xn[0] + nu[2 * e + 1] * xn[1] + nu[4 + e]).tanh();
    (member(0) + member(1)) / 2.0
}

/// The exact θ*(ν) as row probabilities: π*(a|s) ∝ exp(r(s, a)/c), P(row) = π*(a|s)/|S|.
fn optimal_row_probabilities(rewards: &[f64]) -> Vec<f64> {
    let mut p = vec![0f64; ROWS];
    for s in 0..STATES {
        let r = &rewards[s * ACTIONS..(s + 1) * ACTIONS];
        let top = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = r.iter().map(|r| ((r - top) / ENT).exp()).sum();
        for a in 0..ACTIONS {
            p[s * ACTIONS + a] = ((r[a] - top) / ENT).exp() / z / STATES as f64;
        }
    }
    p
}

/// P(σ1 ≻ σ0) for rows (i, j): 1, 0, or 0.5 on equal true rewards (i = j).
fn label(i: usize, j: usize) -> f64 {
    match TRUE[j].partial_cmp(&TRUE[i]).unwrap() {
        std::cmp::Ordering::Greater => 1.0,
        std::cmp::Ordering::Less => 0.0,
        std::cmp::Ordering::Equal => 0.5,
    }
}

fn log_sigmoid(x: f64) -> f64 {
    -((-x).exp().ln_1p())
}

/// G = Σ_{i,j} P_i P_j ℓ(i, j), ℓ = y log σ(d) + (1 − y) log σ(−d), d = r_j − r_i.
fn upper_objective(rewards: &[f64], probabilities: &[f64]) -> f64 {
    let mut g = 0.0;
    for i in 0..ROWS {
        for j in 0..ROWS {
            let (d, y) = (rewards[j] - rewards[i], label(i, j));
            let ell = y * log_sigmoid(d) + (1.0 - y) * log_sigmoid(-d);
            g += probabilities[i] * probabilities[j] * ell;
        }
    }
    g
}

fn rewards_f64(nu: &[f64]) -> Vec<f64> {
    (0..ROWS).map(|row| reward_f64(nu, row)).collect()
}

/// Central difference of G(ν) over ν; `moving_policy` re-solves θ*(ν ± h), else θ stays at
/// θ*(NU) (the partial derivative, term 1).
fn finite_difference(moving_policy: bool) -> Vec<f64> {
    let fixed = optimal_row_probabilities(&rewards_f64(&NU));
    let objective = |nu: &[f64]| {
        let r = rewards_f64(nu);
        let p = if moving_policy {
            optimal_row_probabilities(&r)
        } else {
            fixed.clone()
        };
        upper_objective(&r, &p)
    };
    let h = 1e-5;
    (0..NU.len())
        .map(|k| {
            let (mut up, mut down) = (NU.to_vec(), NU.to_vec());
            up[k] += h;
            down[k] -= h;
            (objective(&up) - objective(&down)) / (2.0 * h)
        })
        .collect()
}

fn model() -> RewardModel {
    let config = ModelConfig {
        members: 2,
        hidden: vec![],
        ..ModelConfig::default()
    };
    let inputs = ["x", "y"].map(String::from);
    let signals = ["true", "x", "y"].map(String::from);
    let norm = Normalization {
        mean: NORM_MEAN.to_vec(),
        std: NORM_STD.to_vec(),
    };
    let mut m = RewardModel::new(&config, &inputs, &signals, &signals[..1], norm, 3).unwrap();
    m.set_parameters_f64(&NU).unwrap();
    m
}

fn segment(row: usize) -> Segment {
    Segment {
        env: row,
        start_step: 0,
        rows: vec![row],
        inputs: vec![X[row], Y[row]],
        true_rewards: vec![TRUE[row]],
        mask: vec![1.0],
    }
}

/// Every ordered pair of rows with its probability P_i P_j.
fn enumerated_pairs(probabilities: &[f64]) -> (Vec<PreferencePair>, Vec<f64>) {
    let mut pairs = Vec::new();
    let mut q = Vec::new();
    for i in 0..ROWS {
        for j in 0..ROWS {
            pairs.push(PreferencePair {
                seg0: segment(i),
                seg1: segment(j),
                label: label(i, j) as f32,
            });
            q.push(probabilities[i] * probabilities[j]);
        }
    }
    (pairs, q)
}

/// Term 1, ∂G/∂ν at fixed θ, through the model's own VJP: ∂ℓ/∂d = y − σ(d).
fn term1(model: &RewardModel, bandit: &Bandit, probabilities: &[f64]) -> Vec<f64> {
    let r = model.evaluate_signals(&bandit.signals, SIGNALS).unwrap();
    let mut coefficient = vec![0f64; ROWS];
    for i in 0..ROWS {
        for j in 0..ROWS {
            let d = r[j] as f64 - r[i] as f64;
            let slope =
                probabilities[i] * probabilities[j] * (label(i, j) - 1.0 / (1.0 + (-d).exp()));
            coefficient[j] += slope;
            coefficient[i] -= slope;
        }
    }
    let rows = model.select_inputs(&bandit.signals, SIGNALS);
    model.param_vjp(&rows, &coefficient).unwrap()
}

#[test]
fn e1_aparl_term1_plus_correction_matches_the_upper_finite_difference() {
    let bandit = bandit();
    let model = model();
    // The model is the f64 formula the finite differences use.
    let r32 = model.evaluate_signals(&bandit.signals, SIGNALS).unwrap();
    let rewards = rewards_f64(&NU);
    for (a, b) in r32.iter().zip(&rewards) {
        assert!((*a as f64 - b).abs() < 1e-6, "{r32:?} vs {rewards:?}");
    }
    // θ*(ν) through the real surrogate, and the closed form the finite differences re-solve.
    let mut p = tabular_policy();
    bandit.solve(&mut p, &rewards, ENT);
    let logp = p.log_probs(&bandit.batch()).unwrap();
    let probabilities = optimal_row_probabilities(&rewards);
    for (lp, q) in logp.iter().zip(&probabilities) {
        assert!((lp.exp() / STATES as f64 - q).abs() < 1e-12, "{logp:?}");
    }
    let fd = finite_difference(true);
    let fd_term1 = finite_difference(false);
    let t1 = term1(&model, &bandit, &probabilities);
    assert!(rel_err(&t1, &fd_term1) < 1e-5, "{t1:?} vs {fd_term1:?}");

    let (pairs, q) = enumerated_pairs(&probabilities);
    let weights = weighted_row_weights(&model, &pairs, &q, ROWS).unwrap();
    let row_probability: Vec<f64> = probabilities.iter().map(|p| ROWS as f64 * p).collect();
    let zeros = vec![0f32; ROWS];
    let mut correction_with = |terms: usize| {
        let problem = CorrectionProblem {
            batch: bandit.batch(),
            gae: bandit.gae(&zeros),
            signals: &bandit.signals,
            num_signals: SIGNALS,
            gamma: 0.99,
            lambda: 0.95,
            ent_coef: ENT,
            normalize_advantages: false,
            row_weights: Some(&row_probability),
        };
        let neumann = NeumannSettings {
            terms,
            alpha: 3.0,
            guard: 1e6,
        };
        correction(&model, &weights, &mut p, problem, &neumann).unwrap()
    };
    let total = |c: &[f64]| -> Vec<f64> { t1.iter().zip(c).map(|(a, b)| a + b).collect() };
    let ks = [0, 10, 100, 400];
    let corrections: Vec<Vec<f64>> = ks.iter().map(|&k| correction_with(k)).collect();
    let errors: Vec<f64> = corrections
        .iter()
        .map(|c| rel_err(&total(c), &fd))
        .collect();
    let exact = &corrections[3];
    let missed: Vec<f64> = fd.iter().zip(&t1).map(|(f, t)| f - t).collect();
    eprintln!(
        "A-PARL E1: fd {fd:?}\n term1 {t1:?}\n correction {exact:?}\n |corr|/|fd| {}, \
         rel err of term1 alone {}, of term1 + correction for K = {ks:?}: {errors:?}, \
         (fd - term1) vs correction {}",
        norm(exact) / norm(&fd),
        rel_err(&t1, &fd),
        rel_err(exact, &missed)
    );
    // Floor: r_ν and the reward VJP run in f32 (weights rounded to f32, ~1e-7 relative); the
    // f64 central difference with h = 1e-5 is exact to ~1e-10.
    assert!(errors[3] < 1e-5, "{errors:?}");
    assert!(rel_err(exact, &missed) < 1e-4);
    // The correction is not negligible here: term 1 alone is far off.
    assert!(norm(exact) > 0.3 * norm(&fd) && rel_err(&t1, &fd) > 0.3);
    // The series converges as K grows.
    assert!(
        errors[0] > errors[1] && errors[1] > 10.0 * errors[2],
        "{errors:?}"
    );
}

/// The run's sampled form (each of N pairs weighs 1/N) is the enumerated form with uniform
/// probabilities.
#[test]
fn uniform_pair_probabilities_give_the_sampled_row_weights() {
    let model = model();
    let (pairs, _) = enumerated_pairs(&[1.0 / ROWS as f64; ROWS]);
    let uniform = vec![1.0 / pairs.len() as f64; pairs.len()];
    let sampled = row_weights(&model, &pairs, ROWS).unwrap();
    let weighted = weighted_row_weights(&model, &pairs, &uniform, ROWS).unwrap();
    assert!(norm(&sampled) > 1e-3, "{sampled:?}");
    assert!(
        rel_err(&weighted, &sampled) < 1e-14,
        "{weighted:?} vs {sampled:?}"
    );
    assert!(weighted_row_weights(&model, &pairs, &uniform[1..], ROWS).is_err());
}

/// The run's term-1 diagnostic (`term1_gradient`, 1/N per sampled pair) is this fixture's
/// term 1 when the N pairs are the enumerated ones with uniform rows (q = 1/N each).
#[test]
fn the_runs_term1_gradient_is_the_uniform_pair_term1() {
    let bandit = bandit();
    let model = model();
    let uniform = vec![1.0 / ROWS as f64; ROWS];
    let (pairs, _) = enumerated_pairs(&uniform);
    let run = term1_gradient(&model, &pairs, &bandit.signals, SIGNALS).unwrap();
    let fixture = term1(&model, &bandit, &uniform);
    assert!(rel_err(&run, &fixture) < 1e-6, "{run:?} vs {fixture:?}");
    assert!(
        run.iter().any(|g| g.abs() > 1e-3),
        "a non-trivial gradient: {run:?}"
    );
}
