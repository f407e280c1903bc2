//! Checkpoints: `weights-<iteration>.safetensors` (network parameters and Adam moments),
//! `collection-<iteration>.json` (the envs mid-episode, [`CollectionState`]) and `state.json`
//! (iteration, step count, optimizer scalars, normalizer statistics, RNG states, the config).
//! Each file is written to a temporary name and renamed into place; `state.json` is renamed
//! last and names the other two, so a crash at any point leaves the previous checkpoint intact.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use candle_core::{Device, Tensor};
use carrot_envs::EnvRng;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{AgentError, Result};
use crate::networks::ActorCritic;
use crate::normalization::{RewardScaler, RunningMeanStd};
use crate::optimizer::{host_params, write_params, Adam};
use crate::run_dir::{write_atomic, write_atomic_with};
use crate::train::{CollectionState, Trainer};

pub use crate::run_dir::checkpoint_dir;

const FORMAT: u32 = 1;
const STATE_FILE: &str = "state.json";

/// Everything except tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointState {
    pub format: u32,
    pub iteration: usize,
    pub global_step: u64,
    pub weights_file: String,
    pub config: TrainConfig,
    pub adam: Adam,
    pub obs_rms: Option<RunningMeanStd>,
    pub reward_scaler: Option<RewardScaler>,
    pub action_rng: EnvRng,
    pub shuffle_rng: EnvRng,
    /// An outer loop's state ([`IterationHook::save`](crate::train::IterationHook::save)),
    /// absent in plain PPO runs and in checkpoints written before hooks existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer: Option<serde_json::Value>,
    /// The file holding the envs' [`CollectionState`]; absent in checkpoints written before
    /// env snapshots existed and for envs that cannot snapshot (resumed with an env reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_file: Option<String>,
}

/// Saves the trainer's state and an outer loop's `outer` state into `dir`, replacing the
/// previous checkpoint.
pub fn save(trainer: &Trainer, dir: &Path, outer: Option<serde_json::Value>) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| AgentError::io(dir, e))?;
    let weights_file = format!("weights-{:06}.safetensors", trainer.iteration);
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let cpu = Device::Cpu;
    let params = trainer.policy.net.params();
    for ((name, var), values) in params.iter().zip(&trainer.params) {
        tensors.insert(name.clone(), Tensor::from_slice(values, var.shape(), &cpu)?);
    }
    for (i, (name, var)) in params.iter().enumerate() {
        let m = Tensor::from_slice(&trainer.adam.m[i], var.shape(), &cpu)?;
        let v = Tensor::from_slice(&trainer.adam.v[i], var.shape(), &cpu)?;
        tensors.insert(format!("adam.m.{name}"), m);
        tensors.insert(format!("adam.v.{name}"), v);
    }
    write_atomic_with(&dir.join(&weights_file), |tmp| {
        candle_core::safetensors::save(&tensors, tmp).map_err(|e| e.to_string())
    })?;
    let collection_file = match trainer.collection_state()? {
        Some(collection) => {
            let file = format!("collection-{:06}.json", trainer.iteration);
            let json = serde_json::to_vec(&collection).map_err(|e| AgentError::io(dir, e))?;
            write_atomic(&dir.join(&file), &json)?;
            Some(file)
        }
        None => None,
    };
    let state = CheckpointState {
        format: FORMAT,
        iteration: trainer.iteration,
        global_step: trainer.global_step,
        weights_file: weights_file.clone(),
        config: trainer.config.clone(),
        adam: trainer.adam.clone(),
        obs_rms: trainer.policy.obs_rms.clone(),
        reward_scaler: trainer.reward_scaler.clone(),
        action_rng: trainer.action_rng.clone(),
        shuffle_rng: trainer.shuffle_rng.clone(),
        outer,
        collection_file: collection_file.clone(),
    };
    let json = serde_json::to_vec_pretty(&state).map_err(|e| AgentError::io(dir, e))?;
    write_atomic(&dir.join(STATE_FILE), &json)?;
    // Older weights and env snapshots are unreferenced now.
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let stale = (name.starts_with("weights-") && name != weights_file)
                || (name.starts_with("collection-")
                    && Some(name.as_str()) != collection_file.as_deref());
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// Reads `state.json`; a missing file is [`AgentError::MissingCheckpoint`].
pub fn read_state(dir: &Path) -> Result<CheckpointState> {
    let path = dir.join(STATE_FILE);
    if !path.exists() {
        return Err(AgentError::MissingCheckpoint(dir.to_path_buf()));
    }
    let text = fs::read_to_string(&path).map_err(|e| AgentError::io(&path, e))?;
    let state: CheckpointState =
        serde_json::from_str(&text).map_err(|e| AgentError::Checkpoint {
            path: path.clone(),
            message: e.to_string(),
        })?;
    if state.format != FORMAT {
        return Err(AgentError::Checkpoint {
            path,
            message: format!("format {} is not the supported {FORMAT}", state.format),
        });
    }
    Ok(state)
}

/// Loads checkpoint tensors into `net` (and Adam moments when `adam` is given), checking that
/// every name and shape matches the network built from the current config.
pub fn load_tensors(
    dir: &Path,
    state: &CheckpointState,
    net: &ActorCritic,
    adam: Option<&mut Adam>,
) -> Result<()> {
    let path = dir.join(&state.weights_file);
    let err = |message: String| AgentError::Checkpoint {
        path: path.clone(),
        message,
    };
    let tensors = candle_core::safetensors::load(&path, &Device::Cpu)
        .map_err(|e| err(e.to_string().lines().next().unwrap_or("").to_string()))?;
    let get = |name: &str, want: &[usize]| -> Result<Vec<f32>> {
        let t = tensors.get(name).ok_or_else(|| {
            err(format!(
                "has no tensor '{name}': it was saved from a different network shape"
            ))
        })?;
        if t.dims() != want {
            return Err(err(format!(
                "tensor '{name}' has shape {:?}, the configured network expects {:?} (different network shape)",
                t.dims(),
                want
            )));
        }
        Ok(t.flatten_all()?.to_vec1::<f32>()?)
    };
    let params = net.params();
    let expected: usize = params.len();
    let stored = tensors.keys().filter(|k| !k.starts_with("adam.")).count();
    if stored != expected {
        return Err(err(format!(
            "holds {stored} parameter tensors, the configured network has {expected} (different network shape)"
        )));
    }
    let values = params
        .iter()
        .map(|(name, var)| get(name, var.dims()))
        .collect::<Result<Vec<_>>>()?;
    if let Some(adam) = adam {
        let mut m = Vec::new();
        let mut v = Vec::new();
        for (name, var) in params {
            m.push(get(&format!("adam.m.{name}"), var.dims())?);
            v.push(get(&format!("adam.v.{name}"), var.dims())?);
        }
        *adam = Adam {
            m,
            v,
            ..state.adam.clone()
        };
    }
    write_params(params, &values)
}

/// Restores a trainer (built from the same config) to the checkpoint in `dir`, returning the
/// checkpoint's state (its `outer` field is for the hook). The envs are restored separately,
/// by [`restore_collection`], once the caller has checked the config.
pub fn restore(trainer: &mut Trainer, dir: &Path) -> Result<CheckpointState> {
    let state = read_state(dir)?;
    let mut adam = trainer.adam.clone();
    load_tensors(dir, &state, &trainer.policy.net, Some(&mut adam))?;
    trainer.adam = adam;
    trainer.params = host_params(trainer.policy.net.params())?;
    trainer.policy.obs_rms = state.obs_rms.clone();
    trainer.reward_scaler = state.reward_scaler.clone();
    trainer.action_rng = state.action_rng.clone();
    trainer.shuffle_rng = state.shuffle_rng.clone();
    trainer.iteration = state.iteration;
    trainer.global_step = state.global_step;
    Ok(state)
}

/// Restores the envs mid-episode from the checkpoint's [`CollectionState`]; returns false (the
/// trainer then resets its envs before the next rollout) when the checkpoint has none.
pub fn restore_collection(
    trainer: &mut Trainer,
    dir: &Path,
    state: &CheckpointState,
) -> Result<bool> {
    let Some(file) = &state.collection_file else {
        return Ok(false);
    };
    let path = dir.join(file);
    let err = |message: String| AgentError::Checkpoint {
        path: path.clone(),
        message,
    };
    let text = fs::read(&path).map_err(|e| AgentError::io(&path, e))?;
    let collection: CollectionState =
        serde_json::from_slice(&text).map_err(|e| err(e.to_string()))?;
    trainer
        .restore_collection_state(&collection)
        .map_err(|e| err(e.to_string()))?;
    Ok(true)
}
