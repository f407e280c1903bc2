//! The reward hook: what `VecEnv::step` needs from a reward module (implemented in
//! `carrot-rewards`), and `NoReward` for stepping envs without one.

/// What the vectorized step needs from a reward module: a per-env scalar from the step's
/// signals, a breakdown into named terms (summed per episode for logging) and, when the reward
/// names one, the cause of an episode end. Applied inside [`crate::VecEnv::step`] before the
/// autoreset. A returned cause marks the step terminated (no bootstrap): the driving rewards
/// name a cause only on steps where the env ended the episode (the env alone decides which
/// events end one), and so make a time-out terminal, as CaRL's PPO does. The `carrot-rewards`
/// crate implements it.
pub trait StepReward: Sync {
    /// Names of the additive or multiplicative terms written by [`StepReward::evaluate`].
    fn term_names(&self) -> &[String];
    /// Names of the termination causes this reward can return.
    fn cause_names(&self) -> &[String];
    /// Reward of one env step; `terms` has `term_names().len()` slots. Returns the reward and,
    /// if the reward ends the episode, the index of the cause in `cause_names()`.
    fn evaluate(&self, signals: &[f32], terms: &mut [f32]) -> (f32, Option<usize>);
}

/// Reward zero, no terms, no terminations: for stepping envs without a reward module.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoReward;

impl StepReward for NoReward {
    fn term_names(&self) -> &[String] {
        &[]
    }
    fn cause_names(&self) -> &[String] {
        &[]
    }
    fn evaluate(&self, _signals: &[f32], _terms: &mut [f32]) -> (f32, Option<usize>) {
        (0.0, None)
    }
}
