//! Which signals the run's true reward (`[reward]`) reads: the reward model must not read them,
//! or preference learning would be handed the answer.
//!
//! Found by probing the built reward rather than by matching config shapes, so that every
//! reward of the registry (sums, products, CaRL, blends, ...) is covered the same way: on a
//! fixed batch of random signal rows, a signal is read when replacing its column alone
//! changes any reward. Rows mix small and large magnitudes, and both signs, so that thresholds
//! and event flags are crossed.

use carrot_rewards::Reward;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

const PROBE_ROWS: usize = 256;

/// Random probe values: uniform on ±1, ±10 or ±1000 by row, some exactly 0 or 1.
fn probe_value(rng: &mut Pcg64Mcg) -> f32 {
    let scale = [1.0f32, 10.0, 1000.0][rng.random_range(0..3)];
    match rng.random_range(0..8) {
        0 => 0.0,
        1 => 1.0,
        _ => (rng.random::<f32>() * 2.0 - 1.0) * scale,
    }
}

/// Names of the signals among `names` whose value changes `reward`'s output.
pub fn signals_read(reward: &dyn Reward, names: &[String]) -> Vec<String> {
    let s = names.len();
    let mut rng = Pcg64Mcg::seed_from_u64(0x7e11_5160);
    let base: Vec<f32> = (0..PROBE_ROWS * s).map(|_| probe_value(&mut rng)).collect();
    let reference = reward.evaluate_batch(&base).rewards;
    let mut read = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let mut probe = base.clone();
        for row in probe.chunks_exact_mut(s) {
            row[j] = probe_value(&mut rng);
        }
        let changed = reward
            .evaluate_batch(&probe)
            .rewards
            .iter()
            .zip(&reference)
            .any(|(a, b)| a.to_bits() != b.to_bits());
        if changed {
            read.push(name.clone());
        }
    }
    read
}
