"""Decision time of the torch-free policies (``abmm.policy``): the plain MLP against the conv1d
and GRU sequence encoders (``abmm.policy.sequence``), one agent deciding on one observation
(a ``kind: policy`` agent's call: push to its window, normalize, encode, act), and a batch of
agents (the training loop's call).

    PYTHONPATH=. python benchmarks/bench_seq_policy.py [--window 32] [--obs-dim 16]

Prints microseconds per call (median of repeats) and per agent-decision for the batch. Needs
torch only to build random networks; the timed calls are numpy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _policy(encoder, obs_dim: int, n_actions: int, hidden):
    import torch

    from abmm.learn.export import frozen_policy
    from abmm.learn.nets import ActorCritic
    from abmm.policy.sequence import encoder_spec

    torch.manual_seed(0)
    net = ActorCritic(obs_dim, {"discrete": n_actions}, tuple(hidden), -0.5,
                      encoder_spec(encoder))
    norm = {"mean": [0.0] * obs_dim, "var": [1.0] * obs_dim, "count": 1.0, "clip": 10.0,
            "eps": 1e-8}
    return frozen_policy({"algo": "ppo", "spec": net.spec, "weights": net.state_dict(),
                          "norm": norm})


def _time(fn, n: int, repeats: int = 5) -> float:
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best.append((time.perf_counter() - t) / n)
    return float(np.median(best)) * 1e6


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--obs-dim", type=int, default=16)
    ap.add_argument("--actions", type=int, default=26)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--calls", type=int, default=2000)
    a = ap.parse_args(argv)
    W, F = a.window, a.obs_dim
    encoders = {
        "mlp": None,
        f"conv1d (W={W}, channels [32, 32], kernel 3)":
            {"type": "conv1d", "window": W, "channels": [32, 32], "kernel": 3},
        f"gru (W={W}, hidden 64)": {"type": "gru", "window": W, "hidden": 64},
        f"gru (W={W}, hidden 32)": {"type": "gru", "window": W, "hidden": 32},
    }
    rng = np.random.default_rng(0)
    one = rng.normal(size=(1, F)).astype(np.float32)
    batch = rng.normal(size=(a.batch, F)).astype(np.float32)
    print(f"obs_dim {F}, {a.actions} discrete actions, heads [64, 64] tanh; "
          f"µs per call (median of 5 x {a.calls})")
    print(f"{'encoder':42s} {'1 agent':>10s} {f'{a.batch} agents':>12s} {'per agent':>10s}")
    for name, enc in encoders.items():
        pol = _policy(enc, F, a.actions, (64, 64))
        p1, pb = pol.fork(), pol.fork()
        t1 = _time(lambda p1=p1: p1(one), a.calls)
        tb = _time(lambda pb=pb: pb(batch), max(a.calls // 10, 20))
        print(f"{name:42s} {t1:10.1f} {tb:12.1f} {tb / a.batch:10.2f}")


if __name__ == "__main__":
    main()
