#!/usr/bin/env python3
"""Steps per second of EnvPool on the classic control tasks besides CartPole, on this machine.

The peer of `carrot bench envs --env pendulum,acrobot,mountain_car`: EnvPool's C++
Pendulum-v1, Acrobot-v1 and MountainCar-v0 (sync mode, N envs, 1 and 2 threads) with uniformly
random actions drawn before the timing. Optional and not part of CI:

    /tmp/peers-venv/bin/pip install envpool numpy
    /tmp/peers-venv/bin/python benches/peers/envpool_control.py
"""

import argparse
import warnings

import numpy as np

from gym_envpool_cartpole import envpool_sync
from peer_json import write_json_atomically

# carrot's env id -> EnvPool's task
TASKS = {"pendulum": "Pendulum-v1", "acrobot": "Acrobot-v1", "mountain_car": "MountainCar-v0"}
ROW = "{:<14} {:>5} {:>7} {:>14,.0f} {:>12,.0f}"


def main():
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[8, 64, 512])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results as JSON here")
    args = parser.parse_args()

    import envpool

    print(f"envpool {envpool.__version__}, {args.seconds:.1f} s per measurement")
    print(f"{'env':<14} {'N':>5} {'threads':>7} {'env steps/s':>14} {'per cpu-s':>12}")
    rows = []
    for env in args.env:
        for n in args.num_envs:
            for threads in args.threads:
                rates = envpool_sync(n, threads, args.seconds, args.seed, task=TASKS[env])
                rows.append(
                    {
                        "env": env,
                        "task": TASKS[env],
                        "num_envs": n,
                        "threads": threads,
                        "steps_per_second": rates[0],
                        "steps_per_cpu_second": rates[1],
                    }
                )
                print(ROW.format(env, n, threads, *rates))
    if args.json:
        report = {
            "seconds": args.seconds,
            "versions": {"envpool": envpool.__version__, "numpy": np.__version__},
            "rows": rows,
        }
        write_json_atomically(args.json, report)


if __name__ == "__main__":
    main()
