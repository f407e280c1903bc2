#!/usr/bin/env python3
"""Steps per second of highway-env's `highway-fast-v0` on this machine, the peer of
`carrot bench driving` (carrot's driving world, one core).

highway-fast-v0 is highway-env's reduced-cost variant: 20 vehicles, a 1 Hz policy over a 5 Hz
simulation, so one of its steps covers 1 s of driving where one of carrot's covers 0.1 s; the
script also reports simulated seconds per wall-clock second. Actions are uniformly random (discrete meta-actions by default) and drawn before
the timing; episodes are reset as they end, as in `carrot bench driving --driver random`.
Optional and not part of CI:

    python3 -m venv /tmp/highway-venv
    /tmp/highway-venv/bin/pip install highway-env
    /tmp/highway-venv/bin/python benches/peers/highway_env.py
    cargo build --release && target/release/carrot bench driving --driver random
"""

import argparse
import os
import sys
import time

from peer_json import write_json_atomically

# This file is named like the package it measures: keep its folder off the import path.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import gymnasium as gym  # noqa: E402
import highway_env  # noqa: E402,F401  (registers the envs)
import numpy as np  # noqa: E402


def measure(env_id, seconds, seed, vehicles):
    config = {}
    if vehicles is not None:
        config["vehicles_count"] = vehicles
    env = gym.make(env_id, config=config) if config else gym.make(env_id)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(4096)]
    # Warm-up, then a timed run of whole steps.
    for k in range(20):
        _, _, terminated, truncated, _ = env.step(actions[k])
        if terminated or truncated:
            env.reset()
    steps, episodes, k = 0, 0, 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        k = (k + 1) % len(actions)
        _, _, terminated, truncated, _ = env.step(actions[k])
        steps += 1
        if terminated or truncated:
            episodes += 1
            env.reset()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    policy_frequency = env.unwrapped.config["policy_frequency"]
    env.close()
    return {
        "steps": steps,
        "episodes": episodes,
        "seconds": elapsed,
        "steps_per_second": steps / elapsed,
        "steps_per_cpu_second": steps / cpu if cpu > 0 else None,
        "sim_seconds_per_step": 1.0 / policy_frequency,
        "sim_seconds_per_second": steps / elapsed / policy_frequency,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="highway-fast-v0")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results as JSON here")
    parser.add_argument(
        "--vehicles",
        nargs="*",
        default=["default", "10", "30"],
        help="vehicles_count values; 'default' keeps the env's own setting",
    )
    args = parser.parse_args()
    np.random.seed(args.seed)
    print(f"{args.env}, one process, random actions, {args.seconds:.1f} s per row")
    print(f"{'vehicles':>10} {'steps/s':>10} {'sim s/s':>10} {'steps':>8} {'episodes':>9}")
    rows = []
    for label in args.vehicles:
        vehicles = None if label == "default" else int(label)
        r = measure(args.env, args.seconds, args.seed, vehicles)
        rows.append({"env": args.env, "vehicles": label, **r})
        print(
            f"{label:>10} {r['steps_per_second']:>10.1f} {r['sim_seconds_per_second']:>10.1f} "
            f"{r['steps']:>8} {r['episodes']:>9}"
        )
    if args.json:
        versions = {"highway-env": package_version("highway-env"), "gymnasium": gym.__version__}
        write_json_atomically(args.json, {"versions": versions, "rows": rows})


def package_version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    main()
