//! The driving env's reset signals (the privileged critic's view of a fresh episode) and
//! `StepBuffers::state_signals` across time-limit autoresets.

use carrot_envs::driving::{DrivingConfig, DrivingEnv, MapFamily};
use carrot_envs::{Env, EnvConfig, NoReward, SignalSpec};

fn config() -> DrivingConfig {
    DrivingConfig {
        map: MapFamily::Town,
        traffic: 4,
        route_min_m: 150.0,
        route_max_m: 250.0,
        ..DrivingConfig::default()
    }
}

fn get(spec: &SignalSpec, row: &[f32], name: &str) -> f32 {
    row[spec.index_of(name).unwrap()]
}

const HOLDS: [&str; 7] = [
    "ttc_hold_left",
    "comfort_hold_left_lon_accel",
    "comfort_hold_left_lat_accel",
    "comfort_hold_left_jerk",
    "comfort_hold_left_lon_jerk",
    "comfort_hold_left_yaw_rate",
    "comfort_hold_left_yaw_accel",
];

#[test]
fn reset_signals_are_exact_at_reset() {
    let cfg = config();
    let mut env = DrivingEnv::new(cfg.clone()).unwrap();
    let spec = env.signal_spec().clone();
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    let mut sig = vec![f32::NAN; spec.len()];
    for seed in [3, 4, 5] {
        env.reset(Some(seed), &mut obs);
        env.reset_signals(&mut sig);
        let length = env.route().length();
        assert_eq!(get(&spec, &sig, "time_left_frac"), 1.0);
        assert_eq!(get(&spec, &sig, "route_left_frac"), 1.0);
        assert_eq!(get(&spec, &sig, "route_length_km"), length / 1000.0);
        assert_eq!(get(&spec, &sig, "route_left"), length);
        assert_eq!(get(&spec, &sig, "route_completion"), 0.0);
        assert_eq!(get(&spec, &sig, "blocked_left_frac"), 1.0);
        let limit = cfg.time_limit_base_s + cfg.time_limit_per_m_s * length;
        let time_left = get(&spec, &sig, "time_left");
        assert!(
            (time_left - limit).abs() < 0.1 + 1e-3,
            "{time_left} {limit}"
        );
        for name in HOLDS
            .iter()
            .chain(&["progress", "collision_vehicle", "comfort_violations"])
        {
            assert_eq!(get(&spec, &sig, name), 0.0, "{name}");
        }
        assert!(get(&spec, &sig, "speed_limit") > 0.0);
        assert!(get(&spec, &sig, "lane_width") > 0.0);
        assert!(sig.iter().all(|x| x.is_finite()));
    }
}

/// With a 1 s time limit every episode is truncated after 10 steps; `state_signals` are the
/// step's own signals in between and the new episode's reset signals after the autoreset.
#[test]
fn state_signals_follow_the_obs_across_time_limit_autoresets() {
    let cfg = DrivingConfig {
        time_limit_base_s: 1.0,
        time_limit_per_m_s: 0.0,
        ..config()
    };
    let mut venv = EnvConfig::Driving(cfg).build_vec(2).unwrap();
    let spec = venv.signal_spec().clone();
    let mut buf = venv.make_buffers(&NoReward);
    venv.reset(11, &mut buf).unwrap();
    for i in 0..2 {
        assert_eq!(get(&spec, buf.state_signal_row(i), "time_left_frac"), 1.0);
        assert_eq!(get(&spec, buf.state_signal_row(i), "route_left_frac"), 1.0);
    }
    let actions = [0.0, 0.3, 0.0, 0.3];
    let mut truncations = 0;
    for t in 1..=25 {
        venv.step(&actions, &NoReward, &mut buf).unwrap();
        for i in 0..2 {
            let state = buf.state_signal_row(i);
            if buf.done(i) {
                assert!(buf.truncated[i], "only the time limit ends these episodes");
                truncations += 1;
                assert_eq!(get(&spec, buf.signal_row(i), "time_left_frac"), 0.0);
                assert_eq!(get(&spec, state, "time_left_frac"), 1.0);
                assert_eq!(get(&spec, state, "route_left_frac"), 1.0);
                assert_eq!(get(&spec, state, "route_completion"), 0.0);
                for name in HOLDS {
                    assert_eq!(get(&spec, state, name), 0.0, "{name}");
                }
            } else {
                assert_eq!(state, buf.signal_row(i), "step {t} env {i}");
                assert!(get(&spec, state, "time_left_frac") < 1.0);
            }
        }
    }
    assert_eq!(truncations, 4, "two 10-step episodes per env in 25 steps");
}
