#!/usr/bin/env python3
"""Per cell of a BARFI sweep: the learned weights at the end of training (mean, min-max over
seeds) and the FO-vs-Neumann cosine (median and share of outer steps below 0.9)."""
import csv, glob, os, statistics, sys
from collections import defaultdict
sweep = sys.argv[1]
cells = defaultdict(list)
for run in sorted(glob.glob(os.path.join(sweep, "runs", "*"))):
    name = os.path.basename(run)
    parts = dict(p.split("=", 1) for p in name.split(","))
    seed = parts.pop("seed")
    key = ",".join(f"{k}={v}" for k, v in parts.items())
    path = os.path.join(run, "metrics.csv")
    if not os.path.exists(path) or not os.path.exists(os.path.join(run, "eval.json")):
        continue
    rows = list(csv.DictReader(open(path)))
    cells[key].append(rows)
for key, runs in cells.items():
    cols = [c for c in runs[0][0] if c.startswith("outer/phi/")]
    out = [key, f"{len(runs)} runs"]
    for c in cols:
        ends = [float(r[-1][c]) for r in runs if r[-1].get(c)]
        if ends:
            out.append(f"{c[10:]} {statistics.mean(ends):.2f} ({min(ends):.2f} to {max(ends):.2f})")
    cos = [float(row["outer/cos_fo_neumann"]) for r in runs for row in r
           if row.get("outer/cos_fo_neumann") not in (None, "", "NaN", "nan")]
    if cos:
        below = sum(c < 0.9 for c in cos) / len(cos)
        out.append(f"cos median {statistics.median(cos):.3f}, {100*below:.0f}% of {len(cos)} steps < 0.9")
    print(" | ".join(out))
