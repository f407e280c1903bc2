//! Process-wide tuning for CPU training, applied once before the first tensor op.
//!
//! - candle 0.11 runs large elementwise ops on its own spinning "barrier pool" next to rayon;
//!   on small machines the two pools fight for cores (a profile of a PPO step on 2 cores showed
//!   45% of the time spinning at candle's barrier). The learner's heavy elementwise work runs
//!   in this crate's fused ops over rayon, so candle's pool is disabled by setting
//!   `CANDLE_NUM_THREADS=1` unless the user set it.
//! - candle asks for its thread count on every matmul; without `RAYON_NUM_THREADS` it counts
//!   physical cores by parsing `/proc/cpuinfo` each time (a profile of cartpole training spent
//!   about 45% of its time formatting cpuinfo in the kernel). Setting `RAYON_NUM_THREADS` to
//!   the rayon pool's size, when unset, answers it from the environment instead.
//! - glibc serves allocations above 128 KiB with fresh `mmap`s, so every batch-sized tensor
//!   pays page faults and zeroing; raising the mmap and trim thresholds keeps those buffers in
//!   the heap for reuse.

use std::sync::Once;

static TUNE: Once = Once::new();

/// Applies the tuning once per process; later calls do nothing.
pub fn tune_for_cpu_training() {
    TUNE.call_once(|| {
        if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
            std::env::set_var("CANDLE_NUM_THREADS", "1");
        }
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            let threads = rayon::current_num_threads().max(1);
            std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only adjusts allocator parameters; it is called once, early.
        unsafe {
            const M_TRIM_THRESHOLD: i32 = -1;
            const M_MMAP_THRESHOLD: i32 = -3;
            mallopt(M_MMAP_THRESHOLD, 256 << 20);
            mallopt(M_TRIM_THRESHOLD, 512 << 20);
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn mallopt(param: i32, value: i32) -> i32;
}
