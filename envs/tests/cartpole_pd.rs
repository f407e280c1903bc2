//! B8: calibration of the PD auxiliaries of the BARFI cartpole experiments on carrot's cartpole.
//!
//! The PD controller pushes right when `kp * theta + kd * theta_dot > 0` (BARFI's P = 0.1,
//! D = 0.5 on the per-step change of theta, i.e. kd / kp ≈ 0.1 with theta_dot), left
//! otherwise. Only the ratio kd / kp matters. Acting alone on the discrete cartpole, over 20
//! seeds per gain, the scan below measures its mean return; the experiment configs use:
//!
//! - **best**: kp = 1, kd = 0.1 (BARFI's ratio), mean return 500.0 (every seed lasts 500);
//! - **good**: kp = 1, kd = 4.0 (over-damped), mean return 310.7;
//!
//! as the `agreement` target `[{ signal = "theta_before", weight = 1.0 },
//! { signal = "theta_dot_before", weight = kd }]` with `action = "force"` (the **bad** variant
//! uses the best gains with `on_match = -5.0`, `on_mismatch = 1.0`). The scan, for reference
//! (kd: mean return): 0: 129.7, 0.002: 194.2, 0.004: 341.0, 0.006: 489.5, 0.01 to 0.5: 500,
//! 1: 492.1, 2: 393.7, 3: 351.0, 4: 310.7, 5: 292.7, 8: 241.3.

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

/// The gains the BARFI cartpole configs use, as `(kp, kd)`.
pub const BEST_GAINS: (f32, f32) = (1.0, 0.1);
pub const GOOD_GAINS: (f32, f32) = (1.0, 4.0);

#[test]
fn pd_gains_of_the_best_and_good_auxiliaries_reach_500_and_about_300() {
    for kd in [
        0.0f32, 0.002, 0.004, 0.006, 0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0,
    ] {
        eprintln!("kp 1, kd {kd}: mean return {:.1}", mean_return(1.0, kd));
    }
    let (kp, kd) = BEST_GAINS;
    let best: Vec<u32> = (0..SEEDS).map(|s| pd_return(kp, kd, s)).collect();
    assert!(best.iter().all(|&r| r == 500), "best gains: {best:?}");
    let good = mean_return(GOOD_GAINS.0, GOOD_GAINS.1);
    assert!((300.0..=320.0).contains(&good), "good gains: mean {good}");
    // The derivative term matters: a pure P controller falls early.
    let p_only = mean_return(1.0, 0.0);
    assert!(p_only < 200.0, "P only: {p_only}");
}
