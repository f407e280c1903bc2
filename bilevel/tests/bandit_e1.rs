//! E1: an enumerable contextual bandit (3 states, 2 actions, one-step episodes) where every
//! (state, action) row is present and weighted by its exact probability, so g_p, H and the mixed
//! term are exact expectations computed through the real code path (a tabular softmax
//! `PolicyF64`, the adjoint GAE, the blend's VJP). The inner problem
//! `max_θ E_π[r_φ] + c·H(π)` is solved to convergence with the same f64 surrogate gradients, and
//! the implicit hypergradient must match a central difference of `J_p(θ*(φ))`.

mod common;

use candle_core::Device;
use carrot_agents::config::{Activation, PpoConfig};
use carrot_agents::gae::GaeInput;
use carrot_agents::networks::{ActorCritic, HeadKind};
use carrot_agents::{PgBatch, PolicyF64};
use carrot_bilevel::hypergrad::hypergradient;
use carrot_bilevel::learned::{LearnedReward, SignalBlend};
use carrot_bilevel::neumann::{cosine, NeumannSettings};
use carrot_bilevel::oracle::{OracleInputs, PolicyOracle};
use common::{rel_err, rng};

const STATES: usize = 3;
const ACTIONS: usize = 2;
const ROWS: usize = STATES * ACTIONS;
const ENT: f64 = 1.0;
/// Primary and auxiliary reward per (state, action); the auxiliary disagrees in state 2. All
/// values, φ and the difference step are dyadic, so the f32 relabel is exact.
const PRIMARY: [f32; ROWS] = [1.0, 0.0, 0.25, 0.625, 0.0, 1.0];
const AUX: [f32; ROWS] = [0.5, 0.0, 0.375, 0.125, 1.0, 0.0];

struct Bandit {
    obs: Vec<f32>,
    actions: Vec<f32>,
    signals: Vec<f32>,
}

impl Bandit {
    fn new() -> Self {
        let mut obs = vec![0f32; ROWS * STATES];
        let mut actions = vec![0f32; ROWS];
        let mut signals = vec![0f32; ROWS * 2];
        for s in 0..STATES {
            for a in 0..ACTIONS {
                let row = s * ACTIONS + a;
                obs[row * STATES + s] = 1.0;
                actions[row] = a as f32;
                signals[row * 2] = PRIMARY[row];
                signals[row * 2 + 1] = AUX[row];
            }
        }
        Bandit {
            obs,
            actions,
            signals,
        }
    }

    fn batch(&self) -> PgBatch<'_> {
        PgBatch {
            obs: &self.obs,
            obs_dim: STATES,
            actions: &self.actions,
            action_dim: 1,
            rows: None,
        }
    }

    /// B · P(row) = B · (1/|S|) · π(a|s): turns the oracle's row averages into expectations.
    fn weights(&self, policy: &PolicyF64) -> (Vec<f64>, Vec<f64>) {
        let logp = policy.log_probs(&self.batch()).unwrap();
        let w = logp
            .iter()
            .map(|lp| ROWS as f64 / STATES as f64 * lp.exp())
            .collect();
        (w, logp)
    }

    /// θ*(φ): gradient ascent on E_π[r_φ] + c·H̄ with the f64 surrogate gradient.
    fn solve(&self, policy: &mut PolicyF64, reward: &SignalBlend) {
        let mut r = vec![0f32; ROWS];
        reward.relabel(&self.signals, &mut r);
        for _ in 0..20_000 {
            let (w, logp) = self.weights(policy);
            let weights: Vec<f64> = w.iter().zip(&r).map(|(w, &r)| w * r as f64).collect();
            let g = policy
                .surrogate_grad(&self.batch(), &weights, &logp, ENT)
                .unwrap();
            if g.iter().map(|x| x * x).sum::<f64>().sqrt() < 1e-13 {
                return;
            }
            let theta: Vec<f64> = policy
                .theta()
                .unwrap()
                .iter()
                .zip(&g)
                .map(|(t, g)| t + 3.0 * g)
                .collect();
            policy.set_theta(&theta).unwrap();
        }
        panic!("the inner problem did not converge");
    }

    /// J_p = E_π[r_p].
    fn primary_return(&self, policy: &PolicyF64) -> f64 {
        let (w, _) = self.weights(policy);
        w.iter()
            .zip(PRIMARY)
            .map(|(w, r)| w * r as f64)
            .sum::<f64>()
            / ROWS as f64
    }
}

fn policy() -> PolicyF64 {
    let cfg = PpoConfig {
        hidden_sizes: vec![],
        ..PpoConfig::default()
    };
    let head = HeadKind::Categorical { n: ACTIONS };
    let net = ActorCritic::new(&cfg, STATES, head, &Device::Cpu, &mut rng(1)).unwrap();
    PolicyF64::new(&net, Activation::Tanh).unwrap()
}

fn blend(phi: &[f64]) -> SignalBlend {
    let mut b = SignalBlend::new(2, 0, &[("aux".into(), 1)]).unwrap();
    b.set_params(phi).unwrap();
    b
}

#[test]
fn e1_implicit_hypergradient_matches_the_outer_finite_difference() {
    let bandit = Bandit::new();
    let phi = [0.25, 0.625];
    // Central difference of J_p(θ*(φ)).
    let outer = |phi: &[f64]| {
        let mut p = policy();
        bandit.solve(&mut p, &blend(phi));
        bandit.primary_return(&p)
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
    let mut p = policy();
    bandit.solve(&mut p, &reward);
    let (row_weights, _) = bandit.weights(&p);
    let mut learned = vec![0f32; ROWS];
    reward.relabel(&bandit.signals, &mut learned);
    let primary: Vec<f64> = PRIMARY.iter().map(|&r| r as f64).collect();
    let zeros = vec![0f32; ROWS];
    let hypergrad = |p: &mut PolicyF64, terms: usize| {
        let inputs = OracleInputs {
            batch: bandit.batch(),
            curvature_rows: None,
            gae: GaeInput {
                num_envs: ROWS,
                rewards: &learned,
                values: &zeros,
                terminated: &[true; ROWS],
                truncated: &[false; ROWS],
                truncation_values: &zeros,
                last_values: &zeros,
            },
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
