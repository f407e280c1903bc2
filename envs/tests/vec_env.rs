//! VecEnv over the control tasks: thread-count independence, same-step autoreset with final
//! observations, episode statistics, action errors and physics-failure counting.

mod common;

use carrot_envs::{
    env_seed, AcrobotConfig, CartPole, CartPoleConfig, CartPoles, Env, EnvBatch, EnvConfig,
    NoReward, Pendulum, PendulumConfig, Pendulums, StepBuffers, VecEnv,
};
use common::{all_configs, bits, label, random_actions, test_rng};

/// Everything a step writes, for bitwise comparison.
fn snapshot(buf: &StepBuffers) -> Vec<u32> {
    let mut out = bits(&buf.obs);
    out.extend(bits(&buf.signals));
    for i in 0..buf.num_envs {
        out.push(buf.terminated[i] as u32 | (buf.truncated[i] as u32) << 1);
        if buf.done(i) {
            out.extend(bits(buf.final_obs_row(i)));
            out.extend(bits(buf.episode_signal_row(i)));
            out.push(buf.episode_length[i]);
        }
    }
    out
}

fn run_in_pool(config: &EnvConfig, threads: usize, n: usize, steps: usize) -> Vec<u32> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut envs = config.build_vec(n).unwrap();
        let mut buf = envs.make_buffers(&NoReward);
        envs.reset(42, &mut buf).unwrap();
        let mut rng = test_rng(4);
        let mut out = bits(&buf.obs);
        for _ in 0..steps {
            let actions = random_actions(envs.action_space(), n, &mut rng);
            envs.step(&actions, &NoReward, &mut buf).unwrap();
            out.extend(snapshot(&buf));
        }
        out
    })
}

#[test]
fn one_and_two_threads_give_bit_identical_results() {
    for config in all_configs() {
        let one = run_in_pool(&config, 1, 7, 300);
        let two = run_in_pool(&config, 2, 7, 300);
        assert_eq!(one, two, "{}", label(&config));
    }
}

#[test]
fn cartpoles_give_the_same_bits_whatever_their_worlds_hold() {
    let n = 70;
    for continuous in [false, true] {
        let config = |envs_per_world| {
            EnvConfig::Cartpole(CartPoleConfig {
                continuous,
                envs_per_world,
                ..Default::default()
            })
        };
        let alone = run_in_pool(&config(1), 1, n, 300);
        for (per_world, threads) in [(3, 1), (64, 2), (70, 2), (128, 1)] {
            let grouped = run_in_pool(&config(per_world), threads, n, 300);
            assert!(
                grouped == alone,
                "continuous {continuous}: {per_world} envs per world, {threads} threads"
            );
        }
    }
    let default = EnvConfig::Cartpole(CartPoleConfig::default());
    assert_eq!(default.build_vec(n).unwrap().num_batches(), 2);
    let bad = EnvConfig::Cartpole(CartPoleConfig {
        envs_per_world: 0,
        ..Default::default()
    });
    let err = bad.build_vec(4).err().unwrap().to_string();
    assert!(err.contains("envs_per_world"), "{err}");
}

#[test]
fn pendulums_and_acrobots_give_the_same_bits_whatever_their_worlds_hold() {
    let n = 70;
    let pendulum = |envs_per_world| {
        EnvConfig::Pendulum(PendulumConfig {
            envs_per_world,
            ..Default::default()
        })
    };
    // Short episodes, so that resets inside shared worlds are covered.
    let acrobot = |envs_per_world| {
        EnvConfig::Acrobot(AcrobotConfig {
            max_episode_steps: 90,
            envs_per_world,
            ..Default::default()
        })
    };
    for config in [pendulum, acrobot] {
        let alone = run_in_pool(&config(1), 1, n, 300);
        for (per_world, threads) in [(3, 1), (64, 2), (70, 2), (128, 1)] {
            let grouped = run_in_pool(&config(per_world), threads, n, 300);
            assert!(
                grouped == alone,
                "{}: {per_world} envs per world, {threads} threads",
                config(1).id()
            );
        }
        assert_eq!(config(64).build_vec(n).unwrap().num_batches(), 2);
        let err = config(0).build_vec(4).err().unwrap().to_string();
        assert!(err.contains("envs_per_world"), "{err}");
    }
}

#[test]
fn a_pendulum_blow_up_in_a_shared_world_fails_only_its_own_env() {
    let config = PendulumConfig::default();
    let mut shared = Pendulums::new(config.clone(), 3).unwrap();
    let mut alone: Vec<Pendulum> = (0..3)
        .map(|_| Pendulum::new(config.clone()).unwrap())
        .collect();
    let (mut obs, mut alone_obs) = ([0.0f32; 9], [0.0f32; 9]);
    for i in 0..3 {
        shared.reset(i, Some(i as u64), &mut obs[i * 3..i * 3 + 3]);
        alone[i].reset(Some(i as u64), &mut alone_obs[i * 3..i * 3 + 3]);
    }
    shared.set_state(1, 0.0, f32::INFINITY, &mut [0.0; 3]);
    let s = shared.signal_spec().len();
    let (mut signals, mut alone_signals) = (vec![0.0f32; 3 * s], vec![0.0f32; s]);
    let mut outcomes = [Default::default(); 3];
    shared.step(&[1.0, 1.0, -0.5], &mut obs, &mut signals, &mut outcomes);
    for (i, action) in [(0, 1.0), (2, -0.5)] {
        let obs = &mut alone_obs[i * 3..i * 3 + 3];
        alone[i].step(&[action], obs, &mut alone_signals);
    }
    let failed: Vec<bool> = outcomes.iter().map(|o| o.physics_failure).collect();
    assert_eq!(failed, [false, true, false]);
    assert!(outcomes[1].terminated && obs.iter().all(|v| v.is_finite()));
    for step in 0..60 {
        if step == 0 {
            shared.reset(1, Some(9), &mut obs[3..6]);
            alone[1].reset(Some(9), &mut alone_obs[3..6]);
        }
        let actions = [(step % 5) as f32 - 2.0, 2.0, ((step / 3) % 2) as f32];
        shared.step(&actions, &mut obs, &mut signals, &mut outcomes);
        for i in 0..3 {
            let outcome = alone[i].step(
                &actions[i..i + 1],
                &mut alone_obs[i * 3..i * 3 + 3],
                &mut alone_signals,
            );
            assert_eq!(outcome, outcomes[i], "env {i} step {step}");
            assert_eq!(bits(&alone_signals), bits(&signals[i * s..(i + 1) * s]));
            assert!(!outcomes[i].physics_failure);
        }
        assert_eq!(bits(&obs), bits(&alone_obs), "step {step}");
    }
}

#[test]
fn a_blow_up_in_a_shared_world_fails_only_its_own_env() {
    let config = CartPoleConfig::default();
    let mut shared = CartPoles::new(config.clone(), 3).unwrap();
    let mut alone: Vec<CartPole> = (0..3)
        .map(|_| CartPole::new(config.clone()).unwrap())
        .collect();
    let (mut obs, mut alone_obs) = ([0.0f32; 12], [0.0f32; 12]);
    for i in 0..3 {
        shared.reset(i, Some(i as u64), &mut obs[i * 4..i * 4 + 4]);
        alone[i].reset(Some(i as u64), &mut alone_obs[i * 4..i * 4 + 4]);
    }
    shared.set_state(1, [0.0, 0.0, f32::INFINITY, 0.0], &mut [0.0; 4]);
    let s = shared.signal_spec().len();
    let (mut signals, mut alone_signals) = (vec![0.0f32; 3 * s], vec![0.0f32; s]);
    let mut outcomes = [Default::default(); 3];
    shared.step(&[1.0, 1.0, 0.0], &mut obs, &mut signals, &mut outcomes);
    for (i, action) in [(0, 1.0), (2, 0.0)] {
        let obs = &mut alone_obs[i * 4..i * 4 + 4];
        alone[i].step(&[action], obs, &mut alone_signals);
    }
    let failed: Vec<bool> = outcomes.iter().map(|o| o.physics_failure).collect();
    assert_eq!(failed, [false, true, false]);
    assert!(outcomes[1].terminated && obs.iter().all(|v| v.is_finite()));
    for step in 0..40 {
        if step == 0 {
            shared.reset(1, Some(9), &mut obs[4..8]);
            alone[1].reset(Some(9), &mut alone_obs[4..8]);
        }
        let actions = [(step % 2) as f32, 1.0, ((step / 3) % 2) as f32];
        shared.step(&actions, &mut obs, &mut signals, &mut outcomes);
        for i in 0..3 {
            let outcome = alone[i].step(
                &actions[i..i + 1],
                &mut alone_obs[i * 4..i * 4 + 4],
                &mut alone_signals,
            );
            assert_eq!(outcome, outcomes[i], "env {i} step {step}");
            assert_eq!(bits(&alone_signals), bits(&signals[i * s..(i + 1) * s]));
            assert!(!outcomes[i].physics_failure);
        }
        assert_eq!(bits(&obs), bits(&alone_obs), "step {step}");
    }
}

#[test]
fn autoreset_returns_final_and_first_observations_and_statistics_add_up() {
    let config = EnvConfig::Cartpole(CartPoleConfig::default());
    let n = 4;
    let seed = 100;
    let mut envs = config.build_vec(n).unwrap();
    let mut buf = envs.make_buffers(&NoReward);
    envs.reset(seed, &mut buf).unwrap();
    // Twins replay each env by hand with the documented seeding.
    let mut twins: Vec<Box<dyn Env>> = (0..n).map(|_| config.build().unwrap()).collect();
    let mut twin_obs = vec![[0.0f32; 4]; n];
    for (i, twin) in twins.iter_mut().enumerate() {
        twin.reset(Some(env_seed(seed, i)), &mut twin_obs[i]);
        assert_eq!(twin_obs[i], buf.obs_row(i), "env {i} first observation");
    }
    let s = envs.signal_spec().len();
    let alive = envs.signal_spec().index_of("alive").unwrap();
    let mut sums = vec![vec![0.0f64; s]; n];
    let mut lengths = vec![0u32; n];
    let mut ended = 0;
    let mut rng = test_rng(8);
    let mut signals = vec![0.0f32; s];
    for _ in 0..400 {
        let actions = random_actions(envs.action_space(), n, &mut rng);
        envs.step(&actions, &NoReward, &mut buf).unwrap();
        for i in 0..n {
            let outcome = twins[i].step(&actions[i..i + 1], &mut twin_obs[i], &mut signals);
            assert_eq!(signals, buf.signal_row(i), "env {i} signals");
            lengths[i] += 1;
            for (acc, v) in sums[i].iter_mut().zip(&signals) {
                *acc += *v as f64;
            }
            assert_eq!(outcome.done(), buf.done(i));
            if buf.done(i) {
                ended += 1;
                assert_eq!(
                    twin_obs[i],
                    buf.final_obs_row(i),
                    "env {i} final observation"
                );
                let [x, _, theta, _] = twin_obs[i];
                assert!(x.abs() > 2.4 || theta.abs() > 12f32.to_radians() || buf.truncated[i]);
                twins[i].reset(None, &mut twin_obs[i]);
                assert_eq!(
                    twin_obs[i],
                    buf.obs_row(i),
                    "env {i} next first observation"
                );
                assert!(buf.obs_row(i).iter().all(|v| v.abs() <= 0.05));
                assert_eq!(buf.episode_length[i], lengths[i]);
                assert_eq!(buf.episode_signal_row(i)[alive], lengths[i] as f32);
                for (k, sum) in sums[i].iter().enumerate() {
                    let got = buf.episode_signal_row(i)[k];
                    assert!(
                        (got as f64 - sum).abs() <= 1e-4 * (1.0 + sum.abs()),
                        "env {i} signal {k}: {got} vs {sum}"
                    );
                }
                lengths[i] = 0;
                sums[i].iter_mut().for_each(|x| *x = 0.0);
            } else {
                assert_eq!(twin_obs[i], buf.obs_row(i));
            }
        }
    }
    assert!(ended >= 20, "only {ended} episodes ended");
}

#[test]
fn a_bad_action_names_the_env_and_leaves_every_env_untouched() {
    for config in all_configs() {
        let n = 5;
        let mut envs = config.build_vec(n).unwrap();
        let mut twin = config.build_vec(n).unwrap();
        let mut buf = envs.make_buffers(&NoReward);
        let mut twin_buf = twin.make_buffers(&NoReward);
        envs.reset(3, &mut buf).unwrap();
        twin.reset(3, &mut twin_buf).unwrap();
        let mut rng = test_rng(2);
        let a = envs.action_space().flat_dim();
        let mut bad = random_actions(envs.action_space(), n, &mut rng);
        bad[3 * a] = f32::NAN;
        let err = envs
            .step(&bad, &NoReward, &mut buf)
            .unwrap_err()
            .to_string();
        assert!(err.contains("env 3"), "{}: {err}", label(&config));
        bad[3 * a] = f32::INFINITY;
        assert!(envs.step(&bad, &NoReward, &mut buf).is_err());
        for _ in 0..30 {
            let actions = random_actions(envs.action_space(), n, &mut rng);
            envs.step(&actions, &NoReward, &mut buf).unwrap();
            twin.step(&actions, &NoReward, &mut twin_buf).unwrap();
            assert_eq!(snapshot(&buf), snapshot(&twin_buf), "{}", label(&config));
        }
    }
}

#[test]
fn a_physics_blow_up_is_counted_and_the_env_recovers() {
    let mut cartpole = CartPole::new(CartPoleConfig::default()).unwrap();
    let mut obs = [0.0; 4];
    cartpole.reset(Some(1), &mut obs);
    cartpole.set_state([0.0, 0.0, f32::INFINITY, 0.0], &mut [0.0; 4]);
    let healthy = CartPole::new(CartPoleConfig::default()).unwrap();
    let mut envs = VecEnv::new(vec![Box::new(healthy), Box::new(cartpole)]).unwrap();
    let mut buf = envs.make_buffers(&NoReward);
    envs.step(&[1.0, 1.0], &NoReward, &mut buf).unwrap();
    assert!(buf.physics_failure[1] && buf.terminated[1] && !buf.physics_failure[0]);
    assert_eq!(envs.physics_failures(), 1);
    assert!(buf.obs.iter().chain(&buf.final_obs).all(|v| v.is_finite()));
    for _ in 0..10 {
        envs.step(&[0.0, 1.0], &NoReward, &mut buf).unwrap();
        assert!(!buf.physics_failure[1]);
    }
    assert_eq!(envs.physics_failures(), 1);
}

#[test]
fn each_env_gets_its_own_seed_plus_its_index() {
    let driving: EnvConfig =
        toml::from_str("id = \"driving\"\ntraffic = 2\nparked = 2\nmap_pool = 4").unwrap();
    for config in [EnvConfig::Cartpole(CartPoleConfig::default()), driving] {
        let n = 5;
        let seed = 1000;
        let mut envs = config.build_vec(n).unwrap();
        let mut buf = envs.make_buffers(&NoReward);
        envs.reset(seed, &mut buf).unwrap();
        let d = buf.obs_dim;
        for i in 0..n {
            let mut alone = config.build().unwrap();
            let mut obs = vec![0.0; d];
            alone.reset(Some(seed + i as u64), &mut obs);
            assert_eq!(
                bits(&obs),
                bits(buf.obs_row(i)),
                "{}: env {i}",
                label(&config)
            );
            for j in 0..i {
                assert_ne!(
                    bits(buf.obs_row(i)),
                    bits(buf.obs_row(j)),
                    "{}: envs {i} and {j} start alike",
                    label(&config)
                );
            }
        }
    }
}

/// `reset_each` seeds env `i` with `seeds[i]`: the seeds `seed + i` give what `reset(seed)`
/// gives, equal seeds give copies that stay equal under equal actions (autoresets included),
/// and a seed count other than the env count is refused.
#[test]
fn reset_each_seeds_every_env_as_told() {
    // Routes timed out after 5 s, so every driving env autoresets within the run.
    let driving: EnvConfig = toml::from_str(
        "id = \"driving\"\ntraffic = 2\nmap_pool = 4\ntime_limit_base_s = 5.0\ntime_limit_per_m_s = 0.0",
    )
    .unwrap();
    for config in [EnvConfig::Cartpole(CartPoleConfig::default()), driving] {
        let n = 6;
        let steps = 300;
        let run = |seeds: Option<&[u64]>, same_actions: bool| {
            let mut envs = config.build_vec(n).unwrap();
            let mut buf = envs.make_buffers(&NoReward);
            match seeds {
                Some(seeds) => envs.reset_each(seeds, &mut buf).unwrap(),
                None => envs.reset(7, &mut buf).unwrap(),
            }
            let mut rng = test_rng(5);
            let mut rows: Vec<Vec<u32>> = (0..n).map(|i| bits(buf.obs_row(i))).collect();
            let mut dones = 0;
            for _ in 0..steps {
                let mut actions = random_actions(envs.action_space(), n, &mut rng);
                if same_actions {
                    let a = actions.len() / n;
                    let first = actions[..a].to_vec();
                    actions
                        .chunks_mut(a)
                        .for_each(|row| row.copy_from_slice(&first));
                }
                envs.step(&actions, &NoReward, &mut buf).unwrap();
                for (i, row) in rows.iter_mut().enumerate() {
                    row.extend(bits(buf.obs_row(i)));
                    row.extend(bits(buf.signal_row(i)));
                    dones += buf.done(i) as usize;
                }
            }
            (rows, dones)
        };
        let name = label(&config);
        let plus_index: Vec<u64> = (0..n).map(|i| env_seed(7, i)).collect();
        assert_eq!(run(Some(&plus_index), false), run(None, false), "{name}");
        let (copies, dones) = run(Some(&[11; 6]), true);
        assert!(dones > 0, "{name}: no episode ended, autoreset untested");
        assert!(copies.iter().all(|row| *row == copies[0]), "{name}");
        let (different, _) = run(Some(&[11, 12, 13, 14, 15, 16]), true);
        assert_ne!(different[0], different[1], "{name}");

        let mut envs = config.build_vec(n).unwrap();
        let mut buf = envs.make_buffers(&NoReward);
        let err = envs.reset_each(&[1, 2], &mut buf).unwrap_err();
        assert_eq!(
            err.to_string(),
            "buffer shape mismatch: seeds has 2 values, expected one per env (6)"
        );
    }
}
