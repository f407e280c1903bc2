"""PyTorch CPU peer of `carrot bench learner`: the same PPO gradient step on the same network.

Separate actor and critic MLPs (obs 16 -> h -> h, tanh, orthogonal init), the policy head of
`--head` as carrot builds it (a diagonal Gaussian with a state-independent log-std; a Beta per
dimension with alpha, beta = softplus(out) + 1; a categorical over `--action-dim` logits), the
clipped PPO loss with clipped value loss and entropy bonus, backward, global grad-norm clipping
(0.5) and Adam (eps 1e-5). The synthetic actions are drawn like carrot's (Gaussian: standard
normal; Beta: uniform in (0.05, 0.95); categorical: uniform indices). One epoch = one
full-batch gradient step by default, one warm-up epoch, then the mean of `--epochs` epochs.

    pip install torch --index-url https://download.pytorch.org/whl/cpu
    python benches/peers/torch_learner.py --threads 2 --head beta
"""

import argparse
import math
import time

from peer_json import write_json_atomically

import torch
from torch import nn


def mlp(obs_dim, hidden, out_dim, out_gain):
    layers = []
    fan_in = obs_dim
    for _ in range(2):
        lin = nn.Linear(fan_in, hidden)
        nn.init.orthogonal_(lin.weight, math.sqrt(2))
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Tanh()]
        fan_in = hidden
    out = nn.Linear(fan_in, out_dim)
    nn.init.orthogonal_(out.weight, out_gain)
    nn.init.zeros_(out.bias)
    return nn.Sequential(*layers, out)


HEADS = ("gaussian", "beta", "categorical")
BETA_EPS = 1e-6


def actor_outputs(head, act_dim):
    """Width of the actor's last layer: carrot's `HeadKind::param_dim`."""
    return 2 * act_dim if head == "beta" else act_dim


class ActorCritic(nn.Module):
    def __init__(self, obs_dim, hidden, act_dim, head):
        super().__init__()
        self.head = head
        self.actor = mlp(obs_dim, hidden, actor_outputs(head, act_dim), 0.01)
        self.critic = mlp(obs_dim, hidden, 1, 1.0)
        if head == "gaussian":
            self.log_std = nn.Parameter(torch.zeros(act_dim))

    def forward(self, obs, actions):
        """Log-probability and entropy per row (summed over action dimensions), and values."""
        out = self.actor(obs)
        values = self.critic(obs).squeeze(1)
        if self.head == "categorical":
            dist = torch.distributions.Categorical(logits=out)
            return dist.log_prob(actions), dist.entropy(), values
        if self.head == "beta":
            alpha, beta = (nn.functional.softplus(x) + 1.0 for x in out.chunk(2, dim=1))
            dist = torch.distributions.Beta(alpha, beta)
            x = actions.clamp(BETA_EPS, 1.0 - BETA_EPS)
            return dist.log_prob(x).sum(1), dist.entropy().sum(1), values
        dist = torch.distributions.Normal(out, self.log_std.exp().expand_as(out))
        return dist.log_prob(actions).sum(1), dist.entropy().sum(1), values


def synthetic_actions(head, rows, act_dim):
    if head == "categorical":
        return torch.randint(0, act_dim, (rows,))
    if head == "beta":
        return 0.05 + 0.9 * torch.rand(rows, act_dim)
    return torch.randn(rows, act_dim)


def step(net, opt, batch, clip=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5):
    obs, actions, old_logp, old_values, adv, ret = batch
    logp, entropy, values = net(obs, actions)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    logratio = logp - old_logp
    ratio = logratio.exp()
    pg = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
    v_unclipped = (values - ret) ** 2
    v_clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    v_loss = 0.5 * torch.max(v_unclipped, (v_clipped - ret) ** 2).mean()
    loss = pg - ent_coef * entropy.mean() + vf_coef * v_loss
    with torch.no_grad():
        approx_kl = ((ratio - 1) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > clip).float().mean()
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), max_grad_norm)
    opt.step()
    # Read the diagnostics like the Rust learner does.
    return [x.item() for x in (pg, v_loss, entropy.mean(), approx_kl, clipfrac)]


def bench(batch, hidden, minibatches, obs_dim, act_dim, epochs, head):
    torch.manual_seed(1)
    net = ActorCritic(obs_dim, hidden, act_dim, head)
    opt = torch.optim.Adam(net.parameters(), lr=3e-4, eps=1e-5)
    mb = batch // minibatches
    obs = torch.randn(mb, obs_dim)
    actions = synthetic_actions(head, mb, act_dim)
    with torch.no_grad():
        old_logp, _, old_values = net(obs, actions)
    data = (obs, actions, old_logp, old_values, torch.randn(mb), torch.randn(mb))

    def run(n):
        start = time.perf_counter()
        for _ in range(n * minibatches):
            step(net, opt, data)
        return time.perf_counter() - start

    run(1)
    per_epoch = run(epochs) / epochs
    return {
        "batch": batch,
        "hidden": hidden,
        "minibatch": mb,
        "ms_per_epoch": per_epoch * 1e3,
        "ms_per_step": per_epoch * 1e3 / minibatches,
        "samples_per_second": batch / per_epoch,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", default="4096,32768")
    p.add_argument("--hidden", default="64,256")
    p.add_argument("--minibatches", type=int, default=1)
    p.add_argument("--obs-dim", type=int, default=16)
    p.add_argument("--action-dim", type=int, default=2, help="categorical: number of actions")
    p.add_argument("--head", choices=HEADS, default="gaussian")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    # carrot checks no distribution arguments; neither should the peer's timed step.
    torch.distributions.Distribution.set_default_validate_args(False)
    if a.minibatches < 1 or any(int(b) % a.minibatches for b in a.batch.split(",")):
        p.error(f"--minibatches {a.minibatches} must divide every batch in {a.batch}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.head} head")
    results = []
    for hidden in [int(h) for h in a.hidden.split(",")]:
        for batch in [int(b) for b in a.batch.split(",")]:
            r = bench(batch, hidden, a.minibatches, a.obs_dim, a.action_dim, a.epochs, a.head)
            print(
                f"batch {batch:>6}  hidden {hidden:>4}: {r['ms_per_epoch']:>8.2f} ms/epoch  "
                f"{r['ms_per_step']:>8.2f} ms/step  {r['samples_per_second']:>10.0f} samples/s"
            )
            results.append(r)
    if a.json:
        report = {
            "threads": torch.get_num_threads(),
            "obs_dim": a.obs_dim,
            "action_dim": a.action_dim,
            "head": a.head,
            "versions": {"torch": torch.__version__},
            "learner": results,
        }
        write_json_atomically(a.json, report)


if __name__ == "__main__":
    main()
