//! The driving env through the common API: determinism, thread-count independence, spaces,
//! config handling, and robustness to random and non-finite actions.

use carrot_envs::driving::{DrivingAction, DrivingConfig, DrivingEnv, MapFamily, METRIC_NAMES};
use carrot_envs::{env_rng, Env, EnvConfig, NoReward, StepBuffers, VecEnv};

fn config(map: MapFamily, traffic: usize) -> DrivingConfig {
    DrivingConfig {
        map,
        traffic,
        route_min_m: 200.0,
        route_max_m: 400.0,
        ..DrivingConfig::default()
    }
}

fn bits(xs: &[f32]) -> Vec<u32> {
    xs.iter().map(|x| x.to_bits()).collect()
}

/// Steps a VecEnv of mixed-family driving envs with seeded random actions on `threads` rayon
/// threads; returns every buffer that must not depend on scheduling.
fn rollout(threads: usize, steps: usize) -> (Vec<u32>, Vec<u32>, Vec<u32>, Vec<bool>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let cfg = DrivingConfig {
            maps: MapFamily::ALL.to_vec(),
            ..config(MapFamily::Town, 10)
        };
        let mut venv = EnvConfig::Driving(cfg).build_vec(4).unwrap();
        let mut buf: StepBuffers = venv.make_buffers(&NoReward);
        venv.reset(7, &mut buf).unwrap();
        let mut rng = env_rng(99);
        let mut actions = vec![0.0f32; 4 * 2];
        let (mut obs, mut sig, mut metrics, mut done) = (vec![], vec![], vec![], vec![]);
        for _ in 0..steps {
            for a in actions.iter_mut() {
                *a = rand::RngExt::random_range(&mut rng, -1.0..1.0);
            }
            // Mostly forward, so episodes cover ground and meet traffic.
            for row in actions.chunks_mut(2) {
                row[1] = 0.3 + 0.7 * row[1].abs();
                row[0] *= 0.2;
            }
            venv.step(&actions, &NoReward, &mut buf).unwrap();
            obs.extend(bits(&buf.obs));
            sig.extend(bits(&buf.signals));
            for i in 0..4 {
                done.push(buf.done(i));
                if buf.done(i) {
                    metrics.extend(bits(buf.episode_metric_row(i)));
                }
            }
        }
        (obs, sig, metrics, done)
    })
}

#[test]
fn rollouts_are_deterministic_and_thread_count_independent() {
    let one = rollout(1, 250);
    let two = rollout(2, 250);
    let again = rollout(2, 250);
    assert!(
        one.3.iter().any(|&d| d),
        "some episode should end in 250 steps"
    );
    assert!(one == two, "1 vs 2 threads differ");
    assert!(two == again, "repeated runs differ");
}

#[test]
fn spaces_signals_and_metrics_are_consistent() {
    let mut env = DrivingEnv::new(config(MapFamily::Rural, 5)).unwrap();
    let dim = env.observation_space().flat_dim();
    let layout = carrot_envs::driving::ObsLayout {
        route_points: 10,
        rays: 16,
        vehicles: 6,
    };
    assert_eq!(dim, layout.dim());
    assert_eq!(env.observation_space().names().len(), dim);
    let spec = env.signal_spec().clone();
    for name in [
        "progress",
        "route_completion",
        "distance",
        "collision_vehicle",
        "collision_static",
        "red_light",
        "blocked",
        "route_deviation",
        "off_road",
        "timeout",
        "route_finished",
        "outside_route_lanes",
        "speed",
        "speed_limit",
        "ttc_violation",
        "lon_accel",
        "lat_accel",
        "jerk",
        "lon_jerk",
        "yaw_rate",
        "yaw_accel",
        "lateral_offset",
        "lane_width",
        "in_junction",
        "desired_speed",
        "lateral_distance",
        "heading_error",
        "steer_change",
        "steer",
        "accel_cmd",
    ] {
        spec.index_of(name).unwrap();
    }
    assert_eq!(env.episode_metric_names(), &METRIC_NAMES);
    let mut obs = vec![f32::NAN; dim];
    env.reset(Some(3), &mut obs);
    assert!(obs.iter().all(|x| x.is_finite()));
    // Rays see something on a road (edges are within range of a car on its lane).
    let ray_edges = &obs[layout.ray_start() + 16..layout.ray_start() + 32];
    assert!(ray_edges.iter().any(|&d| d < 0.5), "{ray_edges:?}");
    // The first route point lies ahead of the car.
    assert!(obs[layout.route_start()] > 0.0);
}

#[test]
fn random_and_non_finite_actions_never_panic() {
    for map in MapFamily::ALL {
        for action in [DrivingAction::Continuous, DrivingAction::Discrete] {
            let cfg = DrivingConfig {
                action,
                ..config(map, 10)
            };
            let mut env = DrivingEnv::new(cfg).unwrap();
            let dim = env.observation_space().flat_dim();
            let (mut obs, mut sig) = (vec![0.0; dim], vec![0.0; env.signal_spec().len()]);
            let mut act = vec![0.0; env.action_space().flat_dim()];
            let mut rng = env_rng(5);
            env.reset(Some(1), &mut obs);
            let mut episodes = 0;
            for step in 0..600 {
                env.action_space().sample(&mut rng, &mut act);
                if step % 50 == 7 {
                    act[0] = f32::NAN;
                }
                if step % 50 == 9 {
                    let last = act.len() - 1;
                    act[last] = f32::INFINITY;
                }
                let out = env.step(&act, &mut obs, &mut sig);
                assert!(
                    obs.iter().chain(&sig).all(|x| x.is_finite()),
                    "{map:?} {action:?} step {step}"
                );
                if out.done() {
                    episodes += 1;
                    env.reset(None, &mut obs);
                }
            }
            if action == DrivingAction::Continuous {
                assert!(episodes > 0, "{map:?}: random driving should end episodes");
            }
        }
    }
}

#[test]
fn vec_env_rejects_nan_actions_with_the_env_index() {
    let mut venv: VecEnv = EnvConfig::Driving(config(MapFamily::Town, 0))
        .build_vec(2)
        .unwrap();
    let mut buf = venv.make_buffers(&NoReward);
    venv.reset(0, &mut buf).unwrap();
    let err = venv
        .step(&[0.0, 0.5, f32::NAN, 0.0], &NoReward, &mut buf)
        .unwrap_err();
    assert!(err.to_string().contains("env 1"), "{err}");
}

#[test]
fn configs_parse_from_toml_and_bad_values_are_rejected() {
    let cfg: EnvConfig = toml::from_str(
        "id = \"driving\"\nmap = \"highway\"\ntraffic = 3\nterminate_on = [\"collision_vehicle\"]",
    )
    .unwrap();
    let env = cfg.build().unwrap();
    assert_eq!(env.name(), "driving");
    assert!(toml::from_str::<EnvConfig>("id = \"driving\"\nlanes = 3").is_err());
    assert!(toml::from_str::<EnvConfig>("id = \"driving\"\nmap = \"moon\"").is_err());
    let bad = DrivingConfig {
        terminate_on: vec!["crash".into()],
        ..DrivingConfig::default()
    };
    let msg = DrivingEnv::new(bad).err().unwrap().to_string();
    assert!(
        msg.contains("crash") && msg.contains("collision_vehicle"),
        "{msg}"
    );
    let bad = DrivingConfig {
        physics_substeps: 0,
        ..DrivingConfig::default()
    };
    assert!(DrivingEnv::new(bad).is_err());
    let bad = DrivingConfig {
        route_min_m: 500.0,
        route_max_m: 100.0,
        ..DrivingConfig::default()
    };
    assert!(DrivingEnv::new(bad).is_err());
}
