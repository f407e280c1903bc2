//! GAE in f64 with its derivative in γ (forward mode), and its adjoint in the rewards.
//!
//! With the values held fixed, GAE is affine in the rewards: A = L r + b, where
//! `A_t = Σ_{k ≥ t} (γλ)^{k−t} δ_k` over the steps k of t's episode inside the rollout. The
//! outer loops need `Σ_t s_t ∂A_t/∂φ = Σ_k (Lᵀs)_k ∂r_k/∂φ`; `c = Lᵀs` is a forward-in-time
//! recursion per env, `c_k = s_k + γλ · cont_{k−1} · c_{k−1}`, where `cont` is "neither
//! terminated nor truncated", exactly the continuation rule of `carrot_agents::gae`.

use carrot_agents::gae::GaeInput;

/// The bootstrap value after step `i` (`t` of `steps`) and whether the recursion continues,
/// as `carrot_agents::gae::compute_gae` decides them.
fn next_value(input: &GaeInput, i: usize, t: usize, steps: usize) -> (f64, bool) {
    let n = input.num_envs;
    if input.terminated[i] {
        (0.0, false)
    } else if input.truncated[i] {
        (input.truncation_values[i] as f64, false)
    } else if t + 1 == steps {
        (input.last_values[i % n] as f64, true)
    } else {
        (input.values[i + n] as f64, true)
    }
}

/// GAE advantages in f64 and their derivative in γ, step-major like the input.
///
/// `∂δ_t/∂γ = V'_{t+1}` (the bootstrap value, 0 after a termination) and
/// `∂A_t/∂γ = ∂δ_t/∂γ + λ · cont_t · (A_{t+1} + γ ∂A_{t+1}/∂γ)`.
pub fn gae_with_gamma_derivative(
    input: &GaeInput,
    gamma: f64,
    lambda: f64,
) -> (Vec<f64>, Vec<f64>) {
    let n = input.num_envs;
    let total = input.rewards.len();
    let steps = total / n;
    let mut adv = vec![0f64; total];
    let mut d_adv = vec![0f64; total];
    for env in 0..n {
        let (mut next_adv, mut next_d) = (0f64, 0f64);
        for t in (0..steps).rev() {
            let i = t * n + env;
            let (next_v, continues) = next_value(input, i, t, steps);
            let delta = input.rewards[i] as f64 + gamma * next_v - input.values[i] as f64;
            let (a, d) = if continues {
                (
                    delta + gamma * lambda * next_adv,
                    next_v + lambda * (next_adv + gamma * next_d),
                )
            } else {
                (delta, next_v)
            };
            adv[i] = a;
            d_adv[i] = d;
            (next_adv, next_d) = (a, d);
        }
    }
    (adv, d_adv)
}

/// `c = Lᵀ s`: `Σ_t s_t A_t(r) = Σ_k c_k r_k + const` for every reward vector r.
pub fn adjoint_gae(input: &GaeInput, s: &[f64], gamma: f64, lambda: f64) -> Vec<f64> {
    let n = input.num_envs;
    let total = input.terminated.len();
    assert_eq!(s.len(), total, "adjoint_gae: one s per step");
    let mut c = vec![0f64; total];
    for env in 0..n {
        let mut carry = 0f64;
        for t in 0..total / n {
            let i = t * n + env;
            c[i] = s[i] + carry;
            let continues = !input.terminated[i] && !input.truncated[i];
            carry = if continues {
                gamma * lambda * c[i]
            } else {
                0.0
            };
        }
    }
    c
}
