/// What the vectorized step needs from a reward module: a per-env scalar from the step's
/// signals, a breakdown into named terms (summed per episode for logging) and, when the reward
/// says so, a termination with a named cause. Applied inside [`crate::VecEnv::step`] before the
/// autoreset, so a reward can end an episode. The `carrot-rewards` crate implements it.
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
