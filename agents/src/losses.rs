//! The PPO objective: clipped surrogate, optionally clipped value loss, entropy bonus, and the
//! diagnostics CleanRL logs (approximate KL, clip fraction).

use candle_core::{Result, Tensor};

/// Loss coefficients.
#[derive(Clone, Copy, Debug)]
pub struct LossCoefs {
    pub clip_coef: f64,
    pub clip_vloss: bool,
    pub ent_coef: f64,
    pub vf_coef: f64,
}

/// The scalar loss to differentiate and, detached, its parts.
pub struct PpoLoss {
    pub total: Tensor,
    /// `[policy, value, entropy, approx_kl, clipfrac]` as one detached `[5]` tensor, so reading
    /// the diagnostics costs a single device-to-host copy.
    pub stats: Tensor,
}

/// The diagnostics of a PPO loss (CleanRL's logged values).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossStats {
    pub policy_loss: f64,
    pub value_loss: f64,
    pub entropy: f64,
    pub approx_kl: f64,
    pub clipfrac: f64,
}

impl LossStats {
    /// Metric keys, in the order of [`values`](Self::values) and of [`PpoLoss::stats`].
    pub const KEYS: [&str; 5] = [
        "losses/policy_loss",
        "losses/value_loss",
        "losses/entropy",
        "losses/approx_kl",
        "losses/clipfrac",
    ];

    /// From the `[5]` stats tensor's host values.
    pub fn from_stats(stats: &[f32]) -> Self {
        let v = |i: usize| stats[i] as f64;
        LossStats {
            policy_loss: v(0),
            value_loss: v(1),
            entropy: v(2),
            approx_kl: v(3),
            clipfrac: v(4),
        }
    }

    pub fn values(&self) -> [f64; 5] {
        [
            self.policy_loss,
            self.value_loss,
            self.entropy,
            self.approx_kl,
            self.clipfrac,
        ]
    }

    /// Field-wise `self + other`.
    pub fn add(&self, other: &LossStats) -> LossStats {
        let (a, b) = (self.values(), other.values());
        LossStats::from_values(std::array::from_fn(|i| a[i] + b[i]))
    }

    /// Field-wise `self / n`.
    pub fn div(&self, n: f64) -> LossStats {
        LossStats::from_values(self.values().map(|v| v / n))
    }

    fn from_values(v: [f64; 5]) -> LossStats {
        LossStats {
            policy_loss: v[0],
            value_loss: v[1],
            entropy: v[2],
            approx_kl: v[3],
            clipfrac: v[4],
        }
    }
}

/// What the current network says about a mini-batch, all `[M]`.
pub struct Evaluation<'a> {
    pub logp: &'a Tensor,
    pub entropy: &'a Tensor,
    pub values: &'a Tensor,
}

/// What the rollout recorded, all `[M]`; advantages already normalized if wanted.
pub struct Targets<'a> {
    pub old_logp: &'a Tensor,
    pub old_values: &'a Tensor,
    pub advantages: &'a Tensor,
    pub returns: &'a Tensor,
}

/// PPO loss of a mini-batch.
pub fn ppo_loss(new: &Evaluation<'_>, old: &Targets<'_>, c: &LossCoefs) -> Result<PpoLoss> {
    let (new_logp, entropy, new_values) = (new.logp, new.entropy, new.values);
    let (old_logp, old_values) = (old.old_logp, old.old_values);
    let (advantages, returns) = (old.advantages, old.returns);
    let logratio = new_logp.sub(old_logp)?;
    let ratio = logratio.exp()?;
    let clipped = ratio.clamp(1.0 - c.clip_coef, 1.0 + c.clip_coef)?;
    let neg_adv = advantages.neg()?;
    let pg_loss = neg_adv
        .mul(&ratio)?
        .maximum(&neg_adv.mul(&clipped)?)?
        .mean_all()?;

    let unclipped = new_values.sub(returns)?.sqr()?;
    let v_loss = if c.clip_vloss {
        let v_clipped = old_values.add(
            &new_values
                .sub(old_values)?
                .clamp(-c.clip_coef, c.clip_coef)?,
        )?;
        let clipped_err = v_clipped.sub(returns)?.sqr()?;
        (unclipped.maximum(&clipped_err)?.mean_all()? * 0.5)?
    } else {
        (unclipped.mean_all()? * 0.5)?
    };
    let entropy_mean = entropy.mean_all()?;
    let total = ((&pg_loss - (&entropy_mean * c.ent_coef)?)? + (&v_loss * c.vf_coef)?)?;

    let (logratio, ratio) = (logratio.detach(), ratio.detach());
    let approx_kl = ((&ratio - 1.0)? - &logratio)?.mean_all()?;
    let clipfrac = (&ratio - 1.0)?
        .abs()?
        .gt(c.clip_coef)?
        .to_dtype(candle_core::DType::F32)?
        .mean_all()?;
    let stats = Tensor::stack(
        &[
            pg_loss.detach(),
            v_loss.detach(),
            entropy_mean.detach(),
            approx_kl,
            clipfrac,
        ],
        0,
    )?;
    Ok(PpoLoss { total, stats })
}

/// Normalizes advantages in place: `(a - mean) / (std + 1e-8)` with the unbiased std (torch's
/// `.std()`); a single sample is only centred.
pub fn normalize_advantages(adv: &mut [f32]) {
    let n = adv.len();
    if n == 0 {
        return;
    }
    let mean = adv.iter().map(|&a| a as f64).sum::<f64>() / n as f64;
    let std = if n > 1 {
        (adv.iter().map(|&a| (a as f64 - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    for a in adv.iter_mut() {
        *a = ((*a as f64 - mean) / (std + 1e-8)) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap()
    }

    #[test]
    fn clipped_surrogate_matches_hand_computation() {
        // ratios 1.5, 0.5, 1.1, 0.5 with advantages 1, -1, 2, 1 and clip 0.2:
        // per-sample max(-A r, -A clip(r)) = -1.2, 0.8, -2.2, -0.5 -> mean -0.775.
        let ratios = [1.5f32, 0.5, 1.1, 0.5];
        let logp = Var::from_vec(ratios.iter().map(|r| r.ln()).collect(), 4, &Device::Cpu).unwrap();
        let zeros = t(&[0.0; 4]);
        let coefs = LossCoefs {
            clip_coef: 0.2,
            clip_vloss: false,
            ent_coef: 0.0,
            vf_coef: 0.0,
        };
        let adv = t(&[1.0, -1.0, 2.0, 1.0]);
        let new = Evaluation {
            logp: logp.as_tensor(),
            entropy: &zeros,
            values: &zeros,
        };
        let old = Targets {
            old_logp: &zeros,
            old_values: &zeros,
            advantages: &adv,
            returns: &zeros,
        };
        let loss = ppo_loss(&new, &old, &coefs).unwrap();
        let s = loss.stats.to_vec1::<f32>().unwrap();
        assert!((s[0] + 0.775).abs() < 1e-6, "policy loss {}", s[0]);
        // approx KL = mean((r - 1) - ln r); clipfrac: samples 1, 2 and 4 are outside 1 +- 0.2.
        let kl: f64 = ratios
            .iter()
            .map(|&r| (r as f64 - 1.0) - (r as f64).ln())
            .sum::<f64>()
            / 4.0;
        assert!((s[3] as f64 - kl).abs() < 1e-6 && s[4] == 0.75, "{s:?}");
        // Gradient flows only where the unclipped term is the max: d/dlogp = -A r / 4.
        let g = loss.total.backward().unwrap();
        let g = g.get(logp.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        let want = [0.0, 0.0, -0.55, -0.125];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{g:?}");
        }
    }

    #[test]
    fn value_loss_clipped_and_unclipped_and_total() {
        // new (1, 3), old (0, 2.9), returns (2, 2), clip 0.2:
        // clipped values (0.2, 3.0): errors max((1, 3.24), (1, 1)) -> 0.5 * 4.24 / 2 = 1.06.
        let (new_v, old_v, ret) = (t(&[1.0, 3.0]), t(&[0.0, 2.9]), t(&[2.0, 2.0]));
        let zeros = t(&[0.0, 0.0]);
        let entropy = t(&[0.5, 1.5]);
        let mut coefs = LossCoefs {
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.1,
            vf_coef: 0.5,
        };
        let run = |c: &LossCoefs| {
            let new = Evaluation {
                logp: &zeros,
                entropy: &entropy,
                values: &new_v,
            };
            let old = Targets {
                old_logp: &zeros,
                old_values: &old_v,
                advantages: &zeros,
                returns: &ret,
            };
            let l = ppo_loss(&new, &old, c).unwrap();
            (
                l.stats.to_vec1::<f32>().unwrap(),
                l.total.to_scalar::<f32>().unwrap(),
            )
        };
        let (s, total) = run(&coefs);
        assert!(
            (s[1] - 1.06).abs() < 1e-6 && (s[2] - 1.0).abs() < 1e-7,
            "{s:?}"
        );
        // total = pg (0) - 0.1 * 1 + 0.5 * 1.06
        assert!((total - 0.43).abs() < 1e-6, "{total}");
        coefs.clip_vloss = false;
        assert!((run(&coefs).0[1] - 0.5).abs() < 1e-7);
    }

    #[test]
    fn advantage_normalization_uses_unbiased_std() {
        let mut a = [1.0f32, 2.0, 3.0];
        normalize_advantages(&mut a);
        assert!((a[0] + 1.0).abs() < 1e-6 && a[1].abs() < 1e-7 && (a[2] - 1.0).abs() < 1e-6);
        let mut one = [5.0f32];
        normalize_advantages(&mut one);
        assert_eq!(one, [0.0]);
    }
}
