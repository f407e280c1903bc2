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
tools=${CARROT_TOOLS:-target/release/carrot}
# Held-out DS, training report, learned weights and how the training episodes end.
evaluate() {  # DIR
    "$carrot" study eval "$1" --routes 100 --out "$1/held_out"
    "$carrot" report "$1" --out "$1/report"
    python3 experiments/scripts/barfi_phi_summary.py "$1" > "$1/report/phi_summary.txt"
    python3 experiments/scripts/barfi_terminations.py "$1" > "$1/report/terminations.md"
}
# Welch differences of held-out DS: contrasts OUT RUNS.csv... -- 'A - B'...
contrasts() {
    local out=$1 files=() args=()
    shift
    while [[ $1 != -- ]]; do files+=("$1"); shift; done
    shift
    for pair in "$@"; do args+=(--contrast "$pair"); done
    "$tools" study contrast "${files[@]}" "${args[@]}" --out "$out"
}
if [[ ${1:-train} == nobias ]]; then
    ablation=experiments/configs/bilevel/barfi/town_sweep_nobias.toml
    # index = method * 5 + (seed - 1); methods fo, neumann
    printf '%s\n' 0 5 1 6 2 7 3 8 4 9 | RAYON_NUM_THREADS=1 xargs -P 2 -I{} \
        "$carrot" sweep run "$ablation" --out "$out-nobias" --index {}
    evaluate "$out-nobias"
    contrasts "$out-nobias/held_out/contrasts.md" "$out/held_out/runs.csv" \
        "$out-nobias/held_out/runs.csv" -- "fo_nobias - carl" "neumann_nobias - carl" \
        "fo_nobias - fo" "neumann_nobias - neumann"
    exit 0
fi
if [[ ${1:-train} == eval ]]; then
    evaluate "$out"
    for metric in phi/speed phi/position phi/rotation phi/action phi/bias cos_fo_neumann; do
        "$carrot" report "$out" --metric "outer/$metric" --out "$out/report/${metric/\//_}"
    done
    contrasts "$out/held_out/contrasts.md" "$out/held_out/runs.csv" -- "neumann - carl" \
        "neumann - naive" "fo - carl" "fo - naive" "naive - carl" "pbrs - carl" "neumann - fo"
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
