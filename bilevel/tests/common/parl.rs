//! The PARL runs' tiny pendulum setting (true reward `env_default`, i.e. the `reward`
//! signal): 4 envs x 32 steps per iteration, a [16, 16] policy, no evaluation, and a feedback
//! session of 12 disagreement queries every 2 iterations (30 at most) to a small r_ν ensemble.

use carrot_agents::{PreferenceConfig, PreferenceMethod, TrainConfig};
use carrot_bilevel::check;
use carrot_bilevel::parl::config::{ModelConfig, Selection};
use carrot_envs::EnvConfig;

/// Queries per feedback session.
pub const QUERIES: usize = 12;

/// The preference settings: r_ν reads `theta`, `theta_dot` and `torque`.
pub fn preference(method: PreferenceMethod) -> PreferenceConfig {
    PreferenceConfig {
        method,
        inputs: ["theta", "theta_dot", "torque"].map(String::from).to_vec(),
        segment_length: 8,
        queries_per_session: QUERIES,
        session_every: 2,
        max_queries: 30,
        selection: Selection::Disagreement,
        candidates_factor: 4,
        heldout_fraction: 0.25,
        model: ModelConfig {
            members: 3,
            hidden: vec![16],
            lr: 3e-3,
            steps: 20,
            batch: 8,
        },
        ..PreferenceConfig::default()
    }
}

/// Pendulum with `seed`, `iterations` iterations long, with [`preference`] of `method`.
pub fn pendulum(method: PreferenceMethod, seed: u64, iterations: u64) -> TrainConfig {
    let mut c = TrainConfig {
        seed,
        env: toml::from_str::<EnvConfig>("id = \"pendulum\"").unwrap(),
        ..Default::default()
    };
    c.ppo.num_envs = 4;
    c.ppo.num_steps = 32;
    c.ppo.total_timesteps = 4 * 32 * iterations;
    c.ppo.hidden_sizes = vec![16, 16];
    c.run.eval_episodes = 0;
    c.preference = Some(preference(method));
    c
}

/// A-PARL's correction as the fixtures were captured with: step 10, 2 terms, alpha 1e-2.
pub fn with_correction(mut c: TrainConfig) -> TrainConfig {
    let p = c.preference.as_mut().unwrap();
    p.correction_step = 10.0;
    p.correction_terms = 2;
    p.correction_alpha = 1e-2;
    c
}

/// The one-line error `check` refuses `c` with.
pub fn one_line_error(c: &TrainConfig) -> String {
    let err = match check(c) {
        Ok(()) => panic!("the config must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(!err.contains('\n'), "{err}");
    err
}
