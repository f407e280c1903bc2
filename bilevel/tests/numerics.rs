//! N1 (Neumann on a quadratic), N2 (implicit gradient of a quadratic bilevel problem) and N5
//! (adjoint GAE and ∂A/∂γ), all in f64.

mod common;

use carrot_agents::gae::{compute_gae, GaeInput};
use carrot_bilevel::adjoint::{adjoint_gae, gae_with_gamma_derivative};
use carrot_bilevel::hypergrad::{hypergradient, spectral_radius, HypergradOracle};
use carrot_bilevel::neumann::{neumann_series, NeumannSettings};
use common::*;
use rand::RngExt;

fn settings(terms: usize, alpha: f64) -> NeumannSettings {
    NeumannSettings {
        terms,
        alpha,
        guard: 10.0,
    }
}

/// H = −A, A SPD with eigenvalues in [1, 10]: each partial sum equals the closed form
/// Q diag((1 − (1 − αλ)^{K+1})/λ) Qᵀ g, and the error to A⁻¹g shrinks at rate ρ(I − αA).
#[test]
fn n1_neumann_matches_the_closed_form_and_converges_at_the_spectral_rate() {
    let mut r = rng(11);
    let eig = [1.0, 1.7, 2.5, 4.0, 6.3, 10.0];
    let (a, q) = spd(&mut r, &eig);
    let g = normals(&mut r, eig.len());
    let alpha = 0.15;
    let exact = solve(&a, &g);
    let mut errors = Vec::new();
    for k in 0..=60 {
        let res = neumann_series(&g, &settings(k, alpha), |v| {
            Ok::<_, ()>(a.mul(v).iter().map(|x| -x).collect())
        })
        .unwrap();
        assert_eq!((res.used, res.diverged), (k, false));
        let mut closed = vec![0.0; g.len()];
        for (qk, &l) in q.iter().zip(&eig) {
            let coef = (1.0 - (1.0 - alpha * l).powi(k as i32 + 1)) / l * dot(qk, &g);
            closed.iter_mut().zip(qk).for_each(|(c, x)| *c += coef * x);
        }
        assert!(
            rel_err(&res.p, &closed) < 1e-12,
            "K={k}: {}",
            rel_err(&res.p, &closed)
        );
        errors.push(rel_err(&res.p, &exact));
    }
    let rho = eig
        .iter()
        .map(|l| (1.0 - alpha * l).abs())
        .fold(0.0, f64::max);
    let measured = (errors[60] / errors[40]).powf(1.0 / 20.0);
    assert!(
        (measured - rho).abs() < 1e-3,
        "rate {measured} vs rho {rho}"
    );
    assert!(errors[60] < 2.0 * rho.powi(60) * errors[0], "{errors:?}");
}

#[test]
fn n1_guard_stops_a_diverging_series() {
    let mut r = rng(12);
    let eig = [1.0, 3.0, 10.0];
    let (a, _) = spd(&mut r, &eig);
    let g = normals(&mut r, 3);
    let hvp = |v: &[f64]| Ok::<_, ()>(a.mul(v).iter().map(|x| -x).collect::<Vec<_>>());
    // α > 2/λ_max: |1 − αλ_max| = 1.5, the terms grow geometrically.
    let bad = neumann_series(&g, &settings(50, 0.25), hvp).unwrap();
    assert!(
        bad.diverged && bad.used < 50 && bad.growth > 10.0,
        "{bad:?}"
    );
    assert!(bad.p.iter().all(|x| x.is_finite()));
    let good = neumann_series(&g, &settings(50, 0.19), hvp).unwrap();
    assert!(
        !good.diverged && good.used == 50 && good.growth <= 10.0,
        "{good:?}"
    );
}

/// J_φ(θ) = −½θᵀAθ + θᵀBφ, J_p(θ) = cᵀθ − ½θᵀCθ; θ* = A⁻¹Bφ.
struct Quadratic {
    a: Mat,
    b: Mat,
    c: Vec<f64>,
    cmat: Mat,
    phi: Vec<f64>,
}

impl Quadratic {
    fn theta_star(&self, phi: &[f64]) -> Vec<f64> {
        solve(&self.a, &self.b.mul(phi))
    }
    fn inner_grad(&self, theta: &[f64]) -> Vec<f64> {
        let bphi = self.b.mul(&self.phi);
        self.a
            .mul(theta)
            .iter()
            .zip(&bphi)
            .map(|(x, y)| y - x)
            .collect()
    }
    fn primary(&self, theta: &[f64]) -> f64 {
        dot(&self.c, theta) - 0.5 * dot(theta, &self.cmat.mul(theta))
    }
}

/// The oracle at θ*(φ): g_p exactly, HVPs by central differences of ∇θJ_φ, mixed = Bᵀp.
struct QuadOracle<'a>(&'a Quadratic, Vec<f64>);

impl HypergradOracle for QuadOracle<'_> {
    type Error = ();
    fn primary_grad(&mut self) -> Result<Vec<f64>, ()> {
        let ct = self.0.cmat.mul(&self.1);
        Ok(self.0.c.iter().zip(&ct).map(|(c, x)| c - x).collect())
    }
    fn hvp(&mut self, v: &[f64]) -> Result<Vec<f64>, ()> {
        let nv = norm(v);
        let eps = 1e-5;
        let at = |s: f64| -> Vec<f64> {
            self.1
                .iter()
                .zip(v)
                .map(|(t, d)| t + s * eps * d / nv)
                .collect()
        };
        let (gp, gm) = (self.0.inner_grad(&at(1.0)), self.0.inner_grad(&at(-1.0)));
        Ok(gp
            .iter()
            .zip(&gm)
            .map(|(p, m)| (p - m) / (2.0 * eps) * nv)
            .collect())
    }
    fn mixed_vjp(&mut self, p: &[f64]) -> Result<Vec<f64>, ()> {
        Ok(self.0.b.t_mul(p))
    }
}

#[test]
fn n2_implicit_gradient_of_a_quadratic_bilevel_problem() {
    let mut r = rng(21);
    let (n, m) = (7, 3);
    let (a, _) = spd(&mut r, &[1.0, 1.5, 2.0, 3.0, 4.5, 7.0, 10.0]);
    let (cmat, _) = spd(&mut r, &[0.5, 1.0, 1.0, 2.0, 2.0, 3.0, 4.0]);
    let q = Quadratic {
        a,
        b: random_mat(&mut r, n, m),
        c: normals(&mut r, n),
        cmat,
        phi: normals(&mut r, m),
    };
    let theta = q.theta_star(&q.phi);
    // Exact: Bᵀ A⁻¹ (c − Cθ*).
    let resid: Vec<f64> =
        q.c.iter()
            .zip(q.cmat.mul(&theta))
            .map(|(c, x)| c - x)
            .collect();
    let exact = q.b.t_mul(&solve(&q.a, &resid));
    let s = NeumannSettings {
        terms: 200,
        alpha: 0.1,
        guard: 10.0,
    };
    let h = hypergradient(&mut QuadOracle(&q, theta.clone()), &s, true).unwrap();
    assert!(
        rel_err(&h.grad, &exact) < 1e-7,
        "vs exact: {}",
        rel_err(&h.grad, &exact)
    );
    // Central difference of the outer objective J_p(θ*(φ)).
    let fd: Vec<f64> = (0..m)
        .map(|j| {
            let eps = 1e-5;
            let mut up = q.phi.clone();
            up[j] += eps;
            let mut down = q.phi.clone();
            down[j] -= eps;
            (q.primary(&q.theta_star(&up)) - q.primary(&q.theta_star(&down))) / (2.0 * eps)
        })
        .collect();
    assert!(
        rel_err(&h.grad, &fd) < 1e-7,
        "vs fd: {}",
        rel_err(&h.grad, &fd)
    );
    // First order is a different (cruder) direction but still ascends here.
    let fo = hypergradient(
        &mut QuadOracle(&q, theta),
        &NeumannSettings { terms: 0, ..s },
        false,
    )
    .unwrap();
    assert!(rel_err(&fo.grad, &exact) > 1e-3 && h.cos_fo.unwrap() > 0.0);
}

struct Rollout {
    n: usize,
    rewards: Vec<f32>,
    values: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    trunc_values: Vec<f32>,
    last: Vec<f32>,
}

impl Rollout {
    fn random(seed: u64, n: usize, t: usize) -> Self {
        let mut r = rng(seed);
        let b = n * t;
        let mut f =
            |scale: f32| -> Vec<f32> { (0..b).map(|_| r.random_range(-scale..scale)).collect() };
        let (rewards, values, trunc_values) = (f(2.0), f(5.0), f(5.0));
        let mut r = rng(seed + 1);
        let terminated: Vec<bool> = (0..b).map(|_| r.random_bool(0.08)).collect();
        let truncated: Vec<bool> = terminated
            .iter()
            .map(|&d| !d && r.random_bool(0.05))
            .collect();
        let last = (0..n).map(|_| r.random_range(-5.0..5.0f32)).collect();
        Rollout {
            n,
            rewards,
            values,
            terminated,
            truncated,
            trunc_values,
            last,
        }
    }
    fn input<'a>(&'a self, rewards: &'a [f32]) -> GaeInput<'a> {
        GaeInput {
            num_envs: self.n,
            rewards,
            values: &self.values,
            terminated: &self.terminated,
            truncated: &self.truncated,
            truncation_values: &self.trunc_values,
            last_values: &self.last,
        }
    }
}

#[test]
fn n5_adjoint_gae_dot_product_identity() {
    for (seed, n, t) in [(31, 1, 40), (32, 3, 57), (33, 8, 128)] {
        let ro = Rollout::random(seed, n, t);
        assert!(ro.terminated.iter().any(|&d| d) && ro.truncated.iter().any(|&d| d));
        let s = normals(&mut rng(seed + 7), n * t);
        let (gamma, lambda) = (0.97, 0.9);
        let zero = vec![0f32; n * t];
        let (a_r, _) = gae_with_gamma_derivative(&ro.input(&ro.rewards), gamma, lambda);
        let (a_0, _) = gae_with_gamma_derivative(&ro.input(&zero), gamma, lambda);
        // GAE is affine in r: the linear part is A(r) − A(0).
        let lhs: f64 = s
            .iter()
            .zip(a_r.iter().zip(&a_0))
            .map(|(s, (a, b))| s * (a - b))
            .sum();
        let c = adjoint_gae(&ro.input(&ro.rewards), &s, gamma, lambda);
        let rhs: f64 = c.iter().zip(&ro.rewards).map(|(c, &r)| c * r as f64).sum();
        assert!(
            (lhs - rhs).abs() < 1e-12 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
        // The f64 recursion is the trainer's compute_gae (which rounds to f32).
        let (adv32, _) = compute_gae(&ro.input(&ro.rewards), gamma, lambda);
        for (a, b) in a_r.iter().zip(&adv32) {
            assert!(
                (a - *b as f64).abs() <= 1e-6 * a.abs().max(1.0),
                "{a} vs {b}"
            );
        }
    }
}

#[test]
fn n5_gamma_derivative_matches_central_differences() {
    let ro = Rollout::random(41, 4, 96);
    let lambda = 0.95;
    for gamma in [0.9, 0.99] {
        let (_, d) = gae_with_gamma_derivative(&ro.input(&ro.rewards), gamma, lambda);
        // Fourth-order central difference, so truncation stays far below 1e-8.
        let h = 1e-4;
        let at = |g: f64| gae_with_gamma_derivative(&ro.input(&ro.rewards), g, lambda).0;
        let (p2, p1, m1, m2) = (
            at(gamma + 2.0 * h),
            at(gamma + h),
            at(gamma - h),
            at(gamma - 2.0 * h),
        );
        for i in 0..d.len() {
            let fd = (-p2[i] + 8.0 * p1[i] - 8.0 * m1[i] + m2[i]) / (12.0 * h);
            assert!(
                (fd - d[i]).abs() < 1e-8 * d[i].abs().max(1.0),
                "{i}: {fd} vs {}",
                d[i]
            );
        }
        // Against the trainer's f32 compute_gae: f32 rounding limits the difference quotient.
        let h = 1e-3;
        let (up, _) = compute_gae(&ro.input(&ro.rewards), gamma + h, lambda);
        let (down, _) = compute_gae(&ro.input(&ro.rewards), gamma - h, lambda);
        for i in 0..d.len() {
            let fd = (up[i] as f64 - down[i] as f64) / (2.0 * h);
            assert!(
                (fd - d[i]).abs() < 2e-3 * d[i].abs().max(10.0),
                "{i}: {fd} vs {}",
                d[i]
            );
        }
    }
}

/// The automatic Neumann step's |λ_max(H)|: H = −A with A's largest eigenvalue 10 well
/// separated from the next (3), so three power iterations from a random start land within 5%
/// (the error shrinks like (3/10)^k), and 0.5 / |λ_max| makes ρ(I + αH) < 1.
#[test]
fn spectral_radius_by_power_iteration() {
    let mut r = rng(33);
    let n = 6;
    let (a, _) = spd(&mut r, &[0.5, 1.0, 1.5, 2.0, 3.0, 10.0]);
    let q = Quadratic {
        a,
        b: random_mat(&mut r, n, 2),
        c: normals(&mut r, n),
        cmat: random_mat(&mut r, n, n),
        phi: normals(&mut r, 2),
    };
    let theta = q.theta_star(&q.phi);
    let start = normals(&mut r, n);
    let mut oracle = QuadOracle(&q, theta);
    let radius = spectral_radius(&mut oracle, &start, 3).unwrap();
    assert!((radius - 10.0).abs() < 0.5, "estimate {radius}");
    let more = spectral_radius(&mut oracle, &start, 30).unwrap();
    assert!((more - 10.0).abs() < 1e-4, "30 iterations: {more}");
    assert_eq!(spectral_radius(&mut oracle, &vec![0.0; n], 3).unwrap(), 0.0);
}
