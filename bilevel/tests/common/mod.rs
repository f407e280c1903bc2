//! Shared fixtures: seeded random numbers, small dense linear algebra, and f64 policies.
#![allow(dead_code)]

use candle_core::Device;
use carrot_agents::config::{Activation, PolicyHead, PpoConfig};
use carrot_agents::distributions::standard_normal;
use carrot_agents::networks::{ActorCritic, HeadKind};
use carrot_envs::Space;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

pub mod bandit;
pub mod parl;

pub fn rng(seed: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(seed)
}

pub fn normals(rng: &mut Pcg64Mcg, n: usize) -> Vec<f64> {
    (0..n).map(|_| standard_normal(rng)).collect()
}

pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    let diff: Vec<f64> = got.iter().zip(want).map(|(a, b)| a - b).collect();
    norm(&diff) / norm(want).max(1e-300)
}

/// Row-major square matrix.
#[derive(Clone, Debug)]
pub struct Mat {
    pub n: usize,
    pub m: usize,
    pub a: Vec<f64>,
}

impl Mat {
    pub fn mul(&self, v: &[f64]) -> Vec<f64> {
        (0..self.n)
            .map(|i| dot(&self.a[i * self.m..(i + 1) * self.m], v))
            .collect()
    }
    pub fn t_mul(&self, v: &[f64]) -> Vec<f64> {
        (0..self.m)
            .map(|j| (0..self.n).map(|i| self.a[i * self.m + j] * v[i]).sum())
            .collect()
    }
}

/// Orthonormal n×n by Gram-Schmidt; columns in `q[k]`.
pub fn orthonormal(rng: &mut Pcg64Mcg, n: usize) -> Vec<Vec<f64>> {
    let mut q: Vec<Vec<f64>> = Vec::new();
    while q.len() < n {
        let mut v = normals(rng, n);
        for u in &q {
            let d = dot(&v, u);
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= d * b);
        }
        let nv = norm(&v);
        if nv > 1e-6 {
            q.push(v.iter().map(|x| x / nv).collect());
        }
    }
    q
}

/// Symmetric Q diag(eig) Qᵀ with its eigenbasis.
pub fn spd(rng: &mut Pcg64Mcg, eig: &[f64]) -> (Mat, Vec<Vec<f64>>) {
    let n = eig.len();
    let q = orthonormal(rng, n);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| q[k][i] * eig[k] * q[k][j]).sum();
        }
    }
    (Mat { n, m: n, a }, q)
}

pub fn random_mat(rng: &mut Pcg64Mcg, n: usize, m: usize) -> Mat {
    Mat {
        n,
        m,
        a: normals(rng, n * m),
    }
}

/// Solves A x = b by Gaussian elimination with partial pivoting.
pub fn solve(a: &Mat, b: &[f64]) -> Vec<f64> {
    let n = a.n;
    let mut m = a.a.clone();
    let mut x = b.to_vec();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| m[i * n + col].abs().total_cmp(&m[j * n + col].abs()))
            .unwrap();
        for k in 0..n {
            m.swap(col * n + k, piv * n + k);
        }
        x.swap(col, piv);
        for row in col + 1..n {
            let f = m[row * n + col] / m[col * n + col];
            for k in col..n {
                m[row * n + k] -= f * m[col * n + k];
            }
            x[row] -= f * x[col];
        }
    }
    for col in (0..n).rev() {
        let s: f64 = (col + 1..n).map(|k| m[col * n + k] * x[k]).sum();
        x[col] = (x[col] - s) / m[col * n + col];
    }
    x
}

pub const OBS_DIM: usize = 4;

/// The three heads on a cartpole-sized observation.
pub fn heads() -> Vec<(&'static str, PolicyHead, Space)> {
    vec![
        (
            "categorical",
            PolicyHead::Categorical,
            Space::discrete(&["left", "right"]),
        ),
        (
            "gaussian",
            PolicyHead::Gaussian,
            Space::boxed(&[("a", -2.0, 2.0), ("b", -1.0, 1.0)]),
        ),
        (
            "beta",
            PolicyHead::Beta,
            Space::boxed(&[("a", -2.0, 2.0), ("b", -1.0, 1.0)]),
        ),
    ]
}

/// A seeded actor-critic whose policy head is scaled up from CleanRL's 0.01 gain, so the
/// policy is far from uniform and curvature is not negligible.
pub fn network(choice: PolicyHead, space: &Space, hidden: &[usize], seed: u64) -> ActorCritic {
    let cfg = PpoConfig {
        hidden_sizes: hidden.to_vec(),
        activation: Activation::Tanh,
        policy_head: choice,
        ..PpoConfig::default()
    };
    let head = HeadKind::resolve(choice, space).unwrap();
    let mut r = rng(seed);
    let net = ActorCritic::new(&cfg, OBS_DIM, head, &Device::Cpu, &mut r).unwrap();
    for (name, var) in net.params() {
        if name == "policy.weight" {
            var.set(&(var.as_tensor() * 100.0).unwrap()).unwrap();
        }
    }
    net
}

/// Random observations and actions in each head's stored form.
pub fn batch_data(head: &HeadKind, rows: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut r = rng(seed);
    let obs: Vec<f32> = normals(&mut r, rows * OBS_DIM)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let ad = head.action_dim();
    let actions = (0..rows * ad)
        .map(|_| match head {
            HeadKind::Categorical { n } => r.random_range(0..*n) as f32,
            HeadKind::Gaussian { .. } => {
                carrot_agents::distributions::standard_normal(&mut r) as f32
            }
            HeadKind::Beta { .. } => r.random_range(0.05..0.95f32),
        })
        .collect();
    (obs, actions)
}

/// A synthetic rollout of `n` envs × `t` steps with 3 signals (primary, aux0, aux1), random
/// terminations and truncations, and a policy batch for `head`.
pub struct SynthRollout {
    pub n: usize,
    pub obs: Vec<f32>,
    pub actions: Vec<f32>,
    pub action_dim: usize,
    pub signals: Vec<f32>,
    pub primary: Vec<f32>,
    pub values: Vec<f32>,
    pub trunc_values: Vec<f32>,
    pub last_values: Vec<f32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
}

impl SynthRollout {
    pub fn new(head: &HeadKind, n: usize, t: usize, seed: u64) -> Self {
        let b = n * t;
        let (obs, actions) = batch_data(head, b, seed);
        let mut r = rng(seed + 50);
        let signals: Vec<f32> = (0..b * 3).map(|_| r.random_range(-1.0..1.0f32)).collect();
        let primary = signals.chunks(3).map(|s| s[0]).collect();
        let mut f =
            |k: usize| -> Vec<f32> { (0..k).map(|_| r.random_range(-2.0..2.0f32)).collect() };
        let (values, trunc_values, last_values) = (f(b), f(b), f(n));
        let terminated: Vec<bool> = (0..b).map(|_| r.random_bool(0.05)).collect();
        let truncated = terminated
            .iter()
            .map(|&d| !d && r.random_bool(0.03))
            .collect();
        SynthRollout {
            n,
            obs,
            actions,
            action_dim: head.action_dim(),
            signals,
            primary,
            values,
            trunc_values,
            last_values,
            terminated,
            truncated,
        }
    }

    pub fn view(&self) -> carrot_bilevel::barfi::RolloutView<'_> {
        carrot_bilevel::barfi::RolloutView {
            num_envs: self.n,
            obs: &self.obs,
            obs_dim: OBS_DIM,
            actions: &self.actions,
            action_dim: self.action_dim,
            signals: &self.signals,
            primary_rewards: &self.primary,
            values: &self.values,
            truncation_values: &self.trunc_values,
            last_values: &self.last_values,
            terminated: &self.terminated,
            truncated: &self.truncated,
        }
    }

    pub fn gae<'a>(&'a self, rewards: &'a [f32]) -> carrot_agents::gae::GaeInput<'a> {
        carrot_agents::gae::GaeInput {
            num_envs: self.n,
            rewards,
            values: &self.values,
            terminated: &self.terminated,
            truncated: &self.truncated,
            truncation_values: &self.trunc_values,
            last_values: &self.last_values,
        }
    }
}
