//! Generalized advantage estimation over a `[T, N]` rollout.
//!
//! An episode that *terminated* at step t has no future: the target is `r_t`. One that was
//! *truncated* (time limit) still has one: the target bootstraps from the value of its final
//! observation, `r_t + gamma V(final_obs_t)`. Either way the advantage recursion does not cross
//! into the next episode, whose first observation is `obs_{t+1}` after the autoreset.

/// The inputs of GAE, all step-major (`[t * n + env]`).
pub struct GaeInput<'a> {
    pub num_envs: usize,
    pub rewards: &'a [f32],
    pub values: &'a [f32],
    pub terminated: &'a [bool],
    pub truncated: &'a [bool],
    /// V(final_obs) where `truncated`, ignored elsewhere.
    pub truncation_values: &'a [f32],
    /// V(obs) after the last step, `[N]`.
    pub last_values: &'a [f32],
}

/// Advantages and returns (`advantages + values`), step-major like the input.
pub fn compute_gae(input: &GaeInput<'_>, gamma: f64, lambda: f64) -> (Vec<f32>, Vec<f32>) {
    let n = input.num_envs;
    let total = input.rewards.len();
    let steps = total / n;
    let mut adv = vec![0f32; total];
    let mut returns = vec![0f32; total];
    for env in 0..n {
        let mut last_gae = 0f64;
        for t in (0..steps).rev() {
            let i = t * n + env;
            let (next_value, continues) = if input.terminated[i] {
                (0.0, false)
            } else if input.truncated[i] {
                (input.truncation_values[i] as f64, false)
            } else if t + 1 == steps {
                (input.last_values[env] as f64, true)
            } else {
                (input.values[i + n] as f64, true)
            };
            let v = input.values[i] as f64;
            let delta = input.rewards[i] as f64 + gamma * next_value - v;
            last_gae = if continues {
                delta + gamma * lambda * last_gae
            } else {
                delta
            };
            adv[i] = last_gae as f32;
            returns[i] = (last_gae + v) as f32;
        }
    }
    (adv, returns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One env, five steps: terminated at t = 1, truncated at t = 3, running at t = 4.
    /// gamma = 0.5, lambda = 0.5, so gamma * lambda = 0.25.
    #[test]
    fn termination_and_truncation_in_one_rollout() {
        let rewards = [1.0, 2.0, 3.0, 4.0, 5.0];
        let values = [0.5, 1.0, 1.5, 2.0, 2.5];
        let terminated = [false, true, false, false, false];
        let truncated = [false, false, false, true, false];
        let truncation_values = [0.0, 0.0, 0.0, 10.0, 0.0];
        let input = GaeInput {
            num_envs: 1,
            rewards: &rewards,
            values: &values,
            terminated: &terminated,
            truncated: &truncated,
            truncation_values: &truncation_values,
            last_values: &[4.0],
        };
        let (adv, ret) = compute_gae(&input, 0.5, 0.5);
        // t=4: delta = 5 + 0.5*4 - 2.5 = 4.5                 -> A = 4.5
        // t=3: truncated, delta = 4 + 0.5*10 - 2 = 7          -> A = 7
        // t=2: delta = 3 + 0.5*2 - 1.5 = 2.5, + 0.25*7        -> A = 4.25
        // t=1: terminated, delta = 2 - 1 = 1                  -> A = 1
        // t=0: delta = 1 + 0.5*1 - 0.5 = 1, + 0.25*1          -> A = 1.25
        assert_eq!(adv, vec![1.25, 1.0, 4.25, 7.0, 4.5]);
        assert_eq!(ret, vec![1.75, 2.0, 5.75, 9.0, 7.0]);
    }

    #[test]
    fn envs_are_independent_columns() {
        // Two envs interleaved step-major; env 1 terminates at t = 0.
        let input = GaeInput {
            num_envs: 2,
            rewards: &[1.0, 1.0, 1.0, 1.0],
            values: &[0.0, 0.0, 0.0, 0.0],
            terminated: &[false, true, false, false],
            truncated: &[false; 4],
            truncation_values: &[0.0; 4],
            last_values: &[2.0, 2.0],
        };
        let (adv, _) = compute_gae(&input, 1.0, 1.0);
        // env 0: t=1: 1 + 2 = 3; t=0: 1 + 0 + 3 = 4. env 1: t=1: 3; t=0: terminated, 1.
        assert_eq!(adv, vec![4.0, 1.0, 3.0, 3.0]);
    }
}
