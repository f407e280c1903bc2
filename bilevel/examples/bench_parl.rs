//! Reward-model costs of PARL: training time per feedback round and relabelling time.
//!
//! `cargo run --release -p carrot-bilevel --example bench_parl [-- PAIRS ROUNDS]` (set
//! `RAYON_NUM_THREADS` to pin candle's thread count)
//!
//! A round is `model.steps` (100) Adam steps on mini-batches of 64 pairs of L = 50 steps, with
//! 3 members of 2×64 over 5 inputs (the defaults). Relabelling is `evaluate_batch` on 65,536
//! rows, and `param_vjp` on the same rows is the MLP side of the A-PARL correction.

use std::time::Instant;

use carrot_bilevel::parl::buffer::PreferencePair;
use carrot_bilevel::parl::config::ModelConfig;
use carrot_bilevel::parl::model::{Normalization, RewardModel};
use carrot_bilevel::parl::segments::Segment;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

const INPUTS: usize = 5;
const LENGTH: usize = 50;
const RELABEL_ROWS: usize = 65_536;

fn segment(rng: &mut Pcg64Mcg) -> Segment {
    let inputs: Vec<f32> = (0..LENGTH * INPUTS)
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect();
    let true_rewards: Vec<f32> = inputs.chunks(INPUTS).map(|x| x[0] - 0.5 * x[1]).collect();
    Segment {
        env: 0,
        start_step: 0,
        rows: (0..LENGTH).collect(),
        inputs,
        true_rewards,
        mask: vec![1.0; LENGTH],
    }
}

fn seconds<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let num_pairs = args.first().copied().unwrap_or(200);
    let rounds = args.get(1).copied().unwrap_or(3);
    let config = ModelConfig::default();
    let names: Vec<String> = (0..INPUTS).map(|i| format!("s{i}")).collect();
    let mut model = RewardModel::new(
        &config,
        &names,
        &names,
        &[],
        Normalization::identity(INPUTS),
        0,
    )?;
    let mut rng = Pcg64Mcg::seed_from_u64(1);
    let pairs: Vec<PreferencePair> = (0..num_pairs)
        .map(|_| {
            let (seg0, seg1) = (segment(&mut rng), segment(&mut rng));
            let label = if seg1.true_return() > seg0.true_return() {
                1.0
            } else {
                0.0
            };
            PreferencePair { seg0, seg1, label }
        })
        .collect();
    println!(
        "reward model: {} members, hidden {:?}, {} inputs, {} parameters; {} pairs of L = {LENGTH}",
        config.members,
        config.hidden,
        INPUTS,
        model.num_parameters(),
        num_pairs
    );
    for round in 0..rounds {
        let (stats, t) = seconds(|| model.train(&pairs));
        let stats = stats?;
        println!(
            "round {round}: {} steps x {} pairs: {t:.3} s ({:.2} ms/step), loss {:.4} -> {:.4}",
            stats.steps,
            config.batch,
            1e3 * t / stats.steps as f64,
            stats.first_loss,
            stats.last_loss
        );
    }
    let rows: Vec<f32> = (0..RELABEL_ROWS * INPUTS)
        .map(|_| rng.random::<f32>())
        .collect();
    let weights = vec![1.0 / RELABEL_ROWS as f64; RELABEL_ROWS];
    for rep in 0..2 {
        let (r, t_eval) = seconds(|| model.evaluate_batch(&rows));
        let (g, t_vjp) = seconds(|| model.param_vjp(&rows, &weights));
        println!(
            "rep {rep}: relabel {RELABEL_ROWS} rows: {:.1} ms ({:.0} k rows/s); param_vjp: {:.1} ms (|g| = {})",
            1e3 * t_eval,
            RELABEL_ROWS as f64 / t_eval / 1e3,
            1e3 * t_vjp,
            g?.len(),
        );
        r?;
    }
    Ok(())
}
