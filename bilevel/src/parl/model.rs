//! The learned reward r_ν: an ensemble of E MLPs on candle over the configured input signals.
//!
//! Each member maps fixed-normalized inputs through LeakyReLU hidden layers (slope 0.01) to a
//! tanh output (B-Pref); r_ν is the ensemble mean. The members are evaluated together as
//! batched matmuls: layer weights are `[E, in, out]`, biases `[E, 1, out]`. Weights come from
//! seeded orthogonal init on the host (`agents::networks::orthogonal`), never candle's RNG;
//! biases start at 0. Bradley–Terry training lives in [`crate::parl::training`].
//!
//! Every host reduction (ensemble means, segment sums, chunked VJP accumulation) runs in a
//! fixed order in f64, so results do not depend on the rayon thread count.

use candle_core::{Device, Tensor, Var};
use carrot_agents::optimizer::Adam;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::parl::config::{resolve_inputs, ModelConfig};
use crate::parl::segments::Segment;
use crate::parl::{ParlError, Result};

pub(crate) const LEAKY_SLOPE: f64 = 0.01;
/// Rows per forward chunk in evaluation and VJPs (bounds memory at large batches).
const CHUNK_ROWS: usize = 8192;

/// Fixed per-input affine normalization `(x − mean) / std`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalization {
    pub fn identity(num_inputs: usize) -> Self {
        Normalization {
            mean: vec![0.0; num_inputs],
            std: vec![1.0; num_inputs],
        }
    }

    /// Mean and population std of `[B, n]` rows (f64 sums); a std below 1e-6 becomes 1.
    pub fn from_rows(rows: &[f32], num_inputs: usize) -> Self {
        let count = (rows.len() / num_inputs.max(1)).max(1) as f64;
        let mut mean = vec![0f64; num_inputs];
        let mut sq = vec![0f64; num_inputs];
        for row in rows.chunks_exact(num_inputs) {
            for (j, &x) in row.iter().enumerate() {
                mean[j] += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= count);
        for row in rows.chunks_exact(num_inputs) {
            for (j, &x) in row.iter().enumerate() {
                sq[j] += (x as f64 - mean[j]).powi(2);
            }
        }
        let std = sq
            .iter()
            .map(|s| {
                let s = (s / count).sqrt();
                if s < 1e-6 {
                    1.0
                } else {
                    s as f32
                }
            })
            .collect();
        Normalization {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    fn apply(&self, rows: &[f32]) -> Vec<f32> {
        let n = self.mean.len();
        let mut out = rows.to_vec();
        for row in out.chunks_exact_mut(n) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
        out
    }
}

/// Everything needed to restore a model exactly (checkpoint payload).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RewardModelState {
    pub config: ModelConfig,
    pub inputs: Vec<String>,
    pub input_indices: Vec<usize>,
    pub normalization: Normalization,
    pub parameters: Vec<f32>,
    pub adam_step: u64,
    pub adam_m: Vec<f32>,
    pub adam_v: Vec<f32>,
    pub rng: Pcg64Mcg,
}

pub struct RewardModel {
    pub(crate) config: ModelConfig,
    inputs: Vec<String>,
    input_indices: Vec<usize>,
    norm: Normalization,
    /// `(w [E, in, out], b [E, 1, out])` per layer, the last one the output layer.
    pub(crate) layers: Vec<(Var, Var)>,
    pub(crate) host: Vec<Vec<f32>>,
    pub(crate) adam: Adam,
    /// Draws the per-member bootstrap orders of training.
    pub(crate) rng: Pcg64Mcg,
    device: Device,
}

/// What one training session did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainStats {
    pub steps: usize,
    /// Mean over members of the mini-batch loss, first and last step.
    pub first_loss: f64,
    pub last_loss: f64,
}

impl RewardModel {
    /// Resolves `inputs` against the env's `signals`, refusing any signal in `deny` (the true
    /// reward's own signals), and initializes the ensemble from `seed`.
    pub fn new(
        config: &ModelConfig,
        inputs: &[String],
        signals: &[String],
        deny: &[String],
        normalization: Normalization,
        seed: u64,
    ) -> Result<Self> {
        config.validate()?;
        let input_indices = resolve_inputs(inputs, signals, deny)?;
        if normalization.mean.len() != inputs.len() || normalization.std.len() != inputs.len() {
            return Err(ParlError::Invalid(format!(
                "normalization has {} entries for {} inputs",
                normalization.mean.len(),
                inputs.len()
            )));
        }
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let e = config.members;
        let widths: Vec<usize> = std::iter::once(inputs.len())
            .chain(config.hidden.iter().copied())
            .chain(std::iter::once(1))
            .collect();
        let device = Device::Cpu;
        let mut layers = Vec::new();
        let mut host = Vec::new();
        for (i, pair) in widths.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let gain = if i + 2 == widths.len() {
                1.0
            } else {
                2f64.sqrt()
            };
            let mut w = Vec::with_capacity(e * fan_in * fan_out);
            for _ in 0..e {
                w.extend(carrot_agents::networks::orthogonal(
                    &mut rng, fan_in, fan_out, gain,
                ));
            }
            let b = vec![0f32; e * fan_out];
            layers.push((
                Var::from_vec(w.clone(), (e, fan_in, fan_out), &device)?,
                Var::from_vec(b.clone(), (e, 1, fan_out), &device)?,
            ));
            host.push(w);
            host.push(b);
        }
        let sizes: Vec<usize> = host.iter().map(Vec::len).collect();
        Ok(RewardModel {
            config: config.clone(),
            inputs: inputs.to_vec(),
            input_indices,
            norm: normalization,
            layers,
            host,
            adam: Adam::new(&sizes),
            rng,
            device,
        })
    }

    pub fn members(&self) -> usize {
        self.config.members
    }

    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Indices of the inputs in the env's signal rows.
    pub fn input_indices(&self) -> &[usize] {
        &self.input_indices
    }

    pub fn normalization(&self) -> &Normalization {
        &self.norm
    }

    pub fn num_parameters(&self) -> usize {
        self.host.iter().map(Vec::len).sum()
    }

    /// Per-member rewards `[E, B]` for a normalized input tensor `[E, B, in]` (graph kept).
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, (w, b)) in self.layers.iter().enumerate() {
            h = h.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
            if i < last {
                h = (h.affine(LEAKY_SLOPE, 0.0)? + h.relu()?.affine(1.0 - LEAKY_SLOPE, 0.0)?)?;
            }
        }
        Ok(h.tanh()?.squeeze(2)?)
    }

    /// Normalizes `[B, in]` raw input rows and replicates them for every member: `[E, B, in]`.
    pub(crate) fn shared_input(&self, rows: &[f32]) -> Result<Tensor> {
        let n = self.num_inputs();
        let b = rows.len() / n;
        let normed = self.norm.apply(rows);
        let e = self.members();
        let mut all = Vec::with_capacity(e * normed.len());
        (0..e).for_each(|_| all.extend_from_slice(&normed));
        Ok(Tensor::from_vec(all, (e, b, n), &self.device)?)
    }

    /// Member rewards `[E][B]` for raw input rows `[B, in]`, in chunks.
    pub fn member_rewards(&self, rows: &[f32]) -> Result<Vec<Vec<f32>>> {
        self.check_rows(rows)?;
        let n = self.num_inputs();
        let mut out = vec![Vec::with_capacity(rows.len() / n); self.members()];
        for chunk in rows.chunks(CHUNK_ROWS * n) {
            let r = self.forward(&self.shared_input(chunk)?)?.to_vec2::<f32>()?;
            for (dst, src) in out.iter_mut().zip(r) {
                dst.extend(src);
            }
        }
        Ok(out)
    }

    /// r_ν (ensemble mean) for raw input rows `[B, in]`: the relabelling pass.
    pub fn evaluate_batch(&self, rows: &[f32]) -> Result<Vec<f32>> {
        let members = self.member_rewards(rows)?;
        Ok(ensemble_mean(&members))
    }

    /// r_ν for full env signal rows `[B, S]` (selects the inputs first).
    pub fn evaluate_signals(&self, signals: &[f32], num_signals: usize) -> Result<Vec<f32>> {
        self.evaluate_batch(&self.select_inputs(signals, num_signals))
    }

    /// The model's input columns out of full signal rows `[B, S]`.
    pub fn select_inputs(&self, signals: &[f32], num_signals: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(signals.len() / num_signals.max(1) * self.num_inputs());
        for row in signals.chunks_exact(num_signals) {
            out.extend(self.input_indices.iter().map(|&i| row[i]));
        }
        out
    }

    /// Per-member masked segment returns `[E][segments]` in f64.
    pub fn member_segment_returns(&self, segments: &[&Segment]) -> Result<Vec<Vec<f64>>> {
        let rows: Vec<f32> = segments
            .iter()
            .flat_map(|s| s.inputs.iter().copied())
            .collect();
        let members = self.member_rewards(&rows)?;
        Ok(members
            .iter()
            .map(|r| {
                let mut offset = 0;
                segments
                    .iter()
                    .map(|s| {
                        let sum = masked_sum(&r[offset..offset + s.len()], &s.mask);
                        offset += s.len();
                        sum
                    })
                    .collect()
            })
            .collect())
    }

    /// ∇_ν Σ_k w_k r_ν(x_k) for raw input rows `[B, in]`, flat in [`Self::parameters_f32`]
    /// order: one candle backward per chunk of rows, chunk gradients summed in order in f64.
    pub fn param_vjp(&self, rows: &[f32], weights: &[f64]) -> Result<Vec<f64>> {
        self.check_rows(rows)?;
        let n = self.num_inputs();
        if weights.len() * n != rows.len() {
            return Err(ParlError::Invalid(format!(
                "param_vjp got {} weights for {} rows",
                weights.len(),
                rows.len() / n
            )));
        }
        let mut total = vec![0f64; self.num_parameters()];
        let inv_e = 1.0 / self.members() as f64;
        for (chunk, w) in rows.chunks(CHUNK_ROWS * n).zip(weights.chunks(CHUNK_ROWS)) {
            let w: Vec<f32> = w.iter().map(|&x| (x * inv_e) as f32).collect();
            let w = Tensor::from_vec(w, (1, chunk.len() / n), &self.device)?;
            let r = self.forward(&self.shared_input(chunk)?)?;
            let objective = r.broadcast_mul(&w)?.sum_all()?;
            let grads = objective.backward()?;
            let mut offset = 0;
            for var in self.vars() {
                let g = grads
                    .get(var.as_tensor())
                    .map(|g| g.flatten_all()?.to_vec1::<f32>())
                    .transpose()?
                    .unwrap_or_else(|| vec![0.0; var.elem_count()]);
                for (t, gi) in total[offset..].iter_mut().zip(&g) {
                    *t += *gi as f64;
                }
                offset += var.elem_count();
            }
        }
        Ok(total)
    }

    /// All parameters, flat: per layer the weights `[E, in, out]` then the biases `[E, 1, out]`.
    pub fn parameters_f32(&self) -> Vec<f32> {
        self.host.iter().flatten().copied().collect()
    }

    pub fn parameters_f64(&self) -> Vec<f64> {
        self.host.iter().flatten().map(|&x| x as f64).collect()
    }

    pub fn set_parameters_f32(&mut self, flat: &[f32]) -> Result<()> {
        if flat.len() != self.num_parameters() {
            return Err(ParlError::Invalid(format!(
                "reward model has {} parameters, got {}",
                self.num_parameters(),
                flat.len()
            )));
        }
        let mut offset = 0;
        for h in self.host.iter_mut() {
            let n = h.len();
            h.copy_from_slice(&flat[offset..offset + n]);
            offset += n;
        }
        self.write_vars()
    }

    pub fn set_parameters_f64(&mut self, flat: &[f64]) -> Result<()> {
        let f: Vec<f32> = flat.iter().map(|&x| x as f32).collect();
        self.set_parameters_f32(&f)
    }

    /// The checkpoint payload.
    pub fn state(&self) -> RewardModelState {
        RewardModelState {
            config: self.config.clone(),
            inputs: self.inputs.clone(),
            input_indices: self.input_indices.clone(),
            normalization: self.norm.clone(),
            parameters: self.parameters_f32(),
            adam_step: self.adam.step,
            adam_m: self.adam.m.iter().flatten().copied().collect(),
            adam_v: self.adam.v.iter().flatten().copied().collect(),
            rng: self.rng.clone(),
        }
    }

    /// Rebuilds a model from [`Self::state`]; the result is indistinguishable from the original.
    pub fn from_state(state: RewardModelState) -> Result<Self> {
        let signals = state.inputs.clone();
        let mut model = RewardModel::new(
            &state.config,
            &state.inputs,
            &signals,
            &[],
            state.normalization.clone(),
            0,
        )?;
        model.input_indices = state.input_indices;
        model.set_parameters_f32(&state.parameters)?;
        let total = model.num_parameters();
        if state.adam_m.len() != total || state.adam_v.len() != total {
            return Err(ParlError::Invalid(
                "reward-model Adam state has the wrong size".into(),
            ));
        }
        model.adam.step = state.adam_step;
        let mut offset = 0;
        for (m, v) in model.adam.m.iter_mut().zip(model.adam.v.iter_mut()) {
            let n = m.len();
            m.copy_from_slice(&state.adam_m[offset..offset + n]);
            v.copy_from_slice(&state.adam_v[offset..offset + n]);
            offset += n;
        }
        model.rng = state.rng;
        Ok(model)
    }

    pub(crate) fn vars(&self) -> impl Iterator<Item = &Var> {
        self.layers.iter().flat_map(|(w, b)| [w, b])
    }

    pub(crate) fn write_vars(&self) -> Result<()> {
        for (var, h) in self.vars().zip(&self.host) {
            var.set(&Tensor::from_slice(h, var.shape(), &self.device)?)?;
        }
        Ok(())
    }

    pub(crate) fn normalize_rows(&self, rows: &[f32]) -> Vec<f32> {
        self.norm.apply(rows)
    }

    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    fn check_rows(&self, rows: &[f32]) -> Result<()> {
        if !rows.chunks_exact(self.num_inputs()).remainder().is_empty() {
            return Err(ParlError::Invalid(format!(
                "input rows have {} values, not a multiple of {} inputs",
                rows.len(),
                self.num_inputs()
            )));
        }
        Ok(())
    }
}

/// Mean over members, per row, in f64 and member order.
pub fn ensemble_mean(members: &[Vec<f32>]) -> Vec<f32> {
    let e = members.len() as f64;
    (0..members.first().map_or(0, Vec::len))
        .map(|k| (members.iter().map(|m| m[k] as f64).sum::<f64>() / e) as f32)
        .collect()
}

pub fn masked_sum(rewards: &[f32], mask: &[f32]) -> f64 {
    rewards
        .iter()
        .zip(mask)
        .map(|(&r, &m)| r as f64 * m as f64)
        .sum()
}

/// Pearson correlation in f64; NaN when either side is constant.
pub fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let ma = a.iter().map(|&x| x as f64).sum::<f64>() / n;
    let mb = b.iter().map(|&x| x as f64).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x as f64 - ma, y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}
