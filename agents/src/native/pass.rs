//! One gradient evaluation over a mini-batch: chunks, lanes, and the per-chunk forward and
//! backward passes (see the module overview in `mod.rs`).

use std::cell::RefCell;
use std::ops::Range;

use rayon::prelude::*;

use super::heads::{HeadLoss, RowTargets, StatSums};
use super::kernels::{narrow_backward, narrow_forward, transpose, Mat};
use super::matmul::{matmul, matmul_packed, PackedRhs};
use super::profile::{Clock, Phase, PhaseTimes};
use super::{DenseIndex, NetLayout};
use crate::learner::Minibatch;
use crate::losses::LossCoefs;
use crate::ops::tanh_approx;

/// Lanes a mini-batch's chunks are dealt to (at most; fewer when there are fewer chunks).
const LANES: usize = 8;
/// Chunk rows: at least this many (fewer only for a shorter mini-batch) ...
const MIN_CHUNK_ROWS: usize = 128;
/// ... and at most this many, or fewer so one layer's activations stay within
/// [`CHUNK_ACTIVATION_FLOATS`].
const MAX_CHUNK_ROWS: usize = 1024;
const CHUNK_ACTIVATION_FLOATS: usize = 64 * 1024;

/// A trunk's weights packed once per gradient evaluation for the products every chunk
/// repeats: each layer's weight for the forward pass, and its transpose for the input
/// gradient (none for the first layer, whose input needs no gradient).
struct PackedTrunk {
    forward: Vec<PackedRhs>,
    input_grad: Vec<Option<PackedRhs>>,
}

impl PackedTrunk {
    fn new(layers: &[DenseIndex], params: &[Vec<f32>]) -> PackedTrunk {
        let weight = |l: &DenseIndex| Mat::new(&params[l.weight], l.fan_in, l.fan_out);
        PackedTrunk {
            forward: layers
                .iter()
                .map(|l| PackedRhs::new(weight(l), false))
                .collect(),
            input_grad: layers
                .iter()
                .enumerate()
                .map(|(i, l)| (i > 0).then(|| PackedRhs::new(weight(l), true)))
                .collect(),
        }
    }
}

/// Rows per chunk of an `m`-row mini-batch: spread over the lanes, within the bounds above.
fn chunk_rows(m: usize, layout: &NetLayout) -> usize {
    let cap = (CHUNK_ACTIVATION_FLOATS / layout.max_width()).clamp(MIN_CHUNK_ROWS, MAX_CHUNK_ROWS);
    m.div_ceil(LANES).clamp(MIN_CHUNK_ROWS, cap).min(m.max(1))
}

/// Everything a chunk reads.
struct Problem<'a> {
    layout: &'a NetLayout,
    params: &'a [Vec<f32>],
    mb: &'a Minibatch,
    loss: HeadLoss<'a>,
    actor_packed: PackedTrunk,
    critic_packed: PackedTrunk,
    /// The policy weight transposed (`[width, features]`), for the row kernels. The value
    /// weight (`[features, 1]`) is its own transpose and is read from `params`.
    policy_t: Vec<f32>,
}

/// A lane's sums: gradients (head weights transposed until the lane ends), log-std gradient
/// and loss statistics.
struct LaneSums {
    grads: Vec<Vec<f32>>,
    d_log_std: Vec<f64>,
    stats: StatSums,
}

/// Buffers a chunk writes, kept per thread between calls.
#[derive(Default)]
struct Scratch {
    actor: Vec<Vec<f32>>,
    critic: Vec<Vec<f32>>,
    out: Vec<f32>,
    values: Vec<f32>,
    d_out: Vec<f32>,
    d_values: Vec<f32>,
    d_hidden: Vec<f32>,
    d_prev: Vec<f32>,
    head: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
    /// Tests: run the baseline x86-64 copy of the chunk code on this thread.
    static FORCE_BASELINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn force_baseline() -> bool {
    FORCE_BASELINE.with(|f| f.get())
}

/// Runs `f` with the baseline (non-AVX2) chunk code on this thread, for tests of bit identity.
#[cfg(test)]
pub(super) fn with_baseline_code<T>(f: impl FnOnce() -> T) -> T {
    FORCE_BASELINE.with(|b| b.set(true));
    let out = f();
    FORCE_BASELINE.with(|b| b.set(false));
    out
}

/// The loss statistics (means, in [`LossStats::KEYS`](crate::losses::LossStats::KEYS) order)
/// of `mb` (advantages as given) under the parameters `params` of a network shaped `layout`, and
/// the gradient of the mean loss with respect to each parameter. `times`, when given, collects
/// the CPU time of each of [`PHASES`].
pub(crate) fn loss_and_grads(
    layout: &NetLayout,
    params: &[Vec<f32>],
    mb: &Minibatch,
    coefs: &LossCoefs,
    times: Option<&PhaseTimes>,
) -> Result<(Vec<f32>, Vec<Vec<f32>>), String> {
    let m = mb.len;
    let width = layout.obs_dim + layout.privileged_dim;
    if m == 0 {
        return Err("empty mini-batch".into());
    }
    if mb.obs.len() != m * width {
        return Err(format!(
            "mini-batch rows have {} columns, expected {} observation + {} privileged critic",
            mb.obs.len() / m,
            layout.obs_dim,
            layout.privileged_dim
        ));
    }
    let log_std: &[f32] = layout.log_std.map_or(&[], |i| &params[i]);
    let problem = Problem {
        layout,
        params,
        mb,
        loss: HeadLoss {
            head: &layout.head,
            log_std,
            inv_std: log_std.iter().map(|&l| (-(l as f64)).exp()).collect(),
            coefs: *coefs,
            inv_rows: 1.0 / m as f64,
        },
        actor_packed: PackedTrunk::new(&layout.actor, params),
        critic_packed: PackedTrunk::new(&layout.critic, params),
        policy_t: transpose(
            &params[layout.policy.weight],
            layout.policy.fan_in,
            layout.policy.fan_out,
        ),
    };
    let rows = chunk_rows(m, layout);
    let chunks = m.div_ceil(rows);
    let lanes = chunks.min(LANES);
    let run = |lane: usize| {
        let mut sums = LaneSums {
            grads: layout.sizes.iter().map(|&n| vec![0f32; n]).collect(),
            d_log_std: vec![0.0; log_std.len()],
            stats: [0.0; 5],
        };
        let mut clock = Clock::new(times);
        SCRATCH.with(|s| {
            let mut fresh = Scratch::default();
            let mut guard = s.try_borrow_mut();
            let scratch = match guard.as_mut() {
                Ok(s) => &mut **s,
                Err(_) => &mut fresh,
            };
            for c in (lane..chunks).step_by(lanes) {
                let range = c * rows..((c + 1) * rows).min(m);
                problem.chunk(range, scratch, &mut sums, &mut clock);
            }
        });
        problem.finish_lane(&mut sums);
        sums
    };
    let lane_sums: Vec<LaneSums> = if lanes == 1 {
        vec![run(0)]
    } else {
        (0..lanes).into_par_iter().map(run).collect()
    };
    let mut clock = Clock::new(times);
    let mut lane_sums = lane_sums.into_iter();
    let mut total = lane_sums.next().expect("at least one lane");
    for lane in lane_sums {
        for (sum, part) in total.grads.iter_mut().zip(&lane.grads) {
            sum.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        }
        total
            .d_log_std
            .iter_mut()
            .zip(&lane.d_log_std)
            .for_each(|(a, b)| *a += b);
        total
            .stats
            .iter_mut()
            .zip(lane.stats)
            .for_each(|(a, b)| *a += b);
    }
    if let Some(i) = layout.log_std {
        total.grads[i] = total.d_log_std.iter().map(|&g| g as f32).collect();
    }
    clock.lap(Phase::SumLanes);
    let stats = total.stats.iter().map(|&s| (s / m as f64) as f32).collect();
    Ok((stats, total.grads))
}

/// The output of a trunk: its last layer's activations, or its input when it has no layers.
fn features<'a>(acts: &'a [Vec<f32>], layers: &[DenseIndex], input: Mat<'a>) -> Mat<'a> {
    match (acts.last(), layers.last()) {
        (Some(a), Some(l)) => Mat::new(&a[..input.rows * l.fan_out], input.rows, l.fan_out),
        _ => input,
    }
}

impl Problem<'_> {
    /// Forward, head + loss and backward of the rows `range`, added to `sums`. The elementwise
    /// and row loops are compiled three times, for baseline x86-64, AVX2 and AVX-512, and the
    /// widest copy the CPU supports runs: all do the same f32 operations in the same order
    /// (Rust does not fuse multiply-adds or reorder sums), so they give the same bits.
    fn chunk(&self, range: Range<usize>, s: &mut Scratch, sums: &mut LaneSums, clock: &mut Clock) {
        #[cfg(target_arch = "x86_64")]
        if !force_baseline() {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                return unsafe { self.chunk_avx512(range, s, sums, clock) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { self.chunk_avx2(range, s, sums, clock) };
            }
        }
        self.chunk_body(range, s, sums, clock)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn chunk_avx512(
        &self,
        range: Range<usize>,
        s: &mut Scratch,
        sums: &mut LaneSums,
        clock: &mut Clock,
    ) {
        self.chunk_body(range, s, sums, clock)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn chunk_avx2(
        &self,
        range: Range<usize>,
        s: &mut Scratch,
        sums: &mut LaneSums,
        clock: &mut Clock,
    ) {
        self.chunk_body(range, s, sums, clock)
    }

    #[inline(always)]
    fn chunk_body(
        &self,
        range: Range<usize>,
        s: &mut Scratch,
        sums: &mut LaneSums,
        clock: &mut Clock,
    ) {
        let (lay, mb) = (self.layout, self.mb);
        let n = range.len();
        let width = lay.obs_dim + lay.privileged_dim;
        let x = &mb.obs[range.start * width..range.end * width];
        let x_critic = Mat::new(x, n, width);
        let x_actor = Mat::strided(x, n, lay.obs_dim, width);

        self.trunk_forward(&lay.actor, &self.actor_packed, x_actor, &mut s.actor, clock);
        if !lay.shared() {
            let critic = &self.critic_packed;
            self.trunk_forward(&lay.critic, critic, x_critic, &mut s.critic, clock);
        }
        let (actor_acts, critic_acts) =
            (std::mem::take(&mut s.actor), std::mem::take(&mut s.critic));
        let f_actor = features(&actor_acts, &lay.actor, x_actor);
        let f_critic = if lay.shared() {
            f_actor
        } else {
            features(&critic_acts, &lay.critic, x_critic)
        };

        // Heads and loss, row by row.
        let (pw, aw) = (lay.policy.fan_out, lay.head.action_dim());
        s.out.resize(n * pw, 0.0);
        s.values.resize(n, 0.0);
        s.d_out.resize(n * pw, 0.0);
        s.d_values.resize(n, 0.0);
        s.head.resize(self.loss.scratch_len(), 0.0);
        narrow_forward(
            f_actor,
            &self.policy_t,
            &self.params[lay.policy.bias],
            &mut s.out,
        );
        narrow_forward(
            f_critic,
            &self.params[lay.value.weight],
            &self.params[lay.value.bias],
            &mut s.values,
        );
        for (k, row) in range.clone().enumerate() {
            let t = RowTargets {
                old_logp: mb.old_logp[row],
                old_value: mb.old_values[row],
                advantage: mb.advantages[row],
                ret: mb.returns[row],
            };
            s.d_values[k] = self.loss.row(
                &s.out[k * pw..(k + 1) * pw],
                &mb.actions[row * aw..(row + 1) * aw],
                s.values[k],
                t,
                &mut s.d_out[k * pw..(k + 1) * pw],
                &mut sums.d_log_std,
                &mut s.head,
                &mut sums.stats,
            );
        }
        clock.lap(Phase::Heads);

        // Heads backward, then the trunks.
        let g = &mut sums.grads;
        let actor_width = f_actor.cols;
        s.d_hidden.resize(n * actor_width, 0.0);
        let (policy_w, policy_b) = pair_mut(g, lay.policy.weight, lay.policy.bias);
        narrow_backward(
            f_actor,
            &self.policy_t,
            &s.d_out,
            &mut s.d_hidden,
            false,
            policy_w,
            policy_b,
        );
        if lay.shared() {
            let (value_w, value_b) = pair_mut(g, lay.value.weight, lay.value.bias);
            narrow_backward(
                f_critic,
                &self.params[lay.value.weight],
                &s.d_values,
                &mut s.d_hidden,
                true,
                value_w,
                value_b,
            );
        }
        clock.lap(Phase::ActivationGrad);
        let actor = &self.actor_packed;
        self.trunk_backward(&lay.actor, actor, x_actor, &actor_acts, s, g, clock);
        if !lay.shared() {
            s.d_hidden.resize(n * f_critic.cols, 0.0);
            let (value_w, value_b) = pair_mut(g, lay.value.weight, lay.value.bias);
            narrow_backward(
                f_critic,
                &self.params[lay.value.weight],
                &s.d_values,
                &mut s.d_hidden,
                false,
                value_w,
                value_b,
            );
            clock.lap(Phase::ActivationGrad);
            self.trunk_backward(
                &lay.critic,
                &self.critic_packed,
                x_critic,
                &critic_acts,
                s,
                g,
                clock,
            );
        }
        s.actor = actor_acts;
        s.critic = critic_acts;
    }

    /// The activations of every layer of `layers` on `input`, into `acts`.
    #[inline(always)]
    fn trunk_forward(
        &self,
        layers: &[DenseIndex],
        packed: &PackedTrunk,
        input: Mat,
        acts: &mut Vec<Vec<f32>>,
        clock: &mut Clock,
    ) {
        let n = input.rows;
        acts.resize_with(layers.len(), Vec::new);
        for (i, l) in layers.iter().enumerate() {
            let (done, rest) = acts.split_at_mut(i);
            let out = &mut rest[0];
            out.resize(n * l.fan_out, 0.0);
            let x = match done.last() {
                Some(prev) => Mat::new(&prev[..n * l.fan_in], n, l.fan_in),
                None => input,
            };
            matmul_packed(out, x, false, &packed.forward[i], false);
            clock.lap(Phase::Forward);
            let bias = &self.params[l.bias];
            let relu = self.layout.relu;
            for row in out.chunks_exact_mut(l.fan_out) {
                if relu {
                    row.iter_mut()
                        .zip(bias)
                        .for_each(|(o, &b)| *o = (*o + b).max(0.0));
                } else {
                    row.iter_mut()
                        .zip(bias)
                        .for_each(|(o, &b)| *o = tanh_approx(*o + b));
                }
            }
            clock.lap(Phase::Activation);
        }
    }

    /// Back through `layers` from `s.d_hidden` (the gradient at the trunk's output), adding the
    /// weight and bias gradients to `g`. The input's own gradient is not formed.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn trunk_backward(
        &self,
        layers: &[DenseIndex],
        packed: &PackedTrunk,
        input: Mat,
        acts: &[Vec<f32>],
        s: &mut Scratch,
        g: &mut [Vec<f32>],
        clock: &mut Clock,
    ) {
        let n = input.rows;
        for (i, l) in layers.iter().enumerate().rev() {
            let y = &acts[i][..n * l.fan_out];
            let d = &mut s.d_hidden[..n * l.fan_out];
            if self.layout.relu {
                activation_grad(d, y, &mut g[l.bias], |d, y| if y > 0.0 { d } else { 0.0 });
            } else {
                activation_grad(d, y, &mut g[l.bias], |d, y| d * (1.0 - y * y));
            }
            clock.lap(Phase::ActivationGrad);
            let x = if i == 0 {
                input
            } else {
                Mat::new(&acts[i - 1][..n * l.fan_in], n, l.fan_in)
            };
            let d = Mat::new(&s.d_hidden[..n * l.fan_out], n, l.fan_out);
            matmul(&mut g[l.weight], x, true, d, false, true);
            clock.lap(Phase::WeightGrad);
            if let Some(w_t) = &packed.input_grad[i] {
                s.d_prev.resize(n * l.fan_in, 0.0);
                matmul_packed(&mut s.d_prev, d, false, w_t, false);
                std::mem::swap(&mut s.d_hidden, &mut s.d_prev);
                clock.lap(Phase::InputGrad);
            }
        }
    }

    /// Puts the lane's transposed head-weight gradients back in `[features, width]` form.
    fn finish_lane(&self, sums: &mut LaneSums) {
        let p = &self.layout.policy;
        sums.grads[p.weight] = transpose(&sums.grads[p.weight], p.fan_out, p.fan_in);
        // The value head is one column wide: its transpose is the same vector.
    }
}

/// `d` (rows of a layer's output gradient) through the activation whose output is `y`
/// (`grad(d, y)` per element), added row by row into the bias gradient `d_bias`, in one pass.
#[inline(always)]
fn activation_grad(d: &mut [f32], y: &[f32], d_bias: &mut [f32], grad: impl Fn(f32, f32) -> f32) {
    let width = d_bias.len();
    for (d_row, y_row) in d.chunks_exact_mut(width).zip(y.chunks_exact(width)) {
        for ((d, &y), b) in d_row.iter_mut().zip(y_row).zip(d_bias.iter_mut()) {
            *d = grad(*d, y);
            *b += *d;
        }
    }
}

/// Two distinct elements of `v`, mutably.
fn pair_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert!(a < b, "pair_mut({a}, {b})");
    let (lo, hi) = v.split_at_mut(b);
    (&mut lo[a], &mut hi[0])
}
