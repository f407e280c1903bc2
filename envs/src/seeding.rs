//! Seeding: every env owns a PCG RNG seeded through SplitMix64 from a user-facing seed.

use rand::SeedableRng;

/// The RNG every env owns: portable, fast, and serializable for checkpoints.
pub type EnvRng = rand_pcg::Pcg64Mcg;

/// SplitMix64 finalizer: decorrelates nearby seeds such as `seed + env_index`.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An env RNG from a user-facing seed.
pub fn env_rng(seed: u64) -> EnvRng {
    EnvRng::seed_from_u64(splitmix64(seed))
}

/// The seed of env `index` in a vector seeded with `seed` (EnvPool's `seed + env_id`).
pub fn env_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_add(index as u64)
}
