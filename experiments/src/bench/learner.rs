//! `carrot bench learner`: learner throughput (samples per second through one PPO epoch) on
//! synthetic batches, with an optional per-phase profile, and optionally end-to-end PPO
//! training throughput on cartpole.
//!
//! The synthetic epoch is what PPO's update does to a batch: for each mini-batch, forward
//! through separate actor and critic MLPs, the clipped PPO loss with value clipping and entropy,
//! backward, global grad-norm clipping and Adam. `benches/peers/torch_learner.py` runs the same
//! network and loss in PyTorch for comparison.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use carrot_agents::bench::{bench_learner, LearnerBench, LearnerResult};
use carrot_agents::networks::HeadKind;
use carrot_agents::{CpuLearner, DeviceKind, TrainConfig, Trainer};
use serde::Serialize;

/// Options of `carrot bench learner`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
    carrot bench learner                       # batches 4096,32768 x hidden 64,256\n  \
    carrot bench learner --batch 4096 --hidden 64 --profile\n  \
    carrot bench learner --cartpole            # also end-to-end PPO training on cartpole
  \
    carrot bench learner --device cuda         # on the GPU (a build with --features cuda)")]
pub struct BenchLearnerArgs {
    /// Samples per PPO epoch (comma-separated list).
    #[arg(long, value_delimiter = ',', default_values_t = vec![4096, 32768])]
    pub batch: Vec<usize>,
    /// Width of both hidden layers of actor and critic (comma-separated list).
    #[arg(long, value_delimiter = ',', default_values_t = vec![64, 256])]
    pub hidden: Vec<usize>,
    /// Mini-batches per epoch (each one gradient step).
    #[arg(long, default_value_t = 1)]
    pub minibatches: usize,
    /// Observation size of the synthetic batch.
    #[arg(long, default_value_t = 16)]
    pub obs_dim: usize,
    /// Action size (categorical: number of actions).
    #[arg(long, default_value_t = 2)]
    pub action_dim: usize,
    /// Policy head: categorical, gaussian or beta.
    #[arg(long, default_value = "gaussian")]
    pub head: String,
    /// Timed epochs per configuration (after one warm-up epoch).
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Rayon threads (default: the global pool, RAYON_NUM_THREADS or the core count).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the network and the gradient step run: cpu, or cuda (needs `--features cuda`).
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda"])]
    pub device: String,
    /// Also print where a gradient step spends its time.
    #[arg(long)]
    pub profile: bool,
    /// The CPU learner: native (the default) or graph (candle's autodiff, as before
    /// 2026-12-07). Also used by the cartpole runs.
    #[arg(long, default_value = "native", value_parser = ["native", "graph"])]
    pub cpu_learner: String,
    /// Also run end-to-end PPO on cartpole (8 envs x 128 steps, 4 epochs, 4 mini-batches).
    #[arg(long)]
    pub cartpole: bool,
    /// Env steps of each cartpole run.
    #[arg(long, default_value_t = 500_000)]
    pub cartpole_steps: u64,
    /// Cartpole runs, with seeds 1..=N.
    #[arg(long, default_value_t = 1)]
    pub cartpole_seeds: u64,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct CartpoleResult {
    seed: u64,
    env_steps: u64,
    steps_per_second: f64,
    steps_to_475: Option<u64>,
    final_return_mean: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    device: String,
    threads: usize,
    obs_dim: usize,
    action_dim: usize,
    head: String,
    learner: Vec<LearnerResult>,
    cartpole: Vec<CartpoleResult>,
}

pub fn run(args: &BenchLearnerArgs) -> Result<()> {
    carrot_agents::runtime::tune_for_cpu_training();
    let pool = match args.threads {
        Some(n) => Some(rayon::ThreadPoolBuilder::new().num_threads(n).build()?),
        None => None,
    };
    match &pool {
        Some(p) => p.install(|| run_in_pool(args)),
        None => run_in_pool(args),
    }
}

fn cpu_learner(args: &BenchLearnerArgs) -> CpuLearner {
    match args.cpu_learner.as_str() {
        "graph" => CpuLearner::Graph,
        _ => CpuLearner::Native,
    }
}

fn run_in_pool(args: &BenchLearnerArgs) -> Result<()> {
    let device = device_kind(&args.device)?;
    let mut report = Report {
        device: args.device.clone(),
        threads: rayon::current_num_threads(),
        obs_dim: args.obs_dim,
        action_dim: args.action_dim,
        head: args.head.clone(),
        learner: Vec::new(),
        cartpole: Vec::new(),
    };
    println!(
        "learner on {}: {} head, obs {} , action {}, {} rayon threads, {} mini-batch(es) per epoch",
        args.device, args.head, args.obs_dim, args.action_dim, report.threads, args.minibatches
    );
    for &hidden in &args.hidden {
        for &batch in &args.batch {
            let r = bench_learner(&LearnerBench {
                batch,
                hidden,
                minibatches: args.minibatches,
                obs_dim: args.obs_dim,
                head: head_kind(args)?,
                epochs: args.epochs,
                profile: args.profile,
                device,
                cpu_learner: cpu_learner(args),
            })?;
            println!(
                "batch {:>6}  hidden {:>4}: {:>8.2} ms/epoch  {:>8.2} ms/step  {:>10.0} samples/s",
                r.batch, r.hidden, r.ms_per_epoch, r.ms_per_step, r.samples_per_second
            );
            if let Some(p) = &r.profile_ms {
                // Percentages of the phases proper; wall-time totals are printed as they are.
                let is_total = |phase: &str| phase.ends_with("(wall)");
                let total: f64 = p.iter().filter(|x| !is_total(&x.0)).map(|x| x.1).sum();
                for (phase, ms) in p {
                    if is_total(phase) {
                        println!("    {phase:<40} {ms:>8.3} ms");
                    } else {
                        println!("    {phase:<40} {ms:>8.3} ms  {:>5.1}%", 100.0 * ms / total);
                    }
                }
            }
            report.learner.push(r);
        }
    }
    if args.cartpole {
        for seed in 1..=args.cartpole_seeds.max(1) {
            let r = bench_cartpole(seed, args.cartpole_steps, cpu_learner(args))?;
            println!(
                "cartpole end-to-end, seed {seed}: {} env steps at {:.0} steps/s; mean return of \
                 the last 20 episodes first >= 475 at {} env steps; final {:.1}",
                r.env_steps,
                r.steps_per_second,
                r.steps_to_475
                    .map_or("never".to_string(), |s| s.to_string()),
                r.final_return_mean
            );
            report.cartpole.push(r);
        }
    }
    if let Some(path) = &args.json {
        crate::run_dir::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}

/// The device a `--device` value names, checked against this build (one-line error).
pub(crate) fn device_kind(name: &str) -> Result<DeviceKind> {
    let kind = match name {
        "cpu" => DeviceKind::Cpu,
        "cuda" => DeviceKind::Cuda,
        other => bail!("--device must be cpu or cuda, not '{other}'"),
    };
    carrot_agents::networks::make_device(kind).map_err(|e| match e {
        carrot_agents::AgentError::Device(message) => anyhow::anyhow!("--device {name}: {message}"),
        other => anyhow::anyhow!("--device {name}: {other}"),
    })?;
    Ok(kind)
}

fn head_kind(args: &BenchLearnerArgs) -> Result<HeadKind> {
    Ok(match args.head.as_str() {
        "categorical" => HeadKind::Categorical { n: args.action_dim },
        "gaussian" => HeadKind::Gaussian {
            dim: args.action_dim,
        },
        "beta" => HeadKind::Beta {
            low: vec![-1.0; args.action_dim],
            high: vec![1.0; args.action_dim],
        },
        other => bail!("--head must be categorical, gaussian or beta, not '{other}'"),
    })
}

fn bench_cartpole(seed: u64, steps: u64, cpu_learner: CpuLearner) -> Result<CartpoleResult> {
    let mut c = TrainConfig {
        seed,
        ..Default::default()
    };
    c.ppo.cpu_learner = cpu_learner;
    c.ppo.num_envs = 8;
    c.ppo.num_steps = 128;
    c.ppo.update_epochs = 4;
    c.ppo.num_minibatches = 4;
    c.ppo.total_timesteps = steps;
    c.run.checkpoint_every = 1_000_000;
    let mut trainer = Trainer::new(&c)?;
    let mut recent: Vec<f64> = Vec::new();
    let mut steps_to_475 = None;
    let start = Instant::now();
    while !trainer.is_done() {
        trainer.iterate()?;
        recent.extend_from_slice(trainer.last_episode_returns());
        if recent.len() > 20 {
            recent.drain(..recent.len() - 20);
        }
        let mean = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
        if steps_to_475.is_none() && recent.len() == 20 && mean >= 475.0 {
            steps_to_475 = Some(trainer.global_step());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(CartpoleResult {
        seed,
        env_steps: trainer.global_step(),
        steps_per_second: trainer.global_step() as f64 / secs,
        steps_to_475,
        final_return_mean: recent.iter().sum::<f64>() / recent.len().max(1) as f64,
    })
}
