//! The single-env API over every control task: seeding, spaces, action sanitizing, physics
//! failures and the config registry.

mod common;

use carrot_envs::{
    checked_step, Acrobot, AcrobotConfig, CartPole, CartPoleConfig, Env, EnvConfig, MountainCar,
    MountainCarConfig, Pendulum, PendulumConfig,
};
use common::{all_configs, bits, label, test_rng};

/// Runs `steps` random steps (autoresetting with `reset(None)`) and returns every obs and
/// signal written, in order.
fn trajectory(env: &mut dyn Env, seed: u64, action_seed: u64, steps: usize) -> Vec<f32> {
    let mut rng = test_rng(action_seed);
    let space = env.action_space().clone();
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    let mut signals = vec![0.0; env.signal_spec().len()];
    let mut action = vec![0.0; space.flat_dim()];
    let mut scratch = action.clone();
    env.reset(Some(seed), &mut obs);
    let mut out = obs.clone();
    for _ in 0..steps {
        space.sample(&mut rng, &mut action);
        let outcome = checked_step(env, &action, &mut scratch, &mut obs, &mut signals).unwrap();
        out.extend_from_slice(&obs);
        out.extend_from_slice(&signals);
        if outcome.done() {
            env.reset(None, &mut obs);
            out.extend_from_slice(&obs);
        }
    }
    out
}

#[test]
fn same_seed_same_trajectory_and_different_seeds_differ() {
    for config in all_configs() {
        let mut a = config.build().unwrap();
        let mut b = config.build().unwrap();
        let first = trajectory(a.as_mut(), 7, 1, 600);
        assert_eq!(
            bits(&first),
            bits(&trajectory(b.as_mut(), 7, 1, 600)),
            "{}: two envs with one seed diverged",
            label(&config)
        );
        // Reseeding a used env replays the episode exactly (Gymnasium's reset(seed=...)).
        assert_eq!(
            bits(&first),
            bits(&trajectory(a.as_mut(), 7, 1, 600)),
            "{}: reset(Some(seed)) on a used env did not replay",
            label(&config)
        );
        let other = trajectory(b.as_mut(), 8, 1, 600);
        assert_ne!(
            bits(&first[..first.len().min(other.len())]),
            bits(&other[..first.len().min(other.len())]),
            "{}: seeds 7 and 8 gave the same trajectory",
            label(&config)
        );
    }
}

#[test]
fn observations_stay_in_their_spaces_for_10k_random_steps() {
    for config in all_configs() {
        let mut env = config.build().unwrap();
        let space = env.action_space().clone();
        let obs_space = env.observation_space().clone();
        let mut rng = test_rng(3);
        let mut obs = vec![0.0; obs_space.flat_dim()];
        let mut signals = vec![0.0; env.signal_spec().len()];
        let mut action = vec![0.0; space.flat_dim()];
        let mut scratch = action.clone();
        env.reset(Some(11), &mut obs);
        let mut episodes = 0;
        for step in 0..10_000 {
            assert!(obs_space.contains(&obs), "{}: {obs:?}", label(&config));
            space.sample(&mut rng, &mut action);
            let outcome =
                checked_step(env.as_mut(), &action, &mut scratch, &mut obs, &mut signals).unwrap();
            assert!(
                obs_space.contains(&obs),
                "{} step {step}: obs {obs:?} outside {obs_space:?}",
                label(&config)
            );
            assert!(signals.iter().all(|s| s.is_finite()), "{signals:?}");
            assert!(!outcome.physics_failure, "{}: blow-up", label(&config));
            if outcome.done() {
                episodes += 1;
                env.reset(None, &mut obs);
            }
        }
        assert!(episodes >= 1, "{}: no episode ended", label(&config));
    }
}

#[test]
fn nan_and_infinite_actions_are_rejected_without_touching_the_env() {
    for config in all_configs() {
        let mut env = config.build().unwrap();
        let mut twin = config.build().unwrap();
        let d = env.observation_space().flat_dim();
        let s = env.signal_spec().len();
        let a = env.action_space().flat_dim();
        let (mut obs, mut twin_obs) = (vec![0.0; d], vec![0.0; d]);
        let (mut sig, mut twin_sig) = (vec![0.0; s], vec![0.0; s]);
        let mut scratch = vec![0.0; a];
        env.reset(Some(5), &mut obs);
        twin.reset(Some(5), &mut twin_obs);
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let err = checked_step(
                env.as_mut(),
                &vec![bad; a],
                &mut scratch,
                &mut obs,
                &mut sig,
            )
            .unwrap_err();
            assert!(err.to_string().contains("env 0"), "{err}");
        }
        let good = vec![1.0; a];
        for _ in 0..20 {
            checked_step(env.as_mut(), &good, &mut scratch, &mut obs, &mut sig).unwrap();
            checked_step(
                twin.as_mut(),
                &good,
                &mut scratch,
                &mut twin_obs,
                &mut twin_sig,
            )
            .unwrap();
            assert_eq!(bits(&obs), bits(&twin_obs), "{}", label(&config));
            assert_eq!(bits(&sig), bits(&twin_sig), "{}", label(&config));
        }
    }
}

#[test]
fn huge_actions_are_clipped_to_the_space() {
    for config in all_configs() {
        let mut env = config.build().unwrap();
        let mut twin = config.build().unwrap();
        let space = env.action_space().clone();
        let d = env.observation_space().flat_dim();
        let s = env.signal_spec().len();
        let (mut obs, mut twin_obs) = (vec![0.0; d], vec![0.0; d]);
        let (mut sig, mut twin_sig) = (vec![0.0; s], vec![0.0; s]);
        let mut scratch = vec![0.0; space.flat_dim()];
        env.reset(Some(9), &mut obs);
        twin.reset(Some(9), &mut twin_obs);
        // The largest legal action, written out by hand per space.
        let max_action: Vec<f32> = match &space {
            carrot_envs::Space::Box { high, .. } => high.clone(),
            carrot_envs::Space::Discrete { n, .. } => vec![(*n - 1) as f32],
        };
        for sign in [1.0f32, -1.0] {
            let huge = vec![sign * 1.0e30; space.flat_dim()];
            let legal: Vec<f32> = if sign > 0.0 {
                max_action.clone()
            } else {
                match &space {
                    carrot_envs::Space::Box { low, .. } => low.clone(),
                    carrot_envs::Space::Discrete { .. } => vec![0.0],
                }
            };
            for _ in 0..5 {
                checked_step(env.as_mut(), &huge, &mut scratch, &mut obs, &mut sig).unwrap();
                checked_step(
                    twin.as_mut(),
                    &legal,
                    &mut scratch,
                    &mut twin_obs,
                    &mut twin_sig,
                )
                .unwrap();
                assert_eq!(bits(&obs), bits(&twin_obs), "{}", label(&config));
                assert_eq!(bits(&sig), bits(&twin_sig), "{}", label(&config));
            }
        }
    }
}

#[test]
fn a_non_finite_physical_state_ends_the_episode_as_a_physics_failure() {
    let mut env = CartPole::new(CartPoleConfig::default()).unwrap();
    let mut obs = [0.0f32; 4];
    let mut signals = [0.0f32; 10];
    env.reset(Some(1), &mut obs);
    let outcome = env.step(&[1.0], &mut obs, &mut signals);
    assert!(!outcome.done());
    let last_finite = obs;
    env.set_state([0.0, f32::NAN, 0.0, 0.0], &mut [0.0; 4]);
    let outcome = env.step(&[1.0], &mut obs, &mut signals);
    assert!(outcome.physics_failure && outcome.terminated, "{outcome:?}");
    assert_eq!(obs, last_finite, "the last finite observation is reported");
    assert!(signals.iter().all(|s| s.is_finite()), "{signals:?}");
    // The next episode runs normally.
    env.reset(None, &mut obs);
    for _ in 0..5 {
        let outcome = env.step(&[0.0], &mut obs, &mut signals);
        assert!(!outcome.physics_failure && obs.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn every_env_reports_a_non_finite_state_as_a_physics_failure() {
    let mut pendulum = Pendulum::new(PendulumConfig::default()).unwrap();
    let mut acrobot = Acrobot::new(AcrobotConfig::default()).unwrap();
    let mut car = MountainCar::new(MountainCarConfig::default()).unwrap();
    let mut obs = vec![0.0f32; 6];
    pendulum.reset(Some(0), &mut obs[..3]);
    pendulum.set_state(f32::NAN, 0.0, &mut obs[..3]);
    acrobot.reset(Some(0), &mut obs);
    acrobot.set_state([0.0, f32::INFINITY, 0.0, 0.0], &mut obs);
    car.reset(Some(0), &mut obs[..2]);
    car.set_state(-0.5, f32::NAN, &mut obs[..2]);
    let envs: [&mut dyn Env; 3] = [&mut pendulum, &mut acrobot, &mut car];
    for env in envs {
        let d = env.observation_space().flat_dim();
        let mut signals = vec![0.0; env.signal_spec().len()];
        let action = vec![0.0; env.action_space().flat_dim()];
        let outcome = env.step(&action, &mut obs[..d], &mut signals);
        assert!(
            outcome.physics_failure && outcome.terminated,
            "{}: {outcome:?}",
            env.name()
        );
        assert!(obs[..d].iter().chain(&signals).all(|v| v.is_finite()));
        env.reset(None, &mut obs[..d]);
        let outcome = env.step(&action, &mut obs[..d], &mut signals);
        assert!(!outcome.physics_failure, "{} did not recover", env.name());
        assert!(env.observation_space().contains(&obs[..d]));
    }
}

#[test]
fn every_signal_is_documented_and_the_default_reward_is_a_signal() {
    for config in all_configs() {
        let env = config.build().unwrap();
        let spec = env.signal_spec();
        assert!(spec.default_reward.is_some(), "{}", label(&config));
        assert!(spec.index_of(spec.default_reward.unwrap()).is_ok());
        for s in &spec.signals {
            assert!(!s.unit.is_empty() && s.meaning.len() > 10, "{s:?}");
        }
        let names = env.observation_space().names();
        assert_eq!(names.len(), env.observation_space().flat_dim());
        assert!(env.action_space().names().iter().all(|n| !n.is_empty()));
        let err = spec.index_of("no_such_signal").unwrap_err().to_string();
        assert!(err.contains(env.name()), "{err}");
    }
}

#[test]
fn env_config_toml_accepts_known_keys_and_rejects_unknown_ones() {
    let parse = |text: &str| toml::from_str::<EnvConfig>(text);
    assert_eq!(
        parse("id = \"cartpole\"\ncontinuous = true").unwrap(),
        EnvConfig::Cartpole(CartPoleConfig {
            continuous: true,
            ..CartPoleConfig::default()
        })
    );
    assert!(matches!(
        parse("id = \"mountain_car\"").unwrap(),
        EnvConfig::MountainCar(_)
    ));
    for id in EnvConfig::IDS {
        let config = parse(&format!("id = \"{id}\"")).unwrap();
        assert_eq!(config.id(), *id);
        config.build().unwrap();
        let err = parse(&format!("id = \"{id}\"\nbogus_key = 1"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus_key"), "{id}: {err}");
    }
    let err = parse("id = \"cart_pole\"").unwrap_err().to_string();
    assert!(err.contains("cart_pole"), "{err}");
    assert!(parse("continuous = true").is_err(), "a config needs an id");
}

#[test]
fn invalid_configs_are_rejected_with_the_env_name() {
    let bad = [
        EnvConfig::Cartpole(CartPoleConfig {
            max_episode_steps: 0,
            ..CartPoleConfig::default()
        }),
        EnvConfig::Cartpole(CartPoleConfig {
            solver_substeps: 0,
            ..CartPoleConfig::default()
        }),
    ];
    for config in bad {
        let err = config.build().err().expect("invalid config built");
        assert!(err.to_string().contains("cartpole"), "{err}");
    }
    assert!(EnvConfig::default().build_vec(0).is_err());
}
