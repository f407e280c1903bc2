//! Golden hashes of CaRL's and Roach's rewards, terms and causes over fixed-seed driving
//! episodes (a perturbed expert in town): a refactor must leave them bit-identical.

use carrot_envs::driving::{DrivingConfig, DrivingEnv, Expert};
use carrot_envs::Env;
use carrot_rewards::{CarlConfig, RewardConfig, RoachConfig};

fn fnv(h: &mut u64, word: u32) {
    for b in word.to_le_bytes() {
        *h = (*h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
}

fn reward_hash(reward: RewardConfig, seed: u64) -> u64 {
    let config = DrivingConfig {
        route_min_m: 150.0,
        route_max_m: 300.0,
        ..DrivingConfig::default()
    };
    let mut env = DrivingEnv::new(config).unwrap();
    let reward = reward.build(env.signal_spec()).unwrap();
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    let mut sig = vec![0.0; env.signal_spec().len()];
    let mut terms = vec![0.0; reward.term_names().len()];
    let expert = Expert::default();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut lcg = seed;
    env.reset(Some(seed), &mut obs);
    for _ in 0..2500 {
        lcg = lcg
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = (lcg >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        let [steer, pedal] = expert.act(&env);
        let out = env.step(&[steer + noise, pedal - noise], &mut obs, &mut sig);
        let (r, cause) = reward.evaluate(&sig, &mut terms);
        fnv(&mut h, r.to_bits());
        terms.iter().for_each(|t| fnv(&mut h, t.to_bits()));
        fnv(&mut h, cause.map_or(u32::MAX, |c| c as u32));
        if out.done() || cause.is_some() {
            env.reset(None, &mut obs);
        }
    }
    h
}

#[test]
fn carl_over_town_episodes_is_pinned() {
    assert_eq!(
        reward_hash(RewardConfig::Carl(CarlConfig::default()), 21),
        3286319554898037847
    );
}

#[test]
fn roach_over_town_episodes_is_pinned() {
    assert_eq!(
        reward_hash(RewardConfig::Roach(RoachConfig::default()), 22),
        14200647213312288697
    );
}
