//! Timing helpers shared by the bilevel benchmarks: iteration times through the same hook
//! dispatch as `carrot train`, medians and the process's peak memory.

use std::time::Instant;

use anyhow::Result;
use carrot_agents::{IterationHook, NoHook, TrainConfig, Trainer};

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Wall time in ms of each of `iterations + 1` iterations of `config`'s run, with the hook
/// that `carrot train` would use.
pub fn iteration_times_ms(config: &TrainConfig, iterations: usize) -> Result<Vec<f64>> {
    let mut hook = carrot_bilevel::build_hook(config)?;
    let mut noop = NoHook;
    let hook: &mut dyn IterationHook = match hook.as_mut() {
        Some(h) => h.as_mut(),
        None => &mut noop,
    };
    let mut trainer = Trainer::new(config)?;
    let mut times = Vec::with_capacity(iterations + 1);
    for _ in 0..=iterations {
        let started = Instant::now();
        trainer.iterate_with(hook)?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

/// Median wall time of one iteration in ms, after one untimed iteration.
pub fn iteration_ms(config: &TrainConfig, iterations: usize) -> Result<f64> {
    let times = iteration_times_ms(config, iterations)?;
    Ok(median(times[1..].to_vec()))
}

/// Peak resident memory of this process in MiB (Linux), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
