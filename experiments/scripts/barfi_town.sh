#!/usr/bin/env bash
# Runs BARFI setting B4 (issue 9) on 2 cores: the town with CaRL as primary and Roach's terms as
# auxiliaries, methods {carl, naive, pbrs, fo, neumann} x 5 seeds, seed by seed so that every
# finished prefix is a matched set of methods. Two runs at a time, one thread each. Runs land
# in experiments/results/bilevel/barfi/town/ inside the repository, so finished runs and the
# checkpoints of unfinished ones can be committed and resumed on another machine. Rerun the
# same command to resume; completed runs are skipped.
#   experiments/scripts/barfi_town.sh          # train (resumes)
#   experiments/scripts/barfi_town.sh eval     # held-out driving score, report, learned weights
#   experiments/scripts/barfi_town.sh nobias   # ablation: BARFI with the bias frozen (train, eval)
# CARROT=path/to/carrot picks the binary that trains and drives the routes (default
# target/release/carrot); CARROT_TOOLS the one for `carrot study contrast`, which only reads CSVs.
set -euo pipefail
cd "$(dirname "$0")/../.."
carrot=${CARROT:-target/release/carrot}
sweep=experiments/configs/bilevel/barfi/town_sweep.toml
out=experiments/results/bilevel/barfi/town
if [[ ${1:-train} == nobias ]]; then
    ablation=experiments/configs/bilevel/barfi/town_sweep_nobias.toml
    # index = method * 5 + (seed - 1); methods fo, neumann
    printf '%s\n' 0 5 1 6 2 7 3 8 4 9 | RAYON_NUM_THREADS=1 xargs -P 2 -I{} \
        "$carrot" sweep run "$ablation" --out "$out-nobias" --index {}
    "$carrot" study eval "$out-nobias" --routes 100 --out "$out-nobias/held_out"
    "$carrot" report "$out-nobias" --out "$out-nobias/report"
    python3 experiments/scripts/barfi_phi_summary.py "$out-nobias" > "$out-nobias/report/phi_summary.txt"
    python3 experiments/scripts/barfi_terminations.py "$out-nobias" > "$out-nobias/report/terminations.md"
    contrasts=()
    for pair in "fo_nobias - carl" "neumann_nobias - carl" "fo_nobias - fo" \
        "neumann_nobias - neumann"; do
        contrasts+=(--contrast "$pair")
    done
    "${CARROT_TOOLS:-target/release/carrot}" study contrast "$out/held_out/runs.csv" \
        "$out-nobias/held_out/runs.csv" "${contrasts[@]}" --out "$out-nobias/held_out/contrasts.md"
    exit 0
fi
if [[ ${1:-train} == eval ]]; then
    "$carrot" study eval "$out" --routes 100 --out "$out/held_out"
    "$carrot" report "$out" --out "$out/report"
    for aux in speed position rotation action bias; do
        "$carrot" report "$out" --metric "outer/phi/$aux" --out "$out/report/phi_$aux"
    done
    "$carrot" report "$out" --metric outer/cos_fo_neumann --out "$out/report/cos_fo_neumann"
    python3 experiments/scripts/barfi_phi_summary.py "$out" > "$out/report/phi_summary.txt"
    python3 experiments/scripts/barfi_terminations.py "$out" > "$out/report/terminations.md"
    contrasts=()
    for pair in "neumann - carl" "neumann - naive" "fo - carl" "fo - naive" "naive - carl" \
        "pbrs - carl" "neumann - fo"; do
        contrasts+=(--contrast "$pair")
    done
    "${CARROT_TOOLS:-target/release/carrot}" study contrast "$out/held_out/runs.csv" \
        "${contrasts[@]}" --out "$out/held_out/contrasts.md"
    exit 0
fi
# index = method * 5 + (seed - 1); methods in the sweep's order: carl, naive, pbrs, fo, neumann
order=()
for seed in 0 1 2 3 4; do
    for method in 0 1 2 3 4; do
        order+=($((method * 5 + seed)))
    done
done
printf '%s\n' "${order[@]}" | RAYON_NUM_THREADS=1 xargs -P 2 -I{} \
    "$carrot" sweep run "$sweep" --out "$out" --index {}
