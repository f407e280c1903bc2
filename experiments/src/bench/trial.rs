//! `carrot bench trial`: a change to the env code against the code it replaces, in one
//! process. The change runs where [`carrot_envs::trial`] is on; this bench steps one VecEnv
//! and turns the switch off and on every `--block` VecEnv steps (the order within each pair
//! alternating), then reports the two rates and the paired view: each pair's on/off ratio (two
//! blocks a few milliseconds apart share the machine's load, which moves single runs on a
//! shared VM by tens of percent), its median and quartiles, and in how many pairs the change
//! was faster with the sign test's p-value. With no change under trial both halves run the
//! same code, which makes a null check of the bench itself.

use std::time::Instant;

use anyhow::bail;
use carrot_envs::{DrivingConfig, EnvConfig, NoReward};

use crate::bench::timing::median;

/// Options of `carrot bench trial`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
    carrot bench trial --env driving --vehicles 10 --num-envs 128 --seconds 90\n  \
    carrot bench trial --env cartpole --num-envs 512 --block 200\n\n\
    Put the new code behind `if carrot_envs::trial() { new } else { old }` while measuring; \
    take the switch out once decided.")]
pub struct BenchTrialArgs {
    /// The env to step: a control task or `driving`.
    #[arg(long, default_value = "driving")]
    pub env: String,
    /// Traffic vehicles of the driving world.
    #[arg(long, default_value_t = 10)]
    pub vehicles: usize,
    /// Envs in the VecEnv.
    #[arg(long, default_value_t = 128)]
    pub num_envs: usize,
    /// Rayon threads stepping it.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// VecEnv steps per block (each pair is one block off and one on).
    #[arg(long, default_value_t = 20)]
    pub block: usize,
    /// Seconds of paired blocks, after the warm-up.
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f64,
    /// VecEnv steps before the first pair (episodes under way, maps built).
    #[arg(long, default_value_t = 2000)]
    pub warmup: usize,
    /// Master seed of the envs and the random actions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// What a trial measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSummary {
    /// Env steps per second with the switch off and on, over all blocks.
    pub rate_off: f64,
    pub rate_on: f64,
    /// Each pair's rate on over rate off, sorted.
    pub pair_ratios: Vec<f64>,
}

impl TrialSummary {
    /// The ratios' value at quantile `q` (nearest rank).
    pub fn quantile(&self, q: f64) -> f64 {
        let k = ((self.pair_ratios.len() - 1) as f64 * q).round() as usize;
        self.pair_ratios[k]
    }

    /// Pairs in which the change was faster.
    pub fn faster(&self) -> usize {
        self.pair_ratios.iter().filter(|&&r| r > 1.0).count()
    }

    /// Two-sided sign-test p-value of [`TrialSummary::faster`] (normal approximation with
    /// continuity correction beyond 50 pairs, exact below).
    pub fn sign_test_p(&self) -> f64 {
        let n = self.pair_ratios.len();
        let k = self.faster().min(n - self.faster());
        if n <= 50 {
            let mut tail = 0.0;
            let mut c = 1.0f64;
            for i in 0..=k {
                if i > 0 {
                    c = c * (n - i + 1) as f64 / i as f64;
                }
                tail += c;
            }
            return (2.0 * tail / 2f64.powi(n as i32)).min(1.0);
        }
        let z = ((n as f64 / 2.0 - k as f64) - 0.5) / (n as f64).sqrt() * 2.0;
        (2.0 * normal_upper_tail(z)).min(1.0)
    }
}

/// P(Z > z) of a standard normal (Abramowitz and Stegun 26.2.17, error below 1e-7).
fn normal_upper_tail(z: f64) -> f64 {
    if z < 0.0 {
        return 1.0 - normal_upper_tail(-z);
    }
    let t = 1.0 / (1.0 + 0.231_641_9 * z);
    let poly = t
        * (0.319_381_530
            + t * (-0.356_563_782
                + t * (1.781_477_937 + t * (-1.821_255_978 + t * 1.330_274_429))));
    (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt() * poly
}

/// Runs the trial and prints its summary.
pub fn run(args: &BenchTrialArgs) -> anyhow::Result<()> {
    let s = measure(args)?;
    println!(
        "{} x {} on {} thread(s), blocks of {} VecEnv steps, {} pairs",
        args.env,
        args.num_envs,
        args.threads,
        args.block,
        s.pair_ratios.len()
    );
    println!(
        "env steps/s: off {:.0}, on {:.0}, on/off {:.4}",
        s.rate_off,
        s.rate_on,
        s.rate_on / s.rate_off
    );
    println!(
        "paired on/off: median {:.4} (quartiles {:.4}-{:.4}); on faster in {} of {} pairs, \
         sign-test p = {:.2e}",
        median(s.pair_ratios.clone()),
        s.quantile(0.25),
        s.quantile(0.75),
        s.faster(),
        s.pair_ratios.len(),
        s.sign_test_p()
    );
    Ok(())
}

/// Steps the VecEnv in paired blocks; the switch is off again afterwards.
pub fn measure(args: &BenchTrialArgs) -> anyhow::Result<TrialSummary> {
    if args.num_envs == 0 || args.threads == 0 || args.block == 0 {
        bail!("--num-envs, --threads and --block must be at least 1");
    }
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        bail!("--seconds must be positive, got {}", args.seconds);
    }
    let config = if args.env == "driving" {
        let c = DrivingConfig {
            traffic: args.vehicles,
            ..DrivingConfig::default()
        };
        super::driving::warm_map_cache(&c, args.seed)?;
        EnvConfig::Driving(c)
    } else {
        toml::from_str(&format!("id = {:?}", args.env)).map_err(|e: toml::de::Error| {
            anyhow::anyhow!("`bench trial` cannot build '{}': {}", args.env, e.message())
        })?
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let result = pool.install(|| paired_blocks(&config, args));
    carrot_envs::set_trial(false);
    result
}

fn paired_blocks(config: &EnvConfig, args: &BenchTrialArgs) -> anyhow::Result<TrialSummary> {
    let n = args.num_envs;
    let mut envs = config.build_vec(n)?;
    let mut buf = envs.make_buffers(&NoReward);
    envs.reset(args.seed, &mut buf)?;
    let batches = super::envs::action_batches(&envs, args.seed, false);
    let mut k = 0;
    let mut steps = |envs: &mut carrot_envs::VecEnv, count: usize| -> anyhow::Result<f64> {
        let start = Instant::now();
        for _ in 0..count {
            k = (k + 1) % batches.len();
            envs.step(&batches[k], &NoReward, &mut buf)?;
        }
        Ok(start.elapsed().as_secs_f64())
    };
    carrot_envs::set_trial(false);
    steps(&mut envs, args.warmup)?;
    let (mut time, mut ratios) = ([0.0f64; 2], Vec::new());
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < args.seconds || ratios.is_empty() {
        let mut pair = [0.0; 2];
        let order = if ratios.len() % 2 == 0 {
            [0, 1]
        } else {
            [1, 0]
        };
        for side in order {
            carrot_envs::set_trial(side == 1);
            pair[side] = steps(&mut envs, args.block)?;
            time[side] += pair[side];
        }
        ratios.push(pair[0] / pair[1]);
    }
    ratios.sort_by(f64::total_cmp);
    let env_steps = (ratios.len() * args.block * n) as f64;
    Ok(TrialSummary {
        rate_off: env_steps / time[0],
        rate_on: env_steps / time[1],
        pair_ratios: ratios,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ratios: &[f64]) -> TrialSummary {
        let mut pair_ratios = ratios.to_vec();
        pair_ratios.sort_by(f64::total_cmp);
        TrialSummary {
            rate_off: 1.0,
            rate_on: 1.0,
            pair_ratios,
        }
    }

    /// A short trial on cart-poles pairs its blocks, reports finite rates and leaves the
    /// switch off.
    #[test]
    fn a_trial_pairs_blocks_and_leaves_the_switch_off() {
        let args = BenchTrialArgs {
            env: "cartpole".into(),
            vehicles: 0,
            num_envs: 8,
            threads: 1,
            block: 5,
            seconds: 0.05,
            warmup: 10,
            seed: 3,
        };
        let s = measure(&args).unwrap();
        assert!(!s.pair_ratios.is_empty());
        assert!(s.rate_off > 0.0 && s.rate_off.is_finite());
        assert!(s.rate_on > 0.0 && s.rate_on.is_finite());
        assert!(s.pair_ratios.iter().all(|r| r.is_finite() && *r > 0.0));
        assert!(s.pair_ratios.windows(2).all(|w| w[0] <= w[1]));
        assert!(!carrot_envs::trial());
    }

    /// The sign test against exact binomial tails and the normal approximation's known values.
    #[test]
    fn the_sign_test_gives_binomial_tails() {
        // 9 of 10 faster: 2 * (1 + 10) / 1024.
        let s = summary(&[0.9, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1]);
        assert_eq!(s.faster(), 9);
        assert!((s.sign_test_p() - 22.0 / 1024.0).abs() < 1e-12);
        // Half and half: p = 1.
        assert_eq!(summary(&[0.9, 1.1, 0.95, 1.05]).sign_test_p(), 1.0);
        // 600 of 1000 faster: z = (500 - 400 - 0.5) / sqrt(1000) * 2 = 6.29, p about 3e-10.
        let many: Vec<f64> = (0..1000).map(|i| if i < 600 { 1.1 } else { 0.9 }).collect();
        let p = summary(&many).sign_test_p();
        assert!(p > 1e-10 && p < 1e-9, "{p}");
        assert!((normal_upper_tail(1.959_964) - 0.025).abs() < 1e-6);
        assert!(summary(&[0.8, 0.9, 1.2]).quantile(0.5) == 0.9);
    }

    #[test]
    fn bad_options_are_one_line_errors() {
        let mut args = BenchTrialArgs {
            env: "no_such_env".into(),
            vehicles: 0,
            num_envs: 8,
            threads: 1,
            block: 5,
            seconds: 0.05,
            warmup: 0,
            seed: 0,
        };
        let err = measure(&args).unwrap_err().to_string();
        assert!(err.contains("no_such_env") && !err.contains('\n'), "{err}");
        args.env = "cartpole".into();
        args.block = 0;
        assert!(measure(&args).unwrap_err().to_string().contains("--block"));
    }
}
