//! The PPO loss and its gradient on the CPU, written out by hand instead of through candle's
//! autodiff graph: the default learner on the CPU (`ppo.cpu_learner = "native"`).
//!
//! Why: candle dispatches every op, allocates every intermediate tensor and walks a graph, which
//! costs a fixed ~0.5 ms per gradient step at small mini-batches (cartpole's 128-512 rows), and
//! at large ones its whole-batch passes stream activations through memory. Here a mini-batch is
//! cut into fixed chunks of rows small enough for the activations to stay in cache; each chunk
//! runs the forward pass, the policy head and loss per row, and the backward pass in one visit,
//! with single-threaded matrix products whose sums run in one order on every CPU (AVX-512,
//! AVX2 + FMA or scalar: the same bits) and row-wise kernels for the narrow heads.
//!
//! Chunks are dealt to a fixed number of lanes (chunk `c` to lane `c mod lanes`); each lane
//! sums its chunks' gradients in chunk order, and the lanes are added in lane order. Chunk size
//! and lane count depend on the mini-batch length and layer widths only, so a result does not
//! depend on the thread count; rayon runs the lanes in parallel.
//!
//! The candle graph remains the learner on other devices, and on the CPU under
//! [`PortableOps`](crate::ops::PortableOps) or `ppo.cpu_learner = "graph"`; the tests check the
//! two against each other for every head, activation and trunk layout.

mod heads;
mod kernels;
mod matmul;
mod pass;
mod profile;

pub(crate) use pass::loss_and_grads;
pub(crate) use profile::{PhaseTimes, PHASES};

use crate::networks::HeadKind;

/// A dense layer's shape and where its weight (`[fan_in, fan_out]`) and bias sit in the
/// parameter list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DenseIndex {
    pub fan_in: usize,
    pub fan_out: usize,
    pub weight: usize,
    pub bias: usize,
}

/// The shape of an [`ActorCritic`](crate::networks::ActorCritic), with the index of each
/// parameter in its [`params`](crate::networks::ActorCritic::params) order.
#[derive(Clone, Debug)]
pub(crate) struct NetLayout {
    pub head: HeadKind,
    pub obs_dim: usize,
    pub privileged_dim: usize,
    pub relu: bool,
    /// The actor's trunk, or the shared trunk.
    pub actor: Vec<DenseIndex>,
    /// The critic's trunk; empty with a shared trunk.
    pub critic: Vec<DenseIndex>,
    pub policy: DenseIndex,
    pub value: DenseIndex,
    pub log_std: Option<usize>,
    /// Elements of each parameter, in order.
    pub sizes: Vec<usize>,
}

impl NetLayout {
    /// Whether the value head reads the actor's trunk (no critic trunk of its own), as
    /// [`ActorCritic::forward`](crate::networks::ActorCritic::forward) does.
    fn shared(&self) -> bool {
        self.critic.is_empty()
    }

    /// The widest layer output (sets the chunk size).
    fn max_width(&self) -> usize {
        self.actor
            .iter()
            .chain(&self.critic)
            .map(|l| l.fan_out)
            .chain([self.obs_dim + self.privileged_dim])
            .max()
            .unwrap_or(1)
            .max(1)
    }
}

#[cfg(test)]
mod tests;
