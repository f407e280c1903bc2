//! Helpers shared by the env integration tests.

#![allow(dead_code)]

use carrot_envs::{
    AcrobotConfig, CartPoleConfig, EnvConfig, GridWorldConfig, MountainCarConfig, PendulumConfig,
    Space,
};
use rand::SeedableRng;

/// Every registered env in every variant.
pub fn all_configs() -> Vec<EnvConfig> {
    vec![
        EnvConfig::Cartpole(CartPoleConfig::default()),
        EnvConfig::Cartpole(CartPoleConfig {
            continuous: true,
            ..CartPoleConfig::default()
        }),
        EnvConfig::Pendulum(PendulumConfig::default()),
        EnvConfig::Acrobot(AcrobotConfig::default()),
        EnvConfig::MountainCar(MountainCarConfig::default()),
        EnvConfig::MountainCar(MountainCarConfig {
            continuous: true,
            ..MountainCarConfig::default()
        }),
        EnvConfig::GridWorld(GridWorldConfig::default()),
    ]
}

pub fn label(config: &EnvConfig) -> String {
    format!("{config:?}")
}

pub fn test_rng(seed: u64) -> rand_pcg::Pcg64Mcg {
    rand_pcg::Pcg64Mcg::seed_from_u64(seed)
}

/// `n` rows of uniformly random actions from `space`, flattened.
pub fn random_actions(space: &Space, n: usize, rng: &mut rand_pcg::Pcg64Mcg) -> Vec<f32> {
    let d = space.flat_dim();
    let mut actions = vec![0.0; n * d];
    for row in actions.chunks_mut(d) {
        space.sample(rng, row);
    }
    actions
}

pub fn bits(xs: &[f32]) -> Vec<u32> {
    xs.iter().map(|x| x.to_bits()).collect()
}
