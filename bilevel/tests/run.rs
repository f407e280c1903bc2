//! BARFI through the real trainer: outer keys logged, φ moves, identical metrics for 1 and 2
//! threads, and kill-and-resume replays an uninterrupted run.

#[path = "run_common/mod.rs"]
mod run_common;

use carrot_agents::run::read_jsonl;
use carrot_agents::{IterationMetrics, ProgressMode, RunOptions, TrainConfig, Trainer};
use carrot_bilevel::config::{OuterConfig, OuterMethod};
use carrot_bilevel::hook::{train_barfi_run, BarfiHook};
use carrot_rewards::{Reward, RewardConfig};
use run_common::{comparable, fresh_dir};

fn config() -> TrainConfig {
    let mut c = TrainConfig {
        seed: 3,
        ..Default::default()
    };
    c.ppo.num_envs = 4;
    c.ppo.num_steps = 32;
    c.ppo.total_timesteps = 4 * 32 * 6;
    c.ppo.hidden_sizes = vec![16, 16];
    c.run.checkpoint_every = 2;
    c.run.eval_episodes = 0;
    c
}

fn outer() -> OuterConfig {
    OuterConfig {
        method: OuterMethod::Neumann,
        every: 2,
        warmup: 1,
        lr: 0.05,
        neumann_k: 2,
        neumann_alpha: 0.1,
        neumann_alpha_auto: true,
        learn_gamma: true,
        reg: 0.01,
        hessian_batch: 64,
        critic_hidden: vec![16],
        critic_minibatch: 32,
        ..OuterConfig::default()
    }
}

/// Cartpole's learned blend: primary `alive` (the env-side reward), auxiliaries `theta` and
/// `theta_dot` (not aligned with staying alive).
fn blend() -> Box<dyn Reward> {
    let text = r#"
        id = "blend"
        primary = { id = "env_default" }
        aux = [
            { reward = { id = "signal", signal = "theta" }, weight = 1.0 },
            { reward = { id = "signal", signal = "theta_dot" }, weight = 0.5 },
        ]
    "#;
    let reward: RewardConfig = toml::from_str(text).unwrap();
    let env = config().env.build().unwrap();
    reward.build(env.signal_spec()).unwrap()
}

fn train_in_pool(threads: usize) -> Vec<IterationMetrics> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let c = config();
        let mut hook = BarfiHook::new(&c, &outer(), blend()).unwrap();
        let mut t = Trainer::new(&c).unwrap();
        let mut rows = Vec::new();
        while !t.is_done() {
            rows.push(t.iterate_with(&mut hook).unwrap());
        }
        rows
    })
}

#[test]
fn barfi_run_logs_outer_metrics_and_is_thread_count_independent() {
    let one = train_in_pool(1);
    let get = |i: usize, k: &str| one[i].get(k).unwrap();
    assert!(get(0, "outer/grad_norm").is_nan() && get(1, "outer/grad_norm") > 0.0);
    assert_eq!(get(0, "outer/phi/theta"), 1.0);
    assert_ne!(get(1, "outer/phi/theta"), 1.0);
    assert_ne!(get(5, "outer/gamma"), 0.99);
    assert!(get(1, "outer/cos_fo_neumann").abs() <= 1.0);
    // The automatic α: 0.5 / |λ_max| from the first outer step on (the start value was 0.1).
    let radius = get(1, "outer/hessian_radius");
    assert!(radius > 0.0, "{radius}");
    let alpha = get(1, "outer/neumann_alpha");
    // (halved once more if the divergence guard fired on that step)
    assert!(
        alpha == 0.5 / radius || alpha == 0.25 / radius,
        "{alpha} {radius}"
    );
    assert_eq!(comparable(&one), comparable(&train_in_pool(2)));
}

#[test]
fn barfi_kill_and_resume_replays_the_uninterrupted_run() {
    let c = config();
    let quiet = RunOptions {
        progress: ProgressMode::Quiet,
        max_iterations: None,
    };
    let straight = fresh_dir("barfi-straight");
    train_barfi_run(&c, &outer(), blend(), &straight, &quiet).unwrap();
    let killed = fresh_dir("barfi-killed");
    let partial = RunOptions {
        max_iterations: Some(3),
        ..quiet.clone()
    };
    train_barfi_run(&c, &outer(), blend(), &killed, &partial).unwrap();
    let resumed = train_barfi_run(&c, &outer(), blend(), &killed, &quiet).unwrap();
    assert_eq!(resumed.resumed_from, Some(2));
    let (a, b) = (read_jsonl(&straight).unwrap(), read_jsonl(&killed).unwrap());
    assert_eq!(a.len(), 6);
    assert_eq!(comparable(&a), comparable(&b));
    let _ = std::fs::remove_dir_all(&straight);
    let _ = std::fs::remove_dir_all(&killed);
}

#[test]
fn a_bad_outer_config_is_a_one_line_error() {
    let mut c = config();
    c.ppo.normalize_reward = true;
    let err = BarfiHook::new(&c, &outer(), blend())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("ppo.normalize_reward") && !err.contains('\n'),
        "{err}"
    );
}
