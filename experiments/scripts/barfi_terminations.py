#!/usr/bin/env python3
"""How the training episodes of each cell of a sweep end: per method, the mean over seeds of the
per-iteration counts of each termination cause, and the mean episode length, over each run's
last 100 iterations (from the runs' metrics.csv).
  python3 experiments/scripts/barfi_terminations.py experiments/results/bilevel/barfi/town"""
import csv, glob, os, statistics, sys
from collections import defaultdict

CAUSES = ["route_finished", "red_light", "collision_vehicle", "off_road", "route_deviation",
          "lane_deviation", "blocked", "timeout"]
sweep = sys.argv[1]
cells = defaultdict(list)
for run in sorted(glob.glob(os.path.join(sweep, "runs", "*"))):
    path = os.path.join(run, "metrics.csv")
    if not os.path.exists(path):
        continue
    cell = ",".join(p for p in os.path.basename(run).split(",") if not p.startswith("seed="))
    rows = list(csv.DictReader(open(path)))[-100:]
    means = {}
    for c in ["charts/episodic_length"] + [f"terminations/{c}" for c in CAUSES]:
        vals = [float(r[c]) for r in rows if r.get(c) not in (None, "", "NaN", "nan")]
        if vals:
            means[c] = statistics.mean(vals)
    cells[cell].append(means)
print("| cell | runs | episode length | " + " | ".join(CAUSES) + " | finished share |")
print("|---" * (len(CAUSES) + 4) + "|")
for cell, runs in cells.items():
    def m(key):
        vals = [r[key] for r in runs if key in r]
        return statistics.mean(vals) if vals else float("nan")
    ends = [m(f"terminations/{c}") for c in CAUSES]
    total = sum(e for e in ends if e == e)
    share = ends[0] / total if total else float("nan")
    print(f"| {cell} | {len(runs)} | {m('charts/episodic_length'):.0f} | "
          + " | ".join(f"{e:.2f}" for e in ends) + f" | {share:.0%} |")
