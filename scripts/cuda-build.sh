#!/usr/bin/env bash
# Builds carrot with CUDA (`--features cuda`) on any Linux x86_64 machine, GPU or not.
#
# Usage: scripts/cuda-build.sh [TOOLKIT_DIR]
#   TOOLKIT_DIR  where a CUDA 13.0 toolkit is laid out (default: ~/.cache/cuda13); kept and
#                reused by later runs.
#
# 1. Installs NVIDIA's CUDA 13.0 wheels from PyPI (nvcc, nvvm, headers, cudart, cuBLAS,
#    cuRAND, NVRTC) into a venv under TOOLKIT_DIR and arranges them as a toolkit tree
#    (bin/, include/, nvvm/, lib64/). No system CUDA and no root needed.
# 2. Compiles a stub libcuda.so for the linker: candle links the driver library dynamically,
#    and only a machine with an NVIDIA driver has the real one.
# 3. Runs `cargo build --release --features carrot-experiments/cuda` into target-cuda/, so the
#    CPU build in target/ is never touched, and prints where the binary is and how long it took.
#
# Needs python3 (with venv), gcc, cargo and network access to PyPI and crates.io. About 11
# minutes clean on 2 cores. The binary targets sm_90 (H100/H200; set CUDA_COMPUTE_CAP to
# change it) and needs a driver that reads PTX ISA 9.0 (>= 580) and the CUDA 13 runtime
# libraries on LD_LIBRARY_PATH. Versions: nvcc 13.0 (cudarc 0.19 rejects 13.5). Then run
# scripts/gpu-check.sh on the GPU machine.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
[ $# -le 1 ] || { usage >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
toolkit=${1:-$HOME/.cache/cuda13}
mkdir -p "$toolkit"
toolkit=$(cd "$toolkit" && pwd)
started=$(date +%s)

for tool in python3 gcc cargo; do
  command -v "$tool" >/dev/null || { echo "cuda-build: $tool not found on PATH" >&2; exit 1; }
done

# --- 1. The toolkit from wheels --------------------------------------------------------------
wheels=(
  nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
  nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cublas==13.0.2.14
  nvidia-curand==10.4.0.35 nvidia-cuda-nvrtc==13.0.88
)
venv=$toolkit/venv
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
echo "cuda-build: installing the CUDA 13.0 wheels into $venv"
"$venv/bin/pip" install --quiet "${wheels[@]}"
# The cu13 wheels share one prefix: site-packages/nvidia/cu13/{bin,include,lib,nvvm}.
shopt -s nullglob
prefixes=("$venv"/lib/python3*/site-packages/nvidia/cu13)
[ ${#prefixes[@]} -eq 1 ] || { echo "cuda-build: no single nvidia/cu13 prefix in $venv" >&2; exit 1; }
cu13=${prefixes[0]}
for part in bin include nvvm; do ln -sfn "$cu13/$part" "$toolkit/$part"; done
mkdir -p "$toolkit/lib64/stubs"
for lib in "$cu13"/lib/*.so.* "$cu13"/lib/*.a; do ln -sf "$lib" "$toolkit/lib64/"; done
# Unversioned names for the linker (-lcublas and so on).
for pair in cublas:13 cublasLt:13 cudart:13 nvrtc:13 curand:10; do
  ln -sf "lib${pair%%:*}.so.${pair##*:}" "$toolkit/lib64/lib${pair%%:*}.so"
done

# --- 2. A link-time stand-in for the driver library ------------------------------------------
# Every driver entry point cudarc declares becomes a function that returns an error code; on the
# GPU machine the real libcuda.so.1 (same soname) is loaded instead.
cd "$repo"
cargo fetch --quiet
registry=${CARGO_HOME:-$HOME/.cargo}/registry
cudarc_dirs=("$registry"/src/*/cudarc-0.19.*)
if [ ${#cudarc_dirs[@]} -eq 0 ]; then
  crates=("$registry"/cache/*/cudarc-0.19.*.crate)
  [ ${#crates[@]} -gt 0 ] || { echo "cuda-build: cargo fetch did not bring cudarc 0.19" >&2; exit 1; }
  mkdir -p "$toolkit/cudarc-src"
  tar -xzf "${crates[-1]}" -C "$toolkit/cudarc-src"
  cudarc_dirs=("$toolkit"/cudarc-src/cudarc-0.19.*)
fi
cudarc=${cudarc_dirs[-1]}
stub=$toolkit/lib64/stubs/libcuda_stub.c
grep -ohE '^[[:space:]]+fn cu[A-Za-z0-9_]+\(' "$cudarc"/src/driver/sys/*.rs |
  sed -E 's/^[[:space:]]+fn (cu[A-Za-z0-9_]+)\(/\1/' | sort -u |
  while read -r symbol; do printf 'int %s(void) { return 999; }\n' "$symbol"; done >"$stub"
[ -s "$stub" ] || { echo "cuda-build: no driver symbols found in $cudarc" >&2; exit 1; }
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$toolkit/lib64/stubs/libcuda.so" "$stub"

# --- 3. The build ----------------------------------------------------------------------------
export CUDA_HOME=$toolkit CUDA_ROOT=$toolkit CUDA_PATH=$toolkit CUDA_TOOLKIT_ROOT_DIR=$toolkit
export PATH=$toolkit/bin:$PATH
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} CUDARC_CUDA_VERSION=13000
export CUDAFORGE_THREADS=${CUDAFORGE_THREADS:-$(nproc)}
export LIBRARY_PATH=$toolkit/lib64:$toolkit/lib64/stubs${LIBRARY_PATH:+:$LIBRARY_PATH}
# The same settings for a manual `cargo build` later.
{
  echo "# source this, then: cargo build --release --features carrot-experiments/cuda"
  echo "export CUDA_HOME=$toolkit CUDA_ROOT=$toolkit CUDA_PATH=$toolkit CUDA_TOOLKIT_ROOT_DIR=$toolkit"
  echo "export PATH=$toolkit/bin:\$PATH CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP CUDARC_CUDA_VERSION=13000"
  echo "export LIBRARY_PATH=$toolkit/lib64:$toolkit/lib64/stubs\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
} >"$toolkit/env.sh"
echo "cuda-build: $(nvcc --version | tail -1)"
echo "cuda-build: cargo build --release --features carrot-experiments/cuda (target-cuda/)"
build_started=$(date +%s)
CARGO_TARGET_DIR=$repo/target-cuda cargo build --release --features carrot-experiments/cuda
now=$(date +%s)

binary=$repo/target-cuda/release/carrot
echo "cuda-build: built $binary"
echo "cuda-build: cargo build took $(((now - build_started) / 60)) min $(((now - build_started) % 60)) s" \
  "($(((now - started) / 60)) min $(((now - started) % 60)) s with the toolkit)"
echo "cuda-build: on the GPU machine put the CUDA 13 runtime libraries on LD_LIBRARY_PATH (for"
echo "  instance <site-packages>/nvidia/cu13/lib of the same wheels), check that"
echo "  'ldd $binary | grep \"not found\"' prints nothing, then run scripts/gpu-check.sh."
