//! Physical fidelity of the rapier control tasks against Gymnasium's equations of motion and
//! random-policy statistics.

mod common;

use carrot_envs::{
    Acrobot, AcrobotConfig, CartPole, CartPoleConfig, Env, MountainCar, MountainCarConfig,
    Pendulum, PendulumConfig,
};
use common::test_rng;
use rand::RngExt;

/// RK4 step of an ODE over `[f64; 4]` states.
fn rk4(s: [f64; 4], dt: f64, f: impl Fn([f64; 4]) -> [f64; 4]) -> [f64; 4] {
    let add = |x: [f64; 4], k: [f64; 4], h: f64| std::array::from_fn(|i| x[i] + h * k[i]);
    let k1 = f(s);
    let k2 = f(add(s, k1, dt / 2.0));
    let k3 = f(add(s, k2, dt / 2.0));
    let k4 = f(add(s, k3, dt));
    std::array::from_fn(|i| s[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
}

/// Gymnasium CartPole-v1's equations of motion (a uniform pole on a cart).
fn cartpole_derivative([_, x_dot, theta, theta_dot]: [f64; 4], force: f64) -> [f64; 4] {
    let (gravity, cart, pole, half) = (9.8, 1.0, 0.1, 0.5);
    let total = cart + pole;
    let (sin, cos) = theta.sin_cos();
    let temp = (force + pole * half * theta_dot * theta_dot * sin) / total;
    let theta_acc = (gravity * sin - cos * temp) / (half * (4.0 / 3.0 - pole * cos * cos / total));
    let x_acc = temp - pole * half * theta_acc * cos / total;
    [x_dot, x_acc, theta_dot, theta_acc]
}

/// Gymnasium Acrobot-v1's "book" equations of motion.
fn acrobot_derivative([t1, t2, w1, w2]: [f64; 4], torque: f64) -> [f64; 4] {
    let (m, l1, lc, inertia, g) = (1.0, 1.0, 0.5, 1.0, 9.8);
    let half_pi = std::f64::consts::FRAC_PI_2;
    let d1 = m * lc * lc + m * (l1 * l1 + lc * lc + 2.0 * l1 * lc * t2.cos()) + 2.0 * inertia;
    let d2 = m * (lc * lc + l1 * lc * t2.cos()) + inertia;
    let phi2 = m * lc * g * (t1 + t2 - half_pi).cos();
    let phi1 = -m * l1 * lc * w2 * w2 * t2.sin() - 2.0 * m * l1 * lc * w2 * w1 * t2.sin()
        + (m * lc + m * l1) * g * (t1 - half_pi).cos()
        + phi2;
    let acc2 = (torque + d2 / d1 * phi1 - m * l1 * lc * w1 * w1 * t2.sin() - phi2)
        / (m * lc * lc + inertia - d2 * d2 / d1);
    let acc1 = -(d2 * acc2 + phi1) / d1;
    [w1, w2, acc1, acc2]
}

#[test]
fn cartpole_follows_the_rigid_body_equations_of_motion() {
    let mut env = CartPole::new(CartPoleConfig::default()).unwrap();
    let start = [0.01f32, -0.02, 0.03, 0.04];
    env.set_state(start, &mut [0.0; 4]);
    let mut exact = start.map(f64::from);
    let mut obs = [0.0f32; 4];
    let mut signals = [0.0f32; 10];
    for k in 0..25 {
        let push_right = (k * 7) % 5 < 2;
        env.step(&[push_right as u8 as f32], &mut obs, &mut signals);
        let force = if push_right { 10.0 } else { -10.0 };
        assert_eq!(signals[5], force as f32);
        for _ in 0..100 {
            exact = rk4(exact, 0.0002, |s| cartpole_derivative(s, force));
        }
    }
    // The pole has swung to ~0.53 rad; 2 solver substeps stay within a few hundredths.
    assert!(exact[2] > 0.4, "the reference barely moved: {exact:?}");
    for (i, tol) in [0.02, 0.03, 0.04, 0.1].into_iter().enumerate() {
        assert!(
            (obs[i] as f64 - exact[i]).abs() < tol,
            "dim {i}: rapier {obs:?} vs exact {exact:?}"
        );
    }
}

#[test]
fn cartpole_random_policy_lasts_about_as_long_as_gymnasiums() {
    let mut env = CartPole::new(CartPoleConfig::default()).unwrap();
    let mut rng = test_rng(0);
    let mut obs = [0.0f32; 4];
    let mut signals = [0.0f32; 10];
    env.reset(Some(0), &mut obs);
    let (mut episodes, mut steps) = (0u32, 0u32);
    while episodes < 2000 {
        let action = [rng.random_range(0..2) as f32];
        steps += 1;
        if env.step(&action, &mut obs, &mut signals).done() {
            episodes += 1;
            env.reset(None, &mut obs);
        }
    }
    let mean = steps as f64 / episodes as f64;
    // Gymnasium's explicit Euler gives ~22.2; the exact dynamics ~21.
    assert!((18.0..26.0).contains(&mean), "mean episode length {mean}");
}

#[test]
fn pendulum_hangs_down_without_torque_and_falls_from_the_top() {
    let mut env = Pendulum::new(PendulumConfig::default()).unwrap();
    let mut obs = [0.0f32; 3];
    let mut signals = [0.0f32; 5];
    env.set_state(std::f32::consts::PI - 0.1, 0.0, &mut obs);
    for _ in 0..200 {
        env.step(&[0.0], &mut obs, &mut signals);
        // cos(theta) near -1: the rod stays within ~0.15 rad of straight down.
        assert!(obs[0] < -0.985, "left the bottom: {obs:?}");
    }
    env.set_state(0.05, 0.0, &mut obs);
    let mut fell = false;
    for _ in 0..60 {
        env.step(&[0.0], &mut obs, &mut signals);
        fell |= obs[0] < -0.9;
    }
    assert!(fell, "the rod did not fall from near the top");
    // Gymnasium's reward of a step is computed on the state the step starts from.
    env.set_state(0.5, 1.0, &mut obs);
    env.step(&[2.0], &mut obs, &mut signals);
    let expected = -(0.25 + 0.1 + 0.001 * 4.0);
    assert!((signals[0] - expected).abs() < 1e-5, "{signals:?}");
    assert_eq!(signals[1], -signals[0]);
}

#[test]
fn pendulum_speed_is_capped_at_8() {
    let mut env = Pendulum::new(PendulumConfig::default()).unwrap();
    let mut obs = [0.0f32; 3];
    let mut signals = [0.0f32; 5];
    env.set_state(0.0, 7.9, &mut obs);
    let mut max_speed = 0.0f32;
    for _ in 0..100 {
        env.step(&[2.0], &mut obs, &mut signals);
        max_speed = max_speed.max(obs[2].abs());
    }
    assert_eq!(max_speed, 8.0);
}

#[test]
fn acrobot_follows_gymnasiums_book_dynamics() {
    let mut env = Acrobot::new(AcrobotConfig::default()).unwrap();
    let start = [0.05f32, -0.03, 0.02, 0.04];
    env.set_state(start, &mut [0.0; 6]);
    let mut exact = start.map(f64::from);
    let mut obs = [0.0f32; 6];
    let mut signals = [0.0f32; 7];
    for k in 0..10 {
        let action = if (k / 3) % 2 == 0 { 2.0 } else { 0.0 };
        env.step(&[action], &mut obs, &mut signals);
        for _ in 0..100 {
            exact = rk4(exact, 0.002, |s| acrobot_derivative(s, action as f64 - 1.0));
        }
    }
    assert!(
        exact[1].abs() > 0.1,
        "the reference barely moved: {exact:?}"
    );
    for i in 0..4 {
        let tol = if i < 2 { 0.02 } else { 0.05 };
        assert!(
            (signals[2 + i] as f64 - exact[i]).abs() < tol,
            "state {i}: rapier {:?} vs exact {exact:?}",
            &signals[2..6]
        );
    }
}

#[test]
fn acrobot_goal_is_a_tip_above_one_meter() {
    let mut env = Acrobot::new(AcrobotConfig::default()).unwrap();
    let mut obs = [0.0f32; 6];
    let mut signals = [0.0f32; 7];
    // Both links nearly straight up (tip at ~2 m): the first step ends the episode.
    env.set_state([std::f32::consts::PI - 0.05, 0.0, 0.0, 0.0], &mut obs);
    let outcome = env.step(&[1.0], &mut obs, &mut signals);
    assert!(outcome.terminated && !outcome.physics_failure);
    assert_eq!(signals[0], 0.0);
    assert!(signals[1] > 1.0);
    env.reset(Some(0), &mut obs);
    let outcome = env.step(&[1.0], &mut obs, &mut signals);
    assert!(!outcome.terminated);
    assert_eq!(signals[0], -1.0);
}

/// Steps the discrete mountain car with `policy` from `start`; the step count at the goal.
fn drive(start: f32, policy: impl Fn(&[f32; 2]) -> f32) -> Option<u32> {
    let mut env = MountainCar::new(MountainCarConfig::default()).unwrap();
    let mut obs = [0.0f32; 2];
    let mut signals = [0.0f32; 7];
    env.set_state(start, 0.0, &mut obs);
    for step in 1..=200 {
        let outcome = env.step(&[policy(&obs)], &mut obs, &mut signals);
        if outcome.terminated {
            assert_eq!(signals[4], 1.0, "goal_reached");
            return Some(step);
        }
    }
    None
}

#[test]
fn mountain_car_needs_to_swing_to_reach_the_goal() {
    for start in [-0.6, -0.5, -0.4] {
        assert_eq!(drive(start, |_| 2.0), None, "full throttle from {start}");
        let pump = |obs: &[f32; 2]| if obs[1] >= 0.0 { 2.0 } else { 0.0 };
        let steps = drive(start, pump).unwrap_or_else(|| panic!("pumping from {start}"));
        assert!(steps > 60, "reached the goal too easily ({steps} steps)");
    }
}

#[test]
fn mountain_car_swings_back_to_its_starting_height() {
    let mut env = MountainCar::new(MountainCarConfig::default()).unwrap();
    let mut obs = [0.0f32; 2];
    let mut signals = [0.0f32; 7];
    env.set_state(-0.9, 0.0, &mut obs);
    let start_height = 0.1 * (3.0f32 * -0.9).sin();
    // Peak height on the right of the valley in each of 5 swings (~72 steps each).
    let mut peaks = vec![f32::MIN; 5];
    for step in 0..360 {
        env.step(&[1.0], &mut obs, &mut signals);
        if obs[0] > -0.5 {
            peaks[step / 72] = peaks[step / 72].max(signals[3]);
        }
    }
    // Energy is nearly conserved on the frictionless track: each swing climbs back to the
    // starting height on the other side, within a few mm.
    for peak in peaks {
        assert!(
            (peak - start_height).abs() < 0.005,
            "{peak} vs {start_height}"
        );
    }
}

/// Mechanical energy of the acrobot (links of 1 kg, 1 m, inertia 1 about the center).
fn acrobot_energy([t1, t2, w1, w2]: [f64; 4]) -> f64 {
    let g = 9.8;
    let (s1, c1) = t1.sin_cos();
    let (s12, c12) = (t1 + t2).sin_cos();
    let w12 = w1 + w2;
    let v1 = (0.5 * w1 * c1, 0.5 * w1 * s1);
    let v2 = (w1 * c1 + 0.5 * w12 * c12, w1 * s1 + 0.5 * w12 * s12);
    let kinetic =
        0.5 * (v1.0 * v1.0 + v1.1 * v1.1 + w1 * w1) + 0.5 * (v2.0 * v2.0 + v2.1 * v2.1 + w12 * w12);
    kinetic + g * (-0.5 * c1 - c1 - 0.5 * c12)
}

#[test]
fn free_pendulum_and_acrobot_keep_their_energy() {
    // Pendulum released horizontally: 5 J of swing; rod inertia about the pivot is 1/3.
    let mut env = Pendulum::new(PendulumConfig::default()).unwrap();
    let mut obs = [0.0f32; 3];
    let mut signals = [0.0f32; 5];
    env.set_state(std::f32::consts::FRAC_PI_2, 0.0, &mut obs);
    let energy = |theta: f32, omega: f32| 5.0 * theta.cos() + omega * omega / 6.0;
    for _ in 0..1000 {
        env.step(&[0.0], &mut obs, &mut signals);
        let e = energy(signals[2], signals[3]);
        assert!(e.abs() < 0.75, "pendulum energy drifted to {e} J (from 0)");
    }
    // Acrobot without torque for 200 s: Gymnasium's own RK4 loses ~1.5 J here.
    let mut env = Acrobot::new(AcrobotConfig::default()).unwrap();
    let mut obs = [0.0f32; 6];
    let mut signals = [0.0f32; 7];
    let start = [1.0f32, 0.5, 0.0, 0.0];
    env.set_state(start, &mut obs);
    let e0 = acrobot_energy(start.map(f64::from));
    for _ in 0..1000 {
        env.step(&[1.0], &mut obs, &mut signals);
        let state = [signals[2], signals[3], signals[4], signals[5]].map(f64::from);
        let drift = acrobot_energy(state) - e0;
        assert!(drift.abs() < 4.5, "acrobot energy drifted by {drift} J");
    }
}
