"""Inverse RL: recover a trader's reward from a run's event log (``docs/irl.md``).

One trader's record is rebuilt from the run directory alone (``abmm.rundir``: ``events/``,
``top/``, ``agents.parquet`` and ``scenario.yaml``), never from in-memory agent state:

* **market maker** (``mm_trace``): its decision times are its wake grid -- the arrival of its
  first request plus multiples of its group's ``wake.interval`` (fixed wakes). At each decision
  time ``t``: the inventory from its fills before ``t`` (maker and taker ``FILL`` rows), the mid
  from the last top-of-book row before ``t``, the mid's volatility by the market maker's own
  estimator (``MidVolatility(vol_halflife, start="first", cap=25)``, fed that mid at every
  decision) and, as the action, its resting quotes after its requests at ``t``: bid offset
  ``mid - best own bid`` and ask offset ``best own ask - mid`` mapped to the nearest of the grid
  ``offsets`` (``abmm.env.market_v0``'s discrete pairs; a missing side counts as the largest
  offset, no quote at all is ``no_quote``). Each quote's fate until the next decision (filled or
  not) gives the fill curve ``p(delta) = 1 - exp(-A exp(-k delta) dt)`` (``fit_fill_curve``).
* **executor** (``exec_trace``): its slices ``t_j = t_0 + j dt`` from its first child order
  ``t_0`` (a rule-based executor's first wake only records the arrival price) while before its
  schedule's end (``j < N``; what is left then is swept); the remaining fraction ``f`` from its fills before ``t_j``; the action is the lots it
  sent in ``[t_j, t_j + dt)`` as a multiple of the adaptive TWAP slice ``remaining / (N - j)``,
  mapped to the nearest of ``EXEC_MULTIPLES`` = (0, 0.5, 1, 2) (linear distance; ``action``),
  and the exact multiple is kept (``ratio``) for fits over a finer set of sizes. Its child
  orders' costs against the mid before them give the temporary impact ``eta``, the mid at the
  slices the volatility ``sigma``.

The reward is linear in documented features (``abmm.policy.inferred``) and the policy is the
soft-optimal (maximum-entropy) one under it; ``theta`` maximizes the log-likelihood of the
logged actions (maximum-likelihood inverse optimal control = maximum-(causal-)entropy IRL):
a one-step lookahead for the market maker (a conditional logit, convex in theta), soft value
iteration over the whole schedule for the executor. ``gamma = theta_risk / theta_spread``;
``lambda = (theta_risk / theta_impact) eta / (sigma^2 T^2)``.

Baselines on the same records: the best constant action, and behaviour cloning
(``fit_cloning``: multinomial logistic regression on quadratic state features).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from abmm.policy.actions import DEFAULT_OFFSETS
from abmm.policy.inferred import (
    EXEC_MULTIPLES,
    FINE_OFFSETS,
    MM_FEATURES,
    ExecPolicy,
    MMPolicy,
    exec_features,
    feasible,
    fine_index,
    mm_action,
    mm_features,
    save_inferred,
)
from abmm.rundir import open_run
from abmm.signals import MidVolatility

log = logging.getLogger(__name__)

__all__ = ["MMTrace", "ExecTrace", "mm_trace", "exec_trace", "fit_fill_curve", "fit_mm",
           "fit_exec", "fit_cloning", "IRLResult", "concat", "agreement", "constant_agreement",
           "save_result", "group_config", "predict", "mm_action", "exec_action",
           "nearest_multiple", "exec_eta_sigma"]

FILL, ACCEPTED = 1, 0


def group_config(run, agent_name: str) -> dict:
    """The resolved scenario group (a dict) of ``GROUP/INDEX``."""
    gname = agent_name.rsplit("/", 1)[0]
    for g in run.scenario["agents"]:
        if (g.get("name") or g["kind"]) == gname:
            return g
    raise KeyError(f"{run.path}: no group {gname!r} in scenario.yaml")


def _agent_id(run, agent_name: str) -> int:
    a = run.agents()
    row = a[a["name"] == agent_name]
    if row.empty:
        raise KeyError(f"{run.path}: no agent {agent_name!r} in agents.parquet")
    return int(row["agent_id"].iloc[0])


def _own_events(run, aid: int):
    cols = ["ts", "order_id", "owner", "other_id", "other_owner", "price", "qty", "remaining",
            "kind", "side"]
    e = run.events(cols).to_pandas()
    return e[(e["owner"] == aid) | ((e["kind"] == FILL) & (e["other_owner"] == aid))]


def _mids(run, times: np.ndarray) -> np.ndarray:
    """The mid of the last top-of-book row strictly before each time (NaN: one-sided)."""
    top = run.top(["ts", "bid", "ask"]).to_pandas()
    ts = top["ts"].to_numpy()
    i = np.searchsorted(ts, times, side="left") - 1
    bid = top["bid"].to_numpy().astype(float)
    ask = top["ask"].to_numpy().astype(float)
    mid = np.where((bid > 0) & (ask > 0), (bid + ask) / 2, np.nan)
    out = np.full(len(times), np.nan)
    ok = i >= 0
    out[ok] = mid[i[ok]]
    return out


def concat(traces: list):
    """One trace of several (same class), decisions stacked."""
    first = traces[0]
    out = {}
    for k, v in first.__dict__.items():
        if isinstance(v, np.ndarray):
            out[k] = np.concatenate([t.__dict__[k] for t in traces])
        else:
            out[k] = v
    return type(first)(**out)


# --------------------------------------------------------------------------- market maker
@dataclass
class MMTrace:
    """A market maker's decisions rebuilt from a log (one row per decision)."""

    t: np.ndarray
    inventory: np.ndarray  #: lots, from its fills before t
    q: np.ndarray  #: inventory in units of its quote size
    sigma: np.ndarray  #: ticks / sqrt(s)
    mid: np.ndarray
    bid_offset: np.ndarray  #: ticks (NaN: no bid)
    ask_offset: np.ndarray
    bid_filled: np.ndarray  #: its bid filled before the next decision
    ask_filled: np.ndarray
    can_bid: np.ndarray
    can_ask: np.ndarray
    action: np.ndarray
    dt: float = 1.0
    offsets: tuple = DEFAULT_OFFSETS
    size: int = 1
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t)


def mm_trace(run_dir, agent_name: str, offsets=DEFAULT_OFFSETS) -> MMTrace:
    """A market maker's decisions from a run directory (see the module docstring)."""
    run = open_run(run_dir)
    g = group_config(run, agent_name)
    wake = g["wake"]
    if wake["kind"] != "fixed":
        raise ValueError(f"{agent_name}: mm_trace needs fixed wakes, not {wake['kind']!r}")
    dt_ns = int(wake["interval"])
    size, max_inv = int(g["size"]), int(g["max_inventory"])
    aid = _agent_id(run, agent_name)
    ev = _own_events(run, aid)
    acc = ev[(ev["kind"] == ACCEPTED) & (ev["owner"] == aid)]
    if acc.empty:
        raise ValueError(f"{run.path}: {agent_name} sent no order")
    t0 = int(acc["ts"].iloc[0])
    times = np.arange(t0, int(run.now_ns), dt_ns, dtype=np.int64)
    mids = _mids(run, times)
    vol = MidVolatility(float(g.get("vol_halflife", 50)), start="first", cap=25.0)
    cols = [ev[c].to_numpy() for c in ("ts", "order_id", "owner", "other_owner", "price", "qty",
                                       "remaining", "kind", "side")]
    n_ev = len(cols[0])
    orders: dict[int, list] = {}  # oid -> [side, price, open]
    inv = 0
    i = 0
    n = len(times)
    out = {k: np.zeros(n) for k in ("inventory", "sigma", "bid", "ask")}
    quotes_oid = []
    filled_oids: dict[int, int] = {}  # oid -> ts of its first fill

    def apply(j):
        nonlocal inv
        ts, oid, owner, other, price, qty, rem, kind, side = (c[j] for c in cols)
        if kind == ACCEPTED:
            if rem > 0:
                orders[int(oid)] = [int(side), int(price), int(rem)]
        elif kind == FILL:
            if owner == aid:  # maker: taker's side is the opposite of ours
                inv += qty if side == 1 else -qty
                filled_oids.setdefault(int(oid), int(ts))
                if int(oid) in orders:
                    if rem <= 0:
                        orders.pop(int(oid))
                    else:
                        orders[int(oid)][2] = int(rem)
            if other == aid:  # taker
                inv += qty if side == 0 else -qty
        elif owner == aid:  # cancelled, expired, rejected
            if rem <= 0:
                orders.pop(int(oid), None)

    last_mid = float("nan")
    for k in range(n):
        t = times[k]
        while i < n_ev and cols[0][i] < t:
            apply(i)
            i += 1
        out["inventory"][k] = inv
        while i < n_ev and cols[0][i] == t:
            apply(i)
            i += 1
        m = mids[k]
        two = not math.isnan(m)
        if two:
            last_mid = m
        vol.update(m if two else None, int(t))
        out["sigma"][k] = vol.value
        bids = [(p, o) for o, (s, p, _) in orders.items() if s == 0]
        asks = [(p, o) for o, (s, p, _) in orders.items() if s == 1]
        bb = max(bids) if bids else None
        ba = min(asks) if asks else None
        out["bid"][k] = np.nan if bb is None else bb[0]
        out["ask"][k] = np.nan if ba is None else ba[0]
        quotes_oid.append((None if bb is None else bb[1], None if ba is None else ba[1]))
        mids[k] = last_mid
    while i < n_ev:
        apply(i)
        i += 1
    nxt = np.append(times[1:], np.iinfo(np.int64).max)

    def filled(k, oid):
        return oid is not None and oid in filled_oids and times[k] <= filled_oids[oid] < nxt[k]

    bf = np.array([filled(k, b) for k, (b, _) in enumerate(quotes_oid)])
    af = np.array([filled(k, a) for k, (_, a) in enumerate(quotes_oid)])
    bo = mids - out["bid"]
    ao = out["ask"] - mids
    inventory = out["inventory"]
    keep = ~np.isnan(mids) & (out["sigma"] > 0)
    tr = MMTrace(t=times, inventory=inventory, q=inventory / size, sigma=out["sigma"],
                 mid=mids, bid_offset=bo, ask_offset=ao, bid_filled=bf, ask_filled=af,
                 can_bid=inventory < max_inv, can_ask=inventory > -max_inv,
                 action=mm_action(bo, ao, offsets), dt=dt_ns / 1e9, offsets=tuple(offsets),
                 size=size, meta={"run": str(run.path), "agent": agent_name, "agent_id": aid,
                                  "vol_halflife": float(g.get("vol_halflife", 50)),
                                  "max_inventory": max_inv})
    return _select(tr, keep)


def _select(tr, mask):
    d = {k: (v[mask] if isinstance(v, np.ndarray) and k != "costs" else v)
         for k, v in tr.__dict__.items()}
    return type(tr)(**d)


def fit_fill_curve(trace: MMTrace) -> tuple[float, float]:
    """Maximum-likelihood ``(A, k)`` of ``p(delta) = 1 - exp(-A exp(-k delta) dt)`` from each
    resting quote's fate until the next decision (both sides pooled)."""
    from scipy.optimize import minimize

    d = np.concatenate([trace.bid_offset, trace.ask_offset])
    y = np.concatenate([trace.bid_filled, trace.ask_filled]).astype(float)
    ok = ~np.isnan(d)
    d, y = d[ok], y[ok]
    dt = trace.dt

    def nll(x):
        lam = np.exp(x[0] - x[1] * d) * dt
        p = np.clip(1 - np.exp(-lam), 1e-12, 1 - 1e-12)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum()

    r = minimize(nll, [0.0, 1.0], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-8})
    return float(math.exp(r.x[0])), float(r.x[1])


@dataclass
class IRLResult:
    """A fitted reward: ``theta`` over ``features``, the log-likelihoods (per decision) of the
    fit and of the uniform policy, the recovered risk parameter and its standard error."""

    role: str
    features: tuple
    theta: np.ndarray
    model: dict
    loglik: float
    loglik_uniform: float
    n: int
    param: float  #: gamma (market maker) or lambda (executor)
    param_se: float
    extra: dict = field(default_factory=dict)

    @property
    def gain(self) -> float:
        """Log-likelihood gain over the uniform policy per decision (nats)."""
        return (self.loglik - self.loglik_uniform) / max(self.n, 1)

    def policy(self):
        """The soft-optimal policy under ``theta``."""
        cls = MMPolicy if self.role == "market_maker" else ExecPolicy
        return cls(self.theta, self.model)


def fit_mm(trace: MMTrace, tau: float, A: float | None = None, k: float | None = None,
           l2: float = 1e-9) -> IRLResult:
    """Fit ``theta`` (``MM_FEATURES``) by maximum likelihood of the logged quotes (each side's
    offset at the fine resolution ``FINE_OFFSETS``) under the one-step soft-optimal policy;
    ``gamma = theta_risk / theta_spread`` with its delta-method standard error from the
    observed information. A side that is not quoted (or not allowed) adds no term."""
    from scipy.optimize import minimize

    if A is None or k is None:
        A, k = fit_fill_curve(trace)
    model = {"offsets": list(trace.offsets), "fine": list(FINE_OFFSETS), "A": A, "k": k,
             "dt": trace.dt, "tau": tau, "vol_halflife": trace.meta.get("vol_halflife", 50.0),
             "quote_size": trace.size}
    blocks = []
    for side, off, ok in ((0, trace.bid_offset, trace.can_bid), (1, trace.ask_offset,
                                                                  trace.can_ask)):
        m = ~np.isnan(off) & ok
        phi = mm_features(trace.q[m], trace.sigma[m], model, side)
        blocks.append((phi, fine_index(off[m]), feasible(trace.mid[m])))
    phi = np.concatenate([b[0] for b in blocks])
    obs = np.concatenate([b[1] for b in blocks])
    mask = np.concatenate([b[2] for b in blocks])
    mask[np.arange(len(obs)), obs] = True  # an offset seen is possible (a mid off its grid)
    n, na, d = phi.shape
    scale = np.abs(phi).reshape(-1, d).max(0) + 1e-12  # optimize on unit-scale features
    ps = phi / scale
    chosen = ps[np.arange(n), obs]
    neg = np.where(mask, 0.0, -np.inf)

    def f(x):
        z = ps @ x + neg
        mx = z.max(1, keepdims=True)
        e = np.exp(z - mx)
        s = e.sum(1, keepdims=True)
        lse = (mx + np.log(s))[:, 0]
        p = e / s
        ll = (chosen @ x).sum() - lse.sum()
        grad = chosen.sum(0) - np.einsum("na,nad->d", p, ps)
        return -ll + l2 * n * x @ x, -grad + 2 * l2 * n * x

    r = minimize(f, np.zeros(d), jac=True, method="L-BFGS-B")
    x = r.x
    theta = x / scale
    z = ps @ x + neg
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    mean = np.einsum("na,nad->nd", p, ps)
    cen = ps - mean[:, None, :]
    cen = np.where(mask[:, :, None], cen, 0.0)
    H = np.einsum("na,nad,nae->de", p, cen, cen) + 2 * l2 * n * np.eye(d)
    cov = np.linalg.pinv(H) / np.outer(scale, scale)
    gamma = theta[2] / theta[1] if theta[1] != 0 else float("nan")
    g = np.array([0.0, -theta[2] / theta[1] ** 2, 1 / theta[1]]) if theta[1] != 0 else np.zeros(3)
    se = float(math.sqrt(max(g @ cov @ g, 0.0)))
    ll = -f(x)[0] + l2 * n * x @ x
    res = IRLResult("market_maker", MM_FEATURES, theta, model, float(ll),
                    float(-np.log(mask.sum(1)).sum()), n, float(gamma), se)
    log.info("fit_mm: theta=%s gamma=%.4g (se %.2g) gain %.3f nats/decision over %d",
             theta, gamma, se, res.gain, n)
    return res


# --------------------------------------------------------------------------- executor
@dataclass
class ExecTrace:
    """An executor's slices rebuilt from a log (one row per slice before the final sweep)."""

    t: np.ndarray
    j: np.ndarray
    f: np.ndarray  #: remaining fraction before the slice
    remaining: np.ndarray  #: lots
    qty: np.ndarray  #: lots sent in the slice
    ratio: np.ndarray  #: qty over the adaptive TWAP slice
    action: np.ndarray
    n_slices: int = 1
    dt: float = 1.0
    quantity: int = 1
    costs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  #: (lots, cost/lot)
    sigma: float = float("nan")  #: ticks / sqrt(s), from the mid at the slices
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t)


def exec_action(ratio) -> np.ndarray:
    """Child size over the adaptive TWAP slice -> nearest index of ``EXEC_MULTIPLES``."""
    return nearest_multiple(ratio, EXEC_MULTIPLES)


def exec_trace(run_dir, agent_name: str) -> ExecTrace:
    """An executor's slices from a run directory (see the module docstring)."""
    run = open_run(run_dir)
    g = group_config(run, agent_name)
    dt_ns = int(g["wake"]["interval"])
    start, dur, Q = int(g["start"]), int(g["duration"]), int(g["quantity"])
    end = int(run.end_ns)
    finish = max(start, min(start + dur, end - dt_ns))
    aid = _agent_id(run, agent_name)
    ev = _own_events(run, aid)
    first = ev[(ev["kind"] == ACCEPTED) & (ev["owner"] == aid)]["ts"]
    if first.empty:
        raise ValueError(f"{run.path}: {agent_name} sent no order")
    t0 = int(first.iloc[0])  # its first child order (the rule's first slice only looks)
    N = max(1, -(-(finish - t0) // dt_ns))
    times = t0 + dt_ns * np.arange(N, dtype=np.int64)
    ts = ev["ts"].to_numpy()
    kind = ev["kind"].to_numpy()
    qty = ev["qty"].to_numpy()
    owner = ev["owner"].to_numpy()
    other = ev["other_owner"].to_numpy()
    fill_own = (kind == FILL) & ((owner == aid) | (other == aid))
    done_before = np.array([qty[fill_own & (ts < t)].sum() for t in times])
    sent = np.array([qty[(kind == ACCEPTED) & (owner == aid) & (ts >= t) & (ts < t + dt_ns)].sum()
                     for t in times])
    rem = Q - done_before
    j = np.arange(N)
    base = np.maximum(rem / (N - j), 1e-9)
    ratio = sent / base
    keep = rem > 0
    # child-order costs (ticks per lot, positive = paid) against the mid before each order
    side = 1 if g["side"] == "buy" else -1
    acc = ev[(ev["kind"] == ACCEPTED) & (ev["owner"] == aid)]
    fills = ev[fill_own & (ev["other_owner"] == aid)]
    mids = _mids(run, acc["ts"].to_numpy())
    costs = []
    for (oid, _n_lots), mid in zip(acc[["order_id", "qty"]].to_numpy(), mids, strict=True):
        fo = fills[fills["other_id"] == oid]
        if len(fo) and not math.isnan(mid):
            vwap = (fo["price"] * fo["qty"]).sum() / fo["qty"].sum()
            costs.append((float(fo["qty"].sum()), side * (vwap - mid)))
    smid = _mids(run, times)
    dm = np.diff(smid[~np.isnan(smid)])
    sigma = float(np.sqrt(np.mean(dm ** 2) / (dt_ns / 1e9))) if len(dm) else float("nan")
    tr = ExecTrace(t=times, j=j, f=rem / Q, remaining=rem.astype(float), qty=sent.astype(float),
                   ratio=ratio, action=exec_action(ratio), n_slices=int(N), dt=dt_ns / 1e9,
                   quantity=Q, costs=np.array(costs).reshape(-1, 2), sigma=sigma,
                   meta={"run": str(run.path), "agent": agent_name, "agent_id": aid,
                         "duration_s": (finish - start) / 1e9})
    return _select(tr, keep)


def nearest_multiple(ratio, multiples) -> np.ndarray:
    """Child sizes over the adaptive TWAP slice -> the nearest index of ``multiples``."""
    m = np.asarray(multiples, np.float64)
    return np.abs(m[None, :] - np.asarray(ratio, float)[:, None]).argmin(1)


def _exec_q(theta, tr: ExecTrace, grid: int = 401, multiples=EXEC_MULTIPLES) -> np.ndarray:
    return ExecPolicy(theta, {"grid": grid, "multiples": list(multiples)}).q_values(
        tr.f, tr.j, tr.n_slices)


def fit_exec(trace: ExecTrace, eta: float | None = None, sigma: float | None = None,
             grid: int = 401, multiples=None) -> IRLResult:
    """Fit ``theta`` (``EXEC_FEATURES``) by maximum likelihood of the logged slices under the
    soft-optimal policy (soft value iteration); ``(kappa T)^2 = theta_risk / theta_impact`` and
    ``lambda = (kappa T)^2 eta / (sigma^2 T^2)`` (``eta``, ``sigma`` from the log when None).
    The standard error of lambda is the delta method's on the profile's curvature in
    ``log(theta_risk / theta_impact)``.

    The actions are the environment's (``trace.action``, ``EXEC_MULTIPLES``) by default; with
    ``multiples`` (e.g. ``FINE_MULTIPLES``) they are the logged sizes ``trace.ratio`` mapped to
    the nearest of that finer set, and the policy acts on it (saved in its ``model``)."""
    from scipy.optimize import minimize

    if trace.n_slices < 2:
        raise ValueError("fit_exec needs at least two slices")
    if multiples is None:
        multiples, actions = EXEC_MULTIPLES, np.asarray(trace.action)
    else:
        multiples = tuple(float(x) for x in multiples)
        actions = nearest_multiple(trace.ratio, multiples)
    na = len(multiples)
    n = len(trace)

    def nll(x):
        th = np.exp(x)
        z = _exec_q(th, trace, grid, multiples)
        mx = z.max(1, keepdims=True)
        lse = (mx[:, 0] + np.log(np.exp(z - mx).sum(1)))
        return -(z[np.arange(n), actions] - lse).sum()

    # a coarse grid over (log theta_impact, log urgency^2), then Nelder-Mead
    best = None
    for li in np.linspace(-2, 8, 11):
        for lu in np.linspace(-4, 4, 9):
            x = np.array([li, li + lu])
            v = nll(x)
            if best is None or v < best[0]:
                best = (v, x)
    r = minimize(nll, best[1], method="Nelder-Mead",
                 options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 2000})
    x = r.x
    theta = np.exp(x)
    u2 = theta[1] / theta[0]
    # curvature of the profile likelihood in log u2 (scale re-optimized) by finite differences
    def prof(lu):
        rr = minimize(lambda s: nll(np.array([s[0], s[0] + lu])), [x[0]], method="Nelder-Mead",
                      options={"xatol": 1e-4, "fatol": 1e-6})
        return rr.fun
    h = 0.1
    c = (prof(math.log(u2) + h) - 2 * r.fun + prof(math.log(u2) - h)) / h ** 2
    se_log = 1 / math.sqrt(c) if c > 1e-9 else float("inf")
    if eta is None or sigma is None:
        eta_l, sigma_l = exec_eta_sigma(trace)
        eta = eta_l if eta is None else eta
        sigma = sigma_l if sigma is None else sigma
    T = trace.n_slices * trace.dt
    lam = u2 * eta / (sigma ** 2 * T ** 2)
    model = {"grid": grid}
    if tuple(multiples) != tuple(EXEC_MULTIPLES):
        model["multiples"] = list(multiples)
    res = IRLResult("executor", ("impact", "inventory_risk"), theta, model, float(-r.fun),
                    float(-n * math.log(na)), n, float(lam), float(lam * se_log),
                    extra={"urgency": float(math.sqrt(u2)), "eta": eta, "sigma": sigma, "T": T,
                           "se_log_urgency2": se_log})
    log.info("fit_exec: theta=%s urgency=%.3g lambda=%.3g gain %.3f nats/decision over %d",
             theta, math.sqrt(u2), lam, res.gain, n)
    return res


def exec_eta_sigma(trace: ExecTrace) -> tuple[float, float]:
    """``eta`` (ticks s / lot: the slope of cost per lot on the lots of a child order, times the
    slice) and ``sigma`` (ticks / sqrt(s)) from an executor's log."""
    c = trace.costs
    if len(c) >= 3 and np.ptp(c[:, 0]) > 0:
        slope = float(np.polyfit(c[:, 0], c[:, 1], 1)[0])
    else:
        slope = float("nan")
    return max(slope, 1e-9) * trace.dt, trace.sigma


# --------------------------------------------------------------------------- baselines
def _state(tr) -> np.ndarray:
    if isinstance(tr, MMTrace):
        s2 = tr.sigma ** 2
        base = np.stack([tr.q, tr.sigma, s2, tr.q * s2, tr.q ** 2,
                         tr.can_bid.astype(float), tr.can_ask.astype(float)], 1)
    else:
        tau = tr.j / tr.n_slices
        base = np.stack([tr.f, tau, tr.f / (1 - tau), tr.f * tau, tau ** 2], 1)
    return base


def fit_cloning(train, l2: float = 1e-3):
    """Behaviour cloning: multinomial logistic regression of the logged action on the state
    (MM: q, sigma, sigma^2, q sigma^2, q^2, the side limits; executor: f, tau, f / (1 - tau),
    f tau, tau^2), standardized. Returns ``predict(trace) -> actions``."""
    from scipy.optimize import minimize

    X = _state(train)
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Xs = np.hstack([(X - mu) / sd, np.ones((len(X), 1))])
    na = (len(train.offsets) ** 2 + 1) if isinstance(train, MMTrace) else len(EXEC_MULTIPLES)
    Y = np.eye(na)[train.action]
    d = Xs.shape[1]

    def f(w):
        W = w.reshape(d, na)
        z = Xs @ W
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        ll = (Y * np.log(p + 1e-300)).sum()
        g = Xs.T @ (p - Y)
        return -ll + l2 * (w @ w), g.ravel() + 2 * l2 * w

    r = minimize(f, np.zeros(d * na), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    W = r.x.reshape(d, na)

    def predict(tr):
        Z = np.hstack([(_state(tr) - mu) / sd, np.ones((len(tr), 1))]) @ W
        return Z.argmax(1)

    return predict


def agreement(pred, actions) -> float:
    """Fraction of equal actions."""
    return float(np.mean(np.asarray(pred) == np.asarray(actions))) if len(actions) else float("nan")


def constant_agreement(actions) -> tuple[float, int]:
    """The best constant action's agreement (the most frequent action of ``actions``)."""
    vals, counts = np.unique(np.asarray(actions), return_counts=True)
    i = int(counts.argmax())
    return float(counts[i] / counts.sum()), int(vals[i])


def predict(result: IRLResult, tr) -> np.ndarray:
    """The recovered policy's most likely action at each of a trace's states (the
    environment's grid: ``mm_action``'s pairs, ``EXEC_MULTIPLES``' indices)."""
    pol = result.policy()
    if result.role == "market_maker":
        b, a = pol.quotes(tr.q, tr.sigma, tr.mid)
        b = np.where(tr.can_bid, b, np.nan)
        a = np.where(tr.can_ask, a, np.nan)
        return mm_action(b, a, tr.offsets)
    a = pol.q_values(tr.f, tr.j, tr.n_slices).argmax(1)
    if pol.multiples == tuple(EXEC_MULTIPLES):
        return a
    return exec_action(np.asarray(pol.multiples)[a])  # a finer set: the environment's nearest


def save_result(result: IRLResult, path, meta: dict | None = None):
    """Write the recovered policy as an inferred-policy file (``kind: inferred``'s
    ``policy:``)."""
    m = {"param": result.param, "param_se": result.param_se, "loglik": result.loglik,
         "loglik_uniform": result.loglik_uniform, "n": result.n, **result.extra, **(meta or {})}
    return save_inferred(path, result.role, result.theta, result.model, m)


_ = exec_features  # re-exported for callers building features by hand
