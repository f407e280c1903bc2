#!/usr/bin/env python3
"""Reads a carrot run's TensorBoard event file with the official `tensorboard` package and checks
that every finite value of metrics.jsonl is there, at its global_step, as a float32 scalar.

Usage: check_tensorboard.py RUN_DIR   (exit 0 and a summary line on success, 1 with the first
mismatch otherwise). Used by experiments/tests/tensorboard.rs in CI (.ci/run installs
tensorboard into a venv first).
"""
import json
import math
import struct
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def main(run_dir):
    run_dir = Path(run_dir)
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    scalars = {t: {e.step: e.value for e in acc.Scalars(t)} for t in tags}
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    checked = 0
    for row in rows:
        step = int(row["global_step"])
        for key, value in row.items():
            if key in ("global_step", "iteration") or value is None:
                continue
            if not math.isfinite(value):
                continue
            if key not in scalars or step not in scalars[key]:
                print(f"missing {key} at step {step}")
                return 1
            got = scalars[key][step]
            if got != f32(value):
                print(f"{key} at step {step}: tensorboard {got}, metrics.jsonl {value}")
                return 1
            checked += 1
    steps = {s for t in scalars.values() for s in t}
    extra = steps - {int(r["global_step"]) for r in rows}
    if extra:
        print(f"steps in tensorboard but not in metrics.jsonl: {sorted(extra)[:5]}")
        return 1
    needed = ["charts/episodic_return", "losses/approx_kl", "losses/value_loss"]
    for key in needed:
        if key not in tags:
            print(f"tag {key} missing; tags: {sorted(tags)[:20]}")
            return 1
    print(f"ok: {checked} values, {len(tags)} tags, {len(rows)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
