#!/usr/bin/env bash
# benches/ab.sh: two carrot binaries on one `carrot bench envs` measurement, alternating
# A, B, A, B, ... so that load that comes and goes touches both alike; prints each cell's
# median (min-max) per binary and the ratio of the medians.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: benches/ab.sh [--rounds K] BINARY_A BINARY_B -- BENCH_ENVS_ARGS...

Runs `BINARY bench envs BENCH_ENVS_ARGS --json ...` K times per binary (default 5), A and B
alternating, then prints per cell the median (min-max) env steps per CPU-second of each
binary, B's median over A's, and the paired view: the median (min-max) of each round's B/A
(A and B of a round ran seconds apart, so load that drifts over minutes cancels) and in how
many rounds B was faster, with the two-sided sign-test p-value of that count. Use it to check a speed change: build the old revision's
binary aside (cp target/release/carrot /tmp/carrot-old), rebuild, then
  benches/ab.sh /tmp/carrot-old target/release/carrot -- --env driving --vehicles 10 \
      --num-envs 64,128 --threads 1 --seconds 1
Needs python3 for the summary.
EOF
}

rounds=5
while [[ $# -gt 0 ]]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --rounds) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; rounds=$2; shift 2 ;;
        *) break ;;
    esac
done
[[ $# -ge 3 && $3 == -- ]] || { usage >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: --rounds takes a positive integer, not '$rounds'" >&2; exit 2; }
a=$1 b=$2
shift 3
for bin in "$a" "$b"; do
    [[ -x $bin ]] || { echo "ab.sh: $bin is not an executable" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((r = 1; r <= rounds; r++)); do
    for side in a b; do
        bin=$a
        [[ $side == b ]] && bin=$b
        "$bin" bench envs "$@" --json "$tmp/$side-$r.json" >/dev/null
    done
    echo "round $r of $rounds done" >&2
done

python3 - "$tmp" "$rounds" "$a" "$b" <<'EOF'
import json, math, statistics, sys
tmp, rounds, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def cells(side):
    out = {}
    for r in range(1, rounds + 1):
        for row in json.load(open(f"{tmp}/{side}-{r}.json")):
            key = (row["env"], row["num_envs"], row["threads"])
            rate = row["steps_per_cpu_second"] or row["steps_per_second"]
            out.setdefault(key, []).append(rate)
    return out
def sign_test(wins, n):
    """Two-sided p-value of `wins` of `n` rounds under a fair coin."""
    tail = min(wins, n - wins)
    return min(1.0, 2 * sum(math.comb(n, k) for k in range(tail + 1)) / 2**n)
ca, cb = cells("a"), cells("b")
fmt = lambda xs: f"{statistics.median(xs):,.0f} ({min(xs):,.0f}-{max(xs):,.0f})"
print(f"env steps per CPU-second, median (min-max) of {rounds} alternating rounds;")
print("paired: median (min-max) of each round's B/A, rounds B was faster, sign-test p")
print(f"A = {a}\nB = {b}")
print(f"{'env':<22} {'N':>5} {'threads':>7} {'A':>28} {'B':>28} {'B/A':>7} {'paired B/A':>21} {'B faster':>8} {'p':>6}")
for key in ca:
    xa, xb = ca[key], cb[key]
    ratio = statistics.median(xb) / statistics.median(xa)
    paired = [y / x for x, y in zip(xa, xb)]
    wins = sum(r > 1.0 for r in paired)
    pf = f"{statistics.median(paired):.3f} ({min(paired):.2f}-{max(paired):.2f})"
    won = f"{wins}/{len(paired)}"
    print(f"{key[0]:<22} {key[1]:>5} {key[2]:>7} {fmt(xa):>28} {fmt(xb):>28} {ratio:>7.3f} {pf:>21} {won:>8} {sign_test(wins, len(paired)):>6.3f}")
EOF
