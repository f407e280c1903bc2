#!/usr/bin/env bash
# benches/compare.sh: carrot and each installed peer back to back on this machine, then one
# markdown table of ratios (benches/compare_table.py). See benches/peers/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: benches/compare.sh [--quick] [--only envs,control,learner,ppo,driving] [--carrot PATH]
                          [--out DIR] [--repeats N] [--threads N]
       benches/compare.sh --install

Runs carrot and each installed peer back to back and prints one table of ratios:
  envs     carrot bench envs --env cartpole   vs Gymnasium SyncVectorEnv and EnvPool
  control  carrot bench envs --env pendulum,acrobot,mountain_car
                                              vs EnvPool (benches/peers/envpool_control.py)
  learner  carrot bench learner (3 heads)     vs benches/peers/torch_learner.py
  ppo      carrot bench learner --cartpole    vs benches/peers/sb3_cartpole.py
  driving  carrot bench driving               vs benches/peers/highway_env.py

  --quick        tiny durations: checks that the script works, measures nothing
  --only LIST    comma-separated sections to run (default: all five)
  --carrot PATH  carrot binary (default target/release/carrot, built if missing)
  --out DIR      results folder (default benches/results): DIR/compare-DATE.md (DATE-HHMM if
                 that exists) and the raw files in DIR/compare-DATE/
  --repeats N    run every pair N times, alternating sides; cells are median (min-max)
  --threads N    threads of the learner and PPO sides, and the top envs thread count (default 2)
  --install      create the peers' venv and pip install the peers, then exit

The peers run from the venv in $CARROT_PEERS_VENV (default ~/.cache/carrot-peers/venv);
peers that are not installed there are skipped with the pip command that installs them.
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${CARROT_PEERS_VENV:-$HOME/.cache/carrot-peers/venv}
py=$venv/bin/python
torch_index=https://download.pytorch.org/whl/cpu
quick=0 only=envs,control,learner,ppo,driving carrot="" out=$repo/benches/results repeats=1 threads=2

die() { echo "compare.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) quick=1 ;;
        --only) only=${2:?--only needs a list}; shift ;;
        --carrot) carrot=${2:?--carrot needs a path}; shift ;;
        --out) out=${2:?--out needs a folder}; shift ;;
        --repeats) repeats=${2:?--repeats needs a number}; shift ;;
        --threads) threads=${2:?--threads needs a number}; shift ;;
        --install) install=1 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done
[[ $repeats =~ ^[1-9][0-9]*$ ]] || die "--repeats must be a positive integer, not '$repeats'"
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer, not '$threads'"
for section in ${only//,/ }; do
    case $section in
        envs | control | learner | ppo | driving) ;;
        *) die "--only takes envs, control, learner, ppo and driving, not '$section'" ;;
    esac
done

# pip install commands, one per peer, as printed when a peer is missing.
pip_cmd() {
    case $1 in
        torch) echo "$venv/bin/pip install torch --index-url $torch_index" ;;
        sb3) echo "$venv/bin/pip install stable-baselines3" ;;
        *) echo "$venv/bin/pip install $1" ;;
    esac
}

install_peers() {
    [[ -x $py ]] || python3 -m venv "$venv" || die "cannot create the venv $venv"
    "$venv/bin/pip" install --upgrade pip
    local failed=()
    # torch first, from the CPU index, so that stable-baselines3 does not pull the CUDA build;
    # if that index is unreachable, PyPI's torch works too (a download of several GB).
    if ! "$venv/bin/pip" install torch --index-url "$torch_index"; then
        echo "compare.sh: the CPU wheel index failed; installing torch from PyPI (CUDA build)"
        "$venv/bin/pip" install torch || failed+=(torch)
    fi
    for package in gymnasium envpool stable-baselines3 highway-env; do
        "$venv/bin/pip" install "$package" || failed+=("$package")
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "compare.sh: could not install: ${failed[*]} (compare.sh skips those peers)"
    fi
    echo "peers installed in $venv"
}

if [[ ${install:-0} == 1 ]]; then
    install_peers
    exit 0
fi

if [[ -z $carrot ]]; then
    carrot=$repo/target/release/carrot
    if [[ ! -x $carrot ]]; then
        echo "compare.sh: $carrot missing: cargo build --release"
        (cd "$repo" && cargo build --release)
    fi
fi
[[ -x $carrot ]] || die "no carrot binary at $carrot"

date=$(date -u +%Y-%m-%d)
# A second run on one day gets the time too, so a committed table is never overwritten.
if [[ -e $out/compare-$date.md ]]; then
    date=$(date -u +%Y-%m-%d-%H%M)
fi
raw=$out/compare-$date
mkdir -p "$raw"
rm -f "$raw"/*.json "$raw"/*.txt "$raw"/*.log

# Durations: --quick only checks that every side runs and writes its file.
if [[ $quick == 1 ]]; then
    env_seconds=0.05 env_counts=(8 64) hiddens=64 learner_parts=(4096:1)
    ppo_steps=4096 drive_steps=300 drive_seconds=1 vehicles=(10)
else
    # Learner cells as batches:epochs parts: a 4096-row epoch takes 1.5-25 ms, so 5 epochs of it
    # measured under 0.13 s and its ratio moved by about 0.1 between runs; 40 measure 0.06-1 s.
    env_seconds=1.0 env_counts=(8 64 512) hiddens=64,256 learner_parts=(4096:40 32768,65536:5)
    ppo_steps=500000 drive_steps=20000 drive_seconds=10 vehicles=(10 30)
fi
env_threads=(1) && [[ $threads -gt 1 ]] && env_threads+=("$threads")

# True when the peers' python imports every module given.
have() {
    [[ -x $py ]] || return 1
    local module
    for module in "$@"; do "$py" -c "import $module" 2>/dev/null || return 1; done
}

# Records and prints why a peer has no results.
skip() {
    local peer=$1 package=$2
    echo "not installed: $(pip_cmd "$package")" >"$raw/status-$peer.txt"
    echo "skipped $peer: not installed; install with benches/compare.sh --install, or:"
    echo "    $(pip_cmd "$package")"
}

# Runs one side, its output in RAW/NAME.log; a failure is recorded and the comparison goes on.
run() {
    local name=$1 peer=$2
    shift 2
    echo "== $name: $*"
    local rc=0
    "$@" >"$raw/$name.log" 2>&1 || rc=$?
    if [[ $rc != 0 ]]; then
        echo "   failed (exit $rc), see $raw/$name.log"
        echo "failed (exit $rc), see $name.log" >"$raw/status-$peer.txt"
    fi
}

list() { local IFS=,; echo "$*"; }

section_envs() {
    local r
    have gymnasium || skip gymnasium gymnasium
    have gymnasium envpool || skip envpool envpool
    for ((r = 1; r <= repeats; r++)); do
        run "carrot-envs-r$r" carrot "$carrot" bench envs --env cartpole \
            --num-envs "$(list "${env_counts[@]}")" --threads "$(list "${env_threads[@]}")" \
            --seconds "$env_seconds" --json "$raw/carrot-envs-r$r.json"
        if have gymnasium; then
            run "peer-envs-r$r" gymnasium env OMP_NUM_THREADS=1 "$py" \
                "$repo/benches/peers/gym_envpool_cartpole.py" --num-envs "${env_counts[@]}" \
                --threads "${env_threads[@]}" --seconds "$env_seconds" --episodes 0 \
                --json "$raw/peer-envs-r$r.json"
        fi
    done
}

section_control() {
    local r
    have envpool || skip envpool-control envpool
    for ((r = 1; r <= repeats; r++)); do
        run "carrot-control-r$r" carrot "$carrot" bench envs --env pendulum,acrobot,mountain_car \
            --num-envs "$(list "${env_counts[@]}")" --threads "$(list "${env_threads[@]}")" \
            --seconds "$env_seconds" --json "$raw/carrot-control-r$r.json"
        if have envpool; then
            run "peer-control-r$r" envpool-control env OMP_NUM_THREADS=1 "$py" \
                "$repo/benches/peers/envpool_control.py" --num-envs "${env_counts[@]}" \
                --threads "${env_threads[@]}" --seconds "$env_seconds" \
                --json "$raw/peer-control-r$r.json"
        fi
    done
}

section_learner() {
    local head r part batches epochs
    have torch || skip torch torch
    for head in gaussian beta categorical; do
        for ((r = 1; r <= repeats; r++)); do
            for part in "${!learner_parts[@]}"; do
                batches=${learner_parts[$part]%%:*} epochs=${learner_parts[$part]##*:}
                run "carrot-learner-$head-r$r-p$part" carrot env RAYON_NUM_THREADS="$threads" \
                    "$carrot" bench learner --head "$head" --batch "$batches" \
                    --hidden "$hiddens" --epochs "$epochs" --threads "$threads" \
                    --json "$raw/carrot-learner-$head-r$r-p$part.json"
                if have torch; then
                    run "peer-learner-$head-r$r-p$part" torch \
                        env OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
                        "$py" "$repo/benches/peers/torch_learner.py" --head "$head" \
                        --batch "$batches" --hidden "$hiddens" --epochs "$epochs" \
                        --threads "$threads" --json "$raw/peer-learner-$head-r$r-p$part.json"
                fi
            done
        done
    done
}

section_ppo() {
    local r
    have torch stable_baselines3 gymnasium || skip sb3 sb3
    for ((r = 1; r <= repeats; r++)); do
        # The smallest synthetic learner run: `bench learner` has no cartpole-only mode.
        run "carrot-ppo-r$r" carrot env RAYON_NUM_THREADS="$threads" "$carrot" bench learner \
            --batch 256 --hidden 8 --epochs 1 --threads "$threads" --cartpole \
            --cartpole-steps "$ppo_steps" --json "$raw/carrot-ppo-r$r.json"
        if have torch stable_baselines3 gymnasium; then
            run "peer-ppo-r$r" sb3 env OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
                "$py" "$repo/benches/peers/sb3_cartpole.py" --threads "$threads" \
                --steps "$ppo_steps" --seed 1 --json "$raw/peer-ppo-r$r.json"
        fi
    done
}

section_driving() {
    local r
    have gymnasium highway_env || skip highway-env highway-env
    for ((r = 1; r <= repeats; r++)); do
        run "carrot-driving-r$r" carrot env RAYON_NUM_THREADS=1 "$carrot" bench driving \
            --driver random --maps highway --vehicles "$(list "${vehicles[@]}")" \
            --steps "$drive_steps" --json "$raw/carrot-driving-r$r.json"
        if have gymnasium highway_env; then
            run "peer-driving-r$r" highway-env env OMP_NUM_THREADS=1 "$py" \
                "$repo/benches/peers/highway_env.py" --vehicles "${vehicles[@]}" \
                --seconds "$drive_seconds" --json "$raw/peer-driving-r$r.json"
        fi
    done
}

[[ -x $py ]] || echo "no peers' venv at $venv: every peer is skipped (benches/compare.sh --install)"
echo "carrot: $carrot; raw results in $raw"
# The load before and after, for the table header: a busy machine is no measurement.
read -r load_start _ </proc/loadavg
for section in ${only//,/ }; do
    "section_$section"
done
read -r load_end _ </proc/loadavg

table_args=(--raw "$raw" --out "$out/compare-$date.md" --carrot "$carrot"
    --threads "$threads" --repeats "$repeats" --date "$date" --load "$load_start,$load_end"
    --learner-parts "${learner_parts[*]}")
[[ $quick == 1 ]] && table_args+=(--quick)
echo
python3 "$repo/benches/compare_table.py" "${table_args[@]}"
