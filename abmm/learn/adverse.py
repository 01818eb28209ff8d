"""Training the adverse-selection detector and the spread predictor from logged runs
(``abmm.policy.detect`` holds the features and the torch-free model files the market maker reads).

Data. ``collect_runs`` runs a scenario on some seeds with the top of book logged;
``grid_dataset`` rebuilds, from each run directory only, the features (``log_features``) on
the grid t_k = start + k * interval (1 s), from the end of the warm-up to ``end - H``, and

* ``dmid``: mid(t + H) - mid(t) (ticks; books one-sided at either time are dropped);
* ``spread_next``: the mean best spread over (t, t + H], sampled on the grid (each value capped
  at 20 ticks, one-sided books skipped; dropped when none is two-sided).

Detector label (one model for both sides): a resting **ask** at t is adversely selected when
the mid rises by at least ``threshold`` ticks over H (``dmid >= m``), a resting **bid** when it
falls by as much (``-dmid >= m``, the features oriented with the signed ones negated). Each grid
point gives one ask sample and one bid sample (``detector_samples``).

Models. ``fit_logistic``: standardized features, L2-penalized mean log-loss minimized with
L-BFGS (scipy). ``fit_spread_mlp``: torch MLP (ReLU hidden layers, softplus output), MSE on
``spread_next``. Both export to ``.npz`` (``save_detect_model``).

Evaluation helpers: ``auc`` (Mann-Whitney, ties averaged), ``seed_bootstrap`` (resampling
whole seeds: the samples of a seed are dependent), ``calibration`` (reliability bins).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from abmm.policy.detect import DEFAULT_SPEC, SPREAD_CAP, log_features, orient

log = logging.getLogger(__name__)

__all__ = ["collect_runs", "grid_dataset", "detector_samples", "fit_logistic",
           "logistic_predict", "fit_spread_mlp", "auc", "seed_bootstrap", "calibration",
           "save_detector", "save_spread_model"]

def collect_runs(scenario, seeds, root, overrides: list[str] | None = None) -> list[tuple]:
    """Run ``scenario`` on each seed into ``root/seed-N`` (top of book logged; an existing
    complete run is reused); returns ``[(seed, run_dir, warmup_end_ns)]``."""
    import json

    from abmm.scenario import build_model

    root = Path(root)
    out = []
    for seed in seeds:
        d = root / f"seed-{seed}"
        summ = d / "summary.json"
        ov = [*(overrides or []), "logging.top_of_book=true"]
        if summ.is_file() and json.loads(summ.read_text()).get("status") == "complete" \
                and (d / "warmup.json").is_file():
            out.append((seed, d, json.loads((d / "warmup.json").read_text())["warmup_end_ns"]))
            continue
        m = build_model(scenario, seed=seed, out=d, overrides=ov)
        m.run()
        (d / "warmup.json").write_text(json.dumps({"warmup_end_ns": int(m.warmup_end)}))
        out.append((seed, d, int(m.warmup_end)))
    return out

def _grid_top(run_dir, times):
    from abmm.signals.run import from_run

    top = from_run(run_dir).top_arrays()
    j = np.searchsorted(top["ts"], times, side="right") - 1
    ok = j >= 0
    jj = np.maximum(j, 0)
    bid = np.where(ok, top["bid"][jj], 0)
    ask = np.where(ok, top["ask"][jj], 0)
    two = (bid > 0) & (ask > 0)
    mid = np.where(two, (bid + ask) / 2, np.nan)
    spread = np.where(two, np.minimum(ask - bid, SPREAD_CAP), np.nan)
    return mid, spread

def grid_dataset(run_dir, warmup_end: int, spec: dict | None = None,
                 horizon_s: float = 10.0) -> dict:
    """Features and targets on the run's decision grid (see the module docstring): ``X``
    ``(n, len(FEATURES))``, ``dmid``, ``spread_next``, ``times``."""
    import json

    spec = {**DEFAULT_SPEC, **(spec or {})}
    iv = int(spec["interval_ns"])
    h = max(1, int(round(horizon_s * 1e9 / iv)))
    s = json.loads((Path(run_dir) / "summary.json").read_text())
    start, end = int(s["start_ns"]), int(s["end_ns"])
    grid = start + iv * np.arange(1, (end - start) // iv + 1, dtype=np.int64)
    X = log_features(run_dir, grid, spec, t0=start)
    mid, spread = _grid_top(run_dir, grid)
    n = len(grid) - h
    dmid = mid[h:] - mid[:n]
    fut = np.lib.stride_tricks.sliding_window_view(spread[1:], h)[:n]
    cnt = np.isfinite(fut).sum(axis=1)
    spread_next = np.where(cnt > 0, np.nansum(fut, axis=1) / np.maximum(cnt, 1), np.nan)
    keep = (grid[:n] >= warmup_end) & np.isfinite(dmid) & np.isfinite(spread_next)
    return {"X": X[:n][keep], "dmid": dmid[keep], "spread_next": spread_next[keep],
            "times": grid[:n][keep]}

def detector_samples(X, dmid, threshold: float = 1.0):
    """(features, labels): the ask samples (``dmid >= threshold``) then the bid samples
    (``-dmid >= threshold``, features ``orient``-ed for the bid)."""
    Xs = np.concatenate([orient(X, "ask"), orient(X, "bid")])
    y = np.concatenate([dmid >= threshold, -dmid >= threshold]).astype(float)
    return Xs, y

def fit_logistic(X, y, l2: float = 1e-3) -> dict:
    """L2-penalized logistic regression on standardized features: ``{mean, std, coef,
    intercept}`` (arrays for ``save_detector``)."""
    from scipy.optimize import minimize

    X = np.asarray(X, float)
    y = np.asarray(y, float)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    Z = (X - mean) / std
    n, d = Z.shape

    def f(theta):
        w, b = theta[:d], theta[d]
        z = Z @ w + b
        loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * (w @ w)
        p = 1.0 / (1.0 + np.exp(-z))
        g = p - y
        return loss, np.r_[Z.T @ g / n + l2 * w, g.mean()]

    p0 = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    theta0 = np.r_[np.zeros(d), np.log(p0 / (1 - p0))]
    r = minimize(f, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    log.debug("logistic fit: %s, loss %.5f", r.message, r.fun)
    return {"mean": mean, "std": std, "coef": r.x[:d], "intercept": np.array([r.x[d]])}

def logistic_predict(params: dict, X) -> np.ndarray:
    """P(y = 1) of ``fit_logistic``'s parameters."""
    z = (np.asarray(X, float) - params["mean"]) / params["std"] @ params["coef"] \
        + params["intercept"][0]
    return 1.0 / (1.0 + np.exp(-z))

def fit_spread_mlp(X, y, hidden=(32, 32), epochs: int = 30, lr: float = 3e-3,
                   batch: int = 512, seed: int = 0) -> dict:
    """Torch MLP (ReLU hidden layers, softplus output) regressing ``y`` (ticks) on
    standardized ``X`` with MSE and Adam; returns the arrays for ``save_spread_model``."""
    import torch

    torch.manual_seed(seed)
    X = np.asarray(X, float)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    Z = torch.tensor((X - mean) / std, dtype=torch.float32)
    Y = torch.tensor(np.asarray(y, float), dtype=torch.float32)
    dims = [X.shape[1], *hidden, 1]
    layers: list = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():  # start the output near the mean target
        layers[-1].bias.fill_(float(np.log(np.expm1(max(float(Y.mean()), 1e-3)))))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    n = len(Z)
    for ep in range(epochs):
        perm = torch.randperm(n, generator=g)
        tot = 0.0
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            pred = torch.nn.functional.softplus(net(Z[idx])[:, 0])
            loss = torch.mean((pred - Y[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
        log.debug("spread mlp epoch %d: mse %.4f", ep, tot / n)
    out = {"mean": mean, "std": std}
    lin = [m for m in layers if isinstance(m, torch.nn.Linear)]
    for i, m in enumerate(lin):
        out[f"layer/{i}/w"] = m.weight.detach().double().numpy().T.copy()
        out[f"layer/{i}/b"] = m.bias.detach().double().numpy().copy()
    return out

def save_detector(path, params: dict, spec: dict | None = None, meta: dict | None = None):
    """Write ``fit_logistic``'s parameters as a detector file."""
    from abmm.policy.detect import save_detect_model

    return save_detect_model(path, "detector", params, spec, meta=meta)

def save_spread_model(path, params: dict, hidden, spec: dict | None = None,
                      meta: dict | None = None):
    """Write ``fit_spread_mlp``'s arrays as a spread model file."""
    from abmm.policy.detect import save_detect_model

    return save_detect_model(path, "spread", params, spec, hidden=hidden, meta=meta)

def auc(y, p) -> float:
    """Area under the ROC curve (Mann-Whitney U; tied scores count one half); NaN with one
    class only."""
    from scipy.stats import rankdata

    y = np.asarray(y, bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))

def seed_bootstrap(stat, groups, arrays, n: int = 1000, seed: int = 0):
    """95 % percentile interval of ``stat(*arrays)`` resampling whole groups (seeds) with
    replacement: returns ``(lo, hi)``."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    ids = np.unique(groups)
    idx = {g: np.flatnonzero(groups == g) for g in ids}
    vals = []
    for _ in range(n):
        pick = np.concatenate([idx[g] for g in rng.choice(ids, len(ids))])
        vals.append(stat(*(a[pick] for a in arrays)))
    lo, hi = np.nanpercentile(vals, [2.5, 97.5])
    return float(lo), float(hi)

def calibration(y, p, bins: int = 10) -> dict:
    """Reliability diagram: uniform bins of predicted probability, each with ``n``, the mean
    prediction and the observed frequency; ``ece`` = sum n/N |observed - predicted|."""
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    edges = np.linspace(0, 1, bins + 1)
    k = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    rows = []
    ece = 0.0
    for b in range(bins):
        m = k == b
        if not m.any():
            continue
        mp, ob = float(p[m].mean()), float(y[m].mean())
        rows.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": int(m.sum()),
                     "mean_pred": mp, "observed": ob})
        ece += m.sum() / len(p) * abs(ob - mp)
    return {"bins": rows, "ece": float(ece), "base_rate": float(y.mean()),
            "mean_pred": float(p.mean())}

