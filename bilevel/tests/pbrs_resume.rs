//! PBRS carries Φ of each env's last row from one rollout to the next; the envs no longer
//! reset at checkpoints, so that carry is saved in the checkpoint: a PBRS run gives the same
//! metrics whatever `run.checkpoint_every`, and a stopped run resumes exactly.

#[path = "run_common/mod.rs"]
mod run_common;

use carrot_agents::run::read_jsonl;
use carrot_agents::{OuterConfig, OuterMethod, RunOptions, TrainConfig};
use carrot_bilevel::train_run;
use carrot_envs::{EnvConfig, GridWorldConfig};
use carrot_rewards::RewardConfig;
use run_common::{comparable, fresh_dir, quiet};

fn config(every: usize) -> TrainConfig {
    let reward: RewardConfig = toml::from_str(
        "id = \"blend\"\nprimary = { id = \"env_default\" }\n\
         aux = [{ reward = { id = \"signal\", signal = \"goal_distance\" }, weight = -0.1 }]\n",
    )
    .unwrap();
    let mut c = TrainConfig {
        seed: 9,
        env: EnvConfig::GridWorld(GridWorldConfig::default()),
        ..Default::default()
    };
    c.ppo.num_envs = 4;
    // Shorter than the 50-step episodes: every checkpoint falls mid-episode.
    c.ppo.num_steps = 16;
    c.ppo.total_timesteps = 4 * 16 * 8;
    c.ppo.hidden_sizes = vec![16];
    c.run.checkpoint_every = every;
    c.run.eval_episodes = 0;
    c.outer = Some(OuterConfig {
        method: OuterMethod::Pbrs,
        reward,
        ..OuterConfig::default()
    });
    c
}

#[test]
fn pbrs_runs_ignore_checkpoint_every_and_resume_exactly() {
    let never = fresh_dir("pbrs-never");
    train_run(&config(1000), &never, &quiet()).unwrap();
    let want = comparable(&read_jsonl(&never).unwrap());
    assert_eq!(want.len(), 8);

    let every = fresh_dir("pbrs-every1");
    train_run(&config(1), &every, &quiet()).unwrap();
    assert_eq!(comparable(&read_jsonl(&every).unwrap()), want);

    let stopped = fresh_dir("pbrs-stopped");
    let partial = RunOptions {
        max_iterations: Some(5),
        ..quiet()
    };
    let first = train_run(&config(2), &stopped, &partial).unwrap();
    assert!(!first.finished);
    let resumed = train_run(&config(2), &stopped, &quiet()).unwrap();
    assert_eq!(resumed.resumed_from, Some(4));
    assert_eq!(comparable(&read_jsonl(&stopped).unwrap()), want);
    for dir in [never, every, stopped] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
