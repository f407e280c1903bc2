#!/usr/bin/env bash
# Installs what the Slurm integration test (experiments/tests/slurm.rs) runs: Debian's
# slurm-wlm (slurmctld, slurmd, sbatch, ...) and munge. Quick when they are already there.
# The test starts its own private daemons; nothing here starts or enables a service.
set -euo pipefail

needed=(munged mungekey slurmctld slurmd sbatch squeue sinfo)
missing=()
for binary in "${needed[@]}"; do
    if ! command -v "$binary" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$binary" ]; then
        missing+=("$binary")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "slurm-wlm and munge are installed"
    exit 0
fi

echo "installing slurm-wlm and munge (missing: ${missing[*]})"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends slurm-wlm munge
