//! `ppo.critic_signals`, the privileged critic: one-line config errors, the network's input
//! widths, the privileged columns of the stored rollout rows, reproducibility and resume.

mod common;

use carrot_agents::{
    evaluate_run, train_run, IterationMetrics, ProgressMode, RunOptions, TrainConfig, Trainer,
    WALL_CLOCK_KEYS,
};
use carrot_envs::driving::{DrivingConfig, MapFamily};
use carrot_envs::EnvConfig;
use carrot_rewards::RewardConfig;
use common::fresh_dir;

/// Tiny cartpole run whose critic also sees the pole's angular velocity and the cart position.
fn cartpole_config() -> TrainConfig {
    let mut c = TrainConfig {
        seed: 5,
        ..Default::default()
    };
    c.ppo.num_envs = 4;
    c.ppo.num_steps = 32;
    c.ppo.total_timesteps = 4 * 32 * 4;
    c.ppo.normalize_obs = true;
    c.ppo.critic_signals = vec!["theta_dot".into(), "x".into()];
    c.run.checkpoint_every = 2;
    c.run.eval_episodes = 2;
    c
}

fn quiet(max_iterations: Option<usize>) -> RunOptions {
    RunOptions {
        progress: ProgressMode::Quiet,
        max_iterations,
    }
}

fn comparable(rows: &[IterationMetrics]) -> Vec<Vec<(String, String)>> {
    rows.iter()
        .map(|m| {
            m.entries
                .iter()
                .filter(|(k, _)| !WALL_CLOCK_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), format!("{v:?}")))
                .collect()
        })
        .collect()
}

fn build_error(c: &TrainConfig) -> String {
    match Trainer::new(c) {
        Ok(_) => panic!("the config must be rejected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_critic_signals_are_one_line_errors_naming_the_key() {
    let mut c = cartpole_config();
    c.ppo.critic_signals = vec!["theta_dot".into(), "foo".into()];
    assert_eq!(
        build_error(&c),
        "invalid config: ppo.critic_signals: unknown signal \"foo\" for env cartpole \
         (signals: alive, x, x_dot, theta, theta_dot, force, x_before, x_dot_before, \
         theta_before, theta_dot_before)"
    );
    let err = train_run(&c, &fresh_dir("unknown"), &quiet(None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown signal \"foo\"") && !err.contains('\n'),
        "{err}"
    );
    c.ppo.critic_signals = vec!["x".into(), "theta".into(), "x".into()];
    let err = build_error(&c);
    assert!(
        err.contains("ppo.critic_signals") && err.contains("\"x\" is listed twice"),
        "{err}"
    );
    c.ppo.critic_signals = vec!["x".into()];
    c.ppo.shared_trunk = true;
    let err = build_error(&c);
    assert!(
        err.contains("ppo.critic_signals") && err.contains("shared_trunk"),
        "{err}"
    );
    assert!(!err.contains('\n'));
}

#[test]
fn the_critic_sees_obs_plus_k_inputs_and_the_actor_obs_only() {
    let c = cartpole_config();
    let t = Trainer::new(&c).unwrap();
    let shape = |name: &str| {
        let (_, var) = t
            .network()
            .params()
            .iter()
            .find(|(n, _)| n == name)
            .unwrap();
        var.dims().to_vec()
    };
    assert_eq!(shape("actor.0.weight"), vec![4, 64]);
    assert_eq!(shape("critic.0.weight"), vec![4 + 2, 64]);
    assert_eq!((t.rollout().obs_dim, t.rollout().privileged_dim), (6, 2));
    // Evaluation passes plain observations: the actor accepts them.
    assert_eq!(t.policy().act(&[0.01, 0.0, -0.02, 0.0]).unwrap().len(), 1);
    // Without critic signals nothing changes.
    let mut plain = c.clone();
    plain.ppo.critic_signals.clear();
    let p = Trainer::new(&plain).unwrap();
    let w = p
        .network()
        .params()
        .iter()
        .find(|(n, _)| n == "critic.0.weight");
    assert_eq!(w.unwrap().1.dims(), &[4, 64]);
    assert_eq!(p.rollout().privileged_dim, 0);
}

/// Driving with a 1 s time limit (10 steps an episode): the privileged columns of every stored
/// row are the state signals of that row's state, the reset's at an episode's first step and
/// the previous step's signals otherwise; the observation columns stay as they were.
#[test]
fn stored_rows_carry_the_state_signals_of_their_state() {
    let names = ["time_left_frac", "route_left_frac", "route_length_km"];
    let mut c = TrainConfig {
        seed: 2,
        env: EnvConfig::Driving(DrivingConfig {
            map: MapFamily::Town,
            traffic: 2,
            time_limit_base_s: 1.0,
            time_limit_per_m_s: 0.0,
            ..DrivingConfig::default()
        }),
        reward: RewardConfig::Signal {
            signal: "progress".into(),
            scale: 1.0,
            transform: Default::default(),
        },
        ..Default::default()
    };
    c.ppo.num_envs = 2;
    c.ppo.num_steps = 25;
    c.ppo.num_minibatches = 2;
    c.ppo.total_timesteps = 50;
    c.ppo.hidden_sizes = vec![16];
    c.ppo.critic_signals = names.iter().map(|s| s.to_string()).collect();
    let mut t = Trainer::new(&c).unwrap();
    let spec = t.signal_spec().clone();
    let idx: Vec<usize> = names.iter().map(|n| spec.index_of(n).unwrap()).collect();
    t.iterate().unwrap();
    let r = t.rollout();
    let (n, w, k, s) = (r.num_envs, r.obs_dim, r.privileged_dim, r.num_signals);
    assert_eq!(k, 3);
    let privileged = |row: usize| &r.obs[row * w + (w - k)..(row + 1) * w];
    let (mut firsts, mut later) = (0, 0);
    for step in 0..r.num_steps {
        for i in 0..n {
            let row = step * n + i;
            let first = step == 0 || r.terminated[row - n] || r.truncated[row - n];
            let got = privileged(row);
            if first {
                firsts += 1;
                assert_eq!(&got[..2], &[1.0, 1.0], "row {row}");
                assert!(got[2] > 0.0);
            } else {
                later += 1;
                let prev = &r.signals[(row - n) * s..(row - n + 1) * s];
                let want: Vec<f32> = idx.iter().map(|&j| prev[j]).collect();
                assert_eq!(got, want.as_slice(), "row {row}");
                assert!(got[0] < 1.0);
            }
        }
    }
    assert!(firsts >= 6 && later >= 30, "{firsts} {later}");
    assert!(r.truncated.iter().filter(|&&x| x).count() >= 4);
}

#[test]
fn one_and_two_threads_give_identical_metrics() {
    let mut c = cartpole_config();
    c.ppo.hidden_sizes = vec![256, 256];
    c.ppo.num_envs = 8;
    c.ppo.total_timesteps = 8 * 32 * 3;
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut t = Trainer::new(&c).unwrap();
            let mut rows = Vec::new();
            while !t.is_done() {
                rows.push(t.iterate().unwrap());
            }
            comparable(&rows)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    let mut plain = c.clone();
    plain.ppo.critic_signals.clear();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let without = pool.install(|| {
        let mut t = Trainer::new(&plain).unwrap();
        comparable(&[t.iterate().unwrap()])
    });
    assert_ne!(
        one[0], without[0],
        "the privileged inputs change the critic"
    );
}

#[test]
fn a_resumed_run_with_critic_signals_replays_the_uninterrupted_one() {
    let c = cartpole_config();
    let straight = fresh_dir("straight");
    let full = train_run(&c, &straight, &quiet(None)).unwrap();
    let killed = fresh_dir("killed");
    let first = train_run(&c, &killed, &quiet(Some(3))).unwrap();
    assert!(!first.finished);
    let resumed = train_run(&c, &killed, &quiet(None)).unwrap();
    assert_eq!(resumed.resumed_from, Some(2));
    let read = |d: &std::path::Path| carrot_agents::run::read_jsonl(d).unwrap();
    assert_eq!(comparable(&read(&straight)), comparable(&read(&killed)));
    assert_eq!(full.eval, resumed.eval);
    assert_eq!(evaluate_run(&killed, None).unwrap(), resumed.eval.unwrap());
}
