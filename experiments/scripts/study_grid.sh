#!/usr/bin/env bash
# Runs the CaRL study's committed grid (issue 11) on 2 cores in a fixed order: matched
# (carl, roach) pairs, cell by cell from the smallest mini-batch up, then control C. Two runs
# at a time, one thread each. Runs land in experiments/results/carl_study_v2/grid/ and
# .../control/, inside the repository, so that finished runs and the checkpoints of unfinished
# ones can be committed and a later session on another machine resumes them (runs/ is not
# kept between machines). Rerun the same command to resume; completed runs are skipped.
# The committed runs were trained by a build with `--features gemm-avx512` on an AVX-512 CPU
# (revision ae7f6a7, where those kernels were the default): resume them with such a build
# (CARROT=path/to/it) so that every run of the grid uses the same kernels.
#   experiments/scripts/study_grid.sh            # grid, then control C
#   experiments/scripts/study_grid.sh control    # control C only
#   experiments/scripts/study_grid.sh eval       # held-out evaluation and the analysis
# `eval` drives the held-out routes with $CARROT (the kernels the runs trained with) and runs
# `carrot study control`, which only reads CSVs, with $CARROT_TOOLS (default: this build).
set -euo pipefail
cd "$(dirname "$0")/../.."
carrot=${CARROT:-target/release/carrot}
results=experiments/results/carl_study_v2
grid=(0 20 1 21 2 22 3 23 4 24 5 25 6 26 7 27 8 28 9 29
      10 30 11 31 12 32 13 33 14 34 15 35 16 36 17 37 18 38 19 39)
run_queue() {  # SWEEP OUT INDEX...
    local sweep=$1 out=$2
    shift 2
    printf '%s\n' "$@" | RAYON_NUM_THREADS=1 xargs -P 2 -I{} \
        "$carrot" sweep run "$sweep" --out "$out" --index {}
}
if [[ ${1:-all} == eval ]]; then
    "$carrot" study eval "$results/grid" --routes 100 --out "$results"
    "$carrot" study eval "$results/control" --kept --routes 100 --out "$results/control"
    "${CARROT_TOOLS:-target/release/carrot}" study control --grid "$results/runs.csv" \
        --control "$results/control/kept/runs.csv" --grid-updates 2000 \
        --control-minibatch 256 --out "$results/control"
    exit 0
fi
if [[ ${1:-all} != control ]]; then
    run_queue experiments/configs/study/town_scaling.toml "$results/grid" "${grid[@]}"
fi
control=(0 5 1 6 2 7 3 8 4 9)
run_queue experiments/configs/study/town_scaling_control.toml "$results/control" "${control[@]}"
