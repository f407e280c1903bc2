#!/usr/bin/env python3
"""One markdown table of carrot against its peers, from the raw files of `benches/compare.sh`.

Reads the raw folder that compare.sh fills (one file per side, section and repetition:
`carrot-learner-beta-r1.json`, `peer-envs-r2.json`, ...), and prints

    figure | carrot | peer | ratio

with a header naming the machine, the date, the carrot revision, the thread counts and the peer
versions, and a footer on how the figures were measured. Every ratio reads "> 1: carrot ahead":
carrot / peer for throughputs, peer / carrot for times and step counts. With several repetitions
a cell is the median and its min-max; the ratio is of the medians. A peer without results shows
the line compare.sh left in `status-PEER.txt` ("not installed: pip install ...", "failed").
Standard library only; the table is also written to `--out` atomically (temp + rename).
"""

import argparse
import datetime
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HEADS = ("gaussian", "beta", "categorical")
# One `carrot bench driving` step is one 0.1 s control step (DrivingConfig); its JSON does not
# say so, so the simulated-seconds rate is derived here.
CARROT_DRIVING_STEP_SECONDS = 0.1
THROUGHPUT, LOWER_IS_BETTER = "throughput", "lower"


def repetitions(raw, pattern):
    """The files of every repetition matching `pattern` (a glob with `*` for the rep number)."""
    return sorted(glob.glob(os.path.join(raw, pattern)))


def load_json(raw, pattern):
    out = []
    for path in repetitions(raw, pattern):
        try:
            with open(path) as f:
                out.append(json.load(f))
        except (OSError, ValueError) as e:
            print(f"compare_table.py: skipping {path}: {e}", file=sys.stderr)
    return out


def parse_carrot_envs(report, env="cartpole"):
    """{(num_envs, threads): (wall rate, cpu rate)} from the `env` cells of `bench envs --json`."""
    return {(row["num_envs"], row["threads"]): (row["steps_per_second"], row["steps_per_cpu_second"])
            for row in report if row["env"] == env}


def status(raw, peer):
    """(peer, the line compare.sh left on why it has no results, or "missing")."""
    path = os.path.join(raw, f"status-{peer}.txt")
    if os.path.exists(path):
        with open(path) as f:
            return peer, f.read().strip()
    return peer, "missing"


class Table:
    """Rows of (figure, carrot values, peer values or a status line, ratio kind)."""

    def __init__(self):
        self.rows = []
        self.versions = {}
        self.not_installed = {}

    def add(self, figure, carrot, peer, kind, peer_status):
        if not peer:
            name, line = peer_status
            peer = line
            if line.startswith("not installed"):
                peer = "not installed"
                self.not_installed[name] = line.split(":", 1)[-1].strip()
        self.rows.append((figure, carrot, peer, kind))

    def skipped(self):
        if not self.not_installed:
            return []
        lines = ["", "Not installed, so skipped (install all: `benches/compare.sh --install`):"]
        return lines + [f"- {name}: `{cmd}`" for name, cmd in sorted(self.not_installed.items())]

    def markdown(self):
        lines = ["| figure | carrot | peer | ratio (> 1: carrot ahead) |", "|---|---:|---:|---:|"]
        for figure, carrot, peer, kind in self.rows:
            lines.append(
                f"| {figure} | {cell(carrot)} | {cell(peer)} | {ratio(carrot, peer, kind)} |"
            )
        return lines


def cell(values):
    if isinstance(values, str):
        return values
    if not values:
        return "missing"
    med = statistics.median(values)
    if len(values) == 1:
        return number(med)
    return f"{number(med)} ({number(min(values))}-{number(max(values))})"


def number(x):
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def ratio(carrot, peer, kind):
    if isinstance(carrot, str) or isinstance(peer, str) or not carrot or not peer:
        return "-"
    c, p = statistics.median(carrot), statistics.median(peer)
    if c <= 0 or p <= 0:
        return "-"
    return f"{c / p if kind == THROUGHPUT else p / c:.2f}x"


def values(reports, pick):
    """`pick(report)` over every repetition, dropping the ones without that figure."""
    out = [pick(r) for r in reports]
    return [v for v in out if v is not None]


def envs_rows(table, raw):
    carrot = [parse_carrot_envs(r) for r in load_json(raw, "carrot-envs-r*.json")]
    peer = load_json(raw, "peer-envs-r*.json")
    for r in peer:
        table.versions.update(r.get("versions", {}))
    keys = sorted({k for reps in carrot for k in reps})

    def peer_rate(name, n, threads):
        def pick(report):
            for row in report["rows"]:
                if row["peer"] == name and (row["num_envs"], row["threads"]) == (n, threads):
                    return row["steps_per_second"]
            return None

        return values(peer, pick)

    for n, threads in keys:
        ours = values(carrot, lambda reps: reps.get((n, threads), (None,))[0])
        label = f"CartPole env steps/s, N={n}, {threads} thread{'s' if threads > 1 else ''}"
        if threads == 1:
            gym = peer_rate("gymnasium SyncVectorEnv", n, 1)
            table.add(f"{label}: vs Gymnasium SyncVectorEnv", ours, gym, THROUGHPUT,
                      status(raw, "gymnasium"))
        pool = peer_rate("envpool", n, threads)
        table.add(f"{label}: vs EnvPool", ours, pool, THROUGHPUT, status(raw, "envpool"))


# carrot's control envs beside cartpole -> the names of EnvPool's tasks in the table
CONTROL_TASKS = {"pendulum": "Pendulum-v1", "acrobot": "Acrobot-v1", "mountain_car": "MountainCar-v0"}


def control_rows(table, raw):
    reports = load_json(raw, "carrot-control-r*.json")
    peer = load_json(raw, "peer-control-r*.json")
    for r in peer:
        table.versions.update(r.get("versions", {}))
    for env, task in CONTROL_TASKS.items():
        carrot = [parse_carrot_envs(r, env) for r in reports]
        for n, threads in sorted({k for reps in carrot for k in reps}):
            ours = values(carrot, lambda reps: reps.get((n, threads), (None,))[0])

            def pick(report, env=env, n=n, threads=threads):
                for row in report["rows"]:
                    if (row["env"], row["num_envs"], row["threads"]) == (env, n, threads):
                        return row["steps_per_second"]
                return None

            label = f"{task} env steps/s, N={n}, {threads} thread{'s' if threads > 1 else ''}"
            table.add(f"{label}: vs EnvPool", ours, values(peer, pick), THROUGHPUT,
                      status(raw, "envpool-control"))


def learner_rows(table, raw):
    for head in HEADS:
        carrot = load_json(raw, f"carrot-learner-{head}-r*.json")
        peer = load_json(raw, f"peer-learner-{head}-r*.json")
        for r in peer:
            table.versions.update(r.get("versions", {}))
        keys = sorted({(x["hidden"], x["batch"]) for r in carrot + peer for x in r["learner"]})
        for hidden, batch in keys:
            def pick(report, hidden=hidden, batch=batch):
                for x in report["learner"]:
                    if (x["hidden"], x["batch"]) == (hidden, batch):
                        return x["ms_per_epoch"]
                return None

            figure = f"PPO epoch ms, {head}, batch {batch}, hidden {hidden}: vs PyTorch"
            table.add(figure, values(carrot, pick), values(peer, pick), LOWER_IS_BETTER,
                      status(raw, "torch"))


def ppo_rows(table, raw):
    carrot = [r["cartpole"][0] for r in load_json(raw, "carrot-ppo-r*.json") if r["cartpole"]]
    peer = load_json(raw, "peer-ppo-r*.json")
    for r in peer:
        table.versions.update(r.get("versions", {}))
    if not carrot and not peer:
        return
    peer_status = status(raw, "sb3")
    steps = values(carrot + peer, lambda r: r["env_steps"])
    budget = f"{int(max(steps)):,} steps" if steps else "?"
    for key, name, kind in [
        ("steps_per_second", "env steps/s", THROUGHPUT),
        ("steps_to_475", "env steps to mean return 475", LOWER_IS_BETTER),
        ("final_return_mean", "final mean return (last 20 episodes)", THROUGHPUT),
    ]:
        ours, theirs = values(carrot, lambda r: r[key]), values(peer, lambda r: r[key])
        if key == "steps_to_475":
            # "never" within the budget: say so rather than leave the cell empty.
            ours = ours or ("never" if carrot else ours)
            theirs = theirs or ("never" if peer else theirs)
        table.add(f"PPO CartPole ({budget}), {name}: vs SB3", ours, theirs, kind, peer_status)


def driving_rows(table, raw):
    carrot = load_json(raw, "carrot-driving-r*.json")
    peer = load_json(raw, "peer-driving-r*.json")
    for r in peer:
        table.versions.update(r.get("versions", {}))
    carrot = [[m for m in r if m["map"] == "highway"] for r in carrot]
    vehicles = sorted({m["vehicles"] for r in carrot for m in r})
    vehicles += sorted({int(x["vehicles"]) for r in peer for x in r["rows"]} - set(vehicles))
    peer_status = status(raw, "highway-env")
    for v in vehicles:
        def ours(r, v=v):
            return next((m for m in r if m["vehicles"] == v), None)

        def theirs(r, v=v):
            return next((x for x in r["rows"] if x["vehicles"] == str(v)), None)

        def field(rows, key, scale=1.0):
            return [x[key] * scale for x in rows if x is not None and x.get(key) is not None]

        c = [ours(r) for r in carrot]
        p = [theirs(r) for r in peer]
        label = f"Driving, {v} vehicles"
        table.add(f"{label}, steps/s: vs highway-env", field(c, "steps_per_second"),
                  field(p, "steps_per_second"), THROUGHPUT, peer_status)
        table.add(f"{label}, steps per CPU-s: vs highway-env", field(c, "steps_per_cpu_second"),
                  field(p, "steps_per_cpu_second"), THROUGHPUT, peer_status)
        table.add(f"{label}, simulated s per s: vs highway-env",
                  field(c, "steps_per_second", CARROT_DRIVING_STEP_SECONDS),
                  field(p, "sim_seconds_per_second"), THROUGHPUT, peer_status)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def carrot_revision(binary, repo):
    """The revision the binary was built from (its --version) and the tree's HEAD."""
    built = "unknown"
    try:
        text = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        match = re.search(r"revision ([0-9a-f]{7,40})", text)
        built = match.group(1)[:7] if match else text.strip() or built
    except OSError:
        pass
    head = subprocess.run(["git", "-C", repo, "rev-parse", "--short=7", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    if head and head != built:
        return f"{built} (binary; tree at {head})"
    return built


def header(args, table):
    cores = os.cpu_count()
    peers = ", ".join(f"{k} {v}" for k, v in sorted(table.versions.items())) or "none installed"
    threads = args.threads
    quick = " (--quick: a check of the script, not a measurement)" if args.quick else ""
    revision = carrot_revision(args.carrot, args.repo)
    return [
        f"# carrot vs peers, {args.date}{quick}",
        "",
        f"Machine: {cpu_model()}, {cores} logical cores. carrot {revision}.",
        f"Threads: learner and PPO {threads} on both sides (carrot RAYON_NUM_THREADS and "
        f"--threads; peers torch.set_num_threads and OMP_NUM_THREADS); envs 1 and {threads} "
        f"(rayon pool / EnvPool num_threads; Gymnasium is one thread); driving 1.",
        f"Peers: {peers}.",
    ] + load_line(args.load, cores) + [""]


def load_line(load, cores):
    """The load averages compare.sh saw, with a warning when other work shared the cores."""
    if not load:
        return []
    before, after = (float(x) for x in load.split(","))
    line = f"Load average (1 min) before / after the runs: {before:.2f} / {after:.2f}."
    # Only the load before counts: the 1-minute average after the runs includes the benchmark's
    # own threads, so it is high on a quiet machine too.
    if before > 0.5 * (cores or 1):
        line += (" **Other work was running: these figures are not a measurement** (OpenMP's"
                 " spinning threads, torch's included, slow down most when cores are shared).")
    return [line]


def learner_epochs(parts):
    """compare.sh's `learner_parts` ("4096:40 32768,65536:5") in words."""
    if not parts:
        return "the epochs compare.sh timed"
    cells = []
    for part in parts.split():
        batches, epochs = part.split(":")
        plural = "s" if epochs != "1" else ""
        cells.append(f"{epochs} epoch{plural} at batch {batches.replace(',', ' and ')}")
    return ", ".join(cells)


def footer(args):
    reps = args.repeats
    spread = "median (min-max) of" if reps > 1 else "one run each,"
    return [
        "",
        f"Notes: {spread} {reps} repetition{'s' if reps > 1 else ''}, carrot and the peer run back "
        "to back on this machine; a ratio is of the medians of that one session and moves "
        "with load, so compare it only against figures from the same table.",
        "All figures are wall-clock except the rows marked CPU-s (steps per CPU-second of the "
        "process, carrot: of its stepping thread), which hold steadier when other jobs share "
        "the cores. Learner rows are ms per PPO epoch (one full-batch gradient step by default) "
        f"after one warm-up epoch, averaged over {learner_epochs(args.learner_parts)}; PPO rows "
        "are whole training runs (env stepping, GAE and updates) with the same hyperparameters "
        "on both sides. Driving: carrot's highway map with random actions, one 0.1 s control step per step, vs highway-env's highway-fast-v0 "
        "(1 s per step), hence the simulated-seconds row.",
    ]


def write_atomically(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".md")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--raw", required=True, help="the folder compare.sh wrote its results to")
    p.add_argument("--out", help="markdown file (default benches/results/compare-DATE.md)")
    p.add_argument("--carrot", default=os.path.join(repo, "target/release/carrot"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--date", default=today)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--load", help="1-minute load averages before and after the runs: A,B")
    p.add_argument(
        "--learner-parts",
        help="compare.sh's learner_parts, batches:epochs per part (\"4096:40 32768,65536:5\")",
    )
    args = p.parse_args()
    args.repo = repo
    out = args.out or os.path.join(repo, "benches", "results", f"compare-{args.date}.md")
    table = Table()
    for section in (envs_rows, control_rows, learner_rows, ppo_rows, driving_rows):
        section(table, args.raw)
    text = "\n".join(header(args, table) + table.markdown() + table.skipped() + footer(args)) + "\n"
    print(text, end="")
    write_atomically(out, text)
    print(f"\n(written to {out})")


if __name__ == "__main__":
    main()
