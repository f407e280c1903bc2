//! Env snapshots: a VecEnv restored from a snapshot (through its JSON text, as checkpoints
//! store it) into freshly built envs steps on bit-identically to the original, mid-episode and
//! through autoresets, for every registered env.

use carrot_envs::driving::MapFamily;
use carrot_envs::{
    env_rng, AcrobotConfig, CartPoleConfig, DrivingConfig, EnvConfig, EnvError, GridWorldConfig,
    MountainCarConfig, NoReward, PendulumConfig, StepBuffers, VecEnv, VecEnvSnapshot,
};

const NUM_ENVS: usize = 3;

/// Every observable of a step, as exact bits (the episode rows only where an episode ended:
/// elsewhere they are stale by design).
fn fingerprint(buf: &StepBuffers) -> Vec<u32> {
    let mut out = Vec::new();
    let bits = |out: &mut Vec<u32>, xs: &[f32]| out.extend(xs.iter().map(|x| x.to_bits()));
    for i in 0..buf.num_envs {
        bits(&mut out, buf.obs_row(i));
        bits(&mut out, buf.signal_row(i));
        bits(&mut out, buf.state_signal_row(i));
        bits(&mut out, &[buf.rewards[i]]);
        out.push(buf.terminated[i] as u32 | (buf.truncated[i] as u32) << 1);
        if buf.done(i) {
            bits(&mut out, buf.final_obs_row(i));
            bits(&mut out, buf.episode_signal_row(i));
            bits(&mut out, buf.episode_metric_row(i));
            bits(&mut out, &[buf.episode_return[i]]);
            out.push(buf.episode_length[i]);
        }
    }
    out
}

/// Steps `envs` `steps` times with actions drawn from `seed`; returns the fingerprints and
/// the number of episodes that ended.
fn run(envs: &mut VecEnv, buf: &mut StepBuffers, seed: u64, steps: usize) -> (Vec<u32>, usize) {
    let mut rng = env_rng(seed);
    let dim = envs.action_space().flat_dim();
    let mut actions = vec![0f32; NUM_ENVS * dim];
    let (mut out, mut ended) = (Vec::new(), 0);
    for _ in 0..steps {
        for row in actions.chunks_mut(dim) {
            envs.action_space().sample(&mut rng, row);
        }
        envs.step(&actions, &NoReward, buf).unwrap();
        ended += (0..NUM_ENVS).filter(|&i| buf.done(i)).count();
        out.extend(fingerprint(buf));
    }
    (out, ended)
}

fn small_driving() -> DrivingConfig {
    DrivingConfig {
        map: MapFamily::Town,
        map_pool: 2,
        traffic: 4,
        parked: 2,
        route_min_m: 60.0,
        route_max_m: 90.0,
        time_limit_base_s: 3.0,
        time_limit_per_m_s: 0.0,
        ..DrivingConfig::default()
    }
}

/// Steps `before` steps, snapshots, and checks that a fresh VecEnv restored from the snapshot
/// replays the next `after` steps of the original exactly, with at least one autoreset.
fn check_resumes_exactly(config: EnvConfig, before: usize, after: usize) {
    check_resumes_exactly_into(config.clone(), config, before, after);
}

/// [`check_resumes_exactly`], restoring into a VecEnv built from `restored_config`.
fn check_resumes_exactly_into(
    config: EnvConfig,
    restored_config: EnvConfig,
    before: usize,
    after: usize,
) {
    let mut envs = config.build_vec(NUM_ENVS).unwrap();
    let mut buf = envs.make_buffers(&NoReward);
    envs.reset(5, &mut buf).unwrap();
    run(&mut envs, &mut buf, 1, before);
    let text = serde_json::to_string(&envs.snapshot(&buf).unwrap()).unwrap();
    let snapshot: VecEnvSnapshot = serde_json::from_str(&text).unwrap();

    let mut restored = restored_config.build_vec(NUM_ENVS).unwrap();
    let mut restored_buf = restored.make_buffers(&NoReward);
    restored.restore(&snapshot, &mut restored_buf).unwrap();
    assert_eq!(restored_buf.obs, buf.obs, "{}", config.id());
    let (want, ended) = run(&mut envs, &mut buf, 2, after);
    let (got, _) = run(&mut restored, &mut restored_buf, 2, after);
    assert!(
        ended > 0,
        "{}: no episode ended after the snapshot",
        config.id()
    );
    assert!(
        want == got,
        "{}: the restored envs diverge from the original",
        config.id()
    );
}

#[test]
fn control_envs_resume_exactly_from_a_snapshot() {
    check_resumes_exactly(EnvConfig::Cartpole(CartPoleConfig::default()), 37, 200);
    let pendulum = PendulumConfig {
        max_episode_steps: 60,
        ..Default::default()
    };
    check_resumes_exactly(EnvConfig::Pendulum(pendulum), 41, 100);
    let acrobot = AcrobotConfig {
        max_episode_steps: 50,
        ..Default::default()
    };
    check_resumes_exactly(EnvConfig::Acrobot(acrobot), 33, 80);
    let car = MountainCarConfig {
        max_episode_steps: Some(40),
        ..Default::default()
    };
    check_resumes_exactly(EnvConfig::MountainCar(car), 27, 60);
    check_resumes_exactly(EnvConfig::GridWorld(GridWorldConfig::default()), 23, 120);
}

#[test]
fn cartpoles_resume_exactly_into_worlds_grouped_otherwise() {
    let grouped = |envs_per_world| {
        EnvConfig::Cartpole(CartPoleConfig {
            envs_per_world,
            ..Default::default()
        })
    };
    // Three envs in one shared world, restored into one world each, and back.
    check_resumes_exactly_into(grouped(3), grouped(1), 37, 200);
    check_resumes_exactly_into(grouped(1), grouped(2), 52, 200);
}

#[test]
fn pendulums_and_acrobots_resume_exactly_into_worlds_grouped_otherwise() {
    let pendulum = |envs_per_world| {
        EnvConfig::Pendulum(PendulumConfig {
            max_episode_steps: 60,
            envs_per_world,
            ..Default::default()
        })
    };
    let acrobot = |envs_per_world| {
        EnvConfig::Acrobot(AcrobotConfig {
            max_episode_steps: 50,
            envs_per_world,
            ..Default::default()
        })
    };
    for config in [pendulum, acrobot] {
        check_resumes_exactly_into(config(3), config(1), 37, 120);
        check_resumes_exactly_into(config(1), config(2), 52, 120);
    }
}

#[test]
fn driving_resumes_exactly_from_a_snapshot() {
    // 30-step episodes: the snapshot falls mid-episode and the replay crosses resets.
    check_resumes_exactly(EnvConfig::Driving(small_driving()), 47, 70);
}

#[test]
fn a_snapshot_of_other_envs_is_refused_with_a_clear_error() {
    let mut envs = EnvConfig::Cartpole(CartPoleConfig::default())
        .build_vec(2)
        .unwrap();
    let mut buf = envs.make_buffers(&NoReward);
    envs.reset(0, &mut buf).unwrap();
    let snapshot = envs.snapshot(&buf).unwrap();
    let mut pendulums = EnvConfig::Pendulum(PendulumConfig::default())
        .build_vec(2)
        .unwrap();
    let mut other = pendulums.make_buffers(&NoReward);
    let err = pendulums.restore(&snapshot, &mut other).unwrap_err();
    assert!(matches!(err, EnvError::Snapshot { .. }), "{err}");
    assert!(err.to_string().contains("'cartpole'"), "{err}");
    let mut three = EnvConfig::Cartpole(CartPoleConfig::default())
        .build_vec(3)
        .unwrap();
    let mut three_buf = three.make_buffers(&NoReward);
    let err = three.restore(&snapshot, &mut three_buf).unwrap_err();
    assert!(err.to_string().contains("2 'cartpole' envs"), "{err}");
}
