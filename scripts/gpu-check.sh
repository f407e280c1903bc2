#!/usr/bin/env bash
# Checks a CUDA build of carrot on a machine with an NVIDIA GPU, in one short run.
#
# Usage: scripts/gpu-check.sh [--cpu-only] [--small] [BINARY] [OUT_DIR]
#   BINARY      carrot built by scripts/cuda-build.sh (default: target-cuda/release/carrot)
#   OUT_DIR     where every output goes (default: gpu-check-out/)
#   --cpu-only  no GPU: parity compares the portable op paths (the GPU's code, run on the CPU),
#               and the learner and training runs are on the CPU only. Tests this script with
#               a CPU-only build (BINARY target/release/carrot).
#   --small     small batches and a short training run (for testing the script itself).
#
# Steps, all recorded under OUT_DIR (gpu-check.log holds the whole console output):
#   1. nvidia-smi's GPU line (gpu.txt);
#   2. `carrot bench parity --device cuda` at hidden 64 and 256: losses and gradients of every
#      policy head on the GPU against the CPU custom ops, within the tolerances its --help
#      states (parity-h*.json);
#   3. `carrot bench learner` on cuda and on cpu at batch {4096, 65536} x hidden {64, 256, 1024}
#      (learner-cuda.json, learner-cpu.json);
#   4. a short cartpole training run on cuda and its CPU twin, with the steps/s of both
#      (train-cuda/, train-cpu/).
# Exits non-zero when parity fails (after the other steps) or when any step errors.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

cpu_only=false
small=false
positional=()
for arg in "$@"; do
  case "$arg" in
    --cpu-only) cpu_only=true ;;
    --small) small=true ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "gpu-check: unknown option $arg" >&2; usage >&2; exit 2 ;;
    *) positional+=("$arg") ;;
  esac
done
[ ${#positional[@]} -le 2 ] || { usage >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
binary=$(realpath -m "${positional[0]:-$repo/target-cuda/release/carrot}")
out=$(realpath -m "${positional[1]:-gpu-check-out}")
[ -x "$binary" ] || { echo "gpu-check: no carrot binary at $binary (see scripts/cuda-build.sh)" >&2; exit 1; }
mkdir -p "$out"
exec > >(tee "$out/gpu-check.log") 2>&1
cd "$repo"

if $cpu_only; then
  parity_device=portable
  devices=(cpu)
else
  parity_device=cuda
  devices=(cuda cpu)
fi
if $small; then
  parity_batch=256 learner_batches=256,1024 learner_hidden=16,32 learner_epochs=1
  train_steps=4096
else
  parity_batch=4096 learner_batches=4096,65536 learner_hidden=64,256,1024 learner_epochs=3
  train_steps=200000
fi

echo "== gpu-check: $binary -> $out ($(date -u +%FT%TZ))"
echo "== 1. GPU"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader |
    tee "$out/gpu.txt"
elif $cpu_only; then
  echo "no nvidia-smi (--cpu-only)" | tee "$out/gpu.txt"
else
  echo "gpu-check: nvidia-smi not found; on a machine without a GPU use --cpu-only" >&2
  exit 1
fi

echo "== 2. parity ($parity_device against the CPU custom ops)"
parity_failed=()
for hidden in 64 256; do
  if ! "$binary" bench parity --device "$parity_device" --hidden "$hidden" \
    --batch "$parity_batch" --json "$out/parity-h$hidden.json"; then
    parity_failed+=("hidden $hidden")
  fi
done

echo "== 3. learner benchmark"
for device in "${devices[@]}"; do
  "$binary" bench learner --device "$device" --batch "$learner_batches" \
    --hidden "$learner_hidden" --epochs "$learner_epochs" --json "$out/learner-$device.json"
done

echo "== 4. training: cartpole, $train_steps env steps"
declare -A steps_per_second
for device in "${devices[@]}"; do
  run_dir=$out/train-$device
  rm -rf "$run_dir"
  start=$(date +%s.%N)
  "$binary" train --config experiments/configs/cartpole.toml --device "$device" \
    --set "ppo.total_timesteps=$train_steps" --set run.eval_episodes=2 \
    --run-dir "$run_dir" >"$out/train-$device.log"
  end=$(date +%s.%N)
  # Wall clock of the whole command (start-up, checkpoints and evaluation included).
  steps_per_second[$device]=$(awk -v n="$train_steps" -v a="$start" -v b="$end" \
    'BEGIN { printf "%.0f", n / (b - a) }')
  echo "train on $device: ${steps_per_second[$device]} env steps/s (wall clock, $run_dir)"
done

echo "== summary"
for device in "${devices[@]}"; do
  echo "training steps/s on $device: ${steps_per_second[$device]}"
done
if [ ${#parity_failed[@]} -gt 0 ]; then
  echo "gpu-check: parity FAILED (${parity_failed[*]}); see $out/parity-h*.json" >&2
  exit 1
fi
echo "gpu-check: parity passed; all outputs in $out"
