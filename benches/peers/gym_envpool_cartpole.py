#!/usr/bin/env python3
"""Steps per second of the peers of `carrot bench envs` on CartPole-v1, on this machine.

Measures Gymnasium's Python CartPole-v1 (one env, and SyncVectorEnv over N copies) and
EnvPool's C++ CartPole-v1 (sync mode, N envs, 1 and 2 threads), all with uniformly random
actions drawn before the timing, plus Gymnasium's random-policy mean episode length.
Optional and not part of CI:

    python3 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install gymnasium envpool numpy
    /tmp/peers-venv/bin/python benches/peers/gym_envpool_cartpole.py
"""

import argparse
import time

from peer_json import write_json_atomically
import warnings

import gymnasium as gym
import numpy as np


def timed(step, n, seconds):
    """Calls step() (advancing n envs) for ~seconds after a warm-up. Returns env steps per
    wall-clock second and per CPU-second of this process (all its threads), the latter being
    robust to other jobs sharing the cores."""
    warmup_end = time.perf_counter() + seconds / 10
    while time.perf_counter() < warmup_end:
        step()
    steps = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += n
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return steps / wall, steps / cpu


def gym_single(seconds, seed):
    env = gym.make("CartPole-v1")
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, 2, size=4096).tolist()
    k = 0

    def step():
        nonlocal k
        k = (k + 1) % len(actions)
        _, _, terminated, truncated, _ = env.step(actions[k])
        if terminated or truncated:
            env.reset()

    return timed(step, 1, seconds)


def gym_sync_vector(n, seconds, seed):
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(n)])
    envs.reset(seed=seed)
    batches = np.random.default_rng(seed).integers(0, 2, size=(64, n))
    k = 0

    def step():
        nonlocal k
        k = (k + 1) % len(batches)
        envs.step(batches[k])

    return timed(step, n, seconds)


def envpool_sync(n, threads, seconds, seed, task="CartPole-v1"):
    """EnvPool's `task` in sync mode, uniformly random actions drawn before the timing."""
    import envpool

    envs = envpool.make(task, env_type="gymnasium", num_envs=n, num_threads=threads, seed=seed)
    envs.reset()
    space = envs.action_space
    rng = np.random.default_rng(seed)
    if hasattr(space, "n"):
        batches = rng.integers(0, space.n, size=(64, n)).astype(np.int32)
    else:
        shape = (64, n) + space.shape
        batches = rng.uniform(space.low[0], space.high[0], size=shape).astype(np.float32)
    k = 0

    def step():
        nonlocal k
        k = (k + 1) % len(batches)
        envs.step(batches[k])

    return timed(step, n, seconds)


def gym_random_episode_length(episodes, seed):
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    total = 0
    env.reset(seed=seed)
    for _ in range(episodes):
        while True:
            total += 1
            _, _, terminated, truncated, _ = env.step(int(rng.integers(0, 2)))
            if terminated or truncated:
                env.reset()
                break
    return total / episodes


def measure_all(args):
    """Every row as a dict; envpool rows only when it is installed."""
    rows = []

    def add(peer, n, threads, rates):
        rows.append(
            {
                "peer": peer,
                "num_envs": n,
                "threads": threads,
                "steps_per_second": rates[0],
                "steps_per_cpu_second": rates[1],
            }
        )
        print(ROW.format(peer, n, threads, *rates))

    if 1 in args.num_envs:
        add("gymnasium", 1, 1, gym_single(args.seconds, args.seed))
    for n in args.num_envs:
        if n > 1:
            add("gymnasium SyncVectorEnv", n, 1, gym_sync_vector(n, args.seconds, args.seed))
    try:
        import envpool
    except ImportError:
        print("envpool not installed: skipped (pip install envpool)")
        return rows, None
    for n in args.num_envs:
        for threads in args.threads:
            add("envpool", n, threads, envpool_sync(n, threads, args.seconds, args.seed))
    return rows, envpool.__version__


ROW = "{:<28} {:>5} {:>7} {:>14,.0f} {:>12,.0f}"


def main():
    warnings.filterwarnings("ignore", message=".*precision lowered.*")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 64, 512])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--episodes",
        type=int,
        default=5000,
        help="episodes of the random-policy episode length (0: skip it)",
    )
    parser.add_argument("--json", help="also write the results as JSON here")
    args = parser.parse_args()

    print(f"gymnasium {gym.__version__}, {args.seconds:.1f} s per measurement")
    print(f"{'peer':<28} {'N':>5} {'threads':>7} {'env steps/s':>14} {'per cpu-s':>12}")
    rows, envpool_version = measure_all(args)
    length = None
    if args.episodes > 0:
        length = gym_random_episode_length(args.episodes, args.seed)
        print(f"gymnasium CartPole-v1 random-policy mean episode length: {length:.2f}")
    if args.json:
        versions = {"gymnasium": gym.__version__, "numpy": np.__version__}
        if envpool_version is not None:
            versions["envpool"] = envpool_version
        report = {
            "seconds": args.seconds,
            "versions": versions,
            "envpool_installed": envpool_version is not None,
            "rows": rows,
            "random_episode_length": length,
        }
        write_json_atomically(args.json, report)


if __name__ == "__main__":
    main()
