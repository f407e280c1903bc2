//! `carrot bench parity`: the device paths against the CPU learner (native by default, or
//! candle's graph with the CPU custom ops). For
//! each policy head, the same network (weights drawn on the host from one seeded RNG) is built
//! on the CPU and on the target, and the PPO loss statistics and every parameter's gradient of
//! one fixed synthetic mini-batch are compared.
//!
//! The target is `cuda` (a build with `--features cuda` on a machine with an NVIDIA GPU) or
//! `portable`: the CPU with [`PortableOps`] forcing the candle-primitive paths, which is the
//! code a GPU runs, checkable on a CPU-only build.

use std::path::PathBuf;

use anyhow::Result;
use candle_core::Device;
use carrot_agents::bench::{loss_gradients, parity_batch, LossGradients};
use carrot_agents::learner::Minibatch;
use carrot_agents::losses::{normalize_advantages, LossCoefs, LossStats};
use carrot_agents::networks::{make_device, ActorCritic, HeadKind};
use carrot_agents::ops::PortableOps;
use carrot_agents::{CpuLearner, PpoConfig};
use rand::SeedableRng;
use serde::Serialize;

/// Largest relative difference of a loss statistic, `|cpu - target| / max(|cpu|, 0.1)`.
pub const STATS_TOLERANCE: f64 = 1e-4;
/// Largest relative difference of a parameter's gradient, `max |dg| / max(max |g|, 1e-30)`.
pub const GRADIENT_TOLERANCE: f64 = 1e-3;
/// Floor of a loss statistic's scale: the statistics are means of O(1) terms (advantages are
/// normalized), so one near 0 (a policy loss of 0.005) is compared on the scale of its terms.
const STATS_FLOOR: f64 = 0.1;

/// Options of `carrot bench parity`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
    carrot bench parity --device portable            # CPU-only build: the GPU's code on the CPU\n  \
    carrot bench parity --device cuda --hidden 256   # a build with --features cuda, on a GPU\n  \
    carrot bench parity --device portable --batch 256 --json parity.json\n\n\
    Tolerances: loss statistics within 1e-4 relative (|cpu - target| / max(|cpu|, 0.1), as\n\
    they are means of O(1) terms with normalized advantages); each\n\
    parameter's gradient within 1e-3 of its largest entry (max |dg| / max |g|). The CPU side\n\
    uses the custom ops (rational tanh within 1e-6 of tanh, lgamma / digamma evaluated in f64);\n\
    the target uses candle primitives in f32 (exact tanh, the special functions' series in\n\
    f32, reductions and matmuls summed in another order). Those differences are ~1e-6\n\
    relative per element and grow to ~1e-5 through the layers and a batch-wide sum; a wrong\n\
    op (a missing term, a wrong gradient) is off by far more than 1e-3. A clip fraction can\n\
    differ by one sample whose ratio sits within ~1e-6 of 1 +- clip_coef (rare, fails loudly).\n\
    Exits non-zero when any head fails.")]
pub struct BenchParityArgs {
    /// Target: cuda (needs `--features cuda` and a GPU) or portable (the CPU through the
    /// candle-primitive paths a GPU runs).
    #[arg(long, default_value = "portable", value_parser = ["cuda", "portable"])]
    pub device: String,
    /// The CPU side's learner: native (the default CPU learner) or graph (candle's autodiff
    /// with the CPU custom ops).
    #[arg(long, default_value = "native", value_parser = ["native", "graph"])]
    pub cpu_learner: String,
    /// Width of both hidden layers of actor and critic.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Rows of the synthetic mini-batch.
    #[arg(long, default_value_t = 4096)]
    pub batch: usize,
    /// Observation size of the synthetic batch.
    #[arg(long, default_value_t = 16)]
    pub obs_dim: usize,
    /// Action size (categorical: number of actions).
    #[arg(long, default_value_t = 2)]
    pub action_dim: usize,
    /// Seed of the network weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct StatDiff {
    key: &'static str,
    cpu: f32,
    target: f32,
    relative: f64,
}

#[derive(Debug, Serialize)]
struct GradDiff {
    name: String,
    relative: f64,
}

#[derive(Debug, Serialize)]
struct HeadParity {
    head: &'static str,
    stats: Vec<StatDiff>,
    gradients: Vec<GradDiff>,
    max_stats_relative: f64,
    max_gradient_relative: f64,
    pass: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    device: String,
    hidden: usize,
    batch: usize,
    stats_tolerance: f64,
    gradient_tolerance: f64,
    heads: Vec<HeadParity>,
    pass: bool,
}

/// Where the compared side runs.
enum Target {
    Device(Device),
    Portable,
}

pub fn run(args: &BenchParityArgs) -> Result<()> {
    if args.batch == 0 || args.hidden == 0 || args.obs_dim == 0 || args.action_dim < 2 {
        anyhow::bail!("--batch, --hidden and --obs-dim must be positive and --action-dim >= 2");
    }
    let target = match args.device.as_str() {
        "portable" => Target::Portable,
        _ => Target::Device(make_device(super::learner::device_kind(&args.device)?)?),
    };
    println!(
        "parity of {} against the CPU custom ops: hidden {}, batch {}, obs {}, action {}",
        args.device, args.hidden, args.batch, args.obs_dim, args.action_dim
    );
    let mut heads = Vec::new();
    for (name, head) in heads_of(args.action_dim) {
        let parity = compare_head(args, name, head, &target)?;
        print_head(&parity);
        heads.push(parity);
    }
    let pass = heads.iter().all(|h| h.pass);
    let report = Report {
        device: args.device.clone(),
        hidden: args.hidden,
        batch: args.batch,
        stats_tolerance: STATS_TOLERANCE,
        gradient_tolerance: GRADIENT_TOLERANCE,
        heads,
        pass,
    };
    if let Some(path) = &args.json {
        crate::run_dir::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    if !pass {
        let failed: Vec<&str> = report
            .heads
            .iter()
            .filter(|h| !h.pass)
            .map(|h| h.head)
            .collect();
        anyhow::bail!("parity FAILED for the {} head(s)", failed.join(", "));
    }
    Ok(())
}

fn heads_of(action_dim: usize) -> [(&'static str, HeadKind); 3] {
    [
        ("categorical", HeadKind::Categorical { n: action_dim }),
        ("gaussian", HeadKind::Gaussian { dim: action_dim }),
        (
            "beta",
            HeadKind::Beta {
                low: vec![-1.0; action_dim],
                high: vec![1.0; action_dim],
            },
        ),
    ]
}

fn compare_head(
    args: &BenchParityArgs,
    name: &'static str,
    head: HeadKind,
    target: &Target,
) -> Result<HeadParity> {
    let cfg = PpoConfig {
        hidden_sizes: vec![args.hidden, args.hidden],
        ..Default::default()
    };
    let build = |device: &Device| {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(args.seed);
        ActorCritic::new(&cfg, args.obs_dim, head.clone(), device, &mut rng)
    };
    let cpu_net = build(&Device::Cpu)?;
    let mut batch: Minibatch = parity_batch(&cpu_net, args.obs_dim, args.batch)?;
    normalize_advantages(&mut batch.advantages);
    let coefs = LossCoefs {
        clip_coef: 0.2,
        clip_vloss: true,
        ent_coef: 0.01,
        vf_coef: 0.5,
    };
    let cpu_learner = match args.cpu_learner.as_str() {
        "graph" => CpuLearner::Graph,
        _ => CpuLearner::Native,
    };
    let cpu = loss_gradients(&cpu_net, &batch, &coefs, cpu_learner)?;
    // The target always runs candle's graph: off the CPU, and on it under PortableOps.
    let other = match target {
        Target::Device(device) => loss_gradients(&build(device)?, &batch, &coefs, cpu_learner)?,
        Target::Portable => {
            let _portable = PortableOps::enter();
            loss_gradients(&build(&Device::Cpu)?, &batch, &coefs, cpu_learner)?
        }
    };
    Ok(differences(name, &cpu, &other))
}

fn differences(head: &'static str, cpu: &LossGradients, target: &LossGradients) -> HeadParity {
    let stats: Vec<StatDiff> = LossStats::KEYS
        .iter()
        .zip(cpu.stats.iter().zip(&target.stats))
        .map(|(key, (&c, &t))| StatDiff {
            key,
            cpu: c,
            target: t,
            relative: (c as f64 - t as f64).abs() / (c.abs() as f64).max(STATS_FLOOR),
        })
        .collect();
    let gradients: Vec<GradDiff> = cpu
        .grads
        .iter()
        .zip(&target.grads)
        .map(|((name, c), (_, t))| {
            let scale = worst(c.iter().map(|&v| v.abs() as f64));
            let diff = worst(c.iter().zip(t).map(|(&a, &b)| (a as f64 - b as f64).abs()));
            GradDiff {
                name: name.clone(),
                relative: diff / scale.max(1e-30),
            }
        })
        .collect();
    let max_stats_relative = worst(stats.iter().map(|s| s.relative));
    let max_gradient_relative = worst(gradients.iter().map(|g| g.relative));
    let pass = max_stats_relative <= STATS_TOLERANCE
        && max_gradient_relative <= GRADIENT_TOLERANCE
        && stats.len() == LossStats::KEYS.len()
        && gradients.len() == cpu.grads.len();
    HeadParity {
        head,
        stats,
        gradients,
        max_stats_relative,
        max_gradient_relative,
        pass,
    }
}

/// The largest of `values` (0 when empty), NaN as soon as one is NaN: a non-finite side fails.
fn worst(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0f64, |m, x| if x.is_nan() || x > m { x } else { m })
}

fn print_head(h: &HeadParity) {
    println!(
        "{:<12} loss stats max rel diff {:.2e} (tol {:.0e}), gradients max rel diff {:.2e} \
         (tol {:.0e}): {}",
        h.head,
        h.max_stats_relative,
        STATS_TOLERANCE,
        h.max_gradient_relative,
        GRADIENT_TOLERANCE,
        if h.pass { "PASS" } else { "FAIL" }
    );
    for s in &h.stats {
        println!(
            "    {:<22} cpu {:>12.6e}  target {:>12.6e}  rel {:.2e}",
            s.key, s.cpu, s.target, s.relative
        );
    }
    for g in &h.gradients {
        println!("    grad {:<17} rel {:.2e}", g.name, g.relative);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LossGradients {
        LossGradients {
            stats: vec![0.02, 0.6, 0.7, 0.02, 0.3],
            grads: vec![
                ("a.weight".into(), vec![1.0, -2.0, 0.5]),
                ("a.bias".into(), vec![0.0, 0.0]),
            ],
        }
    }

    #[test]
    fn rounding_differences_pass_and_wrong_values_fail() {
        let cpu = sample();
        let mut close = sample();
        close.stats[1] *= 1.0 + 1e-6;
        close.grads[0].1[1] += 1e-5;
        let h = differences("x", &cpu, &close);
        assert!(h.pass, "{h:?}");
        assert!((h.max_gradient_relative - 5e-6).abs() < 1e-7, "{h:?}");

        // A gradient off by 1% of its scale, a loss statistic off by 1e-3, a NaN: each fails.
        let mut grad_off = sample();
        grad_off.grads[0].1[2] += 0.02;
        assert!(!differences("x", &cpu, &grad_off).pass);
        let mut stat_off = sample();
        stat_off.stats[2] *= 1.0 + 1e-3;
        assert!(!differences("x", &cpu, &stat_off).pass);
        let mut nan = sample();
        nan.grads[1].1[0] = f32::NAN;
        let h = differences("x", &cpu, &nan);
        assert!(!h.pass && h.max_gradient_relative.is_nan(), "{h:?}");
    }
}
