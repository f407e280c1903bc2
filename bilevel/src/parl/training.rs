//! Bradley–Terry training of the reward ensemble (the PEBBLE term), and its diagnostics.
//!
//! P_ν(σ1 ≻ σ0) = σ(d) with d = Σ_k m1_k r_ν(x1_k) − Σ_k m0_k r_ν(x0_k), the masked segment
//! sums; the loss for a (soft) label y is the cross-entropy softplus(d) − y·d, whose gradient
//! with respect to d is σ(d) − y (= P − y). Padded steps (mask 0) never reach the loss.
//!
//! Per session, `model.steps` Adam steps (agents' host Adam, torch semantics) on mini-batches
//! of `model.batch` pairs. Every member walks its own bootstrap order: consecutive
//! permutations of the training pairs drawn from the model's seeded RNG, so members see the
//! data in different orders (B-Pref). The loss sums the members' mean losses.

use candle_core::{Tensor, D};
use rand::RngExt;

use crate::parl::buffer::PreferencePair;
use crate::parl::model::{ensemble_mean, pearson, RewardModel, TrainStats};
use crate::parl::segments::Segment;
use crate::parl::teacher::sigmoid;
use crate::parl::{ParlError, Result};

/// Logits d = R̂1 − R̂0 `[.., P]` from step rewards and masks `[.., P, 2, L]`.
pub fn pair_logits(step_rewards: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let sums = step_rewards.mul(mask)?.sum(D::Minus1)?;
    let r0 = sums.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?;
    let r1 = sums.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?;
    Ok(r1.sub(&r0)?)
}

/// Bradley–Terry cross-entropy softplus(d) − y·d, averaged over the last dim (pairs) and
/// summed over the leading dims (members). softplus is max(d, 0) + log(1 + e^−|d|), stable for
/// any |d|, with candle's subgradients (1 at 0) giving exactly σ(0) = 0.5 at d = 0.
pub fn bt_loss(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let softplus = logits
        .relu()?
        .add(&logits.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
    let per_pair = softplus.sub(&targets.mul(logits)?)?;
    Ok(per_pair.mean(D::Minus1)?.sum_all()?)
}

/// The training pairs in one packed, normalized host layout.
struct Packed {
    /// `[n, 2, L, in]`.
    inputs: Vec<f32>,
    /// `[n, 2, L]`.
    masks: Vec<f32>,
    labels: Vec<f32>,
    length: usize,
}

impl RewardModel {
    /// One feedback session of training on `pairs` (the buffer's training split).
    pub fn train(&mut self, pairs: &[PreferencePair]) -> Result<TrainStats> {
        if pairs.is_empty() {
            return Err(ParlError::Invalid("no preference pairs to train on".into()));
        }
        let packed = self.pack(pairs)?;
        let n = pairs.len();
        let batch = self.config.batch.min(n);
        let e = self.members();
        let mut orders: Vec<Vec<usize>> = vec![Vec::new(); e];
        let mut cursors = vec![0usize; e];
        let (mut first_loss, mut last_loss) = (f64::NAN, f64::NAN);
        for step in 0..self.config.steps {
            let picks: Vec<Vec<usize>> = (0..e)
                .map(|m| self.next_batch(&mut orders[m], &mut cursors[m], n, batch))
                .collect();
            let loss = self.train_step(&packed, &picks)?;
            if step == 0 {
                first_loss = loss;
            }
            last_loss = loss;
        }
        Ok(TrainStats {
            steps: self.config.steps,
            first_loss,
            last_loss,
        })
    }

    /// The next `batch` pair indices of one member's order, drawing a fresh permutation
    /// whenever the current one runs out.
    fn next_batch(
        &mut self,
        order: &mut Vec<usize>,
        cursor: &mut usize,
        n: usize,
        batch: usize,
    ) -> Vec<usize> {
        let mut out = Vec::with_capacity(batch);
        while out.len() < batch {
            if *cursor >= order.len() {
                *order = (0..n).collect();
                for i in (1..n).rev() {
                    let j = self.rng.random_range(0..=i);
                    order.swap(i, j);
                }
                *cursor = 0;
            }
            out.push(order[*cursor]);
            *cursor += 1;
        }
        out
    }

    fn pack(&self, pairs: &[PreferencePair]) -> Result<Packed> {
        let length = pairs[0].seg0.len();
        let n_in = self.num_inputs();
        let mut raw = Vec::with_capacity(pairs.len() * 2 * length * n_in);
        let mut masks = Vec::with_capacity(pairs.len() * 2 * length);
        for p in pairs {
            for seg in [&p.seg0, &p.seg1] {
                if seg.len() != length || seg.inputs.len() != length * n_in {
                    return Err(ParlError::Invalid(format!(
                        "segments must all be [{length}, {n_in}] to train on"
                    )));
                }
                raw.extend_from_slice(&seg.inputs);
                masks.extend_from_slice(&seg.mask);
            }
        }
        let normed = self.normalize_rows(&raw);
        Ok(Packed {
            inputs: normed,
            masks,
            labels: pairs.iter().map(|p| p.label).collect(),
            length,
        })
    }

    /// One Adam step on per-member mini-batches; returns the mean member loss.
    fn train_step(&mut self, packed: &Packed, picks: &[Vec<usize>]) -> Result<f64> {
        let (e, p, l, n_in) = (
            picks.len(),
            picks[0].len(),
            packed.length,
            self.num_inputs(),
        );
        let seg_in = 2 * l * n_in;
        let mut x = Vec::with_capacity(e * p * seg_in);
        let mut mask = Vec::with_capacity(e * p * 2 * l);
        let mut y = Vec::with_capacity(e * p);
        for member in picks {
            for &i in member {
                x.extend_from_slice(&packed.inputs[i * seg_in..(i + 1) * seg_in]);
                mask.extend_from_slice(&packed.masks[i * 2 * l..(i + 1) * 2 * l]);
                y.push(packed.labels[i]);
            }
        }
        let dev = self.device().clone();
        let x = Tensor::from_vec(x, (e, p * 2 * l, n_in), &dev)?;
        let mask = Tensor::from_vec(mask, (e, p, 2, l), &dev)?;
        let y = Tensor::from_vec(y, (e, p), &dev)?;
        let rewards = self.forward(&x)?.reshape((e, p, 2, l))?;
        let loss = bt_loss(&pair_logits(&rewards, &mask)?, &y)?;
        let grads = loss.backward()?;
        let mut host_grads = Vec::with_capacity(self.host.len());
        for var in self.vars() {
            host_grads.push(match grads.get(var.as_tensor()) {
                Some(g) => g.flatten_all()?.to_vec1::<f32>()?,
                None => vec![0.0; var.elem_count()],
            });
        }
        let lr = self.config.lr;
        self.adam.update(&mut self.host, &host_grads, lr);
        self.write_vars()?;
        Ok(loss.to_scalar::<f32>()? as f64 / e as f64)
    }

    /// Per-member P(σ1 ≻ σ0) `[E][pairs]` in f64.
    pub fn pair_probabilities(&self, pairs: &[(&Segment, &Segment)]) -> Result<Vec<Vec<f64>>> {
        let segs: Vec<&Segment> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
        let returns = self.member_segment_returns(&segs)?;
        Ok(returns
            .iter()
            .map(|r| r.chunks_exact(2).map(|ab| sigmoid(ab[1] - ab[0])).collect())
            .collect())
    }

    /// Share of hard-labelled pairs (0 or 1) whose label the ensemble-mean segment returns
    /// reproduce (R̂1 > R̂0 ⇔ y = 1); NaN without hard labels.
    pub fn accuracy(&self, pairs: &[PreferencePair]) -> Result<f64> {
        let hard: Vec<&PreferencePair> = pairs.iter().filter(|p| p.label != 0.5).collect();
        if hard.is_empty() {
            return Ok(f64::NAN);
        }
        let segs: Vec<&Segment> = hard.iter().flat_map(|p| [&p.seg0, &p.seg1]).collect();
        let returns = self.member_segment_returns(&segs)?;
        let e = returns.len() as f64;
        let correct = hard
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                let d: f64 = returns.iter().map(|r| r[2 * i + 1] - r[2 * i]).sum::<f64>() / e;
                (d > 0.0) == (p.label == 1.0)
            })
            .count();
        Ok(correct as f64 / hard.len() as f64)
    }

    /// Pearson correlation of r_ν (ensemble mean) with the true rewards on raw input rows.
    pub fn reward_correlation(&self, rows: &[f32], true_rewards: &[f32]) -> Result<f64> {
        let members = self.member_rewards(rows)?;
        Ok(pearson(&ensemble_mean(&members), true_rewards))
    }
}
