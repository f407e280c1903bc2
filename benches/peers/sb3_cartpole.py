"""Stable-Baselines3 peer of carrot's end-to-end cartpole benchmark.

PPO on Gymnasium CartPole-v1 with the hyperparameters `carrot bench learner --cartpole` uses
(CleanRL's): 8 envs x 128 steps, 4 epochs, 4 mini-batches (256), lr 2.5e-4 annealed linearly,
gamma 0.99, GAE lambda 0.95, clip 0.2 (policy and value), entropy 0.01, value coefficient 0.5,
max grad norm 0.5, separate 64-64 tanh actor and critic. Reports env steps per second and the
first env step at which the mean return of the last 20 training episodes reaches 475.

    pip install stable-baselines3 gymnasium
    python benches/peers/sb3_cartpole.py --threads 2 --steps 500000
"""

import argparse
import time

from peer_json import write_json_atomically
from collections import deque

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env


class ReturnTracker(BaseCallback):
    def __init__(self):
        super().__init__()
        self.recent = deque(maxlen=20)
        self.steps_to_475 = None

    def _on_step(self):
        for info in self.locals["infos"]:
            if "episode" in info:
                self.recent.append(info["episode"]["r"])
        if (
            self.steps_to_475 is None
            and len(self.recent) == 20
            and sum(self.recent) / 20 >= 475
        ):
            self.steps_to_475 = self.num_timesteps
        return True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=500_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--sb3-defaults",
        action="store_true",
        help="SB3's default PPO settings (2048 steps, batch 64, 10 epochs) instead of carrot's",
    )
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    env = make_vec_env("CartPole-v1", n_envs=8, seed=a.seed)
    if a.sb3_defaults:
        model = PPO("MlpPolicy", env, seed=a.seed, device="cpu", verbose=0)
    else:
        model = carrot_settings(env, a.seed)
    tracker = ReturnTracker()
    start = time.perf_counter()
    model.learn(total_timesteps=a.steps, callback=tracker)
    secs = time.perf_counter() - start
    result = {
        "threads": torch.get_num_threads(),
        "versions": versions(),
        "settings": "sb3-defaults" if a.sb3_defaults else "carrot",
        "env_steps": model.num_timesteps,
        "steps_per_second": model.num_timesteps / secs,
        "steps_to_475": tracker.steps_to_475,
        "final_return_mean": sum(tracker.recent) / max(1, len(tracker.recent)),
    }
    print(
        f"sb3 cartpole ({result['settings']} settings): {result['env_steps']} env steps at "
        f"{result['steps_per_second']:.0f} steps/s; mean return of the last 20 episodes first "
        f">= 475 at {result['steps_to_475']} env steps; final {result['final_return_mean']:.1f}"
    )
    if a.json:
        write_json_atomically(a.json, result)


def versions():
    import gymnasium
    import stable_baselines3

    return {
        "stable-baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
    }


def carrot_settings(env, seed):
    return PPO(
        "MlpPolicy",
        env,
        n_steps=128,
        batch_size=256,
        n_epochs=4,
        learning_rate=lambda frac: 2.5e-4 * frac,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        clip_range_vf=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        max_grad_norm=0.5,
        policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=torch.nn.Tanh),
        seed=seed,
        device="cpu",
        verbose=0,
    )


if __name__ == "__main__":
    main()
