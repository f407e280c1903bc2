//! The iteration hook: without one PPO is unchanged, a hook's relabelled rewards really reach the
//! learner, its outer state survives kill-and-resume, and the critic refit moves only the critic.

mod common;

use carrot_agents::networks::ParamGroup;
use carrot_agents::run::read_jsonl;
use carrot_agents::{
    train_run_with, Collected, HookOutput, IterationHook, IterationMetrics, NoHook, ProgressMode,
    RunOptions, TrainConfig, Trainer,
};
use common::{fresh_dir, metric_bits};

fn tiny_config() -> TrainConfig {
    let mut c = TrainConfig {
        seed: 5,
        ..Default::default()
    };
    c.ppo.num_envs = 4;
    c.ppo.num_steps = 32;
    c.ppo.total_timesteps = 4 * 32 * 6;
    c.ppo.normalize_obs = true;
    c.run.checkpoint_every = 2;
    c.run.eval_episodes = 0;
    c
}

fn train(c: &TrainConfig, hook: &mut dyn IterationHook) -> Vec<IterationMetrics> {
    let mut t = Trainer::new(c).unwrap();
    let mut rows = Vec::new();
    while !t.is_done() {
        rows.push(t.iterate_with(hook).unwrap());
    }
    rows
}

#[test]
fn iterate_is_iterate_with_no_hook() {
    let c = tiny_config();
    let mut t = Trainer::new(&c).unwrap();
    let mut plain = Vec::new();
    while !t.is_done() {
        plain.push(t.iterate().unwrap());
    }
    assert_eq!(metric_bits(&plain), metric_bits(&train(&c, &mut NoHook)));
}

/// Relabels every reward to zero and logs one key.
struct ZeroRewards;

impl IterationHook for ZeroRewards {
    fn after_collect(
        &mut self,
        t: &mut Trainer,
        _: &Collected,
    ) -> carrot_agents::error::Result<HookOutput> {
        let r = t.rollout_mut();
        assert_eq!(
            r.rewards, r.env_rewards,
            "the hook sees the unscaled env rewards"
        );
        r.rewards.iter_mut().for_each(|x| *x = 0.0);
        let mut metrics = IterationMetrics::default();
        metrics.push("outer/zeroed", 1.0);
        Ok(HookOutput {
            metrics,
            ..Default::default()
        })
    }
}

#[test]
fn relabelled_rewards_reach_the_learner_and_returns_stay_env_side() {
    let c = tiny_config();
    let plain = train(&c, &mut NoHook);
    let zeroed = train(&c, &mut ZeroRewards);
    // The first rollout is collected by the same initial policy: same env-side scores.
    let ret = |rows: &[IterationMetrics], i: usize| rows[i].get("charts/episodic_return").unwrap();
    assert_eq!(ret(&plain, 0).to_bits(), ret(&zeroed, 0).to_bits());
    // With zero rewards the critic learns different targets right away.
    let vloss = |rows: &[IterationMetrics]| rows[0].get("losses/value_loss").unwrap();
    assert_ne!(vloss(&plain), vloss(&zeroed));
    assert_ne!(metric_bits(&plain), metric_bits(&zeroed));
    let last = &zeroed[0].entries.last().unwrap();
    assert_eq!((last.0.as_str(), last.1), ("outer/zeroed", 1.0));
}

/// An outer loop with state: a running sum of env rewards and a counter that pick the reward
/// scale and the discount of each iteration.
#[derive(Default)]
struct Stateful {
    updates: u64,
    reward_sum: f64,
}

impl IterationHook for Stateful {
    fn after_collect(
        &mut self,
        t: &mut Trainer,
        _: &Collected,
    ) -> carrot_agents::error::Result<HookOutput> {
        let scale = 1.0 + (self.reward_sum % 7.0) as f32 / 7.0;
        let r = t.rollout_mut();
        self.reward_sum += r.env_rewards.iter().map(|&x| x as f64).sum::<f64>();
        r.rewards.iter_mut().for_each(|x| *x *= scale);
        let mut metrics = IterationMetrics::default();
        metrics.push("outer/reward_sum", self.reward_sum);
        Ok(HookOutput {
            gamma: Some(0.9 + 0.01 * (self.updates % 5) as f64),
            refit_critic_epochs: (self.updates % 2) as usize,
            metrics,
        })
    }

    fn after_update(&mut self, _: &mut Trainer) -> carrot_agents::error::Result<IterationMetrics> {
        self.updates += 1;
        let mut m = IterationMetrics::default();
        m.push("outer/updates", self.updates as f64);
        Ok(m)
    }

    fn save(&self) -> carrot_agents::error::Result<Option<serde_json::Value>> {
        Ok(Some(
            serde_json::json!({ "updates": self.updates, "reward_sum": self.reward_sum }),
        ))
    }

    fn restore(&mut self, state: Option<serde_json::Value>) -> carrot_agents::error::Result<()> {
        let s = state.expect("a hooked run's checkpoint holds outer state");
        self.updates = s["updates"].as_u64().unwrap();
        self.reward_sum = s["reward_sum"].as_f64().unwrap();
        Ok(())
    }
}

#[test]
fn outer_state_survives_kill_and_resume() {
    let c = tiny_config();
    let quiet = RunOptions {
        progress: ProgressMode::Quiet,
        max_iterations: None,
    };
    let straight = fresh_dir("straight");
    train_run_with(&c, &straight, &quiet, &mut Stateful::default()).unwrap();
    let killed = fresh_dir("killed");
    let partial = RunOptions {
        max_iterations: Some(3),
        ..quiet.clone()
    };
    train_run_with(&c, &killed, &partial, &mut Stateful::default()).unwrap();
    let state = std::fs::read_to_string(killed.join("checkpoint/state.json")).unwrap();
    assert!(
        state.contains("\"outer\"") && state.contains("reward_sum"),
        "{state}"
    );
    let resumed = train_run_with(&c, &killed, &quiet, &mut Stateful::default()).unwrap();
    assert_eq!(resumed.resumed_from, Some(2));
    let (a, b) = (read_jsonl(&straight).unwrap(), read_jsonl(&killed).unwrap());
    assert_eq!(a.len(), 6);
    assert_eq!(metric_bits(&a), metric_bits(&b));
    // The hook's state matters: a plain run gives other metrics.
    let plain = fresh_dir("plain");
    train_run_with(&c, &plain, &quiet, &mut NoHook).unwrap();
    let p = read_jsonl(&plain).unwrap();
    assert_ne!(
        a[5].get("losses/value_loss").unwrap(),
        p[5].get("losses/value_loss").unwrap()
    );
}

#[test]
fn critic_refit_fits_the_returns_and_leaves_the_actor_alone() {
    let mut c = tiny_config();
    c.ppo.learning_rate = 3e-3;
    let mut t = Trainer::new(&c).unwrap();
    t.iterate().unwrap();
    let groups = t.param_groups();
    assert!(groups.contains(&ParamGroup::Actor) && groups.contains(&ParamGroup::Critic));
    let before = t.host_params().to_vec();
    let returns = vec![3.0f32; t.rollout().len()];
    let first = t.critic_refit(&returns, 1).unwrap();
    let later = t.critic_refit(&returns, 8).unwrap();
    assert!(later < 0.5 * first, "{first} -> {later}");
    for ((g, b), a) in groups.iter().zip(&before).zip(t.host_params()) {
        match g {
            ParamGroup::Actor => assert_eq!(b, a),
            _ => assert_ne!(b, a),
        }
    }
    let mut shared = c.clone();
    shared.ppo.shared_trunk = true;
    let mut t = Trainer::new(&shared).unwrap();
    t.iterate().unwrap();
    let err = t.critic_refit(&returns, 1).unwrap_err().to_string();
    assert!(err.contains("ppo.shared_trunk"), "{err}");
}

/// PPO normalizes advantages per mini-batch: with one-sample mini-batches every normalized
/// advantage is exactly 0, so without an entropy bonus the actor cannot move. Normalizing over
/// the whole batch (or not at all) would move it.
#[test]
fn advantages_are_normalized_per_minibatch() {
    let mut c = tiny_config();
    c.ppo.num_envs = 2;
    c.ppo.num_steps = 8;
    c.ppo.total_timesteps = 16;
    c.ppo.minibatch_size = Some(1);
    c.ppo.ent_coef = 0.0;
    let actor_moved = |norm_adv: bool| {
        let mut c = c.clone();
        c.ppo.norm_adv = norm_adv;
        let mut t = Trainer::new(&c).unwrap();
        let before = t.host_params().to_vec();
        t.iterate().unwrap();
        let groups = t.param_groups();
        let moved = |want: ParamGroup| {
            groups
                .iter()
                .zip(before.iter().zip(t.host_params()))
                .any(|(g, (b, a))| *g == want && b != a)
        };
        assert!(moved(ParamGroup::Critic));
        moved(ParamGroup::Actor)
    };
    assert!(
        !actor_moved(true),
        "per-mini-batch normalization zeroes the policy gradient"
    );
    assert!(actor_moved(false));
}

/// Sleeps in both hook calls, so the hook's share of the time is known from below.
struct Sleepy;

impl IterationHook for Sleepy {
    fn after_collect(
        &mut self,
        _: &mut Trainer,
        _: &Collected,
    ) -> carrot_agents::error::Result<HookOutput> {
        std::thread::sleep(std::time::Duration::from_millis(20));
        Ok(HookOutput::default())
    }
    fn after_update(&mut self, _: &mut Trainer) -> carrot_agents::error::Result<IterationMetrics> {
        std::thread::sleep(std::time::Duration::from_millis(10));
        Ok(IterationMetrics::default())
    }
}

#[test]
fn phase_times_count_each_phase_and_stay_out_of_the_metrics() {
    let c = tiny_config();
    let mut t = Trainer::new(&c).unwrap();
    assert_eq!(t.phase_seconds().total(), 0.0);
    let started = std::time::Instant::now();
    let mut rows = Vec::new();
    while !t.is_done() {
        rows.push(t.iterate_with(&mut Sleepy).unwrap());
    }
    let wall = started.elapsed().as_secs_f64();
    let times = t.phase_seconds();
    let iterations = rows.len() as f64;
    assert!(times.hook >= 0.030 * iterations, "{times:?}");
    assert!(times.collect > 0.0 && times.learn > 0.0, "{times:?}");
    assert!(times.total() <= wall, "{times:?} > {wall}");
    assert!(times.describe().contains("hook"));
    // The timings never reach the metrics: the same run without sleeping logs the same bits.
    assert_eq!(metric_bits(&rows), metric_bits(&train(&c, &mut NoHook)));
}
