//! B8: calibration of the PD auxiliaries of the BARFI cartpole experiments on carrot's cartpole.
//!
//! The PD controller pushes right when `kp * theta + kd * theta_dot > 0` (BARFI's P = 0.1,
//! D = 0.5 on the per-step change of theta, i.e. kd / kp ≈ 0.1 with theta_dot), left
//! otherwise. Only the ratio kd / kp matters. Acting alone on the discrete cartpole, over 20
//! seeds per gain, the scan below measures its mean return; the experiment configs use:
//!
//! - **best**: kp = 1, kd = GAIN_BEST_KD, mean return MEASURED_BEST;
//! - **good**: kp = 1, kd = GAIN_GOOD_KD, mean return MEASURED_GOOD;
//!
//! as the `agreement` target `[{ signal = "theta_before", weight = 1.0 },
//! { signal = "theta_dot_before", weight = kd }]` with `action = "force"`.

use carrot_envs::{CartPole, CartPoleConfig, Env};

const SEEDS: u64 = 20;

/// The PD controller's episode return (steps survived, at most 500) from `seed`. Also checks
/// that the pre-step signals carry the state the action was chosen in.
fn pd_return(kp: f32, kd: f32, seed: u64) -> u32 {
    let mut env = CartPole::new(CartPoleConfig::default()).unwrap();
    let spec = env.signal_spec().clone();
    let before: Vec<usize> = [
        "x_before",
        "x_dot_before",
        "theta_before",
        "theta_dot_before",
    ]
    .iter()
    .map(|n| spec.index_of(n).unwrap())
    .collect();
    let mut obs = [0.0f32; 4];
    let mut signals = vec![0.0f32; spec.len()];
    env.reset(Some(seed), &mut obs);
    let mut steps = 0;
    loop {
        let chosen_in = obs;
        let push_right = kp * obs[2] + kd * obs[3] > 0.0;
        let outcome = env.step(&[push_right as u8 as f32], &mut obs, &mut signals);
        let seen: Vec<f32> = before.iter().map(|&i| signals[i]).collect();
        assert_eq!(
            seen, chosen_in,
            "pre-step signals are the state the action saw"
        );
        steps += 1;
        if outcome.done() {
            return steps;
        }
    }
}

fn mean_return(kp: f32, kd: f32) -> f64 {
    (0..SEEDS).map(|s| pd_return(kp, kd, s) as f64).sum::<f64>() / SEEDS as f64
}

#[test]
fn pd_gain_scan() {
    for kd in [0.0f32, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0] {
        eprintln!("kd {kd}: {}", mean_return(1.0, kd));
    }
}
