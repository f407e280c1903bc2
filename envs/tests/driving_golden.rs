//! Golden hashes of fixed-seed driving episodes: every observation, signal, outcome and
//! episode metric, bit for bit. A refactor of the driving world must leave them unchanged; a
//! change of the world's behaviour must update them on purpose (with the reason in the commit).

use carrot_envs::driving::{DrivingAction, DrivingConfig, DrivingEnv, Expert, MapFamily};
use carrot_envs::Env;

/// The signals whose values are pinned (signals added later do not change the hashes).
const PINNED_SIGNALS: [&str; 32] = [
    "progress",
    "route_completion",
    "distance",
    "collision_vehicle",
    "collision_static",
    "red_light",
    "blocked",
    "route_deviation",
    "off_road",
    "timeout",
    "route_finished",
    "outside_route_lanes",
    "speed",
    "speed_limit",
    "ttc_violation",
    "lon_accel",
    "lat_accel",
    "jerk",
    "lon_jerk",
    "yaw_rate",
    "yaw_accel",
    "lateral_offset",
    "lane_width",
    "in_junction",
    "desired_speed",
    "lateral_distance",
    "heading_error",
    "steer_change",
    "steer",
    "accel_cmd",
    "time_left",
    "route_left",
];

/// FNV-1a over 32-bit words.
struct Hash(u64);

impl Hash {
    fn add(&mut self, word: u32) {
        for b in word.to_le_bytes() {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn floats(&mut self, xs: &[f32]) {
        xs.iter().for_each(|x| self.add(x.to_bits()));
    }
}

/// Runs `episodes` episodes of the expert, with the pedal and steering perturbed by a fixed
/// pseudo-random sequence of size `noise` (so collisions, lights and comfort limits are hit),
/// and hashes everything the env writes.
fn episode_hash(config: DrivingConfig, seed: u64, episodes: usize, noise: f32) -> u64 {
    let mut env = DrivingEnv::new(config).unwrap();
    let mut obs = vec![0.0; env.observation_space().flat_dim()];
    let mut sig = vec![0.0; env.signal_spec().len()];
    let mut metrics = vec![0.0; env.episode_metric_names().len()];
    let mut action = vec![0.0; env.action_space().flat_dim()];
    let pinned: Vec<usize> = PINNED_SIGNALS
        .iter()
        .map(|n| env.signal_spec().index_of(n).unwrap())
        .collect();
    let expert = Expert::default();
    let mut h = Hash(0xcbf2_9ce4_8422_2325);
    let mut lcg = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut uniform = move || {
        lcg = lcg
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (lcg >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    env.reset(Some(seed), &mut obs);
    h.floats(&obs);
    for _ in 0..episodes {
        for _ in 0..3000 {
            expert.act_in_space(&env, &mut action);
            if action.len() == 2 {
                action[0] += noise * uniform();
                action[1] += noise * uniform();
            }
            let out = env.step(&action, &mut obs, &mut sig);
            h.floats(&obs);
            for &i in &pinned {
                h.add(sig[i].to_bits());
            }
            h.add(out.terminated as u32 | (out.truncated as u32) << 1);
            if out.done() {
                break;
            }
        }
        env.episode_metrics(&mut metrics);
        h.floats(&metrics[..12]);
        env.reset(None, &mut obs);
        h.floats(&obs);
    }
    h.0
}

fn town() -> DrivingConfig {
    DrivingConfig {
        route_min_m: 150.0,
        route_max_m: 300.0,
        ..DrivingConfig::default()
    }
}

#[test]
fn town_expert_episodes_are_pinned() {
    assert_eq!(episode_hash(town(), 11, 3, 0.0), 3364230983973854619);
}

#[test]
fn town_noisy_expert_episodes_are_pinned() {
    assert_eq!(episode_hash(town(), 12, 4, 0.6), 13132095756617314120);
}

#[test]
fn rural_and_highway_episodes_are_pinned() {
    let rural = DrivingConfig {
        map: MapFamily::Rural,
        traffic: 4,
        ..town()
    };
    let highway = DrivingConfig {
        map: MapFamily::Highway,
        action: DrivingAction::Discrete,
        ..town()
    };
    assert_eq!(episode_hash(rural, 13, 2, 0.3), 3572886218996196532);
    assert_eq!(episode_hash(highway, 14, 2, 0.0), 11235127884550820779);
}
