//! `carrot_bilevel::train_run` dispatches on `TrainConfig.outer`: every baseline of the BARFI
//! experiments goes through it (primary only, naive sum, PBRS, BARFI), scored by the run's own
//! `[reward]`.

#[path = "run_common/mod.rs"]
mod run_common;

use carrot_agents::run::read_jsonl;
use carrot_agents::{OuterConfig, OuterMethod, TrainConfig, Trainer};
use carrot_bilevel::{build_hook, train_run};
use carrot_envs::{EnvConfig, GridWorldConfig};
use carrot_rewards::{PotentialShaping, RewardConfig};
use run_common::{comparable, fresh_dir, quiet};

const AUX: &str = r#"[{ reward = { id = "signal", signal = "goal_distance" }, weight = -0.1 }]"#;

fn blend() -> RewardConfig {
    let text = format!("id = \"blend\"\nprimary = {{ id = \"env_default\" }}\naux = {AUX}\n");
    toml::from_str(&text).unwrap()
}

fn config(method: OuterMethod) -> TrainConfig {
    let mut c = TrainConfig {
        seed: 5,
        env: EnvConfig::GridWorld(GridWorldConfig::default()),
        ..Default::default()
    };
    c.ppo.num_envs = 4;
    c.ppo.num_steps = 32;
    c.ppo.total_timesteps = 4 * 32 * 4;
    c.ppo.hidden_sizes = vec![16];
    c.run.checkpoint_every = 2;
    c.run.eval_episodes = 0;
    c.outer = Some(OuterConfig {
        method,
        reward: blend(),
        every: 1,
        warmup: 0,
        critic_hidden: vec![16],
        critic_minibatch: 32,
        ..OuterConfig::default()
    });
    c
}

#[test]
fn primary_only_is_bit_identical_to_a_plain_run() {
    let outer = config(OuterMethod::Primary);
    let mut plain = outer.clone();
    plain.outer = None;
    let (a, b) = (fresh_dir("dispatch-primary"), fresh_dir("dispatch-plain"));
    train_run(&outer, &a, &quiet()).unwrap();
    train_run(&plain, &b, &quiet()).unwrap();
    let (a_rows, b_rows) = (read_jsonl(&a).unwrap(), read_jsonl(&b).unwrap());
    assert_eq!(a_rows.len(), 4);
    assert_eq!(comparable(&a_rows), comparable(&b_rows));
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn plain_train_run_refuses_an_outer_config() {
    let err = carrot_agents::train_run(
        &config(OuterMethod::Fo),
        &fresh_dir("dispatch-refuse"),
        &quiet(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("outer") && err.contains("carrot_bilevel"),
        "{err}"
    );
}

#[test]
fn barfi_through_train_run_moves_the_auxiliary_weight() {
    let dir = fresh_dir("dispatch-fo");
    train_run(&config(OuterMethod::Fo), &dir, &quiet()).unwrap();
    let rows = read_jsonl(&dir).unwrap();
    let w = |i: usize| rows[i].get("outer/phi/goal_distance").unwrap();
    // every = 1, warmup = 0: φ moves from its naive-sum start (w = 1) on every iteration.
    assert_ne!(w(0), 1.0);
    assert_ne!(w(3), w(0));
    assert!(rows[3].get("outer/grad_norm").unwrap() > 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The relabel the learner sees under PBRS is r_p + γ Φ(s') (1 − terminated) − Φ(s), with Φ of
/// the state a row's step started from taken from the previous row of the same env.
#[test]
fn pbrs_relabels_with_the_potential_difference() {
    let c = config(OuterMethod::Pbrs);
    let mut hook = build_hook(&c).unwrap().unwrap();
    let mut t = Trainer::new(&c).unwrap();
    t.iterate_with(hook.as_mut()).unwrap();
    let env = c.env.build().unwrap();
    let aux: Vec<carrot_rewards::RewardTerm> = toml::from_str::<toml::Table>(&format!("a = {AUX}"))
        .unwrap()["a"]
        .clone()
        .try_into()
        .unwrap();
    let phi = PotentialShaping::new(env.signal_spec(), &aux)
        .unwrap()
        .potentials(&t.rollout().signals)
        .unwrap();
    let ro = t.rollout();
    let (n, gamma) = (ro.num_envs, c.ppo.gamma);
    let mut checked = 0;
    for row in n..ro.len() {
        let prev = row - n;
        if ro.terminated[prev] || ro.truncated[prev] {
            continue;
        }
        let next = if ro.terminated[row] { 0.0 } else { phi[row] };
        let want = ro.env_rewards[row] as f64 + gamma * next - phi[prev];
        assert!((ro.rewards[row] as f64 - want).abs() < 1e-5, "row {row}");
        checked += 1;
    }
    assert!(checked > ro.len() / 2);
    assert!(ro.rewards.iter().zip(&ro.env_rewards).any(|(a, b)| a != b));
}
